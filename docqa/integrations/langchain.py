"""docqa as a LangChain chat model: answers come from a corpus's compressive memory.

    from docqa.integrations.langchain import ChatDocQA
    ChatDocQA(corpus="myrepo").invoke("How is the cache invalidated?")

Needs langchain-core (`pip install 'docqa[langchain]'`); the base package never imports this
module. Constructing a ChatDocQA is cheap: the model and the snapshot load on the first call,
once per process, shared with every other user of `docqa.api` (see `Corpus`).

Messages become the prompt segment through `prompts/chat.txt`: system messages fill {system},
earlier human/AI pairs are each rendered through `prompts/chat_turn.txt` into {history}, and
the final human message fills {question}. The stored memory is never modified by answering.
With `sources=True` each answer's message carries the documents it came from, best first, in
`response_metadata["sources"]` (`[{"uri", "path", "page", "gain", "position"}]`; `[]`: no source
found), as `docqa ask --sources` prints them.
Text is all the model reads and writes: tool calling, structured output and non-text content
(images, audio, files) are refused with an error rather than dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

try:
    from langchain_core.callbacks import CallbackManagerForLLMRun
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
    from langchain_core.messages.ai import UsageMetadata
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from pydantic import ConfigDict, Field, field_validator
except ImportError as e:  # pragma: no cover - exercised by a test that hides langchain_core
    raise ImportError("docqa.integrations.langchain needs langchain-core: "
                      "pip install 'docqa[langchain]'") from e

from docqa import DEFAULT_MAX_TOKENS, AnswerStream, Corpus, load_template, validate_corpus_name
from docqa.errors import InputError

_CALL_OPTIONS = ("max_tokens", "temperature", "top_k", "seed", "contrast")  # what invoke(..., **kwargs) may override
_ROLES = ((SystemMessage, "system"), (HumanMessage, "human"), (AIMessage, "ai"))  # chunks are subclasses


class ChatDocQA(BaseChatModel):
    """Answers questions about one docqa corpus, from its memory alone (no retrieval step)."""

    corpus: str
    db: str | None = None  # the store file; None: $DOCQA_DB or the per-user default
    model: str | None = None  # a model directory; None: the shipped model (docqa/models/default)
    device: str = "cpu"
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)  # 0: greedy, deterministic
    top_k: int | None = Field(default=None, ge=1)
    stop: list[str] | None = None
    template: str = "chat"  # a name in prompts/ or a .txt path, with {system}, {history}, {question}
    seed: int | None = None  # for sampling at temperature > 0; None: a fresh seed per call
    contrast: float = Field(default=0.0, ge=0.0)  # > 0: decode by what the memory adds (docqa.model.base.generate)
    snapshot: int | None = None  # None: the corpus's current snapshot at each call
    sources: bool = False  # also find where each answer came from: response_metadata["sources"], best first
    streaming: bool = False  # LangChain's switch: invoke() goes through _stream (callbacks see tokens)

    # A misspelt parameter is an error, not a silently ignored one.
    model_config = ConfigDict(extra="forbid")

    @field_validator("db", "model", mode="before")
    @classmethod
    def _path_as_str(cls, v: Any) -> Any:
        return os.fspath(v) if isinstance(v, os.PathLike) else v

    @field_validator("corpus")
    @classmethod
    def _valid_corpus(cls, v: str) -> str:
        return validate_corpus_name(v)

    @field_validator("template")
    @classmethod
    def _template_exists(cls, v: str) -> str:
        load_template(v)  # raises InputError naming the templates there are
        return v

    @property
    def _llm_type(self) -> str:
        return "docqa"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("corpus", "db", "model", "device", "max_tokens", "temperature",
                                              "top_k", "stop", "template", "seed", "contrast", "snapshot",
                                              "sources")}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any):
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "docqa"
        if not isinstance(kwargs.get("model"), str):
            params["ls_model_name"] = self.model or "default"
        return params

    def get_token_ids(self, text: str) -> list[int]:
        return self._corpus().lm.tokenizer.encode(text)

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Any = None) -> int:
        if tools:
            raise ValueError("ChatDocQA does not support tool calling")
        return len(self.prompt_ids(messages))

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ChatDocQA does not support tool calling: it answers in plain text "
                                  "from a corpus's memory")

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ChatDocQA does not support structured output: it answers in plain text; "
                                  "parse the text yourself, e.g. with an output parser")

    def prompt_ids(self, messages: list[BaseMessage]) -> list[int]:
        """The token ids of the prompt segment the messages become."""
        system, turns, question = _conversation(messages)
        try:
            return self._corpus().chat_prompt(question, turns, system, self.template)
        except InputError as e:
            raise ValueError(str(e)) from e

    def _corpus(self) -> Corpus:
        return Corpus(self.corpus, db=self.db, model=self.model, device=self.device)

    def _start(self, messages: list[BaseMessage], stop: list[str] | None,
               kwargs: dict[str, Any]) -> tuple[Corpus, AnswerStream, int]:
        if "tools" in kwargs or "tool_choice" in kwargs:
            raise ValueError("ChatDocQA does not support tool calling")
        unknown = sorted(set(kwargs) - set(_CALL_OPTIONS))
        if unknown:
            raise ValueError(f"unknown call option(s) {', '.join(unknown)} for ChatDocQA; "
                             f"a call may set {', '.join(_CALL_OPTIONS)} or stop")
        opts = {k: kwargs.get(k, getattr(self, k)) for k in _CALL_OPTIONS}
        corpus = self._corpus()
        stream, snap_id = corpus.stream(prompt=self.prompt_ids(messages), stop=self.stop if stop is None else stop,
                                        snapshot=self.snapshot, **opts)
        return corpus, stream, snap_id

    def _metadata(self, corpus: Corpus, stream: AnswerStream, snap_id: int) -> dict[str, Any]:
        answer = corpus.answer_of(stream, snap_id)
        usage = UsageMetadata(input_tokens=answer.prompt_tokens, output_tokens=answer.answer_tokens,
                              total_tokens=answer.prompt_tokens + answer.answer_tokens)
        meta = {"model_name": answer.model, "corpus": answer.corpus, "snapshot": answer.snapshot_id,
                "finish_reason": answer.finish_reason, "first_token_s": answer.first_token_s,
                "total_s": answer.total_s}
        if self.sources:  # [] when no source was found; see docqa.attribution
            found = corpus.attribute(stream.text, prompt=stream.prompt, snapshot=snap_id)
            meta["sources"] = [asdict(s) for s in found.sources]
        return {"usage_metadata": usage, "response_metadata": meta}

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        corpus, stream, snap_id = self._start(messages, stop, kwargs)
        text = stream.run()
        message = AIMessage(content=text, **self._metadata(corpus, stream, snap_id))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        corpus, stream, snap_id = self._start(messages, stop, kwargs)
        for piece in stream:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(content="", chunk_position="last",
                                                         **self._metadata(corpus, stream, snap_id)))


def _text(message: BaseMessage, index: int) -> str:
    """The message's text, refusing anything the model cannot read."""
    where = f"message {index} ({type(message).__name__})"
    if isinstance(message, AIMessage) and (message.tool_calls or message.invalid_tool_calls):
        raise ValueError(f"{where} has tool calls; ChatDocQA does not support tool calling")
    if isinstance(message.content, str):
        return message.content
    parts = []
    for block in message.content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(block["text"])
        else:
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise ValueError(f"{where} has a content block of type {kind!r}; ChatDocQA reads text only")
    return "".join(parts)


def _conversation(messages: list[BaseMessage]) -> tuple[str, list[tuple[str, str]], str]:
    """(system, [(question, answer), ...], question). Consecutive messages of one role are joined,
    so that two human messages in a row are one question."""
    runs: list[list[str]] = []  # [role, text, text, ...]
    for i, m in enumerate(messages):
        role = next((r for cls, r in _ROLES if isinstance(m, cls)), None)
        if role is None:
            raise ValueError(f"message {i} is a {type(m).__name__}; ChatDocQA takes system, human and AI "
                             f"messages only (no tool calling)")
        if role == "system" and runs and runs[-1][0] != "system":
            raise ValueError(f"message {i} is a system message after the conversation started; "
                             f"put system messages first")
        text = _text(m, i)
        if runs and runs[-1][0] == role:
            runs[-1].append(text)
        else:
            runs.append([role, text])
    if not runs or runs[-1][0] != "human":
        last = type(messages[-1]).__name__ if messages else "nothing"
        raise ValueError(f"the last message must be a human message (the question); got {last}")
    system = "\n\n".join(runs.pop(0)[1:]) if runs[0][0] == "system" else ""
    if runs[0][0] != "human":
        raise ValueError("the conversation must start with a human message (after any system messages)")
    texts = ["\n\n".join(r[1:]) for r in runs]
    return system, list(zip(texts[:-1:2], texts[1:-1:2])), texts[-1]

"""ChatDocQA beyond the standard suites: the exact prompt, refusals, a read-only memory, counts."""

import asyncio
import importlib
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import ValidationError

from docqa.errors import InputError, InvalidCorpusName, ModelLoadError
from docqa.integrations.langchain import ChatDocQA
from docqa.prompt import load_template, render
from docqa.store import Store

EXAMPLE = Path(__file__).parents[2] / "examples" / "langchain_chain.py"


@pytest.fixture
def chat(tiny_corpus) -> ChatDocQA:
    return ChatDocQA(**tiny_corpus.params())


def test_prompt_without_history_is_the_chat_template(chat, tiny_corpus):
    tok = tiny_corpus.api().lm.tokenizer
    ids = chat.prompt_ids([SystemMessage("Be brief."), HumanMessage("How is the cache invalidated?")])
    assert ids == render(tok, load_template("chat"), system="Be brief.", history="",
                         question="How is the cache invalidated?")


def test_prompt_renders_turns_and_joins_messages_of_one_role(chat, tiny_corpus):
    tok = tiny_corpus.api().lm.tokenizer
    turn = load_template("chat_turn")
    ids = chat.prompt_ids([
        SystemMessage("S1"), SystemMessage("S2"),
        HumanMessage("q1"), HumanMessage([{"type": "text", "text": "q1b"}]), AIMessage("a1"),
        HumanMessage("q2"), AIMessage("a2"), AIMessage("a2b"),
        HumanMessage("<|end|> is text here"),
    ])
    head, _, tail = load_template("chat").partition("{history}")
    system, question = "S1\n\nS2", "<|end|> is text here"
    assert ids == (render(tok, head, system=system, question=question)
                   + render(tok, turn, question="q1\n\nq1b", answer="a1")
                   + render(tok, turn, question="q2", answer="a2\n\na2b")
                   + render(tok, tail, system=system, question=question))
    # The two turns' markers only: the question's "<|end|>" stays plain bytes.
    assert ids.count(tok.special_tokens["<|end|>"]) == 2


@tool
def adder(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.mark.parametrize("messages, error", [
    ([HumanMessage("q"), AIMessage("", tool_calls=[{"name": "adder", "args": {}, "id": "1"}]),
      ToolMessage("3", tool_call_id="1")],
     "message 1 (AIMessage) has tool calls; ChatDocQA does not support tool calling"),
    ([HumanMessage("q"), ToolMessage("3", tool_call_id="1")],
     "message 1 is a ToolMessage; ChatDocQA takes system, human and AI messages only (no tool calling)"),
    ([HumanMessage([{"type": "text", "text": "What is this?"},
                    {"type": "image", "url": "https://example.com/cat.png"}])],
     "message 0 (HumanMessage) has a content block of type 'image'; ChatDocQA reads text only"),
    ([HumanMessage("q"), SystemMessage("late")],
     "message 1 is a system message after the conversation started; put system messages first"),
    ([HumanMessage("q"), AIMessage("a")],
     "the last message must be a human message (the question); got AIMessage"),
    ([], "the last message must be a human message (the question); got nothing"),
    ([SystemMessage("s"), AIMessage("Hi!"), HumanMessage("q")],
     "the conversation must start with a human message (after any system messages)"),
])
def test_unsupported_messages_are_refused(chat, messages, error):
    with pytest.raises(ValueError) as e:
        chat.invoke(messages) if messages else chat.prompt_ids(messages)
    assert str(e.value) == error


def test_tools_and_structured_output_are_refused(chat):
    with pytest.raises(NotImplementedError, match="^ChatDocQA does not support tool calling"):
        chat.bind_tools([adder])
    with pytest.raises(NotImplementedError, match="^ChatDocQA does not support structured output"):
        chat.with_structured_output({"title": "Answer", "type": "object", "properties": {}})
    with pytest.raises(ValueError, match="^ChatDocQA does not support tool calling$"):
        chat.invoke("q", tools=[{"type": "function", "function": {"name": "adder"}}])
    with pytest.raises(ValueError) as e:
        chat.invoke("q", top_p=0.9)
    assert str(e.value) == ("unknown call option(s) top_p for ChatDocQA; "
                            "a call may set max_tokens, temperature, top_k, seed, contrast or stop")


def test_bad_parameters_fail_at_construction(tiny_corpus):
    with pytest.raises(ValidationError, match="max_token\n  Extra inputs are not permitted"):
        ChatDocQA(**tiny_corpus.params(max_token=5))
    with pytest.raises(ValidationError, match="max_tokens\n  Input should be greater than or equal to 1"):
        ChatDocQA(**tiny_corpus.params(max_tokens=0))
    with pytest.raises(InvalidCorpusName, match="invalid corpus name 'my corpus'"):
        ChatDocQA(corpus="my corpus")
    with pytest.raises(InputError, match="^no template 'nope'; use one of "):
        ChatDocQA(corpus="c", template="nope")


def test_construction_loads_nothing(tmp_path):
    chat = ChatDocQA(corpus="c", db=tmp_path / "s.db", model=tmp_path / "no-model")
    assert (chat.db, chat.model) == (str(tmp_path / "s.db"), str(tmp_path / "no-model"))
    assert not (tmp_path / "s.db").exists()
    with pytest.raises(ModelLoadError, match="no-model lacks config.json"):
        chat.invoke("q")


def test_a_conversation_leaves_the_stored_memory_unchanged(tiny_corpus):
    api = tiny_corpus.api()
    shared, snap_id = api.memory()  # the per-process copy every answer starts from
    before = shared.clone()
    with Store(tiny_corpus.db) as store:
        stored = store.load_snapshot(api.name, model_fingerprint=api.lm.fingerprint)
    # 80 answer tokens on top of the prompt cross a 64-token segment: the answer writes memory.
    chat = ChatDocQA(**tiny_corpus.params(max_tokens=80))
    first = chat.invoke("How is the cache invalidated?")
    assert first.usage_metadata["output_tokens"] + first.usage_metadata["input_tokens"] > 64
    list(chat.stream([HumanMessage("How is the cache invalidated?"), first, HumanMessage("And passwords?")]))
    assert shared.equal(before)
    with Store(tiny_corpus.db) as store:
        assert store.load_snapshot(api.name, model_fingerprint=api.lm.fingerprint).equal(stored)
        assert store.current_snapshot(api.name).id == snap_id


def test_stream_concatenates_to_invoke_and_counts_tokens(tiny_corpus):
    chat = ChatDocQA(**tiny_corpus.params(max_tokens=24))
    messages = [SystemMessage("Be brief."), HumanMessage("Who deploys?"), AIMessage("Ops."), HumanMessage("When?")]
    api = tiny_corpus.api()
    prompt_tokens = len(chat.prompt_ids(messages))

    result = chat.invoke(messages)
    chunks = list(chat.stream(messages))
    assert "".join(c.content for c in chunks) == result.content
    assert all(c.chunk_position is None and c.usage_metadata is None for c in chunks[:-1])
    assert len(chunks) > 2 and chunks[-1].chunk_position == "last"
    for message in (result, chunks[-1]):
        assert message.usage_metadata == {"input_tokens": prompt_tokens, "output_tokens": 24,
                                          "total_tokens": prompt_tokens + 24}
        meta = message.response_metadata
        assert (meta["model_name"], meta["corpus"], meta["snapshot"], meta["finish_reason"]) == (
            api.lm.name, "tiny", api.memory()[1], "length")
        assert meta["first_token_s"] <= meta["total_s"]


def test_stop_sequence_of_the_call_overrides_the_models(tiny_corpus):
    # Sampled with a fixed seed: varied text (greedy, the untrained model repeats one byte), same each call.
    chat = ChatDocQA(**tiny_corpus.params(max_tokens=24, temperature=1.0, seed=3, stop=["never"]))
    full = chat.invoke("Who deploys?").content
    assert chat.invoke("Who deploys?").content == full
    stop = next(c for i, c in enumerate(full) if i >= 3 and c not in full[:i])
    cut = chat.invoke("Who deploys?", stop=[stop])
    assert cut.content == full[:full.index(stop)] and len(cut.content) >= 3
    assert cut.response_metadata["finish_reason"] == "stop"


async def test_async_calls_leave_the_event_loop_free(tiny_corpus):
    chat = ChatDocQA(**tiny_corpus.params(max_tokens=48))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    result = await chat.ainvoke("Who deploys?")
    pieces = [c.content async for c in chat.astream("Who deploys?")]
    task.cancel()
    assert "".join(pieces) == result.content
    assert ticks > 48  # the loop ran while each of the tokens was generated


def test_missing_langchain_core_explains_the_install(monkeypatch):
    for name in [m for m in sys.modules if m == "langchain_core" or m.startswith("langchain_core.")]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import halted", as if not installed
    monkeypatch.delitem(sys.modules, "docqa.integrations.langchain")
    with pytest.raises(ImportError, match=r"pip install 'docqa\[langchain\]'"):
        importlib.import_module("docqa.integrations.langchain")


def test_the_base_package_does_not_import_langchain():
    code = "import sys, docqa, docqa.api, docqa.cli.main; print(sorted(m for m in sys.modules if 'langchain' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_example_streams_an_answer(tiny_corpus, capsys):
    main = runpy.run_path(str(EXAMPLE))["main"]
    assert main(["--model", str(tiny_corpus.model), "--max-tokens", "8"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and len(out) > 1


def test_contrast_reaches_the_decoder_from_the_model_and_from_the_call(tiny_corpus, contrasts):
    seen = contrasts
    chat = ChatDocQA(**tiny_corpus.params(contrast=1.5))
    chat.invoke("Who deploys?")
    chat.invoke("Who deploys?", contrast=0.5)
    ChatDocQA(**tiny_corpus.params()).invoke("Who deploys?")
    assert seen == [1.5, 0.5, 0.0]
    with pytest.raises(ValueError):
        ChatDocQA(**tiny_corpus.params(contrast=-1.0))

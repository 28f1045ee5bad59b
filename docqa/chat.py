"""Conversations over a corpus: turns live in the store, the corpus memory is never touched.

Each new question is answered from the conversation's snapshot with the earlier turns in the
prompt (template prompts/chat.txt), never from where the previous answer left off. When the
history would make the prompt longer than the model takes, the oldest turns are left out of the
prompt (they stay in the store). The prompt is placed as one piece (docqa.model.base.question_memory):
the earlier turns share the question's segment, as training's multi-question documents put further
questions after an answer; once they and the answer's reserve outgrow a segment, the prompt runs
across a segment boundary as it comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docqa.answer import AnswerStream
from docqa.api import Answer, Corpus
from docqa.prompt import DEFAULT_MAX_TOKENS


@dataclass
class Chat:
    corpus: Corpus
    conversation_id: int
    snapshot_id: int

    @classmethod
    def open(cls, name: str, db: str | Path | None = None, model: str | Path | None = None, device: str = "cpu",
             conversation: int | None = None, continue_latest: bool = False, snapshot: int | None = None) -> Chat:
        corpus = Corpus(name, db=db, model=model, device=device)
        with corpus.store() as store:
            conv = None
            if conversation is not None:
                conv = store.get_conversation(conversation)
            elif continue_latest:
                conv = store.latest_conversation(name)
            if conv is None:
                _, snap_id = corpus.memory(snapshot)
                return cls(corpus, store.create_conversation(name, snap_id), snap_id)
            return cls(corpus, conv.id, conv.snapshot_id)

    def history(self) -> list[tuple[str, str]]:
        with self.corpus.store() as store:
            turns = store.get_conversation(self.conversation_id).turns
        pairs, question = [], None
        for t in turns:
            if t.role == "user":
                question = t.content
            elif t.role == "assistant" and question is not None:
                pairs.append((question, t.content))
                question = None
        return pairs

    def send(self, message: str, max_tokens: int = DEFAULT_MAX_TOKENS, temperature: float = 0.0,
             seed: int | None = None, template: str = "chat", contrast: float = 0.0) -> AnswerStream:
        ids = self.corpus.chat_prompt(message, self.history(), template=template, fit=True)
        self._pending_question = message
        stream, _ = self.corpus.stream(prompt=ids, max_tokens=max_tokens, temperature=temperature,
                                       snapshot=self.snapshot_id, seed=seed, contrast=contrast)
        return stream

    def finish(self, stream: AnswerStream) -> Answer:
        """Store the turn once its answer has been streamed."""
        with self.corpus.store() as store:
            store.add_turn(self.conversation_id, "user", self._pending_question)
            store.add_turn(self.conversation_id, "assistant", stream.text)
        return self.corpus.answer_of(stream, self.snapshot_id)

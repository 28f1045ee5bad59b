"""Conversations for `docqa chat`: turns kept per corpus, each conversation tied to a snapshot."""

from __future__ import annotations

from typing import Any

from docqa.errors import ConversationNotFound, InputError
from docqa.store.base import StoreBase, now
from docqa.store.records import Conversation, Turn

ROLES = ("system", "user", "assistant")


class ConversationsMixin(StoreBase):

    def create_conversation(self, corpus: str, snapshot_id: int | None = None) -> int:
        with self._write():
            cid = self._corpus_id(corpus)
            if snapshot_id is not None:
                self.get_snapshot(corpus, snapshot_id)
            return self.db.execute("INSERT INTO conversations (corpus_id, snapshot_id, created_at) "
                                   "VALUES (?, ?, ?)", [cid, snapshot_id, now()]).lastrowid

    def add_turn(self, conversation_id: int, role: str, content: str) -> int:
        if role not in ROLES:
            raise InputError(f"turn role must be one of {', '.join(ROLES)}, got {role!r}")
        with self._write():
            self._conversation_row(conversation_id)
            return self.db.execute("INSERT INTO turns (conversation_id, role, content, created_at) "
                                   "VALUES (?, ?, ?, ?)", [conversation_id, role, content, now()]).lastrowid

    def _conversation_row(self, conversation_id: int) -> dict[str, Any]:
        row = self._row("SELECT v.id, c.name AS corpus, v.snapshot_id, v.created_at FROM conversations v "
                        "JOIN corpora c ON c.id = v.corpus_id WHERE v.id = ?", [conversation_id])
        if row is None:
            raise ConversationNotFound(f"no conversation {conversation_id} in {self.path}")
        return row

    def get_conversation(self, conversation_id: int) -> Conversation:
        """The conversation with its turns, oldest first."""
        with self._read():
            row = self._conversation_row(conversation_id)
            turns = self._rows("SELECT id, role, content, created_at FROM turns WHERE conversation_id = ? "
                               "ORDER BY id", [conversation_id])
        return self._checked(Conversation(**row, turns=[self._checked(Turn(**t)) for t in turns]))

    def latest_conversation(self, corpus: str) -> Conversation | None:
        with self._read():
            cid = self._corpus_id(corpus)
            row = self._row("SELECT max(id) AS id FROM conversations WHERE corpus_id = ?", [cid])
            return None if row["id"] is None else self.get_conversation(row["id"])

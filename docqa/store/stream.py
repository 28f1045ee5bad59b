"""How a corpus's stream is read: the connector and its options, kept for reading it again."""

from __future__ import annotations

import json
from typing import Any

from docqa.store import damage
from docqa.store.base import StoreBase

SECRET_OPTIONS = ("password",)  # never stored: a replay that needs one is given it


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def encode(connector: str | None, options: dict[str, Any]) -> str | None:
    """The JSON text stored for these stream options; None when an option has no JSON form
    (a third-party connector's object), so that nothing half-true is stored."""
    kept = {k: v for k, v in sorted(options.items()) if k not in SECRET_OPTIONS and v is not None}
    try:
        return json.dumps({"connector": connector, "options": kept}, default=_jsonable, sort_keys=True)
    except (TypeError, ValueError):
        return None


class StreamMixin(StoreBase):

    def set_stream_options(self, name: str, connector: str | None, options: dict[str, Any]) -> None:
        """Record how corpus `name`'s sources are read (see m008); no write when unchanged."""
        text = encode(connector, options)
        with self._read():
            cid = self._corpus_id(name)
            row = self._row("SELECT stream_options FROM corpora WHERE id = ?", [cid])
        if row["stream_options"] == text:
            return
        with self._write():
            self.db.execute("UPDATE corpora SET stream_options = ? WHERE id = ?", [text, self._corpus_id(name)])

    def stream_options(self, name: str) -> tuple[str | None, dict[str, Any]]:
        """(connector, connector options) corpus `name` was ingested with: (None, {}) when not known."""
        with self._read():
            cid = self._corpus_id(name)
            row = self._row("SELECT stream_options FROM corpora WHERE id = ?", [cid])
        value = damage.json_text(self.path, row["stream_options"], f"corpus {name!r:.70}'s stream options")
        if value is None:
            return None, {}
        if not (isinstance(value, dict) and isinstance(value.get("options"), dict)
                and isinstance(value.get("connector"), (str, type(None)))):
            raise damage.damaged(self.path, f"corpus {name!r:.70}'s stream options hold {str(value)[:40]}")
        return value["connector"], value["options"]

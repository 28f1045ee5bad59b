"""Byte-level tokenizer: every byte is a token, so any text (code, prose, odd bytes) round-trips.

Four special tokens sit above the bytes. Plain `encode` never produces them, so text from a
corpus cannot forge a question or an end-of-answer marker; prompt templates opt in with
`allow_special=True`.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

from docqa.errors import ModelLoadError

SPECIAL_TOKENS = {"<|doc|>": 256, "<|question|>": 257, "<|answer|>": 258, "<|end|>": 259}


class ByteTokenizer:
    kind = "byte"

    def __init__(self, special_tokens: dict[str, int] | None = None):
        self.special_tokens = dict(SPECIAL_TOKENS if special_tokens is None else special_tokens)
        self.id_to_special = {i: s for s, i in self.special_tokens.items()}
        self._special_re = re.compile("(" + "|".join(re.escape(s) for s in self.special_tokens) + ")")

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.special_tokens)

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        if not allow_special:
            return list(text.encode("utf-8", errors="surrogateescape"))
        ids: list[int] = []
        for part in self._special_re.split(text):
            if part in self.special_tokens:
                ids.append(self.special_tokens[part])
            elif part:
                ids.extend(part.encode("utf-8", errors="surrogateescape"))
        return ids

    def decode(self, ids: list[int]) -> str:
        """Bytes that are not valid UTF-8 come back as U+FFFD; special tokens as their names."""
        out, buf = [], bytearray()
        for i in ids:
            if i < 256:
                buf.append(i)
                continue
            out.append(buf.decode("utf-8", errors="replace"))
            buf = bytearray()
            out.append(self.id_to_special.get(i, ""))
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    def stream_decoder(self) -> "StreamDecoder":
        return StreamDecoder(self)

    def to_json(self) -> str:
        return json.dumps({"type": self.kind, "special_tokens": self.special_tokens}, indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> ByteTokenizer:
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ModelLoadError(f"cannot read tokenizer {path}: {e}") from e
        if d.get("type") != cls.kind:
            raise ModelLoadError(f"tokenizer {path} has type {d.get('type')!r}; this docqa reads {cls.kind!r}")
        return cls(d["special_tokens"])


class StreamDecoder:
    """Turns tokens into text as they arrive, holding back incomplete UTF-8 sequences."""

    def __init__(self, tok: ByteTokenizer):
        self.tok = tok
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token: int) -> str:
        if token < 256:
            return self._utf8.decode(bytes([token]))
        return self._utf8.decode(b"", final=True) + self.tok.id_to_special.get(token, "")

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)

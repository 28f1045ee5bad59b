"""Tokenizers: bytes (the first models) and byte-level BPE trained by the project (the default).

Both share one contract, and nothing outside this module assumes either:
- `encode(text)` never produces a special token, so text from a corpus cannot forge a
  question or an end-of-answer marker; prompt templates opt in with `allow_special=True`;
- every token id maps to a fixed byte string (`token_bytes`), so decoding, including the
  streaming decoder that holds back incomplete UTF-8, is the same code for both;
- any str (code, prose, any script) encodes and decodes back to itself.

`load_tokenizer(path)` reads either kind of `tokenizer.json`: docqa's own `{"type": "byte"}`
or a Hugging Face `tokenizers` file (whose "model" is BPE).
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
    answer_prefix = ""  # byte models were trained with the answer right after <|answer|>

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def token_bytes(self, i: int) -> bytes | None:
        """The bytes of token i; None for a special token."""
        return bytes([i]) if i < 256 else None

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
        return decode(self, ids)

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


def decode(tok, ids: list[int]) -> str:
    """Bytes that are not valid UTF-8 come back as U+FFFD; special tokens as their names."""
    out, buf = [], bytearray()
    for i in ids:
        b = tok.token_bytes(i)
        if b is not None:
            buf += b
            continue
        out.append(buf.decode("utf-8", errors="replace"))
        buf = bytearray()
        out.append(tok.id_to_special.get(i, ""))
    out.append(buf.decode("utf-8", errors="replace"))
    return "".join(out)


class StreamDecoder:
    """Turns tokens into text as they arrive, holding back incomplete UTF-8 sequences."""

    def __init__(self, tok):
        self.tok = tok
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token: int) -> str:
        b = self.tok.token_bytes(token)
        if b is not None:
            return self._utf8.decode(b)
        return self._utf8.decode(b"", final=True) + self.tok.id_to_special.get(token, "")

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)


def _byte_alphabet() -> dict[str, int]:
    """The printable stand-in character for each byte in byte-level BPE (GPT-2's table, which
    `tokenizers.pre_tokenizers.ByteLevel` uses): printable Latin-1 bytes stand for themselves,
    the rest map to U+0100 onwards in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1),
            *range(ord("\u00ae"), ord("\u00ff") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_BYTE_OF_CHAR = _byte_alphabet()


def _piece_bytes(i: int, piece: str) -> bytes:
    """The bytes a byte-level BPE piece stands for."""
    try:
        return bytes(_BYTE_OF_CHAR[c] for c in piece)
    except KeyError as e:
        raise ModelLoadError(f"token {i} {piece!r} is not byte-level BPE: {e.args[0]!r} stands for no byte") from e


DIGIT_GROUPS = [str(i).zfill(w) for w in (1, 2, 3) for i in range(10 ** w)]  # "0".."9", "00".."99", "000".."999"


class RustTokenizer:
    """What every tokenizer backed by a `tokenizers.Tokenizer` (`self.tk`) shares: encoding with
    special tokens that text cannot forge, decoding through `token_bytes`, saving. A subclass sets
    tk, special_tokens, id_to_special, _special_re and token_bytes."""

    def _plain(self, text: str) -> list[int]:
        # Lone surrogates (undecodable bytes smuggled into a str) are not Unicode; the Rust side
        # rejects them, so they become U+FFFD. Every real str round-trips exactly.
        return self.tk.encode(_no_surrogates(text), add_special_tokens=False).ids

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        if not allow_special:
            return self._plain(text)
        ids: list[int] = []
        for part in self._special_re.split(text):
            if part in self.special_tokens:
                ids.append(self.special_tokens[part])
            elif part:
                ids.extend(self._plain(part))
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Plain encodes of many texts, in parallel on the Rust side."""
        return [e.ids for e in self.tk.encode_batch([_no_surrogates(t) for t in texts], add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return decode(self, ids)

    def stream_decoder(self) -> StreamDecoder:
        return StreamDecoder(self)

    def save(self, path: Path) -> None:
        self.tk.save(str(path))


class BPETokenizer(RustTokenizer):
    """Byte-level BPE trained by the project (`tokenizers`, the Rust library). Every byte is in
    the base alphabet, so nothing is ever unknown. Numbers are cut into groups of three digits
    from the left ("73914" -> "739", "14"), each group one token: a value of six digits is two
    distinct tokens, not six tokens from an alphabet of ten, which is what a key-value memory
    can store and tell apart (docs/TRAINING.md, run d1). The groups are added tokens, matched
    leftmost-longest before the BPE pieces."""

    kind = "bpe"
    # Answers are trained as " " + value, so a word value is the same token in the answer as in
    # the text (" copper"); the answer code strips the leading space.
    answer_prefix = " "

    def __init__(self, tk):
        self.tk = tk
        tk.encode_special_tokens = True  # plain encode() reads "<|end|>" in a text as characters
        ids = {s: tk.token_to_id(s) for s in SPECIAL_TOKENS}
        self.special_tokens = {s: i for s, i in ids.items() if i is not None}
        missing = set(SPECIAL_TOKENS) - set(self.special_tokens)
        if missing:
            raise ModelLoadError(f"BPE tokenizer lacks the special tokens {sorted(missing)}")
        self.id_to_special = {i: s for s, i in self.special_tokens.items()}
        self._special_re = re.compile("(" + "|".join(re.escape(s) for s in self.special_tokens) + ")")
        self._vocab_size = tk.get_vocab_size(with_added_tokens=True)
        # Each token's bytes are worked out on first use, not for the whole vocabulary here:
        # `docqa ask` decodes a few dozen of 9,292 pieces, and the scan (with get_vocab) was 8 ms
        # of its 54 ms model load (issue 14, item 4). Per instance: it lives as long as the tokenizer.
        self._bytes: dict[int, bytes] = {}

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    def token_bytes(self, i: int) -> bytes | None:
        b = self._bytes.get(i)
        if b is None and i not in self.id_to_special and 0 <= i < self._vocab_size:
            piece = self.tk.id_to_token(i)  # None for an id the vocabulary skips
            if piece is not None:
                b = self._bytes[i] = _piece_bytes(i, piece)
        return b

    @classmethod
    def load(cls, path: Path) -> BPETokenizer:
        from tokenizers import Tokenizer

        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as e:  # tokenizers raises a bare Exception for any malformed file
            raise ModelLoadError(f"cannot read tokenizer {path}: {e}") from e

    @classmethod
    def train(cls, texts, vocab_size: int) -> BPETokenizer:
        """Learn merges from an iterable of strings. The special tokens take the first ids."""
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        tk.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
        tk.train_from_iterator(texts, trainer=trainer)
        tk.add_tokens([AddedToken(g, normalized=False) for g in DIGIT_GROUPS])
        return cls(tk)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogates(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def same_tokenizer(a, b) -> bool:
    """Whether two tokenizers encode every text alike: their own serialisations compared, so two
    tokenizer.json files that differ only in layout (a json tool re-indented one) are the same."""
    def text(tok) -> str:
        return tok.tk.to_str() if isinstance(tok, RustTokenizer) else tok.to_json()
    return type(a) is type(b) and text(a) == text(b)


def load_tokenizer(path: Path):
    """A model directory's tokenizer.json, of either kind. A BPE file is parsed once, by the Rust
    library: reading and parsing its 0.7 MB in Python as well, only to learn its type, was 10 ms
    of `docqa ask`'s 54 ms model load (issue 14, item 4)."""
    from tokenizers import Tokenizer, models

    try:
        tk = Tokenizer.from_file(str(path))
    except Exception as e:  # a bare Exception for any file it cannot read, docqa's byte tokenizer included
        return _load_byte_tokenizer(path, not_tokenizers=e)
    if not isinstance(tk.model, models.BPE):
        raise ModelLoadError(f"tokenizer {path} is neither docqa's byte tokenizer nor a BPE tokenizer.json "
                             f"(its model is {type(tk.model).__name__})")
    return BPETokenizer(tk)


def _load_byte_tokenizer(path: Path, not_tokenizers: Exception) -> ByteTokenizer:
    """docqa's own byte tokenizer file, which the `tokenizers` library refused with `not_tokenizers`."""
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"cannot read tokenizer {path}: {e}") from e
    if isinstance(d, dict) and d.get("type") == ByteTokenizer.kind:
        return ByteTokenizer(d["special_tokens"])
    if isinstance(d, dict) and isinstance(d.get("model"), dict) and d["model"].get("type") == "BPE":
        raise ModelLoadError(f"cannot read tokenizer {path}: {not_tokenizers}") from not_tokenizers
    raise ModelLoadError(f"tokenizer {path} is neither docqa's byte tokenizer nor a BPE tokenizer.json")

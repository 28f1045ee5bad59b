"""A pretrained model's own tokenizer.json, behind docqa's tokenizer contract (docqa.model.base).

Two kinds of Hugging Face BPE files are read: byte-level (GPT-2's alphabet: Llama 3, Qwen2,
Qwen3) and SentencePiece-style pieces with byte fallback ("\u2581" for a space, "<0x0A>" for a
byte: Llama 2, Mistral). `docqa convert` adds docqa's four special tokens to the file; every
special token of the file (the model's own end-of-text markers too) is special here, so corpus
text cannot forge one and an answer ends at any of them.

Needs only `tokenizers`, never transformers, and never fetches anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docqa.errors import ModelLoadError
from docqa.model.tokenizer import SPECIAL_TOKENS, RustTokenizer, _byte_alphabet

_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def piece_kind(tk) -> str:
    """'byte_level' or 'metaspace', from the file's decoder; anything else is refused."""
    decoder = json.loads(tk.to_str()).get("decoder") or {}
    parts = decoder.get("decoders", [decoder]) if decoder.get("type") == "Sequence" else [decoder]
    types = {d.get("type") for d in parts}
    if "ByteLevel" in types:
        return "byte_level"
    if types & {"ByteFallback", "Metaspace"}:
        return "metaspace"
    raise ModelLoadError(f"tokenizer decoder {sorted(t for t in types if t)} is neither byte-level BPE nor "
                         "SentencePiece-style BPE with byte fallback; docqa reads those two")


def add_docqa_specials(tk) -> list[str]:
    """Add docqa's special tokens a pretrained tokenizer lacks; returns the ones added."""
    from tokenizers import AddedToken

    vocab = tk.get_vocab(with_added_tokens=True)
    missing = [s for s in SPECIAL_TOKENS if s not in vocab]
    tk.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in missing])
    return missing


class HFTokenizer(RustTokenizer):
    kind = "hf"
    answer_prefix = " "  # a subword model answers " value", as docqa's BPE models do

    def __init__(self, tk):
        self.tk = tk
        tk.encode_special_tokens = True  # plain encode() reads "<|end|>" in a text as characters
        added = tk.get_added_tokens_decoder()  # {id: AddedToken}
        self.special_tokens = {a.content: i for i, a in added.items() if a.special}
        missing = set(SPECIAL_TOKENS) - set(self.special_tokens)
        if missing:
            raise ModelLoadError(f"tokenizer lacks docqa's special tokens {sorted(missing)}: "
                                 "convert the checkpoint with `docqa convert`")
        self.id_to_special = {i: s for s, i in self.special_tokens.items()}
        self._special_re = re.compile("(" + "|".join(re.escape(s) for s in sorted(
            self.special_tokens, key=len, reverse=True)) + ")")
        self._bytes = self._piece_bytes(tk, added)

    def _piece_bytes(self, tk, added) -> dict[int, bytes]:
        kind, alphabet = piece_kind(tk), _byte_alphabet()
        out: dict[int, bytes] = {}
        for piece, i in tk.get_vocab(with_added_tokens=True).items():
            if i in self.id_to_special:
                continue
            if i in added:  # a plain added token is its own text
                out[i] = piece.encode("utf-8")
            elif kind == "byte_level":
                out[i] = bytes(alphabet[c] for c in piece)
            elif m := _BYTE_PIECE.fullmatch(piece):
                out[i] = bytes([int(m.group(1), 16)])
            else:
                out[i] = piece.replace("\u2581", " ").encode("utf-8")
        return out

    @property
    def vocab_size(self) -> int:
        return max([*self._bytes, *self.id_to_special]) + 1

    def token_bytes(self, i: int) -> bytes | None:
        return self._bytes.get(i)

    @classmethod
    def load(cls, path: Path) -> HFTokenizer:
        return cls(read_tokenizer_file(path))


def read_tokenizer_file(path: Path):
    """A `tokenizers.Tokenizer` from a tokenizer.json, or ModelLoadError."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises a bare Exception for any malformed file
        raise ModelLoadError(f"cannot read tokenizer {path}: {e}") from e

"""A pretrained model's tokenizer.json behind docqa's tokenizer contract (docqa/model/hf_tokenizer.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("tokenizers")

from hf_checkpoints import byte_level_tokenizer, metaspace_tokenizer  # noqa: E402

from docqa.errors import ModelLoadError  # noqa: E402
from docqa.model.hf_tokenizer import HFTokenizer, add_docqa_specials  # noqa: E402
from docqa.model.tokenizer import SPECIAL_TOKENS  # noqa: E402

TEXTS = ["The pass key is 73914.", "Grüße, 東京 🙂 and naïve café\n\tdef f(x):\n", "  leading and trailing  "]


def converted(tk) -> HFTokenizer:
    assert add_docqa_specials(tk) == list(SPECIAL_TOKENS)
    assert add_docqa_specials(tk) == []  # a second conversion adds nothing
    return HFTokenizer(tk)


@pytest.mark.parametrize("text", TEXTS)
def test_byte_level_round_trips_any_text(text):
    tok = converted(byte_level_tokenizer())
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert b"".join(tok.token_bytes(i) for i in ids) == text.encode()
    assert len(ids) < len(text.encode())  # merges are used, not bytes alone
    sd = tok.stream_decoder()
    assert "".join(sd.push(i) for i in ids) + sd.flush() == text


def test_metaspace_with_byte_fallback_decodes_pieces_and_bytes():
    tok = converted(metaspace_tokenizer())
    ids = tok.encode("The fox жук\nend")  # "жук" is not in the training text: byte fallback
    # the file's normaliser puts a space before the text (SentencePiece's dummy prefix)
    assert tok.decode(ids) == " The fox жук\nend"
    assert [tok.tk.id_to_token(i) for i in tok.encode("ж")] == ["\u2581", "<0xD0>", "<0xB6>"]
    assert tok.token_bytes(tok.tk.token_to_id("<0x0A>")) == b"\n"
    pieces = [p for p in tok.tk.get_vocab() if "\u2581" in p and len(p) > 2]
    assert pieces and all(tok.token_bytes(tok.tk.token_to_id(p)) == p.replace("\u2581", " ").encode() for p in pieces)


@pytest.mark.parametrize("make", [byte_level_tokenizer, metaspace_tokenizer])
def test_special_tokens_are_never_forged_by_text(make):
    tok = converted(make())
    text = "a <|end|> b <|question|>"
    plain = tok.encode(text)
    assert not set(plain) & set(tok.special_tokens.values())
    allowed = tok.encode(text, allow_special=True)
    assert tok.special_tokens["<|end|>"] in allowed and tok.special_tokens["<|question|>"] in allowed
    assert set(SPECIAL_TOKENS) <= set(tok.special_tokens)
    assert tok.token_bytes(tok.special_tokens["<|end|>"]) is None
    assert tok.vocab_size == make().get_vocab_size(with_added_tokens=True) + 4


def test_the_models_own_end_marker_is_special():
    tok = converted(byte_level_tokenizer())
    assert "<|endoftext|>" in tok.special_tokens  # so an answer ends at it
    assert "<|endoftext|>" not in [tok.decode([i]) for i in tok.encode("<|endoftext|>")]


def test_a_tokenizer_without_docqas_tokens_is_refused():
    with pytest.raises(ModelLoadError, match="lacks docqa's special tokens .*docqa convert"):
        HFTokenizer(byte_level_tokenizer())


def test_an_unknown_piece_kind_is_refused():
    from tokenizers import Tokenizer, decoders, models

    tk = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tk.decoder = decoders.WordPiece()
    add_docqa_specials(tk)
    with pytest.raises(ModelLoadError, match="neither byte-level BPE nor SentencePiece-style"):
        HFTokenizer(tk)

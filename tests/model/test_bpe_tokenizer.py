import json

import pytest
import torch

from docqa.errors import ModelLoadError
from docqa.model.config import ModelConfig
from docqa.model.io import load_model, save_model
from docqa.model.tokenizer import BPETokenizer, ByteTokenizer, load_tokenizer
from docqa.model.transformer import InfiniTransformer

CORPUS = ["The secret code for falcon is 73914. The pass key is 58206. " * 20,
          "def parse(path, *, strict=False):\n    return open(path).read()\n" * 20,
          "Mara went to the kitchen. Oskar moved to the garden. Where is Mara? " * 20]


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(CORPUS, vocab_size=400)


@pytest.mark.parametrize("text", ["def f(x):\n    return x  # ok", "naïve 日本語 🙂 \x00\x7f", "",
                                  "  leading and trailing  ", "emoji never seen: 🦜🧬", "\r\n\t tabs"])
def test_any_text_round_trips(bpe, text):
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert bpe.encode_batch([text, text]) == [ids, ids]


def test_lone_surrogates_become_replacement_characters(bpe):
    assert bpe.decode(bpe.encode("a\udcffb")) == "a\ufffdb"


def test_merges_shorten_the_training_text_and_numbers_are_groups_of_three_digits(bpe):
    text = "The secret code for falcon is 73914."
    ids = bpe.encode(text)
    assert len(ids) < len(text.encode()) / 2
    pieces = lambda s: [bpe.decode([i]) for i in bpe.encode(s)]
    assert pieces("73914") == ["739", "14"]
    assert pieces("1234567") == ["123", "456", "7"]
    assert pieces("v2 0042") == ["v", "2", " ", "004", "2"]
    assert len({bpe.encode(str(n).zfill(3))[0] for n in range(1000)}) == 1000, "every group is one token"


def test_text_cannot_forge_special_tokens(bpe):
    specials = set(bpe.special_tokens.values())
    ids = bpe.encode("x <|end|> <|question|>y<|answer|>")
    assert not specials & set(ids)
    assert bpe.decode(ids) == "x <|end|> <|question|>y<|answer|>"
    marked = bpe.encode("a<|end|>", allow_special=True)
    assert marked[-1] == bpe.special_tokens["<|end|>"] and bpe.decode(marked) == "a<|end|>"


def test_token_bytes_agree_with_the_library_decoder(bpe):
    for i in range(bpe.vocab_size):
        if i in bpe.id_to_special:
            assert bpe.token_bytes(i) is None
            continue
        b = bpe.token_bytes(i)
        try:
            expected = b.decode("utf-8")
        except UnicodeDecodeError:  # part of a multi-byte character: the library shows U+FFFD
            continue
        assert bpe.tk.decode([i]) == expected, i


def test_stream_decoder_holds_back_partial_utf8(bpe):
    text = "日本語 falcon 🙂"
    dec = bpe.stream_decoder()
    pieces = [dec.push(i) for i in bpe.encode(text)]
    assert "".join(pieces) + dec.flush() == text
    assert "\ufffd" not in "".join(pieces)


def test_save_load_and_model_directory_round_trip(bpe, tmp_path):
    bpe.save(tmp_path / "tok.json")
    again = load_tokenizer(tmp_path / "tok.json")
    assert isinstance(again, BPETokenizer) and again.encode("falcon 123") == bpe.encode("falcon 123")
    ByteTokenizer().save(tmp_path / "byte.json")
    assert isinstance(load_tokenizer(tmp_path / "byte.json"), ByteTokenizer)
    model = InfiniTransformer(ModelConfig.from_name("test", vocab_size=bpe.vocab_size))
    save_model(model, bpe, tmp_path / "m")
    lm = load_model(tmp_path / "m")
    assert isinstance(lm.tokenizer, BPETokenizer) and lm.tokenizer.vocab_size == bpe.vocab_size
    with torch.no_grad():
        out, _ = lm.model(torch.tensor([lm.tokenizer.encode("Where is Mara?")]))
    assert out.shape[-1] == bpe.vocab_size


def test_unknown_or_broken_tokenizer_files_are_clear_errors(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"model": {"type": "WordPiece"}}))
    with pytest.raises(ModelLoadError, match="neither docqa's byte tokenizer nor a BPE"):
        load_tokenizer(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot read tokenizer"):
        load_tokenizer(tmp_path / "b.json")

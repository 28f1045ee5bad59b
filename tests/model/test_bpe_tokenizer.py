import json

import pytest
import torch

from docqa.errors import ModelLoadError
from docqa.model.config import ModelConfig
from docqa.model.io import default_model_dir, load_model, save_model
from docqa.model.tokenizer import SPECIAL_TOKENS, BPETokenizer, ByteTokenizer, load_tokenizer
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


def eager_token_bytes(tk) -> dict[int, bytes]:
    """The whole-vocabulary table BPETokenizer built at load before issue 14, item 4."""
    from docqa.model.tokenizer import _byte_alphabet

    alphabet = _byte_alphabet()
    return {i: bytes(alphabet[c] for c in piece) for piece, i in tk.get_vocab(with_added_tokens=True).items()}


@pytest.mark.parametrize("which", ["trained here", "shipped default"])
def test_token_bytes_worked_out_on_demand_equal_the_whole_vocabulary_scan(bpe, which):
    tok = bpe if which == "trained here" else load_tokenizer(default_model_dir() / "tokenizer.json")
    eager = eager_token_bytes(tok.tk)
    assert tok.vocab_size == len(eager) == max(eager) + 1
    for i in [*range(tok.vocab_size - 1, -1, -1), *range(tok.vocab_size)]:  # twice: the second from the cache
        assert tok.token_bytes(i) == (None if i in tok.id_to_special else eager[i]), i
    assert tok.token_bytes(-1) is None and tok.token_bytes(tok.vocab_size) is None
    text = "def f(x):\n    return 73914  # naïve 日本語 🙂"
    assert tok.decode(tok.encode(text)) == text


def test_a_bpe_tokenizer_file_is_parsed_once_by_the_library(bpe, tmp_path, monkeypatch):
    # Python's json read the whole 0.7 MB file only to learn its type, on every `docqa ask`
    import docqa.model.tokenizer as tokenizer_module

    bpe.save(tmp_path / "tok.json")
    ByteTokenizer().save(tmp_path / "byte.json")

    def refuse(*args, **kwargs):
        raise AssertionError("json.loads on a BPE tokenizer file")
    monkeypatch.setattr(tokenizer_module.json, "loads", refuse)
    assert load_tokenizer(tmp_path / "tok.json").encode("falcon 123") == bpe.encode("falcon 123")
    with pytest.raises(AssertionError, match="json.loads"):  # the byte tokenizer is docqa's own json
        load_tokenizer(tmp_path / "byte.json")


def test_a_bpe_file_that_is_not_byte_level_fails_on_the_token_it_cannot_map(tmp_path):
    from tokenizers import Tokenizer, models

    vocab = {s: i for i, s in enumerate(SPECIAL_TOKENS)} | {"a": 4, "\u2581b": 5}  # SentencePiece-style
    Tokenizer(models.BPE(vocab=vocab, merges=[])).save(str(tmp_path / "sp.json"))
    tok = load_tokenizer(tmp_path / "sp.json")
    assert tok.token_bytes(4) == b"a"
    with pytest.raises(ModelLoadError, match="token 5 '\u2581b' is not byte-level BPE: '\u2581' stands for no byte"):
        tok.token_bytes(5)


def test_a_tokenizers_file_of_another_model_or_broken_bpe_is_a_clear_error(tmp_path):
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel(vocab={"a": 0, "[UNK]": 1}, unk_token="[UNK]")).save(str(tmp_path / "wl.json"))
    with pytest.raises(ModelLoadError, match=r"nor a BPE tokenizer.json \(its model is WordLevel\)"):
        load_tokenizer(tmp_path / "wl.json")
    (tmp_path / "bad.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": "not a vocabulary"}}))
    with pytest.raises(ModelLoadError, match="cannot read tokenizer .*bad.json: "):
        load_tokenizer(tmp_path / "bad.json")

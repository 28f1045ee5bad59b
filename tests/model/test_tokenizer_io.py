import json
from dataclasses import replace

import pytest
import torch

from docqa.errors import ConfigError, ModelLoadError
from docqa.memory import Memory
from docqa.model.config import ModelConfig
from docqa.model.io import header_quiet, load_model, regate_model, save_model, soup_models
from docqa.model.tokenizer import BPETokenizer, ByteTokenizer, same_tokenizer
from docqa.model.transformer import InfiniTransformer


@pytest.mark.parametrize("text", ["def f(x):\n    return x  # ok", "naïve 日本語 🙂", "\x00\x01\udcff tail", ""])
def test_tokenizer_round_trips_any_text(text):
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert all(0 <= i < 256 for i in ids)
    assert tok.decode(ids) == text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def test_special_tokens_only_when_allowed():
    tok = ByteTokenizer()
    assert tok.encode("<|end|>") == list(b"<|end|>")  # corpus text cannot forge a marker
    assert tok.encode("a<|end|>", allow_special=True) == [97, 259]
    assert tok.decode([97, 259]) == "a<|end|>"


def test_stream_decoder_holds_back_partial_utf8():
    tok = ByteTokenizer()
    dec = tok.stream_decoder()
    pieces = [dec.push(i) for i in "é🙂".encode()]
    assert pieces[0] == "" and "".join(pieces) + dec.flush() == "é🙂"


def test_model_directory_round_trip(tmp_path):
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test"))
    fp = save_model(model, ByteTokenizer(), tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.fingerprint == fp and loaded.config == model.cfg
    for (n, a), (_, b) in zip(model.state_dict().items(), loaded.model.state_dict().items()):
        assert torch.equal(a, b), n
    with torch.no_grad():
        model.blocks[0].attn.gate.add_(1.0)
    assert save_model(model, ByteTokenizer(), tmp_path / "m2") != fp


def test_regate_sets_the_write_gate_on_the_same_weights_and_a_new_fingerprint(tmp_path):
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test"))
    with torch.no_grad():  # write strengths spread over (0, 1), so a gate at 0.5 cuts some
        for blk in model.blocks:
            blk.attn.write_strength.weight.normal_(0.0, 1.0)
            blk.attn.write_strength.bias.zero_()
    fp = save_model(model, ByteTokenizer(), tmp_path / "m")
    new_fp = regate_model(tmp_path / "m", tmp_path / "g", write_threshold=0.5, write_window=2)
    gated = load_model(tmp_path / "g")
    assert new_fp == gated.fingerprint != fp  # a snapshot of the ungated model is not this one's
    assert (gated.config.write_threshold, gated.config.write_window) == (0.5, 2)
    for (n, a), (_, b) in zip(model.state_dict().items(), gated.model.state_dict().items()):
        assert torch.equal(a, b), n
    tokens = torch.randint(0, 256, (1, 3 * model.cfg.segment_len))
    plain, cut = (m.ingest(tokens, m.new_memory()) for m in (load_model(tmp_path / "m").model, gated.model))
    assert not torch.equal(plain.layers[0].M, cut.layers[0].M)
    one = regate_model(tmp_path / "m", tmp_path / "g0", write_threshold=0.5, write_window=2, write_gate_layers=[0])
    layer0 = load_model(tmp_path / "g0")
    assert one == layer0.fingerprint not in (fp, new_fp) and layer0.config.write_gate_layers == [0]
    only0 = layer0.model.ingest(tokens, layer0.model.new_memory())
    assert torch.equal(only0.layers[0].M, cut.layers[0].M)  # layer 0 gated as in `gated`; its input has no memory in it
    assert [blk.attn.cfg.write_threshold for blk in layer0.model.blocks] == [0.5, 0.0]
    assert "write_gate_layers" not in (tmp_path / "g" / "config.json").read_text()  # older models keep their bytes
    assert "write_skip" not in (tmp_path / "g" / "config.json").read_text()
    skip = regate_model(tmp_path / "m", tmp_path / "g2", write_threshold=0.5, write_window=2, write_skip=2)
    skipped = load_model(tmp_path / "g2")
    assert skip == skipped.fingerprint not in (fp, new_fp, one) and skipped.config.write_skip == 2
    fewer = skipped.model.ingest(tokens, skipped.model.new_memory())
    assert not torch.equal(fewer.layers[0].M, cut.layers[0].M)  # the segments' first writes are gone
    with pytest.raises(ConfigError, match="sets only write_threshold, write_window, write_skip, write_gate_layers, "
                                          "write_threshold_per_layer, write_floor, write_floor_per_layer, quiet_open, "
                                          "quiet_close, not n_layer"):
        regate_model(tmp_path / "m", tmp_path / "x", n_layer=4)
    with pytest.raises(ConfigError, match="set write_threshold too"):
        regate_model(tmp_path / "m", tmp_path / "x", write_window=2)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("bpe", [False, True], ids=["bytes", "bpe"])
def test_under_header_quiet_a_files_header_writes_nothing_and_its_text_does(tmp_path, bpe):
    from docqa.model.center import memory_projections
    from docqa.prompt import header_tokens

    text = "notes about the release\nThe pass key is 71234.\n" * 2
    tok = BPETokenizer.train([text * 4 + "### docs/a.md\n"], vocab_size=300) if bpe else ByteTokenizer()
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", vocab_size=tok.vocab_size, segment_len=16))
    save_model(model, tok, tmp_path / "m")
    quiet = header_quiet(tok)
    assert quiet["quiet_open"] == [tok.special_tokens["<|doc|>"]]
    assert all(i in quiet["quiet_close"] for i in tok.encode("\n\n\n"))
    assert not set(quiet["quiet_close"]) & set(tok.encode("notes about the release"))
    regate_model(tmp_path / "m", tmp_path / "q", **quiet)
    lm = load_model(tmp_path / "q")
    stream, silent, loud = [], [], []
    for path in ("docs/a.md", "src/long/path/b.py", "c"):  # as docqa.prompt.documents_tokens streams files
        head = header_tokens(tok, path)
        start = len(stream)
        stream += head + tok.encode(text)
        for t in range(start, start + len(head)):  # a header cut by a segment boundary is quiet up to it
            (silent if t // 16 == start // 16 else loud).append(t)
        loud += range(start + len(head), len(stream))
    assert len(silent) > 10 and loud
    stream = stream[:len(stream) // 16 * 16]  # whole segments: what ingest has written
    silent, loud = [t for t in silent if t < len(stream)], [t for t in loud if t < len(stream)]
    for _, _, beta in memory_projections(lm.model, torch.tensor([stream])):
        writes = (beta[0] != 0).any(0)  # (T,): some head writes (the model has no write gate)
        assert not writes[silent].any() and writes[loud].all()


def test_missing_or_bad_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="lacks config.json, tokenizer.json, model.safetensors"):
        load_model(tmp_path)
    save_model(InfiniTransformer(ModelConfig.from_name("test")), ByteTokenizer(), tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="cannot be read"):
        load_model(tmp_path)


def test_weights_that_do_not_fit_the_config_are_refused_by_name(tmp_path):
    # the model is built without its init and takes the file's tensors: a tensor missing from
    # the file must be an error, not a parameter left without storage
    from safetensors.torch import load_file, save_file

    save_model(InfiniTransformer(ModelConfig.from_name("test")), ByteTokenizer(), tmp_path)
    state = load_file(str(tmp_path / "model.safetensors"))
    gate = state.pop("blocks.0.attn.gate")
    save_file({**state, "extra": gate}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelLoadError, match=r"missing \['blocks.0.attn.gate'\], unexpected \['extra'\]"):
        load_model(tmp_path)


def test_loaded_weights_are_trainable_float32_tensors_of_their_own(tmp_path):
    model = InfiniTransformer(ModelConfig.from_name("test"))
    save_model(model.to(torch.bfloat16), ByteTokenizer(), tmp_path)  # stored in bf16
    loaded = load_model(tmp_path).model
    params = dict(loaded.named_parameters())
    assert {p.dtype for p in params.values()} == {torch.float32} and all(p.requires_grad for p in params.values())
    with torch.no_grad():
        params["emb.weight"].add_(1.0)  # writable, and shared with nothing a later load sees
    again = dict(load_model(tmp_path).model.named_parameters())
    assert torch.equal(again["emb.weight"] + 1.0, params["emb.weight"])


def test_memory_blobs_round_trip_bit_exact():
    mem = Memory.zeros(2, 2, 4, 4)
    for l in mem.layers:
        l.M.normal_()
        l.z.normal_()
    mem.pending = torch.tensor([[5, 6, 7]])
    mem.segments = 9
    back = Memory.from_blobs(mem.layer_blobs(), mem.pending_blob(), 9)
    assert back.equal(mem)


def test_a_missing_shipped_model_says_the_install_is_broken(tmp_path, monkeypatch):
    import docqa.model.io as io

    monkeypatch.setattr(io, "default_model_dir", lambda: tmp_path)
    with pytest.raises(ModelLoadError, match="shipped default model is missing from this install: reinstall"):
        load_model()


def test_loading_skips_the_random_init_and_the_parameters_are_the_file_bit_for_bit(monkeypatch):
    # Issue 14, item 4: the GPT-2 init (and nn.Embedding's own draw) that the loaded weights
    # replace was 16 ms of `docqa ask`'s 54 ms model load. Whatever the model is built with, every
    # parameter must then be the file's tensor.
    from safetensors.torch import load_file

    from docqa.model.io import default_model_dir

    def refuse(*args, **kwargs):
        raise AssertionError("load_model drew a normal init")
    monkeypatch.setattr(torch.nn.init, "normal_", refuse)
    lm = load_model()
    stored = load_file(str(default_model_dir() / "model.safetensors"))
    params = lm.model.state_dict()
    assert params.keys() == stored.keys()
    for name, tensor in stored.items():
        assert params[name].dtype == torch.float32 and torch.equal(params[name], tensor.float()), name
    with pytest.raises(AssertionError, match="normal init"):  # a new model still initialises
        InfiniTransformer(ModelConfig.from_name("test"))


def test_a_model_built_without_init_has_the_same_parameters_and_shapes():
    cfg = ModelConfig.from_name("test")
    a, b = InfiniTransformer(cfg), InfiniTransformer(cfg, init=False)
    assert [(n, p.shape, p.dtype, p.requires_grad) for n, p in a.named_parameters()] == \
           [(n, p.shape, p.dtype, p.requires_grad) for n, p in b.named_parameters()]
    b.load_state_dict(a.state_dict())
    tokens = torch.tensor([[1, 2, 3, 4, 5]])
    assert torch.equal(a(tokens)[0], b(tokens)[0])


def test_soup_averages_every_weight_and_refuses_other_architectures(tmp_path):
    cfg = ModelConfig.from_name("test")
    torch.manual_seed(0)
    a = InfiniTransformer(replace(cfg, write_strength=True, write_threshold=0.4, write_window=2))
    b = InfiniTransformer(replace(cfg, write_strength=True))  # another gate, the same architecture
    save_model(a, ByteTokenizer(), tmp_path / "a")
    save_model(b, ByteTokenizer(), tmp_path / "b")
    fp = soup_models(tmp_path / "a", tmp_path / "b", 0.25, tmp_path / "s")
    soup = load_model(tmp_path / "s")
    assert soup.fingerprint == fp and soup.config == a.cfg  # a's gate, as documented
    sa, sb = a.state_dict(), b.state_dict()
    for name, w in soup.model.state_dict().items():
        assert torch.allclose(w, 0.75 * sa[name] + 0.25 * sb[name], atol=1e-6), name
    moved = [n for n, w in soup.model.state_dict().items() if not torch.equal(w, sa[n])]
    assert "emb.weight" in moved  # not a's weights copied
    # the ends are the models themselves
    soup_models(tmp_path / "a", tmp_path / "b", 1.0, tmp_path / "one")
    for name, w in load_model(tmp_path / "one").model.state_dict().items():
        assert torch.equal(w, sb[name]), name
    # a graft: only the weights whose names match `only` take b's share
    soup_models(tmp_path / "a", tmp_path / "b", 1.0, tmp_path / "g", only=r"\.attn\.qkv\.")
    grafted = load_model(tmp_path / "g").model.state_dict()
    assert any(".attn.qkv." in n for n in grafted)
    for name, w in grafted.items():
        assert torch.equal(w, (sb if ".attn.qkv." in name else sa)[name]), name
    with pytest.raises(ConfigError, match="matches no weight"):
        soup_models(tmp_path / "a", tmp_path / "b", 1.0, tmp_path / "x", only="no_such_weight")
    # b's embedding without b's numbers: the rows of the digit tokens (bytes 0x30-0x39) stay a's
    soup_models(tmp_path / "a", tmp_path / "b", 1.0, tmp_path / "nd", only=r"^emb\.", keep_tokens=r"\d")
    emb = load_model(tmp_path / "nd").model.state_dict()["emb.weight"]
    digits = [i for i in range(emb.shape[0]) if 0x30 <= i <= 0x39]
    assert len(digits) == 10 and not torch.equal(sa["emb.weight"][digits], sb["emb.weight"][digits])
    for i in range(emb.shape[0]):
        assert torch.equal(emb[i], (sa if i in digits else sb)["emb.weight"][i]), i
    with pytest.raises(ConfigError, match="leaves emb.weight a's already"):
        soup_models(tmp_path / "a", tmp_path / "b", 1.0, tmp_path / "x", only=r"\.attn\.", keep_tokens=r"\d")
    with pytest.raises(ConfigError, match="matches no token"):
        soup_models(tmp_path / "a", tmp_path / "b", 1.0, tmp_path / "x", keep_tokens="no such token")
    save_model(InfiniTransformer(replace(cfg, n_layer=3)), ByteTokenizer(), tmp_path / "deep")
    with pytest.raises(ConfigError, match="differ in n_layer"):
        soup_models(tmp_path / "a", tmp_path / "deep", 0.5, tmp_path / "x")
    with pytest.raises(ConfigError, match=r"soup weight 1.5 must be in \[0, 1\]"):
        soup_models(tmp_path / "a", tmp_path / "b", 1.5, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_tokenizers_compare_by_what_they_encode_not_by_file_layout(tmp_path):
    tok = BPETokenizer.train(["The pass key is 12345. The grass is green. " * 20], vocab_size=300)
    tok.save(tmp_path / "tok.json")
    pretty = tmp_path / "pretty.json"  # the same tokenizer, the file re-laid out by a json tool
    pretty.write_text(json.dumps(json.loads((tmp_path / "tok.json").read_text()), indent=2))
    d = json.loads(pretty.read_text())
    vocab = d["model"]["vocab"]  # the same pieces, two of them under each other's ids
    x, y = (next(p for p, i in vocab.items() if i == j) for j in tok.encode("The grass"))
    vocab[x], vocab[y] = vocab[y], vocab[x]
    (tmp_path / "other.json").write_text(json.dumps(d))
    other = BPETokenizer.load(tmp_path / "other.json")
    assert other.vocab_size == tok.vocab_size and other.encode("The grass") != tok.encode("The grass")
    assert same_tokenizer(tok, BPETokenizer.load(pretty))
    assert not same_tokenizer(tok, other)
    assert not same_tokenizer(tok, ByteTokenizer()) and same_tokenizer(ByteTokenizer(), ByteTokenizer())
    cfg = replace(ModelConfig.from_name("test"), vocab_size=tok.vocab_size)
    torch.manual_seed(0)
    save_model(InfiniTransformer(cfg), tok, tmp_path / "a")
    save_model(InfiniTransformer(cfg), tok, tmp_path / "b")
    (tmp_path / "b" / "tokenizer.json").write_text(pretty.read_text())
    soup_models(tmp_path / "a", tmp_path / "b", 0.5, tmp_path / "s")  # the same tokenizer: averaged
    save_model(InfiniTransformer(cfg), other, tmp_path / "c")
    with pytest.raises(ConfigError, match="different tokenizers"):
        soup_models(tmp_path / "a", tmp_path / "c", 0.5, tmp_path / "x")

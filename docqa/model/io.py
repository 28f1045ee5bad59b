"""Load and save a model directory. `load_model` picks the family by what the directory holds:

- docqa's own model: config.json (a docqa config), tokenizer.json, model.safetensors;
- a converted Hugging Face model (`docqa convert`, docqa/model/hf.py): docqa.json beside the
  transformers files.

No pickle, no network. The fingerprint ties every stored snapshot to the exact model that wrote
it: for docqa's own (small) models, sha256 over the three files at each load (each read once for
it); a converted model stores the hash taken once at conversion in docqa.json.

Loading is on the path of every `docqa ask` (issue 14, item 4): the files are read once each,
and the loaded tensors become the model's parameters (no second copy of the weights).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from docqa.errors import ConfigError, ModelLoadError
from docqa.model.base import LoadedModel
from docqa.model.config import ModelConfig
from docqa.model.tokenizer import ByteTokenizer, BPETokenizer, load_tokenizer, same_tokenizer
from docqa.model.transformer import InfiniTransformer

FILES = ("config.json", "tokenizer.json", "model.safetensors")
HF_MARKER = "docqa.json"  # what `docqa convert` writes beside a transformers checkpoint


def default_model_dir() -> Path:
    # beside this package's modules (importlib.resources would cost ~10 ms of imports per ask)
    return Path(__file__).resolve().parent.parent / "models" / "default"


def fingerprint(directory: Path) -> str:
    return _fingerprint({name: (Path(directory) / name).read_bytes() for name in FILES})


def _fingerprint(contents: dict[str, bytes]) -> str:
    """sha256 over each file's name and bytes, in FILES order."""
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode())
        h.update(contents[name])
    return h.hexdigest()


def save_model(model, tokenizer, directory: Path | str) -> str:
    """Write the model directory, of either family, and return its fingerprint."""
    if not isinstance(model, InfiniTransformer):
        from docqa.model.hf import save_converted

        return save_converted(model, tokenizer, directory)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(model.cfg.to_json() + "\n")
    tokenizer.save(directory / "tokenizer.json")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    return fingerprint(directory)


# ModelConfig fields that change how the memory is written, not any parameter's shape or meaning
# elsewhere, so trained weights take new values of them as they are (docs/TRAINING.md, December,
# eighth session: bpe-c3's weights under write_threshold 0.4 and write_window 2, the default).
GATE_FIELDS = ("write_threshold", "write_window", "write_skip", "write_gate_layers", "write_threshold_per_layer",
               "write_floor", "write_floor_per_layer", "quiet_open", "quiet_close")


def header_quiet(tokenizer) -> dict[str, list[int]]:
    """The quiet spans (ModelConfig.quiet_open, quiet_close) of docqa's file header, for `with_gate`:
    `<|doc|>` opens it and the first token holding a newline closes it, where its header line ends
    (docqa.prompt.header_tokens encodes the line on its own, so its newline is never merged into
    the text after it)."""
    close = [i for i in range(tokenizer.vocab_size) if b"\n" in (tokenizer.token_bytes(i) or b"")]
    return {"quiet_open": [tokenizer.special_tokens["<|doc|>"]], "quiet_close": close}


def with_gate(lm: LoadedModel, **gate) -> LoadedModel:
    """lm's weights and tokenizer, in memory, with the write gate's fields (GATE_FIELDS) set as
    given. The fingerprint stays lm's: only `regate_model`, which saves, gives a new one."""
    unknown = sorted(set(gate) - set(GATE_FIELDS))
    if unknown:
        raise ConfigError(f"the write gate sets only {', '.join(GATE_FIELDS)}, not {', '.join(unknown)}")
    if not isinstance(lm.model, InfiniTransformer):
        raise ConfigError(f"{lm.path} is a converted model; its memory has no write gate to set")
    cfg = replace(lm.config, **gate)  # __post_init__ checks the values
    model = InfiniTransformer(cfg, init=False)
    model.load_state_dict(lm.model.state_dict())
    return replace(lm, model=model.eval(), config=cfg)


def regate_model(src: Path | str, dst: Path | str, **gate) -> str:
    """Copy the model directory `src` to `dst` with the write gate's fields (GATE_FIELDS) set as
    given, the weights and tokenizer unchanged; return the new fingerprint. A snapshot written by
    `src` is refused by `dst`: the same text leaves a different memory."""
    gated = with_gate(load_model(src), **gate)
    return save_model(gated.model, gated.tokenizer, dst)


def soup_models(a: Path | str, b: Path | str, weight: float, dst: Path | str, only: str | None = None,
                keep_tokens: str | None = None) -> str:
    """Write to `dst` the model whose every weight is (1 - weight) * a's + weight * b's (a "model
    soup", Wortsman et al. 2022), with a's config and tokenizer; return its fingerprint. Averaging
    is meaningful only between fine-tunes of one parent, which this cannot check: it checks that
    the two have the same architecture (every config field but the write gate's, which `dst`
    takes from `a`) and the same tokenizer, so that every weight means the same thing in both.
    `only`, a regular expression: only the weights whose names it matches (re.search) are mixed,
    the rest stay a's; at weight 1 that grafts those weights of b onto a. `keep_tokens`, a regular
    expression: the rows of the token embedding (emb.weight, which is also the output head) of the
    tokens whose text it matches (re.search on the token decoded alone) stay a's, so that b's
    embedding can come without b's numbers (docs/TRAINING.md, thirty-fifth session)."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"soup weight {weight} must be in [0, 1] (the share of {b})")
    ma, mb = load_model(a), load_model(b)
    for m in (ma, mb):
        if not isinstance(m.model, InfiniTransformer):
            raise ConfigError(f"{m.path} is a converted model; only docqa's own models are averaged")
    fa = {k: v for k, v in asdict(ma.config).items() if k not in GATE_FIELDS}
    fb = {k: v for k, v in asdict(mb.config).items() if k not in GATE_FIELDS}
    differ = sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))
    if differ:
        raise ConfigError(f"{a} and {b} differ in {', '.join(differ)}: only models of one architecture average")
    if not same_tokenizer(ma.tokenizer, mb.tokenizer):
        raise ConfigError(f"{a} and {b} have different tokenizers: their embeddings do not line up")
    sa, sb = ma.model.state_dict(), mb.model.state_dict()
    mixed = {k for k in sa if sa[k].is_floating_point() and (only is None or re.search(only, k))}
    if not mixed:
        raise ConfigError(f"only={only!r} matches no weight of {a}: name weights as in its state dict "
                          "(e.g. 'attn.conv', 'blocks.2.')")
    soup = {k: (1 - weight) * sa[k] + weight * sb[k] if k in mixed else sa[k] for k in sa}
    if keep_tokens is not None:
        if "emb.weight" not in mixed:
            raise ConfigError(f"keep_tokens={keep_tokens!r} keeps embedding rows, but only={only!r} leaves "
                              "emb.weight a's already: mix the embedding, or drop keep_tokens")
        kept = [i for i in range(sa["emb.weight"].shape[0]) if re.search(keep_tokens, ma.tokenizer.decode([i]))]
        if not kept:
            raise ConfigError(f"keep_tokens={keep_tokens!r} matches no token of {a}'s tokenizer")
        soup["emb.weight"][kept] = sa["emb.weight"][kept]
    ma.model.load_state_dict(soup)
    return save_model(ma.model, ma.tokenizer, dst)


def grow_model(src: Path | str, dst: Path | str, seed: int = 0, next_value: bool = False) -> str:
    """Write to `dst` the model `src` with one more block on top, and return its fingerprint.

    The new block starts as the identity: its attention's output projection and its MLP's output
    are zero, so the grown model computes exactly what `src` does and its other layers write the
    same memory (the growth of Net2Net, Chen et al. 2016, by zero-initialised residual branches).
    Its other weights are a fresh random draw (`seed`; the caller's random state is left as it
    was), so it reads, writes a memory of its own, and learns from the first step: the zero
    projections get gradient first. It takes the top layer's write gate (whether gated, its
    threshold and floor). On top, no layer index of `src` moves: the layers a training config
    names (address_layers, value_write_layers) stay the same layers. A model that trades one
    skill for another in the same weights (docs/TRAINING.md, thirty-fifth session) gets room
    for the second without giving up the first. `next_value`: the new layer writes each key with
    the next token's value (ModelConfig.next_value_layers); the layers of `src` write as they did."""
    if (Path(src) / HF_MARKER).is_file():
        raise ConfigError(f"{src} is a converted model; only docqa's own models grow")
    with torch.random.fork_rng(devices=[]):  # building modules draws, even to be overwritten
        torch.manual_seed(seed)
        return _grow(load_model(src), dst, next_value)


def _grow(lm: LoadedModel, dst: Path | str, next_value: bool) -> str:
    c, n = lm.config, lm.config.n_layer
    top = {"n_layer": n + 1}
    if next_value:
        top["next_value_layers"] = [*(c.next_value_layers or []), n]
    if c.write_gate_layers is not None and n - 1 in c.write_gate_layers:
        top["write_gate_layers"] = [*c.write_gate_layers, n]
    for name in ("write_threshold_per_layer", "write_floor_per_layer"):
        if getattr(c, name) is not None:
            top[name] = [*getattr(c, name), getattr(c, name)[-1]]
    cfg = replace(c, **top)
    model = InfiniTransformer(cfg)
    state = model.state_dict()
    state.update(lm.model.state_dict())  # every weight of src under its own name
    for name in (f"blocks.{n}.attn.proj.weight", f"blocks.{n}.mlp.fc2.weight"):
        state[name] = torch.zeros_like(state[name])
    model.load_state_dict(state)
    return save_model(model, lm.tokenizer, dst)


def load_model(directory: Path | str | None = None, device: str = "cpu") -> LoadedModel:
    directory = default_model_dir() if directory is None else Path(directory)
    if (directory / HF_MARKER).is_file():
        from docqa.model.hf import load_converted  # transformers is imported only for this family

        return load_converted(directory, device=device)
    _refuse_unconverted(directory)
    missing = [f for f in FILES if not (directory / f).is_file()]
    if missing:
        hint = ("the shipped default model is missing from this install: reinstall docqa "
                "(pip install -e . from a clone), or pass --model DIR"
                if directory == default_model_dir() else "point --model at a directory saved by docqa")
        raise ModelLoadError(f"model directory {directory} lacks {', '.join(missing)}: {hint}")
    contents = {name: (directory / name).read_bytes() for name in FILES}  # hashed once, below
    try:
        cfg = ModelConfig.from_dict(json.loads(contents["config.json"]))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ConfigError) as e:
        raise ModelLoadError(f"{directory / 'config.json'} is not a valid docqa config: {e}") from e
    tok = load_tokenizer(directory / "tokenizer.json")
    if tok.vocab_size != cfg.vocab_size:
        raise ModelLoadError(f"tokenizer has {tok.vocab_size} tokens but config says {cfg.vocab_size}")
    try:
        state = load_file(str(directory / "model.safetensors"))  # tensors of their own (safetensors.torch.load
        # of the bytes above would give read-only views of them, which training must not write into)
    except SafetensorError as e:
        raise ModelLoadError(f"{directory / 'model.safetensors'} cannot be read: {e}") from e
    # Built on the CPU without its random init (init=False; building on the meta device instead
    # imports torch._dynamo: seconds), then the loaded tensors become its parameters (assign=True:
    # no second copy of the weights). The key check below leaves no parameter unloaded.
    model = InfiniTransformer(cfg, init=False)
    params = model.state_dict()
    missing, unexpected = sorted(params.keys() - state.keys()), sorted(state.keys() - params.keys())
    if missing or unexpected:
        raise ModelLoadError(f"weights do not fit the config: missing {missing}, unexpected {unexpected}")
    model.load_state_dict({k: v.to(params[k].dtype) for k, v in state.items()}, assign=True)  # float32, as built
    model.to(device).eval()
    return LoadedModel(model, tok, cfg, _fingerprint(contents), directory)


def _refuse_unconverted(directory: Path) -> None:
    """A transformers checkpoint that was never converted: say how to convert it."""
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return
    if isinstance(config, dict) and ("architectures" in config or "model_type" in config):
        raise ModelLoadError(f"{directory} is a Hugging Face checkpoint, not a docqa model directory: convert "
                             f"it first with `docqa convert {directory} OUT_DIR` and pass --model OUT_DIR")

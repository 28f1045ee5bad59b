"""Load and save a model directory. `load_model` picks the family by what the directory holds:

- docqa's own model: config.json (a docqa config), tokenizer.json, model.safetensors;
- a converted Hugging Face model (`docqa convert`, docqa/model/hf.py): docqa.json beside the
  transformers files.

No pickle, no network. The fingerprint ties every stored snapshot to the exact model that wrote
it: for docqa's own (small) models, sha256 over the three files at each load; a converted model
stores the hash taken once at conversion in docqa.json.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from docqa.errors import ConfigError, ModelLoadError
from docqa.model.base import LoadedModel
from docqa.model.config import ModelConfig
from docqa.model.tokenizer import ByteTokenizer, BPETokenizer, load_tokenizer
from docqa.model.transformer import InfiniTransformer

FILES = ("config.json", "tokenizer.json", "model.safetensors")
HF_MARKER = "docqa.json"  # what `docqa convert` writes beside a transformers checkpoint


def default_model_dir() -> Path:
    return Path(str(resources.files("docqa") / "models" / "default"))


def fingerprint(directory: Path) -> str:
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode())
        h.update((Path(directory) / name).read_bytes())
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
    try:
        cfg = ModelConfig.from_dict(json.loads((directory / "config.json").read_text()))
    except (json.JSONDecodeError, TypeError, ConfigError) as e:
        raise ModelLoadError(f"{directory / 'config.json'} is not a valid docqa config: {e}") from e
    tok = load_tokenizer(directory / "tokenizer.json")
    if tok.vocab_size != cfg.vocab_size:
        raise ModelLoadError(f"tokenizer has {tok.vocab_size} tokens but config says {cfg.vocab_size}")
    model = InfiniTransformer(cfg)
    try:
        state = load_file(str(directory / "model.safetensors"))
    except SafetensorError as e:
        raise ModelLoadError(f"{directory / 'model.safetensors'} cannot be read: {e}") from e
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ModelLoadError(f"weights do not fit the config: missing {result.missing_keys}, "
                             f"unexpected {result.unexpected_keys}")
    model.to(device).eval()
    return LoadedModel(model, tok, cfg, fingerprint(directory), directory)


def _refuse_unconverted(directory: Path) -> None:
    """A transformers checkpoint that was never converted: say how to convert it."""
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return
    if isinstance(config, dict) and ("architectures" in config or "model_type" in config):
        raise ModelLoadError(f"{directory} is a Hugging Face checkpoint, not a docqa model directory: convert "
                             f"it first with `docqa convert {directory} OUT_DIR` and pass --model OUT_DIR")

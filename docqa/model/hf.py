"""A Hugging Face causal LM whose attention layers gain Infini-attention's memory branch.

The paper's models (arXiv:2404.07143) are pretrained LLMs given the memory by continual training;
this module does that for the Llama family of `transformers` (SUPPORTED). The checkpoint's own
modules do the work (embeddings, norms, projections, rotary tables, MLPs, LM head); only the
attention is computed here, so that each layer can

- attend causally inside its segment of S tokens, positions restarting at 0 every segment, with
  its own projections and rotary embedding (eq. 6);
- read the compressive memory (eq. 7) and mix it in with a per-head gate (eq. 10), and write the
  segment to it (eq. 8/9), through the shared functions of docqa/model/infini.py.

Decisions (documented in README, "Bring your own model"):
- Grouped-query attention: one memory per KV head, (B, H_kv, D, D). Keys and values exist per KV
  head, so per-query-head memories would hold G identical copies; each query head reads its own
  KV head's memory with its own query, as it reads that head's keys in the local attention.
  The write strength is per KV head, the eq. 10 gate per query head.
- Gate initial logit GATE_INIT = -6: sigmoid(-6) = 0.0025, so a fresh conversion's attention
  output is 99.75% the base model's (with the memory off it is exactly the base model). Eq. 10
  stays the convex mix of docqa's own model, so a head can still learn to read memory only;
  Adam moves the logit by about its learning rate per step whatever the gradient's scale.
- The write strength starts at sigmoid(0) = 0.5 for every token (zero weights), so a conversion
  is deterministic.

A converted directory holds the transformers files (config.json, safetensors shards), the
tokenizer.json with docqa's special tokens, memory.safetensors (the branch parameters) and
docqa.json (the memory config, the file sizes, and the fingerprint: sha256 over every file, taken
once when the directory is written; loading checks the sizes, not the hash).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from docqa.errors import ConfigError, InputError, ModelLoadError
from docqa.memory import LayerMemory, Memory
from docqa.model.base import LoadedModel, ingest_in_chunks
from docqa.model.config import check_memory_rule, from_known_fields
from docqa.model.hf_tokenizer import HFTokenizer, add_docqa_specials, piece_kind, read_tokenizer_file
from docqa.model.infini import SegmentCache, gate_mix, memory_commit, memory_dtype, memory_lookup, memory_scan

SUPPORTED = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM")
MARKER = "docqa.json"
BRANCH_FILE = "memory.safetensors"
FORMAT = 1
GATE_INIT = -6.0
DEFAULT_SEGMENT_LEN = 2048  # the paper's segment for its 1B and 8B models


@dataclass
class HFMemoryConfig:
    """The memory branch of a converted model (docqa.json's "memory")."""

    name: str
    architecture: str
    segment_len: int = DEFAULT_SEGMENT_LEN
    feature_map: str = "l2"  # as docqa's own models: see docqa/model/config.py
    update: str = "token_delta"
    write_strength: bool = True
    use_z: bool | None = None
    memory_decay: float = 1.0  # as docqa's own models: see docqa/model/config.py
    gate_init: float = GATE_INIT

    def __post_init__(self) -> None:
        if self.architecture not in SUPPORTED:
            raise ConfigError(f"{self.architecture} is not supported; docqa converts {', '.join(SUPPORTED)}")
        check_memory_rule(self)
        if self.segment_len < 1:
            raise ConfigError(f"segment_len={self.segment_len} must be positive")

    @classmethod
    def from_dict(cls, d: dict) -> HFMemoryConfig:
        return from_known_fields(cls, d, "memory config")


class MemoryBranch(nn.Module):
    """What a converted attention layer adds to the checkpoint."""

    def __init__(self, cfg: HFMemoryConfig, hidden: int, n_head: int, n_kv: int):
        super().__init__()
        self.gate = nn.Parameter(torch.full((n_head,), cfg.gate_init))  # eq. 10, per query head
        self.write_strength = None
        if cfg.write_strength:  # beta_t per KV head; zero weights: 0.5 for every token at first
            self.write_strength = nn.Linear(hidden, n_kv)
            nn.init.zeros_(self.write_strength.weight)
            nn.init.zeros_(self.write_strength.bias)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary positions, rotate-half form; cos, sin (T, D) from the checkpoint's own rotary module."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


class HFInfini(nn.Module):
    """A transformers causal LM (`lm`, weights as loaded) plus one MemoryBranch per layer."""

    def __init__(self, lm: nn.Module, cfg: HFMemoryConfig):
        super().__init__()
        c = lm.config
        self.lm, self.cfg = lm, cfg
        self.n_head, self.n_kv = c.num_attention_heads, c.num_key_value_heads
        self.head_dim = self.layers[0].self_attn.head_dim
        self.branches = nn.ModuleList(MemoryBranch(cfg, c.hidden_size, self.n_head, self.n_kv)
                                      for _ in self.layers)

    @property
    def layers(self) -> nn.ModuleList:
        return self.lm.model.layers

    @property
    def device(self) -> torch.device:
        return self.lm.get_input_embeddings().weight.device

    @property
    def segment_len(self) -> int:
        return self.cfg.segment_len

    def new_memory(self, batch: int = 1) -> Memory:
        dtype = memory_dtype(self.lm.get_input_embeddings().weight)
        return Memory.zeros(len(self.layers), self.n_kv, self.head_dim, self.head_dim, batch=batch,
                            device=self.device, dtype=dtype)

    def _rotary(self, x: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = self.lm.model.rotary_emb(x, pos[None])  # (1, T, D) each
        return cos[0], sin[0]

    def project(self, i: int, h: torch.Tensor):
        """h (..., T, C) -> q (..., H, T, D), k and v (..., H_kv, T, D) before rotation, beta (..., H_kv, T)."""
        attn, D = self.layers[i].self_attn, self.head_dim
        q, k, v = (p(h).unflatten(-1, (-1, D)) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
        if hasattr(attn, "q_norm"):  # Qwen3 normalises each head's query and key before rotation
            q, k = attn.q_norm(q), attn.k_norm(k)
        q, k, v = (t.transpose(-2, -3) for t in (q, k, v))
        ws = self.branches[i].write_strength
        beta = torch.ones(k.shape[:-1], dtype=k.dtype, device=k.device) if ws is None else \
            torch.sigmoid(ws(h.to(ws.weight.dtype))).transpose(-1, -2).to(k.dtype)  # float32 branch, bf16 base
        return q, k, v, beta

    def _grouped(self, q: torch.Tensor) -> torch.Tensor:
        """(..., H, T, D) -> (..., H_kv, G*T, D): the queries of a KV head's group side by side."""
        *lead, H, T, D = q.shape
        return q.reshape(*lead, self.n_kv, (H // self.n_kv) * T, D)

    def _out(self, i: int, a_dot: torch.Tensor, a_mem: torch.Tensor | None) -> torch.Tensor:
        """Eq. 10 (when the memory is on), then the checkpoint's output projection: (..., H, T, D) -> (..., T, C)."""
        if a_mem is not None:
            a_dot = gate_mix(self.branches[i].gate, a_dot, a_mem.reshape(a_dot.shape))
        return self.layers[i].self_attn.o_proj(a_dot.transpose(-2, -3).flatten(-2))

    def _attention(self, i: int, h: torch.Tensor, cos, sin, mem: LayerMemory, n_full: int, use_memory: bool):
        """h (B, N, S, C): N segments side by side -> (output (B, N, S, C), memory after the first n_full)."""
        B, N, S, C = h.shape
        q, k, v, beta = self.project(i, h)  # (B, N, H, S, D), (B, N, H_kv, S, D)
        a_dot = F.scaled_dot_product_attention(  # eq. 6, causal within each segment
            _rotate(q, cos, sin).flatten(0, 1), _rotate(k, cos, sin).flatten(0, 1), v.flatten(0, 1),
            is_causal=True, scale=self.layers[i].self_attn.scaling, enable_gqa=True).unflatten(0, (B, N))
        a_mem = None
        if use_memory:
            a_mem, mem = memory_scan(self.cfg, self._grouped(q), k, v, beta, mem, n_full)
        return self._out(i, a_dot, a_mem), mem

    def hidden(self, tokens: torch.Tensor, memory: Memory, use_memory: bool = True):
        """tokens (B, T) continuing the stream after `memory` -> (final hidden (B, T, C), new memory).
        The memory's pending tokens open the current segment; their states are dropped."""
        S, P = self.segment_len, memory.pending.shape[1]
        all_tokens = torch.cat([memory.pending, tokens], 1)
        B, T = all_tokens.shape
        n_seg, n_full = -(-T // S), T // S
        x = self.lm.get_input_embeddings()(all_tokens)  # (B, T, C)
        x = F.pad(x, (0, 0, 0, n_seg * S - T)).unflatten(1, (n_seg, S))  # (B, N, S, C)
        cos, sin = self._rotary(x, torch.arange(S, device=x.device))  # positions restart every segment
        layers = []
        for i, (layer, mem) in enumerate(zip(self.layers, memory.layers)):
            a, mem = self._attention(i, layer.input_layernorm(x), cos, sin, mem, n_full, use_memory)
            x = x + a
            x = x + layer.mlp(layer.post_attention_layernorm(x))
            layers.append(mem)
        x = self.lm.model.norm(x.flatten(1, 2)[:, P:T])
        new = Memory(layers, pending=all_tokens[:, n_full * S:], segments=memory.segments + n_full)
        return x, new

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Final hidden states (from `hidden`) -> logits (..., V)."""
        return self.lm.get_output_embeddings()(h)

    def forward(self, tokens: torch.Tensor, memory: Memory | None = None, use_memory: bool = True):
        """tokens (B, T) -> (logits (B, T, V), memory after them). Gradients flow through memory."""
        memory = self.new_memory(tokens.shape[0]) if memory is None else memory
        h, memory = self.hidden(tokens, memory, use_memory)
        return self.logits(h), memory

    @torch.no_grad()
    def ingest(self, tokens: torch.Tensor, memory: Memory, chunk_segments: int = 16,
               use_memory: bool = True) -> Memory:
        return ingest_in_chunks(self, tokens, memory, chunk_segments, use_memory)

    def decoder(self, memory: Memory, use_memory: bool = True) -> HFDecoder:
        return HFDecoder(self, memory, use_memory)

    def step(self, tokens: torch.Tensor, caches: list[SegmentCache], memory: Memory, use_memory: bool):
        """Cached decoding: tokens (1, t), the next t of the current segment -> logits of the last (1, V).
        Appends to the caches; the memory is read, never written."""
        P, t = len(caches[0]), tokens.shape[1]
        x = self.lm.get_input_embeddings()(tokens)
        cos, sin = self._rotary(x, torch.arange(P, P + t, device=x.device))
        allowed = torch.ones(t, P + t, dtype=torch.bool, device=x.device).tril(diagonal=P)
        for i, (layer, cache, mem) in enumerate(zip(self.layers, caches, memory.layers)):
            q, k, v, beta = self.project(i, layer.input_layernorm(x))  # (1, H, t, D), (1, H_kv, t, D)
            cache.k_rot.append(_rotate(k, cos, sin))
            cache.k.append(k)
            cache.v.append(v)
            cache.beta.append(beta)
            a_dot = F.scaled_dot_product_attention(
                _rotate(q, cos, sin), torch.cat(cache.k_rot, -2), torch.cat(cache.v, -2), attn_mask=allowed,
                scale=layer.self_attn.scaling, enable_gqa=True)
            a_mem = memory_lookup(self.cfg, self._grouped(q), mem) if use_memory else None
            x = x + self._out(i, a_dot, a_mem)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return self.lm.get_output_embeddings()(self.lm.model.norm(x[:, -1:]))[:, 0]

    def commit(self, caches: list[SegmentCache], memory: Memory) -> list[LayerMemory]:
        """Write the cached (complete) segment to memory, exactly as hidden() would."""
        return [memory_commit(self.cfg, torch.cat(c.k, -2), torch.cat(c.v, -2), torch.cat(c.beta, -1), mem)
                for c, mem in zip(caches, memory.layers)]

    def freeze_base(self, train_attention: bool = False) -> None:
        """Continual training: the memory branches learn; the checkpoint's weights stay as they
        are, except its attention projections (and Qwen3's q/k norms) with `train_attention`."""
        for name, p in self.lm.named_parameters():
            p.requires_grad_(train_attention and ".self_attn." in name)
        for p in self.branches.parameters():
            p.requires_grad_(True)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The trainable parameters: 'gate' (eq. 10), 'decay' (matrices), 'no_decay' (the rest)."""
        groups: dict[str, list[nn.Parameter]] = {"gate": [], "decay": [], "no_decay": []}
        for name, p in self.named_parameters():
            if p.requires_grad:
                key = "gate" if name.endswith(".gate") else "decay" if p.dim() == 2 else "no_decay"  # norms, biases
                groups[key].append(p)
        return groups


class HFDecoder:
    """Runs tokens one segment-piece at a time with a KV cache; commits full segments to a
    scratch memory. The memory it was given is never modified."""

    def __init__(self, model: HFInfini, memory: Memory, use_memory: bool = True):
        if memory.batch != 1:
            raise InputError(f"decoding takes one stream at a time, got a memory of batch {memory.batch}")
        self.model, self.use_memory = model, use_memory
        scratch = memory.clone()
        self.memory = Memory(scratch.layers, scratch.pending[:, :0], scratch.segments)
        self.caches = [SegmentCache() for _ in model.layers]
        self._pending = memory.pending

    @torch.no_grad()
    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (1, T) -> logits of the last token (1, V). The memory's pending tokens go first."""
        if self._pending is not None:
            tokens, self._pending = torch.cat([self._pending, tokens], 1), None
        S, logits = self.model.segment_len, None
        while tokens.shape[1]:
            piece, tokens = tokens[:, :S - len(self.caches[0])], tokens[:, S - len(self.caches[0]):]
            logits = self.model.step(piece, self.caches, self.memory, self.use_memory)
            if len(self.caches[0]) == S:
                self._commit()
        return logits

    @torch.no_grad()
    def end_segment(self) -> Memory:
        """Write the current segment now, however short (see docqa.model.base.Decoding); the next
        token starts at position 0 with an empty cache, as after a full segment."""
        if self._pending is not None:
            self.feed(self._pending[:, :0])  # the memory's pending tokens are part of this segment
        if len(self.caches[0]):
            self._commit()
        return self.memory

    def _commit(self) -> None:
        layers = self.model.commit(self.caches, self.memory) if self.use_memory else self.memory.layers
        self.memory = Memory(layers, self.memory.pending, self.memory.segments + 1)
        self.caches = [SegmentCache() for _ in self.caches]


def _read_json(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"cannot read {path}: {e}") from e
    if not isinstance(d, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return d


def checkpoint_architecture(directory: Path) -> str:
    """The architecture a transformers checkpoint declares; a clear error when docqa cannot convert it."""
    arch = (_read_json(directory / "config.json").get("architectures") or ["(none given)"])[0]
    if arch not in SUPPORTED:
        raise ConfigError(f"{directory} holds a {arch}; docqa converts {', '.join(SUPPORTED)}")
    return arch


def _check_segment(lm: nn.Module, segment_len: int) -> None:
    c = lm.config
    windows = [c.sliding_window] if getattr(c, "sliding_window", None) and c.model_type == "mistral" else []
    windows += [c.sliding_window for t in (getattr(c, "layer_types", None) or []) if t == "sliding_attention"]
    if windows and segment_len > min(windows):
        raise ConfigError(f"--segment-len {segment_len} exceeds the model's sliding window of {min(windows)}: "
                          "choose a segment that fits in it")
    if segment_len > c.max_position_embeddings:
        raise ConfigError(f"--segment-len {segment_len} exceeds the {c.max_position_embeddings} positions "
                          "the model was trained on")


def _load_lm(directory: Path, dtype):
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # library code does not print; the CLI reports progress

    if not any(directory.glob("*.safetensors")):
        raise ModelLoadError(f"{directory} has no .safetensors weights; docqa reads safetensors only "
                             "(never pickled .bin files)")
    try:
        return AutoModelForCausalLM.from_pretrained(directory, local_files_only=True, use_safetensors=True,
                                                    dtype=dtype)
    except (OSError, ValueError, KeyError) as e:
        raise ModelLoadError(f"transformers cannot load {directory}: {e}") from e


def _add_token_rows(lm: nn.Module, tk, added: list[str], n_base: int) -> None:
    """Embedding (and untied LM head) rows for docqa's new special tokens: the mean of the base
    vocabulary's rows, so they start as an average token; the matrices grow if they must."""
    ids = [tk.token_to_id(s) for s in added]
    if ids and max(ids) >= lm.config.vocab_size:
        lm.resize_token_embeddings(max(ids) + 1, mean_resizing=False)
    with torch.no_grad():
        emb, head = lm.get_input_embeddings().weight, lm.get_output_embeddings().weight
        for w in (emb,) if head is emb else (emb, head):
            w[ids] = w[:n_base].mean(0)


def hash_files(directory: Path, names: list[str], meta: dict) -> str:
    """sha256 over the memory config and every file, in name order, read in 1 MiB blocks."""
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(names):
        h.update(name.encode())
        with open(directory / name, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def save_converted(model: HFInfini, tokenizer: HFTokenizer, directory: Path | str) -> str:
    """Write a converted model directory (a new one, whole or not at all); returns its fingerprint."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise InputError(f"{directory} exists and is not empty: give a new directory")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.lm.save_pretrained(tmp, max_shard_size="5GB")
        tokenizer.save(tmp / "tokenizer.json")
        save_file({k: v.detach().cpu().contiguous() for k, v in model.branches.state_dict().items()},
                  str(tmp / BRANCH_FILE))
        names = sorted(p.name for p in tmp.iterdir())
        meta = {"format": FORMAT, "memory": asdict(model.cfg)}
        fp = hash_files(tmp, names, meta)
        meta |= {"fingerprint": fp, "files": {n: (tmp / n).stat().st_size for n in names}}
        (tmp / MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if directory.exists():
            directory.rmdir()
        os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return fp


def convert(src: Path | str, out: Path | str, segment_len: int = DEFAULT_SEGMENT_LEN) -> str:
    """A local Llama-family checkpoint -> a docqa model directory; returns its fingerprint."""
    src = Path(src)
    if not (src / "config.json").is_file():
        raise InputError(f"{src} has no config.json: give a local transformers checkpoint directory")
    cfg = HFMemoryConfig(name=src.resolve().name, architecture=checkpoint_architecture(src),
                         segment_len=segment_len)
    if not (src / "tokenizer.json").is_file():
        raise ModelLoadError(f"{src} has no tokenizer.json; docqa reads the fast tokenizer's file "
                             "(save it with the tokenizers library)")
    tk = read_tokenizer_file(src / "tokenizer.json")
    piece_kind(tk)  # refuse a tokenizer docqa cannot decode before loading any weights
    n_base = tk.get_vocab_size(with_added_tokens=True)
    added = add_docqa_specials(tk)
    lm = _load_lm(src, "auto")
    _check_segment(lm, segment_len)
    _add_token_rows(lm, tk, added, min(n_base, lm.config.vocab_size))
    model = HFInfini(lm, cfg)
    return save_converted(model, HFTokenizer(tk), out)


def load_converted(directory: Path | str, device: str = "cpu") -> LoadedModel:
    """A directory written by `convert` (float32 on CPU, the checkpoint's dtype on CUDA)."""
    directory = Path(directory)
    meta = _read_json(directory / MARKER)
    if meta.get("format") != FORMAT:
        raise ModelLoadError(f"{directory / MARKER} has format {meta.get('format')!r}; this docqa reads {FORMAT}")
    try:
        cfg = HFMemoryConfig.from_dict(meta["memory"])
        fingerprint, sizes = str(meta["fingerprint"]), dict(meta["files"])
    except (KeyError, TypeError, ConfigError) as e:
        raise ModelLoadError(f"{directory / MARKER} is not a valid docqa.json: {e}") from e
    changed = [n for n, size in sizes.items() if not (directory / n).is_file() or (directory / n).stat().st_size != size]
    if changed:
        raise ModelLoadError(f"{directory} changed since it was written ({', '.join(changed)}): its fingerprint "
                             "no longer names it; convert the checkpoint again")
    lm = _load_lm(directory, torch.float32 if device == "cpu" else "auto")
    if type(lm).__name__ != cfg.architecture:
        raise ModelLoadError(f"{directory} holds a {type(lm).__name__}, docqa.json says {cfg.architecture}")
    model = HFInfini(lm, cfg)
    try:
        state = load_file(str(directory / BRANCH_FILE))
    except (SafetensorError, OSError) as e:
        raise ModelLoadError(f"{directory / BRANCH_FILE} cannot be read: {e}") from e
    result = model.branches.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ModelLoadError(f"{BRANCH_FILE} does not fit the model: missing {result.missing_keys}, "
                             f"unexpected {result.unexpected_keys}")
    tok = HFTokenizer.load(directory / "tokenizer.json")
    model.to(device).eval()
    return LoadedModel(model, tok, cfg, fingerprint, directory)

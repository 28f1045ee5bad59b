"""ModelConfig: every knob of the Infini-attention transformer, with named presets."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from docqa.errors import ConfigError

FEATURE_MAPS = ("elu1", "l2")
UPDATE_RULES = ("linear", "delta", "token_delta")


def check_memory_rule(cfg) -> None:
    """The memory settings every model family shares (feature_map, update, use_z): fills use_z's
    default (the z normaliser goes with ELU+1 features) and refuses what cannot run."""
    if cfg.use_z is None:
        cfg.use_z = cfg.feature_map == "elu1"
    if cfg.feature_map not in FEATURE_MAPS:
        raise ConfigError(f"feature_map={cfg.feature_map!r}; choose one of {FEATURE_MAPS}")
    if cfg.update not in UPDATE_RULES:
        raise ConfigError(f"update={cfg.update!r}; choose one of {UPDATE_RULES}")
    if cfg.update == "token_delta" and cfg.use_z:
        raise ConfigError("update='token_delta' has no z normaliser; set use_z=False")
    if not 0.0 < cfg.memory_decay <= 1.0:
        raise ConfigError(f"memory_decay={cfg.memory_decay} must be in (0, 1]; 1 keeps the memory undecayed")


def from_known_fields(cls, d: dict, what: str, name_known: bool = True):
    """cls(**d) for a dataclass cls, refusing keys that are not its fields (a typo in a saved
    config or a `--set` must not be dropped silently), naming the ones it knows if `name_known`."""
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        named = f"; known: {sorted(known)}" if name_known else ""
        raise ConfigError(f"unknown {what} keys {sorted(unknown)}{named}")
    return cls(**d)


@dataclass
class ModelConfig:
    vocab_size: int = 260  # 256 bytes + 4 special tokens (see tokenizer.py)
    n_layer: int = 3
    n_head: int = 4
    d_model: int = 128
    segment_len: int = 64  # S: tokens per segment; local attention never looks further back
    mlp_ratio: int = 4
    rope_base: float = 10000.0
    # sigma() in eq. 7-9. "elu1" is the paper's ELU+1; "l2" normalises each q and k to unit length,
    # which makes each delta-rule write a contraction along its key (RECALL-NOTES section 4; for
    # what grows elsewhere, see memory_decay).
    feature_map: str = "l2"
    # "linear" = eq. 8, "delta" = eq. 9 (one correction per segment), "token_delta" = the delta
    # rule applied token by token inside the segment (DeltaNet), computed in parallel by a
    # triangular solve. token_delta learned recall fastest in RECALL-NOTES.
    update: str = "token_delta"
    # A per-token, per-head write strength in (0, 1) multiplying each write (DeltaNet's beta_t).
    write_strength: bool = True
    # With write_strength: a token whose beta is at most this writes nothing (beta -> 0; above it
    # beta is kept). Under the delta rule with unit keys a fact T tokens back keeps about
    # exp(-sum beta / d_head) of itself; bpe-c3 gives every prose token a small beta (mean 0.019
    # in its memory-only head) and a fact a large one (up to 0.93), so 64K tokens of prose
    # write ~19 d_head's worth over it. A threshold drops those writes and keeps the fact's: the
    # answer's loss stops growing with the stream (docs/TRAINING.md, December, seventh session).
    # 0 = off. Gradient reaches beta only above the threshold.
    write_threshold: float = 0.0
    # With write_threshold: a write at or below the threshold is kept after all when a token within
    # this many positions of it (either side, in its segment) clears the threshold. A fact is
    # written by a few strong tokens and several weak ones (its name, the frame's words); the
    # threshold alone drops the weak ones with the prose's writes, and a needle phrased as in no
    # training example may clear it with one token only (docs/TRAINING.md, December, eighth
    # session). 0 = the threshold alone.
    write_window: int = 0
    # With write_threshold: the layers (0-based) the gate applies to; None, every layer. A model
    # that keeps named facts in one layer with weak writes and needles in another with strong ones
    # can gate the second alone (docs/TRAINING.md, December, fourteenth session). Left out of the
    # saved config while None, so models saved before it keep their bytes (and fingerprints).
    write_gate_layers: list[int] | None = None
    # With write_threshold: each layer's own threshold, one entry per layer, in place of
    # write_threshold in the gated layers (the entries of layers write_gate_layers leaves out are
    # not used). Layer 2 of the a-lineage keeps needles past 16K tokens and writes prose ~4x as much
    # as bpe-s70's did over 64K tokens; a threshold of its own cut that (docs/TRAINING.md, December,
    # twenty-fifth session). Left out of the saved config while None.
    write_threshold_per_layer: list[float] | None = None
    # With write_threshold: the gate also drops every write at the first write_skip positions of a
    # segment. There the short conv and the local attention start over, so a token sees only the
    # tokens of its segment before it: "is" then " g" at a segment's start reads as a fact of its
    # own, and the a-lineage wrote it, where a pass key's read then found it ('golden' for the
    # digits: docs/TRAINING.md, December, twenty-fourth session). 0 = off; left out of the saved
    # config while 0, so models saved before it keep their bytes (and fingerprints).
    write_skip: int = 0
    # With write_threshold: in every segment each head keeps its write_floor strongest writes
    # (after write_skip and quiet spans) whatever the threshold, so a gated layer's memory is never
    # left empty. Under layer 1 at 0.3 the a-lineage's layer-1 memory stayed exactly zero over 128K
    # tokens of its filler, and with an empty layer 1 it ended its answer at once (docs/TRAINING.md,
    # December, twenty-sixth session). 0 = off; left out of the saved config while 0.
    write_floor: int = 0
    # With write_threshold: each layer's own write_floor, one entry per layer, in place of
    # write_floor in the gated layers. Left out of the saved config while None.
    write_floor_per_layer: list[int] | None = None
    # The layers (0-based) whose memory pairs each token's key with the NEXT token's value: a segment
    # writes k_t -> v_{t+1}, and its last token writes nothing (what follows it is in the next
    # segment), as kNN-LM stores a context with the token that came after it (Khandelwal et al.
    # 2020). A read then returns what followed the context its query matches: the question's last
    # position addresses a value's first token, and each answer token the one after it. Paired with
    # its own value, as eq. 8/9 write, a key holds the very token a query is looking for, which the
    # query cannot know; the a-lineage's misses at 64K tokens are often a value's first token right
    # and the rest wrong (docs/TRAINING.md, thirty-seventh session). In the MQAR probe with 3-token
    # values it learned the continuation as well as eq. 8's pairing and the first token far slower
    # (thirty-eighth session): kept for experiments, no default uses it. None: every layer writes
    # k_t -> v_t. Left out of the saved config while None.
    next_value_layers: list[int] | None = None
    # Token ids that open and close a quiet span: from a `quiet_open` token through the first
    # `quiet_close` token at or after it, no token writes to memory, in any layer, gated or not. A
    # span ends with its segment at the latest, so what a token writes depends on its segment's
    # tokens alone (streaming in any split gives the same memory). For docqa's file header
    # (`<|doc|>` through its header line's newline, docqa.prompt.header_tokens;
    # docqa.model.io.header_quiet gives the ids): the a-lineage wrote "###" and the file names'
    # letters as facts, and a thousand headers wore a pass key away (docs/TRAINING.md, December,
    # twenty-fifth session). Both or neither; left out of the saved config while None.
    quiet_open: list[int] | None = None
    quiet_close: list[int] | None = None
    # Divide the memory read by sigma(q) z (eq. 7). None: on for "elu1", off for "l2", since
    # unit-length features do not need the normaliser and it makes token_delta ill-defined.
    use_z: bool | None = None
    # Kernel of a causal depthwise convolution over q, k, v inside each segment (0 = none).
    # Lets a key carry the few tokens before it, the usual aid to associative recall in
    # linear-attention memories (DeltaNet, Zoology). Initialised as the identity.
    short_conv: int = 0
    # The memory's queries and keys get a learned correction of their own, q + W_mq x and
    # k + W_mk x, that local attention (eq. 6) does not see. Infini-attention shares q and k
    # between eq. 6 and eq. 7-9, so the keys a fact is written under also serve local attention;
    # named facts' keys came out nearly parallel (docs/TRAINING.md, December, fourth session).
    # Zero at init: a model gains it without changing what it computes.
    memory_qk: bool = False
    # The memory's queries and keys are centred by a learned per-head vector before the feature
    # map, q - c_q and k - c_k (eq. 7-9 only; local attention's softmax ignores a shift of every
    # key). Without it bpe-c3's unit memory keys on real text share one direction (mean cosine
    # 0.77-0.96 per head, participation ratio 1.1-2.1 of 64 dimensions): distinct facts get
    # near-parallel keys, and the delta rule needs a large M to tell them apart (docs/TRAINING.md,
    # December, sixth session). Zero at init; `docqa.model.center` fits it to the mean on text.
    memory_center: bool = False
    # With memory_center: the centred q and k are also whitened, W (q - c_q) and W (k - c_k), with
    # W = (Sigma + eps I)^-1/2 from their covariance (a statistic, kept as the centres are). Centred
    # keys still used ~16 of 64 directions, and ||M|| kept growing in the thin ones, where a write
    # adds beta k_thin v but takes back only beta k_thin^2 M (docs/TRAINING.md, sixth session).
    memory_whiten: bool = False
    # alpha: before each segment's write the memory is scaled, M <- alpha M (and z <- alpha z), as
    # Gated DeltaNet's decay, per segment and fixed. With unit keys the delta rule is a contraction
    # only along the keys written: under 1,024 segments of real text the norm of M kept growing
    # (to ~500 in one head of bpe-c4) in directions the keys barely span, and what a query picks
    # up there buries a fact written last (docs/TRAINING.md, December, fifth session). 1 = off.
    memory_decay: float = 1.0
    gate_init: float = 0.0  # eq. 10 gate logit per head; 0 mixes memory and local attention 50/50
    norm_eps: float = 1e-5
    name: str = "custom"

    def __post_init__(self) -> None:
        check_memory_rule(self)
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        if self.d_head % 2:
            raise ConfigError(f"d_head={self.d_head} must be even for rotary positions")
        if self.memory_whiten and not self.memory_center:
            raise ConfigError("memory_whiten whitens the centred q and k; set memory_center=True too")
        if not 0.0 <= self.write_threshold < 1.0:
            raise ConfigError(f"write_threshold={self.write_threshold} must be in [0, 1) (0 = off)")
        if self.write_threshold and not self.write_strength:
            raise ConfigError("write_threshold cuts the write strength beta; set write_strength=True too")
        if self.write_window < 0:
            raise ConfigError(f"write_window={self.write_window} must be 0 (off) or a number of tokens")
        if self.write_window and not self.write_threshold:
            raise ConfigError("write_window widens what write_threshold keeps; set write_threshold too")
        if not 0 <= self.write_skip < self.segment_len:
            raise ConfigError(f"write_skip={self.write_skip} must be 0 (off) or a number of positions "
                              f"under segment_len={self.segment_len}")
        if self.write_skip and not self.write_threshold:
            raise ConfigError("write_skip is part of the write gate; set write_threshold too")
        if not 0 <= self.write_floor <= self.segment_len:
            raise ConfigError(f"write_floor={self.write_floor} must be 0 (off) or a number of writes "
                              f"up to segment_len={self.segment_len}")
        if self.write_floor and not self.write_threshold:
            raise ConfigError("write_floor keeps writes the threshold drops; set write_threshold too")
        if self.write_floor_per_layer is not None:
            per = self.write_floor_per_layer
            if not self.write_threshold:
                raise ConfigError("write_floor_per_layer sets the gated layers' floors; set write_threshold too")
            if len(per) != self.n_layer or not all(isinstance(f, int) and 0 <= f <= self.segment_len for f in per):
                raise ConfigError(f"write_floor_per_layer={per} must give each of the {self.n_layer} layers "
                                  f"a number of writes in 0..{self.segment_len}")
        if self.write_threshold_per_layer is not None:
            per = self.write_threshold_per_layer
            if not self.write_threshold:
                raise ConfigError("write_threshold_per_layer sets the gated layers' thresholds; "
                                  "set write_threshold too")
            if len(per) != self.n_layer or not all(isinstance(t, (int, float)) and 0.0 < t < 1.0 for t in per):
                raise ConfigError(f"write_threshold_per_layer={per} must give each of the {self.n_layer} layers "
                                  "a threshold in (0, 1)")
        if (self.quiet_open is None) != (self.quiet_close is None):
            raise ConfigError("quiet_open and quiet_close go together: a quiet span needs the tokens "
                              "that open it and the tokens that close it")
        if self.quiet_open is not None:
            for name in ("quiet_open", "quiet_close"):
                ids = getattr(self, name)
                if not ids or not all(isinstance(i, int) and 0 <= i < self.vocab_size for i in ids):
                    raise ConfigError(f"{name}={ids} must list token ids in 0..{self.vocab_size - 1}")
            both = sorted(set(self.quiet_open) & set(self.quiet_close))
            if both:
                raise ConfigError(f"token ids {both} both open and close a quiet span; name each on one side")
        if self.write_gate_layers is not None:
            if not self.write_threshold:
                raise ConfigError("write_gate_layers picks the layers write_threshold gates; set write_threshold too")
            self._check_layers("write_gate_layers", "or be left unset for every layer")
        if self.next_value_layers is not None:
            self._check_layers("next_value_layers", "or be left unset")
        if self.short_conv < 0:
            raise ConfigError(f"short_conv={self.short_conv} must be 0 (off) or a kernel size")
        for name in ("vocab_size", "n_layer", "n_head", "d_model", "segment_len", "mlp_ratio"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be positive")

    def _check_layers(self, name: str, unset: str) -> None:
        """The field `name` must list distinct layer indices 0..n_layer-1 (`unset`: what leaving it out means)."""
        layers = getattr(self, name)
        if not layers or len(set(layers)) != len(layers) or not all(
                isinstance(i, int) and 0 <= i < self.n_layer for i in layers):
            raise ConfigError(f"{name}={layers} must name distinct layers 0..{self.n_layer - 1}, {unset}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    @classmethod
    def from_name(cls, name: str, **overrides) -> ModelConfig:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
        return cls(**{**PRESETS[name], "name": name, **overrides})

    def gated(self, layer: int) -> bool:
        """Whether the write gate (write_threshold, write_window) applies to this layer."""
        return bool(self.write_threshold) and (self.write_gate_layers is None or layer in self.write_gate_layers)

    def next_value(self, layer: int) -> bool:
        """Whether this layer writes each key with the next token's value (next_value_layers)."""
        return layer in (self.next_value_layers or ())

    def layer_config(self, layer: int) -> ModelConfig:
        """The config one layer's attention runs with: this one, without the write gate where
        write_gate_layers leaves the layer out, or with the layer's own write_threshold_per_layer
        and write_floor_per_layer."""
        if not self.write_threshold:
            return self
        if not self.gated(layer):
            return replace(self, write_threshold=0.0, write_window=0, write_skip=0, write_gate_layers=None,
                           write_threshold_per_layer=None, write_floor=0, write_floor_per_layer=None)
        own = {}
        if self.write_threshold_per_layer is not None:
            own["write_threshold"] = float(self.write_threshold_per_layer[layer])
        if self.write_floor_per_layer is not None:
            own["write_floor"] = self.write_floor_per_layer[layer]
        return replace(self, **own) if own else self

    def to_json(self) -> str:
        d = asdict(self)
        for name in ("write_skip", "write_floor"):
            if not d[name]:
                del d[name]
        for name in ("write_gate_layers", "write_threshold_per_layer", "write_floor_per_layer", "quiet_open",
                     "quiet_close", "next_value_layers"):
            if d[name] is None:
                del d[name]
        return json.dumps(d, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return from_known_fields(cls, d, "config")


PRESETS: dict[str, dict] = {
    # For tests: every code path, milliseconds per step.
    "test": dict(n_layer=2, n_head=2, d_model=32, segment_len=8),
    # The shipped default: small enough to train on two CPU cores.
    "small": dict(n_layer=3, n_head=4, d_model=128, segment_len=64),
    # The paper-faithful baseline of RECALL-NOTES section 1.
    "paper": dict(n_layer=6, n_head=6, d_model=384, segment_len=256, feature_map="elu1",
                  update="delta", write_strength=False),
    # ~99M parameters, d_head 64: the GPU-sized shape of the throughput benchmark
    # (benchmarks/bench_model.py); no shipped model has it yet.
    "base": dict(n_layer=14, n_head=12, d_model=768, segment_len=256),
}

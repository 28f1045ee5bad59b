"""Model throughput on this machine: `ingest` tokens/s with and without the memory path for each
update rule, batched against sequential streams, tokens/s by the shape of a call (what a batch
can win), and (on a GPU) the achieved TFLOP/s against
the device's bf16 peak. A script, not a test: it prints markdown tables (docs/bench/model.md).

    python benchmarks/bench_model.py [--tables rules,batched,calls,flops] [--preset small] [--set n_head=2]
        [--tokens 65536] [--threads 1] [--repeats 5] [--clock wall|cpu] [--streams 8]
        [--device cpu|cuda] [--dtype fp32|bf16|fp16] [--flops-presets small,base] [--peak-tflops X]

Every number is the best of --repeats rounds; a round runs each variant of a table once, in
turn, in one process, so a machine busy with something else slows all variants alike. --clock
cpu times the CPU time of the calling thread instead of the wall (with one torch thread on a
CPU, the work itself, without the time other processes took the core); CUDA is always timed
by the wall, synchronised. TFLOP/s count the matrix products of `ingest` (see flops_per_token).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from docqa.errors import DocqaError
from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer
from docqa.precision import precision

# Dense bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s (SXM parts).
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10G": 70.0}


def best_of(variants: dict, repeats: int, clock: str, device: torch.device) -> dict[str, float]:
    """Seconds of each variant (a callable), the best of `repeats` interleaved rounds, after one warm-up round."""
    now = time.thread_time if clock == "cpu" and device.type == "cpu" else time.perf_counter
    best = {name: float("inf") for name in variants}
    for round_ in range(repeats + 1):
        for name, run in variants.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = now()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if round_:
                best[name] = min(best[name], now() - t0)
    return best


def flop_parts(cfg: ModelConfig, use_memory: bool) -> dict[str, float]:
    """Matrix-product FLOPs (2 per multiply-add) per token of `ingest` (no LM head), by part:
    the projections and MLP (and the write strength), causal local attention over (S+1)/2 keys on
    average, and the memory path (eq. 7 and the update rule; its triangular solve apart), each
    segment's work spread over its S tokens."""
    C, S, D, L = cfg.d_model, cfg.segment_len, cfg.d_head, cfg.n_layer
    parts = {"dense": L * (2 * (4 + 2 * cfg.mlp_ratio) * C * C + (2 * C * cfg.n_head if cfg.write_strength else 0)),
             "attention": L * 2 * 2 * (S + 1) / 2 * C, "memory": 0.0, "solve": 0.0}
    if use_memory:
        per_head = 2 * D * D  # the read sigma(Q) M
        if cfg.update == "token_delta":  # see infini.delta_transition: per segment K K^T 2 S^2 D,
            # K^T T K and K^T T V 2 S D (D + D), the step P M + Q 2 D^3, the solve A^T Y = K S^2 D
            per_head += 2 * S * D + 2 * D * 2 * D + 2 * D * D * D / S
            parts["solve"] = L * cfg.n_head * S * D
        else:  # K^T V (and for delta the retrieval K M)
            per_head += 2 * D * D * (2 if cfg.update == "delta" else 1)
        if cfg.use_z:  # the normaliser sigma(Q) z of the read (and of delta's retrieval)
            per_head += 2 * D * (2 if cfg.update == "delta" else 1)
        parts["memory"] = L * cfg.n_head * per_head
    return parts


def flops_per_token(cfg: ModelConfig, use_memory: bool) -> float:
    return sum(flop_parts(cfg, use_memory).values())


def parse_sets(pairs: list[str]) -> dict:
    """--set KEY=VALUE overrides of ModelConfig, each cast to its field's type."""
    types = {f.name: f.type for f in dataclasses.fields(ModelConfig)}
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types:
            raise SystemExit(f"--set {pair}: no config field {key!r}; known: {', '.join(sorted(types))}")
        kind = types[key]
        out[key] = (value == "true" if "bool" in kind else int(value) if "int" in kind
                    else float(value) if "float" in kind else value)
    return out


def rules_table(args, cfg_of, tokens: torch.Tensor, device: torch.device) -> None:
    """Memory on against off, per update rule."""
    print("| feature map | update | memory path | tokens/s | relative |")
    print("|---|---|---|---|---|")
    for fm, upd in [("l2", "token_delta"), ("l2", "delta"), ("elu1", "delta"), ("elu1", "linear")]:
        model = InfiniTransformer(cfg_of(feature_map=fm, update=upd, use_z=None if upd != "token_delta" else False))
        model = model.to(device).eval()
        t = best_of({use: (lambda use=use: model.ingest(tokens, model.new_memory(tokens.shape[0]), use_memory=use))
                     for use in (False, True)}, args.repeats, args.clock, device)
        off, on = tokens.numel() / t[False], tokens.numel() / t[True]
        print(f"| {fm} | {upd} | off | {off:,.0f} | 1.00 |")
        print(f"| {fm} | {upd} | on | {on:,.0f} | {on / off:.2f} |")


def batched_table(args, cfg, tokens: torch.Tensor, device: torch.device) -> None:
    """`--streams` equal streams: one ingest after another, against batched (ingest_streams, and
    model.ingest of a (B, T) batch in lockstep). With --doc-tokens N each stream arrives as
    documents of N tokens, one call each (as docqa.ingest feeds a corpus: a document at a time),
    and the batched variant advances the streams' i-th documents together."""
    from docqa.model.streams import ingest_streams

    n = args.streams
    length = tokens.shape[1] // n
    streams = [tokens[:, i * length:(i + 1) * length] for i in range(n)]
    doc = args.doc_tokens or length
    docs = [[s[:, at:at + doc] for at in range(0, length, doc)] for s in streams]  # docs[stream][i]
    model = InfiniTransformer(cfg).to(device).eval()

    def sequential():
        for pieces in docs:
            memory = model.new_memory(1)
            for piece in pieces:
                memory = model.ingest(piece, memory)

    def batched():
        memories = [model.new_memory(1) for _ in range(n)]
        for pieces in zip(*docs):
            memories = ingest_streams(model, list(pieces), memories, chunk_segments=args.batch_chunk)

    def lockstep():
        memory = model.new_memory(n)
        for pieces in zip(*docs):
            memory = model.ingest(torch.cat(pieces), memory, chunk_segments=args.batch_chunk)

    t = best_of({"sequential": sequential, "batched (ingest_streams)": batched, "batched (lockstep (B, T))": lockstep},
                args.repeats, args.clock, device)
    if args.batch_chunk != 16:
        print(f"batched variants: at most {args.batch_chunk} segments per stream per call (sequential: 16)\n")
    print(f"| {n} streams of {length:,} tokens, documents of {doc:,} | tokens/s | relative |")
    print("|---|---|---|")
    for name, sec in t.items():
        print(f"| {name} | {n * length / sec:,.0f} | {t['sequential'] / sec:.2f} |")


def calls_table(args, cfg, device: torch.device) -> None:
    """Tokens/s of `ingest` calls by shape (streams in the batch x segments per stream), each shape
    fed about --tokens tokens: what batching streams can win on this device. A call has a fixed
    cost (Python, op dispatch, small products); a batch spreads it over more tokens, and gains
    nothing once one stream's call is large enough to keep the device busy."""
    model = InfiniTransformer(cfg).to(device).eval()
    S = cfg.segment_len
    shapes = [(1, 1), (1, 4), (1, 16), (args.streams, 1), (args.streams, 2), (args.streams, 4), (args.streams, 16)]
    batches = {shape: torch.randint(0, 256, shape[:1] + (shape[1] * S,), device=device) for shape in shapes}
    calls = {shape: max(1, args.tokens // batch.numel()) for shape, batch in batches.items()}

    def feed(shape):
        for _ in range(calls[shape]):
            model.ingest(batches[shape], model.new_memory(shape[0]))

    t = best_of({shape: (lambda shape=shape: feed(shape)) for shape in shapes}, args.repeats, args.clock, device)
    print("| streams per call | segments per stream | tokens per call | ms per call | tokens/s | relative |")
    print("|---|---|---|---|---|---|")
    first = batches[shapes[0]].numel() * calls[shapes[0]] / t[shapes[0]]
    for shape in shapes:
        n, ms = batches[shape].numel(), 1e3 * t[shape] / calls[shape]
        rate = n * calls[shape] / t[shape]
        print(f"| {shape[0]} | {shape[1]} | {n:,} | {ms:.2f} | {rate:,.0f} | {rate / first:.2f} |")


def flops_table(args, tokens: torch.Tensor, device: torch.device) -> None:
    """Tokens/s and achieved TFLOP/s per preset, memory on and off."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = args.peak_tflops or next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)
    print(f"device {name}, dtype {args.dtype}, bf16 peak "
          + (f"{peak:g} TFLOP/s" if peak else "unknown (pass --peak-tflops to get the fraction)") + "\n")
    print("| preset | params | memory path | tokens/s | TFLOP/s | of bf16 peak |")
    print("|---|---|---|---|---|---|")
    for preset in args.flops_presets.split(","):
        cfg = ModelConfig.from_name(preset, **parse_sets(args.set))
        model = InfiniTransformer(cfg).to(device).eval()
        params = sum(p.numel() for p in model.parameters())
        t = best_of({use: (lambda use=use: model.ingest(tokens, model.new_memory(tokens.shape[0]), use_memory=use))
                     for use in (False, True)}, args.repeats, args.clock, device)
        for use in (False, True):
            rate = tokens.numel() / t[use]
            tflops = rate * flops_per_token(cfg, use) / 1e12
            share = f"{tflops / peak:.1%}" if peak else "n/a"
            print(f"| {preset} | {params / 1e6:.1f}M | {'on' if use else 'off'} | {rate:,.0f} | {tflops:.3g} | {share} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default="rules,batched",
                    help="Which tables: rules, batched, calls, flops (comma-separated).")
    ap.add_argument("--tokens", type=int, default=65536, help="Tokens per measurement (per batch for the streams).")
    ap.add_argument("--batch", type=int, default=1, help="Streams in lockstep in the rules and flops tables.")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Override a config field.")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: the calling thread's CPU time (CPU runs only), for a busy machine.")
    ap.add_argument("--streams", type=int, default=8, help="Streams of the batched table.")
    ap.add_argument("--doc-tokens", type=int, default=None,
                    help="Batched table: feed each stream as documents of this many tokens (default: one call).")
    ap.add_argument("--batch-chunk", type=int, default=16,
                    help="Batched table: segments per stream in one call of the batched variants (chunk_segments).")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    ap.add_argument("--flops-presets", default="small,base", help="Presets of the flops table.")
    ap.add_argument("--peak-tflops", type=float, default=None, help="The device's bf16 peak, if not in the list.")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    try:
        model_precision = precision(args.device, args.dtype)
    except DocqaError as e:
        raise SystemExit(f"error: {e}") from None
    tables = args.tables.split(",")
    if not set(tables) <= {"rules", "batched", "calls", "flops"}:
        raise SystemExit(f"error: --tables {args.tables}: choose from rules, batched, calls, flops")
    cfg_of = lambda **kw: ModelConfig.from_name(args.preset, **{**kw, **parse_sets(args.set)})  # noqa: E731
    cfg = cfg_of()
    print(f"ingest throughput, preset {' '.join([args.preset, *args.set])} (d_head {cfg.d_head}, segment "
          f"{cfg.segment_len}), {args.tokens} tokens, {args.threads} thread(s), {args.device} {args.dtype}, "
          f"best of {args.repeats}, {args.clock} clock\n")
    with model_precision, torch.no_grad():
        tokens = torch.randint(0, 256, (args.batch, args.tokens // args.batch), device=device)
        if "rules" in tables:
            rules_table(args, cfg_of, tokens, device)
            print()
        if "batched" in tables:
            batched_table(args, cfg, torch.randint(0, 256, (1, args.tokens), device=device), device)
            print()
        if "calls" in tables:
            calls_table(args, cfg, device)
            print()
        if "flops" in tables:
            flops_table(args, tokens, device)


if __name__ == "__main__":
    main()

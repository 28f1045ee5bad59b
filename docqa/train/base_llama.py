"""A small full-attention Llama trained from scratch: the stand-in for a pretrained checkpoint.

    python -m docqa.train.base_llama OUT [--minutes 25] [--steps 4000] [--tiny]

Issue 11 asks to prove the retrofit recipe (convert, train the memory, bench recall) on a
checkpoint the tests did not build. No pretrained model may be downloaded here, so this trains
one with plain `transformers` (LlamaForCausalLM, attention over the whole 256-token context, no
memory anywhere) and writes it with `save_pretrained`, exactly as a user's local checkpoint looks:
config.json, model.safetensors, tokenizer.json (docqa's BPE, checkpoints/bpe-p4) and a
tokenizer_config.json for transformers' own loader.

The text is docqa.train.corpus (the standard library, man pages, Debian's docs; never
site-packages, never a download). Every `heldout_every`-th text is kept out of training and
saved as OUT/heldout.safetensors, for the in-segment loss of base and retrofitted models.
A quarter of the sequences are in-context question documents (a needle, then its question,
inside the 256 tokens) laid out as docqa asks them: a pretrained LLM can already answer from
its context; the retrofit is to teach it to answer from its memory.

OUT/run holds the resumable state (model, optimizer, step); OUT/base is the checkpoint,
written once at the end; OUT/run/filler.safetensors holds the training text's pools for
`docqa train` (docqa.train.tasks.Filler), so the memory trains on the same text.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from docqa.errors import ConfigError
from docqa.model.config import from_known_fields
from docqa.model.tokenizer import load_tokenizer
from docqa.threads import set_threads
from docqa.train.corpus import describe, load_texts
from docqa.train.loop import load_optimizer
from docqa.train.tasks import Filler, sample_task

DEFAULT_TOKENIZER = Path(__file__).resolve().parents[2] / "checkpoints" / "bpe-p4" / "tokenizer.json"
QA_TASKS = ("passkey", "needle", "facts")


@dataclass
class BaseConfig:
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 4  # no GQA: a converted model keeps one memory per KV head, more heads hold more
    intermediate: int = 384  # SwiGLU, 3x hidden
    context: int = 256
    batch: int = 8
    steps: int = 1500  # the schedule's length: ~25 min at ~2,000 tokens/s (one busy CPU thread)
    lr: float = 3e-3  # a 2M-parameter model tolerates a high rate; warmup keeps the start stable
    warmup: int = 100
    weight_decay: float = 0.1
    qa_fraction: float = 0.25  # share of sequences that are in-context question documents
    # share of sequences with a span of the text repeated later (copy_document): the cheapest
    # signal for a copying (induction) head, which a real pretrained LLM has and this one lacked
    copy_fraction: float = 0.0
    max_files: int = 600  # per corpus source: ~4.7M tokens, about one pass at the default budget
    heldout_every: int = 50  # every 50th text is held out (never trained on)
    save_every: int = 100
    # weight of the answer tokens' mean loss, added to the next-token loss (a handful of answer
    # tokens in 256 are otherwise too few for in-context recall to be learned: docs/retrofit.md)
    answer_weight: float = 0.0
    init_from: str | None = None  # a checkpoint (save_pretrained) to continue from, with a new schedule
    tokenizer: str = str(DEFAULT_TOKENIZER)
    seed: int = 0
    threads: int = 1

    @classmethod
    def from_dict(cls, d: dict) -> BaseConfig:
        return from_known_fields(cls, d, "base config")


TINY = dict(hidden=32, layers=2, heads=2, kv_heads=2, intermediate=64, context=128, batch=2, steps=3,
            warmup=1, max_files=3, heldout_every=4, save_every=2)


def make_lm(cfg: BaseConfig, vocab_size: int, eos_id: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=vocab_size, hidden_size=cfg.hidden, intermediate_size=cfg.intermediate,
                         num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads,
                         num_key_value_heads=cfg.kv_heads, max_position_embeddings=cfg.context,
                         tie_word_embeddings=True, bos_token_id=None, eos_token_id=eos_id, pad_token_id=None)
    config.architectures = ["LlamaForCausalLM"]
    return LlamaForCausalLM(config)


def write_tokenizer(src: Path, out: Path, context: int) -> None:
    """tokenizer.json (what docqa convert reads) and tokenizer_config.json (what transformers'
    AutoTokenizer reads beside it)."""
    shutil.copyfile(src, out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|end|>", "model_max_length": context,
        "clean_up_tokenization_spaces": False}, indent=2) + "\n")


def split_texts(tok, max_files: int, heldout_every: int) -> tuple[Filler, torch.Tensor, dict]:
    """Training pools (a Filler over the kept texts) and the held-out texts' tokens, one stream."""
    texts = load_texts(max_files=max_files)
    if len(texts) < 2:
        raise ConfigError("fewer than two training texts found on this machine: nothing to train on")
    held = [t for i, t in enumerate(texts) if i % heldout_every == heldout_every - 1]
    kept = [t for i, t in enumerate(texts) if i % heldout_every != heldout_every - 1]
    filler = Filler(tok, code_fraction=0.4, prose_fraction=0.5, texts=kept)
    heldout = torch.tensor([i for ids in tok.encode_batch([t.text + "\n\n" for t in held]) for i in ids],
                           dtype=torch.int32)
    return filler, heldout, {"train": describe(kept), "heldout": describe(held)}


def copy_document(rng: random.Random, window: list[int]) -> tuple[list[int], list[bool]]:
    """`window` with a span of it (8 to a sixth of its length) written again further on; the
    answers are the repeat's tokens after its first, which only a look back at the span predicts.

    This is the repeated-sequence data on which small transformers grow induction heads
    (Olsson et al. 2022), cut from real text so the rest of the window stays language."""
    n = len(window)
    length = rng.randint(8, max(8, n // 6))
    src = rng.randint(0, n // 2 - length)
    dst = rng.randint(src + length + 8, n - length)
    tokens = window[:dst] + window[src:src + length] + window[dst + length:]
    answers = [False] * n
    for i in range(dst + 1, dst + length):
        answers[i] = True
    return tokens, answers


def make_batch(tok, rng: random.Random, filler: Filler, cfg: BaseConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, context) token ids: windows of real text, in-context question documents and
    copy documents; and where the answers are (True on answer tokens)."""
    rows, answers = [], []
    for _ in range(cfg.batch):
        kind = rng.random()
        if kind < cfg.copy_fraction:
            tokens, marked = copy_document(rng, filler.tokens(rng, cfg.context))
            rows.append(tokens)
            answers.append(marked)
        elif kind < cfg.copy_fraction + cfg.qa_fraction:
            S = rng.choice([cfg.context // 4, cfg.context // 2])  # the needle one or more S-blocks back
            doc = sample_task(tok, rng, filler, cfg.context, S, rng.choice(QA_TASKS), max_facts=4)
            rows.append(doc.tokens[:cfg.context])
            answers.append(doc.target[:cfg.context])
        else:
            rows.append(filler.tokens(rng, cfg.context))
            answers.append([False] * cfg.context)
    return torch.tensor(rows), torch.tensor(answers)


def batch_loss(lm, x: torch.Tensor, answers: torch.Tensor, answer_weight: float) -> torch.Tensor:
    """Mean next-token loss, plus answer_weight times the answer tokens' mean loss."""
    logits = lm(x).logits[:, :-1].float()
    ce = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten(), reduction="none").view(x.shape[0], -1)
    a = answers[:, 1:]
    if answer_weight and a.any():
        return ce.mean() + answer_weight * ce[a].mean()
    return ce.mean()


@torch.no_grad()
def in_context_passkey(lm, tok, context: int, n: int = 20, seed: int = 0) -> float:
    """Exact match (teacher-forced, greedy) of passkeys asked in the same context as the needle,
    on the simple filler: what a pretrained model can do before it has a memory."""
    filler, right = Filler(tok), 0
    for i in range(n):
        doc = sample_task(tok, random.Random(f"{seed}:in-context:{i}"), filler, context, context // 2, "passkey")
        x, a = torch.tensor(doc.tokens)[None], torch.tensor(doc.target[1:])
        pred = lm(x).logits[0, :-1].argmax(-1)
        right += bool((pred[a] == x[0, 1:][a]).all())
    return right / n


def lr_at(step: int, cfg: BaseConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def _save_state(run: Path, lm, opt, state: dict) -> None:
    tmp = run / "tmp-state"
    shutil.rmtree(tmp, ignore_errors=True)
    lm.save_pretrained(tmp / "model")
    sd = opt.state_dict()
    flat = {f"{i}.{k}": (v if torch.is_tensor(v) else torch.tensor(v)).contiguous()
            for i, st in sd["state"].items() for k, v in st.items()}
    save_file(flat, str(tmp / "optimizer.safetensors"), metadata={"param_groups": json.dumps(sd["param_groups"])})
    (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    live = run / "state"
    shutil.rmtree(run / "state.old", ignore_errors=True)
    if live.exists():  # swapped whole: a crash leaves `state` or `state.old`
        live.rename(run / "state.old")
    tmp.rename(live)
    shutil.rmtree(run / "state.old", ignore_errors=True)


@torch.no_grad()
def window_loss(lm, tokens: torch.Tensor, window: int, batch: int = 16) -> float:
    """Mean next-token loss of the plain checkpoint over consecutive `window`-token windows, each
    read on its own (predictions inside a window only)."""
    n = tokens.numel() // window
    x = tokens[:n * window].long().view(n, window)
    total, count = 0.0, 0
    for i in range(0, n, batch):
        logits = lm(x[i:i + batch]).logits[:, :-1].float()
        total += float(F.cross_entropy(logits.flatten(0, 1), x[i:i + batch, 1:].flatten(), reduction="sum"))
        count += logits.shape[0] * logits.shape[1]
    return total / count


def train_base(out: Path, cfg: BaseConfig, minutes: float | None = None, on_log=None) -> dict:
    """Train (or resume) the base model in OUT/run; write the checkpoint OUT/base when done."""
    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # library code does not print; on_log reports progress
    run, base = out / "run", out / "base"
    run.mkdir(parents=True, exist_ok=True)
    set_threads(cfg.threads)
    tok = load_tokenizer(Path(cfg.tokenizer))
    pools, held = run / "filler.safetensors", out / "heldout.safetensors"
    if pools.exists() and held.exists():
        filler = Filler.load(pools, tok)
    else:
        filler, heldout, text = split_texts(tok, cfg.max_files, cfg.heldout_every)
        filler.save(pools)
        save_file({"tokens": heldout}, str(held))
        (out / "text.json").write_text(json.dumps(text, indent=2) + "\n")
    filler.code_fraction, filler.prose_fraction = 0.4, 0.5  # the rest: the simple filler of the passkey bench
    if (run / "state" / "state.json").exists():
        state = json.loads((run / "state" / "state.json").read_text())
        cfg = BaseConfig.from_dict({**state["config"], "steps": cfg.steps})  # a resume may lengthen the run
        state["config"] = asdict(cfg)
        lm = LlamaForCausalLM.from_pretrained(run / "state" / "model", dtype=torch.float32)
    else:
        torch.manual_seed(cfg.seed)
        lm = (LlamaForCausalLM.from_pretrained(cfg.init_from, dtype=torch.float32) if cfg.init_from
              else make_lm(cfg, tok.vocab_size, tok.special_tokens["<|end|>"]))
        state = {"step": 0, "tokens": 0, "elapsed": 0.0, "config": asdict(cfg)}
    decay = [p for p in lm.parameters() if p.dim() == 2]
    rest = [p for p in lm.parameters() if p.dim() < 2]  # norms: no weight decay
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    if (run / "state" / "optimizer.safetensors").exists():
        load_optimizer(opt, run / "state" / "optimizer.safetensors")
    lm.train()
    t0, start = time.time(), state["elapsed"]
    probe = None  # (step, in-context passkey) of the last save, which the summary reuses
    with (run / "log.jsonl").open("a") as log:
        while state["step"] < cfg.steps:
            rng = random.Random(f"{cfg.seed}:{state['step']}")  # a resume replays the same batches
            x, answers = make_batch(tok, rng, filler, cfg)
            for g in opt.param_groups:
                g["lr"] = lr_at(state["step"], cfg)
            loss = batch_loss(lm, x, answers, cfg.answer_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
            opt.step()
            state["step"] += 1
            state["tokens"] += x.numel()
            state["elapsed"] = start + time.time() - t0
            entry = {"step": state["step"], "loss": round(float(loss.detach()), 4), "tokens": state["tokens"],
                     "elapsed": round(state["elapsed"], 1)}
            log.write(json.dumps(entry) + "\n")
            log.flush()
            if on_log:
                on_log(entry)
            timed_out = minutes is not None and time.time() - t0 > minutes * 60
            if state["step"] % cfg.save_every == 0 or state["step"] >= cfg.steps or timed_out:
                _save_state(run, lm, opt, state)
                if on_log:  # is copying from the context being learned yet (20 short forwards)
                    lm.eval()
                    probe = (state["step"], in_context_passkey(lm, tok, cfg.context))
                    on_log({"step": state["step"], "in_context_passkey": probe[1]})
                    lm.train()
            if timed_out:
                break
    if state["step"] >= cfg.steps or minutes is not None:
        lm.eval()
        heldout = load_file(str(held))["tokens"]
        state["heldout_loss"] = round(window_loss(lm, heldout, cfg.context), 4)
        state["in_context_passkey"] = (probe[1] if probe and probe[0] == state["step"]
                                       else in_context_passkey(lm, tok, cfg.context))
        state["parameters"] = sum(p.numel() for p in lm.parameters())
        state["tokens_per_s"] = round(state["tokens"] / max(state["elapsed"], 1e-9))
        shutil.rmtree(base, ignore_errors=True)
        lm.save_pretrained(base)  # safetensors: transformers' default
        write_tokenizer(Path(cfg.tokenizer), base, cfg.context)
        (out / "base.json").write_text(json.dumps(state, indent=2) + "\n")
    return state


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train a small full-attention Llama from scratch (a stand-in "
                                             "for a pretrained checkpoint); writes OUT/base.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--minutes", type=float, default=None, help="stop after this long and write OUT/base")
    ap.add_argument("--steps", type=int, default=None, help="length of the schedule (default 1500)")
    ap.add_argument("--tiny", action="store_true", help="a tiny model for a few steps: the CPU check")
    a = ap.parse_args(argv)
    fields = {**(TINY if a.tiny else {}), **({"steps": a.steps} if a.steps else {})}
    state = train_base(a.out, BaseConfig(**fields), a.minutes,
                       on_log=lambda e: print(json.dumps(e), file=sys.stderr) if e["step"] % 50 == 0 else None)
    print(json.dumps({k: v for k, v in state.items() if k != "config"}, indent=2))


if __name__ == "__main__":
    main()

"""Which layer's memory loses the pass key among many short files, and which writes put it there.

For the sources bench's first trials (`docqa bench sources`: the pass key in document k of N files
of the model's own filler, each behind its header), streams the files as ingest does and prints:

- the answer, and the answer with each layer's memory zeroed at the question (a layer whose
  knockout turns a wrong answer right holds what misleads the read);
- per layer, the strongest write after the needle (the write strength beta, under the model's
  write gate), with its place in its segment and the text before it.

    python benchmarks/bench_sources_layers.py --model DIR [--trials 10] [--n-docs 100]

A diagnostic of the mechanism, not a recall figure: the bench's own numbers come from
`docqa bench sources`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from docqa.answer import AnswerStream
from docqa.bench.sources import PASSKEY_FORMS, QUESTION, doc_name, draw_trial, hide
from docqa.ingest import documents
from docqa.model.center import memory_projections
from docqa.model.io import load_model
from docqa.prompt import documents_tokens, question_tokens
from docqa.threads import set_threads


def trial_stream(tok, n_docs: int, i: int) -> tuple[list[int], int, str]:
    """The token stream of the bench's trial i (its seed), where its key starts, and the key."""
    texts, k, key = draw_trial(n_docs, i, needle=True)  # the bench's own trial i
    with tempfile.TemporaryDirectory() as d:
        for j, t in enumerate(texts):
            (Path(d) / doc_name(j)).write_text(hide(t, PASSKEY_FORMS[0][0].format(v=key)) if j == k else t)
        per_doc = documents_tokens(tok, list(documents([d])))
    stream = [t for ts in per_doc for t in ts]
    kt = tok.encode(key)
    before = sum(len(ts) for ts in per_doc[:k])
    at = before + next(j for j in range(len(per_doc[k])) if per_doc[k][j:j + len(kt)] == kt)
    return stream, at, key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--n-docs", type=int, default=100)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    lm = load_model(args.model)
    tok, S, n_layer = lm.tokenizer, lm.config.segment_len, lm.config.n_layer
    prompt = question_tokens(tok, QUESTION)
    print(f"model {lm.name}, {args.n_docs} files of 256 bytes\n")
    print("| trial | key | answer | " + " | ".join(f"memory {l} zeroed" for l in range(n_layer)) + " | "
          + " | ".join(f"layer {l}: strongest write after the needle (beta, place in segment)" for l in range(n_layer))
          + " |")
    print("|---" * (3 + 2 * n_layer) + "|")
    for i in range(args.trials):
        stream, at, key = trial_stream(tok, args.n_docs, i)
        with torch.no_grad():
            memory = lm.model.ingest(torch.tensor([stream], device=lm.model.device), lm.model.new_memory(1))
            # the write strengths as ingest writes them: each layer's gate applied segment by segment
            writes = memory_projections(lm.model, torch.tensor([stream], device=lm.model.device))
        past = at + len(tok.encode(PASSKEY_FORMS[0][0].format(v=key)))  # past the needle's sentences
        answers = [AnswerStream(lm, memory, prompt, max_tokens=len(key) + 4).run()]
        for layer in range(n_layer):
            answers.append(AnswerStream(lm, memory.knocked_out(layer), prompt, max_tokens=len(key) + 4).run())
        strongest = []
        for _q, _k, gated in writes:
            after = gated[0, :, past:]
            h, p = divmod(int(after.argmax()), after.shape[1])
            p += past
            before = tok.decode(stream[max(0, p - 4):p]).replace("\n", "\\n").replace("|", "\\|")
            strongest.append(f"{float(gated[0, h, p]):.2f} at {p % S}: …{before}[{tok.decode([stream[p]])}]")
        print(f"| {i} | {key} | " + " | ".join(repr(a) for a in answers) + " | " + " | ".join(strongest) + " |")


if __name__ == "__main__":
    main()

"""Train the BPE tokenizer on the training text (docqa.train.corpus) and save tokenizer.json.

    python -m docqa.train.vocab OUT.json [--vocab-size 8192] [--max-files 1500]

Each text contributes at most its first 20,000 characters, so no single large file (one long
man page, one big module) dominates the merges. Same machine, same text, same file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from docqa.model.tokenizer import BPETokenizer
from docqa.train.corpus import load_texts


def train_vocab(out: Path, vocab_size: int = 8192, max_files: int = 1500) -> BPETokenizer:
    texts = load_texts(max_files=max_files)
    tok = BPETokenizer.train((t.text[:20_000] for t in texts), vocab_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(out)
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--max-files", type=int, default=1500)
    args = ap.parse_args()
    tok = train_vocab(args.out, args.vocab_size, args.max_files)
    print(f"{args.out}: {tok.vocab_size} tokens")


if __name__ == "__main__":
    main()

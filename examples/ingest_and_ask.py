"""Ingest a small folder into a corpus memory, then ask it a question.

    python examples/ingest_and_ask.py                       # the shipped model
    python examples/ingest_and_ask.py --model runs/x/model  # a model directory of your own
    python examples/ingest_and_ask.py --keep ./example-docs # keep the folder it writes

The example writes a few files (notes, markdown, code) to a folder, reads them into the
compressive memory of a corpus in a temporary store (never your own store), and asks a
question whose answer is in one of them. There is no retrieval step and no vector store: the
answer is generated from the memory the model wrote while it read the files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from docqa import Corpus
from docqa.errors import DocqaError

# The shipped model is trained on facts phrased like this one, and on questions like QUESTION.
FILES = {
    "notes/todo.txt": "Buy milk.\nCall the plumber about the kitchen sink.\nWater the plants on Friday.\n",
    "notes/vault.txt": "The pass key is 48213. Remember it. 48213 is the pass key.\n",
    "README.md": "# Garden tools\n\nA tiny library that tracks when each plant was last watered.\n",
    "garden/water.py": (
        "def needs_water(days_since: int, thirsty: bool) -> bool:\n"
        "    return days_since >= (1 if thirsty else 3)\n"
    ),
}
QUESTION = "What is the pass key?"
EXPECTED = "48213"


def write_folder(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model directory (default: the shipped model)")
    parser.add_argument("--keep", metavar="DIR", help="write the example files into DIR and keep them there")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / "docs"
        write_folder(folder)

        # A corpus is a name in a store; the store here is a throwaway SQLite file.
        corpus = Corpus("example", db=Path(tmp) / "docqa.db", model=args.model, device="cpu")
        try:
            # Each file streams through the model once; the memory is saved as a snapshot.
            report = corpus.ingest(str(folder))
            # The question runs as the next segment over that memory, which stays unchanged.
            answer = corpus.ask(args.question, max_tokens=args.max_tokens)
        except DocqaError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    print(f"files:     {report.ingested} ingested, {len(report.skipped)} skipped"
          + (f", kept in {folder}" if args.keep else ""))
    print(f"ingest:    {report.tokens} tokens in {report.seconds:.2f} s "
          f"({report.tokens / report.seconds:,.0f} tokens/s), snapshot {report.snapshot_bytes:,} bytes")
    print(f"question:  {args.question}")
    print(f"answer:    {answer.text.strip()}")
    first = f"{answer.first_token_s * 1000:.0f} ms" if answer.first_token_s is not None else "-"
    print(f"timings:   first token {first}, total {answer.total_s * 1000:.0f} ms "
          f"({answer.prompt_tokens} prompt tokens, {answer.answer_tokens} answer tokens)")
    if args.question == QUESTION and EXPECTED not in answer.text:
        print(f"note:      the answer should contain {EXPECTED}; an untrained model will not know it")
    return 0


if __name__ == "__main__":
    sys.exit(main())

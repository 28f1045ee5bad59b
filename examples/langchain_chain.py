"""docqa in a LangChain LCEL chain: prompt | ChatDocQA | parser, with the answer streamed.

    pip install -e '.[langchain]'    # from a clone (the distribution is infini-docqa)
    python examples/langchain_chain.py                      # the shipped model
    python examples/langchain_chain.py --model runs/x/model  # a model directory of your own

It writes three small files to a temporary folder, ingests them into a corpus in a temporary
store, and asks a question about them. The answer comes from the corpus's compressive memory:
there is no retrieval step and no vector store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from docqa import DEFAULT_MAX_TOKENS, Corpus
from docqa.errors import DocqaError
from docqa.integrations.langchain import ChatDocQA

# The shipped model is trained to store and retrieve facts like the pass key below; it is not a
# general language model, so ask it for such a fact (see docqa/models/default/MODEL.md).
DOCS = {
    "cache.md": "# Cache\n\nThe cache is invalidated whenever a source file's mtime changes.\n",
    "vault.md": "# Vault\n\nThe pass key is 30417. Remember it. 30417 is the pass key.\n",
    "deploy.md": "# Deploys\n\nDeploys happen on Tuesdays after the test suite passes.\n",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model directory (default: the shipped model)")
    parser.add_argument("--question", default="What is the pass key?")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for name, text in DOCS.items():
            (docs / name).write_text(text, encoding="utf-8")
        db = Path(tmp) / "docqa.db"
        try:
            Corpus("example", db=db, model=args.model).ingest(str(docs))
            prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
            model = ChatDocQA(corpus="example", db=str(db), model=args.model, max_tokens=args.max_tokens)
            chain = prompt | model | StrOutputParser()
            for piece in chain.stream({"question": args.question}):
                print(piece, end="", flush=True)
            print()
        except DocqaError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

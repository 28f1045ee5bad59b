from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from docqa.api import Corpus
from docqa.model.config import ModelConfig
from docqa.model.io import save_model
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer

DOCS = {
    "cache.txt": "The cache is invalidated whenever the source file's mtime changes.\n",
    "auth.txt": "Passwords are stored as salted scrypt hashes, never in plain text.\n",
    "notes.md": "# Notes\n\nDeploys happen on Tuesdays. Caf\u00e9 opening hours: 8 to 4.\n",
}


@dataclass(frozen=True)
class TinyCorpus:
    name: str
    db: Path
    model: Path

    def params(self, **extra) -> dict:
        """ChatDocQA parameters; max_tokens stays small so that the suites stay fast."""
        return {"corpus": self.name, "db": str(self.db), "model": str(self.model), "max_tokens": 8, **extra}

    def api(self) -> Corpus:
        return Corpus(self.name, db=self.db, model=self.model)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> TinyCorpus:
    """An untrained test-size model and a corpus ingested from three small files, built once."""
    root = tmp_path_factory.mktemp("langchain")
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", segment_len=64))
    with torch.no_grad():
        # Untrained, the tied special-token embeddings win the argmax: greedy answers would be
        # empty (<|end|> first) or echo <|answer|>. Shrunk, the answers are plain bytes.
        model.emb.weight[256:] *= 0.1
    save_model(model, ByteTokenizer(), root / "model")
    (root / "docs").mkdir()
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text * 4, encoding="utf-8")
    corpus = TinyCorpus("tiny", root / "store.db", root / "model")
    corpus.api().ingest(str(root / "docs"))
    return corpus

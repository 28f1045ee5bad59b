"""docqa: document question answering through Infini-attention compressive memory.

    from docqa import Corpus
    corpus = Corpus("notes")
    corpus.ingest("./notes")
    print(corpus.ask("What is the pass key?").text)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docqa.answer import AnswerStream
    from docqa.api import Answer, Corpus
    from docqa.attribution import Attribution, Source
    from docqa.ingest import IngestOptions, IngestReport
    from docqa.model.io import load_model
    from docqa.prompt import DEFAULT_MAX_TOKENS, load_template
    from docqa.store.names import validate_corpus_name

# Each name loads its module (and torch) on first use, so that `docqa --help`, `docqa corpora`
# and anything else that runs no model start without the ~2 s of importing torch.
_HOMES = {"Answer": "docqa.api", "AnswerStream": "docqa.answer", "Attribution": "docqa.attribution",
          "Corpus": "docqa.api", "Source": "docqa.attribution",
          "DEFAULT_MAX_TOKENS": "docqa.prompt", "IngestOptions": "docqa.ingest", "IngestReport": "docqa.ingest",
          "load_model": "docqa.model.io", "load_template": "docqa.prompt",
          "validate_corpus_name": "docqa.store.names"}

__all__ = ["DEFAULT_MAX_TOKENS", "Answer", "AnswerStream", "Attribution", "Corpus", "IngestOptions", "IngestReport",
           "Source", "load_model", "load_template", "validate_corpus_name"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'docqa' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

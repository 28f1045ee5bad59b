"""docqa: document question answering through Infini-attention compressive memory.

    from docqa import Corpus
    corpus = Corpus("notes")
    corpus.ingest("./notes")
    print(corpus.ask("What is the pass key?").text)
"""

from docqa.api import Answer, Corpus
from docqa.ingest import IngestOptions, IngestReport
from docqa.model.io import load_model

__all__ = ["Answer", "Corpus", "IngestOptions", "IngestReport", "load_model"]

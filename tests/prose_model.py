"""A tiny random BPE model and a folder of plain prose for the benchmark scripts' tests: the
tokenizer knows the needles' phrasings, so statements and questions encode in a few tokens."""

from pathlib import Path

import torch

from docqa.bench.haystack import Haystack
from docqa.model.base import LoadedModel
from docqa.model.config import ModelConfig
from docqa.model.tokenizer import BPETokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.train import phrasings as ph

PROSE = ("The river winds through the valley, past mills and quiet farms.\n"
         "Each spring the water rises and the ferry stops for a week.\n")


def tiny_prose_lm() -> LoadedModel:
    tok = BPETokenizer.train([PROSE * 3 + " ".join(ph.STATEMENTS + ph.QUESTIONS + ph.SUBJECTS)], vocab_size=400)
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", vocab_size=tok.vocab_size, segment_len=16)).eval()
    return LoadedModel(model, tok, model.cfg, "0" * 64, Path("."))


def prose_haystack(lm: LoadedModel, folder: Path) -> Haystack:
    (folder / "prose.txt").write_text(PROSE * 40)
    return Haystack(lm, [str(folder / "prose.txt")])

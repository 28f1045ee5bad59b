"""Folders with the passkey hidden in one document, in the shipped model's own filler, as
`docqa bench sources` builds them: what the default model recalls, so attribution has a
source to find."""

import random

from docqa.bench.sources import doc_name, filler_texts, hide
from docqa.train.tasks import SIMPLE_FILLER

KEY = "58206"
NEEDLE = f"The pass key is {KEY}. Remember it. {KEY} is the pass key. "
QUESTION = "What is the pass key?"


def doc_bytes(lm, segments: float = 4) -> int:
    """Bytes of the filler that make about `segments` of the model's segments (256 for the byte
    model's 64-token segments), so a test lays out the same stream of segments for any tokenizer."""
    sample = SIMPLE_FILLER * 40
    return round(segments * lm.config.segment_len * len(sample.encode()) / len(lm.tokenizer.encode(sample)))


def needle_folder(root, k: int | None, n: int = 12, seed: int = 5, size: int = 256):
    """n documents of `size` bytes (doc-aaaa.txt, doc-aaab.txt, ...), the needle in document k."""
    root.mkdir(parents=True)
    for i, text in enumerate(filler_texts(size, random.Random(seed), n)):
        (root / doc_name(i)).write_text(hide(text, NEEDLE) if i == k else text, encoding="utf-8")
    return root

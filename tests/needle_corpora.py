"""Folders with the passkey hidden in one document, in the shipped model's own filler, as
`docqa bench sources` builds them: what the default model recalls, so attribution has a
source to find."""

import random

from docqa.bench.sources import doc_name, filler_texts, hide

KEY = "58206"
NEEDLE = f"The pass key is {KEY}. Remember it. {KEY} is the pass key. "
QUESTION = "What is the pass key?"


def needle_folder(root, k: int | None, n: int = 12, seed: int = 5):
    """n documents of 256 bytes (doc-aaaa.txt, doc-aaab.txt, ...), the needle in document k."""
    root.mkdir(parents=True)
    for i, text in enumerate(filler_texts(256, random.Random(seed), n)):
        (root / doc_name(i)).write_text(hide(text, NEEDLE) if i == k else text, encoding="utf-8")
    return root

"""Corpus names: validated once, at creation, so every stored name is safe anywhere.

Names end up in file names (exports), URLs and shell commands, not only in SQL (which is
always parameterised), so the rule is a strict allow-list rather than a list of bad characters.
"""

from __future__ import annotations

import re

from docqa.errors import InvalidCorpusName

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RULE = "use 1 to 64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"


def validate_corpus_name(name: object) -> str:
    """Return `name` unchanged if it is a valid corpus name, else raise InvalidCorpusName."""
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        shown = name if not isinstance(name, str) or len(name) <= 80 else name[:77] + "..."
        raise InvalidCorpusName(f"invalid corpus name {shown!r}: {RULE}")
    return name

"""Session fixtures for the tests of docqa/model/hf.py: tiny checkpoints (hf_checkpoints.py)
and their conversions, each built once."""

from __future__ import annotations

import pytest
from hf_checkpoints import tiny_checkpoint


@pytest.fixture(scope="session")
def hf_checkpoint(tmp_path_factory):
    """arch -> a saved tiny checkpoint directory (built once per session)."""
    pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")
    built = {}

    def get(arch: str):
        if arch not in built:
            built[arch] = tiny_checkpoint(tmp_path_factory.mktemp(f"hf-{arch}"), arch)
        return built[arch]
    return get


@pytest.fixture(scope="session")
def converted(hf_checkpoint, tmp_path_factory):
    """(arch, segment_len) -> a converted model directory (built once per session)."""
    from docqa.model.hf import convert

    built = {}

    def get(arch: str, segment_len: int = 8):
        if (arch, segment_len) not in built:
            out = tmp_path_factory.mktemp(f"docqa-{arch}-{segment_len}") / "model"
            convert(hf_checkpoint(arch), out, segment_len=segment_len)
            built[arch, segment_len] = out
        return built[arch, segment_len]
    return get

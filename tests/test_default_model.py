"""The shipped model recalls through its memory, and fails when the memory is knocked out.

The needle always ends before the question's segment, so local attention cannot see it. The
full table (to 16K tokens and beyond) is `docqa bench recall`; this is the fast regression
guard, fixed seeds, on CPU.
"""

import pytest
import torch

from docqa.bench.recall import DEPTHS, run_cell
from docqa.model.io import load_model


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return load_model()


@pytest.mark.parametrize("depth", ["start", "middle", "end"])
def test_passkey_recalled_through_memory_at_2k_tokens(lm, depth):
    r = run_cell(lm, "passkey", 2048, DEPTHS[depth], n=10, seed=123)
    assert r["exact"] >= 0.8, r
    assert r["knockout_exact"] <= 0.1, r


def test_shipped_model_is_the_documented_configuration(lm):
    c = lm.config
    assert (c.feature_map, c.update, c.write_strength, c.segment_len) == ("l2", "token_delta", True, 128)
    assert (c.n_layer, c.n_head, c.d_model, c.short_conv, c.memory_decay) == (4, 2, 128, 8, 1.0)
    # a subword vocabulary: the byte model's 260 ids are not enough to hold a digit group
    assert lm.tokenizer.vocab_size == c.vocab_size > 1000 and lm.tokenizer.decode(lm.tokenizer.encode("pass key 58206")) == "pass key 58206"
    gates = torch.cat([torch.sigmoid(b.attn.gate) for b in lm.model.blocks])
    assert gates.max() > 0.6, "at least one head leans on memory (gates stuck at 0.5 would mean it learned nothing)"


def test_every_former_default_is_in_the_repository_under_its_fingerprint(lm):
    from pathlib import Path

    from docqa.models import FORMER_DEFAULTS

    root = Path(__file__).resolve().parents[1]
    for fp, path in FORMER_DEFAULTS.items():
        assert load_model(root / path).fingerprint == fp, path
    assert lm.fingerprint not in FORMER_DEFAULTS and "checkpoints/bpe-a63-l1t02" in FORMER_DEFAULTS.values()

"""benchmarks/bench_needle_context.py: the memories a needle is written into, and the keys and
write strengths it reports, against the model's own projections of the whole stream."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from docqa.model.center import memory_projections

from by_path import benchmark
from prose_model import prose_haystack, tiny_prose_lm


@pytest.fixture(scope="module")
def lm():
    return tiny_prose_lm()


@pytest.fixture()
def cases(lm, tmp_path):
    cases = benchmark("bench_needle_context").trials(lm, prose_haystack(lm, tmp_path), 3, 100, "heldout", 0)
    assert all(c[5] >= 0 for c in cases), "a value merged with its neighbour: pick another seed"
    return cases


def test_the_needle_starts_at_a_segment_boundary_and_every_trial_has_the_length(lm, cases):
    S = lm.config.segment_len
    for a, needle, b, question, answer, key_at in cases:
        assert len(a) == 100 // 2 // S * S and len(a + needle + b) == 100
        assert answer.split()[0][:2] in lm.tokenizer.decode(needle[key_at - 1:key_at + 2])


def test_each_variant_empties_the_layers_it_names_and_leaves_the_memory_after_a_alone(lm, cases):
    bench = benchmark("bench_needle_context")
    a_mem = lm.model.ingest(torch.tensor([c[0] for c in cases]), lm.model.new_memory(len(cases)))
    before = a_mem.clone()
    out = bench.variants(lm, a_mem)
    L = len(a_mem.layers)
    assert out["full"].equal(before)
    assert all(not l.M.any() for l in out["no A"].layers) and out["no A"].segments == before.segments
    for layer in range(L):
        for other in range(L):
            for part in ("M", "z"):
                kept = getattr(before.layers[other], part)
                zeroed = getattr(out[f"A zeroed in {layer}"].layers[other], part)
                only = getattr(out[f"only A in {layer}"].layers[other], part)
                assert torch.equal(zeroed, torch.zeros_like(kept) if other == layer else kept)
                assert torch.equal(only, kept if other == layer else torch.zeros_like(kept))
    assert a_mem.equal(before)  # no variant shares a tensor with the memory after A


def test_keys_and_write_strengths_are_those_of_the_needles_value_token(lm, cases):
    rows = benchmark("bench_needle_context").measure(lm, cases, batch=2)  # two batches: indices per batch
    full, no_a = [], []
    for a, needle, b, *_, key_at in cases:
        full.append([(p[1][0, :, len(a) + key_at], p[2][0, :, len(a) + key_at])
                     for p in memory_projections(lm.model, torch.tensor([a + needle + b]))])
        no_a.append([(p[1][0, :, key_at], p[2][0, :, key_at]) for p in memory_projections(lm.model, torch.tensor([needle + b]))])
    for layer in range(len(full[0])):
        beta = sum(float(t[layer][1].mean()) for t in full) / len(cases)
        cos = sum(float(F.cosine_similarity(f[layer][0], n[layer][0], dim=-1).mean()) for f, n in zip(full, no_a)) / len(cases)
        assert rows["full"]["beta"][layer] == pytest.approx(beta, abs=1e-5)
        assert rows["full"]["cos"][layer] == pytest.approx(cos, abs=1e-5)
        assert rows["no A"]["cos"][layer] == pytest.approx(1.0, abs=1e-5)
    assert rows["full"]["cos"][-1] < 1 - 1e-4  # the later layers' keys do see the memory of A
    assert all(r["n"] == len(cases) for r in rows.values())

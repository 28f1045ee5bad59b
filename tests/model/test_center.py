"""memory_center: fitting the memory's centres to text (docqa/model/center.py)."""

import pytest
import torch

from docqa.errors import ConfigError
from docqa.model.center import fit_memory_center, memory_projections
from docqa.model.config import ModelConfig
from docqa.model.transformer import InfiniTransformer


def model(**kw):
    torch.manual_seed(0)
    return InfiniTransformer(ModelConfig.from_name("test", segment_len=8, short_conv=3, **kw)).double()


def memory_qk(m, tokens):
    """Each layer's memory queries and keys (B, H, T, D) as the model computes them on `tokens`."""
    return [(q, k) for q, k, _ in memory_projections(m, tokens)]


def test_fitted_centres_leave_the_memory_queries_and_keys_with_zero_mean_in_every_layer():
    m = model(memory_center=True)
    tokens = torch.randint(0, 256, (2, 40))  # five segments, two streams
    before = memory_qk(m, tokens)
    assert min(k.mean((0, 2)).norm() for _, k in before) > 0.05  # something to remove
    fit_memory_center(m, tokens)
    for layer, (q, k) in enumerate(memory_qk(m, tokens)):
        torch.testing.assert_close(q.mean((0, 2)), torch.zeros_like(q[0, :, 0]), atol=1e-10, rtol=0, msg=str(layer))
        torch.testing.assert_close(k.mean((0, 2)), torch.zeros_like(k[0, :, 0]), atol=1e-10, rtol=0, msg=str(layer))


def test_a_refit_starts_from_zero_centres():
    m = model(memory_center=True)
    tokens = torch.randint(0, 256, (1, 24))
    fit_memory_center(m, tokens)
    first = [b.attn.mem_center.detach().clone() for b in m.blocks]
    with torch.no_grad():
        for b in m.blocks:
            b.attn.mem_center.normal_()
    fit_memory_center(m, tokens)
    for a, b in zip(first, m.blocks):
        torch.testing.assert_close(b.attn.mem_center.detach(), a, rtol=1e-12, atol=1e-12)


def test_local_attention_does_not_see_the_centres():
    """With the memory gated off, centring changes nothing; with it on, it changes the output."""
    plain, centred = model(), model(memory_center=True)
    centred.load_state_dict(plain.state_dict(), strict=False)
    tokens = torch.randint(0, 256, (1, 24))
    fit_memory_center(centred, tokens)
    with torch.no_grad():
        assert not torch.allclose(centred(tokens)[0], plain(tokens)[0])
        for m in (plain, centred):
            for b in m.blocks:
                b.attn.gate.fill_(-1e4)
        torch.testing.assert_close(centred(tokens)[0], plain(tokens)[0], rtol=1e-12, atol=1e-12)


def test_fitting_refuses_a_model_without_centres_and_too_little_text():
    with pytest.raises(ConfigError, match="memory_center=True"):
        fit_memory_center(model(), torch.randint(0, 256, (1, 24)))
    with pytest.raises(ConfigError, match="at least one segment"):
        fit_memory_center(model(memory_center=True), torch.randint(0, 256, (1, 7)))


def test_in_training_a_forward_centres_by_its_own_means_and_moves_the_stored_ones_towards_them():
    from docqa.model.infini import CENTER_MOMENTUM

    m = model(memory_center=True)
    tokens = torch.randint(0, 256, (2, 40))
    with torch.no_grad():
        for b in m.blocks:
            b.attn.mem_center.normal_(0.0, 1.0)
    stored = m.blocks[0].attn.mem_center.clone()
    m.eval()
    centred_by_stored = memory_qk(m, tokens)[0]
    x0 = m.emb(tokens)  # layer 0's input does not depend on any memory
    x0 = m.blocks[0].norm1(x0)
    with torch.no_grad():
        m.blocks[0].attn.mem_center.zero_()
        q, k, _ = m.blocks[0].attn.projections(x0)  # uncentred (B, H, T, D)
        m.blocks[0].attn.mem_center.copy_(stored)
    means = torch.stack([q.mean((0, 2)), k.mean((0, 2))])
    m.train()
    m(tokens)
    torch.testing.assert_close(m.blocks[0].attn.mem_center, torch.lerp(stored, means, CENTER_MOMENTUM))
    # and eval mode read the stored centres: q - stored, not q - mean
    torch.testing.assert_close(centred_by_stored[1], k - stored[1].unsqueeze(-2))


def test_whitening_inverts_the_regularised_covariance_and_is_symmetric():
    from docqa.model.infini import WHITEN_EPS, whitening

    a = torch.randn(3, 6, 6, dtype=torch.float64)
    cov = a @ a.transpose(-1, -2)
    W = whitening(cov)
    torch.testing.assert_close(W, W.transpose(-1, -2))
    eps = WHITEN_EPS * torch.linalg.eigvalsh(cov).mean(-1)
    reg = cov + eps.view(-1, 1, 1) * torch.eye(6, dtype=torch.float64)
    torch.testing.assert_close(W @ reg @ W, torch.eye(6, dtype=torch.float64).expand(3, 6, 6), rtol=0, atol=1e-9)


def test_fitted_whitening_leaves_the_memory_keys_uncorrelated_in_every_layer():
    m = model(memory_center=True, memory_whiten=True)
    tokens = torch.randint(0, 256, (2, 64))
    fit_memory_center(m, tokens)
    for layer, (q, k) in enumerate(memory_qk(m, tokens)):
        for t in (q, k):
            flat = t.transpose(0, 1).flatten(1, 2)  # (H, n, D)
            torch.testing.assert_close(flat.mean(1), torch.zeros_like(flat[:, 0]), atol=1e-9, rtol=0)
            ev = torch.linalg.eigvalsh(flat.transpose(-1, -2) @ flat / flat.shape[1])  # lam / (lam + eps)
            assert ev.max() <= 1 + 1e-9 and ev.mean() > 0.8, (layer, ev)


def test_whitening_needs_centring():
    with pytest.raises(ConfigError, match="memory_center=True"):
        ModelConfig.from_name("test", memory_whiten=True)

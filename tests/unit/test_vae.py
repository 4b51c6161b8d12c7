"""Tests for mlnotes.vae: Gaussian KL, reparameterization, the MLP VAE / AE and its training loop."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.distributions import Normal, kl_divergence

from mlnotes.vae import (MLPVAE, _simple_regularizer, decode_grid, evaluate, kl_std_normal, reparameterize,
                         train_vae)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-6, 4)), min_size=1, max_size=6))
def test_kl_matches_torch(pairs):
    mu = torch.tensor([p[0] for p in pairs], dtype=torch.float64)[None]
    log_var = torch.tensor([p[1] for p in pairs], dtype=torch.float64)[None]
    ref = kl_divergence(Normal(mu, torch.exp(0.5 * log_var)), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(kl_std_normal(mu, log_var), ref, atol=1e-10)


def test_kl_edges_and_simple_regularizer():
    zeros = torch.zeros(3, 2)
    assert torch.equal(kl_std_normal(zeros, zeros), torch.zeros(3))
    assert torch.equal(_simple_regularizer(zeros, zeros), torch.zeros(3))
    mu = torch.tensor([[1.0, 2.0]]); log_var = torch.log(torch.tensor([[4.0, 1.0]]))
    assert torch.allclose(_simple_regularizer(mu, log_var), torch.tensor([1 + 4 + 1.0]))


def test_reparameterize_moments_and_gradient():
    gen = torch.Generator().manual_seed(0)
    mu = torch.full((200_000, 1), 0.7, requires_grad=True)
    log_var = torch.full((200_000, 1), float(np.log(0.16)), requires_grad=True)
    z = reparameterize(mu, log_var, gen)
    assert abs(z.mean().item() - 0.7) < 0.01 and abs(z.std().item() - 0.4) < 0.01
    (z ** 2).sum().div(200_000).backward()
    assert abs(mu.grad.sum().item() - 1.4) < 0.01


def test_bad_inputs():
    with pytest.raises(TypeError, match="torch tensor"):
        kl_std_normal(np.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match=r"log_var must have shape mu.shape = \(2,\), got shape \(3,\)"):
        kl_std_normal(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match=r"log_var must have shape mu.shape = \(2,\), got shape \(1, 2\)"):
        reparameterize(torch.zeros(2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="non-empty"):
        reparameterize(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="d_latent must be"):
        MLPVAE(d_latent=0)
    model = MLPVAE()
    with pytest.raises(ValueError, match=r"x must have shape \(any, self.d_in\) with self.d_in = 64"):
        model.encode(torch.zeros(2, 10))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., self.d_latent\) with self.d_latent = 2"):
        model.decode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="regularizer"):
        model.loss(torch.zeros(2, 64), regularizer="l2")
    with pytest.raises(ValueError, match="beta"):
        model.loss(torch.zeros(2, 64), beta=-1)
    with pytest.raises(TypeError, match="MLPVAE"):
        train_vae(torch.nn.Linear(2, 2), torch.zeros(2, 64))
    with pytest.raises(ValueError, match="steps"):
        train_vae(model, torch.zeros(2, 64), steps=0)
    with pytest.raises(ValueError, match="2-D latent"):
        decode_grid(MLPVAE(d_latent=3))
    with pytest.raises(ValueError, match="steps must be >= 2"):
        decode_grid(model, steps=1)


def test_training_reduces_loss_and_ae_mode():
    gen = torch.Generator().manual_seed(0)
    X = (torch.rand(300, 64, generator=gen) < torch.linspace(0.05, 0.95, 64)).float()
    model = MLPVAE(seed=0)
    before = evaluate(model, X)
    hist = train_vae(model, X, steps=150, lr=3e-3, batch_size=64, beta=1.0, log_every=50)
    after = evaluate(model, X)
    assert hist["step"] == [50, 100, 150]
    assert after["rec_mu"] + after["kl"] < before["rec_mu"] + before["kl"] - 5
    ae = MLPVAE(variational=False, seed=0)
    total, rec, reg = ae.loss(X[:10])
    assert reg.item() == 0 and torch.allclose(total, rec)
    out = evaluate(ae, X)
    assert out["rec_mu"] == out["rec_sample"] and np.isnan(out["kl"])
    grid = decode_grid(model, lim=2.0, steps=3)
    assert grid.shape == (9, 64) and ((grid > 0) & (grid < 1)).all()


def test_loss_matches_manual_computation():
    model = MLPVAE(seed=1)
    x = (torch.rand(5, 64, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    total, rec, kl = model.loss(x, beta=0.5, generator=torch.Generator().manual_seed(3))
    mu, log_var = model.encode(x)
    z = mu + torch.exp(0.5 * log_var) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    p = torch.sigmoid(model.decode(z))
    manual_rec = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(1).mean()
    assert torch.allclose(rec, manual_rec, atol=1e-4)
    assert torch.allclose(total, rec + 0.5 * kl)


def test_jitter_and_ellipses():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mlnotes.vae import draw_ellipses, jitter_reconstruction

    X = (torch.rand(100, 64, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    model = MLPVAE(seed=0)
    base = evaluate(model, X)["rec_mu"]
    assert abs(jitter_reconstruction(model, X, 0.0) - base) < 1e-4
    assert jitter_reconstruction(model, X, 1.0, seed=1) == jitter_reconstruction(model, X, 1.0, seed=1)
    with pytest.raises(ValueError, match="radius"):
        jitter_reconstruction(model, X, -1.0)
    fig, ax = plt.subplots()
    draw_ellipses(ax, np.zeros((3, 2)), np.ones((3, 2)))
    assert len(ax.patches) == 3
    with pytest.raises(ValueError, match="mu must have shape"):
        draw_ellipses(ax, np.zeros((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="n_std"):
        draw_ellipses(ax, np.zeros((1, 2)), np.ones((1, 2)), n_std=0)
    plt.close(fig)


def test_log_px_estimates_bound_and_cvae():
    from mlnotes.vae import ConditionalVAE, code_holes, log_px_estimates, sample_images, train_cvae
    X = (torch.rand(40, 64, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    model = MLPVAE(seed=0)
    elbo, iwae = log_px_estimates(model, X, K=200, seed=0)
    assert elbo.shape == (40,) and (iwae >= elbo - 1e-5).all()
    # K = 1: the importance-sampled estimate is a single-sample ELBO, same draw
    e1, i1 = log_px_estimates(model, X, K=1, seed=3)
    assert np.allclose(e1, i1, atol=1e-5)
    y = np.arange(40) % 10
    cvae = train_cvae(X, y, steps=3, seed=0)
    assert isinstance(cvae, ConditionalVAE)
    imgs = sample_images(cvae, 10, seed=0, labels=np.arange(10))
    assert imgs.shape == (10, 64) and ((imgs >= 0) & (imgs <= 1)).all()
    assert sample_images(model, 4, scale=2.0).shape == (4, 64)
    frac, codes, holes = code_holes(model, X)
    assert 0 <= frac <= 1 and codes.shape == (40, 2)
    with pytest.raises(TypeError, match="model"):
        log_px_estimates("m", X)
    with pytest.raises(ValueError, match="K"):
        log_px_estimates(model, X, K=0)
    with pytest.raises(ValueError, match="y"):
        train_cvae(X, np.full(40, 11))
    with pytest.raises(ValueError, match="scale"):
        sample_images(model, 3, scale=0.0)
    with pytest.raises(ValueError, match="labels"):
        sample_images(cvae, 3, labels=np.arange(4))
    with pytest.raises(ValueError, match="model must have a 2-D latent space"):
        code_holes(MLPVAE(d_latent=3), X)


# ----------------------------------------------------------------------------- bad input
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from adversarial_examples import Example  # noqa: E402

from mlnotes.vae import ConditionalVAE as _CVAE  # noqa: E402

_XV = (torch.rand(12, 64, generator=torch.Generator().manual_seed(0)) < 0.3).float()
ADVERSARIAL = {
    "kl_std_normal": Example(torch.zeros(3, 2), torch.zeros(3, 2)),
    "reparameterize": Example(torch.zeros(3, 2), torch.zeros(3, 2)),
    "MLPVAE": Example(d_in=8, d_hidden=4, d_latent=2, variational=True, seed=0),
    "train_vae": Example(timeout=20, X=_XV, steps=2, lr=1e-3, batch_size=4, beta=1.0, seed=0,
                         regularizer="kl", log_every=1, fresh=lambda: {"model": MLPVAE(seed=0)},
                         accepts={"beta": "0"}),
    "evaluate": Example(X=_XV, seed=0, fresh=lambda: {"model": MLPVAE(seed=0)}),
    "decode_grid": Example(lim=2.0, steps=3, fresh=lambda: {"model": MLPVAE(seed=0)}),
    "jitter_reconstruction": Example(X=_XV, radius=0.5, seed=0,
                                     fresh=lambda: {"model": MLPVAE(seed=0)},
                                     accepts={"radius": "0"}),
    "draw_ellipses": Example(mu=np.zeros((2, 2)), sigma=np.ones((2, 2)), n_std=2.0,
                             fresh=lambda: {"ax": plt.subplots()[1]}),
    "log_px_estimates": Example(X=_XV, K=3, seed=0, fresh=lambda: {"model": MLPVAE(seed=0)}),
    "ConditionalVAE": Example(n_classes=10, d_in=64, d_hidden=4, d_latent=2, seed=0),
    "train_cvae": Example(_XV, np.arange(12) % 10, steps=2, seed=0, lr=1e-3, batch_size=4,
                          timeout=20),
    "sample_images": Example(n=3, seed=0, scale=1.0, fresh=lambda: {"model": MLPVAE(seed=0)},
                             accepts={"labels": "None"}),
    "code_holes": Example(X=_XV, radius=2.0, gap=0.3, steps=5,
                          fresh=lambda: {"model": MLPVAE(seed=0)}),
}

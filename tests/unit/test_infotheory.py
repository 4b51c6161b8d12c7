"""Tests for mlnotes.infotheory: MI bounds against closed forms and scipy/sklearn, critics, local DIM."""

import math

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from adversarial_examples import Example
from hypothesis import given, settings, strategies as st
from scipy import stats

from mlnotes.infotheory import (DIMEncoder, SeparableCritic, correlated_gaussians, dv_bound, encode,
                                gaussian_log_ratio, gaussian_mi, infonce_bound, jsd_bound, _local_dim_loss,
                                train_critic, train_local_dim)

torch.set_num_threads(1)


def test_gaussian_mi_closed_form():
    assert gaussian_mi(0.8, 2) == pytest.approx(1.0216512475)
    assert gaussian_mi(0.0) == 0.0


def test_correlated_gaussians_statistics():
    x, y = correlated_gaussians(100_000, 0.6, 3, seed=0)
    assert x.shape == y.shape == (100_000, 3)
    assert np.allclose([np.corrcoef(x[:, k], y[:, k])[0, 1] for k in range(3)], 0.6, atol=0.01)


def test_log_ratio_matches_scipy_densities():
    rho = 0.7
    x, y = correlated_gaussians(50, rho, 1, seed=1)
    joint = stats.multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]])
    ref = joint.logpdf(np.c_[x, y]) - stats.norm.logpdf(x[:, 0]) - stats.norm.logpdf(y[:, 0])
    assert np.allclose(gaussian_log_ratio(x, y, rho), ref)
    pairwise = gaussian_log_ratio(x[:, None, :], y[None, :, :], rho)
    assert pairwise.shape == (50, 50) and np.allclose(np.diag(pairwise), ref)


def test_dv_optimal_and_suboptimal():
    x, y = correlated_gaussians(200_000, 0.8, 2, seed=0)
    t = gaussian_log_ratio(x, y, 0.8)
    tm = gaussian_log_ratio(x, np.roll(y, 1, axis=0), 0.8)
    assert abs(dv_bound(t, tm) - gaussian_mi(0.8, 2)) < 0.03
    assert dv_bound(0.5 * t, 0.5 * tm) < dv_bound(t, tm)
    assert dv_bound(t + 5.0, tm + 5.0) == pytest.approx(dv_bound(t, tm))  # invariant to constants


def test_jsd_value_matches_softplus_formula():
    rng = np.random.default_rng(0)
    tj, tm = rng.normal(size=20), rng.normal(size=30)
    ref = -F.softplus(-torch.tensor(tj)).mean() - F.softplus(torch.tensor(tm)).mean()
    assert jsd_bound(tj, tm) == pytest.approx(ref.item())


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 12), st.floats(0.1, 50.0), st.integers(0, 10_000))
def test_infonce_never_exceeds_log_n(N, scale, seed):
    scores = scale * np.random.default_rng(seed).normal(size=(N, N))
    value = infonce_bound(scores)
    assert value <= math.log(N) + 1e-12
    ref = np.mean(np.diag(scores) - np.log(np.exp(scores - scores.max(1, keepdims=True)).sum(1))
                  - scores.max(1)) + math.log(N)
    assert value == pytest.approx(ref)


def test_infonce_matches_torch_cross_entropy():
    s = torch.randn(16, 16, dtype=torch.float64)
    ref = -F.cross_entropy(s, torch.arange(16)).item() + math.log(16)
    assert infonce_bound(s.numpy()) == pytest.approx(ref)


def test_separable_critic_shape():
    critic = SeparableCritic(2)
    assert critic(torch.randn(5, 2), torch.randn(7, 2)).shape == (5, 7)


def test_trained_critic_estimates_mi():
    critic, history = train_critic(0.8, 2, "infonce", steps=200, batch=64, seed=0)
    assert len(history["infonce"]) == 200
    assert abs(np.mean(history["infonce"][-50:]) - gaussian_mi(0.8, 2)) < 0.2


def test_local_dim_loss_against_loop():
    torch.manual_seed(0)
    g, local = torch.randn(6, 4), torch.randn(6, 5, 4)
    loop = np.mean([F.cross_entropy(g @ local[:, p].T, torch.arange(6)).item() for p in range(5)])
    assert _local_dim_loss(g, local).item() == pytest.approx(loop)


def test_dim_training_improves_probe():
    from sklearn.linear_model import LogisticRegression
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.data / 16.0).reshape(-1, 8, 8)[:900]
    labels = digits.target[:900]
    encoder, losses = train_local_dim(images[:600], steps=80, seed=0)
    torch.manual_seed(0)
    baseline = DIMEncoder()
    def acc(enc):
        z_tr, z_te = encode(enc, images[:600]), encode(enc, images[600:])
        mu, sd = z_tr.mean(0), z_tr.std(0) + 1e-8
        return LogisticRegression(max_iter=2000).fit((z_tr - mu) / sd, labels[:600]).score((z_te - mu) / sd, labels[600:])
    assert losses[-1] < losses[0]
    assert acc(encoder) > acc(baseline)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"rho must be in \(-1, 1\)"):
        gaussian_mi(1.0)
    with pytest.raises(ValueError, match="d must be >= 1"):
        gaussian_mi(0.5, 0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        correlated_gaussians(0, 0.5)
    with pytest.raises(ValueError, match="same last dimension"):
        gaussian_log_ratio(np.zeros((3, 2)), np.zeros((3, 1)), 0.5)
    with pytest.raises(ValueError, match="t_joint"):
        dv_bound([], [1.0])
    with pytest.raises(ValueError, match="t_joint must be finite"):
        jsd_bound([np.nan], [1.0])
    with pytest.raises(ValueError, match="scores must have shape"):
        infonce_bound(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        SeparableCritic(2, hidden=0)
    with pytest.raises(ValueError, match="objective must be"):
        train_critic(0.5, objective="mse")
    with pytest.raises(ValueError, match="code must be >= 1"):
        DIMEncoder(code=0)
    with pytest.raises(ValueError, match=r"images must have shape"):
        train_local_dim(np.zeros((5, 4, 4)))
    with pytest.raises(ValueError, match=r"images must be a non-empty 3-D array, got shape \(2, 64\)"):
        encode(DIMEncoder(), np.zeros((2, 64)))


def test_global_dim_loss_against_loop_and_train_dim_global_learns():
    from mlnotes.infotheory import _global_dim_loss, train_dim
    g, m = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), torch.randn(5, 3)
    loop = -np.mean([(g[i] @ m[i] - torch.logsumexp(g[i] @ m.T, 0)).item() for i in range(5)])
    assert _global_dim_loss(g, m).item() == pytest.approx(loop, rel=1e-5)
    images = np.random.default_rng(0).random((40, 16, 16))
    encoder, losses = train_dim(images, "global", steps=30, batch=16, channels=8, stride=2)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert encode(encoder, images).shape == (40, 16)
    with pytest.raises(ValueError, match="objective"):
        train_dim(images, "patch", steps=1)


_IMAGES = np.random.default_rng(0).random((8, 8, 8))

ADVERSARIAL = {
    "gaussian_mi": Example(0.5, d=2, accepts={"rho": "0"}),
    "correlated_gaussians": Example(5, 0.5, d=2, seed=0, accepts={"rho": "0"}),
    "gaussian_log_ratio": Example(np.zeros((3, 2)), np.ones((3, 2)), 0.5, accepts={"rho": "0"}),
    # critic scores of any shape are averaged whole, so a wrong ndim is legitimate
    "dv_bound": Example([0.1, 0.2], [0.3, -0.1], accepts={"t_joint": "ndim", "t_marginal": "ndim"}),
    "jsd_bound": Example([0.1, 0.2], [0.3, -0.1], accepts={"t_joint": "ndim", "t_marginal": "ndim"}),
    "infonce_bound": Example(np.eye(3)),
    "SeparableCritic": Example(2, hidden=4, embed=3),
    "train_critic": Example(0.5, d=2, objective="infonce", steps=2, batch=8, lr=1e-3, seed=0,
                            accepts={"steps": "10**9", "rho": "0"}, timeout=10),
    "DIMEncoder": Example(channels=4, code=3, size=8, stride=1),
    "train_dim": Example(_IMAGES, "local", steps=2, batch=4, lr=1e-3, seed=0, channels=4, stride=1,
                         accepts={"steps": "10**9"}),
    "train_local_dim": Example(_IMAGES, steps=2, batch=4, lr=1e-3, seed=0, accepts={"steps": "10**9"}),
    "encode": Example(fresh=lambda: {"encoder": DIMEncoder(channels=4, code=3)}, images=_IMAGES),
    "plot_mi_estimates": Example(true_mi=np.array([0.1, 0.5]), curves={"a": [0.1, 0.4]},
                                 fresh=lambda: {"ax": plt.subplots()[1]}),
    "plot_probe_comparison": Example(accuracies={"a": [0.5, 0.6]}, baselines={"b": 0.4},
                                     fresh=lambda: {"ax": plt.subplots()[1]}),
}

"""Tests for mlnotes.generative_models against scipy and torch; edges and bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.stats import entropy, norm

from mlnotes.generative_models import (bernoulli_loglik, bernoulli_mle, binarized_digits, entropy_categorical, fit_gauss_kl,
                                gmm1d_pdf, image_grid, kl_categorical, kl_gauss, mc_kl, norm_logpdf, sample_bernoulli)

probs = st.lists(st.floats(0.0, 10.0), min_size=1, max_size=8).filter(lambda v: sum(v) > 0.1)


@settings(max_examples=50, deadline=None)
@given(probs, st.integers(0, 10_000))
def test_kl_categorical_matches_scipy(raw, seed):
    p = np.array(raw) / np.sum(raw)
    q = np.random.default_rng(seed).dirichlet(np.ones(len(p)))
    assert abs(kl_categorical(p, q) - entropy(p, q)) < 1e-10
    assert abs(entropy_categorical(p) - entropy(p)) < 1e-10
    assert kl_categorical(p, p) == 0.0 and kl_categorical(p, q) >= -1e-12


def test_kl_categorical_edges_and_bad_input():
    assert kl_categorical([1.0, 0.0], [0.5, 0.5]) == np.log(2)
    assert kl_categorical([0.5, 0.5], [1.0, 0.0]) == float("inf")
    assert entropy_categorical([1.0]) == 0.0
    with pytest.raises(ValueError, match="sum to 1"):
        kl_categorical([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"q must have shape \(k,\) with k = 1, got shape \(2,\)"):
        kl_categorical([1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="non-empty"):
        entropy_categorical([])


@settings(max_examples=50, deadline=None)
@given(st.floats(-5, 5), st.floats(0.1, 5), st.floats(-5, 5), st.floats(0.1, 5))
def test_kl_gauss_matches_torch(m1, s1, m2, s2):
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(m1, s1), torch.distributions.Normal(m2, s2))
    assert abs(kl_gauss(m1, s1, m2, s2) - float(ref)) < 1e-4 * max(1.0, float(ref))


def test_mc_kl_and_logpdf():
    np.testing.assert_allclose(norm_logpdf([0.0, 1.5], 0.5, 2.0), norm.logpdf([0.0, 1.5], 0.5, 2.0))
    x = np.random.default_rng(0).normal(0.3, 1.2, 200_000)
    estimate = mc_kl(x, lambda v: norm_logpdf(v, 0.3, 1.2), lambda v: norm_logpdf(v, -0.5, 0.8))
    assert abs(estimate - kl_gauss(0.3, 1.2, -0.5, 0.8)) < 0.01
    with pytest.raises(ValueError, match="empty"):
        mc_kl([], np.log, np.log)
    with pytest.raises(TypeError, match="must be callable"):
        mc_kl([1.0], None, np.log)
    with pytest.raises(ValueError, match="s2"):
        kl_gauss(0, 1, 0, 0)
    with pytest.raises(TypeError, match="sigma"):
        norm_logpdf([0.0], 0.0, "1")


def test_gmm1d_pdf_integrates_to_one():
    grid = np.linspace(-20, 30, 50001)
    pdf = gmm1d_pdf(grid, [0.3, 0.7], [-2, 4], [0.5, 2.0])
    assert abs(pdf.sum() * (grid[1] - grid[0]) - 1) < 1e-9
    with pytest.raises(ValueError, match="means must have shape"):
        gmm1d_pdf(grid, [0.5, 0.5], [0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="sd"):
        gmm1d_pdf(grid, [1.0], [0.0], [0.0])


def test_fit_gauss_kl_forward_is_moment_matching_reverse_is_mode_seeking():
    grid = np.linspace(-10, 10, 4001)
    p = gmm1d_pdf(grid, [0.5, 0.5], [-3, 3], [0.7, 0.7])
    mu_f, s_f = fit_gauss_kl(p, grid, "forward")
    mu_r, s_r = fit_gauss_kl(p, grid, "reverse")
    assert abs(mu_f) < 1e-4 and abs(s_f - np.sqrt(9 + 0.49)) < 1e-4
    assert abs(abs(mu_r) - 3) < 0.01 and abs(s_r - 0.7) < 0.01
    single = np.exp(norm_logpdf(grid, 1.0, 2.0))
    for direction in ("forward", "reverse"):
        mu, s = fit_gauss_kl(single, grid, direction)
        assert abs(mu - 1.0) < 1e-4 and abs(s - 2.0) < 1e-4
    with pytest.raises(ValueError, match="direction"):
        fit_gauss_kl(p, grid, "sideways")
    with pytest.raises(ValueError, match="p_pdf must have shape"):
        fit_gauss_kl(p[:-1], grid)
    with pytest.raises(ValueError, match="p_pdf must have values"):
        fit_gauss_kl(-p, grid)


def test_bernoulli_model():
    train, test = binarized_digits(n_train=1400, seed=0)
    assert train.shape == (1400, 64) and test.shape == (397, 64)
    theta = bernoulli_mle(train)
    np.testing.assert_allclose(theta, train.mean(axis=0))
    ll = bernoulli_loglik(train[:5], theta)
    with np.errstate(divide="ignore"):
        ref = np.array([np.sum(np.where(x == 1, np.log(theta), np.log1p(-theta))) if np.all((theta > 0) | (x == 0)) else -np.inf
                        for x in train[:5]])
    np.testing.assert_allclose(ll, ref)
    assert bernoulli_loglik([[1, 0]], [0.0, 0.5])[0] == -np.inf
    assert np.all(bernoulli_mle([[0, 1]], alpha=1.0) == [1 / 3, 2 / 3])
    samples = sample_bernoulli(np.array([0.0, 1.0, 0.5]), 1000, seed=1)
    assert samples[:, 0].max() == 0 and samples[:, 1].min() == 1 and abs(samples[:, 2].mean() - 0.5) < 0.06


def test_bernoulli_bad_input():
    with pytest.raises(ValueError, match="X must hold only the values 0, 1"):
        bernoulli_mle([[0, 2]])
    with pytest.raises(ValueError, match="alpha"):
        bernoulli_mle([[0, 1]], alpha=-1)
    with pytest.raises(ValueError, match="theta must have shape"):
        bernoulli_loglik([[0, 1]], [0.5])
    with pytest.raises(ValueError, match="threshold"):
        binarized_digits(threshold=1.0)
    with pytest.raises(ValueError, match="n_train"):
        binarized_digits(n_train=1797)
    with pytest.raises(ValueError, match="n must be"):
        sample_bernoulli([0.5], 0)


def test_image_grid():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    image_grid(np.zeros((5, 64)), 2, ax)
    assert ax.images[0].get_array().shape == (17, 26)
    with pytest.raises(ValueError, match="images must have shape"):
        image_grid(np.zeros((5, 60)), 2, ax)
    with pytest.raises(ValueError, match="nrow"):
        image_grid(np.zeros((5, 64)), 0, ax)
    plt.close(fig)


# ----------------------------------------------------------------------------- bad input
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from adversarial_examples import Example  # noqa: E402

_G = np.linspace(-4, 4, 41)
ADVERSARIAL = {
    "entropy_categorical": Example(np.array([0.5, 0.5])),
    "kl_categorical": Example(np.array([0.5, 0.5]), np.array([0.25, 0.75])),
    "kl_gauss": Example(0.3, 1.2, -0.5, 0.8, accepts={"m1": "-1 0", "m2": "-1 0"}),
    "norm_logpdf": Example(np.zeros(3), mu=0.0, sigma=1.0,
                           accepts={"mu": "-1 0", "x": "ndim"}),  # any array shape of x
    "mc_kl": Example(np.zeros(5), logp=lambda v: -v ** 2, logq=lambda v: -v ** 2 / 2,
                     accepts={"samples": "ndim"}),
    "gmm1d_pdf": Example(np.zeros(3), np.array([0.5, 0.5]), np.array([-1.0, 1.0]),
                         np.array([0.5, 0.5]), accepts={"x": "ndim"}),
    "fit_gauss_kl": Example(np.exp(-_G ** 2 / 2), _G, direction="forward", init=(0.5, 1.0),
                            eps=1e-300),
    "binarized_digits": Example(threshold=0.5, n_train=100, seed=0),
    "bernoulli_mle": Example(np.array([[0, 1], [1, 1]]), alpha=1.0, accepts={"alpha": "0"}),
    "bernoulli_loglik": Example(np.array([[0, 1], [1, 1]]), np.array([0.5, 0.5])),
    "sample_bernoulli": Example(np.array([0.5, 0.2]), n=3, seed=0),
    "image_grid": Example(np.zeros((4, 64)), nrow=2, side=8,
                          fresh=lambda: {"ax": plt.subplots()[1]}),
}

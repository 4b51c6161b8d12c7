"""Tests for mlnotes.em: against scipy, scikit-learn and closed forms; edges and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import logsumexp as sp_logsumexp
from scipy.stats import binom, multivariate_normal
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from mlnotes.em import (bernoulli_mixture_em, bernoulli_mixture_loglik, e_step, elbo, gaussian_ellipse,
                        gmm_em, gmm_logpdf, kmeans_hard_em, m_step, mixing_weight_bound, random_init,
                        two_coins_em, two_coins_responsibilities)


def blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 4.0]])
    return centers[np.arange(n) % 3] + rng.normal(size=(n, 2)) * [0.8, 0.6]


def test_two_coins_matches_do_batzoglou():
    path = two_coins_em([5, 9, 8, 4, 7], 10, 0.6, 0.5, iters=10)
    assert len(path) == 11 and path[0] == (0.6, 0.5)
    assert round(path[-1][0], 2) == 0.80 and round(path[-1][1], 2) == 0.52


def test_two_coins_responsibilities_equal_binomial_posterior():
    heads = np.array([0, 3, 10])
    q = two_coins_responsibilities(heads, 10, 0.7, 0.4)
    la, lb = binom.logpmf(heads, 10, 0.7), binom.logpmf(heads, 10, 0.4)
    np.testing.assert_allclose(q, np.exp(la - np.logaddexp(la, lb)), rtol=1e-12)


def test_two_coins_bad_input():
    with pytest.raises(ValueError, match="heads must have values"):
        two_coins_em([11], 10, 0.6, 0.5)
    with pytest.raises(ValueError, match="theta_a"):
        two_coins_responsibilities([1], 10, 1.0, 0.5)
    with pytest.raises(TypeError, match="iters"):
        two_coins_em([1], 10, 0.6, 0.5, iters=2.5)
    with pytest.raises((ValueError, TypeError), match="heads"):
        two_coins_responsibilities([], 10, 0.6, 0.5)


def test_gmm_logpdf_matches_scipy():
    X = blobs(50)
    init = random_init(X, 3, seed=1)
    ours = gmm_logpdf(X, init["means"], init["covs"], init["weights"])
    ref = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(X)
                    for m, c, w in zip(init["means"], init["covs"], init["weights"])], axis=1)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_gmm_logpdf_bad_input():
    X = blobs(10)
    with pytest.raises(ValueError, match="covs must have shape"):
        gmm_logpdf(X, np.zeros((2, 2)), np.eye(2)[None], [0.5, 0.5])
    with pytest.raises(ValueError, match="positive definite"):
        gmm_logpdf(X, np.zeros((1, 2)), -np.eye(2)[None], [1.0])
    with pytest.raises(ValueError, match=r"weights must sum to 1 along its last axis, got sums in \[0.5, 0.5\]"):
        gmm_logpdf(X, np.zeros((1, 2)), np.eye(2)[None], [0.5])
    with pytest.raises(TypeError, match="numeric"):
        gmm_logpdf([["a", "b"]], np.zeros((1, 2)), np.eye(2)[None], [1.0])
    with pytest.raises(ValueError, match="finite"):
        gmm_logpdf([[np.nan, 0.0]], np.zeros((1, 2)), np.eye(2)[None], [1.0])


def test_gmm_em_monotone_and_matches_sklearn():
    X = blobs()
    init = random_init(X, 3, seed=2)
    out = gmm_em(X, 3, init=init, iters=200)
    assert np.diff(out["loglik"]).min() > -1e-9
    assert np.abs(out["elbo_gap"]).max() < 1e-9
    np.testing.assert_allclose(out["resp"].sum(axis=1), 1.0, atol=1e-12)
    gm = GaussianMixture(3, covariance_type="full", reg_covar=0, tol=1e-12, max_iter=300,
                         means_init=init["means"], weights_init=init["weights"],
                         precisions_init=np.linalg.inv(init["covs"])).fit(X)
    o1, o2 = np.argsort(out["means"][:, 0]), np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(out["means"][o1], gm.means_[o2], atol=1e-5)
    assert abs(gm.score(X) - out["loglik"][-1] / len(X)) < 1e-8


def test_gmm_em_one_component_is_sample_moments():
    X = blobs(40)
    out = gmm_em(X, 1, iters=1)
    np.testing.assert_allclose(out["means"][0], X.mean(axis=0))
    np.testing.assert_allclose(out["covs"][0], np.cov(X.T, bias=True))
    assert len(out["loglik"]) == 2 and len(out["states"]) == 2


def test_gmm_em_bad_input():
    X = blobs(20)
    with pytest.raises(ValueError, match="K must be <="):
        gmm_em(X[:2], 3)
    with pytest.raises(ValueError, match="init must be a dict with keys 'means', 'covs', 'weights'"):
        gmm_em(X, 2, init={"means": 1})
    with pytest.raises(ValueError, match="components but K"):
        gmm_em(X, 2, init=random_init(X, 3))
    with pytest.raises(ValueError, match="shape"):
        gmm_em(np.zeros((0, 2)), 1)
    with pytest.raises(TypeError, match="K must be an int"):
        random_init(X, "2")


def test_m_step_and_e_step_bad_input():
    X = blobs(10)
    with pytest.raises(ValueError, match="resp must have shape"):
        m_step(X, np.ones((3, 2)))
    with pytest.raises(ValueError, match="reg"):
        m_step(X, np.full((10, 2), 0.5), reg=-1)
    with pytest.raises(ValueError, match="zero responsibility"):
        m_step(X, np.c_[np.ones(10), np.zeros(10)])
    with pytest.raises(ValueError, match="means must have shape"):
        e_step(X, np.zeros((1, 3)), np.eye(3)[None], [1.0])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 10_000))
def test_elbo_below_loglik_with_equality_at_posterior(N, K, seed):
    rng = np.random.default_rng(seed)
    log_joint = rng.normal(size=(N, K)) * 5
    total = float(sp_logsumexp(log_joint, axis=1).sum())
    posterior = np.exp(log_joint - sp_logsumexp(log_joint, axis=1, keepdims=True))
    assert abs(elbo(log_joint, posterior) - total) < 1e-9
    assert elbo(log_joint, rng.dirichlet(np.ones(K), size=N)) <= total + 1e-12


def test_elbo_handles_zero_q_and_bad_input():
    assert elbo([[0.0, -np.inf]], [[1.0, 0.0]]) == 0.0
    with pytest.raises(ValueError, match="Q must have shape"):
        elbo(np.zeros((2, 2)), np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="Q must sum to 1 along its last axis"):
        elbo(np.zeros((1, 2)), [[0.7, 0.7]])


def test_mixing_weight_bound_touches_and_lies_below():
    x = np.random.default_rng(0).normal(1.0, 1.5, size=100)
    pis = np.linspace(0.01, 0.99, 99)
    loglik, bound, pi_next = mixing_weight_bound(x, pis, 0.3)
    assert np.all(bound <= loglik + 1e-9)
    at = mixing_weight_bound(x, [0.3], 0.3)
    assert abs(at[0][0] - at[1][0]) < 1e-9
    assert abs(pis[np.argmax(bound)] - pi_next) <= 0.01
    with pytest.raises(ValueError, match="pi_j"):
        mixing_weight_bound(x, pis, 1.0)
    with pytest.raises(ValueError, match="pis"):
        mixing_weight_bound(x, [0.0], 0.5)
    with pytest.raises(ValueError, match="x must be"):
        mixing_weight_bound([], pis, 0.5)


def test_kmeans_hard_em_matches_sklearn():
    X = blobs()
    start = X[[0, 1, 2]]
    ours = kmeans_hard_em(X, start, iters=50)
    km = KMeans(3, init=start, n_init=1, tol=0, max_iter=50).fit(X)
    np.testing.assert_allclose(np.sort(ours["centers"], axis=0), np.sort(km.cluster_centers_, axis=0), atol=1e-10)
    assert np.all(np.diff(ours["inertia"]) <= 1e-9)
    with pytest.raises(ValueError, match=r"centers must have shape \(K, D\) with D = 2"):
        kmeans_hard_em(X, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="iters"):
        kmeans_hard_em(X, start, iters=0)


def test_bernoulli_mixture():
    rng = np.random.default_rng(0)
    protos = np.array([[0.9] * 5 + [0.1] * 5, [0.1] * 5 + [0.9] * 5])
    X = (rng.random((400, 10)) < protos[np.arange(400) % 2]).astype(float)
    out = bernoulli_mixture_em(X, 2, iters=40, seed=0)
    assert np.diff(out["loglik"]).min() > -1e-6
    per_row = bernoulli_mixture_loglik(X, out["weights"], out["probs"])
    assert per_row.shape == (400,) and np.all(per_row < 0)
    one = bernoulli_mixture_em(X, 1, iters=1, alpha=0.0)
    np.testing.assert_allclose(one["probs"][0], np.clip(X.mean(axis=0), 1e-12, 1 - 1e-12))
    with pytest.raises(ValueError, match="X must hold only the values 0, 1"):
        bernoulli_mixture_em(X + 0.5, 2)
    with pytest.raises(ValueError, match="alpha"):
        bernoulli_mixture_em(X, 2, alpha=-1)
    with pytest.raises(ValueError, match="strictly inside"):
        bernoulli_mixture_loglik(X, [1.0], np.ones((1, 10)))
    with pytest.raises(ValueError, match="probs must have shape"):
        bernoulli_mixture_loglik(X, [1.0], np.full((1, 3), 0.5))


def test_gaussian_ellipse():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    gaussian_ellipse(ax, [0, 0], [[2.0, 0.5], [0.5, 1.0]], n_std=(1, 2, 3))
    assert len(ax.patches) == 3
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_ellipse(ax, [0, 0], [[1.0, 0], [0, -1.0]])
    with pytest.raises(ValueError, match="mean must have shape"):
        gaussian_ellipse(ax, [0, 0, 0], np.eye(2))
    plt.close(fig)


def test_converged_flags_flat_tails_only():
    from mlnotes.em import converged
    flat = np.concatenate([np.linspace(-500.0, -400.0, 50), np.full(60, -400.0)])
    rising = np.linspace(-500.0, -400.0, 110)
    assert converged(flat, 100) and not converged(rising, 100)
    with pytest.raises(ValueError, match="window"):
        converged(flat, 100, window=500)


def test_plot_restarts_draws_both_kinds():
    import matplotlib.pyplot as plt
    from mlnotes.em import plot_restarts
    fig, ax = plt.subplots()
    plot_restarts(ax, [np.arange(5.0), np.arange(5.0) + 1], [True, False], 1)
    assert len(ax.get_legend().get_texts()) == 2
    plt.close(fig)


from adversarial_examples import Example  # noqa: E402

_Xg = np.array([[0.0, 0.0], [0.2, 0.1], [3.0, 3.0], [3.1, 2.9], [0.1, 0.3], [2.8, 3.2]])
_means = np.array([[0.0, 0.0], [3.0, 3.0]])
_covs = np.stack([np.eye(2), np.eye(2)])
_w = np.array([0.5, 0.5])
_Xb = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 1], [0, 1, 0]])


def _axes():
    import matplotlib.pyplot as plt
    return {"ax": plt.subplots()[1]}


ADVERSARIAL = {
    "two_coins_responsibilities": Example(np.array([5, 9, 8]), 10, 0.6, 0.5),
    "two_coins_em": Example(np.array([5, 9, 8]), 10, 0.6, 0.5, iters=3,
                            accepts={"iters": "0"}),  # 0 iterations: the start alone
    "gmm_logpdf": Example(_Xg, _means, _covs, _w),
    "elbo": Example(np.log(np.full((3, 2), 0.25)), np.full((3, 2), 0.5),
                    accepts={"log_joint": "-1 0 int"}),  # any real log-probabilities
    "e_step": Example(_Xg, _means, _covs, _w),
    "m_step": Example(_Xg, np.tile([0.5, 0.5], (6, 1)), accepts={"reg": "0"}),  # no ridge
    "random_init": Example(_Xg, 2, seed=0),
    "gmm_em": Example(_Xg, 2, iters=2, reg=1e-3,  # None: random start; 0: no step / no ridge
                      accepts={"init": "None", "iters": "0", "reg": "0"}),
    "converged": Example(np.linspace(-10.0, -9.0, 60), 6),
    "plot_restarts": Example(logliks=[np.arange(5.0)], is_converged=[True], n_points=5,
                             fresh=_axes),
    "mixing_weight_bound": Example(np.array([-1.0, 0.5, 2.0]), np.array([0.2, 0.5, 0.8]), 0.3),
    "kmeans_hard_em": Example(_Xg, _means, iters=3),
    "bernoulli_mixture_em": Example(_Xb, 2, iters=2, seed=0),
    "bernoulli_mixture_loglik": Example(_Xb, np.array([0.5, 0.5]),
                                        np.array([[0.2, 0.5, 0.8], [0.6, 0.4, 0.5]])),
    "gaussian_ellipse": Example(mean=np.zeros(2), cov=np.eye(2), fresh=_axes),
}

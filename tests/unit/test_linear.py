"""Tests for mlnotes.linear against scikit-learn, scipy and numpy."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize
from sklearn.linear_model import Lasso, LinearRegression, Ridge
from sklearn.preprocessing import PolynomialFeatures

from adversarial_examples import Example
from mlnotes.linear import (constrained_min_2d, lasso_map_cd, neg_log_posterior, poly_design,
                            ridge_closed_form, ridge_map, soft_threshold)


def _data(n=60, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = np.zeros(d)
    w[:3] = [2.0, -1.0, 0.5]
    return X, X @ w + 0.5 * rng.normal(size=n)


@settings(max_examples=50, deadline=None)
@given(z=st.floats(-1e3, 1e3), lam=st.floats(0, 1e3))
def test_soft_threshold_is_the_prox_of_abs(z, lam):
    out = float(soft_threshold(z, lam))
    objective = lambda w: 0.5 * (w - z) ** 2 + lam * abs(w)
    # optimality: no nearby point does better, and |z| <= lam gives exactly zero
    for w in (out - 1e-3, out + 1e-3, 0.0, z):
        assert objective(out) <= objective(w) + 1e-9
    if abs(z) <= lam:
        assert out == 0.0


def test_soft_threshold_vector_and_edges():
    assert soft_threshold([-3.0, -1.0, 0.0, 0.5, 2.0], 1.0).tolist() == [-2.0, 0.0, 0.0, 0.0, 1.0]
    assert soft_threshold(np.array([[2.0]]), 0.0).tolist() == [[2.0]]


@pytest.mark.parametrize("lam", [1e-8, 0.1, 1.0, 10.0, 1e4])
def test_ridge_closed_form_matches_sklearn(lam):
    X, y = _data()
    ref = Ridge(alpha=lam, fit_intercept=False, solver="cholesky").fit(X, y).coef_
    np.testing.assert_allclose(ridge_closed_form(X, y, lam), ref, atol=1e-10)


def test_ridge_zero_is_least_squares_and_norm_decreases():
    X, y = _data()
    np.testing.assert_allclose(ridge_closed_form(X, y, 0.0),
                               LinearRegression(fit_intercept=False).fit(X, y).coef_, atol=1e-10)
    norms = [np.linalg.norm(ridge_closed_form(X, y, lam)) for lam in np.logspace(-3, 4, 30)]
    assert np.all(np.diff(norms) <= 1e-12)
    # rank-deficient design with lam = 0: minimum-norm solution, no error
    X2 = np.column_stack([X[:, 0], X[:, 0]])
    np.testing.assert_allclose(ridge_closed_form(X2, y, 0.0), np.linalg.pinv(X2) @ y, atol=1e-10)


def test_ridge_map_uses_lambda_s2_over_sigma2():
    X, y = _data()
    np.testing.assert_allclose(ridge_map(X, y, 2.0, 0.5), ridge_closed_form(X, y, 16.0), atol=1e-12)


@pytest.mark.parametrize("b", [0.01, 0.1, 1.0])
def test_lasso_cd_matches_sklearn_and_minimizes(b):
    X, y = _data(seed=1)
    n = len(y)
    s = 0.5
    w = lasso_map_cd(X, y, s, b)
    ref = Lasso(alpha=s ** 2 / (n * b), fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    np.testing.assert_allclose(w, ref, atol=1e-8)
    nlp = neg_log_posterior(w, X, y, s, "laplace", b)
    rng = np.random.default_rng(2)
    for _ in range(20):
        assert nlp <= neg_log_posterior(w + 1e-3 * rng.normal(size=w.size), X, y, s, "laplace", b)


def test_lasso_cd_large_penalty_gives_all_zeros_and_zero_column():
    X, y = _data()
    assert np.all(lasso_map_cd(X, y, 1.0, 1e-6) == 0)
    X0 = X.copy()
    X0[:, 4] = 0.0
    assert lasso_map_cd(X0, y, 0.5, 1.0)[4] == 0.0


def test_neg_log_posterior_gauss_is_minimized_by_ridge_map():
    X, y = _data()
    s, sigma = 0.5, 0.8
    res = minimize(lambda v: neg_log_posterior(v, X, y, s, "gauss", sigma), np.zeros(X.shape[1]),
                   method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(res.x, ridge_map(X, y, s, sigma), atol=1e-6)


def test_poly_design_bases_span_the_same_space():
    x = np.linspace(-1, 1, 30)
    L, V = poly_design(x, 5), poly_design(x, 5, basis="monomial")
    np.testing.assert_allclose(V, PolynomialFeatures(5).fit_transform(x[:, None]), atol=1e-12)
    y = np.sin(3 * x)
    np.testing.assert_allclose(L @ np.linalg.lstsq(L, y, rcond=None)[0], V @ np.linalg.lstsq(V, y, rcond=None)[0], atol=1e-9)
    assert poly_design([0.3], 0).tolist() == [[1.0]]
    assert np.linalg.cond(poly_design(np.linspace(-1, 1, 50), 14)) < np.linalg.cond(
        poly_design(np.linspace(-1, 1, 50), 14, basis="monomial"))


def test_constrained_min_2d_corner_and_interior():
    H = np.array([[1.0, 0.4], [0.4, 0.6]])
    w0 = np.array([1.6, 1.0])
    l1 = constrained_min_2d(H, w0, "l1", 1.0)
    l2 = constrained_min_2d(H, w0, "l2", 1.0)
    assert l1.tolist() == [1.0, 0.0]
    assert np.hypot(*l2) == pytest.approx(1.0) and np.all(l2 > 0.1)
    # compare the L2 case with a constrained scipy solve
    res = minimize(lambda v: (v - w0) @ H @ (v - w0), np.zeros(2), method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda v: 1.0 - v @ v}])
    np.testing.assert_allclose(l2, res.x, atol=1e-3)
    assert constrained_min_2d(H, np.array([0.1, 0.2]), "l1", 1.0).tolist() == [0.1, 0.2]


@pytest.mark.parametrize("call, error, match", [
    (lambda: soft_threshold([1.0], -1.0), ValueError, "lam"),
    (lambda: soft_threshold(["a"], 1.0), TypeError, "numeric"),
    (lambda: ridge_closed_form(np.ones(3), np.ones(3), 1.0), ValueError, "shape"),
    (lambda: ridge_closed_form(np.ones((3, 2)), np.ones(4), 1.0), ValueError, "y must have shape"),
    (lambda: ridge_closed_form(np.ones((3, 2)), np.ones(3), -1.0), ValueError, "lam"),
    (lambda: ridge_closed_form(np.full((3, 2), np.nan), np.ones(3), 1.0), ValueError, "finite"),
    (lambda: ridge_map(np.ones((3, 2)), np.ones(3), 0.0, 1.0), ValueError, "noise_sd"),
    (lambda: ridge_map(np.ones((3, 2)), np.ones(3), 1.0, "big"), TypeError, "prior_sd"),
    (lambda: lasso_map_cd(np.ones((3, 2)), np.ones(3), 1.0, 0.0), ValueError, "laplace_b"),
    (lambda: lasso_map_cd(np.ones((3, 2)), np.ones(3), 1.0, 1.0, iters=0), ValueError, "iters"),
    (lambda: neg_log_posterior(np.ones(2), np.ones((3, 2)), np.ones(3), 1.0, "cauchy", 1.0), ValueError, "prior"),
    (lambda: neg_log_posterior(np.ones(3), np.ones((3, 2)), np.ones(3), 1.0, "gauss", 1.0), ValueError, "w must have shape"),
    (lambda: poly_design([0.0], -1), ValueError, "degree"),
    (lambda: poly_design([0.0], 2.0), TypeError, "degree"),
    (lambda: poly_design([0.0], 2, basis="chebyshev"), ValueError, "basis"),
    (lambda: poly_design([], 2), ValueError, "non-empty"),
    (lambda: constrained_min_2d(np.eye(2), [1.0, 1.0], "linf", 1.0), ValueError, "kind"),
    (lambda: constrained_min_2d(-np.eye(2), [1.0, 1.0], "l1", 1.0), ValueError, "positive definite"),
    (lambda: constrained_min_2d(np.eye(2), [1.0, 1.0, 1.0], "l1", 1.0), ValueError, "w0"),
    (lambda: constrained_min_2d(np.eye(2), [1.0, 1.0], "l1", 0.0), ValueError, "budget"),
])
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


ADVERSARIAL = {
    "soft_threshold": Example(np.array([-2.0, 0.5, 3.0]), 1.0, accepts={"z": "ndim empty", "lam": "0"}),  # elementwise
    "ridge_closed_form": Example(np.eye(3), np.ones(3), 0.5, accepts={"lam": "0"}),  # least squares
    "ridge_map": Example(np.eye(3), np.ones(3), 1.0, 2.0),
    "lasso_map_cd": Example(np.eye(3), np.ones(3), 1.0, 2.0, iters=50, tol=1e-9, accepts={"tol": "0"}),
    "neg_log_posterior": Example(np.ones(3), np.eye(3), np.ones(3), 1.0, "laplace", 2.0),
    "poly_design": Example(np.linspace(-1, 1, 5), 3, basis="legendre", accepts={"degree": "0"}),
    "draw_constrained_2d": Example(np.diag([1.0, 4.0]), np.array([2.0, 1.0]), 1.0),
    "draw_coefficients": Example(np.array([1.0, 0.0, -2.0]), ["a", "b", "c"], title="t",
                                 accepts={"title": "other-str"}),  # free text
    "constrained_min_2d": Example(np.diag([1.0, 4.0]), np.array([2.0, 1.0]), "l1", 1.0, n=400),
}


def test_draw_helpers_show_the_optima_and_count_zeros():
    import matplotlib.pyplot as plt
    from mlnotes.linear import draw_coefficients, draw_constrained_2d

    fig = draw_constrained_2d(np.array([[1.0, 0.4], [0.4, 0.6]]), np.array([1.6, 1.0]), 1.0)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "L1 optimum (1.00, 0.00)" in labels
    plt.close(fig)
    fig = draw_coefficients(np.array([1.0, 0.0, 0.0]), ["a", "b", "c"], "LASSO")
    assert fig.axes[0].get_title() == "LASSO: 2 exact zeros"
    plt.close(fig)

"""Tests for mlnotes.kernel_logreg against scikit-learn and scipy; edges and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize
from sklearn.datasets import make_circles, make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.svm import SVC

from mlnotes.kernel_logreg import (KernelLogReg, hinge_objective, logreg_primal, platt_fit,
                             rbf, surrogate_losses)


def test_rbf_matches_sklearn_and_edges():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(rbf(X, Y, 0.7), rbf_kernel(X, Y, gamma=0.7), atol=1e-14)
    np.testing.assert_allclose(np.diag(rbf(X, X, 5.0)), 1.0)
    assert rbf(X[:1], X[:1], 1e6)[0, 0] == 1.0
    np.testing.assert_allclose(KernelLogReg(kernel="linear").gram(X, Y), X @ Y.T)


def test_kernel_bad_input():
    with pytest.raises(ValueError, match=r"Y must have shape \(M, D\) with D = 2, got shape \(2, 3\)"):
        rbf(np.zeros((2, 2)), np.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="gamma"):
        rbf(np.zeros((2, 2)), np.zeros((2, 2)), 0.0)
    with pytest.raises(TypeError, match="gamma"):
        rbf(np.zeros((2, 2)), np.zeros((2, 2)), "1")
    with pytest.raises(TypeError, match="X must be a numeric array"):
        rbf([["a"]], [["b"]], 1.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=30))
def test_surrogates_bound_zero_one(margins):
    losses = surrogate_losses(margins)
    assert np.all(losses["hinge"] >= losses["0/1"])
    assert np.all(losses["scaled logistic"] >= losses["0/1"])
    assert np.all(losses["squared"] >= losses["0/1"])


def test_surrogates_values_and_bad_input():
    losses = surrogate_losses([0.0, 1.0, -1.0, 800.0, -800.0])
    np.testing.assert_allclose(losses["hinge"], [1, 0, 2, 0, 801])
    np.testing.assert_allclose(losses["scaled logistic"][:1], [1.0])
    assert np.isfinite(losses["scaled logistic"]).all()
    with pytest.raises(ValueError, match="s must be"):
        surrogate_losses([])
    with pytest.raises(ValueError, match="s must be finite"):
        surrogate_losses([np.nan])


def test_hinge_objective_is_minimized_by_linear_svc():
    X, y01 = make_moons(100, noise=0.2, random_state=0)
    y = 2 * y01 - 1
    svc = SVC(kernel="linear", C=1.0, tol=1e-8).fit(X, y)
    w, b = svc.coef_[0], svc.intercept_[0]
    best = hinge_objective(w, b, X, y, 1.0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert hinge_objective(w + 1e-3 * rng.normal(size=2), b + 1e-3 * rng.normal(), X, y, 1.0) >= best - 1e-9
    with pytest.raises(ValueError, match="y must hold only the values -1, 1"):
        hinge_objective(w, b, X, y01 * 2, 1.0)
    with pytest.raises(ValueError, match="w must have shape"):
        hinge_objective([1.0], b, X, y, 1.0)
    with pytest.raises(ValueError, match="C must be"):
        hinge_objective(w, b, X, y, -1.0)


def test_linear_klr_equals_primal_and_sklearn():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = np.where(X @ [1.0, -2.0, 0.5] + rng.normal(size=80) > 0, 1, -1)
    lam = 0.5
    model = KernelLogReg(lam, kernel="linear").fit(X, y)
    w = logreg_primal(X, y, lam)
    sk = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(X.T @ model.beta_, w, atol=1e-6)
    np.testing.assert_allclose(sk.coef_[0], w, atol=1e-6)


def test_rbf_klr_matches_lbfgs_reference_and_learns_circles():
    X, y01 = make_circles(120, noise=0.08, factor=0.5, random_state=0)
    y = 2 * y01 - 1
    model = KernelLogReg(lam=0.01, gamma=2.0).fit(X, y)
    K = rbf_kernel(X, X, gamma=2.0)

    def objective(beta):
        f = K @ beta
        return 0.01 / len(y) * beta @ f + np.mean(np.logaddexp(0, -y * f))

    ref = minimize(objective, np.zeros(len(y)), method="L-BFGS-B", options={"gtol": 1e-12, "maxiter": 20_000})
    assert model.objective_ <= ref.fun + 1e-9
    assert abs(model.objective_ - objective(model.beta_)) < 1e-12
    assert (model.predict(X) == y).mean() >= 0.95
    proba = model.predict_proba(X)
    assert np.all((proba > 0) & (proba < 1))


def test_single_point_and_klr_bad_input():
    model = KernelLogReg(lam=1.0).fit([[0.0, 0.0]], [1])
    assert model.beta_.shape == (1,) and model.beta_[0] > 0
    with pytest.raises(ValueError, match="kernel must be"):
        KernelLogReg(kernel="poly")
    with pytest.raises(ValueError, match="lam"):
        KernelLogReg(lam=0)
    with pytest.raises(ValueError, match="this KernelLogReg is not fitted yet"):
        KernelLogReg().decision_function([[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"X must have shape \(any, self.X_.shape\[1\]\)"):
        model.decision_function([[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="y must have shape"):
        KernelLogReg().fit([[0.0], [1.0]], [1])
    with pytest.raises(ValueError, match="y must hold only the values -1, 1"):
        KernelLogReg().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match="lam"):
        logreg_primal([[0.0], [1.0]], [1, -1], lam=-1)


def test_representer_theorem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 100))
    y = np.where(rng.random(20) < 0.5, -1, 1)
    w = logreg_primal(X, y, 0.1)
    coef = np.linalg.lstsq(X.T, w, rcond=None)[0]
    assert np.linalg.norm(w - X.T @ coef) / np.linalg.norm(w) < 1e-6


def test_platt_matches_unregularized_logistic_regression():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=400)
    y = np.where(rng.random(400) < 1 / (1 + np.exp(-(2.0 * scores - 0.5))), 1, -1)
    A, B = platt_fit(scores, y)
    sk = LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(scores[:, None], y)
    assert abs(A - sk.coef_[0, 0]) < 1e-4 and abs(B - sk.intercept_[0]) < 1e-4
    with pytest.raises(ValueError, match="both classes"):
        platt_fit([0.0, 1.0], [1, 1])
    with pytest.raises(ValueError, match=r"scores must have shape \(n >= 2,\)"):
        platt_fit([0.0], [1])
    with pytest.raises(ValueError, match="finite"):
        platt_fit([0.0, np.inf], [1, -1])



def test_logreg_primal_from_random_start_lands_in_span():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 40))
    y = np.where(rng.random(10) < 0.5, -1, 1)
    w = logreg_primal(X, y, 0.1, w0=rng.normal(size=40))
    beta = np.linalg.lstsq(X.T, w, rcond=None)[0]
    assert np.linalg.norm(w - X.T @ beta) < 1e-6 * np.linalg.norm(w)
    assert np.allclose(w, logreg_primal(X, y, 0.1), atol=1e-6)
    with pytest.raises(ValueError, match="w0"):
        logreg_primal(X, y, 0.1, w0=np.zeros(3))


from adversarial_examples import Example  # noqa: E402

_X4 = np.array([[0.0, 0.0], [1.0, 0.5], [0.2, 1.0], [1.2, 1.1]])
_y4 = np.array([-1, 1, -1, 1])
ADVERSARIAL = {
    "rbf": Example(_X4, _X4, 0.5),
    "surrogate_losses": Example(np.linspace(-2, 2, 5), accepts={"s": "-1 0 int"}),  # any margins
    "hinge_objective": Example(np.array([1.0, -1.0]), 0.1, _X4, _y4, 1.0,
                               accepts={"b": "-1 0 int", "w": "-1 0 int"}),  # any real w, b
    "KernelLogReg": Example(0.1, accepts={"lam": "int"}),
    "logreg_primal": Example(_X4, _y4, 0.1),
    "platt_fit": Example(np.array([-1.0, -0.5, 0.5, 1.0]), _y4, accepts={"scores": "-1 0 int"}),
}

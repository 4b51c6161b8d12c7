"""Tests for mlnotes.boosting: GBDT against scikit-learn, XGBoost-lite against xgboost."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize_scalar
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from mlnotes.boosting import (GBDTBinaryClassifier, GBDTRegressor, XGBoostLite, XGBTree, gradients,
                              leaf_weight, sigmoid, sparsity_aware_split, split_gain, weighted_quantiles)

xgb = pytest.importorskip("xgboost")


def test_gbdt_regressor_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)
    ours = GBDTRegressor(40, 0.1, 3).fit(X, y).predict(X)
    ref = GradientBoostingRegressor(n_estimators=40, learning_rate=0.1, max_depth=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(ours, ref.predict(X), atol=1e-8)


def test_gbdt_classifier_matches_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :10]
    ours = GBDTBinaryClassifier(20, 0.1, 2).fit(X, y)
    ref = GradientBoostingClassifier(n_estimators=20, learning_rate=0.1, max_depth=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X)[:, 1], atol=1e-8)


def test_gbdt_edges():
    X = np.array([[0.0], [1.0]])
    assert np.allclose(GBDTRegressor(3, 1.0, 1).fit(X, np.array([1.0, 3.0])).predict(X), [1.0, 3.0])
    constant = GBDTRegressor(2).fit(np.ones((4, 1)), np.arange(4.0))
    assert np.allclose(constant.predict(np.ones((2, 1))), 1.5)
    assert np.allclose(sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


def test_xgboost_regression_matches_xgboost():
    X, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    params = dict(n_estimators=10, learning_rate=0.3, max_depth=3, reg_lambda=1.0, gamma=0.0,
                  min_child_weight=1.0, base_score=0.5)
    ours = XGBoostLite("reg:squarederror", **params).fit(X, y).predict(X)
    ref = xgb.XGBRegressor(tree_method="exact", n_jobs=1, **params).fit(X, y).predict(X)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_xgboost_logistic_matches_xgboost_and_gamma_prunes():
    X, y = load_breast_cancer(return_X_y=True)
    params = dict(n_estimators=10, learning_rate=0.3, max_depth=3, reg_lambda=1.0, min_child_weight=0.0,
                  base_score=0.5)
    for gamma in (0.0, 2.0):
        ours = XGBoostLite("binary:logistic", gamma=gamma, **params).fit(X, y).predict_margin(X)
        ref = xgb.XGBClassifier(tree_method="exact", n_jobs=1, gamma=gamma, **params).fit(X, y)
        np.testing.assert_allclose(ours, ref.predict(X, output_margin=True), atol=1e-5)


def test_squared_loss_without_lambda_is_mean_residual():
    rng = np.random.default_rng(0)
    r = rng.normal(size=30)
    g, h = gradients("reg:squarederror", r, np.zeros(30))
    assert abs(leaf_weight(g.sum(), h.sum(), 0.0) - r.mean()) < 1e-12


@settings(max_examples=50, deadline=None)
@given(st.floats(-50, 50), st.floats(0.01, 50), st.floats(0, 10))
def test_leaf_weight_minimises_quadratic(G, H, lam):
    w = leaf_weight(G, H, lam)
    res = minimize_scalar(lambda v: G * v + 0.5 * (H + lam) * v * v)
    assert abs(w - res.x) < 1e-6 * max(1, abs(w))
    assert abs(G * w + 0.5 * (H + lam) * w * w + 0.5 * G * G / (H + lam)) < 1e-9 * max(1, G * G)


def test_split_gain_is_score_difference():
    GL, HL, GR, HR, lam = 3.0, 2.0, -1.0, 4.0, 1.0
    score = lambda G, H: -0.5 * G * G / (H + lam)
    expected = score(GL + GR, HL + HR) - score(GL, HL) - score(GR, HR) - 0.5
    assert abs(split_gain(GL, HL, GR, HR, lam, 0.5) - expected) < 1e-12


def test_weighted_quantiles_unit_weights_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=101)
    q = np.linspace(0, 1, 37)
    np.testing.assert_array_equal(weighted_quantiles(x, np.ones_like(x), q), np.quantile(x, q, method="inverted_cdf"))
    assert weighted_quantiles(np.array([5.0]), np.array([1.0]), 0.5) == 5.0


def test_sparsity_aware_split_prefers_the_right_side_for_missing():
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan, np.nan])
    g = np.array([-1.0, -1.0, 1.0, 1.0, 1.0, 1.0])       # missing rows behave like large x
    gain, thr, missing_left = sparsity_aware_split(x, g, np.ones(6), lam=1.0)
    assert thr == 2.5 and missing_left is False and gain > 0
    gain2, _, left2 = sparsity_aware_split(x, -g * np.array([1, 1, 1, 1, -1, -1]), np.ones(6), lam=1.0)
    assert left2 is True


def test_bad_inputs():
    with pytest.raises(ValueError, match="n_estimators"):
        GBDTRegressor(0)
    with pytest.raises(ValueError, match="learning_rate"):
        GBDTBinaryClassifier(5, learning_rate=-1)
    with pytest.raises(ValueError, match="max_depth"):
        GBDTRegressor(5, max_depth=0)
    with pytest.raises(ValueError, match="y must"):
        GBDTRegressor(2).fit(np.zeros((3, 1)), np.zeros(2))
    with pytest.raises(ValueError, match=r"y must hold only the values 0, 1, got \[2.0\]"):
        GBDTBinaryClassifier(2).fit(np.zeros((3, 1)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="y must hold both labels 0 and 1"):
        GBDTBinaryClassifier(2).fit(np.zeros((3, 1)), np.array([1, 1, 1]))
    with pytest.raises(ValueError, match="not fitted"):
        GBDTRegressor(2).predict(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="not fitted"):
        GBDTBinaryClassifier(2).predict_proba(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="lam"):
        leaf_weight(1.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="H \\+ lambda"):
        leaf_weight(1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="gamma"):
        split_gain(1, 1, 1, 1, 1.0, -1.0)
    with pytest.raises(ValueError, match="objective"):
        XGBoostLite("multi:softmax")
    with pytest.raises(ValueError, match="base_score"):
        XGBoostLite("binary:logistic", base_score=1.0)
    with pytest.raises(ValueError, match="min_child_weight"):
        XGBTree(min_child_weight=-1)
    with pytest.raises(ValueError, match=r"h must have values in \[0.0, inf\], got values in \[-1, -1\]"):
        XGBTree().fit(np.zeros((2, 1)), np.zeros(2), -np.ones(2))
    with pytest.raises(ValueError, match="not fitted"):
        XGBTree().predict(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="not fitted"):
        XGBoostLite().predict(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="objective"):
        gradients("hinge", np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="F must have shape"):
        gradients("reg:squarederror", np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="q must"):
        weighted_quantiles(np.arange(3.0), np.ones(3), 1.5)
    with pytest.raises(ValueError, match="positive sum"):
        weighted_quantiles(np.arange(3.0), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="distinct"):
        sparsity_aware_split(np.array([1.0, 1.0, np.nan]), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="lam"):
        sparsity_aware_split(np.array([1.0, 2.0]), np.ones(2), np.ones(2), lam=0.0)
    with pytest.raises(ValueError, match="X must"):
        GBDTRegressor(2).fit(np.array([[np.nan]]), np.zeros(1))


def test_plot_early_stopping_draws():
    import matplotlib.pyplot as plt
    from mlnotes.boosting import plot_early_stopping
    curves = {1.0: np.array([[3.0, 2.0, 2.5]] * 2), 0.1: np.array([[4.0, 3.0, 1.5]] * 2)}
    fig = plot_early_stopping(curves, curves, 1.0)
    assert len(fig.axes) == 2
    plt.close(fig)


from adversarial_examples import Example  # noqa: E402

_Xs = np.arange(12.0).reshape(6, 2)
_ys = np.array([0.0, 0, 1, 0, 1, 1])
ADVERSARIAL = {
    "GBDTRegressor": Example(n_estimators=2),
    "GBDTBinaryClassifier": Example(n_estimators=2),
    "XGBoostLite": Example("binary:logistic", n_estimators=2),
    "XGBTree": Example(max_depth=2, accepts={"gamma": "0", "min_child_weight": "0"}),
    "gradients": Example("binary:logistic", _ys, np.zeros(6), accepts={"F": "-1 0 int"}),
    "leaf_weight": Example(1.0, 2.0, 1.0, accepts={"G": "-1 0 int", "H": "0", "lam": "0"}),
    "split_gain": Example(1.0, 2.0, -1.0, 2.0, 1.0, 0.0,
                          accepts={"GL": "-1 0 int", "GR": "-1 0 int", "HL": "0", "HR": "0",
                                   "lam": "0", "gamma": "0"}),
    "sparsity_aware_split": Example(np.array([0.1, np.nan, 0.5, 0.9]), np.array([1.0, -1, 1, -1]),
                                    np.ones(4), accepts={"x": "nan-array", "lam": "0"}),  # NaN: missing
    "weighted_quantiles": Example(np.array([1.0, 2, 3]), np.ones(3), np.array([0.0, 0.5, 1.0])),
    "plot_early_stopping": Example({1.0: np.ones((2, 3))}, {1.0: np.ones((2, 3))}, 1.0,
                                   fresh=None),
}

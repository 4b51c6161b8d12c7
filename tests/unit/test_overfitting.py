"""Tests for mlnotes.overfitting against scikit-learn and numpy references."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import PolynomialFeatures

from mlnotes.overfitting import (TRUE_FUNCTIONS, cv_select_degree, cv_select_lam, draw_poly_fit,
                                 fit_poly, generalization_gaps, plot_poly_fits, plot_remedies,
                                 poly_train_test_mse, predict_poly, toy_regression,
                                 train_mlp_early_stopping)

torch.set_num_threads(1)  # tiny models: one thread is fastest on a shared machine


def test_toy_regression_shapes_seed_and_noise_free():
    x, y = toy_regression(50, noise=0.0, seed=1)
    assert x.shape == y.shape == (50,) and np.all(np.diff(x) >= 0) and np.all(np.abs(x) <= 1)
    np.testing.assert_allclose(y, TRUE_FUNCTIONS["sin"](x))
    a, b = toy_regression(5, seed=3), toy_regression(5, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    x1, y1 = toy_regression(1, noise=0.0, fn="linear")
    assert y1[0] == pytest.approx(0.5 + 1.5 * x1[0])


@settings(max_examples=50, deadline=None)
@given(degree=st.integers(0, 8), seed=st.integers(0, 10_000))
def test_fit_poly_matches_sklearn_polynomial_regression(degree, seed):
    x, y = toy_regression(30, seed=seed)
    ours = predict_poly(fit_poly(x, y, degree), x)
    ref = LinearRegression(fit_intercept=False).fit(PolynomialFeatures(degree).fit_transform(x[:, None]), y)
    np.testing.assert_allclose(ours, ref.predict(PolynomialFeatures(degree).fit_transform(x[:, None])), atol=1e-8)


def test_train_mse_non_increasing_and_interpolation():
    x, y = toy_regression(15, seed=0)
    xt, yt = toy_regression(500, seed=1)
    train, test = poly_train_test_mse(x, y, xt, yt, range(15))
    assert np.all(np.diff(train) <= 1e-12)
    assert train[14] < 1e-10 and test[14] > test[3]


def test_generalization_gap_shrinks_with_n():
    gaps = generalization_gaps(5, [10, 100], n_resamples=10, seed=0)
    assert gaps.shape == (2,) and gaps[1] < gaps[0]


def test_cv_select_degree_agrees_with_manual_kfold():
    x, y = toy_regression(30, seed=2)
    best, cv = cv_select_degree(x, y, [1, 3, 5], k=5, seed=0)
    manual = []
    for d in (1, 3, 5):
        errs = []
        for tr, va in KFold(5, shuffle=True, random_state=0).split(x):
            coef = np.polyfit(x[tr], y[tr], d)
            errs.append(np.mean((np.polyval(coef, x[va]) - y[va]) ** 2))
        manual.append(np.mean(errs))
    np.testing.assert_allclose(cv, manual, rtol=1e-8)
    assert best == [1, 3, 5][int(np.argmin(manual))]


def test_early_stopping_curves():
    x, y = toy_regression(10, seed=0)
    xv, yv = toy_regression(20, seed=1)
    train, val = train_mlp_early_stopping(x, y, xv, yv, width=8, num_epochs=50, seed=0)
    assert train.shape == val.shape == (50,) and train[-1] < train[0]
    again = train_mlp_early_stopping(x, y, xv, yv, width=8, num_epochs=50, seed=0)[0]
    np.testing.assert_array_equal(train, again)


@pytest.mark.parametrize("call, error, match", [
    (lambda: toy_regression(0), ValueError, "n must be"),
    (lambda: toy_regression(5.0), TypeError, "n must be an int"),
    (lambda: toy_regression(5, noise=-1.0), ValueError, "noise"),
    (lambda: toy_regression(5, fn="cos"), ValueError, "fn"),
    (lambda: fit_poly([0.0, 1.0], [1.0], 1), ValueError, "y must have shape"),
    (lambda: fit_poly([0.0, 1.0], [1.0, 2.0], 1, penalty="l0"), ValueError, "penalty"),
    (lambda: fit_poly([0.0, 1.0], [1.0, 2.0], 1, lam=-1.0), ValueError, "lam"),
    (lambda: predict_poly([], [0.0]), ValueError, "coef"),
    (lambda: poly_train_test_mse([0.0], [1.0], [0.0], [1.0], []), ValueError, "degrees must be a non-empty"),
    (lambda: poly_train_test_mse([0.0], [1.0], [0.0], [1.0], np.array([], dtype=int)), ValueError,
     "degrees"),
    (lambda: generalization_gaps(5, [3]), ValueError, "ns"),
    (lambda: generalization_gaps(5, [10], n_resamples=0), ValueError, "n_resamples"),
    (lambda: cv_select_degree([0.0, 1.0], [0.0, 1.0], [1], k=5), ValueError, "k must be <= 2"),
    (lambda: cv_select_degree([0.0, 1.0], [0.0, 1.0], [1], k=1), ValueError, "k must be"),
    (lambda: train_mlp_early_stopping([0.0], [0.0], [0.0], [0.0], width=0), ValueError, "width"),
    (lambda: train_mlp_early_stopping([0.0], [0.0], [0.0], [0.0], lr=0.0), ValueError, "lr"),
])
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_jitter_augment_copies_targets_and_moves_inputs():
    from mlnotes.overfitting import jitter_augment
    x, y = np.linspace(-1, 1, 5), np.arange(5.0)
    xa, ya = jitter_augment(x, y, copies=3, sd=0.1, seed=0)
    assert xa.shape == ya.shape == (20,)
    assert np.array_equal(xa[:5], x) and np.array_equal(ya, np.tile(y, 4))
    assert 0.02 < np.std(xa[5:] - np.tile(x, 3)) < 0.3
    with pytest.raises(ValueError, match="sd"):
        jitter_augment(x, y, copies=1, sd=-1.0)


def test_dropout_run_is_deterministic_and_fits_less():
    from mlnotes.overfitting import toy_regression, train_mlp_early_stopping
    x, y = toy_regression(10, seed=0)
    a = train_mlp_early_stopping(x, y, x, y, width=16, num_epochs=50, seed=1, dropout=0.3)
    b = train_mlp_early_stopping(x, y, x, y, width=16, num_epochs=50, seed=1, dropout=0.3)
    assert np.array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="dropout"):
        train_mlp_early_stopping(x, y, x, y, num_epochs=5, dropout=1.0)


def test_l1_fit_matches_coordinate_descent_map_and_sets_zeros():
    """LARS (fit_poly, penalty='l1') against mlnotes.linear's coordinate descent on the same objective."""
    from mlnotes.linear import lasso_map_cd, poly_design
    x, y = toy_regression(40, seed=4)
    for lam in (0.1, 1.0, 5.0):
        ours = fit_poly(x, y, 8, lam, penalty="l1")
        # ||Aw - y||^2 + lam ||w||_1 is 2 x (||Aw - y||^2 / 2 + (lam / 2) ||w||_1): laplace_b = 2 / lam
        ref = lasso_map_cd(poly_design(x, 8), y, noise_sd=1.0, laplace_b=2.0 / lam, iters=100_000)
        np.testing.assert_allclose(ours, ref, atol=1e-7)
    assert np.sum(fit_poly(x, y, 8, 5.0, penalty="l1") == 0) >= 3
    np.testing.assert_allclose(fit_poly(x, y, 3, 0.0, penalty="l1"), fit_poly(x, y, 3))


def test_cv_select_lam_agrees_with_manual_kfold():
    x, y = toy_regression(20, seed=5)
    lams = [1e-3, 1e-1, 10.0]
    best, cv = cv_select_lam(x, y, 9, lams, k=4, seed=1, penalty="l2")
    manual = [np.mean([poly_train_test_mse(x[tr], y[tr], x[va], y[va], [9], lam)[1][0]
                       for tr, va in KFold(4, shuffle=True, random_state=1).split(x)]) for lam in lams]
    np.testing.assert_allclose(cv, manual, rtol=1e-12)
    assert best == lams[int(np.argmin(manual))]


def test_mlp_test_curve_is_a_third_evaluation_set():
    x, y = toy_regression(10, seed=0)
    xv, yv = toy_regression(20, seed=1)
    train, val, test = train_mlp_early_stopping(x, y, xv, yv, width=8, num_epochs=30, seed=0,
                                                x_test=xv, y_test=yv)
    np.testing.assert_array_equal(val, test)  # the same points give the same curve
    assert train.shape == test.shape == (30,)


def test_plot_helpers_draw_what_they_promise():
    import matplotlib.pyplot as plt
    x, y = toy_regression(15, seed=0)
    fig = plot_poly_fits(x, y, x, y, [1, 3])
    assert len(fig.axes) == 2 and "degree 3" in fig.axes[1].get_title()
    fig2 = draw_poly_fit(x, y, x, y, 5, lam=0.1)
    assert "n = 15" in fig2.axes[0].get_title()
    fig3, ax = plt.subplots()
    plot_remedies(ax, {"a": [0.1, 0.2], "b": [1.0, 10.0]}, 0.09)
    assert ax.get_yscale() == "log" and len(ax.collections) >= 2
    plt.close("all")


from adversarial_examples import Example  # noqa: E402

_xo = np.linspace(-1, 1, 8)
_yo = np.sin(_xo)
ADVERSARIAL_EXEMPT = {"TRUE_FUNCTIONS": "a constant dict of rules, not a callable"}
ADVERSARIAL = {
    "toy_regression": Example(10, noise=0.3, seed=0, fn="sin", accepts={"noise": "0"}),
    "fit_poly": Example(_xo, _yo, 2, lam=0.0, accepts={"degree": "0", "lam": "0"}),
    "predict_poly": Example(np.array([1.0, 0.5]), _xo),
    "poly_train_test_mse": Example(_xo, _yo, _xo, _yo, [1, 2], lam=0.0, accepts={"lam": "0"}),
    "generalization_gaps": Example(1, [10], n_resamples=2, noise=0.3, seed=0, n_test=20,
                                   accepts={"noise": "0", "degree": "0"}),
    "cv_select_degree": Example(_xo, _yo, [1, 2], k=2, seed=0),
    "train_mlp_early_stopping": Example(_xo, _yo, _xo, _yo, width=4, num_epochs=2, lr=0.01,
                                        seed=0, dropout=0.0, accepts={"dropout": "0"},
                                        timeout=10),
    "jitter_augment": Example(_xo, _yo, 2, 0.1, seed=0, accepts={"copies": "0", "sd": "0"}),
    "cv_select_lam": Example(_xo, _yo, 2, [0.1, 1.0], k=2, seed=0, penalty="l1",
                             accepts={"degree": "0"}),
    "plot_poly_fits": Example(_xo, _yo, _xo, _yo, [1, 2], accepts={"degrees": "0"}),
    "draw_poly_fit": Example(_xo, _yo, _xo, _yo, 2, lam=0.1, accepts={"degree": "0", "lam": "0"}),
    "plot_remedies": Example(results={"a": [0.1, 0.2], "b": [1.0, 2.0]}, noise_var=0.09,
                             fresh=lambda: {"ax": _axes()}),
}


def _axes():
    import matplotlib.pyplot as plt
    plt.close("all")
    return plt.subplots()[1]

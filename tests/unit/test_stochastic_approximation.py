"""Tests for mlnotes.stochastic_approximation against numpy closed forms and np.linalg.lstsq."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import brentq

from mlnotes.stochastic_approximation import incremental_mean, power_step, robbins_monro, sgd_lstsq


@settings(max_examples=50, deadline=None)
@given(xs=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200))
def test_incremental_mean_equals_cumulative_mean(xs):
    xs = np.array(xs)
    ref = np.cumsum(xs) / np.arange(1, xs.size + 1)
    np.testing.assert_allclose(incremental_mean(xs), ref, rtol=1e-9, atol=1e-6)


def test_incremental_mean_constant_step_closed_form_and_edges():
    xs = np.random.default_rng(0).normal(size=300)
    a, w0 = 0.2, 3.0
    K = xs.size
    closed = (1 - a) ** K * w0 + np.sum(a * (1 - a) ** (K - np.arange(1, K + 1)) * xs)
    assert incremental_mean(xs, step=a, w0=w0)[-1] == pytest.approx(closed, abs=1e-10)
    assert incremental_mean([7.0]).tolist() == [7.0]
    assert incremental_mean([1.0, 5.0], step=1.0).tolist() == [1.0, 5.0]   # a = 1: keep the last sample


def test_power_step_values():
    k = np.array([1.0, 4.0])
    np.testing.assert_allclose(power_step(2.0, 0.5)(k), [2.0, 1.0])
    np.testing.assert_allclose(power_step(0.1, 0.0)(k), [0.1, 0.1])
    np.testing.assert_allclose(power_step(1.0, 1.0, k0=1.0)(k), [0.5, 0.2])


def test_robbins_monro_converges_and_is_vectorised():
    g = lambda w: np.tanh(w - 1) + 0.5 * (w - 1)
    assert brentq(g, -5, 5) == pytest.approx(1.0)
    noise = np.random.default_rng(0).standard_normal((5000, 4))
    traj = robbins_monro(g, 10.0, power_step(1.0, 1.0), 5000, noise=noise)
    assert traj.shape == (5001, 4) and np.all(np.abs(traj[-1] - 1) < 0.05)
    single = robbins_monro(g, 10.0, power_step(1.0, 1.0), 5000, noise=noise[:, 2])
    np.testing.assert_allclose(single, traj[:, 2])
    # no noise and a = 1/c on a linear g: one step lands on the root
    assert robbins_monro(lambda w: 2 * (w - 3), 0.0, power_step(0.5, 0.0), 1, noise_std=0.0)[-1] == 3.0


def test_robbins_monro_mean_estimation_is_incremental_mean():
    xs = np.random.default_rng(1).normal(2.0, 1.0, 1000)
    traj = robbins_monro(lambda w: w - 2.0, 0.0, power_step(1.0, 1.0), 1000, noise=2.0 - xs)
    np.testing.assert_allclose(traj[1:], incremental_mean(xs), atol=1e-12)


def test_sgd_lstsq_reaches_least_squares_and_bgd_equivalence():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -1.0, 2.0]) + 0.1 * rng.normal(size=200)
    w_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    traj = sgd_lstsq(X, y, lambda k: 0.5 / (k ** 0.75 + 10), 20_000, seed=0)
    assert np.abs(traj[-1] - w_ls).max() < 0.02
    bgd = sgd_lstsq(X, y, lambda k: np.full_like(k, 0.5), 30, batch=200, shuffle=False)
    w = np.zeros(3)
    for _ in range(30):
        w = w - 0.5 * X.T @ (X @ w - y) / 200
    np.testing.assert_allclose(bgd[-1], w, rtol=0, atol=1e-12)
    assert sgd_lstsq(X[:1], y[:1], lambda k: 0.1 + 0 * k, 1).shape == (2, 3)


@pytest.mark.parametrize("call, error, match", [
    (lambda: incremental_mean([]), ValueError, "non-empty"),
    (lambda: incremental_mean([[1.0]]), ValueError, "1-D"),
    (lambda: incremental_mean([np.nan]), ValueError, "NaN"),
    (lambda: incremental_mean([1.0], step=1.5), ValueError, "step"),
    (lambda: incremental_mean(["a"]), TypeError, "numeric"),
    (lambda: power_step(0.0, 1.0), ValueError, "a0 must"),
    (lambda: power_step(1.0, -1.0), ValueError, "p must"),
    (lambda: power_step("1", 1.0), TypeError, "a0"),
    (lambda: robbins_monro("g", 0.0, power_step(), 10), TypeError, "callable"),
    (lambda: robbins_monro(lambda w: w, 0.0, power_step(), 0), ValueError, "K must be"),
    (lambda: robbins_monro(lambda w: w, 0.0, "1/k", 10), TypeError, "step_fn"),
    (lambda: robbins_monro(lambda w: w, 0.0, lambda k: -k, 10), ValueError, "non-negative"),
    (lambda: robbins_monro(lambda w: w, 0.0, power_step(), 10, noise=np.zeros(9)), ValueError, "noise"),
    (lambda: robbins_monro(lambda w: w, 0.0, power_step(), 10, noise_std=-1.0), ValueError, "noise_std"),
    (lambda: sgd_lstsq(np.ones(3), np.ones(3), power_step(), 5), ValueError, "shape"),
    (lambda: sgd_lstsq(np.ones((3, 2)), np.ones(4), power_step(), 5), ValueError, r"y must have shape \(N,\) with N = 3"),
    (lambda: sgd_lstsq(np.ones((3, 2)), np.ones(3), power_step(), 5, batch=4), ValueError, "batch"),
    (lambda: sgd_lstsq(np.ones((3, 2)), np.ones(3), power_step(), 5, w0=np.ones(3)), ValueError, "w0"),
])
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gradient_noise_profile_against_closed_forms():
    from mlnotes.stochastic_approximation import gradient_noise_profile
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -1.0, 2.0]) + 0.5 * rng.normal(size=200)
    w_far = np.zeros(3)
    p = gradient_noise_profile(X, y, w_far, np.array([1e-4, 0.5, 2.0]))
    w_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    # true gradient = H (w - w_LS) with H = X^T X / n
    w = w_ls + 0.5 * (w_far - w_ls)
    assert np.isclose(p["grad_norm"][1], np.linalg.norm(X.T @ X @ (w - w_ls) / 200), rtol=1e-10)
    # at the optimum the noise is the spread of x_i r_i
    r = X @ w_ls - y
    assert np.isclose(p["noise_sd"][0], np.sqrt(np.mean(r**2 * (X**2).sum(1))), rtol=1e-3)
    assert p["relative"][0] > 100 * p["relative"][-1]
    assert 0.3 < p["uphill"][0] <= 0.7 and p["uphill"][-1] < 0.1


def test_gradient_noise_profile_rejects_bad_shapes():
    from mlnotes.stochastic_approximation import gradient_noise_profile
    with pytest.raises(ValueError, match="w_far"):
        gradient_noise_profile(np.ones((5, 2)), np.ones(5), np.zeros(3), [0.1])
    with pytest.raises(ValueError, match="distances"):
        gradient_noise_profile(np.ones((5, 2)), np.ones(5), np.zeros(2), [-0.1])


from adversarial_examples import Example  # noqa: E402

_X = np.random.default_rng(0).normal(size=(12, 2))
_y = _X @ np.array([1.0, -1.0])
ADVERSARIAL = {
    "power_step": Example(a0=1.0, p=1.0, k0=0.0, accepts={"p": "0", "k0": "0"}),
    "incremental_mean": Example(np.array([1.0, 2.0, 3.0]), step=None, w0=0.0,
                                accepts={"step": "None int", "w0": "-1 0 int"}),
    "robbins_monro": Example(lambda w: w - 1.0, 0.0, lambda k: 1.0 / k, 20, seed=0,
                             accepts={"w0": "-1 0 int"}),
    "sgd_lstsq": Example(_X, _y, lambda k: 0.1 / k, 10, batch=2, seed=0),
    "gradient_noise_profile": Example(_X, _y, np.zeros(2), np.array([0.1, 1.0]),
                                      accepts={"distances": "0"}),
    "plot_noise_profile": Example(
        [{"distances": np.array([0.1, 1.0]), "grad_norm": np.ones(2), "noise_sd": np.ones(2),
          "relative": np.ones(2), "uphill": np.zeros(2)}],
        fresh=lambda: {"axes": __import__("matplotlib.pyplot").pyplot.subplots(1, 2)[1]}),
}

"""Tests for mlnotes.bias against scikit-learn, scipy and core torch."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.special import expit, logit
from scipy.stats import entropy
from sklearn.linear_model import LogisticRegression

from adversarial_examples import Example
from mlnotes.bias import (augment, binary_entropy, fit_mlp, homogeneous_best_fit, make_mlp,
                          mean_bce_with_logits, prior_logit, sigmoid_midpoint, sigmoid_neuron,
                          threshold_unit, draw_linear_unit)

torch.set_num_threads(1)  # tiny models: one thread is fastest on a shared machine


def test_augment_matches_sklearn_decision_function():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] - X[:, 2] > 0.3).astype(int)
    clf = LogisticRegression().fit(X, y)
    theta = np.append(clf.coef_[0], clf.intercept_[0])
    np.testing.assert_allclose(augment(X) @ theta, clf.decision_function(X), atol=1e-12)
    assert augment([[2.0]]).tolist() == [[2.0, 1.0]]


def test_threshold_unit_equals_bias_form_and_edges():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4))
    w = rng.normal(size=4)
    assert np.array_equal(threshold_unit(X, w, 0.3), (X @ w - 0.3 >= 0).astype(int))
    # the threshold is inclusive: w.x == T fires
    assert threshold_unit([[1.0, 1.0]], [1.0, 1.0], 2.0).tolist() == [1]


@settings(max_examples=50, deadline=None)
@given(w=st.floats(-20, 20).filter(lambda v: abs(v) > 1e-3), b=st.floats(-20, 20))
def test_sigmoid_neuron_matches_scipy_and_midpoint(w, b):
    x = np.linspace(-50, 50, 101)
    np.testing.assert_allclose(sigmoid_neuron(x, w, b), expit(w * x + b), rtol=1e-12, atol=1e-300)
    mid = sigmoid_midpoint(w, b)
    assert sigmoid_neuron(np.array([mid]), w, b)[0] == pytest.approx(0.5, abs=1e-9)


def test_sigmoid_extreme_inputs_do_not_overflow():
    out = sigmoid_neuron(np.array([-1e4, 0.0, 1e4]), 1.0, 0.0)
    assert out.tolist() == [0.0, 0.5, 1.0]


def test_make_mlp_bias_free_is_positively_homogeneous():
    f = make_mlp([2, 8, 8, 1], bias=False, seed=3)
    assert all(not isinstance(m, torch.nn.Linear) or m.bias is None for m in f)
    x = torch.randn(50, 2, dtype=torch.float64)
    with torch.no_grad():
        assert (f(2.5 * x) - 2.5 * f(x)).abs().max() <= 1e-12
        assert f(torch.zeros(1, 2, dtype=torch.float64)).item() == 0.0
    # same seed, same weights; the global RNG is left alone
    state = torch.random.get_rng_state()
    g = make_mlp([2, 8, 8, 1], bias=False, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(f.parameters(), g.parameters()))


def test_homogeneous_best_fit_matches_lstsq_and_bounds_training():
    x = np.linspace(-1, 1, 41)
    y = x ** 2 + 1
    a_pos, a_neg, mse = homogeneous_best_fit(x, y)
    for side, a in ((x > 0, a_pos), (x < 0, a_neg)):
        ref = np.linalg.lstsq(x[side, None], y[side], rcond=None)[0][0]
        assert a == pytest.approx(ref, rel=1e-12)
    losses = fit_mlp(make_mlp([1, 8, 1], bias=False, seed=0), x, y, num_epochs=100, lr=0.05)
    assert min(losses) >= mse - 1e-12
    # one-sided data: the missing side gets slope 0
    assert homogeneous_best_fit(np.array([1.0, 2.0]), np.array([2.0, 4.0]))[:2] == (2.0, 0.0)


def test_fit_mlp_with_bias_learns_a_constant():
    x = np.linspace(-1, 1, 21)
    losses = fit_mlp(make_mlp([1, 8, 1], seed=0), x, np.ones_like(x), num_epochs=300, lr=0.05)
    assert losses[-1] < 1e-4 < losses[0]


@settings(max_examples=50, deadline=None)
@given(pi=st.floats(1e-6, 1 - 1e-6))
def test_prior_logit_and_entropy_against_scipy(pi):
    assert prior_logit(pi) == pytest.approx(logit(pi), rel=1e-9, abs=1e-9)
    assert binary_entropy(pi) == pytest.approx(entropy([pi, 1 - pi]), rel=1e-9, abs=1e-15)


def test_entropy_edges_and_bce_identity():
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert binary_entropy(0.5) == pytest.approx(np.log(2))
    y = np.array([1.0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    z = np.full(10, prior_logit(y.mean()))
    assert mean_bce_with_logits(z, y) == pytest.approx(binary_entropy(y.mean()), abs=1e-12)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([50.0, -3.0]), torch.tensor([0.0, 1.0]))
    assert mean_bce_with_logits([50.0, -3.0], [0, 1]) == pytest.approx(ref.item(), rel=1e-6)


@pytest.mark.parametrize("call, error, match", [
    (lambda: augment([1.0, 2.0]), ValueError, "shape"),
    (lambda: augment(np.zeros((0, 2))), ValueError, "non-empty"),
    (lambda: augment([["a"]]), TypeError, "numeric"),
    (lambda: threshold_unit([[1.0, 2.0]], [1.0], 0.0), ValueError, "w must have shape"),
    (lambda: threshold_unit([[1.0]], [1.0], float("nan")), ValueError, "finite"),
    (lambda: threshold_unit([[np.nan]], [1.0], 0.0), ValueError, "NaN"),
    (lambda: sigmoid_neuron([[1.0]], 1.0, 0.0), ValueError, "1-D"),
    (lambda: sigmoid_neuron([], 1.0, 0.0), ValueError, "empty"),
    (lambda: sigmoid_neuron([1.0], "1", 0.0), TypeError, "real number"),
    (lambda: sigmoid_midpoint(0.0, 1.0), ValueError, "non-zero"),
    (lambda: make_mlp([3]), ValueError, "at least"),
    (lambda: make_mlp([3, 0, 1]), ValueError, r"widths must have values in \[1, 4096\]"),
    (lambda: make_mlp("31"), TypeError, "widths must be a numeric array"),
    (lambda: make_mlp([1, 1], bias=1), TypeError, "bias must be True or False"),
    (lambda: make_mlp([1, 1], seed=-1), ValueError, "seed"),
    (lambda: fit_mlp(make_mlp([1, 1]), [1.0, 2.0], [1.0]), ValueError, r"y must have shape \(N,\) with N = 2"),
    (lambda: fit_mlp(make_mlp([1, 1]), [1.0], [1.0], num_epochs=0), ValueError, "num_epochs"),
    (lambda: fit_mlp(make_mlp([1, 1]), [1.0], [1.0], lr=-1.0), ValueError, "lr"),
    (lambda: fit_mlp("net", [1.0], [1.0]), TypeError, "Module"),
    (lambda: homogeneous_best_fit([1.0], [1.0, 2.0]), ValueError, r"y must have shape \(N,\) with N = 1"),
    (lambda: prior_logit(1.0), ValueError, r"pi must be in \(0, 1\)"),
    (lambda: binary_entropy(1.5), ValueError, r"\[0, 1\]"),
    (lambda: mean_bce_with_logits([0.0], [0.5]), ValueError, "y must hold only the values 0, 1"),
    (lambda: mean_bce_with_logits([0.0, 1.0], [0.0]), ValueError, r"y must have shape \(N,\) with N = 2"),
])
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


ADVERSARIAL = {
    "augment": Example(np.ones((3, 2))),
    "threshold_unit": Example(np.ones((3, 2)), np.array([1.0, -1.0]), 0.5, accepts={"T": "-1 0"}),  # any threshold
    "sigmoid_neuron": Example(np.linspace(-2, 2, 5), 1.0, 0.5, accepts={"w": "-1 0", "b": "-1 0"}),
    "sigmoid_midpoint": Example(2.0, 1.0, accepts={"w": "-1", "b": "-1 0"}),
    "make_mlp": Example([1, 4, 1], bias=False, seed=0),
    "fit_mlp": Example(fresh=lambda: {"model": make_mlp([1, 4, 1], seed=0)}, x=np.linspace(-1, 1, 8),
                       y=np.linspace(-1, 1, 8) ** 2, num_epochs=3, lr=0.01),
    "homogeneous_best_fit": Example(np.linspace(-1, 1, 8), np.linspace(-1, 1, 8) ** 2 + 1),
    "prior_logit": Example(0.2),
    "binary_entropy": Example(0.2, accepts={"pi": "0"}),  # H(0) = 0
    "draw_linear_unit": Example(np.array([[3.0, 3.0], [5.0, 5.0]]), np.array([0, 1]), 45.0, -5.66,
                                accepts={"angle_deg": "-1 0", "b": "-1 0"}),  # any direction and bias
    "mean_bce_with_logits": Example(np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 1.0])),
}


def test_draw_linear_unit_reports_the_accuracy_it_shades():
    X, y = np.array([[3.0, 3.0], [5.0, 5.0]]), np.array([0, 1])
    fig = draw_linear_unit(X, y, 45.0, -4 * np.sqrt(2))
    assert fig.axes[0].get_title().endswith("accuracy 1.00")
    plt.close(fig)
    fig = draw_linear_unit(X, y, 45.0, 0.0)
    assert fig.axes[0].get_title().endswith("accuracy 0.50")
    plt.close(fig)

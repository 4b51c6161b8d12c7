"""Tests for mlnotes.smoothing against scipy, torch and scikit-learn references."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax
from sklearn.metrics import accuracy_score, f1_score

from adversarial_examples import Example
from mlnotes.smoothing import (draw_soft_topk, finetune_soft_f1, smooth_max, soft_accuracy, soft_argmax, soft_f1,
                            soft_k_max, softmax_regression_history, threshold_topk,
                            weighted_softmax_topk)

vectors = st.lists(st.floats(-50, 50), min_size=1, max_size=12)

_X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
_BATCH = {"x": "ndim"}  # x may be one vector (n,) or a batch (..., n)
ADVERSARIAL = {
    "smooth_max": Example(np.array([1.0, 2.0, 3.0]), tau=0.5, axis=-1, accepts={"axis": "0", "x": "ndim"}),
    "soft_argmax": Example(np.array([1.0, 2.0, 3.0]), tau=0.5, accepts=_BATCH),
    "soft_k_max": Example(np.array([1.0, 2.0, 3.0]), 2, tau=0.5, accepts=_BATCH),
    "weighted_softmax_topk": Example(np.array([1.0, 2.0, 3.0]), 2, tau=0.5, accepts=_BATCH),
    "threshold_topk": Example(np.array([1.0, 2.0, 3.0]), 2, tau=0.5, num_iters=20, accepts=_BATCH),
    "soft_accuracy": Example(torch.tensor([[0.2, 0.8], [0.6, 0.4]]), torch.tensor([1, 0]),
                             accepts={"probs": "numpy", "y": "numpy"}),  # numpy or torch alike
    "soft_f1": Example(torch.tensor([0.2, 0.8, 0.6]), torch.tensor([0.0, 1.0, 1.0]),
                       accepts={"p": "numpy", "t": "numpy"}),
    "softmax_regression_history": Example(_X, np.array([0, 1, 0, 1]), _X, np.array([0, 1, 0, 1]), lr=0.5,
                                          num_epochs=1, batch_size=2, seed=0),
    "finetune_soft_f1": Example(_X, np.array([0.0, 1.0, 0.0, 1.0]), np.zeros(2), 0.0, lr=0.01, num_steps=2,
                                accepts={"b0": "-1 0"}),
    "draw_soft_topk": Example(np.array([0.1, 1.0, 0.95, -0.5]), 0.3, 2),
}


@settings(max_examples=50, deadline=None)
@given(vectors, st.sampled_from([1.0, 0.1, 0.01]))
def test_smooth_max_bounds_and_scipy(x, tau):
    x = np.array(x)
    value = smooth_max(x, tau)
    assert x.max() - 1e-12 <= value <= x.max() + tau * np.log(len(x)) + 1e-9
    assert np.isclose(value, tau * sp_logsumexp(x / tau), rtol=1e-12, atol=1e-9)


def test_smooth_max_axis_and_extremes():
    x = np.array([[1e4, 0.0], [-1e4, 3.0]])
    assert np.allclose(smooth_max(x, 1.0, axis=0), sp_logsumexp(x, axis=0))
    assert np.allclose(smooth_max(x, 1e-3), x.max(axis=1))
    assert smooth_max([5.0], 0.1) == 5.0


def test_smooth_max_gradient_is_softmax():
    x = torch.randn(7, dtype=torch.float64, requires_grad=True)
    torch.logsumexp(x, 0).backward()
    assert np.allclose(x.grad.numpy(), sp_softmax(x.detach().numpy()), atol=1e-12)


def test_soft_argmax():
    x = np.array([0.0, 3.0, 1.0, -2.0])
    assert np.isclose(soft_argmax(x, 1e-3), 1.0)
    assert np.isclose(soft_argmax(x, 1.0), sp_softmax(x) @ np.arange(4))
    assert np.isclose(soft_argmax([2.0, 2.0], 0.01), 0.5)  # ties split the index
    assert soft_argmax(np.zeros((3, 5))).shape == (3,)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=2, max_size=10, unique=True), st.data())
def test_soft_k_max_sums_to_k(x, data):
    k = data.draw(st.integers(1, len(x)))
    for tau in (1.0, 0.1):
        assert np.isclose(soft_k_max(np.array(x), k, tau).sum(), k, atol=1e-9)


def test_soft_k_max_limit_is_hard_topk():
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.normal(size=10)
        hard = np.zeros(10)
        hard[torch.topk(torch.from_numpy(x), 3).indices.numpy()] = 1
        assert np.abs(soft_k_max(x, 3, 0.001) - hard).max() < 1e-6
        assert np.abs(threshold_topk(x, 3, 1e-3) - hard).max() < 1e-6
        assert np.abs(weighted_softmax_topk(x, 3, 0.1) - hard).max() >= 0.4
    assert np.array_equal(soft_k_max([1.0, 2.0], 2), np.ones(2))


def test_weighted_softmax_limit_is_one_and_a_half():
    out = weighted_softmax_topk([3.0, 2.0, 0.0], 2, tau=0.02)
    assert np.allclose(out, [1.5, 0.5, 0.0], atol=1e-6)


def test_threshold_topk_sums_to_k():
    x = np.random.default_rng(1).normal(size=(4, 8))
    out = threshold_topk(x, 3, 0.5)
    assert np.allclose(out.sum(axis=1), 3, atol=1e-9) and out.max() < 1


def test_soft_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2, 200)
    pred = rng.integers(0, 2, 200)
    assert np.isclose(soft_f1(pred.astype(float), t), f1_score(t, pred))
    y = rng.integers(0, 4, 50)
    guess = rng.integers(0, 4, 50)
    assert np.isclose(soft_accuracy(np.eye(4)[guess], y), accuracy_score(y, guess))
    assert soft_accuracy([[1.0]], [0]) == 1.0


def test_soft_metrics_torch_autograd():
    p = torch.tensor([0.2, 0.9, 0.6], dtype=torch.float64, requires_grad=True)
    value = soft_f1(p, np.array([0, 1, 1]))
    value.backward()
    assert torch.is_tensor(value) and p.grad is not None
    probs = torch.softmax(torch.zeros(2, 3, requires_grad=True), 1)
    assert torch.isclose(soft_accuracy(probs, torch.tensor([0, 2])), torch.tensor(1 / 3))


def test_training_helpers_run():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    h = softmax_regression_history(X, y, X, y, lr=0.5, num_epochs=3, batch_size=16)
    assert h["acc"].shape == (4,) and h["acc"][-1] > 0.8
    w, b = finetune_soft_f1(X, y, np.zeros(3), 0.0, lr=0.05, num_steps=20)
    assert w.shape == (3,) and np.isfinite(b)


@pytest.mark.parametrize("call, error, match", [
    (lambda: smooth_max([1.0, 2.0], 0.0), ValueError, "tau"),
    (lambda: smooth_max(3.0), ValueError, "x must have at least 1"),
    (lambda: smooth_max([1.0], "a"), TypeError, "tau"),
    (lambda: smooth_max([[1.0]], axis=3), ValueError, "axis"),
    (lambda: soft_argmax([]), ValueError, "x must have at least 1 non-empty"),
    (lambda: soft_argmax(["a"]), TypeError, "numeric"),
    (lambda: soft_k_max([1.0, 2.0], 3), ValueError, "k must be"),
    (lambda: soft_k_max([1.0, np.nan], 1), ValueError, "finite"),
    (lambda: weighted_softmax_topk([1.0, 2.0], 1.5), TypeError, "k must be an int"),
    (lambda: threshold_topk([1.0, 2.0], 2), ValueError, "k must be <= 1"),
    (lambda: soft_accuracy([0.5, 0.5], [0]), ValueError, "probs must be a non-empty 2-D array"),
    (lambda: soft_accuracy([[0.5, 0.5]], [2]), ValueError, "y must have values in"),
    (lambda: soft_accuracy([[0.5, 0.5]], [0.0]), TypeError, "integer"),
    (lambda: soft_f1([0.5, 1.5], [0, 1]), ValueError, r"p must have values in \[0.0, 1.0\]"),
    (lambda: soft_f1([0.5], [0, 1]), ValueError, r"t must have shape \(N,\) with N = 1, got shape \(2,\)"),
    (lambda: soft_f1([0.0, 0.0], [0, 0]), ValueError, "undefined"),
    (lambda: soft_f1([0.5, 0.5], [0, 2]), ValueError, "t must hold only the values 0, 1"),
    (lambda: softmax_regression_history(np.ones((3, 2)), [0, 1, 0], np.ones((2, 3)), [0, 1]),
     ValueError, "X_test must have shape"),
    (lambda: soft_f1([0.5, 0.5], [0, 0.5]), ValueError, "t must hold only the values 0, 1"),
    (lambda: finetune_soft_f1(np.ones((3, 2)), [0, 0.5, 1], np.zeros(2), 0.0), ValueError,
     "t must hold only the values 0, 1"),
    (lambda: softmax_regression_history(np.ones((3, 2)), [0, 1, 0], np.ones((2, 2)), [0, 1], seed=-1),
     ValueError, "seed"),
    (lambda: finetune_soft_f1(np.ones((3, 2)), [0, 1, 0], np.zeros(3), 0.0), ValueError, "w0"),
    (lambda: finetune_soft_f1(np.ones((3, 2)), [0, 1, 0], np.zeros(2), 0.0, lr=-1), ValueError, "lr"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_draw_soft_topk_draws_softmax_and_the_top_k():
    import matplotlib.pyplot as plt

    x = np.array([0.1, 2.0, 1.5, -0.5, 1.0])
    fig = draw_soft_topk(x, 0.01, 3)
    top, bottom = fig.axes
    heights = [bar.get_height() for bar in bottom.patches]
    assert np.allclose(heights, [0, 1, 1, 0, 1], atol=1e-3)  # cold: the hard top-3
    assert np.isclose(sum(bar.get_height() for bar in top.patches), 1.0)
    assert "argmax 1" in top.get_title() and bottom.get_ylabel() == "soft top-$3$"
    plt.close(fig)

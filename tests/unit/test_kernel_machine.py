"""Tests for mlnotes.kernel_machine: empirical NTK vs an explicit autograd loop, path-kernel bookkeeping vs torch GD."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mlnotes.kernel_machine import (TanhMLP, _analytic_jacobian, empirical_ntk, jacobian, linear_path_coefficients, mlp,
                         path_kernel_trace, train_gd)


def loop_jacobian(model, X):
    rows = []
    for x in torch.as_tensor(X, dtype=torch.float64).reshape(len(X), -1):
        model.zero_grad()
        model(x[None])[0, 0].backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).clone())
    return torch.stack(rows).numpy()


def test_ntk_equals_loop_and_is_psd():
    model = mlp(12, seed=3)
    X = np.linspace(-2, 2, 15)
    J = loop_jacobian(model, X)
    K = empirical_ntk(model, X)
    assert np.allclose(K, J @ J.T, atol=1e-12)
    assert np.allclose(K, K.T) and np.linalg.eigvalsh(K).min() > -1e-10
    assert empirical_ntk(model, X[:3], X).shape == (3, 15)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40), st.integers(1, 3), st.integers(0, 100))
def test_analytic_jacobian_matches_torch_func(width, in_dim, seed):
    model = mlp(width, in_dim=in_dim, seed=seed)
    X = np.random.default_rng(seed).normal(size=(5, in_dim))
    params = {k: v.detach().numpy() for k, v in model.named_parameters()}
    assert np.allclose(_analytic_jacobian(params, X), jacobian(model, X), atol=1e-12)


def test_path_trace_matches_torch_gd_and_reconstructs():
    rng = np.random.default_rng(0)
    X, X_test = np.sort(rng.uniform(-3, 3, 10)), np.linspace(-3, 3, 7)
    y = np.sin(X)
    trace = path_kernel_trace(mlp(8, seed=1), X, y, X_test, lr=0.005, num_steps=200)
    model = train_gd(mlp(8, seed=1), X, y, lr=0.005, num_steps=200)
    with torch.no_grad():
        f_torch = model(torch.from_numpy(X_test[:, None]))[:, 0].numpy()
    assert np.allclose(trace["fT_test"], f_torch, atol=1e-10)
    change = trace["fT_test"] - trace["f0_test"]
    assert np.linalg.norm(trace["contributions"].sum(1) - change) < 0.1 * np.linalg.norm(change)  # width 8 is far from lazy


def test_path_trace_zero_steps():
    trace = path_kernel_trace(mlp(4), [0.0, 1.0], [0.0, 1.0], [0.5], lr=0.1, num_steps=0)
    assert np.all(trace["contributions"] == 0) and np.allclose(trace["K0_train"], trace["KT_train"])


def test_linear_model_is_exact_kernel_machine():
    rng = np.random.default_rng(0)
    X, y, w0 = rng.normal(size=(30, 4)), rng.normal(size=30), rng.normal(size=4)
    w_T, c = linear_path_coefficients(X, y, w0, lr=0.01, num_steps=300)
    Xq = rng.normal(size=(5, 4))
    assert np.allclose(Xq @ w_T - Xq @ w0, (Xq @ X.T) @ c, atol=1e-10)


def test_mlp_is_deterministic():
    a, b = mlp(5, seed=2), mlp(5, seed=2)
    assert isinstance(a, TanhMLP) and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("call, error, match", [
    (lambda: mlp(0), ValueError, "width"),
    (lambda: mlp(2.5), TypeError, "width"),
    (lambda: mlp(3, seed=-1), ValueError, "seed"),
    (lambda: jacobian("model", [1.0]), TypeError, "nn.Module"),
    (lambda: jacobian(mlp(3), np.zeros((0, 1))), ValueError, "non-empty"),
    (lambda: empirical_ntk(mlp(3), [np.nan]), ValueError, "finite"),
    (lambda: empirical_ntk(mlp(3), ["a"]), TypeError, "numeric"),
    (lambda: path_kernel_trace(mlp(3), [1.0, 2.0], [1.0], [0.0], 0.1, 3), ValueError, "y must have shape"),
    (lambda: path_kernel_trace(mlp(3), [1.0], [1.0], [0.0], -0.1, 3), ValueError, "lr"),
    (lambda: path_kernel_trace(torch.nn.Linear(1, 1), [1.0], [1.0], [0.0], 0.1, 3), TypeError, "TanhMLP"),
    (lambda: train_gd(mlp(3), [1.0, 2.0], [1.0], 0.1, 3), ValueError, "y must have shape"),
    (lambda: train_gd(mlp(3), [1.0], [1.0], 0.1, -1), ValueError, "num_steps"),
    (lambda: linear_path_coefficients(np.ones((3, 2)), np.ones(3), np.ones(3), 0.1, 2), ValueError, "w0"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_hinge_gd_weights_match_svm_dual():
    from sklearn.datasets import make_blobs
    from sklearn.svm import SVC
    from mlnotes.kernel_machine import hinge_path_coefficients
    X, t = make_blobs(60, centers=[[-1.5, -1], [1.5, 1]], cluster_std=1.0, random_state=3)
    y = 2.0 * t - 1
    fit = hinge_path_coefficients(X, y, 0.02, 2000)
    svm = SVC(kernel="linear", C=1 / (60 * 0.02)).fit(X, y)
    dual = np.zeros(60)
    dual[svm.support_] = svm.dual_coef_[0]
    assert np.corrcoef(fit["alpha"], dual)[0, 1] > 0.99
    assert np.allclose(fit["w"], svm.coef_[0], atol=0.05)
    assert np.allclose(X.T @ fit["alpha"], fit["w"], atol=1e-10)


def test_hinge_rejects_bad_labels_and_batch():
    from mlnotes.kernel_machine import hinge_path_coefficients
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="y"):
        hinge_path_coefficients(X, np.array([0.0, 1, 1, -1]), 0.1, 5)
    with pytest.raises(ValueError, match="batch_size"):
        hinge_path_coefficients(X, np.array([1.0, 1, -1, -1]), 0.1, 5, batch_size=9)


def test_sgd_path_kernel_reconstruction_small_error():
    X = np.linspace(-2, 2, 8)
    tr = path_kernel_trace(mlp(16, seed=1), X, np.sin(X), X, 0.01, 200, batch_size=3, seed=2)
    change = tr["fT_test"] - tr["f0_test"]
    assert np.linalg.norm(tr["contributions"].sum(1) - change) < 1e-2 * np.linalg.norm(change)


from adversarial_examples import Example  # noqa: E402

_Xk = np.linspace(-1, 1, 4)
_Xb = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
_yb = np.array([1.0, 1.0, -1.0, -1.0])
ADVERSARIAL = {
    "draw_retrieval": Example(np.linspace(-1, 1, 4), np.sin(np.linspace(-1, 1, 4)), np.linspace(-1.5, 1.5, 6),
                              np.zeros(6), np.array([0.1, -0.2, 0.3, 0.0]), 2, title="t",
                              accepts={"title": "other-str", "query": "0"}),  # free text; any grid index
    "TanhMLP": Example(4, in_dim=1),
    "mlp": Example(4, in_dim=1, seed=0),
    "jacobian": Example(fresh=lambda: {"model": mlp(3), "X": _Xk}),
    "empirical_ntk": Example(fresh=lambda: {"model": mlp(3), "X1": _Xk, "X2": None},
                             accepts={"X2": "None"}),
    "path_kernel_trace": Example(fresh=lambda: {"model": mlp(3), "X": _Xk, "y": _Xk, "X_test": _Xk},
                                 lr=0.01, num_steps=3, batch_size=None, seed=0,
                                 accepts={"num_steps": "0", "batch_size": "None int"}),
    "train_gd": Example(fresh=lambda: {"model": mlp(3), "X": _Xk, "y": _Xk}, lr=0.01,
                        num_steps=3, accepts={"num_steps": "0"}, timeout=10),  # optimizer import
    "linear_path_coefficients": Example(_Xb, _yb, np.zeros(2), lr=0.1, num_steps=3,
                                        accepts={"num_steps": "0"}),
    "hinge_path_coefficients": Example(_Xb, _yb, 0.1, 3, batch_size=None, seed=0,
                                       accepts={"batch_size": "None int"}),
    "plot_reconstruction": Example(fresh=lambda: {"ax": _ax(), "X": _Xk, "y": _Xk, "X_test": _Xk,
                                                  "trace": _trace()}),
    "plot_gram_matrices": Example(kernels={"a": np.eye(3), "b": np.ones((3, 3))}),
    "plot_kernel_change": Example(fresh=lambda: {"ax": _ax()}, widths=np.array([16.0, 64.0]),
                                  change=np.array([[0.2, 0.1], [0.1, 0.05]])),
    "plot_hinge_svm": Example(fresh=lambda: {
        "X": _Xb, "y": _yb, "fit": {"alpha": np.ones(4), "b": 0.0},
        "svm": __import__("sklearn.svm").svm.SVC(kernel="linear").fit(_Xb, _yb),
        "ax": __import__("matplotlib.pyplot").pyplot.subplots()[1]}),
}


def test_draw_retrieval_marks_the_query_and_sums_the_contributions():
    import matplotlib.pyplot as plt
    from mlnotes.kernel_machine import draw_retrieval

    c = np.array([0.5, -0.25, 0.0])
    fig = draw_retrieval(np.array([0.0, 1.0, 2.0]), np.zeros(3), np.linspace(0, 2, 5), np.zeros(5), c, 4)
    assert fig.axes[1].get_title().endswith("(sum +0.250)") and "$x$ = 2.00" in fig.axes[1].get_title()
    assert len(fig.axes[1].patches) == 3
    plt.close(fig)


def _ax():
    import matplotlib.pyplot as plt
    plt.close("all")
    return plt.subplots()[1]


def _trace():
    return path_kernel_trace(mlp(3), _Xk, _Xk, _Xk, lr=0.01, num_steps=2)


def test_plot_helpers_draw_their_data():
    import matplotlib.pyplot as plt
    from mlnotes.kernel_machine import plot_gram_matrices, plot_kernel_change, plot_reconstruction

    X = np.linspace(-1, 1, 4)
    trace = path_kernel_trace(mlp(3), X, np.sin(X), X, lr=0.01, num_steps=5)
    ax = _ax()
    plot_reconstruction(ax, X, np.sin(X), X, trace)
    actual = ax.lines[0].get_ydata()
    np.testing.assert_allclose(actual, trace["fT_test"] - trace["f0_test"])
    fig = plot_gram_matrices({"start": trace["K0_train"], "end": trace["KT_train"]})
    assert [a.get_title() for a in fig.axes[:2]] == ["start", "end"]
    ax = _ax()
    plot_kernel_change(ax, np.array([16.0, 64.0, 256.0]), np.array([[0.2, 0.3], [0.1, 0.1], [0.05, 0.06]]))
    assert ax.get_xscale() == ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[3].get_ydata(), [0.25, 0.1, 0.055])  # the mean line
    plt.close("all")

"""Tests for mlnotes.implicit_regularization: GD, gradient flow, modified gradient (against torch and scipy)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mlnotes.implicit_regularization import (gradient_descent, gradient_flow, hyperbola_grad, hyperbola_loss,
                              loglog_slope, loss_grid, modified_gradient, numpy_grad, toy_loss)


@settings(max_examples=50, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0, 0.5))
def test_modified_gradient_matches_hessian(x, y, h):
    theta = torch.tensor([x, y], dtype=torch.float64)
    g = torch.func.grad(toy_loss)(theta)
    H = torch.autograd.functional.hessian(toy_loss, theta)
    expected = (g + 0.5 * h * H @ g).numpy()
    assert np.allclose(modified_gradient(toy_loss, [x, y], h), expected, atol=1e-12)


def test_numpy_grad_and_analytic_grad_agree():
    for point in ([2.8, 0.1], [-1.0, 3.0], [0.0, 0.0]):
        assert np.allclose(numpy_grad(hyperbola_loss)(np.array(point)), hyperbola_grad(point), atol=1e-14)


def test_gd_conservation_law():
    rng = np.random.default_rng(0)
    for _ in range(50):
        theta, h = rng.normal(size=2) * 2, rng.uniform(0.01, 0.3)
        a, b = theta
        new = gradient_descent(hyperbola_grad, theta, h, 1)[-1]
        r = a * b - 1
        assert np.isclose(new[0] ** 2 - new[1] ** 2, (a * a - b * b) * (1 - h * h * r * r), atol=1e-12)


def test_gd_shape_and_zero_steps():
    path = gradient_descent(hyperbola_grad, [1.0, 2.0], 0.1, 0)
    assert path.shape == (1, 2)
    assert gradient_descent(lambda t: t, [1.0], 0.5, 3)[-1][0] == 0.125  # exact on a quadratic


def test_flow_exact_on_quadratic():
    lam, h, T = 2.0, 0.1, 1.0
    quad = lambda th: 0.5 * lam * th[0] ** 2  # noqa: E731
    _, plain = gradient_flow(quad, [1.0], T, t_eval=[T])
    _, modified = gradient_flow(quad, [1.0], T, lr=h, t_eval=[T])
    assert np.isclose(plain[-1, 0], np.exp(-lam * T), rtol=1e-9)
    assert np.isclose(modified[-1, 0], np.exp(-(lam + h * lam ** 2 / 2) * T), rtol=1e-9)


def test_order_of_accuracy():
    theta0, T = np.array([2.0, -0.5]), 2.0
    _, flow = gradient_flow(toy_loss, theta0, T, t_eval=[T])
    hs, err = [0.1, 0.05, 0.025], []
    for h in hs:
        gd = gradient_descent(numpy_grad(toy_loss), theta0, h, int(round(T / h)))[-1]
        err.append(np.linalg.norm(gd - flow[-1]))
    assert abs(loglog_slope(hs, err) - 1) < 0.15


def test_loglog_slope_and_grid():
    assert np.isclose(loglog_slope([1, 2, 4], [3, 12, 48]), 2.0)
    X, Y, Z = loss_grid(hyperbola_loss, (-1, 1), (-2, 2), n=5)
    assert Z.shape == (5, 5) and np.isclose(Z[2, 2], 0.5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: modified_gradient(toy_loss, [1.0, 2.0], -0.1), ValueError, "lr"),
    (lambda: modified_gradient(3, [1.0, 2.0], 0.1), TypeError, "callable"),
    (lambda: gradient_descent(hyperbola_grad, [[1.0, 2.0]], 0.1, 3), ValueError, "1-D"),
    (lambda: gradient_descent(hyperbola_grad, [1.0, 2.0], 0.1, -1), ValueError, "num_steps"),
    (lambda: gradient_descent(hyperbola_grad, ["a"], 0.1, 1), TypeError, "numeric"),
    (lambda: gradient_flow(toy_loss, [1.0, np.nan], 1.0), ValueError, "finite"),
    (lambda: gradient_flow(toy_loss, [1.0, 1.0], 0.0), ValueError, "T"),
    (lambda: gradient_flow(toy_loss, [1.0, 1.0], 1.0, t_eval=[2.0]), ValueError, "t_eval"),
    (lambda: hyperbola_grad([1.0, 2.0, 3.0]), ValueError, "shape"),
    (lambda: numpy_grad("loss"), TypeError, "callable"),
    (lambda: loglog_slope([1, 2], [1, -1]), ValueError, "positive"),
    (lambda: loglog_slope([1], [1]), ValueError, ">= 2 points"),
    (lambda: loss_grid(toy_loss, (1, 0), (0, 1)), ValueError, "increasing"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_hyperbola_loss_values_and_bad_input():
    from mlnotes.implicit_regularization import hyperbola_loss

    assert float(hyperbola_loss(torch.tensor([2.0, 0.5]))) == 0.0
    assert float(hyperbola_loss(torch.tensor([0.0, 3.0]))) == 0.5
    with pytest.raises(TypeError, match="torch tensor"):
        hyperbola_loss(np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match=r"theta must have shape \(2,\)"):
        hyperbola_loss(torch.zeros(3))


def test_sharpness_power_iteration_matches_full_hessian():
    from mlnotes import implicit_regularization as igr
    params = [p[:1].clone() for p in igr._init([0], 8)]
    X, y, _, _ = igr._moons([0], 20, 1, 0.35)
    sizes = [p.numel() for p in params]
    flat = torch.cat([p.reshape(-1) for p in params])

    def unflat(v):
        return [chunk.reshape(p.shape) for chunk, p in zip(torch.split(v, sizes), params)]

    H = torch.autograd.functional.hessian(lambda v: igr._loss(unflat(v), X, y).sum(), flat)
    eig = np.linalg.eigvalsh(H.numpy())
    top = eig[np.abs(eig).argmax()]          # power iteration finds the largest |eigenvalue|
    power = igr._sharpness([p.requires_grad_() for p in params], X, y, iters=500).item()
    assert abs(power - top) < 1e-6


def test_lr_sweep_small_steps_match_and_edge_bounds_sharpness():
    from mlnotes.implicit_regularization import lr_sweep
    out = lr_sweep([0.5, 1.8], T=100.0, num_seeds=2)
    assert out["sharpness"].shape == (2, 2)
    assert np.all(out["sharpness"][-1] < 2 / 1.8 + 1e-3)          # stability edge
    assert np.all(np.isfinite(out["test_error"])) and np.all(out["test_error"] < 0.5)


def test_lr_sweep_rejects_bad_lrs():
    from mlnotes.implicit_regularization import lr_sweep
    with pytest.raises(ValueError, match="lrs"):
        lr_sweep([0.5, 0.0])
    with pytest.raises(ValueError, match="T"):
        lr_sweep([0.5], T=-1.0)


from adversarial_examples import Example  # noqa: E402


def _sweep_result():
    return {"lrs": np.array([0.5, 1.0]), "sharpness": np.ones((2, 2)),
            "test_error": np.full((2, 2), 0.1)}


ADVERSARIAL = {
    "toy_loss": Example(torch.zeros(2, dtype=torch.float64), accepts={"theta": "torch"}),
    "hyperbola_loss": Example(torch.zeros(2, dtype=torch.float64), accepts={"theta": "torch"}),
    "hyperbola_grad": Example(np.array([1.0, 2.0])),
    "numpy_grad": Example(toy_loss),
    "modified_gradient": Example(toy_loss, np.array([1.0, 2.0]), 0.1, accepts={"lr": "0"}),
    "gradient_descent": Example(hyperbola_grad, np.array([1.0, 2.0]), 0.1, 3,
                                accepts={"num_steps": "0"}),
    "gradient_flow": Example(toy_loss, np.array([1.0, 2.0]), 0.1, lr=0.0, rtol=1e-6,
                             accepts={"lr": "0"}, timeout=5),
    "loglog_slope": Example(np.array([1.0, 2.0, 4.0]), np.array([1.0, 4.0, 16.0])),
    "loss_grid": Example(toy_loss, (0.0, 1.0), (0.0, 1.0), n=5),
    "lr_sweep": Example([0.5], T=1.0, num_seeds=1, n_train=5, width=2, timeout=10),
    "plot_lr_sweep": Example(_sweep_result(),
                             fresh=lambda: {"axes": __import__("matplotlib.pyplot").pyplot.subplots(1, 2)[1]}),
}

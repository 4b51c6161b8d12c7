"""Optimisation as dynamics: gradient descent, gradient flow and the modified flow of backward error analysis.

Losses are written once
as torch functions of ``theta`` with shape ``(d, ...)`` (so they evaluate on a single point or a
grid); :func:`numpy_grad` turns them into numpy gradient functions.

- ``gradient_descent``   iterates ``theta_{k+1} = theta_k - h g(theta_k)``
- ``gradient_flow``      solves ``dtheta/dt = -g`` or the modified ``-g - (h/2) H g`` with ``solve_ivp``
- ``modified_gradient``  ``grad(L + (h/4)|grad L|^2) = g + (h/2) H g`` by double backward
- ``loglog_slope``       least-squares slope of ``log y`` on ``log x`` (order of accuracy)
- ``toy_loss`` / ``hyperbola_loss`` (+ ``hyperbola_grad``)  the chapter's two 2-D examples
- ``lr_sweep``           full-batch GD on a small tanh network for several learning rates at a
  matched training time, over seeds: training loss, gradient norm, sharpness, test error
- ``plot_lr_sweep``      the figure of that sweep
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.integrate import solve_ivp
from sklearn.datasets import make_moons

from mlnotes.validate import arg, check_axes, check_tensor, checked

__all__ = ["toy_loss", "hyperbola_loss", "hyperbola_grad", "numpy_grad", "modified_gradient",
           "gradient_descent", "gradient_flow", "loglog_slope", "loss_grid", "lr_sweep",
           "plot_lr_sweep"]

Loss = Callable[[torch.Tensor], torch.Tensor]
Grad = Callable[[np.ndarray], np.ndarray]


@checked(theta=arg.tensor(min_ndim=1))
def toy_loss(theta: torch.Tensor) -> torch.Tensor:
    """Non-convex 2-D loss ``0.5 (xy - 1)^2 + 0.05 (x^2 + y^2) + 0.3 sin x``; ``theta`` is ``(2, ...)``."""
    x, y = check_tensor("theta", theta, shape=(2, *theta.shape[1:]))     # (2, ...) -> two (...)
    return 0.5 * (x * y - 1) ** 2 + 0.05 * (x ** 2 + y ** 2) + 0.3 * torch.sin(x)


@checked(theta=arg.tensor(min_ndim=1))
def hyperbola_loss(theta: torch.Tensor) -> torch.Tensor:
    """``0.5 (ab - 1)^2``: its minima form the hyperbola ``ab = 1``; ``theta`` is ``(2, ...)``."""
    a, b = check_tensor("theta", theta, shape=(2, *theta.shape[1:]))     # (2, ...) -> two (...)
    return 0.5 * (a * b - 1) ** 2


@checked(theta=arg.array(shape=(2,)))
def hyperbola_grad(theta: np.ndarray) -> np.ndarray:
    """Analytic gradient of :func:`hyperbola_loss`: ``r (b, a)`` with ``r = ab - 1``."""
    r = theta[0] * theta[1] - 1
    return r * theta[::-1]


@checked(loss=arg.callable())
def numpy_grad(loss: Loss) -> Grad:
    """Wrap a torch loss into ``grad(theta: ndarray (d,)) -> ndarray (d,)`` using autograd (float64)."""

    def grad(theta: np.ndarray) -> np.ndarray:
        t = torch.tensor(np.asarray(theta, dtype=np.float64), requires_grad=True)
        (g,) = torch.autograd.grad(loss(t), t)
        return g.numpy()

    return grad


@checked(loss=arg.callable(), theta=arg.array(ndim=1), lr=arg.positive(allow_zero=True))
def modified_gradient(loss: Loss, theta: object, lr: float) -> np.ndarray:
    """Gradient of the modified loss ``L + (h/4) |grad L|^2``, i.e. ``g + (h/2) H g``.

    Computed by double backward: differentiate ``|grad L|^2`` through the graph of ``grad L``.
    ``theta`` has shape ``(d,)``; ``lr`` is the step size ``h >= 0`` (``h = 0`` gives ``g``).
    """
    t = torch.tensor(theta, requires_grad=True)
    (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
    (penalty_grad,) = torch.autograd.grad((g * g).sum(), t)
    return (g + 0.25 * lr * penalty_grad).detach().numpy()


@checked(grad=arg.callable(), theta0=arg.array(ndim=1), lr=arg.positive(), num_steps=arg.count(low=0, high=10**7))
def gradient_descent(grad: Grad, theta0: object, lr: float, num_steps: int) -> np.ndarray:
    """Run ``theta_{k+1} = theta_k - lr * grad(theta_k)``; returns all iterates, shape ``(num_steps + 1, d)``.

    Iterate ``k`` sits at time ``t = k * lr`` when compared with the gradient flow.
    """
    theta = theta0   # (d,)
    path = np.empty((int(num_steps) + 1, theta.size))
    path[0] = theta
    for k in range(int(num_steps)):
        path[k + 1] = path[k] - lr * grad(path[k])
    return path


@checked(loss=arg.callable(), theta0=arg.array(ndim=1), T=arg.positive(), lr=arg.positive(allow_zero=True),
         t_eval=arg.optional(arg.array(ndim=1, low=0.0, high="T")), rtol=arg.positive(), atol=arg.positive())
def gradient_flow(loss: Loss, theta0: object, T: float, lr: float = 0.0, t_eval: object = None,
                  rtol: float = 1e-11, atol: float = 1e-12):
    """Solve the (modified) gradient flow ``dtheta/dt = -(g + (lr/2) H g)`` from ``theta0`` on ``[0, T]``.

    ``lr = 0`` is the plain flow ``-g``; ``lr = h`` is the first-order modified equation whose
    solution GD with step ``h`` tracks to ``O(h^2)``. Uses ``solve_ivp(method="DOP853")`` with a
    dense output. Returns ``(t, thetas)`` with ``thetas`` of shape ``(len(t), d)``; ``t`` is
    ``t_eval`` if given, else the solver's steps.
    """
    sol = solve_ivp(lambda t, th: -modified_gradient(loss, th, lr), (0.0, T), theta0,
                    method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.t, sol.y.T


@checked(x=arg.array(shape=("N",)), y=arg.array(shape=("N",)))
def loglog_slope(x: object, y: object) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (the order ``p`` in ``y ~ C x^p``)."""
    if len(x) < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y need >= 2 points, all positive (to take logarithms)")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


@checked(loss=arg.callable(), xlim=arg.array(shape=(2,)), ylim=arg.array(shape=(2,)), n=arg.count(low=2, high=2000))
def loss_grid(loss: Loss, xlim: tuple[float, float], ylim: tuple[float, float], n: int = 200):
    """Evaluate a 2-D torch loss on an ``n x n`` grid: returns ``(X, Y, Z)`` arrays for ``contour``."""
    if xlim[0] >= xlim[1] or ylim[0] >= ylim[1]:
        raise ValueError(f"xlim and ylim must be increasing pairs, got {xlim} and {ylim}")
    X, Y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    with torch.no_grad():
        Z = loss(torch.from_numpy(np.stack([X, Y]))).numpy()
    return X, Y, Z


def _moons(seeds: list[int], n_train: int, n_test: int, noise: float):
    """Per seed, a fresh two-moons sample with labels in {-1, +1}: ``X (S, n, 2)``, ``y (S, n)``."""
    data = [make_moons(n_train + n_test, noise=noise, random_state=s) for s in seeds]
    X = torch.tensor(np.stack([x for x, _ in data]))               # (S, n_train + n_test, 2)
    y = torch.tensor(np.stack([2.0 * t - 1 for _, t in data]))     # (S, n_train + n_test)
    return X[:, :n_train], y[:, :n_train], X[:, n_train:], y[:, n_train:]


def _init(seeds: list[int], width: int) -> list[torch.Tensor]:
    """One set of weights per seed, stacked: ``W1 (S, 2, m)``, ``b1 (S, m)``, ``w2 (S, m)``, ``b2 (S,)``."""
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    W1 = torch.stack([torch.randn(2, width, generator=g, dtype=torch.float64) for g in gens])
    w2 = torch.stack([torch.randn(width, generator=g, dtype=torch.float64) for g in gens])
    S = len(seeds)
    return [W1 / np.sqrt(2), torch.zeros(S, width, dtype=torch.float64), w2,
            torch.zeros(S, dtype=torch.float64)]


# region: lr-sweep
def _net(params: list[torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """``f(x) = w2 . tanh(W1^T x + b1) / sqrt(m) + b2`` for every seed at once: ``(S, n)``."""
    W1, b1, w2, b2 = params
    hidden = torch.tanh(torch.einsum("snd,sdm->snm", X, W1) + b1[:, None])   # (S, n, m)
    return torch.einsum("snm,sm->sn", hidden, w2) / np.sqrt(w2.shape[1]) + b2[:, None]


def _loss(params, X, y) -> torch.Tensor:
    return 0.5 * ((_net(params, X) - y) ** 2).mean(dim=1)                    # (S,)


def _sharpness(params, X, y, iters: int = 100) -> torch.Tensor:
    """Top Hessian eigenvalue of each seed's loss by power iteration on Hessian-vector products."""
    grads = torch.autograd.grad(_loss(params, X, y).sum(), params, create_graph=True)
    v = [torch.randn(p.shape, generator=torch.Generator().manual_seed(0), dtype=p.dtype)
         for p in params]
    for _ in range(iters):
        norm = torch.sqrt(sum((u.reshape(len(u), -1) ** 2).sum(1) for u in v))   # (S,)
        v = [u / norm.reshape(-1, *[1] * (u.ndim - 1)) for u in v]
        Hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        rayleigh = sum((a * b).reshape(len(a), -1).sum(1) for a, b in zip(v, Hv))
        v = [h.detach() for h in Hv]
    return rayleigh.detach()


@checked(lrs=arg.array(ndim=1, low=1e-12, finite=True), T=arg.real(low=0, low_open=True), num_seeds=arg.count(high=50),
         n_train=arg.count(high=5000), width=arg.count(high=1024), noise=arg.real(low=0))
def lr_sweep(lrs: object, T: float = 300.0, num_seeds: int = 5, n_train: int = 50,
             width: int = 64, noise: float = 0.35) -> dict[str, np.ndarray]:
    """Full-batch GD with each step ``h`` in ``lrs`` for the same training *time* ``T``.

    The model is a one-hidden-layer tanh network (``width`` units, NTK scaling) trained with
    the squared loss on ``n_train`` two-moons points; seed ``s`` draws the data and the
    initial weights, and every seed is trained at once (weights stacked on a leading axis).
    Each run takes ``round(T / h)`` steps, so all runs stop at the same time on the
    gradient flow. Returns arrays of shape ``(len(lrs), num_seeds)``: ``train_loss``,
    ``grad_norm2`` (``|grad L|^2``), ``sharpness`` (top Hessian eigenvalue) and
    ``test_error`` (on 2000 fresh points), plus ``lrs``.
    """
    seeds = list(range(num_seeds))
    X, y, X_test, y_test = _moons(seeds, n_train, 2000, noise)
    out = {k: np.empty((len(lrs), num_seeds))
           for k in ("train_loss", "grad_norm2", "sharpness", "test_error")}
    for i, h in enumerate(lrs):
        params = [p.requires_grad_() for p in _init(seeds, width)]
        for _ in range(int(round(T / h))):                         # theta <- theta - h g
            grads = torch.autograd.grad(_loss(params, X, y).sum(), params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p -= h * g
        loss = _loss(params, X, y)
        grads = torch.autograd.grad(loss.sum(), params)
        out["train_loss"][i] = loss.detach().numpy()
        out["grad_norm2"][i] = sum((g.reshape(num_seeds, -1) ** 2).sum(1) for g in grads).numpy()
        out["sharpness"][i] = _sharpness(params, X, y).numpy()
        with torch.no_grad():
            wrong = torch.sign(_net(params, X_test)) != y_test
        out["test_error"][i] = wrong.double().mean(1).numpy()
    return {"lrs": lrs, **out}
# endregion


@checked(sweep=arg.mapping())
def plot_lr_sweep(sweep: dict[str, np.ndarray], axes: object) -> None:
    """Left: sharpness per seed against ``h`` with the stability bound ``2/h``; right: test error."""
    from mlnotes.plotting import COLORS
    if not {"lrs", "sharpness", "test_error"} <= set(sweep):
        raise TypeError("sweep must be the dict returned by lr_sweep")
    if not hasattr(axes, "__len__") or len(axes) != 2:
        raise TypeError("axes must be a pair of matplotlib Axes")
    ax0, ax1 = check_axes("axes", axes[0]), check_axes("axes", axes[1])
    h = sweep["lrs"]
    h_fine = np.linspace(h.min(), h.max() * 1.05, 200)
    ax0.plot(h, sweep["sharpness"], "o-", color=COLORS[0], alpha=0.5, lw=1)
    ax0.plot([], [], "o-", color=COLORS[0], alpha=0.5, lw=1, label="end sharpness, one line per seed")
    ax0.plot(h_fine, 2 / h_fine, color=COLORS[3], ls="--", label=r"stability bound $2/h$")
    top = 1.3 * sweep["sharpness"].max()
    ax0.set(xlabel="learning rate $h$", ylabel=r"sharpness $\lambda_{\max}(\nabla^2 L)$",
            ylim=(0.8 * sweep["sharpness"].min(), top), title="Sharpness at time $T$")
    ax0.legend(loc="upper right", fontsize=8)
    err = sweep["test_error"]
    ax1.plot(h, err, "o-", color=COLORS[2], alpha=0.5, lw=1)
    ax1.errorbar(h, err.mean(1), yerr=err.std(1, ddof=1), color="black", capsize=3, lw=2,
                 label="mean ± sd over seeds")
    ax1.plot([], [], "o-", color=COLORS[2], alpha=0.5, lw=1, label="one seed")
    ax1.set(xlabel="learning rate $h$", ylabel="test error", title="Test error at time $T$")
    ax1.legend(loc="upper left", fontsize=8)

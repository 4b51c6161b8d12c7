"""Stochastic approximation: incremental means, the Robbins-Monro iteration and stochastic
gradient descent as its special case.

Step sizes are indexed from
k = 1 (``a_k = step_fn(k)``), so ``1/k`` never divides by zero. ``gradient_noise_profile``
measures, for least squares, how the true gradient and the per-sample gradient noise scale
with the distance to the optimum.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlnotes.validate import arg, checked

__all__ = ["power_step", "incremental_mean", "robbins_monro", "sgd_lstsq",
           "gradient_noise_profile", "plot_noise_profile"]

StepFn = Callable[[np.ndarray], np.ndarray]


def _steps(step_fn: object, K: int) -> np.ndarray:
    a = np.broadcast_to(np.asarray(step_fn(np.arange(1, K + 1, dtype=np.float64)), dtype=np.float64), (K,))
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError("step_fn must return finite, non-negative step sizes for k = 1..K")
    return a


@checked(a0=arg.real(low=0, low_open=True), p=arg.real(low=0), k0=arg.real(low=0))
def power_step(a0: float = 1.0, p: float = 1.0, k0: float = 0.0) -> StepFn:
    """The schedule ``a_k = a0 / (k + k0)^p``; ``p = 1`` is 1/k, ``p = 0`` a constant step ``a0``."""
    return lambda k: a0 / (np.asarray(k, dtype=np.float64) + k0) ** p


@checked(xs=arg.array(ndim=1), step=arg.optional(arg.real(low=0, high=1, low_open=True)), w0=arg.real())
def incremental_mean(xs: object, step: float | None = None, w0: float = 0.0) -> np.ndarray:
    """Running estimates ``w_{k+1} = w_k - a_k (w_k - x_k)``, k = 1..K; returns (K,) = w_2..w_{K+1}.

    With ``step=None``, ``a_k = 1/k`` and ``w_{k+1}`` is exactly the mean of ``x_1..x_k``
    (``w0`` is then irrelevant). A constant ``step = a`` in (0, 1] gives the exponentially
    weighted average ``(1 - a)^k w0 + sum_i a (1 - a)^{k-i} x_i``.
    """
    out = np.empty_like(xs)
    w = w0
    for k, x in enumerate(xs, start=1):
        a = 1.0 / k if step is None else step
        w = w - a * (w - x)
        out[k - 1] = w
    return out


@checked(g=arg.callable(), w0=arg.real(), step_fn=arg.callable(), K=arg.count(high=10**7), noise_std=arg.real(low=0),
         seed=arg.seed(), noise=arg.optional(arg.array(ndim=(1, 2))))
def robbins_monro(g: Callable[[np.ndarray], np.ndarray], w0: float, step_fn: StepFn, K: int,
                  noise_std: float = 1.0, seed: int = 0, noise: object = None) -> np.ndarray:
    """Robbins-Monro root finding ``w_{k+1} = w_k - a_k (g(w_k) + eta_k)``, k = 1..K.

    ``g`` is only ever evaluated, never differentiated. ``eta_k ~ N(0, noise_std^2)`` drawn
    from ``seed``, or the given ``noise`` array of shape (K,) or (K, R) for R independent
    runs at once (vectorised). Returns the trajectory ``w_1..w_{K+1}``: shape (K + 1,) or
    (K + 1, R).
    """
    a = _steps(step_fn, K)
    if noise is None:
        noise = noise_std * np.random.default_rng(seed).standard_normal(K)
    if len(noise) != K:                                                             # (K,) or (K, R)
        raise ValueError(f"noise must have K = {K} rows (one per step), got shape {noise.shape}")
    w = np.full(noise.shape[1:], float(w0))
    traj = np.empty((K + 1,) + noise.shape[1:])
    traj[0] = w
    for k in range(K):
        w = w - a[k] * (g(w) + noise[k])
        traj[k + 1] = w
    return traj


@checked(X=arg.array(shape=("N", "D")), y=arg.array(shape=("N",)), step_fn=arg.callable(), K=arg.count(high=10**7),
         batch=arg.int(low=1, high="N"), seed=arg.seed(), shuffle=arg.bool(), w0=arg.optional(arg.array(shape=("D",))))
def sgd_lstsq(X: object, y: object, step_fn: StepFn, K: int, batch: int = 1, seed: int = 0,
              shuffle: bool = True, w0: object = None) -> np.ndarray:
    """(Mini-)batch gradient descent on ``J(w) = mean_i (x_i . w - y_i)^2 / 2``; trajectory (K + 1, d).

    Step k uses ``a_k * X_B^T (X_B w - y_B) / m`` on a batch B of ``m = batch`` rows: drawn
    uniformly with replacement when ``shuffle`` (SGD for m = 1, MBGD otherwise), or the
    consecutive rows ``[(k-1) m, k m) mod n`` when not. ``batch = n`` without shuffling is
    full-batch gradient descent (BGD).
    """
    n, d = X.shape
    a = _steps(step_fn, K)                                                          # (K,)
    rng = np.random.default_rng(seed)
    w = np.zeros(d) if w0 is None else w0.copy()       # (d,)
    traj = np.empty((K + 1, d))
    traj[0] = w
    for k in range(K):
        idx = rng.integers(0, n, size=batch) if shuffle else (np.arange(batch) + k * batch) % n
        Xb, yb = X[idx], y[idx]
        w = w - a[k] * Xb.T @ (Xb @ w - yb) / batch
        traj[k + 1] = w
    return traj


# region: noise-profile
@checked(X=arg.array(shape=("N", "D")), y=arg.array(shape=("N",)), w_far=arg.array(shape=("D",)),
         distances=arg.array(ndim=1, low=0))
def gradient_noise_profile(X: object, y: object, w_far: object, distances: object) -> dict:
    """True gradient and per-sample gradient noise of least squares along a ray to the optimum.

    ``J(w) = 1/(2n) sum_i (x_i . w - y_i)^2`` with minimiser ``w_LS``. At the points
    ``w = w_LS + t (w_far - w_LS)`` for each ``t`` in ``distances`` it returns ``grad_norm``
    ``|grad J(w)|``, ``noise_sd`` ``sqrt(E_i |g_i(w) - grad J(w)|^2)`` (``g_i`` the gradient of one
    sample, drawn uniformly: the noise of an SGD step with batch 1), ``relative`` = their ratio,
    and ``uphill`` = the fraction of samples whose gradient points uphill
    (``g_i . grad J < 0``, so that a step along ``-g_i`` increases ``J``). Shapes ``(len(t),)``.
    """
    t = distances
    w_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    W = w_ls + t[:, None] * (w_far - w_ls)                     # (T, d) points on the ray
    residual = W @ X.T - y                                     # (T, n)
    g_i = residual[:, :, None] * X[None]                       # (T, n, d) per-sample gradients
    grad = g_i.mean(axis=1)                                    # (T, d) = grad J(w)
    noise_sd = np.sqrt(((g_i - grad[:, None]) ** 2).sum(-1).mean(-1))
    grad_norm = np.linalg.norm(grad, axis=1)
    uphill = ((g_i @ grad[:, :, None])[..., 0] < 0).mean(axis=1)
    return {"distances": t, "grad_norm": grad_norm, "noise_sd": noise_sd,
            "relative": noise_sd / grad_norm, "uphill": uphill, "w_ls": w_ls}
# endregion


@checked(profiles=arg.sequence(arg.mapping()))
def plot_noise_profile(profiles: list[dict], axes: object) -> None:
    """Left: ``|grad J|``, gradient-noise sd and their ratio against the distance ``t``, one
    thin line per dataset; right: the fraction of per-sample gradients that point uphill."""
    from mlnotes.plotting import COLORS
    from mlnotes.validate import check_axes
    if not hasattr(axes, "__len__") or len(axes) != 2:
        raise TypeError("axes must be a pair of matplotlib Axes")
    ax0, ax1 = check_axes("axes", axes[0]), check_axes("axes", axes[1])
    series = (("grad_norm", r"true gradient $\|\nabla J(w)\|$", "-"),
              ("noise_sd", r"noise sd of one sample's gradient", "--"),
              ("relative", "relative noise (ratio)", ":"))
    for j, (key, label, ls) in enumerate(series):
        for k, prof in enumerate(profiles):
            ax0.loglog(prof["distances"], prof[key], ls=ls, color=COLORS[j], lw=1.2,
                       label=label if k == 0 else None)
    ax0.set(xlabel=r"distance factor $t$ in $w = w^* + t\,(w_0 - w^*)$", ylabel="size",
            title="Gradient and noise near the optimum")
    ax0.legend(fontsize=7, loc="lower right")
    for k, prof in enumerate(profiles):
        ax1.semilogx(prof["distances"], prof["uphill"], color=COLORS[3], lw=1.2,
                     label="one dataset" if k == 0 else None)
    ax1.axhline(0.5, color="gray", ls=":", label="coin flip (1/2)")
    ax1.set(xlabel="distance factor $t$", ylabel="fraction of uphill samples",
            title="Samples whose step goes uphill", ylim=(0, 0.6))
    ax1.legend(fontsize=7, loc="upper right")

"""Regularized linear models: ridge and LASSO as MAP estimates, soft-thresholding, polynomial
designs, and the 2-D constrained view of L1/L2 penalties.

Conventions: ``X`` has shape (n, d), ``y`` shape (n,), weights ``w`` shape (d,).
No intercept is fitted: centre ``y`` and the columns of ``X`` first (the intercept is never
penalized).
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre

from mlnotes.validate import checked, arg

__all__ = ["constrained_min_2d", "draw_coefficients", "draw_constrained_2d", "lasso_map_cd",
           "neg_log_posterior", "poly_design", "ridge_closed_form", "ridge_map", "soft_threshold"]


@checked(z=arg.array(allow_empty=True), lam=arg.positive(allow_zero=True))
def soft_threshold(z: object, lam: float) -> np.ndarray:
    """``S_lam(z) = sign(z) max(|z| - lam, 0)`` elementwise: the proximal map of ``lam |w|``.

    It solves ``argmin_w (w - z)^2 / 2 + lam |w|``; any ``|z| <= lam`` maps to exactly 0.
    """
    return np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)


@checked(X=arg.array(shape=("n", "d")), y=arg.array(shape=("n",)), lam=arg.positive(allow_zero=True))
def ridge_closed_form(X: object, y: object, lam: float) -> np.ndarray:
    """``w = (X^T X + lam I)^{-1} X^T y`` (solved, not inverted); ``lam = 0`` is least squares.

    For ``lam = 0`` and a rank-deficient ``X`` it returns the minimum-norm least-squares solution.
    """
    if lam == 0:
        return np.linalg.lstsq(X, y, rcond=None)[0]
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)


@checked(noise_sd=arg.positive(), prior_sd=arg.positive())
def ridge_map(X: object, y: object, noise_sd: float, prior_sd: float) -> np.ndarray:
    """MAP weights for ``y ~ N(Xw, s^2 I)`` with prior ``w_j ~ N(0, sigma^2)``.

    ``-log p(w | D) = ||y - Xw||^2 / (2 s^2) + ||w||^2 / (2 sigma^2) + const``, so the MAP is
    ridge with ``lam = s^2 / sigma^2``.
    """
    s, sigma = noise_sd, prior_sd
    return ridge_closed_form(X, y, s ** 2 / sigma ** 2)


@checked(X=arg.array(shape=("n", "d")), y=arg.array(shape=("n",)), noise_sd=arg.positive(), laplace_b=arg.positive(),
         iters=arg.count(high=10**6), tol=arg.positive(allow_zero=True))
def lasso_map_cd(X: object, y: object, noise_sd: float, laplace_b: float, iters: int = 2000,
                 tol: float = 1e-12) -> np.ndarray:
    """MAP weights for ``y ~ N(Xw, s^2 I)`` with prior ``w_j ~ Laplace(0, b)``, by coordinate descent.

    Minimizes ``||y - Xw||^2 / (2 s^2) + ||w||_1 / b``, i.e. ``||y - Xw||^2 / 2 + lam ||w||_1``
    with ``lam = s^2 / b``. Each sweep sets ``w_j = S_lam(X_j . r_j) / ||X_j||^2`` where ``r_j``
    is the residual without feature j. Stops when no weight moves more than ``tol``.
    """
    lam = noise_sd ** 2 / laplace_b
    col_sq = (X ** 2).sum(axis=0)
    w = np.zeros(X.shape[1])
    r = y.copy()
    for _ in range(iters):
        max_step = 0.0
        for j in range(X.shape[1]):
            if col_sq[j] == 0:
                continue
            rho = X[:, j] @ r + col_sq[j] * w[j]
            w_new = float(soft_threshold(rho, lam)) / col_sq[j]
            if w_new != w[j]:
                r -= X[:, j] * (w_new - w[j])
                max_step = max(max_step, abs(w_new - w[j]))
                w[j] = w_new
        if max_step <= tol:
            break
    return w


@checked(X=arg.array(shape=("n", "d")), y=arg.array(shape=("n",)), w=arg.array(shape=("d",)), noise_sd=arg.positive(),
         scale=arg.positive(), prior=arg.choice(("laplace", "gauss")))
def neg_log_posterior(w: object, X: object, y: object, noise_sd: float, prior: str, scale: float) -> float:
    """``||y - Xw||^2 / (2 s^2) + penalty(w)``, the negative log posterior up to a constant.

    ``prior='laplace'`` (scale ``b``): penalty ``sum |w_j| / b``. ``prior='gauss'`` (scale
    ``sigma``): penalty ``sum w_j^2 / (2 sigma^2)``.
    """
    s = noise_sd
    data = float(np.sum((y - X @ w) ** 2)) / (2 * s ** 2)
    if prior == "laplace":
        return data + float(np.abs(w).sum()) / scale
    return data + float(w @ w) / (2 * scale ** 2)


@checked(x=arg.array(ndim=1), degree=arg.int(0, 50), basis=arg.choice(("legendre", "monomial")))
def poly_design(x: object, degree: int, basis: str = "legendre") -> np.ndarray:
    """Polynomial features of ``x`` (n,) in [-1, 1]: shape (n, degree + 1), column k of degree k.

    ``basis='legendre'`` uses Legendre polynomials P_0..P_degree (well conditioned on [-1, 1]);
    ``'monomial'`` uses 1, x, ..., x^degree (a Vandermonde matrix, ill-conditioned at high degree).
    Both span the same space, so least-squares fits are identical in exact arithmetic.
    """
    if basis == "legendre":
        return legendre.legvander(x, degree)
    return np.vander(x, degree + 1, increasing=True)


@checked(H=arg.array(shape=(2, 2)), w0=arg.array(shape=(2,)), budget=arg.positive(), kind=arg.choice(("l1", "l2")),
         n=arg.int(4, 10**7))
def constrained_min_2d(H: object, w0: object, kind: str, budget: float, n: int = 40_001) -> np.ndarray:
    """Minimize ``(w - w0)^T H (w - w0)`` over ``{w in R^2 : ||w||_p <= budget}``, p = 1 or 2.

    If ``w0`` is inside the ball it is the answer; otherwise the minimum lies on the boundary,
    which is searched on ``n`` points (accurate to about ``budget * 2 pi / n``). ``kind`` is
    ``'l1'`` (diamond) or ``'l2'`` (disc). ``H`` must be symmetric positive definite (2, 2).
    """
    if not np.allclose(H, H.T) or np.linalg.eigvalsh(H).min() <= 0:
        raise ValueError("H must be a symmetric positive definite 2 x 2 matrix")
    norm = np.abs(w0).sum() if kind == "l1" else np.hypot(*w0)
    if norm <= budget:
        return w0.copy()
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    u = np.column_stack([np.cos(theta), np.sin(theta)])
    if kind == "l1":
        u /= np.abs(u).sum(axis=1, keepdims=True)
        corners = np.array([[1.0, 0], [0, 1.0], [-1.0, 0], [0, -1.0]])
        u = np.vstack([u, corners])
    points = budget * u
    diff = points - w0
    values = np.einsum("ni,ij,nj->n", diff, H, diff)
    return points[np.argmin(values)]


@checked(H=arg.array(shape=(2, 2)), w0=arg.array(shape=(2,)), budget=arg.positive())
def draw_constrained_2d(H: object, w0: object, budget: float = 1.0):
    """The constrained view of L1 and L2 in two dimensions, as a figure: contours of the loss
    ``(w - w0)^T H (w - w0)``, the L1 diamond and the L2 disc of radius ``budget``, the
    least-squares point ``w0`` and the two constrained optima of :func:`constrained_min_2d`."""
    from mlnotes.plotting import PALETTE, new_figure

    opt = {kind: constrained_min_2d(H, w0, kind, budget) for kind in ("l1", "l2")}
    g1, g2 = np.meshgrid(np.linspace(-1.5, 2.5, 200) * budget, np.linspace(-1.5, 2.0, 200) * budget)
    diff = np.stack([g1 - w0[0], g2 - w0[1]], axis=-1)                     # (200, 200, 2)
    loss = np.einsum("...i,ij,...j->...", diff, H, diff)                   # (200, 200)
    fig, ax = new_figure(width=5.5, height=4.6)
    levels = budget**2 * np.array([0.05, 0.2, 0.45, 0.8, 1.25, 1.8])
    ax.contour(g1, g2, loss, levels=levels, colors=PALETTE["black"], linewidths=0.6)
    t = np.linspace(0, 2 * np.pi, 400)
    ax.fill(budget * np.array([1, 0, -1, 0]), budget * np.array([0, 1, 0, -1]), color=PALETTE["blue"],
            alpha=0.25, label=rf"L1 ball $|w_1| + |w_2| \leq {budget:g}$")
    ax.plot(budget * np.cos(t), budget * np.sin(t), color=PALETTE["orange"], lw=2,
            label=rf"L2 ball $w_1^2 + w_2^2 \leq {budget:g}^2$")
    ax.plot(*w0, "k*", ms=10, label="least squares")
    for kind, marker, color in (("l1", "o", "blue"), ("l2", "s", "vermillion")):
        ax.plot(*opt[kind], marker, color=PALETTE[color], ms=8,
                label=f"{kind.upper()} optimum ({opt[kind][0]:.2f}, {opt[kind][1]:.2f})")
    ax.set(xlabel="weight $w_1$", ylabel="weight $w_2$", aspect="equal",
           title=f"Constrained least squares, budget $t = {budget:g}$")
    ax.legend(loc="lower right", fontsize=7)
    return fig


@checked(coef=arg.array(ndim=1), names=arg.sequence(arg.text(min_len=0), min_len="len(coef)", max_len="len(coef)"),
         title=arg.text(min_len=0))
def draw_coefficients(coef: object, names: object, title: str = ""):
    """Bars of fitted coefficients ``coef`` (d,) labelled by ``names`` (d strings), on a fixed
    range of +-45 so that frames of an explorer compare; the title adds the count of exact zeros."""
    from mlnotes.plotting import PALETTE, new_figure

    fig, ax = new_figure(width=6, height=3)
    ax.bar(names, coef, color=PALETTE["blue"])
    ax.axhline(0, color=PALETTE["black"], lw=0.6)
    ax.set(ylim=(-45, 45), xlabel="feature", ylabel="coefficient",
           title=f"{title}: {int(np.sum(coef == 0))} exact zeros")
    return fig

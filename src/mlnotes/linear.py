"""Regularized linear models: ridge and LASSO as MAP estimates, soft-thresholding, polynomial
designs, and the 2-D constrained view of L1/L2 penalties.

Conventions: ``X`` (or ``A``) has shape (n, d), ``y`` shape (n,), weights ``w`` shape (d,).
No intercept is fitted: centre ``y`` and the columns of ``X`` first (the intercept is never
penalized).
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre

from mlnotes.validate import as_numeric_array, check_positive


def _as_vector(y: object, name: str, n: int | None = None) -> np.ndarray:
    array = as_numeric_array(y, name, 1)
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{name} has length {array.shape[0]}, expected {n}")
    return array


def soft_threshold(z: object, lam: float) -> np.ndarray:
    """``S_lam(z) = sign(z) max(|z| - lam, 0)`` elementwise: the proximal map of ``lam |w|``.

    It solves ``argmin_w (w - z)^2 / 2 + lam |w|``; any ``|z| <= lam`` maps to exactly 0.
    """
    z_arr = np.asarray(z)
    if z_arr.dtype == object or not np.issubdtype(z_arr.dtype, np.number):
        raise TypeError(f"z must be numeric, got dtype {z_arr.dtype}")
    lam = check_positive("lam", lam, allow_zero=True)
    z_arr = z_arr.astype(np.float64)
    return np.sign(z_arr) * np.maximum(np.abs(z_arr) - lam, 0.0)


def ridge_closed_form(A: object, y: object, lam: float) -> np.ndarray:
    """``w = (A^T A + lam I)^{-1} A^T y`` (solved, not inverted); ``lam = 0`` is least squares.

    For ``lam = 0`` and a rank-deficient ``A`` it returns the minimum-norm least-squares solution.
    """
    A = as_numeric_array(A, "A", 2)
    y = _as_vector(y, "y", A.shape[0])
    lam = check_positive("lam", lam, allow_zero=True)
    if lam == 0:
        return np.linalg.lstsq(A, y, rcond=None)[0]
    return np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ y)


def ridge_map(X: object, y: object, noise_sd: float, prior_sd: float) -> np.ndarray:
    """MAP weights for ``y ~ N(Xw, s^2 I)`` with prior ``w_j ~ N(0, sigma^2)``.

    ``-log p(w | D) = ||y - Xw||^2 / (2 s^2) + ||w||^2 / (2 sigma^2) + const``, so the MAP is
    ridge with ``lam = s^2 / sigma^2``.
    """
    s, sigma = check_positive("noise_sd", noise_sd), check_positive("prior_sd", prior_sd)
    return ridge_closed_form(X, y, s ** 2 / sigma ** 2)


def lasso_map_cd(X: object, y: object, noise_sd: float, laplace_b: float, iters: int = 2000,
                 tol: float = 1e-12) -> np.ndarray:
    """MAP weights for ``y ~ N(Xw, s^2 I)`` with prior ``w_j ~ Laplace(0, b)``, by coordinate descent.

    Minimizes ``||y - Xw||^2 / (2 s^2) + ||w||_1 / b``, i.e. ``||y - Xw||^2 / 2 + lam ||w||_1``
    with ``lam = s^2 / b``. Each sweep sets ``w_j = S_lam(X_j . r_j) / ||X_j||^2`` where ``r_j``
    is the residual without feature j. Stops when no weight moves more than ``tol``.
    """
    X = as_numeric_array(X, "X", 2)
    y = _as_vector(y, "y", X.shape[0])
    lam = check_positive("noise_sd", noise_sd) ** 2 / check_positive("laplace_b", laplace_b)
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 1:
        raise ValueError(f"iters must be a positive int, got {iters!r}")
    tol = check_positive("tol", tol, allow_zero=True)
    col_sq = (X ** 2).sum(axis=0)
    w = np.zeros(X.shape[1])
    r = y.copy()
    for _ in range(int(iters)):
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


def neg_log_posterior(w: object, X: object, y: object, noise_sd: float, prior: str, scale: float) -> float:
    """``||y - Xw||^2 / (2 s^2) + penalty(w)``, the negative log posterior up to a constant.

    ``prior='laplace'`` (scale ``b``): penalty ``sum |w_j| / b``. ``prior='gauss'`` (scale
    ``sigma``): penalty ``sum w_j^2 / (2 sigma^2)``.
    """
    X = as_numeric_array(X, "X", 2)
    y = _as_vector(y, "y", X.shape[0])
    w = _as_vector(w, "w", X.shape[1])
    s, scale = check_positive("noise_sd", noise_sd), check_positive("scale", scale)
    data = float(np.sum((y - X @ w) ** 2)) / (2 * s ** 2)
    if prior == "laplace":
        return data + float(np.abs(w).sum()) / scale
    if prior == "gauss":
        return data + float(w @ w) / (2 * scale ** 2)
    raise ValueError(f"prior must be 'laplace' or 'gauss', got {prior!r}")


def poly_design(x: object, degree: int, basis: str = "legendre") -> np.ndarray:
    """Polynomial features of ``x`` (n,) in [-1, 1]: shape (n, degree + 1), column k of degree k.

    ``basis='legendre'`` uses Legendre polynomials P_0..P_degree (well conditioned on [-1, 1]);
    ``'monomial'`` uses 1, x, ..., x^degree (a Vandermonde matrix, ill-conditioned at high degree).
    Both span the same space, so least-squares fits are identical in exact arithmetic.
    """
    x = _as_vector(x, "x")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
        raise TypeError(f"degree must be an int, got {type(degree).__name__}")
    if not 0 <= degree <= 50:
        raise ValueError(f"degree must be in [0, 50], got {degree}")
    if basis == "legendre":
        return legendre.legvander(x, int(degree))
    if basis == "monomial":
        return np.vander(x, int(degree) + 1, increasing=True)
    raise ValueError(f"basis must be 'legendre' or 'monomial', got {basis!r}")


def constrained_min_2d(H: object, w0: object, kind: str, budget: float, n: int = 40_001) -> np.ndarray:
    """Minimize ``(w - w0)^T H (w - w0)`` over ``{w in R^2 : ||w||_p <= budget}``, p = 1 or 2.

    If ``w0`` is inside the ball it is the answer; otherwise the minimum lies on the boundary,
    which is searched on ``n`` points (accurate to about ``budget * 2 pi / n``). ``kind`` is
    ``'l1'`` (diamond) or ``'l2'`` (disc). ``H`` must be symmetric positive definite (2, 2).
    """
    H = as_numeric_array(H, "H", 2)
    w0 = _as_vector(w0, "w0", 2)
    if H.shape != (2, 2) or not np.allclose(H, H.T) or np.linalg.eigvalsh(H).min() <= 0:
        raise ValueError("H must be a symmetric positive definite 2 x 2 matrix")
    budget = check_positive("budget", budget)
    if kind not in ("l1", "l2"):
        raise ValueError(f"kind must be 'l1' or 'l2', got {kind!r}")
    norm = np.abs(w0).sum() if kind == "l1" else np.hypot(*w0)
    if norm <= budget:
        return w0.copy()
    theta = np.linspace(0, 2 * np.pi, int(n), endpoint=False)
    u = np.column_stack([np.cos(theta), np.sin(theta)])
    if kind == "l1":
        u /= np.abs(u).sum(axis=1, keepdims=True)
        corners = np.array([[1.0, 0], [0, 1.0], [-1.0, 0], [0, -1.0]])
        u = np.vstack([u, corners])
    points = budget * u
    diff = points - w0
    values = np.einsum("ni,ij,nj->n", diff, H, diff)
    return points[np.argmin(values)]

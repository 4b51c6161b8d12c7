"""Divergences between distributions and the simplest generative models.

Used by the chapter ``generative/generative-models``: KL divergence for categorical and
Gaussian distributions (closed form and Monte Carlo), forward and reverse KL fits of a Gaussian
to a 1-D mixture, and the independent-Bernoulli model of binary images. All logs are natural
(nats); divide by ``log 2`` for bits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from mlnotes.core import check_seed

__all__ = ["entropy_categorical", "kl_categorical", "kl_gauss", "norm_logpdf", "mc_kl",
           "gmm1d_pdf", "fit_gauss_kl", "binarized_digits", "bernoulli_mle", "bernoulli_loglik",
           "sample_bernoulli", "image_grid"]

LOG_2PI = np.log(2.0 * np.pi)


def _as_prob(p: object, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {p.shape}")
    if np.any(~np.isfinite(p)) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"{name} must be non-negative and sum to 1, got sum {p.sum()}")
    return p


def _check_scale(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def entropy_categorical(p: object) -> float:
    """Entropy ``H(p) = -sum_i p_i log p_i`` in nats (0 log 0 = 0)."""
    p = _as_prob(p, "p")
    nz = p > 0
    return float(-np.sum(p[nz] * np.log(p[nz])))


def kl_categorical(p: object, q: object) -> float:
    """``KL(p || q) = sum_i p_i log(p_i / q_i)`` in nats; ``inf`` if some ``q_i = 0 < p_i``."""
    p, q = _as_prob(p, "p"), _as_prob(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.size} and {q.size}")
    nz = p > 0
    if np.any(q[nz] == 0):
        return float("inf")
    return float(np.sum(p[nz] * (np.log(p[nz]) - np.log(q[nz]))))


def kl_gauss(m1: float, s1: float, m2: float, s2: float) -> float:
    """``KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2``."""
    s1, s2 = _check_scale("s1", s1), _check_scale("s2", s2)
    return float(np.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5)


def norm_logpdf(x: object, mu: float, sigma: float) -> np.ndarray:
    """Log density of N(mu, sigma^2) at x, same shape as x."""
    sigma = _check_scale("sigma", sigma)
    x = np.asarray(x, dtype=np.float64)
    return -0.5 * LOG_2PI - np.log(sigma) - 0.5 * ((x - mu) / sigma) ** 2


def mc_kl(samples: object, logp: Callable[[np.ndarray], np.ndarray], logq: Callable[[np.ndarray], np.ndarray]) -> float:
    """Monte Carlo ``KL(p || q) ~ mean_i [log p(x_i) - log q(x_i)]`` with ``x_i ~ p``."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size == 0:
        raise ValueError("samples must not be empty")
    if not callable(logp) or not callable(logq):
        raise TypeError("logp and logq must be callables returning log densities")
    return float(np.mean(logp(samples) - logq(samples)))


def gmm1d_pdf(x: object, weights: object, means: object, sds: object) -> np.ndarray:
    """Density of the 1-D mixture ``sum_k w_k N(x | m_k, s_k^2)``, same shape as x."""
    weights = _as_prob(weights, "weights")
    means, sds = np.asarray(means, dtype=np.float64), np.asarray(sds, dtype=np.float64)
    if means.shape != weights.shape or sds.shape != weights.shape:
        raise ValueError(f"weights, means and sds must have the same length, got {weights.size}, {means.size}, {sds.size}")
    if np.any(sds <= 0):
        raise ValueError("every sd must be > 0")
    x = np.asarray(x, dtype=np.float64)
    return sum(w * np.exp(norm_logpdf(x, m, s)) for w, m, s in zip(weights, means, sds))


def fit_gauss_kl(p_pdf: object, grid: object, direction: str = "forward", init: tuple[float, float] = (0.5, 1.0),
                 eps: float = 1e-300) -> tuple[float, float]:
    """Fit ``q = N(mu, sigma^2)`` to a density tabulated on a uniform ``grid`` by minimizing a KL.

    ``direction="forward"`` minimizes ``KL(p || q) = int p log(p/q)`` (mode covering, equivalent to
    maximum likelihood); ``"reverse"`` minimizes ``KL(q || p) = int q log(q/p)`` (mode seeking). The
    integrals are Riemann sums on the grid, logs are guarded by ``eps``; Nelder-Mead on
    ``(mu, log sigma)`` from ``init`` (start off-centre: the symmetric point is a saddle for reverse KL).
    """
    p = np.asarray(p_pdf, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 3 or p.shape != grid.shape:
        raise ValueError(f"p_pdf and grid must be 1-D arrays of the same length >= 3, got {p.shape}, {grid.shape}")
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError("p_pdf must be finite and non-negative")
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")
    dx = grid[1] - grid[0]
    log_p = np.log(np.maximum(p, eps))

    def objective(theta: np.ndarray) -> float:
        log_q = norm_logpdf(grid, theta[0], float(np.exp(theta[1])))
        if direction == "forward":
            return float(np.sum(p * (log_p - log_q)) * dx)
        q = np.exp(log_q)
        return float(np.sum(q * (log_q - log_p)) * dx)

    result = minimize(objective, np.array([init[0], np.log(init[1])]), method="Nelder-Mead",
                      options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000})
    return float(result.x[0]), float(np.exp(result.x[1]))


# ----------------------------------------------------------------------------- binary images
def binarized_digits(threshold: float = 0.5, n_train: int = 1400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits with pixel value >= ``threshold * 16`` set to 1: ``(train, test)``, (n, 64) uint8.

    The 1797 images are shuffled with ``seed``; the first ``n_train`` are the training set.
    """
    from sklearn.datasets import load_digits

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or not 1 <= n_train < 1797:
        raise ValueError(f"n_train must be an int in [1, 1796], got {n_train!r}")
    X = (load_digits().data >= threshold * 16).astype(np.uint8)
    order = np.random.default_rng(check_seed(seed)).permutation(len(X))
    return X[order[:n_train]], X[order[n_train:]]


def _as_binary(X: object) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a non-empty (n, d) array, got shape {X.shape}")
    if not np.all((X == 0) | (X == 1)):
        raise ValueError("X must hold only 0 and 1")
    return X.astype(np.float64)


def bernoulli_mle(X: object, alpha: float = 0.0) -> np.ndarray:
    """Per-pixel probabilities of the independent-Bernoulli model: ``(sum_i x_id + alpha) / (n + 2 alpha)``.

    ``alpha = 0`` is the maximum-likelihood estimate (the training mean); ``alpha = 1`` is Laplace smoothing.
    """
    X = _as_binary(X)
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    return (X.sum(axis=0) + alpha) / (X.shape[0] + 2 * alpha)


def bernoulli_loglik(X: object, theta: object) -> np.ndarray:
    """``log p(x) = sum_d [x_d log theta_d + (1 - x_d) log(1 - theta_d)]`` per row of X, in nats, shape (n,).

    Returns ``-inf`` for an image that has a pixel the model deems impossible (theta 0 or 1).
    """
    X = _as_binary(X)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (X.shape[1],) or np.any(theta < 0) or np.any(theta > 1):
        raise ValueError(f"theta must be {X.shape[1]} probabilities in [0, 1], got shape {theta.shape}")
    with np.errstate(divide="ignore"):
        log_on, log_off = np.log(theta), np.log1p(-theta)
    on = np.where(X == 1, log_on, 0.0)
    off = np.where(X == 0, log_off, 0.0)
    return (on + off).sum(axis=1)


def sample_bernoulli(theta: object, n: int, seed: int = 0) -> np.ndarray:
    """``n`` binary vectors with independent pixels ``x_d ~ Bernoulli(theta_d)``, shape (n, d), uint8."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1 or theta.size == 0 or np.any(theta < 0) or np.any(theta > 1):
        raise ValueError("theta must be a non-empty 1-D array of probabilities")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(check_seed(seed))
    return (rng.random((n, theta.size)) < theta).astype(np.uint8)


def image_grid(images: object, nrow: int, ax: object, side: int = 8) -> None:
    """Tile flattened ``side x side`` images in [0, 1] into one picture with ``nrow`` rows on ``ax`` (grey 1-pixel gaps)."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or images.shape[1] != side * side or images.shape[0] == 0:
        raise ValueError(f"images must have shape (n, {side * side}), got {images.shape}")
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"nrow must be a positive int, got {nrow!r}")
    ncol = -(-images.shape[0] // nrow)
    canvas = np.full((nrow * (side + 1) - 1, ncol * (side + 1) - 1), 0.3)      # light grey gaps
    for k, img in enumerate(images):
        r, c = divmod(k, ncol)
        canvas[r * (side + 1): r * (side + 1) + side, c * (side + 1): c * (side + 1) + side] = img.reshape(side, side)
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[])
    ax.grid(False)

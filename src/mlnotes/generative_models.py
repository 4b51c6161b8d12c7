"""Divergences between distributions and the simplest generative models.

KL divergence for categorical and
Gaussian distributions (closed form and Monte Carlo), forward and reverse KL fits of a Gaussian
to a 1-D mixture, and the independent-Bernoulli model of binary images. All logs are natural
(nats); divide by ``log 2`` for bits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from mlnotes.validate import checked, arg

__all__ = ["entropy_categorical", "kl_categorical", "kl_gauss", "norm_logpdf", "mc_kl",
           "gmm1d_pdf", "fit_gauss_kl", "binarized_digits", "bernoulli_mle", "bernoulli_loglik",
           "sample_bernoulli", "image_grid"]

LOG_2PI = np.log(2.0 * np.pi)


# Argument rules: a pmf over k outcomes; binary data (n, d) as 0/1 (bools allowed).
_PMF = arg.array(shape=("k",), low=0, sums_to=1)
_BINARY = arg.array(shape=("n", "d"), bool_ok=True, values=(0, 1))


@checked(p=_PMF)
def entropy_categorical(p: object) -> float:
    """Entropy ``H(p) = -sum_i p_i log p_i`` in nats (0 log 0 = 0)."""
    nz = p > 0
    return float(-np.sum(p[nz] * np.log(p[nz])))


@checked(p=_PMF, q=_PMF)
def kl_categorical(p: object, q: object) -> float:
    """``KL(p || q) = sum_i p_i log(p_i / q_i)`` in nats; ``inf`` if some ``q_i = 0 < p_i``."""
    nz = p > 0
    if np.any(q[nz] == 0):
        return float("inf")
    return float(np.sum(p[nz] * (np.log(p[nz]) - np.log(q[nz]))))


@checked(m1=arg.real(), s1=arg.positive(), m2=arg.real(), s2=arg.positive())
def kl_gauss(m1: float, s1: float, m2: float, s2: float) -> float:
    """``KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2``."""
    return float(np.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5)


@checked(mu=arg.real(), sigma=arg.positive(), x=arg.array(min_ndim=1))
def norm_logpdf(x: object, mu: float, sigma: float) -> np.ndarray:
    """Log density of N(mu, sigma^2) at x, same shape as x."""
    return -0.5 * LOG_2PI - np.log(sigma) - 0.5 * ((x - mu) / sigma) ** 2


@checked(samples=arg.array(min_ndim=1), logp=arg.callable(), logq=arg.callable())
def mc_kl(samples: object, logp: Callable[[np.ndarray], np.ndarray], logq: Callable[[np.ndarray], np.ndarray]) -> float:
    """Monte Carlo ``KL(p || q) ~ mean_i [log p(x_i) - log q(x_i)]`` with ``x_i ~ p``."""
    return float(np.mean(logp(samples) - logq(samples)))


@checked(x=arg.array(min_ndim=1), weights=_PMF, means=arg.array(shape=("k",)), sds=arg.array(shape=("k",)))
def gmm1d_pdf(x: object, weights: object, means: object, sds: object) -> np.ndarray:
    """Density of the 1-D mixture ``sum_k w_k N(x | m_k, s_k^2)``, same shape as x."""
    if np.any(sds <= 0):
        raise ValueError("every sd in sds must be > 0")
    return sum(w * np.exp(norm_logpdf(x, m, s)) for w, m, s in zip(weights, means, sds))


@checked(grid=arg.array(shape=("n >= 3",)), p_pdf=arg.array(shape=("n",), low=0),
         direction=arg.choice(("forward", "reverse")), init=arg.array(shape=(2,)), eps=arg.positive())
def fit_gauss_kl(p_pdf: object, grid: object, direction: str = "forward", init: tuple[float, float] = (0.5, 1.0),
                 eps: float = 1e-300) -> tuple[float, float]:
    """Fit ``q = N(mu, sigma^2)`` to a density tabulated on a uniform ``grid`` by minimizing a KL.

    ``direction="forward"`` minimizes ``KL(p || q) = int p log(p/q)`` (mode covering, equivalent to
    maximum likelihood); ``"reverse"`` minimizes ``KL(q || p) = int q log(q/p)`` (mode seeking). The
    integrals are Riemann sums on the grid, logs are guarded by ``eps``; Nelder-Mead on
    ``(mu, log sigma)`` from ``init`` (start off-centre: the symmetric point is a saddle for reverse KL).
    """
    p = p_pdf
    if not init[1] > 0:
        raise ValueError(f"init must be (mu, sigma) with sigma > 0, got {tuple(init)}")
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
@checked(threshold=arg.probability(low_open=True, high_open=True), n_train=arg.count(high=1796), seed=arg.seed())
def binarized_digits(threshold: float = 0.5, n_train: int = 1400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits with pixel value >= ``threshold * 16`` set to 1: ``(train, test)``, (n, 64) uint8.

    The 1797 images are shuffled with ``seed``; the first ``n_train`` are the training set.
    """
    from sklearn.datasets import load_digits

    X = (load_digits().data >= threshold * 16).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(X))
    return X[order[:n_train]], X[order[n_train:]]


@checked(X=_BINARY, alpha=arg.positive(allow_zero=True))
def bernoulli_mle(X: object, alpha: float = 0.0) -> np.ndarray:
    """Per-pixel probabilities of the independent-Bernoulli model: ``(sum_i x_id + alpha) / (n + 2 alpha)``.

    ``alpha = 0`` is the maximum-likelihood estimate (the training mean); ``alpha = 1`` is Laplace smoothing.
    """
    return (X.sum(axis=0) + alpha) / (X.shape[0] + 2 * alpha)


@checked(X=_BINARY, theta=arg.array(shape=("d",), low=0, high=1))
def bernoulli_loglik(X: object, theta: object) -> np.ndarray:
    """``log p(x) = sum_d [x_d log theta_d + (1 - x_d) log(1 - theta_d)]`` per row of X, in nats, shape (n,).

    Returns ``-inf`` for an image that has a pixel the model deems impossible (theta 0 or 1).
    """
    with np.errstate(divide="ignore"):
        log_on, log_off = np.log(theta), np.log1p(-theta)
    on = np.where(X == 1, log_on, 0.0)
    off = np.where(X == 0, log_off, 0.0)
    return (on + off).sum(axis=1)


@checked(theta=arg.array(ndim=1, low=0, high=1), n=arg.count(high=10 ** 6), seed=arg.seed())
def sample_bernoulli(theta: object, n: int, seed: int = 0) -> np.ndarray:
    """``n`` binary vectors with independent pixels ``x_d ~ Bernoulli(theta_d)``, shape (n, d), uint8."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, theta.size)) < theta).astype(np.uint8)


@checked(ax=arg.axes(), side=arg.count(high=1024), images=arg.array(shape=(None, "side * side")),
         nrow=arg.count(high="len(images)"))
def image_grid(images: object, nrow: int, ax: object, side: int = 8) -> None:
    """Tile flattened ``side x side`` images in [0, 1] into one picture with ``nrow`` rows on ``ax`` (grey 1-pixel gaps)."""
    ncol = -(-images.shape[0] // nrow)
    canvas = np.full((nrow * (side + 1) - 1, ncol * (side + 1) - 1), 0.3)      # light grey gaps
    for k, img in enumerate(images):
        r, c = divmod(k, ncol)
        canvas[r * (side + 1): r * (side + 1) + side, c * (side + 1): c * (side + 1) + side] = img.reshape(side, side)
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[])
    ax.grid(False)

"""Expectation-maximization: the two-coin example, Gaussian mixtures, the ELBO and hard EM.

Also a mixture of Bernoullis. Everything is numpy; responsibilities are computed in log space
with :func:`mlnotes.prob.logsumexp` so that tiny densities never underflow.

Notation: ``X`` has shape (N, D), a mixture has ``K`` components with ``weights`` (K,),
``means`` (K, D) and ``covs`` (K, D, D); responsibilities ``resp`` (N, K) are
``Q_i(z = k) = P(z = k | x_i, theta)``.
"""

from __future__ import annotations

import numpy as np

from mlnotes.prob import logsumexp, softmax
from mlnotes.validate import checked, arg

MAX_ITERS = 100_000   # more EM iterations than this is a mistake, not a request

__all__ = ["bernoulli_mixture_em", "bernoulli_mixture_loglik", "converged", "e_step", "elbo",
           "gaussian_ellipse", "gmm_em", "gmm_logpdf", "kmeans_hard_em", "m_step",
           "mixing_weight_bound", "plot_restarts", "random_init", "two_coins_em",
           "two_coins_responsibilities"]

LOG_2PI = np.log(2.0 * np.pi)


# A mixture of K components in D dimensions, as rules for the functions that take one.
_MIXTURE = dict(means=arg.array(shape=("K", "D")), covs=arg.array(shape=("K", "D", "D")),
                weights=arg.array(shape=("K",), low=0.0, sums_to=1))


# ----------------------------------------------------------------------------- two coins
@checked(n=arg.count(high=10**6), heads=arg.array(ndim=1, integer=True, low=0, high="n"),
         theta_a=arg.probability(low_open=True, high_open=True), theta_b=arg.probability(low_open=True, high_open=True))
def two_coins_responsibilities(heads: object, n: int, theta_a: float, theta_b: float) -> np.ndarray:
    """P(coin = A | heads_i) for each set of ``n`` tosses, with equal prior on the two coins.

    ``Q_i(A) = theta_a^h (1-theta_a)^(n-h) / (same + theta_b^h (1-theta_b)^(n-h))``, shape (S,).
    """
    log_a = heads * np.log(theta_a) + (n - heads) * np.log1p(-theta_a)
    log_b = heads * np.log(theta_b) + (n - heads) * np.log1p(-theta_b)
    return softmax(np.stack([log_a, log_b], axis=1), axis=1)[:, 0]


@checked(iters=arg.count(low=0, high=MAX_ITERS))
def two_coins_em(heads: object, n: int, theta_a: float, theta_b: float,
                 iters: int = 10) -> list[tuple[float, float]]:
    """EM for two biased coins (Do & Batzoglou 2008): the trajectory ``[(theta_a, theta_b), ...]``.

    E-step: responsibilities ``Q_i(A)``; M-step: ``theta_a = sum_i Q_i(A) h_i / sum_i Q_i(A) n``
    (and the same with ``1 - Q_i(A)`` for B). Returns ``iters + 1`` pairs, the start first.
    """
    two_coins_responsibilities(heads, n, theta_a, theta_b)          # validates the rest
    heads_arr, theta_a, theta_b = np.asarray(heads), float(theta_a), float(theta_b)
    path = [(float(theta_a), float(theta_b))]
    for _ in range(iters):
        q = two_coins_responsibilities(heads_arr, n, theta_a, theta_b)
        theta_a = float(np.sum(q * heads_arr) / (n * np.sum(q)))
        theta_b = float(np.sum((1 - q) * heads_arr) / (n * np.sum(1 - q)))
        path.append((theta_a, theta_b))
    return path


# ----------------------------------------------------------------------------- Gaussian mixtures
@checked(X=arg.array(shape=("N", "D")), **_MIXTURE)
def gmm_logpdf(X: object, means: object, covs: object, weights: object) -> np.ndarray:
    """Log joint ``log pi_k + log N(x_i | mu_k, Sigma_k)`` for every point and component, (N, K).

    Vectorized through one Cholesky factor per component: with ``Sigma = L L^T``,
    ``log N = -D/2 log 2pi - sum log diag L - |L^{-1}(x - mu)|^2 / 2``.
    """
    try:
        L = np.linalg.cholesky(covs)
    except np.linalg.LinAlgError as err:
        raise ValueError("every covariance in covs must be symmetric positive definite") from err
    diff = X[None, :, :] - means[:, None, :]                       # (K, N, D)
    z = np.linalg.solve(L, diff.transpose(0, 2, 1))                # (K, D, N)
    maha = np.sum(z ** 2, axis=1)                                  # (K, N)
    log_det = 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
    with np.errstate(divide="ignore"):                              # weight 0 -> log 0 = -inf
        log_w = np.log(weights)
    log_norm = -0.5 * (X.shape[1] * LOG_2PI + log_det[:, None] + maha)
    return (log_w[:, None] + log_norm).T


@checked(log_joint=arg.array(ndim=2, finite="-inf"), Q=arg.array(shape="log_joint.shape", low=0.0, sums_to=1))
def elbo(log_joint: object, Q: object) -> float:
    """Evidence lower bound ``sum_i sum_z Q_i(z) (log P(x_i, z) - log Q_i(z))`` (0 log 0 = 0).

    ``log_joint`` and ``Q`` have shape (N, K); each row of ``Q`` is a distribution. By Jensen the
    result is <= ``sum_i logsumexp(log_joint_i)``, with equality when ``Q`` is the posterior.
    """
    mask = Q > 0
    return float(np.sum(Q[mask] * (log_joint[mask] - np.log(Q[mask]))))


def e_step(X: object, means: object, covs: object, weights: object) -> tuple[np.ndarray, float]:
    """Responsibilities ``P(z = k | x_i)`` (N, K) and the total log-likelihood ``sum_i log p(x_i)``."""
    log_joint = gmm_logpdf(X, means, covs, weights)
    log_px = logsumexp(log_joint, axis=1)
    return np.exp(log_joint - log_px[:, None]), float(np.sum(log_px))


@checked(X=arg.array(shape=("N", "D")), resp=arg.array(shape=("N", None), low=0.0), reg=arg.real(0.0))
def m_step(X: object, resp: object, reg: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form maximizer of the expected complete-data log-likelihood: ``(means, covs, weights)``.

    ``N_k = sum_i r_ik``, ``pi_k = N_k / N``, ``mu_k = sum_i r_ik x_i / N_k``,
    ``Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg * I``.
    """
    Nk = resp.sum(axis=0)
    if np.any(Nk <= 0):
        raise ValueError("a component has zero responsibility; restart or merge components")
    means = resp.T @ X / Nk[:, None]
    diff = X[None, :, :] - means[:, None, :]
    covs = np.einsum("nk,kni,knj->kij", resp, diff, diff) / Nk[:, None, None]
    covs += reg * np.eye(X.shape[1])
    return means, covs, Nk / X.shape[0]


@checked(X=arg.array(ndim=2), K=arg.int(low=1, high="X.shape[0]"), seed=arg.seed())
def random_init(X: object, K: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Start a mixture: means at K distinct random data points, every cov = data covariance, equal weights."""
    rng = np.random.default_rng(seed)
    means = X[rng.choice(X.shape[0], size=K, replace=False)]
    cov = np.atleast_2d(np.cov(X.T)) + 1e-6 * np.eye(X.shape[1])
    return {"means": means.copy(), "covs": np.repeat(cov[None], K, axis=0), "weights": np.full(K, 1.0 / K)}


@checked(X=arg.array(ndim=2), K=arg.int(low=1, high="X.shape[0]"), init=arg.optional(arg.mapping()),
         iters=arg.count(low=0, high=MAX_ITERS), reg=arg.real(0.0))
def gmm_em(X: object, K: int, init: dict | None = None, iters: int = 100, reg: float = 0.0,
           seed: int = 0) -> dict:
    """Fit a K-component full-covariance Gaussian mixture by EM for exactly ``iters`` iterations.

    Returns a dict with the final ``means``, ``covs``, ``weights``, ``resp`` (N, K), the history
    ``loglik`` (iters + 1 values: log-likelihood of the parameters after 0, 1, ... M-steps),
    ``elbo_gap`` (ELBO minus log-likelihood right after each E-step: 0 up to round-off),
    ``param_change`` (max |change| of any parameter per iteration) and ``states`` (the
    parameters after every iteration, the start first).
    """
    start = random_init(X, K, seed) if init is None else init
    if not {"means", "covs", "weights"} <= set(start):
        raise ValueError("init must be a dict with keys 'means', 'covs', 'weights'")
    gmm_logpdf(X, start["means"], start["covs"], start["weights"])      # checks the start against X
    means, covs, weights = (np.asarray(start[key], dtype=np.float64) for key in ("means", "covs", "weights"))
    if len(means) != K:
        raise ValueError(f"init has {len(means)} components but K={K}")
    states = [(means, covs, weights)]
    loglik, gaps, changes = [], [], []
    for _ in range(iters):
        log_joint = gmm_logpdf(X, means, covs, weights)
        log_px = logsumexp(log_joint, axis=1)
        resp = np.exp(log_joint - log_px[:, None])
        loglik.append(float(log_px.sum()))
        gaps.append(elbo(log_joint, resp) - loglik[-1])
        new = m_step(X, resp, reg)
        changes.append(max(float(np.max(np.abs(a - b))) for a, b in zip(new, (means, covs, weights))))
        means, covs, weights = new
        states.append(new)
    resp, final = e_step(X, means, covs, weights)
    loglik.append(final)
    return {"means": means, "covs": covs, "weights": weights, "resp": resp, "loglik": np.array(loglik),
            "elbo_gap": np.array(gaps), "param_change": np.array(changes), "states": states}


@checked(loglik=arg.array(ndim=1), n_points=arg.count(high=10**8), window=arg.int(low=1, high="len(loglik) - 1"),
         tol=arg.real())
def converged(loglik: object, n_points: int, window: int = 50, tol: float = 1e-8) -> bool:
    """True when a log-likelihood history gained less than ``tol`` nats per point over its last
    ``window`` iterations (EM never decreases it, so a run that still gains is still climbing)."""
    return bool((loglik[-1] - loglik[-1 - window]) / n_points < tol)


@checked(ax=arg.axes(), logliks=arg.sequence(arg.array(ndim=1)),
         is_converged=arg.array(shape=("len(logliks)",), bool_ok=True, dtype=None), n_points=arg.count(high=10**8))
def plot_restarts(ax: object, logliks: list, is_converged: list, n_points: int) -> object:
    """Mean log-likelihood per iteration of several EM runs: converged runs solid, others dashed."""
    from mlnotes.plotting import COLORS

    for ll, ok in zip(logliks, is_converged):
        ax.plot(np.asarray(ll) / n_points, color=COLORS[0] if ok else COLORS[1],
                lw=1.6 if ok else 1.0, ls="-" if ok else "--")
    ax.plot([], [], color=COLORS[0], lw=1.6, label="converged")
    ax.plot([], [], color=COLORS[1], ls="--", label="still rising at the last iteration")
    ax.legend(fontsize=7, loc="lower right")
    return ax


# ----------------------------------------------------------------------------- 1-D bound picture
@checked(x=arg.array(ndim=1), pis=arg.array(ndim=1), pi_j=arg.probability(low_open=True, high_open=True))
def mixing_weight_bound(x: object, pis: object, pi_j: float, means: tuple[float, float] = (-1.0, 1.5),
                        sds: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray, float]:
    """Log-likelihood of ``pi`` and the EM lower bound built at ``pi_j``, for a 1-D two-component mixture.

    Only the weight ``pi`` of component 1 is unknown: ``p(x) = (1 - pi) N(x|m0, s0) + pi N(x|m1, s1)``.
    Returns ``(loglik(pis), bound(pis), pi_next)`` where ``bound(pi) = ELBO(pi; Q = posterior at pi_j)``
    touches ``loglik`` at ``pi_j`` and is maximized at ``pi_next = mean_i Q_i(z = 1)``.
    """
    if np.any(pis <= 0) or np.any(pis >= 1):
        raise ValueError("pis must be a non-empty 1-D array of values in (0, 1)")
    log_n = np.stack([-0.5 * LOG_2PI - np.log(s) - 0.5 * ((x - m) / s) ** 2 for m, s in zip(means, sds)], axis=1)
    log_w = np.stack([np.log1p(-pis), np.log(pis)], axis=1)            # (P, 2)
    loglik = logsumexp(log_w[:, None, :] + log_n[None], axis=2).sum(axis=1)
    Q = softmax(np.log([1 - pi_j, pi_j]) + log_n, axis=1)            # (N, 2)
    bound = np.array([elbo(lw + log_n, Q) for lw in log_w])
    return loglik, bound, float(Q[:, 1].mean())


# ----------------------------------------------------------------------------- hard EM
@checked(X=arg.array(shape=("N", "D")), centers=arg.array(shape=("K", "D")), iters=arg.count(high=MAX_ITERS))
def kmeans_hard_em(X: object, centers: object, iters: int = 100) -> dict:
    """K-means as hard EM: assign each point to its nearest centre (E), move centres to means (M).

    ``centers`` (K, D) is the start. Returns ``centers``, ``labels`` (N,) and ``inertia`` history
    (sum of squared distances to the assigned centre, one value per E-step).
    """
    centers = centers.copy()
    inertia = []
    for _ in range(iters):
        d2 = np.sum((X[:, None, :] - centers[None]) ** 2, axis=2)
        labels = np.argmin(d2, axis=1)                                     # hard E-step
        inertia.append(float(d2[np.arange(len(X)), labels].sum()))
        for k in range(len(centers)):                                      # M-step
            if np.any(labels == k):
                centers[k] = X[labels == k].mean(axis=0)
    return {"centers": centers, "labels": labels, "inertia": np.array(inertia)}


# ----------------------------------------------------------------------------- Bernoulli mixtures
@checked(X=arg.array(ndim=2, bool_ok=True, values=(0, 1)), K=arg.int(low=1, high="X.shape[0]"),
         iters=arg.count(high=MAX_ITERS), alpha=arg.real(0.0), seed=arg.seed())
def bernoulli_mixture_em(X: object, K: int, iters: int = 50, seed: int = 0, alpha: float = 1.0) -> dict:
    """Mixture of K product-Bernoulli components on binary data X (N, D), fitted by EM.

    M-step with Laplace smoothing ``alpha``: ``p_kd = (sum_i r_ik x_id + alpha) / (N_k + 2 alpha)``.
    Returns ``weights`` (K,), ``probs`` (K, D) and the ``loglik`` history (nats, total).
    """
    X = X.astype(np.float64)
    rng = np.random.default_rng(seed)
    resp = rng.dirichlet(np.ones(K), size=X.shape[0])
    loglik = []
    for _ in range(iters):
        Nk = resp.sum(axis=0)
        weights = Nk / X.shape[0]
        probs = (resp.T @ X + alpha) / (Nk[:, None] + 2 * alpha)
        probs = np.clip(probs, 1e-12, 1 - 1e-12)
        log_joint = np.log(weights) + X @ np.log(probs).T + (1 - X) @ np.log1p(-probs).T
        log_px = logsumexp(log_joint, axis=1)
        resp = np.exp(log_joint - log_px[:, None])
        loglik.append(float(log_px.sum()))
    return {"weights": weights, "probs": probs, "loglik": np.array(loglik)}


@checked(X=arg.array(shape=("N", "D"), bool_ok=True), weights=arg.array(shape=("K",), low=0.0),
         probs=arg.array(shape=("K", "D")))
def bernoulli_mixture_loglik(X: object, weights: object, probs: object) -> np.ndarray:
    """Per-row log-likelihood ``log sum_k pi_k prod_d p_kd^x_d (1 - p_kd)^(1 - x_d)``, shape (N,)."""
    X = X.astype(np.float64)
    if np.any(probs <= 0) or np.any(probs >= 1):
        raise ValueError("probs must lie strictly inside (0, 1)")
    log_joint = np.log(weights) + X @ np.log(probs).T + (1 - X) @ np.log1p(-probs).T
    return logsumexp(log_joint, axis=1)


# ----------------------------------------------------------------------------- drawing
@checked(ax=arg.axes(), mean=arg.array(shape=(2,)), cov=arg.array(shape=(2, 2)))
def gaussian_ellipse(ax: object, mean: object, cov: object, n_std: tuple[float, ...] = (1.0, 2.0),
                     **kw: object) -> None:
    """Draw the ``n_std``-sigma contour ellipses of a 2-D Gaussian on ``ax`` (eigen-decomposition of cov)."""
    from matplotlib.patches import Ellipse

    vals, vecs = np.linalg.eigh(cov)
    if np.any(vals <= 0):
        raise ValueError("cov must be positive definite")
    angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
    style = {"fill": False, "lw": 1.5} | kw
    for s in n_std:
        ax.add_patch(Ellipse(mean, 2 * s * np.sqrt(vals[1]), 2 * s * np.sqrt(vals[0]), angle=angle, **style))

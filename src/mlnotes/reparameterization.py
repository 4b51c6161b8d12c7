"""Gradient estimators for objectives of the form ``L(theta) = E_{z ~ p_theta}[f(z)]``.

Holds the two families the reparameterization chapter compares:

* the **pathwise / reparameterization** estimator: write ``z = mu + sigma * eps`` with
  ``eps ~ N(0, 1)`` and differentiate through ``f``: ``f'(z) * (1, eps)``;
* the **score-function / REINFORCE** estimator: ``(f(z) - b) * d/dtheta log p_theta(z)``,
  which needs no derivative of ``f`` (so it works for discrete ``z`` and step functions);

for a Gaussian and for a categorical variable (where the pathwise route goes through the
Gumbel-softmax relaxation), plus the straight-through Gumbel-softmax in torch and two small
helpers to draw 3-class probability vectors on a triangle.

The numpy samplers themselves (``sample_gumbel``, ``gumbel_max``, ``gumbel_softmax``) live in
:mod:`mlnotes.prob`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.stats import norm

from mlnotes.prob import as_generator, gumbel_max, sample_gumbel, softmax
from mlnotes.validate import checked, arg

__all__ = ["TEST_FUNCTIONS", "pathwise_estimates", "score_function_estimates", "reparam_grad",
           "score_function_grad", "exact_categorical_grad", "score_function_categorical",
           "gumbel_softmax_categorical", "gumbel_softmax_st", "simplex_xy", "draw_simplex"]

Fn = Callable[[np.ndarray], np.ndarray]


# Argument rules: n samples of z ~ N(mu, sigma^2); k >= 2 classes with one reward each.
_GAUSSIAN = dict(mu=arg.real(), sigma=arg.positive(), n=arg.count(high=10 ** 7))
_CATEGORICAL = dict(logits=arg.array(shape=("k >= 2",)), reward=arg.array(shape=("k",)))


def _apply(fn: Fn, z: np.ndarray, name: str) -> np.ndarray:
    out = np.asarray(fn(z), dtype=np.float64)
    if out.shape != z.shape:
        raise ValueError(f"{name} must map an array of shape {z.shape} to the same shape, got {out.shape}")
    return out


# ----------------------------------------------------------------------------- Gaussian
@checked(f_prime=arg.callable(), **_GAUSSIAN)
def pathwise_estimates(f_prime: Fn, mu: float, sigma: float, n: int, rng: object) -> np.ndarray:
    """Single-sample reparameterization gradients of ``E_{z ~ N(mu, sigma^2)}[f(z)]``.

    With ``z = mu + sigma * eps``: ``d f / d mu = f'(z)`` and ``d f / d sigma = f'(z) * eps``.
    Returns an (n, 2) array, columns (d/dmu, d/dsigma); its column means are unbiased when
    ``f`` is differentiable (almost everywhere is NOT enough for step functions).
    """
    eps = as_generator(rng).standard_normal(n)
    df = _apply(f_prime, mu + sigma * eps, "f_prime")
    return np.stack([df, df * eps], axis=1)


@checked(f=arg.callable(), **_GAUSSIAN, baseline=arg.real())
def score_function_estimates(f: Fn, mu: float, sigma: float, n: int, rng: object,
                             baseline: float = 0.0) -> np.ndarray:
    """Single-sample score-function (REINFORCE) gradients of ``E_{z ~ N(mu, sigma^2)}[f(z)]``.

    ``(f(z) - b) * grad log N(z; mu, sigma^2)`` with scores ``(z - mu) / sigma^2 = eps / sigma``
    and ``((z - mu)^2 / sigma^2 - 1) / sigma = (eps^2 - 1) / sigma``. A constant baseline ``b``
    keeps the mean (the score has mean zero) and can cut the variance. Returns (n, 2).
    """
    eps = as_generator(rng).standard_normal(n)
    centred = _apply(f, mu + sigma * eps, "f") - baseline
    return np.stack([centred * eps / sigma, centred * (eps ** 2 - 1) / sigma], axis=1)


def reparam_grad(f_prime: Fn, mu: float, sigma: float, n: int, rng: object) -> tuple[np.ndarray, np.ndarray]:
    """Pathwise estimate of ``grad_(mu, sigma) E[f(mu + sigma eps)]``: (mean (2,), per-sample variance (2,))."""
    est = pathwise_estimates(f_prime, mu, sigma, n, rng)
    return est.mean(axis=0), est.var(axis=0)


def score_function_grad(f: Fn, mu: float, sigma: float, n: int, rng: object,
                        baseline: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Score-function estimate of ``grad_(mu, sigma) E[f(z)]``: (mean (2,), per-sample variance (2,))."""
    est = score_function_estimates(f, mu, sigma, n, rng, baseline)
    return est.mean(axis=0), est.var(axis=0)


def _square_grad(mu: float, sigma: float) -> np.ndarray:
    return np.array([2 * mu, 2 * sigma])


def _sin_grad(mu: float, sigma: float) -> np.ndarray:
    damp = np.exp(-sigma ** 2 / 2)  # E[sin z] = sin(mu) exp(-sigma^2 / 2)
    return np.array([np.cos(mu) * damp, -sigma * np.sin(mu) * damp])


def _step_grad(mu: float, sigma: float) -> np.ndarray:
    density = norm.pdf(mu / sigma)  # E[1{z > 0}] = Phi(mu / sigma)
    return np.array([density / sigma, -mu * density / sigma ** 2])


#: Test functions for the Gaussian estimators: name -> (f, f', exact gradient (mu, sigma) -> (2,)).
#: The step function has f' = 0 wherever it exists, so the pathwise estimator returns 0 for it.
TEST_FUNCTIONS: dict[str, tuple[Fn, Fn, Callable[[float, float], np.ndarray]]] = {
    "z^2": (np.square, lambda z: 2 * z, _square_grad),
    "sin z": (np.sin, np.cos, _sin_grad),
    "1[z>0]": (lambda z: (z > 0).astype(np.float64), np.zeros_like, _step_grad),
}


# ----------------------------------------------------------------------------- categorical
@checked(**_CATEGORICAL)
def exact_categorical_grad(logits: object, reward: object) -> np.ndarray:
    """``grad_logits E_{y ~ softmax(logits)}[reward_y] = p * (reward - p . reward)``, shape (k,)."""
    lg, r = logits, reward
    p = softmax(lg)
    return p * (r - p @ r)


@checked(**_CATEGORICAL, baseline=arg.real())
def score_function_categorical(logits: object, reward: object, n: int, rng: object,
                               baseline: float = 0.0) -> np.ndarray:
    """REINFORCE gradients w.r.t. logits of ``E_y[reward_y]``: ``(reward_y - b)(onehot(y) - p)``, (n, k).

    ``y`` is drawn exactly with the Gumbel-max trick; the estimator is unbiased.
    """
    lg, r = logits, reward
    y = gumbel_max(lg, n, rng)
    return (r[y] - baseline)[:, None] * (np.eye(lg.size)[y] - softmax(lg))


@checked(**_CATEGORICAL, tau=arg.positive(), n=arg.count(high=10 ** 7))
def gumbel_softmax_categorical(logits: object, reward: object, tau: float, n: int, rng: object) -> np.ndarray:
    """Pathwise gradients w.r.t. logits of the RELAXED objective ``E_g[reward . y]``, (n, k).

    ``y = softmax((logits + g) / tau)`` has Jacobian ``(diag(y) - y y^T) / tau``, so one sample
    gives ``y * (reward - y . reward) / tau``. Low variance, but biased for the categorical
    objective: its mean tends to :func:`exact_categorical_grad` only as ``tau -> 0``.
    """
    lg, r = logits, reward
    y = softmax(lg + sample_gumbel((int(n), lg.size), rng), tau=float(tau))
    return y * (r[None, :] - (y @ r)[:, None]) / tau


# ----------------------------------------------------------------------------- torch
@checked(logits=arg.tensor(min_ndim=1, floating=True), tau=arg.positive(), hard=arg.bool())
def gumbel_softmax_st(logits, tau: float = 1.0, hard: bool = True, generator=None):
    """Gumbel-softmax in torch with an optional straight-through one-hot (``hard=True``).

    ``logits`` is a float tensor (..., k). The soft sample is ``softmax((logits + g) / tau)``;
    with ``hard=True`` the forward value is ``one_hot(argmax) - y_soft.detach() + y_soft``: exactly
    one-hot, with the gradient of the soft sample. Noise is drawn as in
    ``torch.nn.functional.gumbel_softmax`` (``-log Exp(1)``), so with the same global seed and no
    ``generator`` the two agree exactly.
    """
    import torch

    gumbels = -torch.empty_like(logits).exponential_(generator=generator).log()
    y_soft = torch.softmax((logits + gumbels) / tau, dim=-1)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim=-1, keepdim=True)
    y_hard = torch.zeros_like(logits).scatter_(-1, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


# ----------------------------------------------------------------------------- simplex plots
_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])


@checked(P=arg.array(ndim=2, shape=(None, 3)))
def simplex_xy(P: object) -> np.ndarray:
    """Barycentric -> Cartesian: rows of ``P`` (n, 3) on the simplex map into an equilateral triangle (n, 2).

    Corner ``i`` (the one-hot ``e_i``) sits at ``(0, 0)``, ``(1, 0)``, ``(1/2, sqrt(3)/2)``.
    """
    return P @ _CORNERS


@checked(ax=arg.axes(), labels=arg.sequence(arg.text(min_len=0), min_len=3, max_len=3))
def draw_simplex(ax, labels: tuple[str, str, str] = ("class 0", "class 1", "class 2")) -> None:
    """Draw the triangle outline and corner labels on ``ax`` (equal aspect, no ticks)."""
    closed = np.vstack([_CORNERS, _CORNERS[:1]])
    ax.plot(closed[:, 0], closed[:, 1], color="black", lw=0.8)
    offsets = [(-0.05, -0.07), (0.05, -0.07), (0.0, 0.05)]
    for (x, y), (dx, dy), text in zip(_CORNERS, offsets, labels):
        ax.text(x + dx, y + dy, text, ha="center", va="center", fontsize=8)
    ax.set_aspect("equal")
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(-0.13, 0.97)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)

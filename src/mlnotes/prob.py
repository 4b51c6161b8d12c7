"""Probability building blocks in numpy: stable log-sum-exp and softmax.

Shared by the chapters on smoothing, attention, reparameterization and generative models;
chapter-specific distributions and estimators live in their own topic modules.
"""

from __future__ import annotations

import numpy as np

from mlnotes.validate import arg, check_int, check_seed, checked

__all__ = ["as_generator", "gumbel_max", "gumbel_softmax", "log_softmax", "logsumexp", "sample_gumbel", "softmax"]


# The shared rules of the softmax family: x (any shape, +-inf and NaN allowed), an axis of x, tau > 0.
_SOFTMAX = dict(x=arg.array(min_ndim=1, finite=False), axis=arg.int(low="-x.ndim", high="x.ndim - 1"),
               tau=arg.real(low=0.0, low_open=True))


@checked(**_SOFTMAX)
def logsumexp(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``tau * log(sum(exp(x / tau)))`` along ``axis``, computed without overflow.

    Shifts by the maximum first: ``m + tau * log(sum(exp((x - m) / tau)))``. As ``tau -> 0``
    it tends to ``max(x)``; it is always within ``tau * log(n)`` above it. NaN propagates.
    """
    a = x
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    # x - m may overflow to -inf (its exp is then exactly 0); all entries -inf give log 0 = -inf.
    with np.errstate(divide="ignore", over="ignore"):
        out = m + tau * np.log(np.sum(np.exp((a - m) / tau), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


@checked(**_SOFTMAX)
def softmax(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``exp(x / tau) / sum(exp(x / tau))`` along ``axis``; same shape as ``x``, rows sum to 1.
    NaN propagates."""
    a = x
    # a gap beyond the float range is -inf, and exp(-inf) = 0; all-+inf rows give NaN
    with np.errstate(over="ignore", invalid="ignore"):
        z = (a - np.max(a, axis=axis, keepdims=True)) / tau
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


@checked(**_SOFTMAX)
def log_softmax(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``log softmax(x / tau)`` along ``axis``, stable for large logits. NaN propagates."""
    a = x
    with np.errstate(invalid="ignore"):  # +inf logits: NaN, like scipy
        return a / tau - np.expand_dims(logsumexp(a, axis=axis, tau=tau), axis) / tau


# ---------------------------------------------------------------------------
# Gumbel noise, Gumbel-max and Gumbel-softmax (chapter: generative/reparameterization).
# ---------------------------------------------------------------------------

def as_generator(rng: object) -> np.random.Generator:
    """A numpy ``Generator`` from ``rng``: a Generator is returned as is, an int seeds a new
    one, None draws a fresh seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(check_seed(rng, "rng"))


@checked(eps=arg.real(low=0.0, high=0.5, low_open=True, high_open=True))
def sample_gumbel(shape: int | tuple[int, ...], rng: object, eps: float = 1e-12) -> np.ndarray:
    """Standard Gumbel noise ``g = -log(-log u)``, ``u ~ U(0, 1)``, of the given shape.

    ``u`` is clipped to ``[eps, 1 - eps]`` so that ``g`` stays finite
    (``|g| <= log(1/eps)`` roughly, about 27.6 for the default ``eps``).
    """
    shape = tuple(check_int("shape", n, 0, 10**8) for n in np.atleast_1d(np.asarray(shape, dtype=object)))
    if np.prod(shape, dtype=float) > 10**8:
        raise ValueError(f"shape {shape} asks for more than 10**8 samples")
    u = np.clip(as_generator(rng).random(shape), eps, 1.0 - eps)
    return -np.log(-np.log(u))


@checked(logits=arg.array(ndim=1, finite="-inf"), n=arg.count(high=10**8))
def gumbel_max(logits: object, n: int, rng: object) -> np.ndarray:
    """``n`` exact categorical samples: ``argmax_i (logits_i + g_i)`` with Gumbel noise ``g``.

    ``logits`` has shape (k,) (unnormalized log-probabilities; any shift gives the same law).
    Returns int64 class indices of shape (n,), distributed as ``softmax(logits)``.
    """
    a = logits
    if np.isneginf(a).all():
        raise ValueError("logits need at least one finite entry (-inf marks an impossible class)")
    g = sample_gumbel((n, a.shape[0]), rng)
    return np.argmax(a + g, axis=1).astype(np.int64)


@checked(logits=arg.array(min_ndim=1, finite="-inf"), tau=arg.real(low=0.0, low_open=True),
         n=arg.optional(arg.count(high=10**8)), hard=arg.bool())
def gumbel_softmax(logits: object, tau: float, rng: object, n: int | None = None,
                   hard: bool = False) -> np.ndarray:
    """Relaxed one-hot samples ``softmax((logits + g) / tau)`` (the Concrete distribution).

    ``logits`` (..., k); returns (..., k) when ``n`` is None, else (n, ..., k). Each row lies on the
    probability simplex. ``hard=True`` returns the one-hot of the row's argmax instead, which is
    an exact categorical sample (Gumbel-max); the soft vectors are NOT: their mean differs from
    ``softmax(logits)`` for every ``tau > 0`` and tends to it only as ``tau -> 0``.
    """
    a = logits
    if np.isneginf(a).all(axis=-1).any():
        raise ValueError("every row of logits needs at least one finite entry")
    shape = a.shape if n is None else (n,) + a.shape
    g = sample_gumbel(shape, rng)
    scores = a + g
    if hard:
        k = scores.shape[-1]
        return np.eye(k)[np.argmax(scores, axis=-1)]
    return softmax(scores, axis=-1, tau=float(tau))

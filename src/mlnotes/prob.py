"""Probability building blocks in numpy: stable log-sum-exp and softmax.

Shared by the chapters on smoothing, attention, reparameterization and generative models;
chapter-specific distributions and estimators live in their own topic modules.
"""

from __future__ import annotations

import numpy as np


def _as_float_array(x: object, name: str = "x") -> np.ndarray:
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    return array.astype(np.float64)


def logsumexp(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``tau * log(sum(exp(x / tau)))`` along ``axis``, computed without overflow.

    Shifts by the maximum first: ``m + tau * log(sum(exp((x - m) / tau)))``. As ``tau -> 0``
    it tends to ``max(x)``; it is always within ``tau * log(n)`` above it.
    """
    a = _as_float_array(x)
    if not tau > 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    # x - m may overflow to -inf (its exp is then exactly 0); all entries -inf give log 0 = -inf.
    with np.errstate(divide="ignore", over="ignore"):
        out = m + tau * np.log(np.sum(np.exp((a - m) / tau), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


def softmax(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``exp(x / tau) / sum(exp(x / tau))`` along ``axis``; same shape as ``x``, rows sum to 1."""
    a = _as_float_array(x)
    if not tau > 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    with np.errstate(over="ignore"):  # a gap beyond the float range is -inf, and exp(-inf) = 0
        z = (a - np.max(a, axis=axis, keepdims=True)) / tau
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``log softmax(x / tau)`` along ``axis``, stable for large logits."""
    a = _as_float_array(x)
    if not tau > 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    return a / tau - np.expand_dims(logsumexp(a, axis=axis, tau=tau), axis) / tau


# ---------------------------------------------------------------------------
# Gumbel noise, Gumbel-max and Gumbel-softmax (chapter: generative/reparameterization).
# ---------------------------------------------------------------------------

def as_generator(rng: object) -> np.random.Generator:
    """A numpy ``Generator`` from ``rng``: a Generator is returned as is, an int seeds a new one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng must be a numpy Generator or a non-negative int seed, got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"seed must be >= 0, got {rng}")
    return np.random.default_rng(int(rng))


def _check_logits(logits: object) -> np.ndarray:
    a = _as_float_array(logits, "logits")
    if a.ndim < 1 or a.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., k) with k >= 1, got {a.shape}")
    if np.isnan(a).any() or np.isposinf(a).any():
        raise ValueError("logits must not contain NaN or +inf (-inf marks an impossible class)")
    if np.isneginf(a).all(axis=-1).any():
        raise ValueError("every row of logits needs at least one finite entry")
    return a


def _check_count(n: object, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)


def sample_gumbel(shape: int | tuple[int, ...], rng: object, eps: float = 1e-12) -> np.ndarray:
    """Standard Gumbel noise ``g = -log(-log u)``, ``u ~ U(0, 1)``, of the given shape.

    ``u`` is clipped to ``[eps, 1 - eps]`` so that ``g`` stays finite
    (``|g| <= log(1/eps)`` roughly, about 27.6 for the default ``eps``).
    """
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, tuple) or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                               and s >= 0 for s in shape):
        raise TypeError(f"shape must be an int or a tuple of non-negative ints, got {shape!r}")
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")
    u = np.clip(as_generator(rng).random(shape), eps, 1.0 - eps)
    return -np.log(-np.log(u))


def gumbel_max(logits: object, n: int, rng: object) -> np.ndarray:
    """``n`` exact categorical samples: ``argmax_i (logits_i + g_i)`` with Gumbel noise ``g``.

    ``logits`` has shape (k,) (unnormalized log-probabilities; any shift gives the same law).
    Returns int64 class indices of shape (n,), distributed as ``softmax(logits)``.
    """
    a = _check_logits(logits)
    if a.ndim != 1:
        raise ValueError(f"logits must be 1-D (k,), got shape {a.shape}")
    n = _check_count(n)
    g = sample_gumbel((n, a.shape[0]), rng)
    return np.argmax(a + g, axis=1).astype(np.int64)


def gumbel_softmax(logits: object, tau: float, rng: object, n: int | None = None,
                   hard: bool = False) -> np.ndarray:
    """Relaxed one-hot samples ``softmax((logits + g) / tau)`` (the Concrete distribution).

    ``logits`` (..., k); returns (..., k) when ``n`` is None, else (n, ..., k). Each row lies on the
    probability simplex. ``hard=True`` returns the one-hot of the row's argmax instead, which is
    an exact categorical sample (Gumbel-max); the soft vectors are NOT: their mean differs from
    ``softmax(logits)`` for every ``tau > 0`` and tends to it only as ``tau -> 0``.
    """
    a = _check_logits(logits)
    if isinstance(tau, bool) or not isinstance(tau, (int, float, np.floating, np.integer)) or not tau > 0:
        raise ValueError(f"temperature tau must be a number > 0, got {tau!r}")
    if not isinstance(hard, (bool, np.bool_)):
        raise TypeError(f"hard must be a bool, got {type(hard).__name__}")
    shape = a.shape if n is None else (_check_count(n),) + a.shape
    g = sample_gumbel(shape, rng)
    scores = a + g
    if hard:
        k = scores.shape[-1]
        return np.eye(k)[np.argmax(scores, axis=-1)]
    return softmax(scores, axis=-1, tau=float(tau))

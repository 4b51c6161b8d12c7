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
    out = m + tau * np.log(np.sum(np.exp((a - m) / tau), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


def softmax(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``exp(x / tau) / sum(exp(x / tau))`` along ``axis``; same shape as ``x``, rows sum to 1."""
    a = _as_float_array(x)
    if not tau > 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    z = (a - np.max(a, axis=axis, keepdims=True)) / tau
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: object, axis: int = -1, tau: float = 1.0) -> np.ndarray:
    """``log softmax(x / tau)`` along ``axis``, stable for large logits."""
    a = _as_float_array(x)
    return a / tau - np.expand_dims(logsumexp(a, axis=axis, tau=tau), axis) / tau

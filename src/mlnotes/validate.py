"""Shared input validation used by the topic modules.

Each function checks one argument at a public function's boundary and raises ``TypeError``
(wrong kind of value) or ``ValueError`` (right kind, out of range / wrong shape / NaN) with a
message naming the argument, what was wrong and what is allowed.
"""

from __future__ import annotations

import math

import numpy as np


def check_int(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python int if it is an int (not a bool) with ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return int(value)


def check_positive(name: str, value: object, allow_zero: bool = False) -> float:
    """``value`` as a float if it is a finite real number > 0 (``>= 0`` with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value}")
    return float(value)


def as_numeric_array(x: object, name: str, ndim: int | None = None, *, min_ndim: int | None = None,
                     n_cols: int | None = None, finite: bool = True, dtype: type | None = np.float64) -> np.ndarray:
    """``x`` as a non-empty numeric (or bool) array, converted to ``dtype`` (``None``: keep it).

    ``ndim``: exact number of axes; ``min_ndim``: at least that many; ``n_cols``: required size
    of the last axis. ``finite``: reject NaN and inf.
    """
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if ndim is not None and (array.ndim != ndim or 0 in array.shape):
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {array.shape}")
    if min_ndim is not None and (array.ndim < min_ndim or 0 in array.shape):
        raise ValueError(f"{name} must have at least {min_ndim} non-empty axes, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {array.shape}")
    if n_cols is not None and (array.ndim == 0 or array.shape[-1] != n_cols):
        raise ValueError(f"{name} must have {n_cols} columns, got shape {array.shape}")
    if dtype is not None:
        array = array.astype(dtype)
    if finite and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array

"""Shared input validation: the only guard a reader-facing function needs.

Each validator checks one argument at a public function's boundary and returns it in
canonical form (a Python int or float, a float64 array, ...). It raises ``TypeError`` for
the wrong kind of value and ``ValueError`` for the right kind out of range, of the wrong
shape, or NaN; the message names the argument and says what is allowed. A function
validates in one or two lines at its entry point and its body is the algorithm::

    def noisy_sine(n, noise=0.2, seed=0):
        n, noise, seed = check_count("n", n, high=10**6), check_real("noise", noise, low=0), check_seed(seed)

Kinds of argument and their validator:

- arrays: :func:`check_array` (numpy; torch tensors only with ``torch_ok=True``) and
  :func:`check_tensor` (torch only). Complex, bool (unless ``bool_ok``), object and
  string dtypes are rejected with ``TypeError``; ``ndim``/``shape``/``finite``/``dtype``.
- counts, sizes, steps: :func:`check_count` (int >= 1, optional upper bound);
  other ints: :func:`check_int`.
- seeds: :func:`check_seed`: an int >= 0, or None. ``None`` means the same everywhere:
  fresh entropy from the operating system, a different result on every call (as numpy's
  ``default_rng(None)``); the validator turns it into a concrete int, so the caller can hand
  the result to numpy and to torch alike.
- real numbers: :func:`check_real` (finite, optional bounds), :func:`check_positive`,
  :func:`check_probability` (in [0, 1], ends optionally excluded).
- choices: :func:`check_choice`; flags: :func:`check_bool`.
- objects, duck-typed: :func:`check_axes` (a matplotlib Axes), :func:`check_module`
  (a torch ``nn.Module``), :func:`check_callable`.
- relations between arguments: :func:`check_same_length`.

Booleans are never accepted where a number is expected (``True`` is not a count).

Most functions declare their rules once, above the ``def``, with :func:`checked` and one
``arg.<kind>(...)`` per argument (the same validators, named by kind); the body then receives
the canonical values and is only the algorithm::

    @checked(n=arg.count(high=10**6), noise=arg.real(low=0), seed=arg.seed())
    def noisy_sine(n, noise=0.2, seed=0):
        ...

Rules may relate arguments: ``shape=("N", "D")`` names axes that must agree across arguments,
and ``high="n"`` or ``shape=(None, "model.d_in")`` refer to another argument::

    @checked(X=arg.array(shape=("N", "D")), y=arg.array(shape=("N",)), model=arg.fitted("coef_"))

Also: :func:`check_text`, :func:`check_sequence` and :func:`check_mapping` (with a rule for
each item), :func:`check_fitted` (a model whose ``fit`` has run), ``arg.optional(rule)``.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["check_int", "check_count", "check_seed", "check_real", "check_positive", "check_probability",
           "check_bool", "check_choice", "check_array", "check_tensor", "as_numeric_array", "check_axes",
           "check_module", "check_callable", "check_same_length",
           "check_generator", "check_instance", "check_vocab", "check_tokens", "check_text", "check_sequence",
           "check_mapping", "check_fitted", "checked", "arg"]

_SEED_MAX = 2**63 - 1  # torch.manual_seed's and numpy's common range


def _type_name(value: object) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _is_torch(value: object) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


# ----------------------------------------------------------------------------- numbers
def check_int(name: str, value: object, low: int | None = None, high: int | None = None, *,
              multiple_of: int | None = None) -> int:
    """``value`` as a Python int if it is an int (not a bool) with ``low <= value <= high``
    (and a multiple of ``multiple_of``, e.g. 2 for a width made of pairs)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {_type_name(value)}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    if multiple_of is not None and value % multiple_of:
        raise ValueError(f"{name} must be a multiple of {multiple_of}, got {value}")
    return int(value)


def check_count(name: str, value: object, *, low: int = 1, high: int | None = None) -> int:
    """A count, size or number of steps: an int with ``low <= value`` (default 1) ``<= high``.

    Give ``high`` wherever a huge value can only be a mistake (an n-gram length, a number of
    bits), so that a typo fails at once instead of running for hours.
    """
    return check_int(name, value, low, high)


def check_seed(value: object, name: str = "seed") -> int:
    """A seed: an int in [0, 2**63 - 1], or None for fresh OS entropy; returned as an int.

    ``None`` draws a new seed from ``numpy.random.SeedSequence`` (different on every call), so
    that ``seed=None`` means the same thing for numpy generators and for ``torch.manual_seed``.
    """
    if value is None:
        return int(np.random.SeedSequence().entropy % _SEED_MAX)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int >= 0 or None, got {_type_name(value)}")
    if not 0 <= value <= _SEED_MAX:
        raise ValueError(f"{name} must be an int in [0, 2**63 - 1] or None, got {value}")
    return int(value)


def check_real(name: str, value: object, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """``value`` as a float if it is a real number (not a bool) in the given range.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``. NaN is always rejected;
    infinities are rejected unless ``finite=False``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {_type_name(value)}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number, got {value}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def check_positive(name: str, value: object, allow_zero: bool = False) -> float:
    """``value`` as a float if it is a finite real number > 0 (``>= 0`` with ``allow_zero``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {_type_name(value)}")
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value}")
    return float(value)


def check_probability(name: str, value: object, *, low_open: bool = False, high_open: bool = False) -> float:
    """A probability or rate in [0, 1] (either end excluded with ``low_open``/``high_open``)."""
    return check_real(name, value, 0.0, 1.0, low_open=low_open, high_open=high_open)


def check_bool(name: str, value: object) -> bool:
    """A flag: ``True`` or ``False`` (numpy bools too), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_type_name(value)}")
    return bool(value)


def check_choice(name: str, value: object, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared with ``==``; strings usually)."""
    choices = tuple(choices)
    allowed = ", ".join(repr(c) for c in choices)
    if choices and all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed}, got {_type_name(value)}")
    try:
        ok = any(value == c and type(value) is type(c) for c in choices)
    except Exception:  # arrays and other values without a plain truth value
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r:.80}")
    return value


# ----------------------------------------------------------------------------- arrays
def _shape_ok(shape: tuple[int, ...], want: Sequence[int | None]) -> bool:
    return len(shape) == len(want) and all(w is None or s == w for s, w in zip(shape, want))


def _describe_shape(want: Sequence[int | None]) -> str:
    return "(" + ", ".join("any" if w is None else str(w) for w in want) + ("," if len(want) == 1 else "") + ")"


def _check_layout(name: str, shape: tuple[int, ...], ndim, min_ndim, shape_want, allow_empty) -> None:
    empty = 0 in shape and not allow_empty
    what = "" if allow_empty else "non-empty "
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(shape) not in allowed or empty:
            dims = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be a {what}{dims} array, got shape {shape}")
    if min_ndim is not None and (len(shape) < min_ndim or empty):
        raise ValueError(f"{name} must have at least {min_ndim} {what}axes, got shape {shape}")
    if shape_want is not None and not _shape_ok(shape, shape_want):
        raise ValueError(f"{name} must have shape {_describe_shape(shape_want)}, got shape {shape}")
    if empty:
        raise ValueError(f"{name} must be non-empty, got shape {shape}")


def _check_values(name: str, array: np.ndarray, low, high, values, sums_to) -> None:
    if array.size and (low is not None or high is not None):
        lo, hi = array.min(), array.max()
        if (low is not None and lo < low) or (high is not None and hi > high):
            raise ValueError(f"{name} must have values in [{'-inf' if low is None else low}, "
                             f"{'inf' if high is None else high}], got values in [{lo:g}, {hi:g}]")
    if values is not None and not np.isin(array, values).all():
        odd = np.setdiff1d(array, values)[:5].tolist()
        raise ValueError(f"{name} must hold only the values {', '.join(f'{v:g}' for v in values)}, got {odd}")
    if sums_to is not None and array.size:
        sums = array.sum(axis=-1)
        if not np.allclose(sums, sums_to, rtol=0, atol=1e-6):
            raise ValueError(f"{name} must sum to {sums_to:g} along its last axis, "
                             f"got sums in [{sums.min():g}, {sums.max():g}]")


def check_array(name: str, x: object, *, ndim: int | Sequence[int] | None = None, min_ndim: int | None = None,
                shape: Sequence[int | None] | None = None, dtype: Any = np.float64, integer: bool = False,
                bool_ok: bool = False, finite: bool | str = True, allow_empty: bool = False,
                low: float | None = None, high: float | None = None, values: Sequence[float] | None = None,
                sums_to: float | None = None, floating: bool = False, torch_ok: bool = False):
    """``x`` as a numeric numpy array (a copy only when the dtype changes), or raise.

    - dtype: complex, object and string arrays raise ``TypeError``; so do bool arrays unless
      ``bool_ok``. ``integer=True`` requires an integer dtype (labels, indices) and keeps it;
      otherwise the result is converted to ``dtype`` (``None``: keep the input's dtype);
      ``floating=True`` requires a floating dtype (with ``dtype=None``: float32 stays float32).
    - layout: ``ndim`` (an int or a tuple of allowed ints), ``min_ndim``, ``shape`` (a tuple
      with ``None`` for free axes); empty arrays are rejected unless ``allow_empty``.
    - values: ``finite`` rejects NaN and inf (``finite="-inf"``: NaN and +inf, for logits where
      -inf marks a masked entry); ``low``/``high`` are inclusive bounds; ``values``
      lists the only values allowed (``(0, 1)`` for binary data); ``sums_to`` requires every
      slice along the last axis to sum to it (1 for probability vectors; tolerance 1e-6).
    - torch: a ``torch.Tensor`` raises ``TypeError`` unless ``torch_ok``, in which case the
      same checks run on the tensor and the tensor is returned unchanged (no conversion).
    """
    if _is_torch(x):
        if not torch_ok:
            raise TypeError(f"{name} must be a numpy array (or nested lists of numbers), got a torch tensor; "
                            f"pass {name}.numpy()")
        return check_tensor(name, x, ndim=ndim, min_ndim=min_ndim, shape=shape, integer=integer, bool_ok=bool_ok,
                            finite=finite, allow_empty=allow_empty, low=low, high=high, values=values,
                            sums_to=sums_to, floating=floating)
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"{name} must be a numeric array, got {_type_name(x)}")
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects numpy cannot read
        raise ValueError(f"{name} must be a rectangular numeric array: {exc}") from None
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex dtype {array.dtype}")
    if kind == "b" and not bool_ok:
        raise TypeError(f"{name} must be a numeric array, got bool dtype (convert with .astype(float))")
    if kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if integer and kind not in "iu" and array.size:         # [] has no dtype to check; emptiness is next
        raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")
    if floating and kind != "f":
        raise TypeError(f"{name} must be a floating-point array, got dtype {array.dtype}")
    _check_layout(name, array.shape, ndim, min_ndim, shape, allow_empty)
    if dtype is not None and not integer and not (kind == "b" and bool_ok):
        array = array.astype(dtype, copy=False)
    if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
        if finite != "-inf" or np.isnan(array).any() or (array == np.inf).any():
            allowed = "hold no NaN or +inf (-inf, a masked entry, is allowed)" if finite == "-inf" else \
                "be finite (no NaN or inf)"
            raise ValueError(f"{name} must {allowed}")
    _check_values(name, array, low, high, values, sums_to)
    return array


def check_tensor(name: str, x: object, *, ndim: int | Sequence[int] | None = None, min_ndim: int | None = None,
                 shape: Sequence[int | None] | None = None, integer: bool = False, bool_ok: bool = False,
                 finite: bool = True, allow_empty: bool = False, low: float | None = None,
                 high: float | None = None, values: Sequence[float] | None = None, sums_to: float | None = None,
                 floating: bool = False):
    """``x`` if it is a real-valued torch tensor with the given layout (see :func:`check_array`);
    ``floating=True`` also requires a floating-point dtype (inputs to a model's layers)."""
    if not _is_torch(x):
        raise TypeError(f"{name} must be a torch tensor, got {_type_name(x)}"
                        + (f"; pass torch.as_tensor({name})" if isinstance(x, np.ndarray) else ""))
    if x.is_complex():
        raise TypeError(f"{name} must be real-valued, got complex dtype {x.dtype}")
    is_bool = str(x.dtype) == "torch.bool"
    if is_bool and not bool_ok:
        raise TypeError(f"{name} must be a numeric tensor, got dtype {x.dtype}")
    if integer and (x.is_floating_point() or is_bool):
        raise TypeError(f"{name} must be an integer tensor, got dtype {x.dtype}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    _check_layout(name, tuple(x.shape), ndim, min_ndim, shape, allow_empty)
    if finite and x.is_floating_point() and not bool(x.detach().isfinite().all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if (low, high) != (None, None) and x.numel():              # bounds on the tensor, no copy
        lo, hi = float(x.detach().min()), float(x.detach().max())
        if (low is not None and lo < low) or (high is not None and hi > high):
            _check_values(name, np.array([lo, hi]), low, high, None, None)
    if (values, sums_to) != (None, None):
        _check_values(name, x.detach().cpu().double().numpy(), None, None, values, sums_to)
    return x


def as_numeric_array(x: object, name: str, ndim: int | None = None, *, min_ndim: int | None = None,
                     n_cols: int | None = None, finite: bool = True, dtype: type | None = np.float64) -> np.ndarray:
    """Older spelling of :func:`check_array` (argument first; bool arrays accepted).

    ``ndim``: exact number of axes; ``min_ndim``: at least that many; ``n_cols``: required size
    of the last axis. ``finite``: reject NaN and inf. Complex input raises ``TypeError``.
    """
    array = check_array(name, x, ndim=ndim, min_ndim=min_ndim, dtype=None, bool_ok=True, finite=False)
    if n_cols is not None and (array.ndim == 0 or array.shape[-1] != n_cols):
        raise ValueError(f"{name} must have {n_cols} columns, got shape {array.shape}")
    if dtype is not None:
        array = array.astype(dtype)
    if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array


def check_same_length(*named: tuple[str, Any], axis: int = 0) -> int:
    """Check that arrays agree on ``axis`` (default: the first): ``check_same_length(("X", X), ("y", y))``."""
    sizes = [(name, np.shape(value)[axis] if len(np.shape(value)) > axis else None) for name, value in named]
    if len({size for _, size in sizes}) > 1:
        listing = ", ".join(f"{name} has {size}" for name, size in sizes)
        raise ValueError(f"{' and '.join(n for n, _ in sizes)} must have the same length on axis {axis}: "
                         f"{listing}")
    return sizes[0][1]


# ----------------------------------------------------------------------------- objects
def check_axes(name: str, ax: object, *, allow_none: bool = False):
    """A matplotlib ``Axes`` (duck-typed: it draws and has a figure), or None if ``allow_none``."""
    if ax is None and allow_none:
        return None
    if not all(hasattr(ax, attr) for attr in ("plot", "imshow", "set_xlabel", "figure")):
        raise TypeError(f"{name} must be a matplotlib Axes (e.g. from plt.subplots()), got {_type_name(ax)}")
    return ax


def check_module(name: str, model: object):
    """A torch ``nn.Module`` (duck-typed: callable, with ``parameters()`` and ``forward``)."""
    if not (callable(model) and callable(getattr(model, "parameters", None)) and hasattr(model, "forward")):
        raise TypeError(f"{name} must be a torch nn.Module, got {_type_name(model)}")
    return model


def check_callable(name: str, f: object):
    """Anything callable (a function, a lambda, a module)."""
    if not callable(f):
        raise TypeError(f"{name} must be callable (a function), got {_type_name(f)}")
    return f


# ----------------------------------------------------------------------------- generators, types, tokens
def check_generator(name: str, rng: object, *, allow_none: bool = False) -> np.random.Generator:
    """A numpy ``Generator`` (from ``np.random.default_rng(seed)``).

    ``None`` is rejected unless ``allow_none``; then it means what ``check_seed(None)`` means:
    fresh OS entropy, i.e. ``np.random.default_rng()`` (different on every call). Pass a seeded
    Generator for reproducible results. Legacy ``RandomState`` objects and ints are rejected.
    """
    if rng is None and allow_none:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        allowed = "a numpy Generator (np.random.default_rng(seed))" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {allowed}, got {_type_name(rng)}")
    return rng


def check_instance(name: str, value: object, kinds: type | tuple[type, ...]) -> Any:
    """``value`` if ``isinstance(value, kinds)``; for objects a function needs by their class
    (a model with a particular architecture, a record type), where duck typing is not enough."""
    if not isinstance(value, kinds):
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        names = " or ".join(k.__name__ for k in kinds)
        raise TypeError(f"{name} must be a {names}, got {_type_name(value)}")
    return value


def check_vocab(name: str, vocab: object) -> list[str]:
    """A vocabulary: a non-empty list or tuple of distinct non-empty strings; returned as a list."""
    if not isinstance(vocab, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of token strings, got {_type_name(vocab)}")
    if not vocab:
        raise ValueError(f"{name} must be a non-empty list of token strings, got an empty {_type_name(vocab)}")
    bad = next((w for w in vocab if not isinstance(w, str) or not w), None)
    if bad is not None or any(not isinstance(w, str) for w in vocab):
        raise TypeError(f"{name} must hold non-empty strings only, got {bad!r} ({_type_name(bad)})")
    if len(set(vocab)) != len(vocab):
        raise ValueError(f"{name} must not repeat a token ({len(vocab) - len(set(vocab))} duplicates)")
    return list(vocab)


def check_tokens(name: str, tokens: object, *, vocab: Sequence[str] | None = None,
                 allow_empty: bool = False, mixed: bool = False) -> list:
    """A token sequence: a list, tuple or 1-D array holding only strings or only int ids
    (strings and ids side by side with ``mixed``, e.g. text with sentinel ids; then, without a
    ``vocab``, ids are not range-checked, since sentinels may be negative).

    Returned as a list of ``str`` or of Python ``int``. With ``vocab``, strings must be in it and
    ids must lie in ``[0, len(vocab))``; without it, ids must be ``>= 0``. Empty only with
    ``allow_empty``.
    """
    if isinstance(tokens, np.ndarray):
        if tokens.ndim != 1:
            raise ValueError(f"{name} must be a 1-D sequence of tokens, got an array with ndim {tokens.ndim}")
        tokens = tokens.tolist()
    if not isinstance(tokens, (list, tuple)):
        raise TypeError(f"{name} must be a list, tuple or 1-D array of token strings or int ids, "
                        f"got {_type_name(tokens)}")
    if not tokens and not allow_empty:
        raise ValueError(f"{name} must hold at least one token, got an empty sequence")
    if all(isinstance(t, str) for t in tokens):
        out = list(tokens)
        if vocab is not None:
            known = set(vocab)
            unknown = [t for t in out if t not in known]
            if unknown:
                raise ValueError(f"{name} holds tokens outside the vocabulary: {unknown[:5]!r}")
        return out
    if all(isinstance(t, (numbers.Integral, np.integer)) and not isinstance(t, (bool, np.bool_)) for t in tokens):
        out = [int(t) for t in tokens]
        high = None if vocab is None else len(vocab) - 1
        bad = [] if mixed and vocab is None else [t for t in out if t < 0 or (high is not None and t > high)]
        if bad:
            allowed = ">= 0" if high is None else f"in [0, {high}]"
            raise ValueError(f"{name} ids must be {allowed}, got {bad[:5]}")
        return out
    odd = [t for t in tokens if isinstance(t, (bool, np.bool_)) or not isinstance(t, (str, numbers.Integral, np.integer))]
    if mixed and not odd and vocab is None:
        return [t if isinstance(t, str) else int(t) for t in tokens]
    what = f"got {odd[0]!r} ({_type_name(odd[0])})" if odd else "got a mix of strings and ids"
    raise TypeError(f"{name} must hold only token strings or only int ids, {what}")


# ----------------------------------------------------------------------------- text, sequences, fitted models
def check_text(name: str, value: object, *, min_len: int = 1, contains: str | None = None) -> str:
    """A string of at least ``min_len`` characters (default: non-empty), holding ``contains``
    if given (``"{"`` for a format string)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_type_name(value)}")
    if len(value) < min_len:
        raise ValueError(f"{name} must be a str of at least {min_len} characters, got {value!r:.40}")
    if contains is not None and contains not in value:
        raise ValueError(f"{name} must contain {contains!r}, got {value!r:.40}")
    return value


def check_sequence(name: str, value: object, item: "Rule | None" = None, *, min_len: int = 1,
                   max_len: int | None = None, unordered: bool = False) -> list:
    """A list or tuple (any collection but a string or a mapping with ``unordered``: a set, dict
    keys) of ``min_len`` to ``max_len`` items, each checked by the rule ``item`` (``arg.<kind>(...)``,
    under the name ``name[i]``); returned as a list of canonical items."""
    kinds = (Collection,) if unordered else (Sequence,)          # a list, tuple or range
    if not isinstance(value, kinds) or isinstance(value, (str, bytes, Mapping)):
        allowed = "a collection (list, tuple, set)" if unordered else "a list or tuple"
        raise TypeError(f"{name} must be {allowed}, got {_type_name(value)}")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        allowed = f"at least {min_len}" if max_len is None else f"exactly {min_len}" if min_len == max_len \
            else f"{min_len} to {max_len}"
        raise ValueError(f"{name} must hold {allowed} items, got {len(value)}")
    return list(value) if item is None else [item(f"{name}[{i}]", v) for i, v in enumerate(value)]


def check_mapping(name: str, value: object, key: "Rule | None" = None, item: "Rule | None" = None, *,
                  min_len: int = 1, fields: "dict[str, Rule] | None" = None) -> dict:
    """A mapping (a dict) with at least ``min_len`` entries; ``key`` and ``item`` rules check each
    key and value (the value under the name ``name[key]``), which are then returned as a new
    dict. Without rules the mapping itself is returned (no copy). ``fields`` (key -> rule) asks
    for exactly those keys, each value checked by its own rule (a record such as a model's
    parameters: ``fields=dict(W=arg.array(shape=("h", "h")), b=arg.array(shape=("h",)))``)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {_type_name(value)}")
    if fields is not None:
        if set(value) != set(fields):
            raise ValueError(f"{name} must have the keys {sorted(fields)}, got {sorted(value, key=str)}")
        return {k: rule(f"{name}[{k!r}]", value[k]) for k, rule in fields.items()}
    if len(value) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} entries, got {len(value)}")
    if key is None and item is None:
        return value
    return {(k if key is None else key(f"{name} key", k)): (v if item is None else item(f"{name}[{k!r}]", v))
            for k, v in value.items()}


def check_fitted(name: str, model: object, *attributes: str) -> Any:
    """``model`` if every attribute in ``attributes`` (set by its ``fit``) exists and is not None."""
    if any(getattr(model, a, None) is None for a in attributes):
        raise ValueError(f"this {type(model).__name__} is not fitted yet: call fit(...) first")
    return model


# ----------------------------------------------------------------------------- declared rules
_REFERABLE = ("low", "high", "n_cols", "min_len", "max_len")   # options that may name other arguments
_BOUND = re.compile(r"^\s*(\w+)\s*(>=|<=)\s*(.+)$")   # "N >= 2", "L <= self.max_len": a named axis with a bound
_EXPRESSION_BUILTINS = {"__builtins__": {}, "len": len, "min": min, "max": max}


@functools.lru_cache(maxsize=None)
def _compiled(expression: str):
    return compile(expression, "<rule>", "eval")


def _lookup(expression: str, scope: dict, name: str) -> Any:
    """The value of ``expression`` (``"n"``, ``"model.d_in"``, ``"len(vocab) - 1"``) over the
    function's arguments and the named axes bound so far; None if it is a name not yet bound."""
    if expression.isidentifier() and expression not in scope:
        return None
    try:
        return eval(_compiled(expression), _EXPRESSION_BUILTINS, scope)  # the module's own rule text, never input
    except Exception:
        root = re.match(r"[A-Za-z_]\w*", expression).group()
        value = scope.get(root)
        raise TypeError(f"{root} must provide {expression} (needed to check {name}), "
                        f"got {_type_name(value)}") from None


class Rule:
    """One argument's rule for :func:`checked`: a validator with its options, applied as
    ``validator(name, value, *options)``. Build rules with ``arg.<kind>(...)``.

    Inside :func:`checked`, the options ``low``, ``high``, ``n_cols``, ``min_len``, ``max_len`` and
    the entries of ``shape`` may be
    strings that refer to other arguments (``high="n"``, ``shape=(None, "model.d_in")``,
    ``shape="x.shape"``) or name
    axes (``shape=("N", "D")``): an axis name met first binds to that axis's size, and every
    later use of the name (in this or a later rule) must match it. ``"N >= 2"`` or
    ``"L <= self.max_len"`` also bound that axis's size; a leading ``"..."`` allows any number of
    leading axes (``shape=("...", "L", "d")``).
    """

    def __init__(self, validator: Callable[..., Any], *args: Any, **kwargs: Any):
        self.validator, self.args, self.kwargs = validator, args, kwargs

    def __call__(self, name: str, value: object, scope: dict | None = None) -> Any:
        if self.validator is check_seed:
            return check_seed(value, name)
        scope = {} if scope is None else scope
        options = {k: _scoped(v, scope) if isinstance(v, Rule) else v for k, v in self.kwargs.items()}
        if isinstance(options.get("fields"), dict):
            options["fields"] = {k: _scoped(v, scope) for k, v in options["fields"].items()}
        args = [_scoped(a, scope) if isinstance(a, Rule) else a for a in self.args]
        for key in _REFERABLE:
            if isinstance(options.get(key), str):
                options[key] = _lookup(options[key], scope, name)
        spec = options.get("shape")
        if isinstance(spec, str):                      # another argument's whole shape: "x.shape"
            want, spec = tuple(_lookup(options.pop("shape"), scope, name)), None
            out = self.validator(name, value, *args, **options)
            if tuple(np.shape(out)) != want:
                raise ValueError(f"{name} must have shape {self.kwargs['shape']} = {want}, got shape "
                                 f"{tuple(np.shape(out))}")
            return out
        axes = None if spec is None else tuple(spec[1:] if spec[:1] == ("...",) else spec)
        if axes is not None:                           # the validator checks the numbers, then the names
            known = tuple(None if isinstance(a, str) else a for a in axes)
            options.pop("shape")
            options.update({"min_ndim": len(axes)} if len(axes) < len(spec) else
                           {"ndim": len(axes)} if known == (None,) * len(axes) else {"shape": known})
        out = self.validator(name, value, *args, **options)
        if axes is not None:
            self._bind_axes(name, spec, axes, tuple(np.shape(out)), scope)
        return out

    @staticmethod
    def _bind_axes(name: str, spec: tuple, axes: tuple, shape: tuple, scope: dict) -> None:
        """Check the trailing axes of ``shape`` against ``axes``: numbers, references, bounds
        (``"L <= self.max_len"``) and names, which bind to their size the first time they appear."""
        what = f"{name} must have shape ({', '.join('any' if a is None else str(a) for a in spec)}" \
               f"{',' if len(spec) == 1 else ''})"
        for axis, size in zip(axes, shape[len(shape) - len(axes):]):
            bound = _BOUND.match(axis) if isinstance(axis, str) else None
            if bound:
                axis, op, text = bound.groups()
                limit = _lookup(text, scope, name)
                if size < limit if op == ">=" else size > limit:
                    detail = "" if text.isdigit() else f" with {text} = {limit}"
                    raise ValueError(f"{what}{detail}, got shape {shape}")
            if axis is None:
                continue
            want = scope.setdefault(axis, size) if isinstance(axis, str) and axis.isidentifier() \
                and axis not in scope else _lookup(axis, scope, name) if isinstance(axis, str) else axis
            if size != want:
                detail = f" with {axis} = {want}" if isinstance(axis, str) else ""
                raise ValueError(f"{what}{detail}, got shape {shape}")

    def __repr__(self) -> str:
        options = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"arg.{self.validator.__name__.removeprefix('check_')}({', '.join(options)})"


def _scoped(rule: Rule, scope: dict) -> Callable[[str, object], Any]:
    """An item rule (of a sequence or mapping) that sees the same arguments and named axes."""
    return lambda name, value: rule(name, value, scope)


class _Optional(Rule):
    """``None``, or a value the inner rule accepts."""

    def __init__(self, inner: Rule):
        super().__init__(inner.validator, *inner.args, **inner.kwargs)

    def __call__(self, name: str, value: object, scope: dict | None = None) -> Any:
        return None if value is None else super().__call__(name, value, scope)

    def __repr__(self) -> str:
        return f"arg.optional({super().__repr__()})"


class arg:
    """Rule builders for :func:`checked`, one per validator above (same options);
    ``arg.optional(rule)`` also lets ``None`` through."""

    int = functools.partial(Rule, check_int)
    count = functools.partial(Rule, check_count)
    seed = functools.partial(Rule, check_seed)
    real = functools.partial(Rule, check_real)
    positive = functools.partial(Rule, check_positive)
    probability = functools.partial(Rule, check_probability)
    bool = functools.partial(Rule, check_bool)
    choice = functools.partial(Rule, check_choice)
    array = functools.partial(Rule, check_array)
    tensor = functools.partial(Rule, check_tensor)
    numeric_array = functools.partial(Rule, lambda name, x, *a, **kw: as_numeric_array(x, name, *a, **kw))
    axes = functools.partial(Rule, check_axes)
    module = functools.partial(Rule, check_module)
    callable = functools.partial(Rule, check_callable)
    generator = functools.partial(Rule, check_generator)
    instance = functools.partial(Rule, check_instance)
    vocab = functools.partial(Rule, check_vocab)
    tokens = functools.partial(Rule, check_tokens)
    text = functools.partial(Rule, check_text)
    sequence = functools.partial(Rule, check_sequence)
    mapping = functools.partial(Rule, check_mapping)
    fitted = functools.partial(Rule, check_fitted)
    optional = _Optional


def checked(**rules: Rule) -> Callable:
    """Decorator: validate the named arguments with their rules before the body runs.

    Each rule gets the argument's name and value (defaults included) and returns the canonical
    value, which the body receives; a bad value raises the validator's ``TypeError`` or
    ``ValueError``, which names the argument. Rules run in the order given, so a rule that
    refers to another argument (``high="n"``, ``shape=("N", "model.d_in")``) sees that argument
    already checked when its rule comes first. On a method, ``self`` may have a rule too
    (``self=arg.fitted("coef_")``).
    """
    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        missing = set(rules) - set(signature.parameters)
        assert not missing, f"{fn.__qualname__} has no parameter {sorted(missing)}"
        params = signature.parameters.values()
        plain = all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params)
        names = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
        defaults = {p.name: p.default for p in params if p.default is not p.empty}

        def apply_rules(values: dict) -> None:
            scope = dict(values)                                # arguments, then named axes
            for name, rule in rules.items():
                scope[name] = values[name] = rule(name, values[name], scope)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            # fast path (no *args/**kwargs in the signature): name the arguments by position,
            # fill the defaults; anything unusual goes through inspect's bind, which raises
            # Python's own TypeError for a missing or unknown argument
            if plain and len(args) <= len(names) and not kwargs.keys() & names[:len(args)]:
                values = {**defaults, **dict(zip(names, args)), **kwargs}
                if values.keys() == signature.parameters.keys():
                    apply_rules(values)
                    return fn(**values)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            apply_rules(bound.arguments)
            return fn(*bound.args, **bound.kwargs)

        return run
    return decorate

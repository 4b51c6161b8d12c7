"""Seeding, CPU thread setup, the one-line set-up every chapter runs first, and small
helpers several chapters share (``count_params``, ``numerical_grad``).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable

import numpy as np

from mlnotes.validate import check_array, check_int, checked, arg
from mlnotes.validate import check_seed  # noqa: F401  (one meaning everywhere: None = fresh entropy)

__all__ = ["count_params", "numerical_grad", "seed_everything", "setup_notebook"]

#: Threads torch may use for one small model. The book executes two chapters at once on a
#: 2-core machine. Measured there under load (load average 9): 500 SGD steps of a 64-64-10
#: MLP on a batch of 128 took 48-53 s with torch's default of 2 threads and 0.75-0.95 s with
#: 1 thread; idle-machine gaps are smaller (the spec measured ~10x), never in favour of more.
_TORCH_THREADS = 1


@checked(seed=arg.seed())
def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, numpy's global RNG and, if imported, torch.

    Chapters should still pass explicit generators (``np.random.default_rng(seed)``,
    ``torch.Generator().manual_seed(seed)``); this covers libraries that use the globals.
    ``seed=None`` draws a fresh seed (see ``mlnotes.validate.check_seed``).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # numpy's legacy global RNG takes 32-bit seeds
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.manual_seed(seed)


def _setup_torch_threads(num_threads: int = _TORCH_THREADS) -> int:
    """Limit torch to ``num_threads`` intra-op threads (and one inter-op thread).

    Returns the thread count now in effect. Call it before the first torch operation:
    torch allows setting the inter-op pool only once, so a later call keeps that pool.
    """
    import torch

    torch.set_num_threads(num_threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work has started: keep the pool
        pass
    return torch.get_num_threads()


@checked(seed=arg.seed(), torch=arg.bool())
def setup_notebook(seed: int = 0, torch: bool = False) -> None:
    """First cell of every chapter: book plot style, seeds, one BLAS thread and, with
    ``torch=True``, one torch thread.

    ``torch=False`` keeps chapters that do not need torch from paying for its import. BLAS
    (numpy/scipy linear algebra) gets one thread for the same reason as torch: a chapter's
    matrices are small, and on a busy 2-core machine a multithreaded 300x300 solve ran ~75x
    slower than a single-threaded one.
    """
    from threadpoolctl import threadpool_limits

    from mlnotes.plotting import use_book_style

    threadpool_limits(limits=1)
    use_book_style()
    if torch:
        _setup_torch_threads()
        import torch as _torch  # noqa: F401  (imported so seed_everything seeds it)
    seed_everything(seed)


@checked(f=arg.callable(), eps=arg.real(low=0.0, low_open=True))
def numerical_grad(f: Callable[[], float], x: np.ndarray, idx: tuple[int, ...], eps: float = 1e-6) -> float:
    """Central difference ``(f(x + eps e_idx) - f(x - eps e_idx)) / (2 eps)`` for one coordinate of ``x``.

    ``f`` takes no arguments and reads ``x``, which is changed in place during the call and restored.
    Used to check hand-derived gradients (BPTT, word2vec).
    """
    if not isinstance(x, np.ndarray):  # changed in place: a copy would not reach f
        raise TypeError(f"x must be a float numpy array (modified in place, then restored), got {type(x).__name__}")
    check_array("x", x, dtype=None, finite=False)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a float numpy array, got dtype {x.dtype}")
    where = np.atleast_1d(np.asarray(idx, dtype=object))
    if where.ndim != 1 or len(where) != x.ndim:
        raise ValueError(f"idx must give one index per axis of x {x.shape}, got {idx!r}")
    idx = tuple(check_int("idx", i, -n, n - 1) for i, n in zip(where, x.shape))
    original = x[idx]
    x[idx] = original + eps
    up = f()
    x[idx] = original - eps
    down = f()
    x[idx] = original
    return (up - down) / (2 * eps)


@checked(module=arg.module(), trainable_only=arg.bool())
def count_params(module: object, trainable_only: bool = True) -> int:
    """Number of scalar parameters in a torch ``module`` (only those with ``requires_grad``
    unless ``trainable_only=False``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)

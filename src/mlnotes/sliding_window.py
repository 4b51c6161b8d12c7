"""Sliding-window maximum: brute force, lazy-deletion heap, block prefix/suffix maxima
and the monotonic deque. Used by the chapter ``sequences/sliding-window-maximum``.

All functions take a 1-D sequence of numbers ``nums`` of length n and a window ``k``
with ``1 <= k <= n``, and return the ``n - k + 1`` window maxima, left to right.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _check(nums: Sequence[float], k: int) -> list[float]:
    if isinstance(nums, (str, bytes)) or not isinstance(nums, (Sequence, np.ndarray)):
        raise TypeError(f"nums must be a sequence of numbers, got {type(nums).__name__}")
    values = np.asarray(nums)
    if values.ndim != 1:
        raise ValueError(f"nums must be one-dimensional, got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.number) or values.dtype == bool:
        raise TypeError(f"nums must hold numbers, got dtype {values.dtype}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"window k must be an int, got {type(k).__name__}")
    if not 1 <= k <= len(values):
        raise ValueError(f"window k must be in [1, len(nums)={len(values)}], got {k}")
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise ValueError("nums contains NaN; a maximum over NaN is undefined")
    return values.tolist()


def sliding_max_brute(nums: Sequence[float], k: int) -> list[float]:
    """Reference: the maximum of each window computed directly, Theta((n - k + 1) k)."""
    a = _check(nums, k)
    return [max(a[i:i + k]) for i in range(len(a) - k + 1)]


def sliding_max_heap(nums: Sequence[float], k: int) -> list[float]:
    """Max-heap of (-value, index) with lazy deletion: O(n log n).

    An expired top (index <= i - k) is popped only when it reaches the top.
    """
    a = _check(nums, k)
    heap: list[tuple[float, int]] = []
    out = []
    for i, x in enumerate(a):
        heapq.heappush(heap, (-x, i))
        if i >= k - 1:
            while heap[0][1] <= i - k:
                heapq.heappop(heap)
            out.append(-heap[0][0])
    return out


def sliding_max_blocks(nums: Sequence[float], k: int) -> list[float]:
    """Block prefix/suffix maxima: O(n) with no deque.

    Cut the array into blocks of k. ``prefix[j]`` is the max from j's block start to j,
    ``suffix[j]`` the max from j to its block end; window [i, i + k - 1] spans at most two
    blocks, so its max is ``max(suffix[i], prefix[i + k - 1])``.
    """
    a = _check(nums, k)
    n = len(a)
    prefix, suffix = a[:], a[:]
    for j in range(1, n):
        if j % k:
            prefix[j] = max(prefix[j - 1], a[j])
    for j in range(n - 2, -1, -1):
        if (j + 1) % k:
            suffix[j] = max(suffix[j + 1], a[j])
    return [max(suffix[i], prefix[i + k - 1]) for i in range(n - k + 1)]


@dataclass
class DequeStep:
    """State of the monotonic deque after processing index ``i``."""

    i: int
    deque: list[int]          # indices, values strictly decreasing front to back
    popped_back: list[int]    # indices dominated by nums[i]
    expired: list[int]        # the front index that left the window, if any
    output: float | None      # the window maximum emitted at step i (None before i = k - 1)


def sliding_max_deque(nums: Sequence[float], k: int, trace: bool = False):
    """Monotonic deque of indices: amortized O(n), O(k) extra memory.

    Before pushing i, pop from the back every index whose value is <= nums[i] (it can never
    again be a maximum), then drop the front if it left the window (index <= i - k). The
    front is the maximum. Each index is pushed once and popped at most once, so the deque
    performs at most 2n operations.

    Returns the maxima; with ``trace=True`` returns ``(maxima, steps, ops)`` where ``steps``
    is a list of :class:`DequeStep` and ``ops`` the number of pushes plus pops.
    """
    a = _check(nums, k)
    window: deque[int] = deque()
    out: list[float] = []
    steps: list[DequeStep] = []
    ops = 0
    for i, x in enumerate(a):
        popped = []
        while window and a[window[-1]] <= x:
            popped.append(window.pop())
        window.append(i)
        expired = []
        if window[0] <= i - k:
            expired.append(window.popleft())
        ops += 1 + len(popped) + len(expired)
        emitted = a[window[0]] if i >= k - 1 else None
        if emitted is not None:
            out.append(emitted)
        if trace:
            steps.append(DequeStep(i, list(window), popped, expired, emitted))
    return (out, steps, ops) if trace else out


def operation_counts(nums: Sequence[float], k: int) -> dict[str, int]:
    """Elementary operations of each method on ``nums``: comparisons for brute force,
    pushes plus pops for the heap and the deque."""
    a = _check(nums, k)
    n = len(a)
    heap: list[tuple[float, int]] = []
    heap_ops = 0
    for i, x in enumerate(a):
        heapq.heappush(heap, (-x, i))
        heap_ops += 1
        if i >= k - 1:
            while heap[0][1] <= i - k:
                heapq.heappop(heap)
                heap_ops += 1
    _, _, deque_ops = sliding_max_deque(a, k, trace=True)
    return {"brute": (n - k + 1) * (k - 1), "heap": heap_ops, "deque": deque_ops}


def draw_window_state(ax, nums: Sequence[float], k: int, step: DequeStep) -> None:
    """Bar chart of ``nums`` with the window ending at ``step.i`` shaded, deque indices
    coloured (darkest = front = current maximum) and the emitted maximum marked."""
    from mlnotes.plotting import PALETTE

    a = _check(nums, k)
    n = len(a)
    colors = ["#BBBBBB"] * n
    for rank, j in enumerate(step.deque):
        colors[j] = PALETTE["vermillion"] if rank == 0 else PALETTE["orange"]
    ax.bar(range(n), a, color=colors, edgecolor="black", linewidth=0.5)
    ax.axvspan(max(step.i - k + 1, 0) - 0.5, step.i + 0.5, color=PALETTE["sky"], alpha=0.25, lw=0)
    ax.axhline(0, color="black", lw=0.5)
    if step.output is not None:
        ax.axhline(step.output, color=PALETTE["vermillion"], ls="--", lw=1)
    ax.set_xticks(range(n))
    ax.set_xlabel("index i")
    ax.set_ylabel("value")

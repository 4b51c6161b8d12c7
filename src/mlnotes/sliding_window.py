"""Sliding-window maximum: brute force, lazy-deletion heap, block prefix/suffix maxima
and the monotonic deque, with element-comparison counters and plot helpers.

All functions take a 1-D sequence of numbers ``nums`` of length n and a window ``k``
with ``1 <= k <= n``, and return the ``n - k + 1`` window maxima, left to right.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlnotes.validate import checked, arg

__all__ = ["sliding_max_brute", "sliding_max_heap", "sliding_max_blocks", "sliding_max_deque",
           "DequeStep", "comparison_counts", "harmonic", "mean_deque_length",
           "draw_window_state", "draw_scan_diagram"]


# The arguments every window function takes: n numbers (ints stay ints) and a window 1 <= k <= n.
_WINDOW = dict(nums=arg.array(shape=("n",), dtype=None), k=arg.int(low=1, high="n"))


@checked(**_WINDOW)
def sliding_max_brute(nums: Sequence[float], k: int) -> list[float]:
    """Reference: the maximum of each window computed directly, Theta((n - k + 1) k)."""
    a = nums.tolist()
    return [max(a[i:i + k]) for i in range(len(a) - k + 1)]


@checked(**_WINDOW)
def sliding_max_heap(nums: Sequence[float], k: int) -> list[float]:
    """Max-heap of (-value, index) with lazy deletion: O(n log n).

    An expired top (index <= i - k) is popped only when it reaches the top.
    """
    a = nums.tolist()
    # region: heap
    heap: list[tuple[float, int]] = []          # (-value, index): heapq is a min-heap
    out = []
    for i, x in enumerate(a):
        heapq.heappush(heap, (-x, i))           # O(log heap size) comparisons
        if i >= k - 1:
            while heap[0][1] <= i - k:          # expired top: lazy deletion
                heapq.heappop(heap)             # O(log heap size) comparisons
            out.append(-heap[0][0])
    return out
    # endregion


@checked(**_WINDOW)
def sliding_max_blocks(nums: Sequence[float], k: int) -> list[float]:
    """Block prefix/suffix maxima: O(n) with no deque.

    Cut the array into blocks of k. ``prefix[j]`` is the max from j's block start to j,
    ``suffix[j]`` the max from j to its block end; window [i, i + k - 1] spans at most two
    blocks, so its max is ``max(suffix[i], prefix[i + k - 1])``.
    """
    a = nums.tolist()
    n = len(a)
    prefix, suffix = a[:], a[:]
    for j in range(1, n):
        if j % k:                                # not the first element of a block
            prefix[j] = max(prefix[j - 1], a[j])
    for j in range(n - 2, -1, -1):
        if (j + 1) % k:                          # not the last element of a block
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


@checked(**_WINDOW)
def sliding_max_deque(nums: Sequence[float], k: int, trace: bool = False):
    """Monotonic deque of indices: amortized O(n), O(k) extra memory.

    Before pushing i, pop from the back every index whose value is <= nums[i] (it can never
    again be a maximum), then drop the front if it left the window (index <= i - k). The
    front is the maximum. Each index is pushed once and popped at most once, so the deque
    performs at most 2n operations.

    Returns the maxima; with ``trace=True`` returns ``(maxima, steps, ops)`` where ``steps``
    is a list of :class:`DequeStep` and ``ops`` the number of pushes plus pops.
    """
    a = nums.tolist()
    steps: list[DequeStep] = []
    ops = 0
    # region: deque
    window: deque[int] = deque()                 # indices; values strictly decrease
    out: list[float] = []
    for i, x in enumerate(a):
        popped = []
        while window and a[window[-1]] <= x:     # dominated by x: never a maximum again
            popped.append(window.pop())
        window.append(i)
        expired = []
        if window[0] <= i - k:                   # the front left the window
            expired.append(window.popleft())
        emitted = a[window[0]] if i >= k - 1 else None
        if emitted is not None:
            out.append(emitted)
        # endregion
        ops += 1 + len(popped) + len(expired)
        if trace:
            steps.append(DequeStep(i, list(window), popped, expired, emitted))
    return (out, steps, ops) if trace else out


class _Counted:
    """A value whose ``<`` comparisons are counted (heapq only uses ``<``)."""

    __slots__ = ("key", "index", "counter")

    def __init__(self, key: float, index: int, counter: list[int]):
        self.key, self.index, self.counter = key, index, counter

    def __lt__(self, other: _Counted) -> bool:
        self.counter[0] += 1
        return self.key < other.key


@checked(**_WINDOW)
def comparison_counts(nums: Sequence[float], k: int) -> dict[str, int]:
    """Element comparisons (value against value) each method makes on ``nums``.

    brute: k - 1 per window. heap: every ``<`` heapq performs while pushing and popping,
    counted by instrumenting the values, so a push or pop costs its real O(log size).
    deque: every ``a[back] <= x`` test. blocks: one per prefix/suffix step and one per
    window. Index bookkeeping (expiry tests) is not an element comparison.
    """
    a = nums.tolist()
    n = len(a)
    heap_counter = [0]
    heap: list[_Counted] = []
    for i, x in enumerate(a):
        heapq.heappush(heap, _Counted(-x, i, heap_counter))
        if i >= k - 1:
            while heap[0].index <= i - k:
                heapq.heappop(heap)
    deque_cmp, window = 0, deque()
    for i, x in enumerate(a):
        while window:
            deque_cmp += 1
            if a[window[-1]] > x:
                break
            window.pop()
        window.append(i)
        if window[0] <= i - k:
            window.popleft()
    blocks = sum(1 for j in range(1, n) if j % k) + sum(1 for j in range(n - 1) if (j + 1) % k)
    return {"brute": (n - k + 1) * (k - 1), "heap": heap_counter[0], "deque": deque_cmp,
            "blocks": blocks + (n - k + 1)}


@checked(k=arg.int(low=1, high=10**7))
def harmonic(k: int) -> float:
    """H_k = 1 + 1/2 + ... + 1/k: the expected number of right-to-left records among k
    exchangeable distinct values, i.e. the expected deque length on random data."""
    return math.fsum(1.0 / j for j in range(1, k + 1))


@checked(**_WINDOW)
def mean_deque_length(nums: Sequence[float], k: int) -> float:
    """Mean deque length over the full windows (i >= k - 1) of a scan of ``nums``."""
    _, steps, _ = sliding_max_deque(nums, k, trace=True)
    return float(np.mean([len(s.deque) for s in steps[k - 1:]]))


@checked(ax=arg.axes(), **_WINDOW, step=arg.instance(DequeStep))
def draw_window_state(ax, nums: Sequence[float], k: int, step: DequeStep) -> None:
    """Bar chart of ``nums`` with the window ending at ``step.i`` shaded grey, deque indices
    blue, the front of the deque (the current maximum) vermillion, and a legend."""
    from matplotlib.patches import Patch

    from mlnotes.plotting import PALETTE

    a = nums.tolist()
    n = len(a)
    colors = ["white"] * n
    for rank, j in enumerate(step.deque):
        colors[j] = PALETTE["vermillion"] if rank == 0 else PALETTE["blue"]
    ax.axvspan(max(step.i - k + 1, 0) - 0.5, step.i + 0.5, color="#CCCCCC", lw=0, zorder=0)
    ax.bar(range(n), a, color=colors, edgecolor="black", linewidth=0.6, zorder=2)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xticks(range(n))
    ax.set_xlabel("index $i$")
    ax.set_ylabel("value")
    return [Patch(facecolor=PALETTE["vermillion"], edgecolor="black", label="front (max)"),
            Patch(facecolor=PALETTE["blue"], edgecolor="black", label="rest of deque"),
            Patch(facecolor="#CCCCCC", label="window")]


@checked(**_WINDOW)
def draw_scan_diagram(nums: Sequence[float], k: int):
    """Whole scan in one figure: the input on top; below, column i lists the deque after
    step i (front vermillion, others blue) over the grey band of the window's indices."""
    from mlnotes.plotting import PALETTE, new_figure

    a = nums.tolist()
    n = len(a)
    _, steps, _ = sliding_max_deque(a, k, trace=True)
    fig, (top, bottom) = new_figure(nrows=2, width=6.4, height=5.2, sharex=True,
                                    gridspec_kw={"height_ratios": [1, 2]})
    top.bar(range(n), a, color="white", edgecolor="black", linewidth=0.6)
    top.axhline(0, color="black", lw=0.5)
    top.set_ylabel("value $a_j$")
    starts = [max(s.i - k + 1, 0) for s in steps]
    bottom.bar(range(n), [s.i - b + 1 for s, b in zip(steps, starts)], bottom=np.subtract(starts, 0.5),
               width=0.8, color="#DDDDDD", lw=0)
    x = [s.i for s in steps for _ in s.deque]
    y = [j for s in steps for j in s.deque]
    c = [PALETTE["vermillion"] if r == 0 else PALETTE["blue"] for s in steps for r in range(len(s.deque))]
    bottom.scatter(x, y, s=30, c=c, zorder=3)
    bottom.set(xlim=(-0.6, n - 0.4), ylim=(-0.6, n - 0.4), xlabel="step $i$",
               ylabel="index $j$ in the deque", xticks=range(n), yticks=range(n))
    longest = max(len(s.deque) for s in steps)
    top.set_title(f"$k$ = {k}: deque holds at most {longest} of the $k$ indices in the window")
    return fig

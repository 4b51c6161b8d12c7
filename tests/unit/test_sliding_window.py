import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d

from mlnotes.sliding_window import (comparison_counts, draw_scan_diagram, draw_window_state,
                                    harmonic, mean_deque_length, sliding_max_blocks,
                                    sliding_max_brute, sliding_max_deque, sliding_max_heap)

METHODS = [sliding_max_deque, sliding_max_heap, sliding_max_blocks, sliding_max_brute]


@pytest.mark.parametrize("method", METHODS)
def test_leetcode_examples(method):
    assert method([1, 3, -1, -3, 5, 3, 6, 7], 3) == [3, 3, 5, 5, 6, 7]
    assert method([1], 1) == [1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=60), st.data())
def test_all_methods_equal_numpy_with_ties(nums, data):
    k = data.draw(st.integers(1, len(nums)))
    expected = sliding_window_view(np.array(nums), k).max(axis=1).tolist()
    for method in METHODS:
        assert method(nums, k) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=80), st.data())
def test_deque_ops_at_most_2n_and_equal_max_pool(nums, data):
    k = data.draw(st.integers(1, len(nums)))
    out, steps, ops = sliding_max_deque(nums, k, trace=True)
    assert ops <= 2 * len(nums) and len(steps) == len(nums)
    assert all(len(s.deque) <= k for s in steps)
    pooled = F.max_pool1d(torch.tensor(nums, dtype=torch.float64)[None, None], k, stride=1)[0, 0]
    assert out == pooled.tolist()


def test_scipy_maximum_filter_with_origin_shift_matches():
    a = np.random.default_rng(0).normal(size=101)
    for k in (1, 2, 3, 10, 101):
        shifted = maximum_filter1d(a, size=k, origin=-(k // 2))[: len(a) - k + 1]
        assert sliding_max_deque(a, k) == shifted.tolist()


def test_extreme_inputs_deque_lengths():
    _, inc, _ = sliding_max_deque(list(range(20)), 5, trace=True)
    _, dec, _ = sliding_max_deque(list(range(20, 0, -1)), 5, trace=True)
    assert max(len(s.deque) for s in inc) == 1
    assert max(len(s.deque) for s in dec) == 5


def test_comparison_counts_against_closed_forms():
    n = 100
    counts = comparison_counts(list(range(n)), 4)
    assert counts["brute"] == (n - 3) * 3
    assert counts["deque"] == n - 1  # each push after the first compares once and pops
    # increasing input: every push climbs to the root of a heap that never shrinks
    assert counts["heap"] == sum(int(np.floor(np.log2(i + 1))) for i in range(n))
    dec = comparison_counts(list(range(n, 0, -1)), 4)
    assert dec["deque"] == n - 1  # one failed comparison per push, nothing popped


def test_heap_comparison_counter_matches_a_second_instrumentation():
    import heapq

    class C(float):
        calls = 0

        def __lt__(self, other):
            C.calls += 1
            return float(self) < float(other)

    a = np.random.default_rng(0).normal(size=300)
    k = 7
    heap = []
    for i, x in enumerate(a):
        heapq.heappush(heap, (C(-x), i))
        if i >= k - 1:
            while heap[0][1] <= i - k:
                heapq.heappop(heap)
    assert comparison_counts(a, k)["heap"] == C.calls


def test_mean_deque_length_is_harmonic_on_random_data():
    lengths = [mean_deque_length(np.random.default_rng(s).normal(size=3000), 32) for s in range(4)]
    assert abs(np.mean(lengths) - harmonic(32)) < 0.15
    assert harmonic(1) == 1 and abs(harmonic(4) - 25 / 12) < 1e-12


def test_draw_window_state_colours_front():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    _, steps, _ = sliding_max_deque([1, 3, 2], 2, trace=True)
    handles = draw_window_state(ax, [1, 3, 2], 2, steps[2])
    assert len(handles) == 3
    from matplotlib.colors import to_hex
    from mlnotes.plotting import PALETTE

    bars = list(ax.containers[0])
    assert to_hex(bars[1].get_facecolor()) == PALETTE["vermillion"].lower()  # front of the deque
    plt.close(fig)


@pytest.mark.parametrize("method", [sliding_max_deque, sliding_max_heap, sliding_max_blocks,
                                    sliding_max_brute, comparison_counts, mean_deque_length])
@pytest.mark.parametrize("nums, k, error, message", [
    ([], 1, ValueError, "nums"),
    ([1, 2], 0, ValueError, "k must be >= 1"),
    ([1, 2], 3, ValueError, "k must be <= 2"),
    ([1, 2], 1.0, TypeError, "k must be an int"),
    ("abc", 1, TypeError, "nums"),
    ([[1, 2]], 1, ValueError, "nums must be a non-empty 1-D"),
    ([1.0, float("nan")], 1, ValueError, "nums must be finite"),
    (["a", "b"], 1, TypeError, "nums must be a numeric"),
    ([True, False], 1, TypeError, "nums must be a numeric array, got bool"),
])
def test_bad_inputs_are_rejected(method, nums, k, error, message):
    with pytest.raises(error, match=message):
        method(nums, k)


def test_draw_window_state_rejects_bad_window():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    _, steps, _ = sliding_max_deque([1, 3, 2], 2, trace=True)
    with pytest.raises(ValueError, match="k must be <= 3"):
        draw_window_state(ax, [1, 3, 2], 4, steps[0])
    plt.close(fig)


def test_scan_diagram_draws_one_column_per_step():
    import matplotlib.pyplot as plt

    fig = draw_scan_diagram([3, 2, 1, 4], 2)
    bottom = fig.axes[1]
    assert len(bottom.collections[0].get_offsets()) == 6 and len(bottom.patches) == 4
    plt.close(fig)


from adversarial_examples import Example  # noqa: E402

ADVERSARIAL = {
    "sliding_max_brute": Example([3, 1, 2], 2),
    "sliding_max_heap": Example([3, 1, 2], 2),
    "sliding_max_blocks": Example([3, 1, 2], 2),
    "sliding_max_deque": Example([3, 1, 2], 2),
    "comparison_counts": Example([3, 1, 2], 2),
    "harmonic": Example(5),
    "mean_deque_length": Example([3, 1, 2, 5], 2),
    "draw_scan_diagram": Example([3, 1, 2], 2),
    "draw_window_state": Example(nums=[3, 1, 2], k=2,
                                 step=sliding_max_deque([3, 1, 2], 2, trace=True)[1][1],
                                 fresh=lambda: {"ax": __import__("matplotlib.pyplot").pyplot
                                                .subplots()[1]}),
}
ADVERSARIAL_EXEMPT = {"DequeStep": "a plain dataclass record produced by sliding_max_deque"}

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d

from mlnotes.sliding_window import (draw_window_state, operation_counts, sliding_max_blocks, sliding_max_brute,
                           sliding_max_deque, sliding_max_heap)

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


def test_operation_counts():
    counts = operation_counts(list(range(10)), 4)
    assert counts["brute"] == 7 * 3
    assert counts["deque"] == 10 + 9  # every push after the first pops its predecessor
    assert counts["heap"] == 10


def test_draw_window_state_colours_front():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    _, steps, _ = sliding_max_deque([1, 3, 2], 2, trace=True)
    draw_window_state(ax, [1, 3, 2], 2, steps[2])
    from matplotlib.colors import to_hex
    from mlnotes.plotting import PALETTE

    bars = [p for p in ax.patches if p.get_height() in (1, 3, 2)][:3]
    assert to_hex(bars[1].get_facecolor()) == PALETTE["vermillion"].lower()  # front of the deque
    plt.close(fig)


@pytest.mark.parametrize("method", [sliding_max_deque, sliding_max_heap, sliding_max_blocks,
                                    sliding_max_brute, operation_counts])
@pytest.mark.parametrize("nums, k, error, message", [
    ([], 1, ValueError, "window k"),
    ([1, 2], 0, ValueError, "window k"),
    ([1, 2], 3, ValueError, "window k"),
    ([1, 2], 1.0, TypeError, "int"),
    ("abc", 1, TypeError, "sequence"),
    ([[1, 2]], 1, ValueError, "one-dimensional"),
    ([1.0, float("nan")], 1, ValueError, "NaN"),
    (["a", "b"], 1, TypeError, "numbers"),
    ([True, False], 1, TypeError, "numbers"),
])
def test_bad_inputs_are_rejected(method, nums, k, error, message):
    with pytest.raises(error, match=message):
        method(nums, k)


def test_draw_window_state_rejects_bad_window():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    _, steps, _ = sliding_max_deque([1, 3, 2], 2, trace=True)
    with pytest.raises(ValueError, match="window k"):
        draw_window_state(ax, [1, 3, 2], 4, steps[0])
    plt.close(fig)

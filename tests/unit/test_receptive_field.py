"""Tests for mlnotes.receptive_field: recursions agree, formulas match torch shapes and autograd supports."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from mlnotes.receptive_field import (ALEXNET, VGG16, ZF5, conv_out_len, draw_rf_cone, empirical_rf_1d, erf_profile,
                         predicted_centre, rf_table, rf_topdown)

layer = st.tuples(st.integers(1, 7), st.integers(1, 3), st.integers(0, 3), st.integers(1, 3)).map(list)


@settings(max_examples=50, deadline=None)
@given(st.lists(layer, min_size=1, max_size=6))
def test_topdown_equals_bottom_up(layers):
    assert rf_topdown(layers) == rf_table(layers)[-1]["r"]


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 60), st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3))
def test_conv_out_len_matches_torch(n, k, s, p, d):
    if n + 2 * p < d * (k - 1) + 1:
        with pytest.raises(ValueError, match="shorter than the kernel span"):
            conv_out_len(n, k, s, p, d)
        return
    out = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
    assert conv_out_len(n, k, s, p, d) == out.shape[-1]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 2), st.integers(0, 2), st.integers(1, 2)).map(list),
                min_size=1, max_size=4))
def test_empirical_support_equals_formula(layers):
    width, centre = empirical_rf_1d(layers, n=400)
    assert width == rf_topdown(layers)
    assert centre == predicted_centre(layers, n=400)


def test_reference_networks():
    assert (rf_topdown(ALEXNET), rf_table(ALEXNET)[-1]["j"]) == (195, 32)
    vgg = {row["name"]: row for row in rf_table(VGG16)}
    assert (vgg["conv5_3"]["r"], vgg["conv5_3"]["j"], vgg["pool5"]["r"], vgg["pool5"]["j"]) == (196, 16, 212, 32)
    assert (rf_topdown(ZF5), rf_table(ZF5)[-1]["j"]) == (139, 16)
    assert rf_topdown([[3, 1, 1, 1], [3, 1, 2, 2], [3, 1, 4, 4]]) == 15
    assert rf_topdown([[1, 1, 0]]) == 1                     # a 1x1 layer sees one pixel


def test_erf_spread():
    for n in (5, 10, 40):
        profile = erf_profile([[3, 1, 1]] * n, 401)
        x = np.arange(401)
        mean = profile @ x
        assert abs(np.sqrt(profile @ (x - mean) ** 2) - np.sqrt(2 * n / 3)) < 1e-9
        assert abs(profile.sum() - 1) < 1e-12


def test_bad_input():
    with pytest.raises(ValueError, match="non-empty list"):
        rf_topdown([])
    with pytest.raises(ValueError, match="layer 0 must be"):
        rf_topdown([[3, 1]])
    with pytest.raises(ValueError, match="stride"):
        rf_table([[3, 0, 1]])
    with pytest.raises(TypeError, match="kernel"):
        rf_topdown([[3.5, 1, 1]])
    with pytest.raises(ValueError, match="names has"):
        rf_table([[3, 1, 1]], names=["a", "b"])
    with pytest.raises(ValueError, match="border"):
        empirical_rf_1d([[3, 1, 1]] * 5, n=9)
    with pytest.raises(ValueError, match="n must be"):
        erf_profile([[3, 1, 1]], n=0)
    with pytest.raises(ValueError, match="shorter"):
        predicted_centre([[7, 1, 0]], n=3)
    with pytest.raises(TypeError, match="n must be an int"):
        conv_out_len(2.0, 1)


def test_draw_rf_cone():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    draw_rf_cone(ax, [[3, 1, 0], [3, 2, 0]], n_input=11)
    assert len(ax.get_yticks()) == 3
    with pytest.raises(ValueError, match="n_input"):
        draw_rf_cone(ax, [[3, 1, 0]], n_input=0)
    plt.close(fig)


@pytest.mark.parametrize("dilations", [[2, 2, 2], [1, 2, 5], [3, 3], [1, 2, 4], [2]])
def test_dilation_support_matches_autograd(dilations):
    from mlnotes.receptive_field import dilation_support
    span, covered = dilation_support(dilations)
    profile = erf_profile([[3, 1, 0, d] for d in dilations], 200)
    support = np.flatnonzero(profile)
    assert covered == len(support) and span == support[-1] - support[0] + 1


def test_profile_std_and_random_erf():
    from mlnotes.receptive_field import profile_std, random_erf
    p = np.zeros(9); p[[2, 6]] = 0.5                        # two points 4 apart: std 2
    assert profile_std(p) == pytest.approx(2.0)
    erf = random_erf(3, n=31, n_nets=4, seed=1)
    assert erf.shape == (4, 31) and np.allclose(erf.sum(1), 1)
    # 3 layers of 3 taps: the support never leaves the theoretical field of 7 pixels
    assert (np.count_nonzero(erf, axis=1) <= 7).all()


def _axes():
    import matplotlib.pyplot as plt
    return {"ax": plt.subplots()[1]}


from adversarial_examples import Example  # noqa: E402

ADVERSARIAL = {
    "conv_out_len": Example(10, 3, 1, 1, 1, accepts={"p": "0"}),          # no padding is valid
    "rf_topdown": Example([[3, 1, 0], [3, 2, 1]]),
    "rf_table": Example([[3, 1, 0], [3, 2, 1]]),
    "empirical_rf_1d": Example([[3, 1, 0]], n=40),
    "predicted_centre": Example([[3, 1, 0]], n=40),
    "erf_profile": Example([[3, 1, 1]], n=21),
    "dilation_support": Example([1, 2], k=3),
    "random_erf": Example(2, n=11, channels=2, k=3, n_nets=2, seed=0),
    "profile_std": Example(np.array([0.25, 0.5, 0.25])),
    "plot_stack_profile": Example(layers=[[3, 1, 0]], n=40, fresh=_axes),
    "draw_rf_cone": Example(layers=[[3, 1, 0]], n_input=9, fresh=_axes,
                            accepts={"unit": "None 0"}),                   # None: the middle unit
}
ADVERSARIAL_EXEMPT = {name: "a constant table of layers, not a callable"
                      for name in ("ALEXNET", "VGG16", "ZF5")}

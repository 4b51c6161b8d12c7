"""Tests for mlnotes.deformable against F.conv2d and F.grid_sample; gradcheck; bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from scipy.ndimage import gaussian_filter

from mlnotes.deformable import (bilinear_sample, deform_conv2d, dilation_offsets, draw_sampling_points,
                                fit_global_shift, tent)


def rand(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("stride,padding,k", [(1, 1, 3), (2, 1, 3), (1, 0, 1), (1, 2, 5), (2, 0, 2)])
def test_zero_offsets_equal_conv2d(stride, padding, k):
    x, w, b = rand(2, 3, 9, 8), rand(4, 3, k, k, seed=1), rand(4, seed=2)
    ref = F.conv2d(x, w, b, stride=stride, padding=padding)
    offset = torch.zeros(2, 2 * k * k, *ref.shape[-2:], dtype=torch.float64)
    assert torch.allclose(deform_conv2d(x, offset, w, b, stride=stride, padding=padding), ref, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_dilation_offsets_emulate_dilation(d):
    x, w = rand(1, 2, 11, 10), rand(3, 2, 3, 3, seed=1)
    ref = F.conv2d(x, w, padding=d, dilation=d)
    out = deform_conv2d(x, dilation_offsets(3, d, 11, 10), w, padding=1)
    assert torch.allclose(out, ref, atol=1e-12)
    assert torch.allclose(deform_conv2d(x, torch.zeros(1, 18, 11, 10, dtype=torch.float64), w, padding=d, dilation=d),
                          ref, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 10_000))
def test_bilinear_sample_matches_grid_sample(H, W, seed):
    x = rand(2, 3, H, W, seed=seed)
    rng = np.random.default_rng(seed)
    py = torch.from_numpy(rng.uniform(-1.5, H + 0.5, size=(2, 7)))
    px = torch.from_numpy(rng.uniform(-1.5, W + 0.5, size=(2, 7)))
    gx = px / max(W - 1, 1) * 2 - 1 if W > 1 else px * 2 - 1
    gy = py / max(H - 1, 1) * 2 - 1 if H > 1 else py * 2 - 1
    if H == 1 or W == 1:          # grid_sample's align_corners=True normalisation degenerates; compare to a loop
        ref = torch.zeros(2, 3, 7, dtype=torch.float64)
        for b in range(2):
            for p in range(7):
                for qy in range(H):
                    for qx in range(W):
                        g = tent(qy, py[b, p].item()) * tent(qx, px[b, p].item())
                        ref[b, :, p] += float(g) * x[b, :, qy, qx]
    else:
        grid = torch.stack([gx, gy], -1)[:, :, None, :]
        ref = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[..., 0]
    assert torch.allclose(bilinear_sample(x, py, px), ref, atol=1e-12)


def test_partition_of_unity_and_tent():
    x = torch.ones(1, 1, 6, 6, dtype=torch.float64)
    py, px = torch.tensor([[0.3, 2.5, 4.99]], dtype=torch.float64), torch.tensor([[1.7, 3.0, 0.01]], dtype=torch.float64)
    assert torch.equal(bilinear_sample(x, py, px), torch.ones(1, 1, 3, dtype=torch.float64))
    assert tent(0, 0.25) == 0.75 and tent(0, 2) == 0.0


def test_tent_bad_input():
    assert np.array_equal(tent(np.array([-1.0, 0.0, 0.5]), 0), [0.0, 1.0, 0.5])  # edges of the support
    with pytest.raises(TypeError, match="a must be a numeric array"):
        tent("x", 0.0)
    with pytest.raises(ValueError, match="b must be finite"):
        tent(0.0, np.nan)
    with pytest.raises(ValueError, match="a must be non-empty"):
        tent([], 0.0)


def test_gradcheck_offsets():
    g = torch.Generator().manual_seed(3)
    x = rand(1, 1, 4, 4).requires_grad_()
    w = rand(1, 1, 3, 3, seed=1).requires_grad_()
    frac = torch.rand(1, 18, 2, 2, dtype=torch.float64, generator=g) * 0.8 + 0.1      # stay off the kinks
    off = (frac + torch.randint(-1, 2, (1, 18, 2, 2), generator=g)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: deform_conv2d(a, c, b), (x, w, off))


def test_fit_global_shift_recovers_shift():
    rng = np.random.default_rng(0)
    img = torch.from_numpy(gaussian_filter(rng.normal(size=(16, 16)), 2.0))
    yy, xx = torch.meshgrid(torch.arange(16.0, dtype=torch.float64), torch.arange(16.0, dtype=torch.float64), indexing="ij")
    target = bilinear_sample(img[None, None], (yy + 0.3)[None], (xx - 0.6)[None])[0, 0]
    path = fit_global_shift(img, target, steps=120, lr=0.05)
    assert path.shape == (121, 2)
    np.testing.assert_allclose(path[-1], [0.3, -0.6], atol=1e-2)


def test_bad_input():
    x, w = rand(1, 2, 5, 5), rand(2, 2, 3, 3)
    with pytest.raises(ValueError, match="offset must have shape"):
        deform_conv2d(x, torch.zeros(1, 9, 5, 5, dtype=torch.float64), w, padding=1)
    with pytest.raises(ValueError, match="weight must have shape"):
        deform_conv2d(x, torch.zeros(1, 18, 3, 3, dtype=torch.float64), rand(2, 3, 3, 3))
    with pytest.raises(TypeError, match="torch tensor"):
        deform_conv2d(x.numpy(), None, w)
    # an integer image is read like its float copy
    ints = torch.arange(4).reshape(1, 1, 2, 2)
    where = torch.full((1, 1), 0.5)
    assert torch.equal(bilinear_sample(ints, where, where), bilinear_sample(ints.float(), where, where))
    with pytest.raises(ValueError, match="px must have shape"):
        bilinear_sample(x, torch.zeros(1, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="odd"):
        dilation_offsets(2, 2, 3, 3)
    with pytest.raises(ValueError, match="target must have shape"):
        fit_global_shift(torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="lr"):
        fit_global_shift(torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64), lr=0)
    with pytest.raises(ValueError, match="does not fit"):
        deform_conv2d(rand(1, 2, 2, 2), torch.zeros(1, 18, 1, 1, dtype=torch.float64), w)


def test_draw_sampling_points():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    draw_sampling_points(ax, (5, 5), None, k=3, dilation=2)
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == 9 and offsets[:, 0].min() == 3 and offsets[:, 0].max() == 7
    with pytest.raises(ValueError, match="offsets must have shape"):
        draw_sampling_points(ax, (5, 5), np.zeros((4, 2)))
    plt.close(fig)


def test_deform_layer_starts_as_its_plain_conv():
    from mlnotes.deformable import DeformConv2d
    layer = DeformConv2d(2, 3)
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(layer(x), layer.conv(x), atol=1e-12)


def test_content_scaled_offsets_are_a_local_dilation():
    from mlnotes.deformable import content_scaled_offsets, local_dilation
    images = torch.rand(2, 1, 9, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    box = F.conv2d(images, torch.ones(1, 1, 3, 3, dtype=torch.float64) / 9, padding=1)[:, 0]
    assert torch.allclose(local_dilation(content_scaled_offsets(images, gain=1.5)), 1.5 * box)
    # a uniform bright image with gain 1 is exactly the dilation-2 kernel of dilation_offsets
    ones = torch.ones(1, 1, 9, 9, dtype=torch.float64)
    inner = content_scaled_offsets(ones, gain=1.0)[..., 1:-1, 1:-1]
    assert torch.allclose(inner, dilation_offsets(3, 2, 7, 7))


def test_content_adaptive_task_is_bounded_and_deterministic():
    from mlnotes.deformable import content_adaptive_task
    images, targets = content_adaptive_task(3, size=10, seed=4)
    assert images.shape == targets.shape == (3, 1, 10, 10)
    assert 0 <= images.min() and images.max() <= 1
    again = content_adaptive_task(3, size=10, seed=4)
    assert torch.equal(again[1], targets)


def test_stacked_sampling_points_compose_plain_grids():
    from mlnotes.deformable import stacked_sampling_points
    zero = torch.zeros(1, 18, 11, 11)
    points = stacked_sampling_points(zero, (5, 5), layers=2)
    assert points.shape == (81, 2)
    # two plain 3x3 layers read the 5x5 grid around the unit, the centre 9 times
    cells, counts = np.unique(points, axis=0, return_counts=True)
    assert len(cells) == 25 and counts.max() == 9 and cells.min() == 3 and cells.max() == 7


def _axes():
    import matplotlib.pyplot as plt
    return {"ax": plt.subplots()[1]}


from adversarial_examples import Example  # noqa: E402
from mlnotes.deformable import DeformConv2d  # noqa: E402

_X = torch.ones(1, 1, 5, 5, dtype=torch.float64)
ADVERSARIAL = {
    "DeformConv2d": Example(1, 2, k=3),
    "tent": Example(np.array([0.0, 0.5]), 0.25, accepts={"a": "-1 0 ndim", "b": "-1 0 ndim"}),
    "bilinear_sample": Example(_X, torch.full((1, 3), 1.5, dtype=torch.float64),
                               torch.full((1, 3), 2.5, dtype=torch.float64)),
    "deform_conv2d": Example(_X, torch.zeros(1, 18, 3, 3, dtype=torch.float64),
                             torch.ones(1, 1, 3, 3, dtype=torch.float64), accepts={"bias": "None"}),
    "dilation_offsets": Example(3, 2, 3, 3, B=1),
    "fit_global_shift": Example(torch.ones(6, 6, dtype=torch.float64),
                                torch.ones(6, 6, dtype=torch.float64), steps=2, lr=0.1),
    "draw_sampling_points": Example(centre=(2, 2), offsets=np.zeros((9, 2)), fresh=_axes,
                                    accepts={"offsets": "None"}),       # None: the plain grid
    "content_scaled_offsets": Example(_X, gain=1.0, accepts={"gain": "-1 0"}),
    "content_adaptive_task": Example(2, size=6, seed=0, gain=1.0, accepts={"gain": "-1 0"}),
    "fit_conv_model": Example(images=_X, targets=_X, steps=2, lr=0.1, seed=0,
                              fresh=lambda: {"model": torch.nn.Conv2d(1, 1, 3, padding=1,
                                                                      dtype=torch.float64)}),
    "local_dilation": Example(torch.zeros(1, 18, 3, 3)),
    "stacked_sampling_points": Example(torch.zeros(1, 18, 5, 5), (2, 2), layers=2),
}

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
    with pytest.raises(ValueError, match="input channels"):
        deform_conv2d(x, torch.zeros(1, 18, 3, 3, dtype=torch.float64), rand(2, 3, 3, 3))
    with pytest.raises(TypeError, match="torch tensor"):
        deform_conv2d(x.numpy(), None, w)
    with pytest.raises(TypeError, match="floating-point"):
        bilinear_sample(torch.zeros(1, 1, 2, 2, dtype=torch.long), torch.zeros(1, 1), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="share a shape"):
        bilinear_sample(x, torch.zeros(1, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="odd"):
        dilation_offsets(2, 2, 3, 3)
    with pytest.raises(ValueError, match="same shape"):
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

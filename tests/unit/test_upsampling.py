"""Tests for mlnotes.upsampling against torch's upsampling layers; edges and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from mlnotes.upsampling import (bilinear_np, conv_transpose2d_via_conv, convT_output_size, overlap_map,
                              pixel_shuffle_np, pixel_unshuffle_np, psnr, sample_positions)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.booleans(), st.integers(0, 1000))
def test_bilinear_matches_torch(H, W, scale, align, seed):
    img = np.random.default_rng(seed).random((2, H, W))
    ref = F.interpolate(torch.from_numpy(img)[None], scale_factor=scale, mode="bilinear", align_corners=align)[0].numpy()
    np.testing.assert_allclose(bilinear_np(img, scale, align_corners=align), ref, atol=1e-12)


def test_bilinear_align_true_matches_upsampling_bilinear2d():
    img = np.random.default_rng(0).random((5, 7))
    ref = torch.nn.UpsamplingBilinear2d(scale_factor=3)(torch.from_numpy(img)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(bilinear_np(img, 3, align_corners=True), ref, atol=1e-12)
    assert np.array_equal(bilinear_np(img, 1), img)


def test_sample_positions():
    np.testing.assert_allclose(sample_positions(4, 8, True), np.arange(8) * 3 / 7)
    np.testing.assert_allclose(sample_positions(4, 8, False), (np.arange(8) + 0.5) / 2 - 0.5)
    assert sample_positions(3, 1, True).tolist() == [0.0]
    with pytest.raises(ValueError, match="n_out"):
        sample_positions(4, 0, True)


def test_bilinear_bad_input():
    with pytest.raises(ValueError, match="scale must be in"):
        bilinear_np(np.ones((3, 3)), 0.5)
    with pytest.raises(TypeError, match="scale"):
        bilinear_np(np.ones((3, 3)), "2")
    with pytest.raises(ValueError, match="non-empty"):
        bilinear_np(np.ones(3), 2)
    with pytest.raises(TypeError, match="align_corners"):
        bilinear_np(np.ones((3, 3)), 2, align_corners=1)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_pixel_shuffle_matches_torch(N, C, H, W, r):
    x = np.random.default_rng(0).random((N, C * r * r, H, W))
    t = torch.from_numpy(x)
    assert np.array_equal(pixel_shuffle_np(x, r), F.pixel_shuffle(t, r).numpy())
    assert np.array_equal(pixel_unshuffle_np(pixel_shuffle_np(x, r), r), x)
    assert np.array_equal(pixel_unshuffle_np(x, 1), F.pixel_unshuffle(t, 1).numpy())


def test_pixel_shuffle_bad_input():
    with pytest.raises(ValueError, match="divisible by r\\^2"):
        pixel_shuffle_np(np.zeros((1, 3, 2, 2)), 2)
    with pytest.raises(ValueError, match="divisible by r"):
        pixel_unshuffle_np(np.zeros((1, 1, 3, 4)), 2)
    with pytest.raises(ValueError, match="x must"):
        pixel_shuffle_np(np.zeros((4, 2, 2)), 2)
    with pytest.raises(TypeError, match="r must be an int"):
        pixel_shuffle_np(np.zeros((1, 4, 2, 2)), 2.0)


@pytest.mark.parametrize("k,s,p,op", [(3, 2, 1, 1), (4, 2, 1, 0), (5, 3, 2, 2), (2, 2, 0, 0), (3, 1, 1, 0), (1, 1, 0, 0)])
def test_convT_output_size_matches_torch(k, s, p, op):
    layer = torch.nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op)
    assert layer(torch.zeros(1, 1, 7, 7)).shape[-1] == convT_output_size(7, k, s, p, op)


def test_convT_output_size_bad_input():
    with pytest.raises(ValueError, match="output_padding"):
        convT_output_size(5, 3, s=2, op=2)
    with pytest.raises(ValueError, match="too large"):
        convT_output_size(1, 1, p=1)
    with pytest.raises(TypeError, match="H must be"):
        convT_output_size("5", 3)


def test_overlap_map_matches_conv_transpose():
    for k, s in [(3, 2), (4, 2), (1, 1), (5, 3)]:
        ref = F.conv_transpose2d(torch.ones(1, 1, 6, 6, dtype=torch.float64),
                                 torch.ones(1, 1, k, k, dtype=torch.float64), stride=s)[0, 0].numpy()
        assert np.array_equal(overlap_map(6, k, s), ref)
    with pytest.raises(ValueError, match="k must be"):
        overlap_map(4, 0, 2)


@pytest.mark.parametrize("s,p", [(1, 0), (2, 1), (3, 2), (2, 0)])
def test_conv_transpose_via_conv(s, p):
    g = torch.Generator().manual_seed(0)
    y = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    ref = F.conv_transpose2d(y, w, stride=s, padding=p)
    assert torch.allclose(conv_transpose2d_via_conv(y, w, s, p), ref, atol=1e-12)


def test_conv_transpose_via_conv_bad_input():
    w = torch.zeros(3, 2, 3, 3)
    with pytest.raises(TypeError, match="must be a torch tensor"):
        conv_transpose2d_via_conv(np.zeros((1, 3, 2, 2)), w)
    with pytest.raises(ValueError, match=r"w must have shape \(C, any, any, any\) with C = 2"):
        conv_transpose2d_via_conv(torch.zeros(1, 2, 2, 2), w)
    with pytest.raises(ValueError, match="padding must be"):
        conv_transpose2d_via_conv(torch.zeros(1, 3, 2, 2), w, padding=3)


def test_psnr():
    a = np.zeros((4, 4))
    assert psnr(a, a) == float("inf")
    assert abs(psnr(a, a + 0.1) - 20.0) < 1e-9
    assert abs(psnr(a, a + 25.5, data_range=255) - 20.0) < 1e-9
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="data_range"):
        psnr(a, a, data_range=0)


def test_random_crops_shapes_and_sources():
    from mlnotes.upsampling import random_crops
    a, b = np.zeros((20, 30)), np.ones((25, 25))
    crops = random_crops([a, b], 8, 6, seed=0)
    assert crops.shape == (6, 8, 8)
    assert (crops[0::2] == 0).all() and (crops[1::2] == 1).all()


def test_checkerboard_score_zero_for_flat_positive_for_pattern():
    from mlnotes.upsampling import checkerboard_score
    assert checkerboard_score(np.full((16, 16), 3.0), 2) == 0.0
    board = np.indices((16, 16)).sum(0) % 2 + 1.0            # values 1 and 2 alternating
    assert checkerboard_score(board, 2) == pytest.approx(np.std([1, 2, 2, 1]) / 1.5)


def test_learned_upsamplers_icnr_has_no_phase_dependence():
    from mlnotes.upsampling import learned_upsamplers
    x = np.random.default_rng(0).normal(size=(8, 8))
    outs = learned_upsamplers(x, seed=3)
    # ICNR: pixel-shuffling r^2 copies of one filter repeats each filtered value in a 2x2 block
    # (every phase grid is the same image)
    icnr, resize = outs["conv + PixelShuffle, ICNR"], outs["resize, then conv"]
    assert icnr.shape == resize.shape == (16, 16)
    assert np.allclose(icnr[::2, ::2], icnr[1::2, 1::2])
    assert len(outs) == 5


from adversarial_examples import Example  # noqa: E402

ADVERSARIAL = {
    "sample_positions": Example(4, 8, align_corners=True),
    "bilinear_np": Example(np.ones((3, 3)), 2, align_corners=False),
    "pixel_shuffle_np": Example(np.ones((1, 4, 2, 2)), 2),
    "pixel_unshuffle_np": Example(np.ones((1, 1, 4, 4)), 2),
    "convT_output_size": Example(10, 3, 2, 1, 1, 1, accepts={"p": "0", "op": "0"}),
    "overlap_map": Example(4, 3, 2),
    "conv_transpose2d_via_conv": Example(torch.ones(1, 2, 3, 3), torch.ones(2, 1, 3, 3),
                                         stride=2, padding=1, accepts={"padding": "0"}),
    "psnr": Example(np.zeros(4), np.full(4, 0.1), data_range=1.0),
    "random_crops": Example([np.zeros((10, 10))], 4, 3, seed=0),
    "checkerboard_score": Example(np.arange(100.0).reshape(10, 10) % 3 + 1, 2),
    "learned_upsamplers": Example(np.ones((6, 6)), seed=0, r=2, k=3),
}

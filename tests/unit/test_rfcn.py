"""Tests for mlnotes.rfcn: PS-RoI pooling against a loop reference and adaptive_avg_pool2d,
the exact translation-variance example, the tiny R-FCN head and the cost formulas."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from mlnotes.rfcn import (RESNET101_STAGES, TinyRFCN, bottleneck_stage_macs, conv_macs_by_hooks,
                          detector_costs, part_selectivity, resnet_stage, _adjacent_squares_scene, draw_roi_bins, make_dataset, part_maps_for_boxes,
                               plain_roi_pool, ps_roi_pool, ps_roi_pool_reference,
                               rfcn_roi_ops, train_tiny_rfcn, _training_rois)

torch.set_num_threads(1)


def random_rois(rng, n, H, W):
    xy = np.c_[rng.uniform(-3, W - 2, n), rng.uniform(-3, H - 2, n)]
    return np.c_[xy, xy + rng.uniform(0, 15, (n, 2))]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_ps_roi_pool_matches_loop(dtype, tol):
    rng = np.random.default_rng(0)
    maps = rng.random((2 * 9, 20, 24)).astype(dtype)
    rois = random_rois(rng, 40, 20, 24)
    out = ps_roi_pool(maps, rois, 3)
    assert out.dtype == dtype and out.shape == (40, 2, 3, 3)
    assert np.abs(out - ps_roi_pool_reference(maps, rois, 3)).max() < tol


@settings(max_examples=50, deadline=None)
@given(k=st.integers(1, 4), n_cls=st.integers(1, 3), seed=st.integers(0, 10_000), scale=st.sampled_from([1.0, 0.5, 0.25]))
def test_ps_roi_pool_property(k, n_cls, seed, scale):
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(k * k * n_cls, 12, 15))
    rois = random_rois(rng, 5, 24, 30)
    assert np.abs(ps_roi_pool(maps, rois, k, scale) - ps_roi_pool_reference(maps, rois, k, scale)).max() < 1e-10


def test_ps_roi_pool_matches_adaptive_avg_pool_on_aligned_rois():
    rng = np.random.default_rng(1)
    k, n_cls = 3, 4
    maps = rng.normal(size=(k * k * n_cls, 30, 30))
    for x0, y0, w, h in [(0, 0, 9, 9), (3, 6, 12, 6), (10, 2, 18, 27)]:
        pooled = F.adaptive_avg_pool2d(torch.from_numpy(maps[:, y0:y0 + h, x0:x0 + w]), k).numpy()
        ours = ps_roi_pool(maps, np.array([[x0, y0, x0 + w, y0 + h]]), k)[0]
        for i in range(k):
            for j in range(k):
                for c in range(n_cls):
                    assert ours[c, i, j] == pytest.approx(pooled[(i * k + j) * n_cls + c, i, j], abs=1e-12)


def test_batched_torch_and_gradients():
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(3, 18, 10, 10))
    rois = np.c_[[0, 2, 1], random_rois(rng, 3, 10, 10)]
    batched = ps_roi_pool(torch.from_numpy(maps), rois, 3)
    for r in range(3):
        single = ps_roi_pool(maps[int(rois[r, 0])], rois[r:r + 1, 1:], 3)
        assert np.abs(batched[r].numpy() - single[0]).max() < 1e-12
    x = torch.from_numpy(maps[:1, :, :6, :6]).clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda z: ps_roi_pool(z, np.array([[0, 0.5, 1, 5, 6]]), 3), (x,))


def test_exact_translation_variance_example():
    boxes = np.array([[3, 4, 12, 13], [12, 4, 21, 13]])
    maps = part_maps_for_boxes(24, 24, boxes, 3)
    rois = np.array([[3, 4, 12, 13], [6, 4, 15, 13], [7, 4, 16, 13]])
    assert ps_roi_pool(maps, rois, 3).mean(axis=(1, 2, 3)).tolist() == [1.0, 0.0, 0.0]
    assert plain_roi_pool(maps.sum(axis=0, keepdims=True), rois).ravel().tolist() == [1.0, 1.0, 1.0]


def test_edges_empty_bins_and_outside():
    maps = np.ones((9, 8, 8))
    out = ps_roi_pool(maps, np.array([[2.0, 2.0, 2.0, 2.0], [20, 20, 30, 30], [-5, -5, 1, 1]]), 3)
    assert out[0].sum() == 0 and out[1].sum() == 0  # empty and fully outside: zeros, no division by zero
    assert set(np.unique(out[2])) <= {0.0, 1.0}


def test_pool_bad_input():
    maps = np.zeros((9, 5, 5))
    # nested lists are read as arrays
    assert np.array_equal(ps_roi_pool(maps.tolist(), np.ones((1, 4))), ps_roi_pool(maps, np.ones((1, 4))))
    with pytest.raises(TypeError, match="maps must be"):
        ps_roi_pool("maps", np.zeros((1, 4)))
    with pytest.raises(ValueError, match="multiple of k"):
        ps_roi_pool(np.zeros((8, 5, 5)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="rois must have shape"):
        ps_roi_pool(maps, np.zeros((1, 5)))
    with pytest.raises(ValueError, match="x1 >= x0"):
        ps_roi_pool(maps, np.array([[3, 0, 1, 2]]))
    with pytest.raises(ValueError, match="batch indices"):
        ps_roi_pool(maps[None], np.array([[1, 0, 0, 2, 2]]))
    with pytest.raises(ValueError, match="k must be"):
        ps_roi_pool(maps, np.zeros((1, 4)), k=0)
    with pytest.raises(ValueError, match="spatial_scale"):
        ps_roi_pool(maps, np.zeros((1, 4)), spatial_scale=0)
    with pytest.raises(ValueError, match="rois must be finite"):
        ps_roi_pool(maps, np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match="maps must"):
        ps_roi_pool_reference(maps[None], np.zeros((1, 5)))
    with pytest.raises(ValueError, match="maps must"):
        plain_roi_pool(np.zeros((5, 5)), np.zeros((1, 4)))


def test_scenes_and_maps():
    image, boxes = _adjacent_squares_scene(seed=3)
    assert image.shape == (32, 32) and image.dtype == np.float32
    assert boxes[0, 2] == boxes[1, 0] and (boxes[:, 2] <= 32).all()
    rois, labels = _training_rois(boxes, seed=1)
    assert rois.shape == (6, 4) and labels.tolist() == [1, 1, 0, 0, 0, 0]
    maps = part_maps_for_boxes(10, 10, [[0, 0, 6, 6]], 2)
    assert maps.shape == (4, 10, 10) and maps.sum() == 36
    with pytest.raises(ValueError, match="multiples of k"):
        part_maps_for_boxes(10, 10, [[0, 0, 5, 6]], 2)
    with pytest.raises(ValueError, match="boxes must have shape"):
        part_maps_for_boxes(10, 10, [0, 0, 6, 6], 2)


def test_tiny_rfcn_trains():
    model, losses = train_tiny_rfcn(n_images=60, epochs=3, batch=20, seed=0)
    assert isinstance(model, TinyRFCN) and np.mean(losses[-3:]) < losses[0]
    images, rois, labels = make_dataset(5, seed=9)
    assert model(images, rois).shape == (len(labels), 2)
    with pytest.raises(ValueError, match="n_images"):
        make_dataset(0, seed=1)
    with pytest.raises(ValueError, match="epochs"):
        train_tiny_rfcn(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        train_tiny_rfcn(lr=0.0)


@pytest.mark.parametrize("h, w, in_ch, blocks, mid, out, stride",
                         [(14, 14, 1024, 3, 512, 2048, 2), (9, 13, 64, 2, 16, 64, 1),
                          (11, 7, 32, 3, 8, 48, 2)])
def test_bottleneck_macs_match_hook_count(h, w, in_ch, blocks, mid, out, stride):
    # The closed form against forward hooks on a real torch stage (odd sizes test the ceil).
    closed, h2, w2 = bottleneck_stage_macs(h, w, in_ch, blocks, mid, out, stride)
    stage = resnet_stage(in_ch, blocks, mid, out, stride)
    assert closed == conv_macs_by_hooks(stage, (1, in_ch, h, w))
    assert stage(torch.zeros(1, in_ch, h, w)).shape[-2:] == (h2, w2)


def test_detector_costs_pipeline_ratio_near_paper():
    costs = detector_costs()
    assert costs["Faster R-CNN"]["shared backbone"] == costs["R-FCN"]["shared backbone"]
    faster, rfcn = (sum(parts.values()) for parts in costs.values())
    assert 1.5 < faster / rfcn < 5                     # the paper measures about 2.5x in time
    assert rfcn_roi_ops() == 21 * 14 * 14 + 21 * 9
    assert len(RESNET101_STAGES) == 4
    with pytest.raises(ValueError, match="num_classes"):
        rfcn_roi_ops(num_classes=0)


def test_part_selectivity_of_ideal_and_constant_heads():
    images, rois, _ = make_dataset(4, seed=3)
    model = TinyRFCN()
    for p in model.parameters():
        torch.nn.init.zeros_(p)                        # every map 0: argmax picks part (0, 0)
    assert part_selectivity(model, images, rois) == pytest.approx(1 / 9)


def test_draw_roi_bins():
    fig, ax = plt.subplots()
    draw_roi_bins(ax, (0, 0, 9, 9), np.eye(3))
    assert len(ax.patches) == 9
    with pytest.raises(ValueError, match=r"bins must have shape \(k, k\)"):
        draw_roi_bins(ax, (0, 0, 9, 9), np.ones((2, 3)))
    plt.close(fig)


def _axes():
    return {"ax": plt.subplots()[1]}


from adversarial_examples import Example  # noqa: E402

_IMAGES, _ROIS, _ = make_dataset(2, seed=0)
ADVERSARIAL = {
    "TinyRFCN": Example(k=3, num_classes=1, width=4),
    "ps_roi_pool": Example(np.ones((18, 8, 8)), np.array([[0.0, 0.0, 6.0, 6.0]]), k=3,
                           spatial_scale=1.0,
                           accepts={"maps": "torch", "rois": "torch"}),   # numpy or torch in
    "ps_roi_pool_reference": Example(np.ones((18, 8, 8)), np.array([[0.0, 0.0, 6.0, 6.0]]),
                                     k=3, spatial_scale=1.0, accepts={"rois": "torch"}),
    "plain_roi_pool": Example(np.ones((2, 8, 8)), np.array([[0.0, 0.0, 6.0, 6.0]]),
                              accepts={"rois": "torch"}),
    "part_maps_for_boxes": Example(10, 12, np.array([[1, 1, 7, 7]]), k=3),
    "make_dataset": Example(2, seed=0),
    "train_tiny_rfcn": Example(n_images=2, epochs=1, batch=2, lr=0.01, seed=0, k=1),
    "part_responses": Example(images=_IMAGES, rois=_ROIS, fresh=lambda: {"model": TinyRFCN()}),
    "part_selectivity": Example(images=_IMAGES, rois=_ROIS, fresh=lambda: {"model": TinyRFCN()}),
    "bottleneck_stage_macs": Example(4, 4, 8, 2, 4, 8, 2),
    "detector_costs": Example(image_hw=(64, 64), num_rois=2, k=3, num_classes=2),
    "resnet_stage": Example(4, 1, 2, 4, 1),
    "conv_macs_by_hooks": Example(input_shape=(1, 4, 3, 3),
                                  fresh=lambda: {"module": resnet_stage(4, 1, 2, 4, 1)}),
    "rfcn_roi_ops": Example(k=3, num_classes=2, roi_hw=4),
    "draw_roi_bins": Example(roi=(0, 0, 9, 9), bins=np.eye(3), fresh=_axes),
}

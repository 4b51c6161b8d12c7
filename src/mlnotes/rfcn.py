"""Position-sensitive RoI pooling (R-FCN), synthetic two-square scenes, a tiny trainable R-FCN
head and per-RoI cost accounting. Used by the chapter ``vision/r-fcn``. No torchvision.

Channel layout of the score maps is **group-major**: for a ``k x k`` grid and ``C + 1`` classes
(background included), channel ``(i * k + j) * (C + 1) + c`` holds "part (i, j) of class c",
with ``i`` the bin row and ``j`` the bin column. (torchvision orders them class-major,
``c * k^2 + i * k + j``.) RoIs are ``(x0, y0, x1, y1)`` in image pixels, end-exclusive, and are
multiplied by ``spatial_scale`` to reach feature-map coordinates. Bin ``(i, j)`` of a RoI of width
``w`` spans columns ``floor(x0 + j w / k)`` to ``ceil(x0 + (j + 1) w / k)`` (exclusive), rows alike,
clipped to the map; an empty bin pools to 0.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlnotes.core import check_seed


# ----------------------------------------------------------------------------- PS-RoI pooling
def _check_pool_args(maps: object, rois: object, k: int, spatial_scale: float) -> tuple[bool, int]:
    is_torch = isinstance(maps, torch.Tensor)
    if not is_torch and not isinstance(maps, np.ndarray):
        raise TypeError(f"maps must be a numpy array or torch tensor, got {type(maps).__name__}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if maps.ndim not in (3, 4):
        raise ValueError(f"maps must have shape (channels, H, W) or (N, channels, H, W), got {tuple(maps.shape)}")
    channels = maps.shape[-3]
    if channels % (k * k):
        raise ValueError(f"maps has {channels} channels, not a multiple of k^2 = {k * k}")
    r = np.asarray(rois.detach() if isinstance(rois, torch.Tensor) else rois, dtype=np.float64)
    width = 4 if maps.ndim == 3 else 5
    if r.ndim != 2 or r.shape[1] != width:
        raise ValueError(f"rois must have shape (R, {width}) ({'x0, y0, x1, y1' if width == 4 else 'batch, x0, y0, x1, y1'}), got {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("rois contain NaN or inf")
    if (r[:, -2] < r[:, -4]).any() or (r[:, -1] < r[:, -3]).any():
        raise ValueError("every RoI needs x1 >= x0 and y1 >= y0")
    if maps.ndim == 4 and ((r[:, 0] < 0).any() or (r[:, 0] >= maps.shape[0]).any() or (r[:, 0] % 1).any()):
        raise ValueError(f"batch indices in rois[:, 0] must be integers in [0, {maps.shape[0]})")
    if not (isinstance(spatial_scale, (int, float)) and spatial_scale > 0):
        raise ValueError(f"spatial_scale must be a number > 0, got {spatial_scale!r}")
    return is_torch, channels // (k * k)


def _bin_edges(lo: np.ndarray, hi: np.ndarray, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    step = (hi - lo)[:, None] / k
    j = np.arange(k)[None, :]
    start = np.clip(np.floor(lo[:, None] + j * step), 0, size).astype(np.int64)
    end = np.clip(np.ceil(lo[:, None] + (j + 1) * step), 0, size).astype(np.int64)
    return start, np.maximum(end, start)


def ps_roi_pool(maps: object, rois: object, k: int = 3, spatial_scale: float = 1.0) -> object:
    """Position-sensitive RoI pooling with an integral image: bin scores of shape (R, C+1, k, k).

    ``r_c(i, j) = mean of channel (i k + j)(C + 1) + c over bin (i, j)``. ``maps`` is
    ``(k^2 (C+1), H, W)`` with ``rois`` ``(R, 4)``, or batched ``(N, k^2 (C+1), H, W)`` with ``rois``
    ``(R, 5)`` whose first column is the image index. Numpy in -> numpy out; a torch tensor in ->
    a differentiable torch tensor out. Sums are accumulated in float64.
    """
    is_torch, n_cls = _check_pool_args(maps, rois, k, spatial_scale)
    r = np.asarray(rois.detach() if isinstance(rois, torch.Tensor) else rois, dtype=np.float64)
    Z = maps if is_torch else torch.from_numpy(np.asarray(maps))
    if Z.ndim == 3:
        Z, batch = Z[None], np.zeros(len(r), dtype=np.int64)
    else:
        batch, r = r[:, 0].astype(np.int64), r[:, 1:]
    H, W = Z.shape[-2:]
    box = r * spatial_scale
    xs0, xs1 = _bin_edges(box[:, 0], box[:, 2], k, W)
    ys0, ys1 = _bin_edges(box[:, 1], box[:, 3], k, H)
    S = F.pad(Z.double().cumsum(-1).cumsum(-2), (1, 0, 1, 0))  # S[..., y, x] = sum over [0, y) x [0, x)
    ii, jj, cc = np.meshgrid(np.arange(k), np.arange(k), np.arange(n_cls), indexing="ij")
    ch = torch.from_numpy(((ii * k + jj) * n_cls + cc).transpose(2, 0, 1))[None]  # (1, C+1, k, k)
    b = torch.from_numpy(batch)[:, None, None, None]
    y0, y1 = (torch.from_numpy(a)[:, None, :, None] for a in (ys0, ys1))
    x0, x1 = (torch.from_numpy(a)[:, None, None, :] for a in (xs0, xs1))
    total = S[b, ch, y1, x1] - S[b, ch, y0, x1] - S[b, ch, y1, x0] + S[b, ch, y0, x0]
    area = ((y1 - y0) * (x1 - x0)).double()
    out = torch.where(area > 0, total / area.clamp(min=1), torch.zeros((), dtype=torch.float64))
    out = out.to(Z.dtype)
    return out if is_torch else out.numpy()


def ps_roi_pool_reference(maps: np.ndarray, rois: np.ndarray, k: int = 3, spatial_scale: float = 1.0) -> np.ndarray:
    """Triple-loop PS-RoI pooling of one map stack ``(k^2 (C+1), H, W)`` for ``rois`` (R, 4)."""
    _, n_cls = _check_pool_args(maps, rois, k, spatial_scale)
    if maps.ndim != 3:
        raise ValueError("the reference takes one image: maps of shape (channels, H, W)")
    H, W = maps.shape[1:]
    out = np.zeros((len(rois), n_cls, k, k))
    for r, (x0, y0, x1, y1) in enumerate(np.asarray(rois, dtype=np.float64) * spatial_scale):
        w, h = (x1 - x0) / k, (y1 - y0) / k
        for i in range(k):
            ya, yb = min(max(math.floor(y0 + i * h), 0), H), min(max(math.ceil(y0 + (i + 1) * h), 0), H)
            for j in range(k):
                xa, xb = min(max(math.floor(x0 + j * w), 0), W), min(max(math.ceil(x0 + (j + 1) * w), 0), W)
                for c in range(n_cls):
                    if yb > ya and xb > xa:
                        out[r, c, i, j] = maps[(i * k + j) * n_cls + c, ya:yb, xa:xb].mean()
    return out


def plain_roi_pool(maps: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Position-insensitive pooling: the mean of each channel over each whole RoI, shape (R, channels)."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (channels, H, W), got {maps.shape}")
    return ps_roi_pool(maps, rois, k=1).reshape(len(rois), -1)


# ----------------------------------------------------------------------------- synthetic scenes
def part_maps_for_boxes(H: int, W: int, boxes: object, k: int = 3) -> np.ndarray:
    """Ideal part maps ``(k^2, H, W)``: map ``i k + j`` is 1 on part (i, j) of every box, else 0."""
    b = np.asarray(boxes, dtype=np.int64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (B, 4) as integer x0, y0, x1, y1, got {b.shape}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    maps = np.zeros((k * k, H, W))
    for x0, y0, x1, y1 in b:
        if (x1 - x0) % k or (y1 - y0) % k:
            raise ValueError(f"box sides must be multiples of k={k}, got {(x1 - x0, y1 - y0)}")
        pw, ph = (x1 - x0) // k, (y1 - y0) // k
        for i in range(k):
            for j in range(k):
                maps[i * k + j, y0 + i * ph:y0 + (i + 1) * ph, x0 + j * pw:x0 + (j + 1) * pw] = 1.0
    return maps


def adjacent_squares_scene(size: int = 32, seed: int = 0, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A noisy ``size x size`` image with two touching squares side by side: ``(image, boxes)``.

    Both squares have the same random side in [6, 10]; one has brightness 1 and the other 0.5
    (in random order), so the shared edge is visible; boxes
    (2, 4) are integer ``x0, y0, x1, y1``. Gaussian pixel noise of std ``noise``; float32 image.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 24:
        raise ValueError(f"size must be an int >= 24, got {size!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(check_seed(seed))
    side = int(rng.integers(6, 11))
    x0, y0 = int(rng.integers(1, size - 2 * side)), int(rng.integers(1, size - side))
    image = rng.normal(0, noise, (size, size))
    boxes = np.array([[x0, y0, x0 + side, y0 + side], [x0 + side, y0, x0 + 2 * side, y0 + side]])
    for (bx0, by0, bx1, by1), brightness in zip(boxes, rng.permutation([1.0, 0.5])):
        image[by0:by1, bx0:bx1] += brightness
    return image.astype(np.float32), boxes


def training_rois(boxes: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """RoIs and labels for one scene: the exact boxes (label 1), boxes shifted by half a side
    (straddling the two squares), the union of both, and boxes offset by 2-3 px (label 0)."""
    rng = np.random.default_rng(check_seed(seed))
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape != (2, 4):
        raise ValueError(f"boxes must be the (2, 4) boxes of one adjacent-squares scene, got shape {b.shape}")
    side = b[0, 2] - b[0, 0]
    rois = [b[0], b[1], b[0] + [side / 2, 0, side / 2, 0], np.r_[b[0, :2], b[1, 2:]]]
    for box in b:
        d = rng.choice([-3, -2, 2, 3], size=2) * rng.permutation([1, rng.integers(0, 2)])
        rois.append(box + [d[0], d[1], d[0], d[1]])
    return np.array(rois), np.array([1, 1, 0, 0, 0, 0])


# ----------------------------------------------------------------------------- a tiny R-FCN head
class TinyRFCN(nn.Module):
    """Three 3x3 convolutions -> ``k^2 (C+1)`` position-sensitive maps; PS-RoI pooling and an
    average vote give ``(R, C+1)`` logits. No learnable layer after the RoI layer."""

    def __init__(self, k: int = 3, num_classes: int = 1, width: int = 16) -> None:
        super().__init__()
        self.k = k
        self.body = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, k * k * (num_classes + 1), 3, padding=1))

    def forward(self, images: torch.Tensor, rois: np.ndarray) -> torch.Tensor:
        return ps_roi_pool(self.body(images), rois, self.k).mean(dim=(2, 3))


def make_dataset(n_images: int, seed: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """``n_images`` scenes: images (n, 1, 32, 32), batched RoIs (R, 5) and labels (R,)."""
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ValueError(f"n_images must be a positive int, got {n_images!r}")
    rng = np.random.default_rng(check_seed(seed))
    images, rois, labels = [], [], []
    for n in range(n_images):
        image, boxes = adjacent_squares_scene(seed=int(rng.integers(2**31)))
        r, y = training_rois(boxes, seed=int(rng.integers(2**31)))
        images.append(image)
        rois.append(np.c_[np.full(len(r), n), r])
        labels.append(y)
    return torch.from_numpy(np.stack(images))[:, None], np.concatenate(rois), np.concatenate(labels)


def train_tiny_rfcn(n_images: int = 200, epochs: int = 5, batch: int = 10, lr: float = 0.01,
                    seed: int = 0) -> tuple[TinyRFCN, list[float]]:
    """Train :class:`TinyRFCN` with Adam and cross-entropy on synthetic scenes: ``(model, losses)``."""
    for name, v in (("epochs", epochs), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    torch.manual_seed(check_seed(seed))
    images, rois, labels = make_dataset(n_images, seed)
    model = TinyRFCN()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for start in range(0, n_images, batch):
            keep = (rois[:, 0] >= start) & (rois[:, 0] < start + batch)
            batch_rois = rois[keep] - [start, 0, 0, 0, 0]
            logits = model(images[start:start + batch], batch_rois)
            loss = F.cross_entropy(logits, torch.from_numpy(labels[keep]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return model, losses


# ----------------------------------------------------------------------------- cost accounting
def resnet_conv5_macs(out_hw: int = 7, in_ch: int = 1024, mid: int = 512, out_ch: int = 2048, blocks: int = 3) -> int:
    """Multiply-accumulates of ResNet's conv5 stage for one RoI, at an ``out_hw x out_hw`` output.

    Block 1: 1x1 in_ch->mid (stride 2), 3x3 mid->mid, 1x1 mid->out_ch, and a 1x1 in_ch->out_ch
    projection shortcut; each further block: 1x1 out_ch->mid, 3x3 mid->mid, 1x1 mid->out_ch.
    """
    for name, v in (("out_hw", out_hw), ("in_ch", in_ch), ("mid", mid), ("out_ch", out_ch), ("blocks", blocks)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    p = out_hw * out_hw
    first = p * (in_ch * mid + 9 * mid * mid + mid * out_ch + in_ch * out_ch)
    rest = p * (out_ch * mid + 9 * mid * mid + mid * out_ch)
    return first + (blocks - 1) * rest


def rfcn_roi_ops(k: int = 3, num_classes: int = 20, roi_hw: int = 14) -> int:
    """Additions per RoI in R-FCN: every RoI pixel is summed once per class (``(C+1) roi_hw^2``),
    then the ``k^2`` bin scores are averaged per class (``(C+1) k^2``)."""
    for name, v in (("k", k), ("num_classes", num_classes), ("roi_hw", roi_hw)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    return (num_classes + 1) * (roi_hw * roi_hw + k * k)


def draw_roi_bins(ax: object, roi: object, bins: np.ndarray, cmap: str = "viridis") -> None:
    """Overlay a RoI's ``k x k`` bins on ``ax``, each filled by its pooled value in [0, 1]."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    bins = np.asarray(bins)
    if bins.ndim != 2 or bins.shape[0] != bins.shape[1]:
        raise ValueError(f"bins must be a k x k array, got shape {bins.shape}")
    x0, y0, x1, y1 = (float(v) for v in roi)
    k = bins.shape[0]
    w, h = (x1 - x0) / k, (y1 - y0) / k
    colormap = plt.get_cmap(cmap)
    for i in range(k):
        for j in range(k):
            ax.add_patch(Rectangle((x0 + j * w - 0.5, y0 + i * h - 0.5), w, h, fc=colormap(float(bins[i, j])),
                                   ec="white", lw=1.2, alpha=0.75))
            ax.text(x0 + (j + 0.5) * w - 0.5, y0 + (i + 0.5) * h - 0.5, f"{bins[i, j]:.2f}",
                    ha="center", va="center", fontsize=7, color="black" if bins[i, j] > 0.5 else "white")

"""Position-sensitive RoI pooling (R-FCN), synthetic two-square scenes, a tiny trainable R-FCN
head and per-RoI cost accounting. No torchvision.

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

from mlnotes.validate import arg, checked

__all__ = [
    "TinyRFCN", "bottleneck_stage_macs", "conv_macs_by_hooks", "detector_costs",
    "draw_roi_bins", "make_dataset", "part_maps_for_boxes", "part_responses",
    "part_selectivity", "plain_roi_pool", "ps_roi_pool", "ps_roi_pool_reference",
    "resnet_stage", "rfcn_roi_ops", "train_tiny_rfcn",
]


# ----------------------------------------------------------------------------- PS-RoI pooling
# maps (k^2 (C+1), H, W) with rois (R, 4), or batched maps (N, k^2 (C+1), H, W) with rois (R, 5)
_POOL = dict(maps=arg.array(ndim=(3, 4), torch_ok=True, dtype=None),
            rois=arg.array(shape=(None, "maps.ndim + 1"), torch_ok=True), k=arg.count(high=32), spatial_scale=arg.real(low=0, low_open=True, high=1e3))


def _pool_inputs(maps: object, rois: object, k: int, spatial_scale: float):
    """``(maps, rois as float64 (R, 4|5), k, classes, is_torch)`` for the poolers, after the
    conditions on the data that the rules cannot state."""
    is_torch = isinstance(maps, torch.Tensor)
    width = 4 if maps.ndim == 3 else 5
    r = np.asarray(torch.as_tensor(rois).detach(), dtype=np.float64)
    if maps.shape[-3] % (k * k):
        raise ValueError(f"maps has {maps.shape[-3]} channels, not a multiple of k^2 = {k * k}")
    if (r[:, -2] < r[:, -4]).any() or (r[:, -1] < r[:, -3]).any():
        raise ValueError("rois: every RoI needs x1 >= x0 and y1 >= y0")
    if width == 5 and ((r[:, 0] < 0).any() or (r[:, 0] >= maps.shape[0]).any() or (r[:, 0] % 1).any()):
        raise ValueError(f"rois: batch indices in rois[:, 0] must be integers in [0, {maps.shape[0]})")
    return maps, r, k, spatial_scale, maps.shape[-3] // (k * k), is_torch


def _bin_edges(lo: np.ndarray, hi: np.ndarray, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    step = (hi - lo)[:, None] / k
    j = np.arange(k)[None, :]
    start = np.clip(np.floor(lo[:, None] + j * step), 0, size).astype(np.int64)
    end = np.clip(np.ceil(lo[:, None] + (j + 1) * step), 0, size).astype(np.int64)
    return start, np.maximum(end, start)


@checked(**_POOL)
def ps_roi_pool(maps: object, rois: object, k: int = 3, spatial_scale: float = 1.0) -> object:
    """Position-sensitive RoI pooling with an integral image: bin scores of shape (R, C+1, k, k).

    ``r_c(i, j) = mean of channel (i k + j)(C + 1) + c over bin (i, j)``. ``maps`` is
    ``(k^2 (C+1), H, W)`` with ``rois`` ``(R, 4)``, or batched ``(N, k^2 (C+1), H, W)`` with ``rois``
    ``(R, 5)`` whose first column is the image index. Numpy in -> numpy out; a torch tensor in ->
    a differentiable torch tensor out. Sums are accumulated in float64.
    """
    maps, r, k, spatial_scale, n_cls, is_torch = _pool_inputs(maps, rois, k, spatial_scale)
    Z = maps if is_torch else torch.from_numpy(maps)
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


@checked(**dict(_POOL, maps=arg.array(ndim=3)))
def ps_roi_pool_reference(maps: np.ndarray, rois: np.ndarray, k: int = 3, spatial_scale: float = 1.0) -> np.ndarray:
    """Triple-loop PS-RoI pooling of one map stack ``(k^2 (C+1), H, W)`` for ``rois`` (R, 4)."""
    maps, rois, k, spatial_scale, n_cls, _ = _pool_inputs(maps, rois, k, spatial_scale)
    H, W = maps.shape[1:]
    out = np.zeros((len(rois), n_cls, k, k))
    for r, (x0, y0, x1, y1) in enumerate(rois * spatial_scale):
        w, h = (x1 - x0) / k, (y1 - y0) / k
        for i in range(k):
            ya, yb = min(max(math.floor(y0 + i * h), 0), H), min(max(math.ceil(y0 + (i + 1) * h), 0), H)
            for j in range(k):
                xa, xb = min(max(math.floor(x0 + j * w), 0), W), min(max(math.ceil(x0 + (j + 1) * w), 0), W)
                for c in range(n_cls):
                    if yb > ya and xb > xa:
                        out[r, c, i, j] = maps[(i * k + j) * n_cls + c, ya:yb, xa:xb].mean()
    return out


@checked(maps=arg.array(ndim=3))
def plain_roi_pool(maps: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Position-insensitive pooling: the mean of each channel over each whole RoI, shape (R, channels)."""
    pooled = ps_roi_pool(maps, rois, k=1)                      # (R, channels, 1, 1)
    return pooled.reshape(len(pooled), -1)


# ----------------------------------------------------------------------------- synthetic scenes
@checked(H=arg.count(high=4096), W=arg.count(high=4096), boxes=arg.array(shape=(None, 4), integer=True, low=0,
         high="max(H, W)"), k=arg.count(high=32))
def part_maps_for_boxes(H: int, W: int, boxes: object, k: int = 3) -> np.ndarray:
    """Ideal part maps ``(k^2, H, W)``: map ``i k + j`` is 1 on part (i, j) of every box, else 0."""
    b = boxes
    maps = np.zeros((k * k, H, W))
    for x0, y0, x1, y1 in b:
        if (x1 - x0) % k or (y1 - y0) % k:
            raise ValueError(f"box sides must be multiples of k={k}, got {(x1 - x0, y1 - y0)}")
        pw, ph = (x1 - x0) // k, (y1 - y0) // k
        for i in range(k):
            for j in range(k):
                maps[i * k + j, y0 + i * ph:y0 + (i + 1) * ph, x0 + j * pw:x0 + (j + 1) * pw] = 1.0
    return maps


def _adjacent_squares_scene(size: int = 32, seed: int = 0, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A noisy ``size x size`` image with two touching squares side by side: ``(image, boxes)``.

    Both squares have the same random side in [6, 10]; one has brightness 1 and the other 0.5
    (in random order), so the shared edge is visible; boxes
    (2, 4) are integer ``x0, y0, x1, y1``. Gaussian pixel noise of std ``noise``; float32 image.
    """
    rng = np.random.default_rng(seed)
    side = int(rng.integers(6, 11))
    x0, y0 = int(rng.integers(1, size - 2 * side)), int(rng.integers(1, size - side))
    image = rng.normal(0, noise, (size, size))
    boxes = np.array([[x0, y0, x0 + side, y0 + side], [x0 + side, y0, x0 + 2 * side, y0 + side]])
    for (bx0, by0, bx1, by1), brightness in zip(boxes, rng.permutation([1.0, 0.5])):
        image[by0:by1, bx0:bx1] += brightness
    return image.astype(np.float32), boxes


def _training_rois(boxes: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """RoIs and labels for one scene: the exact boxes (label 1), boxes shifted by half a side
    (straddling the two squares), the union of both, and boxes offset by 2-3 px (label 0)."""
    rng = np.random.default_rng(seed)
    b = boxes.astype(np.float64)                                # (2, 4): the two squares
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

    @checked(k=arg.count(high=8), num_classes=arg.count(high=100), width=arg.count(high=256))
    def __init__(self, k: int = 3, num_classes: int = 1, width: int = 16) -> None:
        super().__init__()
        self.k = k
        self.body = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, k * k * (num_classes + 1), 3, padding=1))

    def forward(self, images: torch.Tensor, rois: np.ndarray) -> torch.Tensor:
        return ps_roi_pool(self.body(images), rois, self.k).mean(dim=(2, 3))


@checked(n_images=arg.count(high=10_000), seed=arg.seed())
def make_dataset(n_images: int, seed: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """``n_images`` scenes: images (n, 1, 32, 32), batched RoIs (R, 5) and labels (R,)."""
    rng = np.random.default_rng(seed)
    images, rois, labels = [], [], []
    for n in range(n_images):
        image, boxes = _adjacent_squares_scene(seed=int(rng.integers(2**31)))
        r, y = _training_rois(boxes, seed=int(rng.integers(2**31)))
        images.append(image)
        rois.append(np.c_[np.full(len(r), n), r])
        labels.append(y)
    return torch.from_numpy(np.stack(images))[:, None], np.concatenate(rois), np.concatenate(labels)


@checked(epochs=arg.count(high=1000), batch=arg.count(high=10_000), lr=arg.real(low=0, low_open=True, high=10),
         seed=arg.seed(), k=arg.count(high=6))
def train_tiny_rfcn(n_images: int = 200, epochs: int = 5, batch: int = 10, lr: float = 0.01,
                    seed: int = 0, k: int = 3) -> tuple[TinyRFCN, list[float]]:
    """Train :class:`TinyRFCN` with Adam and cross-entropy on synthetic scenes: ``(model, losses)``.

    ``k = 1`` gives the position-insensitive baseline: one group of maps averaged over the RoI.
    """
    torch.manual_seed(seed)
    images, rois, labels = make_dataset(n_images, seed)
    model = TinyRFCN(k=k)
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


@checked(model=arg.module(), images=arg.tensor(ndim=4), rois=arg.array(shape=(None, 5)))
def part_responses(model: TinyRFCN, images: torch.Tensor, rois: np.ndarray) -> np.ndarray:
    """Each map group's object evidence averaged over each part of the two squares: (N, k^2, k, k).

    For image ``n`` the exact boxes are its first two RoIs (as built by :func:`make_dataset`).
    Group ``g``'s evidence map is its object logit minus its background logit; entry
    ``[n, g, i, j]`` is its mean over part ``(i, j)`` of the squares (summed over both squares).
    """
    k = model.k
    with torch.no_grad():
        z = model.body(images).numpy()                              # (N, 2 k^2, H, W)
    evidence = z[:, 1::2] - z[:, 0::2]                               # (N, k^2, H, W)
    out = np.zeros((len(images), k * k, k, k))
    for n in range(len(images)):
        for x0, y0, x1, _ in rois[rois[:, 0] == n][:2, 1:].astype(int):
            edges = np.round(np.linspace(0, x1 - x0, k + 1)).astype(int)    # square: same in y
            for i in range(k):
                for j in range(k):
                    part = evidence[n, :, y0 + edges[i]:y0 + edges[i + 1],
                                    x0 + edges[j]:x0 + edges[j + 1]]
                    out[n, :, i, j] += part.mean(axis=(1, 2))
    return out


def part_selectivity(model: TinyRFCN, images: torch.Tensor, rois: np.ndarray) -> float:
    """Share of (image, map group) pairs whose evidence peaks on the group's own part.

    Group ``g = i k + j`` scores a hit on an image when the largest of its
    :func:`part_responses` sits on part ``(i, j)``. Chance is ``1 / k^2``.
    """
    responses = part_responses(model, images, rois)                 # (N, k^2, k, k)
    peaks = responses.reshape(*responses.shape[:2], -1).argmax(-1)  # (N, k^2)
    return float((peaks == np.arange(model.k ** 2)).mean())


# ----------------------------------------------------------------------------- cost accounting
#: ResNet-101 stages after the stem: (blocks, bottleneck width, output channels, stride).
RESNET101_STAGES = [(3, 64, 256, 1), (4, 128, 512, 2), (23, 256, 1024, 2), (3, 512, 2048, 2)]


@checked(h=arg.count(high=10_000), w=arg.count(high=10_000), in_ch=arg.count(high=65_536),
         out_ch=arg.count(high=65_536), blocks=arg.count(high=1000), mid=arg.count(high=65_536),
         stride=arg.count(high=64))
def bottleneck_stage_macs(h: int, w: int, in_ch: int, blocks: int, mid: int, out_ch: int,
                          stride: int) -> tuple[int, int, int]:
    """Multiply-accumulates of one ResNet bottleneck stage on an ``h x w`` input: ``(macs, h', w')``.

    Block 1: 1x1 in->mid, 3x3 mid->mid with the stride (torchvision's "v1.5"), 1x1 mid->out and a
    strided 1x1 in->out projection (when the shape changes); each further block: 1x1 out->mid,
    3x3 mid->mid, 1x1 mid->out.
    A k x k convolution costs ``k^2 C_in C_out`` per output position.
    """
    h2, w2 = -(-h // stride), -(-w // stride)                        # ceil: padded convolutions
    projection = in_ch * out_ch if (in_ch != out_ch or stride != 1) else 0
    macs = h * w * in_ch * mid + h2 * w2 * (9 * mid * mid + mid * out_ch + projection)
    macs += (blocks - 1) * h2 * w2 * (out_ch * mid + 9 * mid * mid + mid * out_ch)
    return macs, h2, w2


@checked(image_hw=arg.array(shape=(2,), integer=True, low=16, high=10_000), num_rois=arg.count(high=100_000),
         k=arg.count(high=32), num_classes=arg.count(high=10_000))
def detector_costs(image_hw: tuple[int, int] = (600, 1000), num_rois: int = 300, k: int = 3,
                   num_classes: int = 20) -> dict[str, dict[str, int]]:
    """Per-image multiply-adds of ResNet-101 Faster R-CNN and R-FCN, by part.

    Both share the stem and conv2-conv4 (stride 16). Faster R-CNN pools 14x14 RoIs after conv4 and
    runs conv5 (stride 2, output 7x7) on each RoI. R-FCN runs conv5 once on the whole map with its
    stride removed (dilated, as in the paper), a 1x1 2048->1024 reduction, then 1x1 convolutions to
    ``k^2 (C+1)`` score maps and ``4 k^2`` box maps, and per RoI only PS pooling and the vote.
    Region-proposal network and the small final classifiers are left out of both (they are alike).
    """
    h, w = image_hw.tolist()
    stem = (h // 2) * (w // 2) * 7 * 7 * 3 * 64                     # 7x7 conv, stride 2
    h, w, c, shared = -(-h // 4), -(-w // 4), 64, 0                  # after the stride-2 max-pool
    for blocks, mid, out, stride in RESNET101_STAGES[:3]:
        macs, h, w = bottleneck_stage_macs(h, w, c, blocks, mid, out, stride)
        shared, c = shared + macs, out
    per_roi_conv5, _, _ = bottleneck_stage_macs(14, 14, 1024, 3, 512, 2048, 2)
    whole_conv5, _, _ = bottleneck_stage_macs(h, w, 1024, 3, 512, 2048, 1)
    maps = k * k * (num_classes + 1) + 4 * k * k
    return {
        "Faster R-CNN": {"shared backbone": stem + shared, "conv5": num_rois * per_roi_conv5},
        "R-FCN": {"shared backbone": stem + shared, "conv5": whole_conv5,
                  "1x1 reduction + score maps": h * w * (2048 * 1024 + 1024 * maps),
                  "PS pooling + vote": num_rois * rfcn_roi_ops(k, num_classes, 14)},
    }


class Bottleneck(nn.Module):
    """A ResNet bottleneck block (BatchNorm left out: it does no multiply-adds worth counting)."""

    def __init__(self, in_ch: int, mid: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_ch, mid, 1, bias=False), nn.ReLU(),
                                  nn.Conv2d(mid, mid, 3, stride, padding=1, bias=False), nn.ReLU(),
                                  nn.Conv2d(mid, out_ch, 1, bias=False))
        self.shortcut = (nn.Identity() if in_ch == out_ch and stride == 1
                         else nn.Conv2d(in_ch, out_ch, 1, stride, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


@checked(in_ch=arg.count(high=4096), out_ch=arg.count(high=4096), blocks=arg.count(high=64), mid=arg.count(high=4096),
         stride=arg.count(high=8))
def resnet_stage(in_ch: int, blocks: int, mid: int, out_ch: int, stride: int) -> nn.Sequential:
    """``blocks`` bottlenecks, the first one strided and projecting ``in_ch -> out_ch``."""
    return nn.Sequential(Bottleneck(in_ch, mid, out_ch, stride),
                         *[Bottleneck(out_ch, mid, out_ch) for _ in range(blocks - 1)])


@checked(module=arg.module(), input_shape=arg.array(shape=(4,), integer=True, low=1, high=4096))
def conv_macs_by_hooks(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of every Conv2d in ``module`` on one input, counted with forward hooks.

    An independent count for checking closed forms: each convolution adds
    ``output elements x (C_in / groups) x kernel area``.
    """
    shape = input_shape
    if np.prod(shape) > 10**8:
        raise ValueError(f"input_shape {tuple(shape)} has over 10**8 elements; use a smaller input")
    input_shape = tuple(shape.tolist())
    total = []

    def hook(conv, _, out):
        total.append(out.numel() * conv.in_channels // conv.groups * math.prod(conv.kernel_size))

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        module(torch.zeros(input_shape))
    for handle in handles:
        handle.remove()
    return int(sum(total))


@checked(k=arg.count(high=32), num_classes=arg.count(high=10_000), roi_hw=arg.count(high=10_000))
def rfcn_roi_ops(k: int = 3, num_classes: int = 20, roi_hw: int = 14) -> int:
    """Additions per RoI in R-FCN: every RoI pixel is summed once per class (``(C+1) roi_hw^2``),
    then the ``k^2`` bin scores are averaged per class (``(C+1) k^2``)."""
    return (num_classes + 1) * (roi_hw * roi_hw + k * k)


@checked(ax=arg.axes(), roi=arg.array(shape=(4,)), bins=arg.array(shape=("k", "k")))
def draw_roi_bins(ax: object, roi: object, bins: np.ndarray, cmap: str = "viridis") -> None:
    """Overlay a RoI's ``k x k`` bins on ``ax``, each filled by its pooled value in [0, 1]."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = roi
    k = bins.shape[0]
    w, h = (x1 - x0) / k, (y1 - y0) / k
    colormap = plt.get_cmap(cmap)
    for i in range(k):
        for j in range(k):
            ax.add_patch(Rectangle((x0 + j * w - 0.5, y0 + i * h - 0.5), w, h, fc=colormap(float(bins[i, j])),
                                   ec="white", lw=1.2, alpha=0.75))
            ax.text(x0 + (j + 0.5) * w - 0.5, y0 + (i + 0.5) * h - 0.5, f"{bins[i, j]:.2f}",
                    ha="center", va="center", fontsize=7, color="black" if bins[i, j] > 0.5 else "white")

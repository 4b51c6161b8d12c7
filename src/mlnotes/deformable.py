"""Deformable convolution (v1) in plain torch: bilinear sampling at fractional positions.

A reference implementation that loops
over kernel taps (no torchvision, no custom kernels), differentiable in the input, the weights
and the offsets, and meant to be checked against ``F.conv2d`` and ``F.grid_sample``.

Offsets follow torchvision's layout: shape (B, 2 kh kw, H_out, W_out) with, for tap
``n = i kw + j``, channel ``2n`` the row offset ``dy`` and channel ``2n + 1`` the column offset ``dx``.
"""

from __future__ import annotations

import numpy as np
import torch

from mlnotes.validate import arg, check_tensor, checked

__all__ = [
    "DeformConv2d", "bilinear_sample", "content_adaptive_task", "content_scaled_offsets",
    "deform_conv2d", "dilation_offsets", "draw_sampling_points", "fit_conv_model",
    "fit_global_shift", "local_dilation", "stacked_sampling_points", "tent",
]


@checked(a=arg.array(), b=arg.array())
def tent(a: object, b: object) -> np.ndarray:
    """1-D bilinear kernel ``g(a, b) = max(0, 1 - |a - b|)``; the 2-D kernel is ``g(qy, py) g(qx, px)``."""
    return np.maximum(0.0, 1.0 - np.abs(a - b))


@checked(x=arg.tensor(ndim=4), py=arg.tensor(min_ndim=1))
def bilinear_sample(x: torch.Tensor, py: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Read ``x`` (B, C, H, W) at fractional rows ``py`` and columns ``px`` (both (B, *P)), zeros outside.

    ``x(p) = sum_q G(q, p) x(q)`` over the four integer neighbours ``q`` of ``p``, with
    ``G(q, p) = g(q_y, p_y) g(q_x, p_x)``. Returns (B, C, *P); differentiable in x, py and px.
    """
    if py.shape[0] != x.shape[0]:
        raise ValueError(f"py must start with the batch size {x.shape[0]} of x, got shape {tuple(py.shape)}")
    px = check_tensor("px", px, shape=py.shape)
    B, C, H, W = x.shape
    flat = x.reshape(B, C, H * W)
    y0, x0 = torch.floor(py).detach(), torch.floor(px).detach()
    out = 0
    for qy in (y0, y0 + 1):
        for qx in (x0, x0 + 1):
            weight = (1 - (py - qy).abs()) * (1 - (px - qx).abs())            # tent weights, >= 0 here
            inside = (qy >= 0) & (qy <= H - 1) & (qx >= 0) & (qx <= W - 1)
            index = (qy.clamp(0, H - 1) * W + qx.clamp(0, W - 1)).long().reshape(B, 1, -1).expand(B, C, -1)
            values = torch.gather(flat, 2, index).reshape(B, C, *py.shape[1:])
            out = out + (weight * inside).unsqueeze(1) * values
    return out


@checked(x=arg.tensor(shape=(None, "C_in", None, None)), weight=arg.tensor(shape=("C_out", "C_in", None, None)),
         bias=arg.optional(arg.tensor(shape=("C_out",))), stride=arg.count(high=64), dilation=arg.count(high=64),
         padding=arg.count(low=0, high=64))
def deform_conv2d(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  stride: int = 1, padding: int = 0, dilation: int = 1) -> torch.Tensor:
    """Deformable convolution ``y(p0) = sum_n w(p_n) x(p0 + p_n + dp_n)`` by a loop over kernel taps.

    ``x`` (B, C_in, H, W), ``weight`` (C_out, C_in, kh, kw), ``offset`` (B, 2 kh kw, H_out, W_out) in
    torchvision's (dy, dx) layout. With zero offsets it is ``F.conv2d(x, weight, bias, stride, padding,
    dilation)``. Output (B, C_out, H_out, W_out).
    """
    B, C_in, H, W = x.shape
    C_out, _, kh, kw = weight.shape
    H_out = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    W_out = (W + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    if H_out < 1 or W_out < 1:
        raise ValueError("the kernel does not fit in the padded input")
    offset = check_tensor("offset", offset, shape=(B, 2 * kh * kw, H_out, W_out))
    base_y = (torch.arange(H_out, dtype=x.dtype) * stride - padding).reshape(1, H_out, 1)
    base_x = (torch.arange(W_out, dtype=x.dtype) * stride - padding).reshape(1, 1, W_out)
    out = x.new_zeros(B, C_out, H_out, W_out)
    for i in range(kh):
        for j in range(kw):
            n = i * kw + j
            py = base_y + i * dilation + offset[:, 2 * n]
            px = base_x + j * dilation + offset[:, 2 * n + 1]
            sampled = bilinear_sample(x, py, px)                            # (B, C_in, H_out, W_out)
            out = out + torch.einsum("oc,bchw->bohw", weight[:, :, i, j], sampled)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


@checked(k=arg.count(high=15), d=arg.count(high=64), H_out=arg.count(high=4096), W_out=arg.count(high=4096),
         B=arg.count(high=4096))
def dilation_offsets(k: int, d: int, H_out: int, W_out: int, B: int = 1, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Offsets that turn a k x k kernel with padding (k-1)/2 into the dilation-d kernel with padding d(k-1)/2.

    Tap (i, j) moves by ``((i - c)(d - 1), (j - c)(d - 1))`` with ``c = (k - 1)/2``: dilation is the
    special case of fixed, integer, position-independent offsets. Shape (B, 2 k^2, H_out, W_out).
    """
    if k % 2 == 0:
        raise ValueError(f"k must be odd so the kernel has a centre, got {k}")
    c = (k - 1) // 2
    per_tap = []
    for i in range(k):
        for j in range(k):
            per_tap += [(i - c) * (d - 1), (j - c) * (d - 1)]
    return torch.tensor(per_tap, dtype=dtype).reshape(1, -1, 1, 1).expand(B, -1, H_out, W_out).clone()


@checked(source=arg.tensor(shape=("H", "W")), target=arg.tensor(shape=("H", "W")), steps=arg.count(high=100_000),
         lr=arg.real(low=0, low_open=True), init=arg.array(shape=(2,)))
def fit_global_shift(source: torch.Tensor, target: torch.Tensor, steps: int = 300, lr: float = 0.05,
                     init: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Learn one offset ``(dy, dx)`` shared by every position of a 1x1 deformable conv with weight 1.

    Minimizes ``mean((x(p + delta) - target(p))^2)`` with Adam. ``source`` and ``target`` are
    (H, W) tensors. Returns the trajectory of ``delta``, shape (steps + 1, 2), the start first.
    """
    H, W = source.shape
    delta = torch.tensor(init, dtype=source.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=lr)
    ones = source.new_ones(1, 1, 1, 1)
    path = [delta.detach().numpy().copy()]
    for _ in range(steps):
        offset = delta.reshape(1, 2, 1, 1).expand(1, 2, H, W)
        pred = deform_conv2d(source[None, None], offset, ones)[0, 0]
        loss = ((pred - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(delta.detach().numpy().copy())
    return np.array(path)


@checked(ax=arg.axes(), k=arg.count(high=15), centre=arg.array(shape=(2,)), dilation=arg.count(high=64),
         offsets=arg.optional(arg.array(shape=("k * k", 2))))
def draw_sampling_points(ax: object, centre: tuple[float, float], offsets: object, k: int = 3,
                         dilation: int = 1, **kw: object) -> None:
    """Mark the k x k sampling points of one output unit at ``centre`` (row, col) plus per-tap offsets.

    ``offsets`` is (k*k, 2) of (dy, dx), or None for a regular grid. Points are drawn in image
    coordinates (x = column, y = row).
    """
    grid = np.array([(i, j) for i in range(k) for j in range(k)], dtype=np.float64) - (k - 1) / 2
    offsets = np.zeros((k * k, 2)) if offsets is None else offsets
    points = centre + dilation * grid + offsets
    style = {"s": 30, "color": "#D55E00", "edgecolors": "white", "linewidths": 0.8, "zorder": 3} | kw
    ax.scatter(points[:, 1], points[:, 0], **style)


class DeformConv2d(torch.nn.Module):
    """A deformable ``k x k`` layer: a zero-initialised ``k x k`` conv predicts the ``2 k^2`` offsets
    from the layer's own input, so the layer starts as a plain convolution."""

    @checked(c_in=arg.count(high=4096), c_out=arg.count(high=4096), k=arg.count(high=15))
    def __init__(self, c_in: int, c_out: int, k: int = 3, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.offset_conv = torch.nn.Conv2d(c_in, 2 * k * k, k, padding=k // 2, dtype=dtype)
        torch.nn.init.zeros_(self.offset_conv.weight)
        torch.nn.init.zeros_(self.offset_conv.bias)
        self.conv = torch.nn.Conv2d(c_in, c_out, k, padding=k // 2, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return deform_conv2d(x, self.offset_conv(x), self.conv.weight, self.conv.bias,
                             padding=self.conv.padding[0])


@checked(images=arg.tensor(shape=(None, 1, None, None)), gain=arg.real(low=-10, high=10))
def content_scaled_offsets(images: torch.Tensor, gain: float = 1.5) -> torch.Tensor:
    """Offsets that dilate a 3x3 kernel by ``1 + gain * b(p)`` at each position, ``b`` = 3x3 box blur.

    Tap ``p_n`` moves by ``gain * b(p) * p_n``: bright (``b`` near 1) regions are read with a
    kernel up to ``1 + gain`` times wider, dark ones with the plain 3x3 grid. Because the offset is
    linear in the input, a 3x3 offset convolution can represent it exactly. Shape (B, 18, H, W).
    """
    box = images.new_ones(1, 1, 3, 3) / 9
    b = torch.nn.functional.conv2d(images, box, padding=1)                   # (B, 1, H, W)
    taps = torch.tensor([[i - 1, j - 1] for i in range(3) for j in range(3)], dtype=images.dtype)
    return gain * b * taps.reshape(1, 18, 1, 1)                             # (B, 18, H, W)


@checked(n=arg.count(high=10_000), size=arg.count(low=5, high=128), gain=arg.real(low=-10, high=10), seed=arg.seed())
def content_adaptive_task(n: int, size: int = 12, seed: int = 0,
                          gain: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A task whose receptive field must vary with the input: ``(images, targets)``, (n, 1, size, size).

    Images are random blobs in [0, 1] (smoothed noise through a sigmoid, float32). The target is
    a fixed zero-sum 3x3 filter (a discrete Laplacian) applied with
    :func:`content_scaled_offsets`: its sampling grid is ``1 + gain`` times wider on bright blobs
    and stays tight on dark background. A plain convolution of any size applies one grid
    everywhere.
    """
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, 1, size, size, generator=gen)                       # (n, 1, S, S)
    blur = torch.exp(-torch.arange(-4.0, 5.0) ** 2 / 2)
    smooth = torch.nn.functional.conv2d(noise, (blur[:, None] * blur[None, :])[None, None],
                                        padding=4)
    images = torch.sigmoid(3 * smooth / smooth.std())
    laplacian = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]]) / 4
    targets = deform_conv2d(images, content_scaled_offsets(images, gain), laplacian[None, None],
                            padding=1)
    return images, targets


@checked(model=arg.module(), images=arg.tensor(ndim=4), targets=arg.tensor(ndim=4), steps=arg.count(high=100_000),
         lr=arg.real(low=0, low_open=True), seed=arg.seed())
def fit_conv_model(model: torch.nn.Module, images: torch.Tensor, targets: torch.Tensor,
                   steps: int = 300, lr: float = 0.02, seed: int = 0) -> list[float]:
    """Full-batch Adam on the mean squared error; returns the loss of every step."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = ((model(images) - targets) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@checked(offsets=arg.tensor(shape=(None, 18, None, None)))
def local_dilation(offsets: torch.Tensor) -> torch.Tensor:
    """How much a 3x3 offset field widens the kernel at each position: shape (B, H, W).

    The least-squares ``s`` in ``dp_n ~ s p_n`` over the nine taps, i.e.
    ``sum_n dp_n . p_n / sum_n |p_n|^2``: 0 for the plain grid, ``d - 1`` for dilation ``d``.
    """
    taps = torch.tensor([[i - 1, j - 1] for i in range(3) for j in range(3)], dtype=offsets.dtype)
    per_tap = offsets.reshape(offsets.shape[0], 9, 2, *offsets.shape[2:])   # (B, 9, 2, H, W)
    return (per_tap * taps[None, :, :, None, None]).sum((1, 2)) / (taps ** 2).sum()


@checked(offsets=arg.tensor(shape=(1, 18, None, None)), centre=arg.array(shape=(2,)), layers=arg.count(high=4))
def stacked_sampling_points(offsets: torch.Tensor, centre: tuple[int, int],
                            layers: int = 2) -> np.ndarray:
    """Input positions that ``layers`` stacked 3x3 deformable layers read for one top unit.

    All layers share one offset field ``offsets`` (1, 18, H, W) (as when one learned layer is
    applied repeatedly to maps of the same size); a unit at a fractional position uses the
    offsets of its nearest pixel. Returns the ``9 ** layers`` points as (row, column) pairs.
    """
    H, W = offsets.shape[-2:]
    field = offsets[0].detach().reshape(9, 2, H, W).numpy()
    taps = np.array([[i - 1, j - 1] for i in range(3) for j in range(3)], dtype=float)
    points = centre[None]                                                        # (P, 2)
    for _ in range(layers):
        rows = np.clip(np.rint(points[:, 0]).astype(int), 0, H - 1)
        cols = np.clip(np.rint(points[:, 1]).astype(int), 0, W - 1)
        shift = field[:, :, rows, cols].transpose(2, 0, 1)                       # (P, 9, 2)
        points = (points[:, None, :] + taps[None] + shift).reshape(-1, 2)
    return points

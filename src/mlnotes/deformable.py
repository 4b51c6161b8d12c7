"""Deformable convolution (v1) in plain torch: bilinear sampling at fractional positions.

Used by the chapter ``vision/deformable-convolution``. A reference implementation that loops
over kernel taps (no torchvision, no custom kernels), differentiable in the input, the weights
and the offsets, and meant to be checked against ``F.conv2d`` and ``F.grid_sample``.

Offsets follow torchvision's layout: shape (B, 2 kh kw, H_out, W_out) with, for tap
``n = i kw + j``, channel ``2n`` the row offset ``dy`` and channel ``2n + 1`` the column offset ``dx``.
"""

from __future__ import annotations

import numpy as np
import torch

from mlnotes.validate import as_numeric_array, check_int


def _check_tensor(name: str, t: object, ndim: int) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    return t


def tent(a: object, b: object) -> np.ndarray:
    """1-D bilinear kernel ``g(a, b) = max(0, 1 - |a - b|)``; the 2-D kernel is ``g(qy, py) g(qx, px)``."""
    a, b = as_numeric_array(a, "a"), as_numeric_array(b, "b")
    return np.maximum(0.0, 1.0 - np.abs(a - b))


def bilinear_sample(x: torch.Tensor, py: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Read ``x`` (B, C, H, W) at fractional rows ``py`` and columns ``px`` (both (B, *P)), zeros outside.

    ``x(p) = sum_q G(q, p) x(q)`` over the four integer neighbours ``q`` of ``p``, with
    ``G(q, p) = g(q_y, p_y) g(q_x, p_x)``. Returns (B, C, *P); differentiable in x, py and px.
    """
    x = _check_tensor("x", x, 4)
    if not isinstance(py, torch.Tensor) or not isinstance(px, torch.Tensor):
        raise TypeError("py and px must be torch tensors")
    if py.shape != px.shape or py.ndim < 1 or py.shape[0] != x.shape[0]:
        raise ValueError(f"py and px must share a shape (B={x.shape[0]}, ...), got {tuple(py.shape)}, {tuple(px.shape)}")
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


def deform_conv2d(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  stride: int = 1, padding: int = 0, dilation: int = 1) -> torch.Tensor:
    """Deformable convolution ``y(p0) = sum_n w(p_n) x(p0 + p_n + dp_n)`` by a loop over kernel taps.

    ``x`` (B, C_in, H, W), ``weight`` (C_out, C_in, kh, kw), ``offset`` (B, 2 kh kw, H_out, W_out) in
    torchvision's (dy, dx) layout. With zero offsets it is ``F.conv2d(x, weight, bias, stride, padding,
    dilation)``. Output (B, C_out, H_out, W_out).
    """
    x = _check_tensor("x", x, 4)
    weight = _check_tensor("weight", weight, 4)
    offset = _check_tensor("offset", offset, 4)
    stride, padding, dilation = (check_int("stride", stride, 1), check_int("padding", padding, 0),
                                 check_int("dilation", dilation, 1))
    B, C_in, H, W = x.shape
    C_out, C_w, kh, kw = weight.shape
    if C_w != C_in:
        raise ValueError(f"weight expects {C_w} input channels but x has {C_in}")
    H_out = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    W_out = (W + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    if H_out < 1 or W_out < 1:
        raise ValueError("the kernel does not fit in the padded input")
    if offset.shape != (B, 2 * kh * kw, H_out, W_out):
        raise ValueError(f"offset must have shape {(B, 2 * kh * kw, H_out, W_out)}, got {tuple(offset.shape)}")
    if bias is not None and (not isinstance(bias, torch.Tensor) or bias.shape != (C_out,)):
        raise ValueError(f"bias must be None or a tensor of shape ({C_out},)")
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


def dilation_offsets(k: int, d: int, H_out: int, W_out: int, B: int = 1, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Offsets that turn a k x k kernel with padding (k-1)/2 into the dilation-d kernel with padding d(k-1)/2.

    Tap (i, j) moves by ``((i - c)(d - 1), (j - c)(d - 1))`` with ``c = (k - 1)/2``: dilation is the
    special case of fixed, integer, position-independent offsets. Shape (B, 2 k^2, H_out, W_out).
    """
    k, d = check_int("k", k, 1), check_int("d", d, 1)
    H_out, W_out, B = check_int("H_out", H_out, 1), check_int("W_out", W_out, 1), check_int("B", B, 1)
    if k % 2 == 0:
        raise ValueError(f"k must be odd so the kernel has a centre, got {k}")
    c = (k - 1) // 2
    per_tap = []
    for i in range(k):
        for j in range(k):
            per_tap += [(i - c) * (d - 1), (j - c) * (d - 1)]
    return torch.tensor(per_tap, dtype=dtype).reshape(1, -1, 1, 1).expand(B, -1, H_out, W_out).clone()


def fit_global_shift(source: torch.Tensor, target: torch.Tensor, steps: int = 300, lr: float = 0.05,
                     init: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Learn one offset ``(dy, dx)`` shared by every position of a 1x1 deformable conv with weight 1.

    Minimizes ``mean((x(p + delta) - target(p))^2)`` with Adam. ``source`` and ``target`` are
    (H, W) tensors. Returns the trajectory of ``delta``, shape (steps + 1, 2), the start first.
    """
    source = _check_tensor("source", source, 2)
    target = _check_tensor("target", target, 2)
    if source.shape != target.shape:
        raise ValueError(f"source and target must have the same shape, got {tuple(source.shape)}, {tuple(target.shape)}")
    steps = check_int("steps", steps, 1)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
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


def draw_sampling_points(ax: object, centre: tuple[float, float], offsets: object, k: int = 3,
                         dilation: int = 1, **kw: object) -> None:
    """Mark the k x k sampling points of one output unit at ``centre`` (row, col) plus per-tap offsets.

    ``offsets`` is (k*k, 2) of (dy, dx), or None for a regular grid. Points are drawn in image
    coordinates (x = column, y = row).
    """
    k = check_int("k", k, 1)
    grid = np.array([(i, j) for i in range(k) for j in range(k)], dtype=np.float64) - (k - 1) / 2
    offsets = np.zeros((k * k, 2)) if offsets is None else np.asarray(offsets, dtype=np.float64)
    if offsets.shape != (k * k, 2):
        raise ValueError(f"offsets must have shape ({k * k}, 2), got {offsets.shape}")
    points = np.asarray(centre, dtype=np.float64) + dilation * grid + offsets
    style = {"s": 30, "color": "#D55E00", "edgecolors": "white", "linewidths": 0.8, "zorder": 3} | kw
    ax.scatter(points[:, 1], points[:, 0], **style)

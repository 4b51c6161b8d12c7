"""Upsampling: bilinear interpolation, pixel shuffle, transposed-convolution arithmetic, PSNR.

Used by the chapter ``vision/upsampling``. The numpy functions restate what PyTorch's
``F.interpolate``, ``F.pixel_shuffle`` and ``F.conv_transpose2d`` compute, so the chapter can
check them against each other; images are arrays whose last two axes are (H, W).
"""

from __future__ import annotations

import numpy as np

from mlnotes.validate import as_numeric_array, check_int


def _interp_matrix(n_in: int, n_out: int, scale: float, align_corners: bool) -> np.ndarray:
    """(n_out, n_in) matrix of 1-D linear-interpolation weights, PyTorch's coordinate conventions."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) / scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    M = np.zeros((n_out, n_in))
    np.add.at(M, (np.arange(n_out), i0), 1.0 - lam)
    np.add.at(M, (np.arange(n_out), i1), lam)
    return M


def sample_positions(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
    """Input coordinate (pixel-centre units) each of the ``n_out`` output pixels reads from.

    ``align_corners=True``: ``x_in = x_out (n_in - 1) / (n_out - 1)`` (corner centres coincide).
    ``align_corners=False``: ``x_in = (x_out + 0.5) n_in / n_out - 0.5`` (half-pixel centres), unclamped.
    """
    n_in, n_out = check_int("n_in", n_in, 1), check_int("n_out", n_out, 1)
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        return dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    return (dst + 0.5) * n_in / n_out - 0.5


def bilinear_np(img: object, scale: int | float, align_corners: bool = False) -> np.ndarray:
    """Bilinear upsampling of the last two axes by ``scale``, as ``F.interpolate(mode='bilinear')``.

    Output size ``floor(H * scale) x floor(W * scale)``. Separable: ``out = M_H @ img @ M_W^T`` with
    one row of interpolation weights per output pixel (two nonzeros, summing to 1).
    """
    img = as_numeric_array(img, "img", min_ndim=2, finite=False)
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError(f"scale must be a number, got {type(scale).__name__}")
    if not scale >= 1 or not np.isfinite(scale):
        raise ValueError(f"scale must be a finite number >= 1 (this is an upsampler), got {scale}")
    if not isinstance(align_corners, bool):
        raise TypeError(f"align_corners must be a bool, got {type(align_corners).__name__}")
    H, W = img.shape[-2:]
    MH = _interp_matrix(H, int(np.floor(H * scale)), float(scale), align_corners)
    MW = _interp_matrix(W, int(np.floor(W * scale)), float(scale), align_corners)
    return MH @ img @ MW.T


def pixel_shuffle_np(x: object, r: int) -> np.ndarray:
    """Rearrange (N, C r^2, H, W) into (N, C, H r, W r): ``out[n, c, h r + i, w r + j] = x[n, c r^2 + i r + j, h, w]``."""
    x = as_numeric_array(x, "x", min_ndim=4, dtype=None, finite=False)
    r = check_int("r", r, 1)
    N, Cr2, H, W = x.shape
    if Cr2 % (r * r):
        raise ValueError(f"channel count {Cr2} must be divisible by r^2 = {r * r}")
    C = Cr2 // (r * r)
    return x.reshape(N, C, r, r, H, W).transpose(0, 1, 4, 2, 5, 3).reshape(N, C, H * r, W * r)


def pixel_unshuffle_np(x: object, r: int) -> np.ndarray:
    """Inverse of :func:`pixel_shuffle_np`: (N, C, H r, W r) -> (N, C r^2, H, W)."""
    x = as_numeric_array(x, "x", min_ndim=4, dtype=None, finite=False)
    r = check_int("r", r, 1)
    N, C, Hr, Wr = x.shape
    if Hr % r or Wr % r:
        raise ValueError(f"height {Hr} and width {Wr} must be divisible by r = {r}")
    H, W = Hr // r, Wr // r
    return x.reshape(N, C, H, r, W, r).transpose(0, 1, 3, 5, 2, 4).reshape(N, C * r * r, H, W)


def convT_output_size(H: int, k: int, s: int = 1, p: int = 0, op: int = 0, d: int = 1) -> int:
    """Output length of a transposed convolution: ``(H - 1) s - 2p + d (k - 1) + op + 1``.

    ``op`` (output_padding) must be smaller than ``s`` or ``d``; it picks one of the input sizes that a
    strided convolution would have mapped to ``H``.
    """
    H, k, s, p, op, d = (check_int("H", H, 1), check_int("k", k, 1), check_int("s", s, 1),
                         check_int("p", p, 0), check_int("op", op, 0), check_int("d", d, 1))
    if op >= max(s, d):
        raise ValueError(f"output_padding op={op} must be smaller than the stride s={s} or the dilation d={d}")
    out = (H - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(f"padding p={p} is too large: the output length would be {out}")
    return out


def overlap_map(H: int, k: int, s: int) -> np.ndarray:
    """How many (input pixel, kernel tap) pairs land on each output pixel of a k x k, stride-s
    transposed convolution of an H x H input (no padding): shape ((H-1)s + k,) * 2.

    It equals ``conv_transpose2d(ones, ones)``; uneven counts are the checkerboard artifact.
    """
    H, k, s = check_int("H", H, 1), check_int("k", k, 1), check_int("s", s, 1)
    counts = np.zeros((H - 1) * s + k)
    for i in range(H):
        counts[i * s: i * s + k] += 1
    return np.outer(counts, counts)


def conv_transpose2d_via_conv(y: object, w: object, stride: int = 1, padding: int = 0) -> object:
    """``F.conv_transpose2d(y, w, stride, padding)`` rebuilt from a plain convolution (torch tensors).

    Insert ``stride - 1`` zeros between input pixels, pad by ``k - 1 - padding`` on every side, and
    convolve (stride 1) with the kernel flipped in both spatial axes and with in/out channels swapped.
    ``y`` is (N, C_in, H, W) and ``w`` is (C_in, C_out, k, k), the layout ConvTranspose2d uses.
    """
    import torch
    import torch.nn.functional as F

    if not isinstance(y, torch.Tensor) or not isinstance(w, torch.Tensor):
        raise TypeError("y and w must be torch tensors")
    if y.ndim != 4 or w.ndim != 4 or y.shape[1] != w.shape[0] or w.shape[2] != w.shape[3]:
        raise ValueError(f"need y (N, C_in, H, W) and w (C_in, C_out, k, k), got {tuple(y.shape)}, {tuple(w.shape)}")
    stride, padding = check_int("stride", stride, 1), check_int("padding", padding, 0)
    k = w.shape[-1]
    if padding > k - 1:
        raise ValueError(f"padding must be <= k - 1 = {k - 1}, got {padding}")
    N, C, H, W = y.shape
    dilated = y.new_zeros(N, C, (H - 1) * stride + 1, (W - 1) * stride + 1)
    dilated[:, :, ::stride, ::stride] = y
    pad = k - 1 - padding
    return F.conv2d(F.pad(dilated, (pad, pad, pad, pad)), w.flip(-1, -2).transpose(0, 1))


def psnr(a: object, b: object, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` in dB (inf for identical images)."""
    a, b = as_numeric_array(a, "a", min_ndim=1, finite=False), as_numeric_array(b, "b", min_ndim=1, finite=False)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0, got {data_range}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(data_range ** 2 / mse))

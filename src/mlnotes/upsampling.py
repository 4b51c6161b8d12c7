"""Upsampling: bilinear interpolation, pixel shuffle, transposed-convolution arithmetic, PSNR.

The numpy functions restate what PyTorch's
``F.interpolate``, ``F.pixel_shuffle`` and ``F.conv_transpose2d`` compute, so the chapter can
check them against each other; images are arrays whose last two axes are (H, W).
"""

from __future__ import annotations

import numpy as np

from mlnotes.validate import arg, checked

__all__ = [
    "bilinear_np", "checkerboard_score", "convT_output_size", "conv_transpose2d_via_conv",
    "learned_upsamplers", "overlap_map", "pixel_shuffle_np", "pixel_unshuffle_np", "psnr",
    "random_crops", "sample_positions",
]


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


@checked(n_in=arg.count(high=10**6), n_out=arg.count(high=10**6), align_corners=arg.bool())
def sample_positions(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
    """Input coordinate (pixel-centre units) each of the ``n_out`` output pixels reads from.

    ``align_corners=True``: ``x_in = x_out (n_in - 1) / (n_out - 1)`` (corner centres coincide).
    ``align_corners=False``: ``x_in = (x_out + 0.5) n_in / n_out - 0.5`` (half-pixel centres), unclamped.
    """
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        return dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    return (dst + 0.5) * n_in / n_out - 0.5


@checked(img=arg.array(min_ndim=2), scale=arg.real(low=1, high=64), align_corners=arg.bool())
def bilinear_np(img: object, scale: int | float, align_corners: bool = False) -> np.ndarray:
    """Bilinear upsampling of the last two axes by ``scale``, as ``F.interpolate(mode='bilinear')``.

    Output size ``floor(H * scale) x floor(W * scale)``. Separable: ``out = M_H @ img @ M_W^T`` with
    one row of interpolation weights per output pixel (two nonzeros, summing to 1).
    """
    H, W = img.shape[-2:]
    MH = _interp_matrix(H, int(np.floor(H * scale)), float(scale), align_corners)
    MW = _interp_matrix(W, int(np.floor(W * scale)), float(scale), align_corners)
    return MH @ img @ MW.T


@checked(x=arg.array(ndim=4, dtype=None, finite=False), r=arg.count(high=64))
def pixel_shuffle_np(x: object, r: int) -> np.ndarray:
    """Rearrange (N, C r^2, H, W) into (N, C, H r, W r): ``out[n, c, h r + i, w r + j] = x[n, c r^2 + i r + j, h, w]``.

    A pure rearrangement: NaN and inf propagate unchanged.
    """
    N, Cr2, H, W = x.shape
    if Cr2 % (r * r):
        raise ValueError(f"channel count {Cr2} must be divisible by r^2 = {r * r}")
    C = Cr2 // (r * r)
    return x.reshape(N, C, r, r, H, W).transpose(0, 1, 4, 2, 5, 3).reshape(N, C, H * r, W * r)


@checked(x=arg.array(ndim=4, dtype=None, finite=False), r=arg.count(high=64))
def pixel_unshuffle_np(x: object, r: int) -> np.ndarray:
    """Inverse of :func:`pixel_shuffle_np`: (N, C, H r, W r) -> (N, C r^2, H, W).

    A pure rearrangement: NaN and inf propagate unchanged.
    """
    N, C, Hr, Wr = x.shape
    if Hr % r or Wr % r:
        raise ValueError(f"height {Hr} and width {Wr} must be divisible by r = {r}")
    H, W = Hr // r, Wr // r
    return x.reshape(N, C, H, r, W, r).transpose(0, 1, 3, 5, 2, 4).reshape(N, C * r * r, H, W)


@checked(H=arg.count(high=10**6), k=arg.count(high=999), s=arg.count(high=999), p=arg.count(low=0, high=999),
         op=arg.count(low=0, high=999), d=arg.count(high=999))
def convT_output_size(H: int, k: int, s: int = 1, p: int = 0, op: int = 0, d: int = 1) -> int:
    """Output length of a transposed convolution: ``(H - 1) s - 2p + d (k - 1) + op + 1``.

    ``op`` (output_padding) must be smaller than ``s`` or ``d``; it picks one of the input sizes that a
    strided convolution would have mapped to ``H``.
    """
    if op >= max(s, d):
        raise ValueError(f"output_padding op={op} must be smaller than the stride s={s} or the dilation d={d}")
    out = (H - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(f"padding p={p} is too large: the output length would be {out}")
    return out


@checked(H=arg.count(high=4096), k=arg.count(high=64), s=arg.count(high=64))
def overlap_map(H: int, k: int, s: int) -> np.ndarray:
    """How many (input pixel, kernel tap) pairs land on each output pixel of a k x k, stride-s
    transposed convolution of an H x H input (no padding): shape ((H-1)s + k,) * 2.

    It equals ``conv_transpose2d(ones, ones)``; uneven counts are the checkerboard artifact.
    """
    counts = np.zeros((H - 1) * s + k)
    for i in range(H):
        counts[i * s: i * s + k] += 1
    return np.outer(counts, counts)


@checked(y=arg.tensor(shape=(None, "C", None, None)), w=arg.tensor(shape=("C", None, None, None)),
         stride=arg.count(high=64), padding=arg.count(low=0, high="w.shape[-1] - 1"))
def conv_transpose2d_via_conv(y: object, w: object, stride: int = 1, padding: int = 0) -> object:
    """``F.conv_transpose2d(y, w, stride, padding)`` rebuilt from a plain convolution (torch tensors).

    Insert ``stride - 1`` zeros between input pixels, pad by ``k - 1 - padding`` on every side, and
    convolve (stride 1) with the kernel flipped in both spatial axes and with in/out channels swapped.
    ``y`` is (N, C_in, H, W) and ``w`` is (C_in, C_out, k, k), the layout ConvTranspose2d uses.
    """
    import torch
    import torch.nn.functional as F

    k = w.shape[-1]
    N, C, H, W = y.shape
    dilated = y.new_zeros(N, C, (H - 1) * stride + 1, (W - 1) * stride + 1)
    dilated[:, :, ::stride, ::stride] = y
    pad = k - 1 - padding
    return F.conv2d(F.pad(dilated, (pad, pad, pad, pad)), w.flip(-1, -2).transpose(0, 1))


@checked(a=arg.array(min_ndim=1), b=arg.array(min_ndim=1), data_range=arg.real(low=0, low_open=True))
def psnr(a: object, b: object, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` in dB (inf for identical images)."""
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(data_range ** 2 / mse))


@checked(images=arg.sequence(arg.array(ndim=2)), size=arg.count(high="min(min(im.shape) for im in images) - 1"),
         n=arg.count(high=100_000), seed=arg.seed())
def random_crops(images: list, size: int, n: int, seed: int = 0) -> np.ndarray:
    """``n`` square crops of side ``size`` at random places, taken in turn from each 2-D image.

    Shape ``(n, size, size)``. Used to turn a one-crop comparison into a statistic.
    """
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        im = images[i % len(images)]
        y, x = rng.integers(0, im.shape[0] - size), rng.integers(0, im.shape[1] - size)
        crops.append(im[y:y + size, x:x + size])
    return np.array(crops)


@checked(y=arg.array(ndim=2), r=arg.count(high="max(1, (min(y.shape) - 1) // 5)"))  # the interior needs a period
def checkerboard_score(y: object, r: int) -> float:
    """How much an upsampled image depends on the sub-pixel phase: 0 for no checkerboard.

    The interior of ``y`` (H, W) is split into the ``r * r`` phase grids ``y[i::r, j::r]``; the
    score is the standard deviation of their means divided by the mean absolute value. On a
    constant input, any layer that treats all output phases alike scores exactly 0.
    """
    inner = y[2 * r:-2 * r, 2 * r:-2 * r]                         # away from the padded border
    phase_means = np.array([inner[i::r, j::r].mean() for i in range(r) for j in range(r)])
    return float(phase_means.std() / np.abs(inner).mean())


@checked(x=arg.array(ndim=2), r=arg.count(low=2, high=8), k=arg.count(high=9), seed=arg.seed())
def learned_upsamplers(x: object, seed: int, r: int = 2, k: int = 3) -> dict[str, np.ndarray]:
    """Five x``r`` upsampling layers with random weights (seeded), applied to ``x`` (H, W).

    - transposed convolution, kernel ``k`` and kernel ``2r`` (divisible by the stride);
    - a ``k x k`` convolution to ``r^2`` channels followed by PixelShuffle, with independent
      random filters per sub-pixel, and with ICNR initialisation (one filter copied ``r^2`` times,
      Aitken et al. 2017), which makes the pair start out as "convolve, then nearest";
    - nearest resize, then a ``k x k`` convolution ("resize-convolution", Odena et al. 2016).
    Each returns the (H r, W r)-ish image as numpy; all weights are He-normal.
    """
    import torch
    import torch.nn.functional as F

    img = torch.as_tensor(x)[None, None]              # (1, 1, H, W)
    gen = torch.Generator().manual_seed(seed)

    def he(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * np.sqrt(2 / (k * k))

    sub = he(1, 1, k, k)                                           # one filter, (1, 1, k, k)
    outs = {
        f"transposed conv, k = {k}": F.conv_transpose2d(img, he(1, 1, k, k), stride=r),
        f"transposed conv, k = {2 * r}": F.conv_transpose2d(img, he(1, 1, 2 * r, 2 * r) * k / (2 * r),
                                                            stride=r),
        "conv + PixelShuffle": F.pixel_shuffle(F.conv2d(img, he(r * r, 1, k, k), padding=k // 2), r),
        "conv + PixelShuffle, ICNR": F.pixel_shuffle(
            F.conv2d(img, sub.repeat_interleave(r * r, dim=0), padding=k // 2), r),
        "resize, then conv": F.conv2d(F.interpolate(img, scale_factor=r, mode="nearest"), sub,
                                      padding=k // 2),
    }
    return {name: out[0, 0].numpy() for name, out in outs.items()}

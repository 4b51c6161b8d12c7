"""Receptive-field arithmetic for stacks of convolution and pooling layers, and its measurement.

A layer is a list ``[k, s, p]`` or ``[k, s, p, d]``: kernel size, stride, padding and dilation
(default 1); pooling layers are written the same way. Coordinates are pixel centres: input
pixel ``i`` sits at position ``i`` (0-based).

Bottom-up recursion, with ``k' = d (k - 1) + 1`` the dilated kernel span::

    r_l = r_{l-1} + (k'_l - 1) j_{l-1},   j_l = j_{l-1} s_l,   c_l = c_{l-1} + ((k'_l - 1)/2 - p_l) j_{l-1}

starting from ``r_0 = 1, j_0 = 1, c_0 = 0``; ``c_l`` is the centre of unit 0 of layer l and
unit ``u`` is centred at ``c_l + u j_l``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlnotes.validate import check_count, checked, arg

__all__ = [
    "ALEXNET", "VGG16", "ZF5", "conv_out_len", "dilation_support", "draw_rf_cone",
    "empirical_rf_1d", "erf_profile", "plot_stack_profile", "predicted_centre", "profile_std",
    "random_erf", "rf_table", "rf_topdown",
]

Layer = Sequence[int]

#: AlexNet (Krizhevsky et al. 2012), as used by R-CNN: (name, [k, s, p]).
ALEXNET: list[tuple[str, list[int]]] = [
    ("conv1", [11, 4, 0]), ("pool1", [3, 2, 0]), ("conv2", [5, 1, 2]), ("pool2", [3, 2, 0]),
    ("conv3", [3, 1, 1]), ("conv4", [3, 1, 1]), ("conv5", [3, 1, 1]), ("pool5", [3, 2, 0]),
]
#: VGG-16 (Simonyan & Zisserman 2015): 3x3 convolutions with padding 1, 2x2 max-pools.
VGG16: list[tuple[str, list[int]]] = [
    (name, [2, 2, 0] if name.startswith("pool") else [3, 1, 1])
    for name in ["conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2",
                 "conv3_1", "conv3_2", "conv3_3", "pool3", "conv4_1", "conv4_2", "conv4_3", "pool4",
                 "conv5_1", "conv5_2", "conv5_3", "pool5"]
]
#: ZF-5 (Zeiler & Fergus 2014) as used in Faster R-CNN.
ZF5: list[tuple[str, list[int]]] = [
    ("conv1", [7, 2, 3]), ("pool1", [3, 2, 1]), ("conv2", [5, 2, 2]), ("pool2", [3, 2, 1]),
    ("conv3", [3, 1, 1]), ("conv4", [3, 1, 1]), ("conv5", [3, 1, 1]),
]


def _check_layers(layers: object) -> list[tuple[int, int, int, int]]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError("layers must be a non-empty list of [k, s, p] or [k, s, p, d]")
    checked = []
    for i, layer in enumerate(layers):
        if isinstance(layer, tuple) and len(layer) == 2 and isinstance(layer[0], str):
            layer = layer[1]                              # (name, [k, s, p]) entries of ALEXNET etc.
        if isinstance(layer, (str, bytes)) or not isinstance(layer, Sequence) or len(layer) not in (3, 4):
            raise ValueError(f"layer {i} must be [k, s, p] or [k, s, p, d], got {layer!r}")
        k = check_count(f"layer {i} kernel", layer[0], high=999)
        s = check_count(f"layer {i} stride", layer[1], high=999)
        p = check_count(f"layer {i} padding", layer[2], low=0, high=999)
        d = check_count(f"layer {i} dilation", layer[3], high=999) if len(layer) == 4 else 1
        checked.append((k, s, p, d))
    return checked


@checked(n=arg.count(high=10**7), k=arg.count(high=999), s=arg.count(high=999), p=arg.count(low=0, high=999),
         d=arg.count(high=999))
def conv_out_len(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output length ``floor((n + 2p - d(k - 1) - 1) / s) + 1`` of a convolution or pooling layer."""
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        raise ValueError(f"input length n + 2p = {n + 2 * p} is shorter than the kernel span d(k-1)+1 = {span}")
    return (n + 2 * p - span) // s + 1


def rf_topdown(layers: object) -> int:
    """Receptive field of one unit of the last layer, walking down: ``RF_in = (RF_out - 1) s + k'``."""
    rf = 1
    for k, s, _, d in reversed(_check_layers(layers)):
        rf = (rf - 1) * s + d * (k - 1) + 1
    return rf


def rf_table(layers: object, names: Sequence[str] | None = None) -> list[dict]:
    """Bottom-up receptive field ``r``, jump ``j`` and centre ``c`` of unit 0, one dict per layer."""
    checked = _check_layers(layers)
    if names is None:
        names = [layer[0] if isinstance(layer, tuple) and isinstance(layer[0], str) else f"layer{i + 1}"
                 for i, layer in enumerate(layers)]
    if len(names) != len(checked):
        raise ValueError(f"names has {len(names)} entries for {len(checked)} layers")
    r, j, c = 1, 1, 0.0
    rows = []
    for name, (k, s, p, d) in zip(names, checked):
        span = d * (k - 1) + 1
        r, c, j = r + (span - 1) * j, c + ((span - 1) / 2 - p) * j, j * s
        rows.append({"name": name, "k": k, "s": s, "p": p, "d": d, "r": r, "j": j, "c": c})
    return rows


def _ones_stack_gradient(layers: list[tuple[int, int, int, int]], n: int) -> tuple[np.ndarray, int]:
    import torch
    import torch.nn.functional as F

    x = torch.zeros(1, 1, n, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s, p, d in layers:
        h = F.conv1d(h, torch.ones(1, 1, k, dtype=torch.float64), stride=s, padding=p, dilation=d)
    unit = h.shape[-1] // 2
    h[0, 0, unit].backward()
    return x.grad[0, 0].numpy().copy(), unit


@checked(n=arg.count(high=100_000))
def empirical_rf_1d(layers: object, n: int = 600) -> tuple[int, float]:
    """Measure ``(width, centre)`` of the input support of the middle output unit by autograd.

    Every layer (pooling too) is a 1-D convolution with an all-ones kernel, so every path from an
    input pixel to the unit carries a positive gradient and the support is the whole receptive field.
    Raises if the support touches the input border (then it may be clipped: use a larger ``n``).
    """
    checked = _check_layers(layers)
    grad, _ = _ones_stack_gradient(checked, n)
    support = np.flatnonzero(grad)
    if support[0] == 0 or support[-1] == n - 1:
        raise ValueError(f"the receptive field reaches the border of an input of length {n}; use a larger n")
    return int(support[-1] - support[0] + 1), float(support[0] + support[-1]) / 2


@checked(n=arg.count(high=100_000))
def predicted_centre(layers: object, n: int = 600) -> float:
    """Centre predicted by :func:`rf_table` for the middle output unit of an input of length ``n``."""
    checked = _check_layers(layers)
    length = n
    for k, s, p, d in checked:
        length = conv_out_len(length, k, s, p, d)
    last = rf_table(checked)[-1]
    return last["c"] + (length // 2) * last["j"]


@checked(n=arg.count(high=100_000))
def erf_profile(layers: object, n: int = 401) -> np.ndarray:
    """Normalized |d y_centre / d x| over the ``n`` input positions (sums to 1), all-ones kernels."""
    checked = _check_layers(layers)
    grad, _ = _ones_stack_gradient(checked, n)
    total = np.abs(grad).sum()
    if total == 0:
        raise ValueError("the middle unit has no input support; check the layers and n")
    return np.abs(grad) / total


@checked(dilations=arg.array(ndim=1, integer=True, low=1, high=999), k=arg.count(high=15))
def dilation_support(dilations: Sequence[int], k: int = 3) -> tuple[int, int]:
    """``(span, covered)`` of a stack of stride-1, ``k``-tap layers with these dilations.

    Counted by enumerating tap offsets, not by autograd: a pixel at offset ``o`` from the unit is
    covered when ``o = sum_l t_l d_l`` for some taps ``t_l`` in ``-(k-1)/2 .. (k-1)/2``. With one
    dilation ``d > 1`` everywhere, only multiples of ``d`` are reachable: the field has holes
    ("gridding").
    """
    dilations = dilations.tolist()
    taps = np.arange(k) - (k - 1) / 2
    offsets = {0.0}
    for d in dilations:
        offsets = {o + t * d for o in offsets for t in taps}
    return int(max(offsets) - min(offsets)) + 1, len(offsets)


@checked(depth=arg.count(high=200), n=arg.count(low=3, high=100_000), channels=arg.count(high=256),
         k=arg.count(high=15), n_nets=arg.count(high=1000), seed=arg.seed())
def random_erf(depth: int, n: int = 161, channels: int = 8, k: int = 3, n_nets: int = 10,
               seed: int = 0) -> np.ndarray:
    """Effective receptive fields of random ReLU conv stacks: normalized ``|dy/dx|``, shape ``(n_nets, n)``.

    Each of ``n_nets`` independent stacks has ``depth`` 1-D convolutions (``channels`` channels,
    ``k`` taps, same padding, He-normal weights) with ReLU between them. Row ``i`` is the gradient
    of stack ``i``'s middle output unit (summed over channels) with respect to its Gaussian-noise
    input, in absolute value and normalized to sum 1 (Luo et al. 2016). The stacks run side by
    side as the groups of one grouped convolution.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    width = n_nets * channels                                   # G nets x C channels
    x = torch.randn(1, width, n, generator=gen).requires_grad_(True)           # (1, G*C, n)
    h = x
    for layer in range(depth):
        w = torch.randn(width, channels, k, generator=gen) * np.sqrt(2 / (channels * k))
        h = torch.nn.functional.conv1d(h, w, padding=k // 2, groups=n_nets)     # (1, G*C, n)
        h = torch.relu(h) if layer < depth - 1 else h
    h[0, :, n // 2].sum().backward()
    g = x.grad[0].abs().reshape(n_nets, channels, n).sum(1).numpy()            # (G, n)
    return g / g.sum(1, keepdims=True)


@checked(profile=arg.array(ndim=1, low=0))
def profile_std(profile: np.ndarray) -> float:
    """Standard deviation (in pixels) of a normalized 1-D profile."""
    x = np.arange(len(profile))
    mean = profile @ x
    return float(np.sqrt(profile @ (x - mean) ** 2))


@checked(ax=arg.axes(), n=arg.count(high=100_000))
def plot_stack_profile(ax: object, layers: object, n: int = 1200) -> None:
    """Measured input-gradient of a uniform all-ones stack, drawn in units of its receptive field.

    The x axis is the offset from the field's centre divided by the field's size, so the
    theoretical field is always the shaded band from -1/2 to 1/2 and stacks of any size compare
    on the same axes; bars are normalized to a peak of 1.
    """
    checked = _check_layers(layers)
    profile = erf_profile(checked, n)
    last, centre = rf_table(checked)[-1], predicted_centre(checked, n)
    edges = (np.arange(n + 1) - 0.5 - centre) / last["r"]
    ax.axvspan(-0.5, 0.5, color="#E69F00", alpha=0.25, label="formula: receptive field")
    ax.stairs(profile / profile.max(), edges, fill=True, color="#0072B2", label="measured |gradient|")
    covered = np.count_nonzero(profile)
    ax.set(xlim=(-0.75, 0.75), ylim=(0, 1.15), xlabel="offset from the centre / receptive field",
           ylabel="|gradient| / max",
           title=f"$r$ = {last['r']} px, jump $j$ = {last['j']}, {covered} of {last['r']} px reached")
    ax.legend(loc="upper right", fontsize=8)


@checked(ax=arg.axes(), n_input=arg.count(high=10_000))
def draw_rf_cone(ax: object, layers: object, n_input: int, unit: int | None = None) -> None:
    """Draw a 1-D stack as rows of units and highlight everything the chosen top unit depends on.

    Row 0 is the input (``n_input`` pixels); row l has the layer-l units at their centres. A unit
    is highlighted when some path of kernel taps links it to the chosen unit of the last layer.
    """
    checked = _check_layers(layers)
    table = rf_table(checked)
    lengths = [n_input]
    for k, s, p, d in checked:
        lengths.append(conv_out_len(lengths[-1], k, s, p, d))
    centres = [np.arange(n_input, dtype=float)] + [row["c"] + np.arange(m) * row["j"]
                                                   for row, m in zip(table, lengths[1:])]
    active = [set() for _ in lengths]
    active[-1] = {lengths[-1] // 2 if unit is None else unit}
    for level in range(len(checked), 0, -1):
        k, s, p, d = checked[level - 1]
        for u in active[level]:
            for t in range(k):
                i = u * s - p + t * d
                if 0 <= i < lengths[level - 1]:
                    active[level - 1].add(i)
                    ax.plot([centres[level][u], centres[level - 1][i]], [level, level - 1],
                            color="#E69F00", lw=0.6, zorder=1)
    for level, xs in enumerate(centres):
        on = np.array(sorted(active[level]), dtype=int)
        ax.scatter(xs, np.full(len(xs), level), s=14, color="#BBBBBB", zorder=2)
        ax.scatter(xs[on], np.full(len(on), level), s=18, color="#D55E00", zorder=3)
    ax.set_yticks(range(len(centres)), ["input"] + [f"layer {i + 1}" for i in range(len(checked))])

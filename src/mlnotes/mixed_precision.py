"""Floating-point formats and mixed-precision training: bits, rounding, loss scaling, master weights.

- ``FORMATS``              sign / exponent / fraction bit counts of FP64, FP32, FP16 and BF16
- ``float_bits``           the sign, exponent and fraction bit strings of a number in a format
- ``fp16_decode``          IEEE half value of a 16-bit pattern, from the formula (normals, subnormals, inf/NaN)
- ``fp16_accumulate``      running sums with rounding to FP16 (or FP32) after every addition
- ``underflow_fraction``   what share of gradients FP16 flushes to zero / makes subnormal / overflows at a loss scale
- ``DynamicLossScaler``    the skip-and-halve / grow-after-N state machine of dynamic loss scaling
- ``train_digits_mlp``     a 64-64-10 MLP on digits in FP32, mixed precision or FP16-only
                           (``train_digits_mlp_seeds``: several seeds at once)
- ``swamped_fraction``     share of an FP16-only first step's updates that rounding discards
- ``autocast_dtypes``      the dtype each op returns under ``torch.autocast("cpu", bfloat16)``
- ``draw_bit_layout``      a matplotlib diagram of the bit fields of several formats
- ``draw_loss_scaling``    a histogram of scaled gradient magnitudes against FP16's ranges
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from mlnotes.validate import check_choice, checked, arg

__all__ = ["FORMATS", "float_bits", "fp16_decode", "fp16_accumulate", "underflow_fraction",
           "DynamicLossScaler", "train_digits_mlp", "train_digits_mlp_seeds", "swamped_fraction",
           "autocast_dtypes",
           "draw_bit_layout", "draw_loss_scaling"]

#: (sign, exponent, fraction) bit counts per format.
FORMATS: dict[str, tuple[int, int, int]] = {
    "float64": (1, 11, 52), "float32": (1, 8, 23), "float16": (1, 5, 10), "bfloat16": (1, 8, 7)}
_UINT = {"float64": np.uint64, "float32": np.uint32, "float16": np.uint16}


def _format_name(dtype: object) -> object:
    """``np.float16`` or ``np.dtype("float16")`` -> ``"float16"``; anything else unchanged."""
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        return np.dtype(dtype).name
    return dtype


@checked(x=arg.real(finite=False))
def float_bits(x: float, dtype: object = "float16") -> tuple[str, str, str]:
    """Bit strings ``(sign, exponent, fraction)`` of ``x`` rounded to ``dtype``.

    ``dtype`` is ``"float16"``, ``"float32"``, ``"float64"`` or ``"bfloat16"`` (the top 16 bits of the
    float32 pattern after round-to-nearest-even, as hardware converts). Example: ``float_bits(1.0)``
    is ``("0", "01111", "0000000000")``. Infinities propagate to their bit pattern (all-ones
    exponent, zero fraction); NaN is rejected.
    """
    name = check_choice("dtype", _format_name(dtype), tuple(FORMATS))
    if name == "bfloat16":
        with np.errstate(over="ignore"):
            u32 = int(np.array(x, dtype=np.float32).view(np.uint32))
        if not np.isnan(np.float32(x)):
            u32 += 0x7FFF + ((u32 >> 16) & 1)  # round to nearest even on the dropped 16 bits
        pattern, width = (u32 >> 16) & 0xFFFF, 16
    else:
        with np.errstate(over="ignore"):
            pattern = int(np.array(x, dtype=name).view(_UINT[name]))
        width = sum(FORMATS[name])
    text = format(pattern, f"0{width}b")
    s, e, _ = FORMATS[name]
    return text[:s], text[s:s + e], text[s + e:]


@checked(bits=arg.int(0, 0xFFFF))
def fp16_decode(bits: int) -> float:
    """IEEE 754 half-precision value of a 16-bit pattern, computed from the formula.

    ``S | EEEEE | FFFFFFFFFF``: normal numbers (``0 < E < 31``) are ``(-1)^S 2^(E-15) (1 + F/1024)``,
    subnormals (``E = 0``) are ``(-1)^S 2^(-14) (F/1024)``, ``E = 31`` encodes infinity (``F = 0``) or NaN.
    """
    sign = -1.0 if bits >> 15 else 1.0
    exponent, fraction = (bits >> 10) & 0x1F, bits & 0x3FF
    if exponent == 0:
        return sign * 2.0 ** -14 * (fraction / 1024)
    if exponent == 31:
        return sign * np.inf if fraction == 0 else np.nan
    return sign * 2.0 ** (exponent - 15) * (1 + fraction / 1024)


@checked(values=arg.array(ndim=1), start=arg.real(), dtype=arg.choice(("float16", "float32")))
def fp16_accumulate(values: object, start: float = 0.0, dtype: str = "float16") -> np.ndarray:
    """Running sums ``s_k = round(s_{k-1} + v_k)`` with rounding to ``dtype`` after every addition.

    A scalar loop on numpy scalars, so every operation rounds like the hardware format (a vectorised
    ``cumsum`` or a torch matmul may accumulate in higher precision). Returns the ``len(values)`` sums.
    """
    v = values    # v: (n,)
    kind = np.float16 if dtype == "float16" else np.float32
    terms = v.astype(kind)
    total, out = kind(start), np.empty(v.size, dtype=kind)
    for k, term in enumerate(terms):
        total = kind(total + term)
        out[k] = total
    return out


@checked(grads=arg.array(ndim=1), scale=arg.positive())
def underflow_fraction(grads: object, scale: float = 1.0) -> dict[str, float]:
    """Shares of nonzero gradients that FP16 loses at loss scale ``scale``.

    Each ``g * scale`` (computed in float64) is rounded to FP16. Returns the fractions that become
    ``"zero"`` (underflow), land in the ``"subnormal"`` range (below 2^-14, reduced precision) or become
    ``"inf"`` (overflow, above 65504 after rounding).
    """
    g = grads  # (n,)
    if np.any(g == 0):  # the question is which nonzero values survive
        raise ValueError("grads must be nonzero (zeros are not lost by rounding)")
    with np.errstate(over="ignore"):
        h = np.abs((g * scale).astype(np.float16))
    tiny = np.finfo(np.float16).tiny
    return {"zero": float(np.mean(h == 0)), "subnormal": float(np.mean((h > 0) & (h < tiny))),
            "inf": float(np.mean(np.isinf(h)))}


class DynamicLossScaler:
    """Dynamic loss scaling: skip the step and shrink the scale on overflow, grow it after clean steps.

    ``update(found_inf)`` is called once per step after the gradients were checked: on inf/NaN the
    scale is multiplied by ``backoff_factor``, the clean-step counter resets and the step must be
    skipped (returns False); otherwise the counter grows and, after ``growth_interval`` clean steps in
    a row, the scale is multiplied by ``growth_factor`` (returns True). Mirrors ``torch.amp.GradScaler``.
    """

    @checked(init_scale=arg.positive(), growth_factor=arg.real(1.0, low_open=True),
             backoff_factor=arg.probability(low_open=True, high_open=True), growth_interval=arg.count())
    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000):
        self.scale = init_scale
        self.growth_factor, self.backoff_factor, self.growth_interval = growth_factor, backoff_factor, growth_interval
        self.clean_steps = 0

    @checked(found_inf=arg.bool())
    def update(self, found_inf: bool) -> bool:
        """Advance one step; returns whether the optimizer step should be applied."""
        if found_inf:
            self.scale *= self.backoff_factor
            self.clean_steps = 0
            return False
        self.clean_steps += 1
        if self.clean_steps == self.growth_interval:
            self.scale *= self.growth_factor
            self.clean_steps = 0
        return True


@checked(mode=arg.choice(("fp32", "mixed", "fp16")), seed=arg.seed(), lr=arg.positive(), loss_scale=arg.positive(),
         num_steps=arg.count(low=0, high=10**6), batch_size=arg.count(high=4096))
def train_digits_mlp(mode: str, lr: float, num_steps: int = 1500, loss_scale: float = 1024.0,
                     batch_size: int = 64, seed: int = 0) -> float:
    """Train a 64-64-10 ReLU MLP on the digits by minibatch SGD; return the test accuracy.

    ``mode``: ``"fp32"`` (everything in float32); ``"mixed"`` (FP32 master weights, a float16 copy
    for the forward and backward pass, loss in FP32, loss scaled by ``loss_scale`` and gradients
    unscaled in FP32); ``"fp16"`` (as mixed, but the weights themselves are stored and updated in
    float16, so small updates are rounded away). Split: 70/30, ``random_state=0``.
    """
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    gen = torch.Generator().manual_seed(seed)
    digits = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(digits.data / 16, digits.target, test_size=0.3, random_state=0)
    X_tr, X_te = torch.tensor(X_tr, dtype=torch.float32), torch.tensor(X_te, dtype=torch.float32)
    y_tr, y_te = torch.tensor(y_tr), torch.tensor(y_te)
    shapes = [(64, 64), (64,), (64, 10), (10,)]
    W = [torch.randn(*s, generator=gen) / np.sqrt(s[0]) if len(s) == 2 else torch.zeros(s) for s in shapes]
    if mode == "fp16":
        W = [w.half() for w in W]
    scale = 1.0 if mode == "fp32" else float(loss_scale)
    for _ in range(num_steps):
        idx = torch.randint(0, len(X_tr), (batch_size,), generator=gen)
        xb = X_tr[idx] if mode == "fp32" else X_tr[idx].half()
        P = [(w if mode == "fp32" else w.half()).detach().clone().requires_grad_() for w in W]
        logits = torch.relu(xb @ P[0] + P[1]) @ P[2] + P[3]
        loss = F.cross_entropy(logits.float(), y_tr[idx])  # the loss itself in FP32
        (loss * scale).backward()
        grads = [p.grad.float() / scale for p in P]  # unscale in FP32
        if not all(torch.isfinite(g).all() for g in grads):
            continue  # skip the step on overflow
        if mode == "fp16":
            W = [w - (lr * g).half() for w, g in zip(W, grads)]  # FP16 addition: rounds
        else:
            W = [w - lr * g for w, g in zip(W, grads)]
    with torch.no_grad():
        Wf = [w.float() for w in W]
        pred = (torch.relu(X_te @ Wf[0] + Wf[1]) @ Wf[2] + Wf[3]).argmax(dim=1)
    return float((pred == y_te).float().mean())


def _digits_split():
    """The 70/30 digits split (``random_state=0``) as float32 / int64 tensors."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(digits.data / 16, digits.target, test_size=0.3, random_state=0)
    return (torch.tensor(X_tr, dtype=torch.float32), torch.tensor(X_te, dtype=torch.float32),
            torch.tensor(y_tr), torch.tensor(y_te))


def _stacked_init(gens: list) -> list:
    """Initial weights of the 64-64-10 MLP for each generator, stacked on a leading seed axis."""
    import torch

    shapes = [(64, 64), (64,), (64, 10), (10,)]
    return [torch.stack([torch.randn(*sh, generator=g) / np.sqrt(sh[0]) if len(sh) == 2
                         else torch.zeros(sh) for g in gens]) for sh in shapes]


# region: mixed-step
@checked(mode=arg.choice(("fp32", "mixed", "fp16")), lr=arg.positive(), loss_scale=arg.positive(),
         num_seeds=arg.count(high=100), num_steps=arg.count(low=0, high=10**6), batch_size=arg.count(high=4096))
def train_digits_mlp_seeds(mode: str, lr: float, num_seeds: int = 5, num_steps: int = 1500,
                           loss_scale: float = 1024.0, batch_size: int = 64) -> np.ndarray:
    """:func:`train_digits_mlp` for seeds ``0..num_seeds-1`` at once (weights stacked on a leading
    seed axis, batched matrix products); returns the test accuracies, shape ``(num_seeds,)``.

    Seed ``s`` draws its initial weights and its minibatches from ``torch.Generator(s)``.
    """
    import torch
    import torch.nn.functional as F

    X_tr, X_te, y_tr, y_te = _digits_split()
    gens = [torch.Generator().manual_seed(s) for s in range(num_seeds)]
    W = _stacked_init(gens)                                   # 4 tensors, each (S, ...)
    half = mode != "fp32"
    if mode == "fp16":
        W = [w.half() for w in W]                     # the weights themselves live in FP16
    scale = loss_scale if half else 1.0
    for _ in range(num_steps):
        idx = torch.stack([torch.randint(0, len(X_tr), (batch_size,), generator=g) for g in gens])
        xb = X_tr[idx].half() if half else X_tr[idx]                                  # (S, B, 64)
        P = [(w.half() if half else w).detach().clone().requires_grad_() for w in W]  # FP16 copy
        hidden = torch.relu(torch.bmm(xb, P[0]) + P[1][:, None])                      # (S, B, 64)
        logits = torch.bmm(hidden, P[2]) + P[3][:, None]                              # (S, B, 10)
        loss = F.cross_entropy(logits.float().reshape(-1, 10), y_tr[idx].reshape(-1),
                               reduction="sum") / batch_size          # FP32 loss, mean per seed
        (loss * scale).backward()                                     # scaled backward in FP16
        grads = [p.grad.float() / scale for p in P]                   # unscale in FP32
        finite = torch.stack([torch.isfinite(g).reshape(num_seeds, -1).all(1) for g in grads]).all(0)
        keep = [finite.reshape(-1, *[1] * (g.ndim - 1)) for g in grads]   # skip overflowing seeds
        if mode == "fp16":
            W = [torch.where(k, w - (lr * g).half(), w) for w, g, k in zip(W, grads, keep)]
        else:
            W = [torch.where(k, w - lr * g, w) for w, g, k in zip(W, grads, keep)]
    with torch.no_grad():
        Wf = [w.float() for w in W]
        hidden = torch.relu(torch.einsum("nd,sdh->snh", X_te, Wf[0]) + Wf[1][:, None])
        pred = (torch.bmm(hidden, Wf[2]) + Wf[3][:, None]).argmax(dim=2)              # (S, n)
    return (pred == y_te).float().mean(dim=1).numpy()
# endregion


@checked(lr=arg.positive(), num_seeds=arg.count(high=100), batch_size=arg.count(high=4096))
def swamped_fraction(lr: float, num_seeds: int = 5, batch_size: int = 64) -> np.ndarray:
    """Share of the first step's nonzero FP16 updates that rounding throws away, per seed.

    Same network, initial weights and first minibatch as :func:`train_digits_mlp_seeds`
    (seed ``s``): the weights are stored in FP16, the gradient is computed as in the
    ``"fp16"`` mode (loss scale 1024, unscaled in FP32), and an entry counts as swamped when
    its gradient is nonzero but the FP16 update ``w - half(lr * g)`` returns ``w`` unchanged.
    Returns shape ``(num_seeds,)``.
    """
    import torch
    import torch.nn.functional as F

    X_tr, _, y_tr, _ = _digits_split()
    gens = [torch.Generator().manual_seed(s) for s in range(num_seeds)]
    W = [w.half() for w in _stacked_init(gens)]                                  # (S, ...)
    idx = torch.stack([torch.randint(0, len(X_tr), (batch_size,), generator=g) for g in gens])
    P = [w.clone().requires_grad_() for w in W]
    hidden = torch.relu(torch.bmm(X_tr[idx].half(), P[0]) + P[1][:, None])         # (S, B, 64)
    logits = torch.bmm(hidden, P[2]) + P[3][:, None]                              # (S, B, 10)
    loss = F.cross_entropy(logits.float().reshape(-1, 10), y_tr[idx].reshape(-1), reduction="sum")
    (loss / batch_size * 1024.0).backward()
    lost, moved = torch.zeros(num_seeds), torch.zeros(num_seeds)
    for w, p in zip(W, P):
        g = p.grad.float() / 1024.0                                               # (S, ...)
        nonzero = (g != 0).reshape(num_seeds, -1)
        same = (w - (lr * g).half() == w).reshape(num_seeds, -1)                  # FP16 add
        lost += (same & nonzero).sum(1)
        moved += nonzero.sum(1)
    return (lost / moved).numpy()


def autocast_dtypes() -> dict[str, str]:
    """The dtype each op of a small classifier produces under ``torch.autocast("cpu", bfloat16)``.

    Autocast casts the inputs of matrix products to the low-precision type, runs the ops on
    its "FP32 list" (on CPU: the losses, ``prod``) in float32, and lets the rest follow their
    inputs. The parameter stays FP32 (the master weight) and so does its gradient.
    """
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(8, 16, generator=gen), torch.randn(16, 10, generator=gen, requires_grad=True)
    y = torch.randint(0, 10, (8,), generator=gen)
    out = {}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = x @ w                                             # matmul: cast to bfloat16
        ops = {"x @ w (matmul)": lambda: logits, "relu": lambda: torch.relu(logits),
               "softmax": lambda: F.softmax(logits, dim=1),
               "layer_norm": lambda: F.layer_norm(logits, (10,)),
               "sum": lambda: logits.sum(), "prod": lambda: logits[:, :3].prod(),
               "mse_loss": lambda: F.mse_loss(logits, torch.zeros(8, 10)),
               "cross_entropy": lambda: F.cross_entropy(logits, y)}
        out = {name: str(op().dtype).removeprefix("torch.") for name, op in ops.items()}
        loss = F.cross_entropy(logits, y)
    loss.backward()
    out["parameter w"] = str(w.dtype).removeprefix("torch.")
    out["gradient of w"] = str(w.grad.dtype).removeprefix("torch.")
    return out


@checked(ax=arg.axes(), formats=arg.sequence())
def draw_bit_layout(ax: object, formats: tuple[str, ...] = ("float32", "float16", "bfloat16")) -> None:
    """Draw one row of boxes per format: sign, exponent and fraction fields, one box per bit."""
    formats = [check_choice("formats", _format_name(f), tuple(FORMATS)) for f in formats]
    colors = {"sign": "#D55E00", "exponent": "#0072B2", "fraction": "#E69F00"}
    for row, name in enumerate(formats):
        fields = dict(zip(("sign", "exponent", "fraction"), FORMATS[name]))
        x = 0
        y = len(formats) - 1 - row
        for field, count in fields.items():
            for _ in range(count):
                ax.add_patch(Rectangle((x, y + 0.1), 1, 0.7, facecolor=colors[field], edgecolor="white", lw=0.8))
                x += 1
            ax.text(x - count / 2, y + 0.45, f"{count}" if count > 1 else "s", ha="center", va="center",
                    color="white", fontsize=9, fontweight="bold")
        ax.text(-0.6, y + 0.45, name, ha="right", va="center", fontsize=10)
    for field, color in colors.items():
        ax.plot([], [], "s", color=color, ms=10, label=field)
    ax.set_xlim(-7, 33)
    ax.set_ylim(-0.1, len(formats))
    ax.set_axis_off()


@checked(K=arg.int(0, 64), grads=arg.array(ndim=1))
def draw_loss_scaling(grads: object, K: int):
    """Histogram of ``log2 |grads * 2^K|`` against FP16's ranges, as a figure.

    ``grads`` (n,) are nonzero gradient values. The bins have unit width on the ``log2`` axis
    (-50 to 40), so scaling by ``S = 2^K`` shifts the counts by exactly ``K`` bins. Shaded: the
    subnormal range (gray) and the normal range up to 65504 (green). The title gives
    :func:`underflow_fraction` at that scale.
    """
    from mlnotes.plotting import COLORS, new_figure

    f = underflow_fraction(grads, 2.0**K)            # also checks grads: 1-D, finite, nonzero
    g = grads                                             # (n,)
    edges = np.arange(-50.0, 41.0)                                                      # (91,)
    counts = np.histogram(np.log2(np.abs(g)), bins=edges)[0]                            # (90,)
    fig, ax = new_figure(width=6, height=3)
    ax.stairs(counts, edges + K, fill=True, color=COLORS[0])
    ax.axvspan(-24, -14, color="gray", alpha=0.2)
    ax.axvspan(-14, np.log2(65504), color=COLORS[2], alpha=0.15)
    ax.set(xlabel=r"$\log_2$ |scaled gradient|", ylabel="count", xlim=(-50, 40))
    ax.set_title(f"$S = 2^{{{K}}}$: zero {f['zero']:.1%}, subnormal {f['subnormal']:.1%}, "
                 f"inf {f['inf']:.1%}", fontsize=10)
    return fig

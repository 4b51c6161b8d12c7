"""Positional encodings for attention: sinusoidal tables, rotary embeddings (RoPE) and
relative-position biases (Shaw et al. clipping, T5 buckets, ALiBi-style slopes).

``t5_bucket`` is re-exported as ``mlnotes.t5.relative_position_bucket``.
Conventions: a sequence of ``n`` vectors of even width ``d``; frequencies
``theta_i = base^(-2i/d)`` for ``i = 0 .. d/2 - 1``; angles are computed in float64
(``m * theta_i`` for large ``m`` loses precision in float32). Relative offsets follow T5:
``rel = key_position - query_position``.
"""

from __future__ import annotations

import math

import numpy as np

from mlnotes.flash_attention import naive_attention
from mlnotes.validate import check_int, checked, arg

__all__ = ["rope_freqs", "rope", "rope_matrix", "half_to_interleaved_perm",
           "rope_decay_curve", "attention", "linear_attention_rope", "sinusoidal",
           "t5_bucket", "relative_positions", "shaw_logits", "alibi_bias",
           "train_offset_retrieval", "draw_rope_frame"]

LAYOUTS = ("interleaved", "half")


# Argument rules: widths come in pairs; a base above 1; float matrices keep their precision.
_DIM = arg.int(2, 2**16, multiple_of=2)
_BASE = arg.real(1.0, low_open=True)
_FLOATS = dict(dtype=None, floating=True)


# ----------------------------------------------------------------------------- RoPE
@checked(d=_DIM, base=_BASE)
def rope_freqs(d: int, base: float = 1e4) -> np.ndarray:
    """Rotation frequencies ``theta_i = base^(-2i/d)`` for the ``d/2`` pairs, shape (d/2,), float64."""
    return base ** (-np.arange(0, d, 2, dtype=np.float64) / d)


def _angles(pos: object, shape: tuple[int, ...], d: int, base: float) -> np.ndarray:
    p = np.asarray(pos.detach().cpu().numpy() if hasattr(pos, "detach") else pos, dtype=np.float64)
    try:
        p = np.broadcast_to(p, shape[:-1])
    except ValueError:
        raise ValueError(f"pos of shape {p.shape} does not broadcast to the rows {shape[:-1]} of x") from None
    return p[..., None] * rope_freqs(d, base)  # (..., d/2), float64


@checked(x=arg.array(min_ndim=1, **_FLOATS, torch_ok=True), pos=arg.array(torch_ok=True), base=_BASE,
         layout=arg.choice(LAYOUTS))
def rope(x: object, pos: object, base: float = 1e4, layout: str = "interleaved") -> object:
    """Rotate every pair of coordinates of ``x`` (last axis, even width d) by ``pos * theta_i``.

    ``x``: numpy array or torch tensor ``(..., d)``; ``pos``: a scalar, or an array (e.g. one
    position per row, shape ``(n,)``) broadcast to ``x.shape[:-1]``. Pairs are ``(2i, 2i+1)`` for
    ``layout="interleaved"`` (RoFormer, LLaMA's complex form) or ``(i, i + d/2)`` for
    ``layout="half"`` (GPT-NeoX, ``rotate_half``). For a pair ``(a, b)`` and angle ``phi``:
    ``(a cos phi - b sin phi, a sin phi + b cos phi)``. Returns the same type and dtype as ``x``.
    """
    is_torch = not isinstance(x, np.ndarray)
    d = check_int("x.shape[-1]", int(x.shape[-1]), 2, 2**16, multiple_of=2)     # pairs of features
    phi = _angles(pos, tuple(x.shape), d, base)
    cos, sin = np.cos(phi), np.sin(phi)
    if is_torch:
        import torch

        cos, sin = (torch.as_tensor(a, dtype=x.dtype, device=x.device) for a in (cos, sin))
        stack, cat = torch.stack, torch.cat
    else:
        cos, sin, stack, cat = cos.astype(x.dtype), sin.astype(x.dtype), np.stack, np.concatenate
    if layout == "interleaved":  # pairs (2i, 2i+1)
        a, b = x[..., 0::2], x[..., 1::2]
        return stack((a * cos - b * sin, a * sin + b * cos), -1).reshape(x.shape)
    a, b = x[..., : d // 2], x[..., d // 2:]  # pairs (i, i + d/2)
    return cat((a * cos - b * sin, a * sin + b * cos), -1)


@checked(m=arg.real(), d=_DIM, base=_BASE)
def rope_matrix(m: float, d: int, base: float = 1e4) -> np.ndarray:
    """Explicit block-diagonal rotation ``R_m`` (d, d) of the interleaved layout: block i is
    ``[[cos m theta_i, -sin m theta_i], [sin m theta_i, cos m theta_i]]``; ``rope(x, m) = x @ R_m.T``."""
    theta = rope_freqs(d, base)
    R = np.zeros((d, d))
    c, s = np.cos(m * theta), np.sin(m * theta)
    idx = np.arange(0, d, 2)
    R[idx, idx], R[idx, idx + 1], R[idx + 1, idx], R[idx + 1, idx + 1] = c, -s, s, c
    return R


@checked(d=_DIM)
def half_to_interleaved_perm(d: int) -> np.ndarray:
    """Permutation ``perm`` with ``rope(x[..., perm], p, layout="half") == rope(x, p)[..., perm]``.

    ``perm = [0, 2, 4, ..., 1, 3, 5, ...]``: half-layout slot ``i`` holds interleaved dim ``2i`` and
    slot ``i + d/2`` holds dim ``2i + 1``. Porting weights between layouts needs this on q and k.
    """
    return np.concatenate((np.arange(0, d, 2), np.arange(1, d, 2)))


@checked(d=_DIM, base=_BASE, max_dist=arg.int(1, 10**6))
def rope_decay_curve(d: int, base: float = 1e4, max_dist: int = 256) -> np.ndarray:
    """The RoFormer long-range bound ``(1/(d/2)) sum_j |S_j(r)|`` for ``r = 0 .. max_dist``.

    ``S_j(r) = sum_{i<j} exp(1j * r * theta_i)`` for ``j = 1 .. d/2`` (partial sums of unit phasors).
    At ``r = 0`` every term is 1, so the value is ``(d/2 + 1) / 2``. Shape ``(max_dist + 1,)``.
    """
    theta = rope_freqs(d, base)
    r = np.arange(max_dist + 1, dtype=np.float64)[:, None]
    S = np.cumsum(np.exp(1j * r * theta), axis=1)  # S_1 .. S_{d/2}
    return np.abs(S).mean(axis=1)


def attention(Q: np.ndarray, K: np.ndarray, V: np.ndarray, bias: np.ndarray | None = None,
              causal: bool = False) -> np.ndarray:
    """Reference softmax attention ``softmax(Q K^T / sqrt(d) + bias) V`` (see ``mlnotes.flash_attention``)."""
    return naive_attention(Q, K, V, causal=causal, bias=bias)


def _elu1(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


@checked(Q=arg.array(shape=("N", "d"), **_FLOATS), K=arg.array(shape=("N", "d"), **_FLOATS),
         V=arg.array(shape=("N", "dv"), **_FLOATS), base=_BASE, rotate=arg.bool())
def linear_attention_rope(Q: np.ndarray, K: np.ndarray, V: np.ndarray, base: float = 1e4,
                          rotate: bool = True) -> np.ndarray:
    """Non-causal linear attention with RoPE in the numerator only, in O(N d^2).

    With ``phi = elu + 1`` and positions ``0 .. N-1``:
    ``o_i = (R_i phi(q_i))^T [sum_j (R_j phi(k_j)) v_j^T] / (phi(q_i)^T sum_j phi(k_j))``.
    The denominator stays un-rotated so it is positive. Shapes: Q, K (N, d), V (N, dv).
    """
    fq, fk = _elu1(Q), _elu1(K)
    pos = np.arange(Q.shape[0])
    rq, rk = (rope(fq, pos, base), rope(fk, pos, base)) if rotate else (fq, fk)
    numerator = rq @ (rk.T @ V)  # (N, d) @ (d, dv): the N x N matrix is never formed
    denominator = fq @ fk.sum(axis=0)
    return numerator / denominator[:, None]


# ----------------------------------------------------------------------------- absolute and relative schemes
@checked(n=arg.int(1, 10**6), d=_DIM, base=_BASE, layout=arg.choice(("interleaved", "concat")))
def sinusoidal(n: int, d: int, base: float = 1e4, layout: str = "interleaved") -> np.ndarray:
    """Sinusoidal table (n, d): ``p[k, 2i] = sin(k theta_i)``, ``p[k, 2i+1] = cos(k theta_i)``
    (``layout="interleaved"``) or ``[sin(k theta) | cos(k theta)]`` (``layout="concat"``)."""
    phi = np.arange(n, dtype=np.float64)[:, None] * rope_freqs(d, base)
    if layout == "concat":
        return np.concatenate((np.sin(phi), np.cos(phi)), axis=1)
    return np.stack((np.sin(phi), np.cos(phi)), axis=-1).reshape(n, d)


@checked(rel=arg.array(integer=True), bidirectional=arg.bool(), num_buckets=arg.int(2), max_distance=arg.int(1))
def t5_bucket(rel: object, bidirectional: bool = True, num_buckets: int = 32,
              max_distance: int = 128) -> np.ndarray:
    """T5 relative-position bucket of ``rel = key_pos - query_pos`` (integer array, any shape).

    Bidirectional: half the buckets for ``rel > 0`` (offset by ``num_buckets/2``), half for
    ``rel <= 0``. Within a half of ``nb`` buckets, ``|rel| < nb/2`` gets its own bucket and larger
    distances get ``nb/2 + floor(log(|rel|/(nb/2)) / log(max_distance/(nb/2)) * nb/2)``, capped at
    ``nb - 1``. Causal (``bidirectional=False``): only ``rel <= 0`` counts, ``rel > 0`` -> bucket 0.
    A float64 version of HF ``T5Attention._relative_position_bucket``.
    """
    r = rel.astype(np.int64)
    buckets = np.zeros_like(r)
    if bidirectional:
        num_buckets //= 2
        buckets += (r > 0) * num_buckets
        r = np.abs(r)
    else:
        r = -np.minimum(r, 0)
    max_exact = num_buckets // 2
    if max_exact < 1 or max_distance <= max_exact:
        raise ValueError(f"need num_buckets >= {4 if bidirectional else 2} and max_distance > {max_exact}")
    with np.errstate(divide="ignore"):  # log(0) for rel = 0 lands in the 'small' branch anyway
        large = max_exact + (np.log(r / max_exact) / math.log(max_distance / max_exact)
                             * (num_buckets - max_exact))
    large = np.minimum(np.where(r < max_exact, 0, large).astype(np.int64), num_buckets - 1)
    return buckets + np.where(r < max_exact, r, large)


@checked(n=arg.int(1, 10**4))
def relative_positions(n: int) -> np.ndarray:
    """Matrix ``rel[i, j] = j - i`` (key minus query), shape (n, n), int64."""
    return np.arange(n)[None, :] - np.arange(n)[:, None]


@checked(Q=arg.array(shape=("n", "d"), **_FLOATS), K=arg.array(shape=("n", "d"), **_FLOATS), clip=arg.int(0),
         rel_emb=arg.array(shape=("2 * clip + 1", "d"), **_FLOATS))
def shaw_logits(Q: np.ndarray, K: np.ndarray, rel_emb: np.ndarray, clip: int) -> np.ndarray:
    """Shaw et al. logits ``(q_i . k_j + q_i . a_{clip(j - i)}) / sqrt(d)``, shape (n, n).

    ``rel_emb`` (2 clip + 1, d) holds ``a_{-clip} .. a_{clip}``: offsets beyond ``clip`` share the
    end vectors, so 2 clip + 1 vectors serve any sequence length.
    """
    A = rel_emb[np.clip(relative_positions(Q.shape[0]), -clip, clip) + clip]  # (n, n, d) gathered
    return (Q @ K.T + np.einsum("id,ijd->ij", Q, A)) / math.sqrt(Q.shape[1])


@checked(slope=arg.real(0.0))
def alibi_bias(n: int, slope: float) -> np.ndarray:
    """Symmetric linear distance penalty ``-slope * |i - j|``, shape (n, n) (ALiBi-style)."""
    return -float(slope) * np.abs(relative_positions(n)).astype(np.float64)


# ----------------------------------------------------------------------------- experiment
def _rope_torch(x, pos, base: float = 1e4):
    import torch

    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = (pos[:, None].double() * theta[None]).float()                  # (T, d/2)
    cos = torch.cos(angle).repeat_interleave(2, -1)
    sin = torch.sin(angle).repeat_interleave(2, -1)
    rotated = torch.stack((-x[..., 1::2], x[..., 0::2]), -1).flatten(-2)   # (.., -b, a, ..)
    return x * cos + rotated * sin


@checked(method=arg.choice(("rope", "sinusoidal")), seed=arg.int(0), offset=arg.int(1))
def train_offset_retrieval(method: str, seed: int = 0, offset: int = 3, vocab: int = 16,
                           d: int = 16, train_len: int = 24, steps: int = 300,
                           test_lens: tuple[int, ...] = (24, 48, 96)) -> list[float]:
    """Train one causal attention layer to output the token ``offset`` places back, with
    positions from ``method`` ("rope" on q and k, or "sinusoidal" added to the input), on
    sequences of ``train_len`` random tokens; return its accuracy at each test length.

    The target depends only on the relative position, so a relative encoding should keep
    working on sequences longer than any seen in training.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    emb = torch.nn.Embedding(vocab, d)
    layers = torch.nn.ModuleList([torch.nn.Linear(d, d) for _ in range(3)])  # q, k, v
    out = torch.nn.Linear(d, vocab)
    params = list(emb.parameters()) + list(layers.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)

    def forward(x):                                                        # x: (B, T)
        T = x.shape[1]
        h = emb(x)                                                         # (B, T, d)
        if method == "sinusoidal":
            h = h + torch.from_numpy(sinusoidal(T, d)).float()
        q, k, v = (layer(h) for layer in layers)
        if method == "rope":
            q, k = _rope_torch(q, torch.arange(T)), _rope_torch(k, torch.arange(T))
        s = (q @ k.transpose(-1, -2)) / d ** 0.5                           # (B, T, T)
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        return out(torch.softmax(s, -1) @ v)                               # (B, T, vocab)

    for _ in range(steps):
        x = torch.randint(0, vocab, (16, train_len), generator=g)
        logits = forward(x)[:, offset:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab),
                                                 x[:, :-offset].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    accuracy = []
    with torch.no_grad():
        for T in test_lens:
            x = torch.randint(0, vocab, (64, T), generator=g)
            pred = forward(x)[:, offset:].argmax(-1)
            accuracy.append(float((pred == x[:, :-offset]).float().mean()))
    return accuracy


def _base_label(base: float) -> str:
    """A RoPE base for a legend: ``$10^{4}$`` for a power of ten, else ``f"{base:g}"``."""
    exponent = float(np.log10(base))
    return f"$10^{{{exponent:.0f}}}$" if exponent == round(exponent) else f"{base:g}"


@checked(q=arg.array(shape=("d",)), k=arg.array(shape=("d",)), m=arg.int(0, 10**6), n=arg.int(0, 10**6),
         layout=arg.choice(LAYOUTS), curves=arg.mapping())
def draw_rope_frame(q: np.ndarray, k: np.ndarray, m: int, n: int, layout: str,
                    curves: dict) -> object:
    """Explorer frame: the fastest and slowest rotated pairs of ``q`` (at ``m``) and ``k``
    (at ``n``) in the given layout, and the decay bounds of ``curves`` (base -> curve) with
    the offset marked; the score is in the figure title."""
    from mlnotes.plotting import COLORS, new_figure

    d = check_int("q.shape[-1]", q.shape[-1], 2, 2**16, multiple_of=2)
    rq, rk = rope(q, m, layout=layout), rope(k, n, layout=layout)
    fig, axes = new_figure(ncols=3, width=7.8, height=2.7)
    for ax, pair in zip(axes[:2], (0, d // 2 - 1)):
        i, j = (2 * pair, 2 * pair + 1) if layout == "interleaved" else (pair, pair + d // 2)
        for v, name, color in [(rq, "q", COLORS[0]), (rk, "k", COLORS[1])]:
            ax.annotate("", xy=(v[i], v[j]), xytext=(0, 0),
                        arrowprops=dict(arrowstyle="->", color=color, lw=2))
        ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xlabel=f"coordinate {i}",
               ylabel=f"coordinate {j}", title=f"pair {pair} ($q$ blue, $k$ orange)")
    for (base, curve), color in zip(curves.items(), COLORS[2:]):
        axes[2].plot(curve, color=color, label=f"base {_base_label(base)}")
    axes[2].axvline(abs(m - n), color="black", ls=":", label=f"$|m - n|$ = {abs(m - n)}")
    axes[2].set(xlabel="relative distance (tokens)", ylabel="decay bound",
                title="decay bound by base")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"{layout} layout, $m$ = {m}, $n$ = {n}: score $\\langle R_m q, R_n k\\rangle$ "
                 f"= {rq @ rk:.3f}", fontsize=10)
    return fig

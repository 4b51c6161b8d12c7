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
from mlnotes.validate import check_array, check_int, checked, arg

__all__ = ["rope_freqs", "rope", "rope_matrix", "half_to_interleaved_perm",
           "rope_decay_curve", "attention", "linear_attention_rope", "sinusoidal",
           "t5_bucket", "relative_positions", "shaw_logits", "alibi_bias",
           "train_offset_retrieval", "draw_rope_frame"]

LAYOUTS = ("interleaved", "half")


# ----------------------------------------------------------------------------- validation
def _check_dim(d: object) -> int:
    d = check_int("d", d, 2, 2**16)
    if d % 2:
        raise ValueError(f"d must be an even int >= 2 (dimensions come in pairs), got {d}")
    return d


def _check_base(base: object) -> float:
    if isinstance(base, bool) or not isinstance(base, (int, float, np.integer, np.floating)):
        raise TypeError(f"base must be a number, got {type(base).__name__}")
    if not (math.isfinite(base) and base > 1):
        raise ValueError(f"base must be a finite number > 1, got {base}")
    return float(base)


def _check_layout(layout: object, allowed: tuple[str, ...]) -> str:
    if layout not in allowed:
        raise ValueError(f"layout must be one of {allowed}, got {layout!r}")
    return str(layout)


def _as_float_matrix(x: object, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {x.dtype}")
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


# ----------------------------------------------------------------------------- RoPE
def rope_freqs(d: int, base: float = 1e4) -> np.ndarray:
    """Rotation frequencies ``theta_i = base^(-2i/d)`` for the ``d/2`` pairs, shape (d/2,), float64."""
    d, base = _check_dim(d), _check_base(base)
    return base ** (-np.arange(0, d, 2, dtype=np.float64) / d)


def _angles(pos: object, shape: tuple[int, ...], d: int, base: float) -> np.ndarray:
    p = pos.detach().cpu().numpy() if hasattr(pos, "detach") else pos
    p = check_array("pos", p, dtype=np.float64)             # real, finite, non-empty
    try:
        p = np.broadcast_to(p, shape[:-1])
    except ValueError:
        raise ValueError(f"pos of shape {p.shape} does not broadcast to the rows {shape[:-1]} of x") from None
    return p[..., None] * rope_freqs(d, base)  # (..., d/2), float64


def rope(x: object, pos: object, base: float = 1e4, layout: str = "interleaved") -> object:
    """Rotate every pair of coordinates of ``x`` (last axis, even width d) by ``pos * theta_i``.

    ``x``: numpy array or torch tensor ``(..., d)``; ``pos``: a scalar, or an array (e.g. one
    position per row, shape ``(n,)``) broadcast to ``x.shape[:-1]``. Pairs are ``(2i, 2i+1)`` for
    ``layout="interleaved"`` (RoFormer, LLaMA's complex form) or ``(i, i + d/2)`` for
    ``layout="half"`` (GPT-NeoX, ``rotate_half``). For a pair ``(a, b)`` and angle ``phi``:
    ``(a cos phi - b sin phi, a sin phi + b cos phi)``. Returns the same type and dtype as ``x``.
    """
    layout = _check_layout(layout, LAYOUTS)
    is_torch = hasattr(x, "detach") and hasattr(x, "dtype") and not isinstance(x, np.ndarray)
    if not is_torch and not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array or a torch tensor, got {type(x).__name__}")
    if not (x.dtype.is_floating_point if is_torch else np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"x must hold floats, got dtype {x.dtype}")
    if x.ndim < 1:
        raise ValueError("x must have at least one axis (the feature axis)")
    if not is_torch:
        check_array("x", x, min_ndim=1)                    # finite values
    d = _check_dim(int(x.shape[-1]))
    phi = _angles(pos, tuple(x.shape), d, _check_base(base))
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


def rope_matrix(m: float, d: int, base: float = 1e4) -> np.ndarray:
    """Explicit block-diagonal rotation ``R_m`` (d, d) of the interleaved layout: block i is
    ``[[cos m theta_i, -sin m theta_i], [sin m theta_i, cos m theta_i]]``; ``rope(x, m) = x @ R_m.T``."""
    if isinstance(m, bool) or not isinstance(m, (int, float, np.integer, np.floating)) or not math.isfinite(m):
        raise TypeError(f"m must be a finite number, got {m!r}")
    theta = rope_freqs(d, base)
    R = np.zeros((d, d))
    c, s = np.cos(m * theta), np.sin(m * theta)
    idx = np.arange(0, d, 2)
    R[idx, idx], R[idx, idx + 1], R[idx + 1, idx], R[idx + 1, idx + 1] = c, -s, s, c
    return R


def half_to_interleaved_perm(d: int) -> np.ndarray:
    """Permutation ``perm`` with ``rope(x[..., perm], p, layout="half") == rope(x, p)[..., perm]``.

    ``perm = [0, 2, 4, ..., 1, 3, 5, ...]``: half-layout slot ``i`` holds interleaved dim ``2i`` and
    slot ``i + d/2`` holds dim ``2i + 1``. Porting weights between layouts needs this on q and k.
    """
    d = _check_dim(d)
    return np.concatenate((np.arange(0, d, 2), np.arange(1, d, 2)))


@checked(max_dist=arg.int(1, 10**6))
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


def linear_attention_rope(Q: np.ndarray, K: np.ndarray, V: np.ndarray, base: float = 1e4,
                          rotate: bool = True) -> np.ndarray:
    """Non-causal linear attention with RoPE in the numerator only, in O(N d^2).

    With ``phi = elu + 1`` and positions ``0 .. N-1``:
    ``o_i = (R_i phi(q_i))^T [sum_j (R_j phi(k_j)) v_j^T] / (phi(q_i)^T sum_j phi(k_j))``.
    The denominator stays un-rotated so it is positive. Shapes: Q, K (N, d), V (N, dv).
    """
    Q, K, V = (_as_float_matrix(a, n) for a, n in ((Q, "Q"), (K, "K"), (V, "V")))
    if Q.shape != K.shape or K.shape[0] != V.shape[0]:
        raise ValueError(f"need Q, K of equal shape (N, d) and V with N rows, got {Q.shape}, {K.shape}, {V.shape}")
    fq, fk = _elu1(Q), _elu1(K)
    pos = np.arange(Q.shape[0])
    rq, rk = (rope(fq, pos, base), rope(fk, pos, base)) if rotate else (fq, fk)
    numerator = rq @ (rk.T @ V)  # (N, d) @ (d, dv): the N x N matrix is never formed
    denominator = fq @ fk.sum(axis=0)
    return numerator / denominator[:, None]


# ----------------------------------------------------------------------------- absolute and relative schemes
@checked(n=arg.int(1, 10**6))
def sinusoidal(n: int, d: int, base: float = 1e4, layout: str = "interleaved") -> np.ndarray:
    """Sinusoidal table (n, d): ``p[k, 2i] = sin(k theta_i)``, ``p[k, 2i+1] = cos(k theta_i)``
    (``layout="interleaved"``) or ``[sin(k theta) | cos(k theta)]`` (``layout="concat"``)."""
    layout = _check_layout(layout, ("interleaved", "concat"))
    phi = np.arange(n, dtype=np.float64)[:, None] * rope_freqs(d, base)
    if layout == "concat":
        return np.concatenate((np.sin(phi), np.cos(phi)), axis=1)
    return np.stack((np.sin(phi), np.cos(phi)), axis=-1).reshape(n, d)


@checked(num_buckets=arg.int(2), max_distance=arg.int(1))
def t5_bucket(rel: object, bidirectional: bool = True, num_buckets: int = 32,
              max_distance: int = 128) -> np.ndarray:
    """T5 relative-position bucket of ``rel = key_pos - query_pos`` (integer array, any shape).

    Bidirectional: half the buckets for ``rel > 0`` (offset by ``num_buckets/2``), half for
    ``rel <= 0``. Within a half of ``nb`` buckets, ``|rel| < nb/2`` gets its own bucket and larger
    distances get ``nb/2 + floor(log(|rel|/(nb/2)) / log(max_distance/(nb/2)) * nb/2)``, capped at
    ``nb - 1``. Causal (``bidirectional=False``): only ``rel <= 0`` counts, ``rel > 0`` -> bucket 0.
    A float64 version of HF ``T5Attention._relative_position_bucket``.
    """
    if hasattr(rel, "detach"):
        raise TypeError("rel must be a numpy integer array, got a torch tensor")
    r = np.asarray(rel)
    if r.dtype == bool or not np.issubdtype(r.dtype, np.integer):
        raise TypeError(f"rel must hold integers, got dtype {r.dtype}")
    if r.size == 0:
        raise ValueError("rel must be non-empty")
    r = r.astype(np.int64)
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


@checked(clip=arg.int(0))
def shaw_logits(Q: np.ndarray, K: np.ndarray, rel_emb: np.ndarray, clip: int) -> np.ndarray:
    """Shaw et al. logits ``(q_i . k_j + q_i . a_{clip(j - i)}) / sqrt(d)``, shape (n, n).

    ``rel_emb`` (2 clip + 1, d) holds ``a_{-clip} .. a_{clip}``: offsets beyond ``clip`` share the
    end vectors, so 2 clip + 1 vectors serve any sequence length.
    """
    Q, K, rel_emb = _as_float_matrix(Q, "Q"), _as_float_matrix(K, "K"), _as_float_matrix(rel_emb, "rel_emb")
    if Q.shape != K.shape:
        raise ValueError(f"Q and K must have the same shape (n, d), got {Q.shape} and {K.shape}")
    if rel_emb.shape != (2 * clip + 1, Q.shape[1]):
        raise ValueError(f"rel_emb must have shape {(2 * clip + 1, Q.shape[1])} for clip={clip}, got {rel_emb.shape}")
    A = rel_emb[np.clip(relative_positions(Q.shape[0]), -clip, clip) + clip]  # (n, n, d) gathered
    return (Q @ K.T + np.einsum("id,ijd->ij", Q, A)) / math.sqrt(Q.shape[1])


def alibi_bias(n: int, slope: float) -> np.ndarray:
    """Symmetric linear distance penalty ``-slope * |i - j|``, shape (n, n) (ALiBi-style)."""
    if isinstance(slope, bool) or not isinstance(slope, (int, float, np.integer, np.floating)):
        raise TypeError(f"slope must be a number, got {type(slope).__name__}")
    if not (math.isfinite(slope) and slope >= 0):
        raise ValueError(f"slope must be a finite number >= 0, got {slope}")
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


@checked(seed=arg.int(0), offset=arg.int(1))
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

    if method not in ("rope", "sinusoidal"):
        raise ValueError(f"method must be 'rope' or 'sinusoidal', got {method!r}")
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


@checked(q=arg.array(ndim=1), k=arg.array(ndim=1), m=arg.int(0, 10**6), n=arg.int(0, 10**6))
def draw_rope_frame(q: np.ndarray, k: np.ndarray, m: int, n: int, layout: str,
                    curves: dict) -> object:
    """Explorer frame: the fastest and slowest rotated pairs of ``q`` (at ``m``) and ``k``
    (at ``n``) in the given layout, and the decay bounds of ``curves`` (base -> curve) with
    the offset marked; the score is in the figure title."""
    from mlnotes.plotting import COLORS, new_figure

    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape, got {q.shape} and {k.shape}")
    layout = _check_layout(layout, LAYOUTS)
    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict base -> decay curve")
    d = _check_dim(q.shape[-1])
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

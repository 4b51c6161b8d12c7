"""Exact attention, online softmax and a tiled (FlashAttention-style) forward and backward.

Everything is numpy and single-head: ``Q`` has shape
``(N, d)``, ``K`` has shape ``(Nk, d)`` and ``V`` has shape ``(Nk, dv)``; the output has shape
``(N, dv)``. With ``scale = 1 / sqrt(d)``,

    S = scale * Q K^T,   P = softmax(S) row-wise,   O = P V.

The tiled functions never build the ``N x Nk`` matrices ``S`` or ``P``: they keep, per query
row, a running maximum ``m``, a running denominator ``ell = sum_j exp(S_j - m)`` and a running
unnormalised output ``acc = sum_j exp(S_j - m) V_j`` (an :class:`AttentionState`), and merge
states tile by tile with :func:`merge_states`. ``causal=True`` masks key ``j > i`` for query
``i`` (the top-left aligned mask of ``scaled_dot_product_attention(..., is_causal=True)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlnotes.validate import checked, arg

__all__ = ["naive_attention", "naive_softmax", "online_softmax",
           "AttentionState", "attention_state", "merge_states", "flash_attention_forward",
           "flash_attention_backward", "flash_block_sizes", "hbm_traffic",
           "fa1_traffic_count", "draw_tile_schedule"]

# Argument rules. Matrices keep their precision (float32 stays float32: the chapter shows where
# it overflows); logits may hold -inf, which marks a masked entry.
_MATRIX = dict(dtype=None, floating=True)
_QKV = dict(Q=arg.array(shape=("N", "d"), **_MATRIX), K=arg.array(shape=("Nk", "d"), **_MATRIX),
            V=arg.array(shape=("Nk", "dv"), **_MATRIX), scale=arg.optional(arg.positive()))
_LOGITS = arg.array(ndim=1, finite="-inf")


# ----------------------------------------------------------------------------- reference
@checked(**_QKV, bias=arg.optional(arg.array(shape=("N", "Nk"), finite="-inf", **_MATRIX)))
def naive_attention(Q: np.ndarray, K: np.ndarray, V: np.ndarray, causal: bool = False,
                    scale: float | None = None, shift_max: bool = True,
                    bias: np.ndarray | None = None) -> np.ndarray:
    """Reference attention ``softmax(scale * Q K^T + bias) V`` that builds the full ``(N, Nk)`` matrices.

    ``bias`` (optional, shape ``(N, Nk)``) is added to the scaled logits before the softmax:
    relative-position schemes (T5, ALiBi) enter attention this way.

    ``shift_max=False`` computes ``exp(S) / sum exp(S)`` without subtracting the row maximum:
    it overflows to ``inf / inf = nan`` once a logit passes about 709 (float64) or 88 (float32).
    That is shown on purpose, so floating-point warnings are silenced for that path only.
    """
    scale = 1.0 / math.sqrt(Q.shape[1]) if scale is None else scale
    S = scale * (Q @ K.T)
    if bias is not None:
        S = S + bias
    if causal:
        S = np.where(np.tri(*S.shape, dtype=bool), S, -np.inf)
    if shift_max:
        m = S.max(axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        E = np.exp(S - m)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            E = np.exp(S)
    with np.errstate(invalid="ignore", divide="ignore"):
        P = E / E.sum(axis=1, keepdims=True)
        return P @ V


@checked(x=_LOGITS)
def naive_softmax(x: object) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` with no max shift: overflows to nan for logits above ~709."""
    a = x
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(a)
        return e / e.sum()


@checked(x=_LOGITS)
def online_softmax(x: object) -> tuple[np.ndarray, float, float]:
    """Softmax of a 1-D vector with the normaliser computed in ONE pass: ``(p, m, ell)``.

    Pass 1 keeps the running max ``m_i = max(m_{i-1}, x_i)`` and the running denominator
    ``ell_i = ell_{i-1} exp(m_{i-1} - m_i) + exp(x_i - m_i)``, starting from ``m_0 = -inf, ell_0 = 0``.
    Pass 2 normalises: ``p_j = exp(x_j - m) / ell``. Also ``m + log ell = logsumexp(x)``.
    """
    a = x
    if np.isinf(a).all():
        raise ValueError("x is all -inf: softmax is undefined")
    # region: online-softmax
    m, ell = -math.inf, 0.0
    for xi in a.tolist():
        if xi == -math.inf:  # a masked entry adds exp(-inf) = 0; skipping avoids exp(-inf + inf)
            continue
        m_new = max(m, xi)
        ell = ell * math.exp(m - m_new) + math.exp(xi - m_new)
        m = m_new
    return np.exp(a - m) / ell, m, ell
    # endregion


# ----------------------------------------------------------------------------- states
@dataclass
class AttentionState:
    """Running summary of attention over a set of keys, for each of ``n`` query rows.

    ``m`` (n,): max logit seen; ``ell`` (n,): ``sum_j exp(S_j - m)``; ``acc`` (n, dv):
    ``sum_j exp(S_j - m) V_j``. The attention output is ``acc / ell`` and the row
    logsumexp is ``m + log ell``. An empty state has ``m = -inf, ell = 0, acc = 0``.
    """

    m: np.ndarray
    ell: np.ndarray
    acc: np.ndarray

    @property
    def output(self) -> np.ndarray:
        """``acc / ell``: the attention output over the keys summarised so far, shape (n, dv)."""
        return self.acc / self.ell[:, None]

    @property
    def logsumexp(self) -> np.ndarray:
        """``m + log ell``: the row logsumexp of the logits summarised so far, shape (n,)."""
        return self.m + np.log(self.ell)


def _empty_state(n: int, dv: int, dtype: np.dtype) -> AttentionState:
    return AttentionState(np.full(n, -np.inf, dtype), np.zeros(n, dtype), np.zeros((n, dv), dtype))


def _tile_state(S: np.ndarray, V: np.ndarray) -> AttentionState:
    m = S.max(axis=1)
    m_safe = np.where(np.isfinite(m), m, 0.0).astype(S.dtype)  # fully masked row: exp(-inf) = 0
    E = np.exp(S - m_safe[:, None])
    return AttentionState(m, E.sum(axis=1), E @ V)


def _merge(a: AttentionState, b: AttentionState) -> AttentionState:
    m = np.maximum(a.m, b.m)
    m_safe = np.where(np.isfinite(m), m, 0.0).astype(m.dtype)
    alpha = np.exp(np.where(np.isfinite(a.m), a.m - m_safe, -np.inf))
    beta = np.exp(np.where(np.isfinite(b.m), b.m - m_safe, -np.inf))
    return AttentionState(m, a.ell * alpha + b.ell * beta, a.acc * alpha[:, None] + b.acc * beta[:, None])


@checked(S=arg.array(shape=("n", "k"), finite="-inf", **_MATRIX), V=arg.array(shape=("k", "dv"), **_MATRIX))
def attention_state(S: np.ndarray, V: np.ndarray) -> AttentionState:
    """Summarise logits ``S`` (n, k) over values ``V`` (k, dv) as an :class:`AttentionState`.

    ``-inf`` entries of ``S`` are masked keys; a row that is entirely ``-inf`` gives the empty state.
    """
    return _tile_state(S, V)


@checked(a=arg.instance(AttentionState), b=arg.instance(AttentionState))
def merge_states(a: AttentionState, b: AttentionState) -> AttentionState:
    """Combine the summaries of two disjoint key sets into the summary of their union.

    With ``m = max(m_a, m_b)``: ``ell = ell_a e^{m_a - m} + ell_b e^{m_b - m}`` and
    ``acc = acc_a e^{m_a - m} + acc_b e^{m_b - m}``. The merge is associative and
    commutative, with the empty state (``m = -inf``) as identity, so keys can be
    summarised in any grouping: one at a time (online softmax) or tile by tile.
    """
    if a.acc.shape != b.acc.shape or a.m.shape != b.m.shape:
        raise ValueError(f"states summarise different shapes: {a.acc.shape} and {b.acc.shape}")
    return _merge(a, b)


# ----------------------------------------------------------------------------- tiled attention
def _tile_logits(Q: np.ndarray, K: np.ndarray, r0: int, c0: int, scale: float, causal: bool) -> np.ndarray:
    S = scale * (Q @ K.T)
    if causal and c0 + K.shape[0] - 1 > r0:  # the tile crosses the diagonal: mask j > i
        rows = r0 + np.arange(Q.shape[0])[:, None]
        cols = c0 + np.arange(K.shape[0])[None, :]
        S = np.where(cols <= rows, S, -np.inf)
    return S


@checked(**_QKV, Br=arg.int(1), Bc=arg.int(1), stats=arg.optional(arg.instance(dict)))
def flash_attention_forward(Q: np.ndarray, K: np.ndarray, V: np.ndarray, Br: int = 16, Bc: int = 16,
                            causal: bool = False, scale: float | None = None,
                            stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tiled exact attention: returns ``O`` (N, dv) and the row logsumexp ``L`` (N,).

    For each block of ``Br`` query rows (kept "on chip"), stream blocks of ``Bc`` keys and
    values, turn each ``Br x Bc`` logit tile into an :class:`AttentionState` and merge it into
    the running state. Only ``O = acc / ell`` and ``L = m + log ell`` are written out. With
    ``causal=True`` tiles entirely above the diagonal are skipped. If ``stats`` is a dict it
    receives element counts of the simulated HBM traffic (``reads``, ``writes``) and the
    numbers of tiles ``computed`` and ``skipped``.
    """
    scale = 1.0 / math.sqrt(Q.shape[1]) if scale is None else scale
    N, Nk, dv = Q.shape[0], K.shape[0], V.shape[1]
    O = np.empty((N, dv), Q.dtype)
    L = np.empty(N, Q.dtype)
    reads = writes = computed = skipped = 0
    # region: forward-loop
    for r0 in range(0, N, Br):
        Qi = Q[r0:r0 + Br]
        reads += Qi.size
        state = _empty_state(Qi.shape[0], dv, Q.dtype)
        for c0 in range(0, Nk, Bc):
            if causal and c0 > r0 + Qi.shape[0] - 1:  # every key in the tile is in the future
                skipped += 1
                continue
            Kj, Vj = K[c0:c0 + Bc], V[c0:c0 + Bc]
            reads += Kj.size + Vj.size
            computed += 1
            state = _merge(state, _tile_state(_tile_logits(Qi, Kj, r0, c0, scale, causal), Vj))
        O[r0:r0 + Br] = state.output
        L[r0:r0 + Br] = state.logsumexp
        writes += O[r0:r0 + Br].size + Qi.shape[0]
    # endregion
    if stats is not None:
        stats.update(reads=reads, writes=writes, computed=computed, skipped=skipped)
    return O, L


@checked(**_QKV, O=arg.array(shape=("N", "dv"), **_MATRIX), L=arg.array(shape=("N",)),
         dO=arg.array(shape=("N", "dv"), **_MATRIX), Br=arg.int(1), Bc=arg.int(1))
def flash_attention_backward(Q: np.ndarray, K: np.ndarray, V: np.ndarray, O: np.ndarray, L: np.ndarray,
                             dO: np.ndarray, Br: int = 16, Bc: int = 16, causal: bool = False,
                             scale: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dQ, dK, dV)`` of attention by recomputation from ``Q, K, V, O, L, dO``.

    No ``P`` is stored: each tile ``P_ij = exp(S_ij - L_i)`` is recomputed from the saved row
    logsumexp ``L``. With ``D = rowsum(dO * O)``:
    ``dV = P^T dO``, ``dP = dO V^T``, ``dS = P * (dP - D)``, ``dQ = scale dS K``, ``dK = scale dS^T Q``.
    """
    scale = 1.0 / math.sqrt(Q.shape[1]) if scale is None else scale
    # region: backward-loop
    D = (dO * O).sum(axis=1)
    dQ, dK, dV = np.zeros_like(Q), np.zeros_like(K), np.zeros_like(V)
    for c0 in range(0, K.shape[0], Bc):  # outer loop over key/value tiles, as in FlashAttention
        Kj, Vj = K[c0:c0 + Bc], V[c0:c0 + Bc]
        for r0 in range(0, Q.shape[0], Br):
            rows = slice(r0, r0 + Br)
            if causal and c0 > r0 + Q[rows].shape[0] - 1:
                continue
            P = np.exp(_tile_logits(Q[rows], Kj, r0, c0, scale, causal) - L[rows, None])
            dV[c0:c0 + Bc] += P.T @ dO[rows]
            dS = P * (dO[rows] @ Vj.T - D[rows, None])
            dQ[rows] += scale * (dS @ Kj)
            dK[c0:c0 + Bc] += scale * (dS.T @ Q[rows])
    return dQ, dK, dV
    # endregion


# ----------------------------------------------------------------------------- IO accounting
@checked(d=arg.int(1, 10**5), M=arg.int(low="4 * d"), variant=arg.choice(("square", "fa1")))
def flash_block_sizes(d: int, M: int, variant: str = "square") -> tuple[int, int]:
    """Tile sizes ``(Br, Bc)`` for an on-chip memory of ``M`` elements and head size ``d``.

    ``"square"`` (this chapter's kernel): ``Br = Bc = floor(M / (4 d))``, so that the four
    tiles ``Q_i, K_j, V_j, O_i`` of ``B x d`` fit. ``"fa1"`` (FlashAttention-1, Algorithm 1):
    ``Bc = ceil(M / (4 d))`` and ``Br = min(ceil(M / (4 d)), d)``.
    """
    if variant == "square":
        return M // (4 * d), M // (4 * d)
    Bc = -(-M // (4 * d))
    return min(Bc, d), Bc


@checked(N=arg.int(1), d=arg.int(1, 10**5), M=arg.int(low="4 * d"), method=arg.choice(("naive", "flash", "fa1")),
         causal=arg.bool())
def hbm_traffic(N: int, d: int, M: int, method: str = "flash", causal: bool = False) -> int:
    """Elements read from plus written to HBM by one attention forward pass (one head), in
    closed form (derived from the algorithms' listings, not by running them).

    ``"naive"``: read Q, K (2Nd), write S (N^2), read S and write P (2N^2), read P and V
    (N^2 + Nd), write O (Nd): ``4 N^2 + 4 N d``, whatever ``M``.
    ``"flash"`` (this chapter: query tiles outside, key tiles inside, square tiles of
    ``B = floor(M / 4d)``, ``T = ceil(N / B)`` query tiles): Q read once, O and L written once
    (``2Nd + N``), K and V read once per query tile (``2 N d T``); with ``causal`` query
    tile ``i`` reads only key tiles ``0..i``: ``2 d (B T (T - 1) / 2 + N)``.
    ``"fa1"`` (FlashAttention-1: key tiles outside, query tiles inside, sizes from
    ``flash_block_sizes(d, M, "fa1")``, ``Tc = ceil(N / Bc)``): K and V read once (``2Nd``);
    per key tile every ``Q_i``, ``O_i``, ``l_i``, ``m_i`` is read and ``O_i, l_i, m_i``
    written: ``Tc (3 N d + 4 N)``. No causal variant.
    """
    if method == "naive":
        return 4 * N * N + 4 * N * d
    if method == "fa1":
        if causal:
            raise ValueError("method 'fa1' has no causal variant here; use 'flash' or causal=False")
        Tc = -(-N // flash_block_sizes(d, M, "fa1")[1])
        return 2 * N * d + Tc * (3 * N * d + 4 * N)
    B = flash_block_sizes(d, M)[0]
    T = -(-N // B)
    keys_read = B * T * (T - 1) // 2 + N if causal else N * T
    return 2 * N * d + N + 2 * d * keys_read


@checked(N=arg.int(1, 10**7), d=arg.int(1, 10**5), M=arg.int(low="4 * d"))
def fa1_traffic_count(N: int, d: int, M: int) -> int:
    """Elements moved by FlashAttention-1's Algorithm 1, tallied by walking its loops
    (outer over key tiles, inner over query tiles) without doing any arithmetic."""
    Br, Bc = flash_block_sizes(d, M, "fa1")
    moved = 0
    for c0 in range(0, N, Bc):
        cols = min(Bc, N - c0)
        moved += 2 * cols * d                     # load K_j, V_j
        for r0 in range(0, N, Br):
            rows = min(Br, N - r0)
            moved += rows * d + rows * d + 2 * rows   # load Q_i, O_i, l_i, m_i
            moved += rows * d + 2 * rows              # write O_i, l_i, m_i
    return moved


@checked(ax=arg.axes(), N=arg.int(1, 4096), tile=arg.int(low=1, high="N"), causal=arg.bool(), stats=arg.mapping())
def draw_tile_schedule(ax, N: int, tile: int, causal: bool, stats: dict) -> None:
    """Grid of ``B x B`` tiles: dark if computed in full, light if it crosses the causal
    diagonal (partly masked), blank if skipped."""
    if not {"computed", "skipped"} <= set(stats):
        raise ValueError("stats must be the dict filled by flash_attention_forward(stats=...)")
    T = -(-N // tile)
    rows, cols = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    kind = np.ones((T, T)) if not causal else np.where(
        cols < rows, 1.0, np.where(cols == rows, 0.5, np.nan))
    ax.imshow(kind, cmap="Blues", vmin=0, vmax=1.2, extent=(0, N, N, 0))
    ax.set(xlabel="key index", ylabel="query index", xlim=(0, N), ylim=(N, 0),
           title=f"$B$ = {tile}: {stats['computed']} tiles computed, {stats['skipped']} skipped")
    ax.set_xticks(np.arange(0, N + 1, tile), minor=True)
    ax.set_yticks(np.arange(0, N + 1, tile), minor=True)
    ax.grid(False)
    ax.grid(which="minor", color="white", lw=0.5)

"""Tiny pre-LN Transformers on core torch: attention, blocks, an encoder and a causal LM.

Everything is small enough to train on one CPU thread in seconds. Attention runs through
``F.scaled_dot_product_attention``; :func:`attention` is the plain softmax reference
``softmax(q k^T / sqrt(d_head) + mask) v`` that the tests and chapters compare it with.
Masks are boolean everywhere: ``True`` means "this query may look at this key".
"""

from __future__ import annotations

import math
import torch
import torch.nn.functional as F
from torch import nn

from mlnotes.validate import checked, arg

__all__ = ["TinyEncoder", "TinyGPT", "attention", "causal_mask", "freeze"]

Tensor = torch.Tensor


@checked(q=arg.tensor(shape=("...", "Lq", "d")), k=arg.tensor(shape=("...", "Lk", "d")),
         v=arg.tensor(shape=("...", "Lk", "dv")), mask=arg.optional(arg.tensor(bool_ok=True)))
def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Reference softmax attention ``softmax(q k^T / sqrt(d) + log mask) v``.

    ``q`` (..., Lq, d), ``k`` (..., Lk, d), ``v`` (..., Lk, dv); ``mask`` boolean,
    broadcastable to (..., Lq, Lk), True where the query may attend. Returns (..., Lq, dv).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be boolean (True = attend), got {mask.dtype}")
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


@checked(length=arg.count(high=10**5), prefix=arg.count(low=0, high=10**5), prefix_from=arg.count(low=0, high=10**5))
def causal_mask(length: int, prefix: int = 0, prefix_from: int = 0) -> Tensor:
    """Boolean (length, prefix + length) mask: queries see the ``prefix`` columns, then are causal.

    ``mask[i, prefix + j]`` is True iff ``j <= i``; ``mask[i, p]`` (a prefix column) is True iff
    ``i >= prefix_from``. With ``prefix_from = 0`` every query sees the prefix (prefix-tuning);
    with ``prefix_from = t`` only positions ``t`` and later do, as if the slots sat between
    positions ``t - 1`` and ``t`` (an *infix*).
    """
    content = torch.ones(length, length, dtype=torch.bool).tril()
    visible = (torch.arange(length) >= prefix_from)[:, None].expand(length, prefix)
    return torch.cat([visible, content], dim=1)


def _split_heads(x: Tensor, heads: int) -> Tensor:
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: self-attention, or cross-attention when ``memory`` is given.

    Queries come from ``x`` (B, L, d); keys and values from ``memory`` (B, M, d) or ``x``.
    ``prefix_kv=(pk, pv)`` with shapes (P, d) or (B, P, d) prepends P extra keys/values that
    every query may see (prefix-tuning); they get no projection and no position.
    """

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"d={d} must be divisible by heads={heads}")
        self.d, self.heads = d, heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)

    def project(self, x: Tensor, memory: Tensor | None = None,
                prefix_kv: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Per-head ``q`` (B, h, L, d/h) and ``k, v`` (B, h, P + M, d/h), prefix first."""
        source = x if memory is None else memory
        q = _split_heads(self.q(x), self.heads)
        k, v = self.kv(source).chunk(2, dim=-1)
        # region: prefix-kv
        if prefix_kv is not None:                      # P extra keys/values, no projection
            pk, pv = (p.expand(x.shape[0], -1, -1) if p.dim() == 2 else p for p in prefix_kv)
            k, v = torch.cat([pk, k], dim=1), torch.cat([pv, v], dim=1)   # (B, P + M, d)
        # endregion
        return q, _split_heads(k, self.heads), _split_heads(v, self.heads)

    def forward(self, x: Tensor, memory: Tensor | None = None, mask: Tensor | None = None,
                prefix_kv: tuple[Tensor, Tensor] | None = None) -> Tensor:
        q, k, v = self.project(x, memory, prefix_kv)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(x.shape))


class Block(nn.Module):
    """Pre-LN Transformer block: ``x + Attn(LN x)``, [``x + Cross(LN x, memory)``], ``x + FFN(LN x)``.

    FFN is ``Linear(d, d_ff) -> GELU -> Linear(d_ff, d)``; no dropout (tiny models, reproducible).
    """

    def __init__(self, d: int, heads: int, d_ff: int | None = None, cross: bool = False) -> None:
        super().__init__()
        d_ff = 4 * d if d_ff is None else d_ff
        self.ln1, self.attn = nn.LayerNorm(d), MultiHeadAttention(d, heads)
        self.cross = None
        if cross:
            self.ln_cross, self.cross = nn.LayerNorm(d), MultiHeadAttention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))

    def forward(self, x: Tensor, mask: Tensor | None = None, memory: Tensor | None = None,
                memory_mask: Tensor | None = None, prefix_kv: tuple[Tensor, Tensor] | None = None) -> Tensor:
        x = x + self.attn(self.ln1(x), mask=mask, prefix_kv=prefix_kv)
        if self.cross is not None:
            assert memory is not None, "a cross-attention block needs memory (the encoder output)"
            x = x + self.cross(self.ln_cross(x), memory=memory, mask=memory_mask)
        return x + self.ff(self.ln2(x))


class TinyEncoder(nn.Module):
    """BERT-style encoder: token + learned position embeddings, pre-LN blocks, LN, MLM head.

    ``forward(ids)`` with ``ids`` (B, L) long returns logits (B, L, vocab_size); with
    ``return_hidden=True`` returns ``(logits, hidden)``, hidden (B, L, d) after the final LN.
    Positions holding ``pad_id`` are hidden from attention as keys.
    """

    @checked(vocab_size=arg.int(2, 10**7), max_len=arg.count(high=10**5), d=arg.count(high=10**5),
             layers=arg.count(high=1000), heads=arg.count(high="d"),
             pad_id=arg.optional(arg.int(low=0, high="vocab_size - 1")))
    def __init__(self, vocab_size: int, max_len: int, d: int = 64, heads: int = 4, layers: int = 2,
                 pad_id: int | None = 0) -> None:
        super().__init__()
        self.vocab_size, self.max_len = vocab_size, max_len
        self.pad_id = pad_id
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab_size)

    @checked(ids=arg.tensor(shape=(None, "L <= self.max_len"), integer=True, low=0, high="self.vocab_size - 1"))
    def forward(self, ids: Tensor, return_hidden: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        mask = None if self.pad_id is None else (ids != self.pad_id)[:, None, None, :]
        for block in self.blocks:
            x = block(x, mask=mask)
        hidden = self.ln(x)
        logits = self.head(hidden)
        return (logits, hidden) if return_hidden else logits


class TinyGPT(nn.Module):
    """Causal LM: token + position embeddings, causal pre-LN blocks, LN, output head.

    ``forward(ids, prefix_kv=None, soft_prompt=None)``: ``ids`` (B, L) -> logits (B, L', vocab).
    ``prefix_kv`` is a list of one ``(k, v)`` pair per layer, each (P, d) or (B, P, d), prepended
    to that layer's keys/values and visible to every query (prefix-tuning; positions unchanged),
    or only to queries from position ``prefix_from`` on (an infix; see :func:`causal_mask`).
    ``soft_prompt`` (P, d) is prepended to the token embeddings *before* position embeddings
    (prompt tuning; content positions shift by P); its P outputs are dropped, so L' = L.
    """

    @checked(vocab_size=arg.int(2, 10**7), max_len=arg.count(high=10**5), d=arg.count(high=10**5),
             n_layer=arg.count(high=1000), n_head=arg.count(high="d"))
    def __init__(self, vocab_size: int, d: int = 32, n_layer: int = 2, n_head: int = 4, max_len: int = 16) -> None:
        super().__init__()
        self.vocab_size, self.max_len = vocab_size, max_len
        self.d, self.n_layer, self.n_head = d, n_layer, n_head
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, n_head) for _ in range(n_layer))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab_size)

    def embed(self, ids: Tensor, soft_prompt: Tensor | None = None) -> Tensor:
        """Input vectors (B, P + L, d): [soft prompt; tokens] plus positions 0..P+L-1."""
        x = self.tok(ids)
        if soft_prompt is not None:
            x = torch.cat([soft_prompt.expand(ids.shape[0], -1, -1), x], dim=1)
        if x.shape[1] > self.max_len:
            raise ValueError(f"length {x.shape[1]} (prompt + tokens) exceeds max_len={self.max_len}")
        return x + self.pos(torch.arange(x.shape[1]))

    @checked(ids=arg.tensor(ndim=2, integer=True, low=0, high="self.vocab_size - 1"))
    def forward(self, ids: Tensor, prefix_kv: list[tuple[Tensor, Tensor]] | None = None,
                soft_prompt: Tensor | None = None, prefix_from: int = 0) -> Tensor:
        if prefix_kv is not None and len(prefix_kv) != self.n_layer:
            raise ValueError(f"prefix_kv needs one (k, v) pair per layer ({self.n_layer}), got {len(prefix_kv)}")
        x = self.embed(ids, soft_prompt)
        for i, block in enumerate(self.blocks):
            kv = None if prefix_kv is None else prefix_kv[i]
            mask = causal_mask(x.shape[1], 0 if kv is None else kv[0].shape[-2], prefix_from)
            x = block(x, mask=mask, prefix_kv=kv)
        logits = self.head(self.ln(x))
        return logits[:, x.shape[1] - ids.shape[1]:]


@checked(module=arg.module())
def freeze(module: nn.Module) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter of ``module``; returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module

"""T5 building blocks: span corruption, parameter counts, relative-position buckets, a tiny seq2seq.

The Transformer blocks come from :mod:`mlnotes.transformer`.

- :func:`span_corruption_mask` follows T5's ``random_spans_noise_mask``: ``round(L * density)``
  noise tokens cut into ``round(noise / mean_span)`` spans, non-noise cut into as many pieces,
  interleaved starting with non-noise.
- :func:`apply_sentinels` / :func:`undo_sentinels` turn (tokens, mask) into T5's (inputs, targets)
  and back; :func:`t5_param_count` is the closed-form parameter count of a (m)T5 configuration;
  :func:`relative_position_bucket` (``mlnotes.positional.t5_bucket``) is T5's log-spaced bucketing of key-query offsets;
  :class:`TinySeq2Seq`, :func:`greedy_decode` and :func:`prune_vocab` run the "everything is seq2seq" demo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from mlnotes.positional import t5_bucket as relative_position_bucket  # one implementation, kept in posenc
from mlnotes.transformer import Block, causal_mask
from mlnotes.validate import checked, arg

__all__ = ["TinySeq2Seq", "apply_sentinels", "greedy_decode", "prune_vocab", "relative_position_bucket",
           "span_corruption_mask", "t5_param_count", "undo_sentinels"]

Tensor = torch.Tensor
def _random_segmentation(n_items: int, n_segments: int, rng: np.random.Generator) -> np.ndarray:
    # n_items split into n_segments non-empty pieces, uniformly over compositions
    cuts = np.sort(rng.choice(np.arange(1, n_items), size=n_segments - 1, replace=False))
    return np.diff(np.concatenate([[0], cuts, [n_items]]))


@checked(length=arg.count(low=2, high=10**7), mean_span=arg.real(1.0),
         noise_density=arg.real(0.0, 1.0, low_open=True, high_open=True), rng=arg.generator(allow_none=True))
def span_corruption_mask(length: int, noise_density: float = 0.15, mean_span: float = 3.0,
                         rng: np.random.Generator | None = None) -> np.ndarray:
    """Boolean noise mask of shape (length,), T5 style: ``round(length * density)`` noise tokens
    in ``round(noise / mean_span)`` spans (at least 1), never touching the first position.
    ``rng=None`` means fresh OS entropy (see ``mlnotes.validate.check_generator``).
    """
    n_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    n_spans = max(int(round(n_noise / mean_span)), 1)
    n_spans = min(n_spans, n_noise, length - n_noise)
    noise = _random_segmentation(n_noise, n_spans, rng)
    keep = _random_segmentation(length - n_noise, n_spans, rng)
    mask = np.zeros(length, dtype=bool)
    pos = 0
    for k, n in zip(keep, noise):
        mask[pos + k: pos + k + n] = True
        pos += k + n
    return mask


def _default_sentinel(i: int) -> str:
    """The i-th sentinel string, ``<extra_id_i>`` (T5 maps it to id ``vocab_size - 1 - i``), ``i >= 0``."""
    return f"<extra_id_{i}>"


@checked(tokens=arg.tokens(allow_empty=True, mixed=True),
         mask=arg.array(shape=("len(tokens)",), dtype=None, bool_ok=True), sentinel=arg.callable())
def apply_sentinels(tokens: Sequence, mask: Sequence[bool],
                    sentinel: Callable[[int], object] = _default_sentinel) -> tuple[list, list]:
    """T5 (inputs, targets): each noise span becomes one sentinel in the inputs; the targets list
    ``sentinel_i`` followed by span i's tokens, for every span, then one closing sentinel.
    """
    mask = mask.astype(bool)
    inputs, targets, span = [], [], 0
    for i, (tok, noisy) in enumerate(zip(tokens, mask)):
        if noisy and (i == 0 or not mask[i - 1]):
            inputs.append(sentinel(span))
            targets.append(sentinel(span))
            span += 1
        (targets if noisy else inputs).append(tok)
    targets.append(sentinel(span))
    return inputs, targets


@checked(inputs=arg.tokens(allow_empty=True, mixed=True), targets=arg.tokens(allow_empty=True, mixed=True),
         sentinel=arg.callable())
def undo_sentinels(inputs: Sequence, targets: Sequence,
                   sentinel: Callable[[int], object] = _default_sentinel) -> list:
    """Rebuild the original token list from :func:`apply_sentinels`'s output."""
    if not inputs or not targets:
        raise ValueError("inputs and targets must not be empty (targets hold at least the closing sentinel)")
    spans, span = {}, None
    for tok in targets:
        matches = [i for i in range(len(targets)) if sentinel(i) == tok]
        if matches:
            span = matches[0]
            spans[span] = []
        elif span is None:
            raise ValueError("targets must start with a sentinel")
        else:
            spans[span].append(tok)
    out = []
    for tok in inputs:
        matches = [i for i in spans if sentinel(i) == tok]
        out.extend(spans[matches[0]] if matches else [tok])
    return out


@checked(**{name: arg.count(high=10**9) for name in ("vocab", "d_model", "d_ff", "n_enc", "n_dec", "n_heads", "d_kv",
                                                   "num_buckets")}, gated=arg.bool(), tied=arg.bool())
def t5_param_count(vocab: int, d_model: int, d_ff: int, n_enc: int, n_dec: int, n_heads: int, d_kv: int,
                   gated: bool = True, tied: bool = False, num_buckets: int = 32) -> dict[str, int]:
    """Closed-form parameter count of a bias-free (m)T5 model; returns ``embedding``, ``other``, ``total``.

    Embeddings: ``vocab * d`` (input) + ``vocab * d`` (output head, unless ``tied``). Attention:
    ``4 d (h d_kv)`` per attention (q, k, v, o). FFN: ``3 d d_ff`` if gated (GEGLU) else ``2 d d_ff``.
    RMS-norm weights: ``d`` each (2 per encoder layer, 3 per decoder layer, 1 final per stack).
    Relative-position bias: ``num_buckets * h`` in the first layer of each stack.
    """
    attn = 4 * d_model * n_heads * d_kv
    ffn = (3 if gated else 2) * d_model * d_ff
    enc = n_enc * (attn + ffn + 2 * d_model) + d_model + num_buckets * n_heads
    dec = n_dec * (2 * attn + ffn + 3 * d_model) + d_model + num_buckets * n_heads
    embedding = vocab * d_model * (1 if tied else 2)
    return {"embedding": embedding, "other": enc + dec, "total": embedding + enc + dec}


class TinySeq2Seq(nn.Module):
    """Encoder-decoder Transformer: shared token embedding, learned positions, pre-LN blocks,
    a decoder with causal self-attention and cross-attention, an untied output head.

    ``forward(src, tgt_in)`` with (B, S) and (B, T) long ids -> logits (B, T, vocab).
    ``pad_id`` positions of ``src`` are hidden from attention.
    """

    @checked(**{name: arg.count(high=10**6) for name in ("vocab_size", "d", "heads", "n_enc", "n_dec", "max_len")},
             pad_id=arg.int(low=0, high="vocab_size - 1"))
    def __init__(self, vocab_size: int, d: int = 64, heads: int = 4, n_enc: int = 2, n_dec: int = 2,
                 max_len: int = 16, pad_id: int = 0) -> None:
        super().__init__()
        self.pad_id, self.max_len = pad_id, max_len
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(max_len, d)
        self.encoder = nn.ModuleList(Block(d, heads) for _ in range(n_enc))
        self.decoder = nn.ModuleList(Block(d, heads, cross=True) for _ in range(n_dec))
        self.ln_enc, self.ln_dec = nn.LayerNorm(d), nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab_size, bias=False)

    def _embed(self, ids: Tensor) -> Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a (B, L) long tensor, got {tuple(ids.shape)} {ids.dtype}")
        if ids.shape[1] > self.max_len:
            raise ValueError(f"length {ids.shape[1]} exceeds max_len={self.max_len}")
        return self.tok(ids) + self.pos(torch.arange(ids.shape[1]))

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder states (B, S, d) and the key mask (B, 1, 1, S) for cross-attention."""
        key_mask = (src != self.pad_id)[:, None, None, :]
        x = self._embed(src)
        for block in self.encoder:
            x = block(x, mask=key_mask)
        return self.ln_enc(x), key_mask

    def decode(self, tgt_in: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """Logits (B, T, vocab) for decoder inputs ``tgt_in`` given the encoder output."""
        y = self._embed(tgt_in)
        mask = causal_mask(tgt_in.shape[1])
        for block in self.decoder:
            y = block(y, mask=mask, memory=memory, memory_mask=memory_mask)
        return self.head(self.ln_dec(y))

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        memory, key_mask = self.encode(src)
        return self.decode(tgt_in, memory, key_mask)


@torch.no_grad()
@checked(model=arg.instance(TinySeq2Seq), src=arg.tensor(ndim=2, integer=True),
         bos_id=arg.int(low=0, high="model.head.out_features - 1"), eos_id=arg.int(low=0, high="model.head.out_features - 1"),
         max_new=arg.count(high="model.max_len - 1"))
def greedy_decode(model: TinySeq2Seq, src: Tensor, bos_id: int, eos_id: int, max_new: int) -> Tensor:
    """Batched greedy decoding: (B, max_new) ids; after ``eos_id`` a row keeps emitting ``eos_id``."""
    memory, key_mask = model.encode(src)
    out = torch.full((src.shape[0], 1), bos_id, dtype=torch.long)
    done = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(max_new):
        nxt = model.decode(out, memory, key_mask)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
        done |= nxt == eos_id
        out = torch.cat([out, nxt[:, None]], dim=1)
    return out[:, 1:]


@checked(head_weight=arg.tensor(ndim=2), keep=arg.array(ndim=1, integer=True, low=0, high="head_weight.shape[0] - 1"))
def prune_vocab(head_weight: Tensor, keep: Sequence[int]) -> tuple[Tensor, dict[int, int]]:
    """Keep only the rows ``keep`` of an output-head (or embedding) matrix (V, d).

    Returns the (len(keep), d) slice and the old-id -> new-id map. Logits of the pruned head are
    the full logits restricted to ``keep``, so its log-softmax is the full one renormalised over ``keep``.
    """
    keep = keep.tolist()
    if len(set(keep)) != len(keep):
        raise ValueError("keep must hold distinct token ids")
    return head_weight[keep].clone(), {old: new for new, old in enumerate(keep)}

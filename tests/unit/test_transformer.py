"""Tests for mlnotes.transformer: attention, blocks, TinyEncoder, TinyGPT, helpers."""

import pytest
import torch
import torch.nn.functional as F
from adversarial_examples import Example
from hypothesis import given, settings, strategies as st
from torch import nn

from mlnotes.core import count_params
from mlnotes.transformer import Block, MultiHeadAttention, TinyEncoder, TinyGPT, attention, causal_mask, freeze

torch.set_num_threads(1)


def _lin() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(2, 1)


ADVERSARIAL = {
    "TinyEncoder": Example(10, 8, d=8, heads=2, layers=1, pad_id=0, accepts={"pad_id": "None 0"}),  # None: no padding
    "TinyGPT": Example(10, d=8, n_layer=1, n_head=2, max_len=8),
    "attention": Example(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2), mask=None,
                         accepts={"mask": "None"}),  # None: attend everywhere
    "causal_mask": Example(4, prefix=1, accepts={"prefix": "0"}),  # prefix 0: plain causal mask
    "freeze": Example(fresh=lambda: {"module": _lin()}),
}


@settings(max_examples=50, deadline=None)
@given(lq=st.integers(1, 6), lk=st.integers(1, 6), d=st.integers(1, 8), seed=st.integers(0, 1000))
def test_attention_matches_sdpa(lq, lk, d, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, n, d, generator=g, dtype=torch.float64) for n in (lq, lk, lk))
    mask = torch.rand(lq, lk, generator=g) < 0.7
    mask[:, 0] = True  # every query sees at least one key
    ours = attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours, ref, atol=1e-12)


def test_attention_extreme_scores_stable():
    q = torch.full((1, 3, 4), 1e3, dtype=torch.float64)
    k = torch.full((1, 3, 4), 1e3, dtype=torch.float64)
    out = attention(q, k, torch.eye(3, dtype=torch.float64)[None])
    assert torch.isfinite(out).all() and torch.allclose(out, torch.full_like(out, 1 / 3))


def test_attention_bad_inputs():
    with pytest.raises(TypeError, match="q must be a torch tensor"):
        attention([1.0], torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"k must have shape \(\.\.\., Lk, d\) with d = 3"):
        attention(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"v must have shape \(\.\.\., Lk, dv\) with Lk = 2"):
        attention(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(5, 3))
    with pytest.raises(TypeError, match="boolean"):
        attention(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), mask=torch.ones(2, 2))
    with pytest.raises(ValueError, match="at least 2"):
        attention(torch.zeros(3), torch.zeros(3), torch.zeros(3))


def test_causal_mask_infix_hides_the_slots_from_earlier_queries():
    m = causal_mask(4, prefix=2, prefix_from=2)
    assert not m[:2, :2].any() and m[2:, :2].all()                 # slots seen from position 2 on
    assert torch.equal(m[:, 2:], causal_mask(4)) and torch.equal(causal_mask(4, 2, 0), causal_mask(4, 2))


def test_causal_mask_layout():
    m = causal_mask(3, prefix=2)
    assert m.shape == (3, 5) and m[:, :2].all()
    assert torch.equal(m[:, 2:], torch.ones(3, 3, dtype=torch.bool).tril())
    assert torch.equal(causal_mask(1), torch.ones(1, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="length"):
        causal_mask(0)
    with pytest.raises(TypeError, match="prefix"):
        causal_mask(3, prefix=1.5)


def _copy_into_torch_layer(block: Block, layer: nn.TransformerEncoderLayer) -> None:
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([block.attn.q.weight, block.attn.kv.weight]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([block.attn.q.bias, block.attn.kv.bias]))
        layer.self_attn.out_proj.weight.copy_(block.attn.out.weight)
        layer.self_attn.out_proj.bias.copy_(block.attn.out.bias)
        for ours, theirs in ((block.ln1, layer.norm1), (block.ln2, layer.norm2),
                             (block.ff[0], layer.linear1), (block.ff[2], layer.linear2)):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)


@pytest.mark.parametrize("causal", [False, True])
def test_block_equals_torch_encoder_layer(causal):
    torch.manual_seed(0)
    block = Block(16, 4).double()
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True).double().eval()
    _copy_into_torch_layer(block, layer)
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    mask = causal_mask(7) if causal else None
    theirs = layer(x, src_mask=None if mask is None else ~mask)   # torch: True = blocked
    assert torch.allclose(block(x, mask=mask), theirs, atol=1e-10)


def test_cross_attention_equals_torch_multihead():
    torch.manual_seed(1)
    mha = MultiHeadAttention(8, 2).double()
    ref = nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mha.q.weight, mha.kv.weight]))
        ref.in_proj_bias.copy_(torch.cat([mha.q.bias, mha.kv.bias]))
        ref.out_proj.weight.copy_(mha.out.weight)
        ref.out_proj.bias.copy_(mha.out.bias)
    x, mem = torch.randn(2, 3, 8, dtype=torch.float64), torch.randn(2, 5, 8, dtype=torch.float64)
    assert torch.allclose(mha(x, memory=mem), ref(x, mem, mem, need_weights=False)[0], atol=1e-10)


def test_multihead_bad_sizes():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="divisible"):       # the public models reach the same check
        TinyGPT(8, d=10, n_head=4)
    with pytest.raises(AssertionError, match="memory"):      # an internal invariant
        Block(8, 2, cross=True)(torch.zeros(1, 2, 8))


def test_encoder_ignores_padding_and_uses_positions():
    torch.manual_seed(0)
    enc = TinyEncoder(10, 6, d=16, heads=2, layers=1).eval()
    ids = torch.tensor([[1, 5, 6, 2, 0, 0]])
    other_pad = ids.clone()
    with torch.no_grad():
        logits, hidden = enc(ids, return_hidden=True)
        # a padded key does not change the non-pad outputs when the pad token embedding changes
        enc.tok.weight[0] += 1.0
        logits2 = enc(other_pad)
        swapped = enc(torch.tensor([[1, 6, 5, 2, 0, 0]]))
    assert logits.shape == (1, 6, 10) and hidden.shape == (1, 6, 16)
    assert torch.allclose(logits[0, :4], logits2[0, :4], atol=1e-6)
    assert not torch.allclose(logits[0, 1], swapped[0, 2], atol=1e-3)  # position embeddings matter


def test_encoder_bad_inputs():
    enc = TinyEncoder(10, 4, d=8, heads=2, layers=1)
    with pytest.raises(ValueError, match="max_len"):
        enc(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="ids must be an integer tensor"):
        enc(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="ids must be a non-empty 2-D"):
        enc(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size"):
        TinyEncoder(1, 4)


def test_gpt_is_causal_and_prefix_keeps_positions():
    torch.manual_seed(0)
    gpt = TinyGPT(12, d=16, n_layer=2, n_head=2, max_len=10).eval()
    ids = torch.randint(0, 12, (2, 6))
    changed = ids.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % 12
    with torch.no_grad():
        a, b = gpt(ids), gpt(changed)
        assert torch.allclose(a[:, :4], b[:, :4], atol=1e-6)  # future tokens do not leak
        zero_prefix = [(torch.zeros(0, 16), torch.zeros(0, 16))] * 2
        assert torch.allclose(gpt(ids, prefix_kv=zero_prefix), a, atol=1e-6)
        prefix = [(torch.randn(3, 16), torch.randn(3, 16)) for _ in range(2)]
        assert gpt(ids, prefix_kv=prefix).shape == (2, 6, 12)
        assert gpt(ids, soft_prompt=torch.randn(3, 16)).shape == (2, 6, 12)


def test_gpt_bad_inputs():
    gpt = TinyGPT(12, d=16, n_layer=2, n_head=2, max_len=8)
    with pytest.raises(ValueError, match="one \\(k, v\\) pair per layer"):
        gpt(torch.zeros(1, 3, dtype=torch.long), prefix_kv=[(torch.zeros(1, 16), torch.zeros(1, 16))])
    with pytest.raises(ValueError, match="exceeds max_len"):
        gpt(torch.zeros(1, 6, dtype=torch.long), soft_prompt=torch.zeros(3, 16))
    with pytest.raises(ValueError, match="n_layer"):
        TinyGPT(12, n_layer=0)


def test_freeze():
    lin = nn.Linear(3, 2)
    assert count_params(lin) == 8
    freeze(lin)
    assert count_params(lin) == 0 and count_params(lin, trainable_only=False) == 8
    with pytest.raises(TypeError, match="nn.Module"):
        freeze(nn.Parameter(torch.tensor([3.0])))
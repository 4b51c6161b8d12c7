"""Tests for mlnotes.t5: span corruption, sentinels, parameter counts, buckets, seq2seq, pruning."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from adversarial_examples import Example
from t5_reference import hf_t5_bucket

from mlnotes.t5 import (TinySeq2Seq, apply_sentinels, _default_sentinel, greedy_decode, prune_vocab,
                        relative_position_bucket, span_corruption_mask, t5_param_count, undo_sentinels)

torch.set_num_threads(1)


def _tiny() -> TinySeq2Seq:
    torch.manual_seed(0)
    return TinySeq2Seq(12, d=8, heads=2, n_enc=1, n_dec=1, max_len=8)


ADVERSARIAL = {
    "TinySeq2Seq": Example(12, d=8, heads=2, n_enc=1, n_dec=1, max_len=8, pad_id=0),
    "apply_sentinels": Example(["a", "b", "c", "d"], [False, True, True, False]),
    "undo_sentinels": Example(["a", "<extra_id_0>", "d"], ["<extra_id_0>", "b", "c", "<extra_id_1>"]),
    # a closed-form count: any size, however large, is computed at once
    "t5_param_count": Example(100, 8, 16, 1, 1, 2, 4, gated=True, tied=False, num_buckets=8,
                              accepts={k: "10**9" for k in ("vocab", "d_model", "d_ff", "n_enc", "n_dec",
                                                            "n_heads", "d_kv", "num_buckets")}),
    "greedy_decode": Example(src=torch.ones(2, 4, dtype=torch.long), bos_id=1, eos_id=2, max_new=3,
                             fresh=lambda: {"model": _tiny()},
                             accepts={"bos_id": "0", "eos_id": "0"}),  # 0 is a valid token id
    "prune_vocab": Example(torch.ones(6, 3), [0, 2, 5]),
    "span_corruption_mask": Example(20, noise_density=0.15, mean_span=3.0,
                                    rng=np.random.default_rng(0)),
}
ADVERSARIAL_EXEMPT = {"relative_position_bucket": "re-export of mlnotes.positional.t5_bucket, fuzzed there"}


@settings(max_examples=50, deadline=None)
@given(length=st.integers(2, 300), density=st.floats(0.01, 0.9), mean_span=st.floats(1.0, 10.0),
       seed=st.integers(0, 10_000))
def test_span_mask_properties_and_roundtrip(length, density, mean_span, seed):
    mask = span_corruption_mask(length, density, mean_span, rng=np.random.default_rng(seed))
    n_noise = min(max(int(round(length * density)), 1), length - 1)
    assert mask.shape == (length,) and mask.sum() == n_noise and not mask[0]
    tokens = list(range(length))
    inputs, targets = apply_sentinels(tokens, mask)
    assert undo_sentinels(inputs, targets) == tokens
    assert len(inputs) + len(targets) == length + 2 * int(np.sum(np.diff(np.r_[0, mask.astype(int)]) == 1)) + 1


def test_sentinel_example_and_edges():
    words = "thank you for inviting me to your party last week".split()
    mask = [w in ("for", "inviting", "last") for w in words]
    inputs, targets = apply_sentinels(words, mask)
    assert inputs == ["thank", "you", "<extra_id_0>", "me", "to", "your", "party", "<extra_id_1>", "week"]
    assert targets == ["<extra_id_0>", "for", "inviting", "<extra_id_1>", "last", "<extra_id_2>"]
    assert apply_sentinels(["a"], [False]) == (["a"], ["<extra_id_0>"])
    with pytest.raises(ValueError, match=r"mask must have shape \(len\(tokens\),\) with len\(tokens\) = 2"):
        apply_sentinels(["a", "b"], [True])
    with pytest.raises(ValueError, match="empty"):
        apply_sentinels([], [])
    with pytest.raises(ValueError, match="start with a sentinel"):
        undo_sentinels(["a"], ["b"])
    with pytest.raises(ValueError, match="closing sentinel"):
        undo_sentinels(["a"], [])


def test_span_mask_statistics_and_bad_inputs():
    rng = np.random.default_rng(0)
    masks = [span_corruption_mask(512, 0.15, 3.0, rng=rng) for _ in range(200)]
    assert abs(np.mean([m.mean() for m in masks]) - 0.15) < 0.005
    with pytest.raises(ValueError, match="length"):
        span_corruption_mask(1)
    with pytest.raises(ValueError, match="noise_density"):
        span_corruption_mask(10, 1.0)
    with pytest.raises(ValueError, match="mean_span"):
        span_corruption_mask(10, 0.2, 0.5)
    with pytest.raises(TypeError, match="Generator"):
        span_corruption_mask(10, rng=3)


def test_param_counts():
    assert t5_param_count(32_128, 512, 2048, 6, 6, 8, 64, gated=False, tied=True)["total"] == 60_506_624
    published = [(512, 1024, 8, 6, 300e6), (768, 2048, 12, 12, 580e6), (1024, 2816, 24, 16, 1.2e9),
                 (2048, 5120, 24, 32, 3.7e9), (4096, 10240, 24, 64, 13e9)]
    for d, d_ff, n, h, p in published:
        assert abs(t5_param_count(250_112, d, d_ff, n, n, h, 64)["total"] / p - 1) < 0.05
    c = t5_param_count(10, 4, 8, 1, 1, 1, 4, gated=True)
    assert c["embedding"] == 80 and c["total"] == c["embedding"] + c["other"]
    with pytest.raises(ValueError, match="vocab"):
        t5_param_count(0, 4, 8, 1, 1, 1, 4)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_buckets_match_torch_recipe(bidirectional):
    rel = np.arange(-400, 401)
    ours = relative_position_bucket(rel, bidirectional=bidirectional)
    ref = hf_t5_bucket(torch.from_numpy(rel), bidirectional=bidirectional).numpy()
    assert np.array_equal(ours, ref)
    assert relative_position_bucket(np.array(0)) == 0


def test__default_sentinel():
    assert _default_sentinel(0) == "<extra_id_0>" and _default_sentinel(np.int64(99)) == "<extra_id_99>"


def test_buckets_bad_inputs():
    with pytest.raises(TypeError, match="rel must be an integer array"):
        relative_position_bucket(np.array([0.5]))
    with pytest.raises(ValueError, match="num_buckets"):
        relative_position_bucket(np.array([1]), num_buckets=2)


def test_seq2seq_shapes_padding_and_decode():
    torch.manual_seed(0)
    model = TinySeq2Seq(12, d=16, heads=2, n_enc=1, n_dec=1, max_len=8).eval()
    src = torch.tensor([[5, 6, 7, 2, 0, 0]])
    with torch.no_grad():
        a = model(src, torch.tensor([[1, 4]]))
        model.tok.weight[0] += 1.0      # changing the pad embedding must not matter (pad keys masked)
        b = model(src, torch.tensor([[1, 4]]))
    assert a.shape == (1, 2, 12) and torch.allclose(a, b, atol=1e-6)
    out = greedy_decode(model, src.repeat(3, 1), bos_id=1, eos_id=2, max_new=5)
    assert out.shape == (3, 5) and (out == out[0]).all()
    with pytest.raises(ValueError, match="max_new"):
        greedy_decode(model, src, 1, 2, max_new=8)
    with pytest.raises(TypeError, match="TinySeq2Seq"):
        greedy_decode(torch.nn.Linear(2, 2), src, 1, 2, 3)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 9, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size"):
        TinySeq2Seq(0)


def test_prune_vocab_renormalises():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(50, 8, generator=g, dtype=torch.float64)
    h = torch.randn(6, 8, generator=g, dtype=torch.float64)
    keep = torch.randperm(50, generator=g)[:20].tolist()
    small, mapping = prune_vocab(W, keep)
    full = torch.log_softmax(h @ W.T, -1)
    pruned = torch.log_softmax(h @ small.T, -1)
    renorm = full[:, keep] - torch.logsumexp(full[:, keep], -1, keepdim=True)
    assert torch.allclose(pruned, renorm, atol=1e-12) and mapping[keep[3]] == 3
    with pytest.raises(ValueError, match="distinct"):
        prune_vocab(W, [1, 1])
    with pytest.raises(ValueError, match="keep must have values in"):
        prune_vocab(W, [50])
    with pytest.raises(TypeError, match="head_weight must be a torch tensor"):
        prune_vocab(np.zeros((3, 2)), [0])

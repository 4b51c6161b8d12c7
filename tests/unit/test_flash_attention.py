"""Tests for mlnotes.flash_attention against torch's scaled_dot_product_attention and scipy."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from scipy.special import logsumexp, softmax

from mlnotes.flash_attention import (AttentionState, attention_state, flash_attention_backward,
                               flash_attention_forward, flash_block_sizes, hbm_traffic, merge_states,
                               naive_attention, naive_softmax, online_softmax)

torch.set_num_threads(1)


def qkv(N, M, d, dv, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, d)).astype(dtype), rng.normal(size=(M, d)).astype(dtype),
            rng.normal(size=(M, dv)).astype(dtype))


def sdpa(Q, K, V, causal):
    return F.scaled_dot_product_attention(*(torch.from_numpy(x) for x in (Q, K, V)), is_causal=causal).numpy()


# ----------------------------------------------------------------------------- online softmax
def test_online_softmax_matches_scipy_with_spike():
    x = np.random.default_rng(0).normal(size=1000)
    x[123] = 1000.0
    p, m, d = online_softmax(x)
    assert np.abs(p - softmax(x)).max() < 1e-12
    assert m + math.log(d) == pytest.approx(logsumexp(x), abs=1e-12)
    assert np.isnan(naive_softmax(x)).any()


def test_online_softmax_edges():
    p, m, d = online_softmax([3.0])
    assert p.tolist() == [1.0] and m == 3.0 and d == 1.0
    p, _, _ = online_softmax([2.0, 2.0, 2.0, 2.0])  # ties
    assert np.allclose(p, 0.25)
    p, _, _ = online_softmax([-np.inf, 0.0, -np.inf])  # masked entries
    assert p.tolist() == [0.0, 1.0, 0.0]
    assert np.allclose(naive_softmax([1.0, 2.0]), softmax([1.0, 2.0]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=60))
def test_online_softmax_property(values):
    p, m, d = online_softmax(values)
    assert np.allclose(p, softmax(values), atol=1e-12)
    assert math.isclose(m + math.log(d), logsumexp(values), rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize("bad, err, match", [
    ([], ValueError, "empty"), ([[1.0]], ValueError, "1-D"), ("abc", TypeError, "x must be a numeric array"),
    ([1.0, np.nan], ValueError, "NaN"), ([-np.inf, -np.inf], ValueError, "all -inf"),
    ([True, False], TypeError, "x must be a numeric array")])
def test_online_softmax_bad_input(bad, err, match):
    with pytest.raises(err, match=match):
        online_softmax(bad)


def test_naive_softmax_bad_input():
    with pytest.raises(ValueError, match="empty"):
        naive_softmax([])


# ----------------------------------------------------------------------------- reference attention
@pytest.mark.parametrize("causal", [False, True])
def test_naive_attention_matches_sdpa(causal):
    Q, K, V = qkv(37, 37, 8, 5)
    assert np.abs(naive_attention(Q, K, V, causal) - sdpa(Q, K, V, causal)).max() < 1e-12


def test_naive_attention_bias_matches_sdpa_mask():
    Q, K, V = qkv(9, 11, 4, 3)
    bias = np.random.default_rng(5).normal(size=(9, 11))
    ref = F.scaled_dot_product_attention(*(torch.from_numpy(x) for x in (Q, K, V)), attn_mask=torch.from_numpy(bias))
    assert np.abs(naive_attention(Q, K, V, bias=bias) - ref.numpy()).max() < 1e-12
    with pytest.raises(ValueError, match="bias must have shape"):
        naive_attention(Q, K, V, bias=bias[:, :3])


def test_naive_attention_unshifted_overflows():
    Q, K, V = qkv(4, 6, 3, 2)
    Q[0] = 2000.0 * K[0]
    assert np.isnan(naive_attention(Q, K, V, shift_max=False)[0]).all()
    assert np.isfinite(naive_attention(Q, K, V)).all()


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(Q=[["a"]]), TypeError, "Q must be a numeric array"),
    (dict(Q=np.ones((2, 3), np.int64)), TypeError, "Q must be a floating-point array, got dtype int64"),
    (dict(Q=np.ones(3)), ValueError, "2-D"),
    (dict(Q=np.ones((0, 3))), ValueError, "empty"),
    (dict(Q=np.ones((2, 4))), ValueError, r"K must have shape \(Nk, d\) with d = 4, got shape \(4, 3\)"),
    (dict(V=np.ones((5, 2))), ValueError, r"V must have shape \(Nk, dv\) with Nk = 4, got shape \(5, 2\)"),
    (dict(Q=np.full((2, 3), np.nan)), ValueError, "NaN"),
    (dict(scale=-1.0), ValueError, "scale"),
    (dict(scale="a"), TypeError, "scale"),
])
def test_naive_attention_bad_input(kwargs, err, match):
    args = dict(Q=np.ones((2, 3)), K=np.ones((4, 3)), V=np.ones((4, 2)))
    args.update(kwargs)
    with pytest.raises(err, match=match):
        naive_attention(**args)


# ----------------------------------------------------------------------------- states
def test_merge_is_associative_and_has_identity():
    rng = np.random.default_rng(1)
    S, V = rng.normal(size=(3, 100)) * 5, rng.normal(size=(100, 4))
    full = attention_state(S, V)
    for split in (1, 17, 50, 99):
        merged = merge_states(attention_state(S[:, :split], V[:split]), attention_state(S[:, split:], V[split:]))
        assert np.abs(merged.output - full.output).max() < 1e-12
        assert np.abs(merged.logsumexp - logsumexp(S, axis=1)).max() < 1e-12
    a, b, c = (attention_state(S[:, s], V[s]) for s in (slice(0, 30), slice(30, 60), slice(60, 100)))
    left, right = merge_states(merge_states(a, b), c), merge_states(a, merge_states(b, c))
    assert np.allclose(left.acc, right.acc) and np.allclose(left.ell, right.ell)
    empty = attention_state(np.full((3, 2), -np.inf), V[:2])
    assert np.array_equal(merge_states(empty, full).output, full.output)
    assert np.array_equal(merge_states(full, empty).output, full.output)


def test_state_bad_input():
    V = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"V must have shape \(k, dv\) with k = 3"):
        attention_state(np.ones((1, 3)), V)
    with pytest.raises(ValueError, match=r"\+inf"):
        attention_state(np.array([[np.inf, 0.0]]), V)
    with pytest.raises(TypeError, match="S must be a numeric array"):
        attention_state([["a", "b"]], V)
    s = attention_state(np.ones((1, 2)), V)
    with pytest.raises(TypeError, match="AttentionState"):
        merge_states(s, (1, 2, 3))
    with pytest.raises(ValueError, match="different shapes"):
        merge_states(s, attention_state(np.ones((2, 2)), V))
    assert isinstance(s, AttentionState)


# ----------------------------------------------------------------------------- tiled forward / backward
@pytest.mark.parametrize("causal", [False, True])
def test_flash_forward_matches_sdpa_and_lse(causal):
    Q, K, V = qkv(200, 200, 32, 32)
    O, L = flash_attention_forward(Q, K, V, Br=16, Bc=24, causal=causal)
    assert np.abs(O - sdpa(Q, K, V, causal)).max() < 1e-12
    S = Q @ K.T / math.sqrt(32)
    if causal:
        S = np.where(np.tri(200, dtype=bool), S, -np.inf)
    assert np.abs(L - logsumexp(S, axis=1)).max() < 1e-12


def test_flash_forward_float32():
    Q, K, V = qkv(64, 64, 16, 16, dtype=np.float32)
    O, L = flash_attention_forward(Q, K, V, Br=8, Bc=24)
    assert O.dtype == np.float32 and L.dtype == np.float32
    assert np.abs(O - sdpa(Q, K, V, False)).max() < 1e-5


@settings(max_examples=50, deadline=None)
@given(N=st.integers(1, 40), M=st.integers(1, 40), d=st.integers(1, 6), Br=st.integers(1, 50),
       Bc=st.integers(1, 50), causal=st.booleans(), seed=st.integers(0, 1000))
def test_flash_forward_any_tiling(N, M, d, Br, Bc, causal, seed):
    Q, K, V = qkv(N, M, d, 3, seed)
    O, _ = flash_attention_forward(Q, K, V, Br, Bc, causal)
    assert np.abs(O - naive_attention(Q, K, V, causal)).max() < 1e-12


def test_flash_forward_extreme_logits_and_length_one():
    Q, K, V = qkv(10, 10, 4, 4)
    Q[3] = 500.0 * K[7]
    O, _ = flash_attention_forward(Q, K, V, 3, 4)
    assert np.isfinite(O).all() and np.abs(O - sdpa(Q, K, V, False)).max() < 1e-12
    Q1, K1, V1 = qkv(1, 1, 2, 2)
    assert np.allclose(flash_attention_forward(Q1, K1, V1, 1, 1, True)[0], V1)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_backward_matches_autograd(causal):
    Q, K, V = qkv(200, 200, 32, 32, seed=3)
    dO = np.random.default_rng(4).normal(size=(200, 32))
    O, L = flash_attention_forward(Q, K, V, 16, 24, causal)
    grads = flash_attention_backward(Q, K, V, O, L, dO, 16, 24, causal)
    tensors = [torch.from_numpy(x).requires_grad_() for x in (Q, K, V)]
    F.scaled_dot_product_attention(*tensors, is_causal=causal).backward(torch.from_numpy(dO))
    for g, t in zip(grads, tensors):
        assert np.abs(g - t.grad.numpy()).max() < 1e-12


def test_flash_bad_input():
    Q, K, V = qkv(4, 4, 2, 2)
    with pytest.raises(ValueError, match="Br must be >= 1"):
        flash_attention_forward(Q, K, V, Br=0)
    with pytest.raises(TypeError, match="Bc must be an int"):
        flash_attention_forward(Q, K, V, Bc=2.0)
    with pytest.raises(TypeError, match="stats"):
        flash_attention_forward(Q, K, V, stats=[])
    with pytest.raises(ValueError, match=r"K must have shape \(Nk, d\) with d = 2"):
        flash_attention_forward(Q, np.ones((4, 3)), V)
    O, L = flash_attention_forward(Q, K, V)
    with pytest.raises(ValueError, match=r"dO must have shape \(N, dv\) with N = 4"):
        flash_attention_backward(Q, K, V, O, L, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"L must have shape \(N,\) with N = 4"):
        flash_attention_backward(Q, K, V, O, L[:2], O)
    with pytest.raises(ValueError, match="Br must be"):
        flash_attention_backward(Q, K, V, O, L, O, Br=-1)


# ----------------------------------------------------------------------------- IO accounting
@pytest.mark.parametrize("N, d, M, causal", [(200, 32, 2048, False), (200, 32, 2048, True),
                                             (77, 8, 500, True), (1, 4, 16, False)])
def test_hbm_traffic_matches_counted(N, d, M, causal):
    Q, K, V = qkv(N, N, d, d)
    Br, Bc = flash_block_sizes(d, M)
    stats = {}
    flash_attention_forward(Q, K, V, Br, Bc, causal, stats=stats)
    assert stats["reads"] + stats["writes"] == hbm_traffic(N, d, M, "flash", causal)


def test_hbm_traffic_formulas():
    assert hbm_traffic(10, 2, 100, "naive") == 4 * 100 + 4 * 20
    N, d, M = 4096, 64, 100_000
    flash = hbm_traffic(N, d, M, "flash")
    assert flash < hbm_traffic(N, d, M, "naive")
    Br, _ = flash_block_sizes(d, M)
    assert flash == 2 * N * d + N + 2 * N * d * math.ceil(N / Br)
    assert flash == pytest.approx(8 * N * N * d * d / M, rel=0.2)


def test_io_bad_input():
    with pytest.raises(ValueError, match="method"):
        hbm_traffic(10, 2, 100, "fast")
    with pytest.raises(ValueError, match="M must be >= 256"):
        flash_block_sizes(64, 100)
    with pytest.raises(ValueError, match="variant"):
        flash_block_sizes(64, 1000, "fa2")
    with pytest.raises(ValueError, match="method"):
        hbm_traffic(10, 2, 100, "fa1", causal=True)
    with pytest.raises(TypeError, match="N must be an int"):
        hbm_traffic(10.0, 2, 100)


def test_fa1_block_sizes_and_traffic():
    from mlnotes.flash_attention import fa1_traffic_count

    assert flash_block_sizes(64, 100_000, "fa1") == (64, 391)   # Br = min(ceil(M/4d), d)
    assert flash_block_sizes(8, 1000, "fa1") == (8, 32)
    for N, d, M in [(100, 8, 300), (1000, 64, 100_000), (37, 4, 64)]:
        assert fa1_traffic_count(N, d, M) == hbm_traffic(N, d, M, "fa1")
    # FA-1 re-reads/writes O per key tile: about 12 N^2 d^2 / M at large N
    N, d, M = 8192, 64, 100_000
    assert hbm_traffic(N, d, M, "fa1") == pytest.approx(12 * N * N * d * d / M, rel=0.1)


def test_draw_tile_schedule():
    import matplotlib.pyplot as plt
    from mlnotes.flash_attention import draw_tile_schedule

    fig, ax = plt.subplots()
    draw_tile_schedule(ax, 64, 16, True, {"computed": 10, "skipped": 6})
    assert len(ax.images) == 1 and "10 tiles computed" in ax.get_title()
    plt.close(fig)


from adversarial_examples import Example  # noqa: E402

_R = np.random.default_rng(0)
_Q, _K, _V = (_R.normal(size=(6, 4)) for _ in range(3))
_S = _Q @ _K.T


def _state():
    from mlnotes.flash_attention import attention_state
    return attention_state(_S[:, :3], _V[:3])


ADVERSARIAL = {
    "naive_attention": Example(_Q, _K, _V),
    "naive_softmax": Example(np.array([1.0, 2.0, 3.0]), accepts={"x": "inf inf-array"}),
    "online_softmax": Example(np.array([1.0, 2.0, 3.0])),
    "attention_state": Example(_S[:, :3], _V[:3]),
    "merge_states": Example(fresh=lambda: {"a": _state(), "b": _state()}),
    # a tile larger than N is one tile: huge Br/Bc are legitimate
    "flash_attention_forward": Example(_Q, _K, _V, 2, 3, accepts={"Br": "10**9", "Bc": "10**9"}),
    "flash_attention_backward": Example(
        _Q, _K, _V, *flash_attention_forward(_Q, _K, _V, 2, 3), np.ones((6, 4)), 2, 3,
        accepts={"Br": "10**9", "Bc": "10**9"}),
    "flash_block_sizes": Example(16, 1000, accepts={"M": "10**9"}),   # any SRAM size
    "hbm_traffic": Example(64, 8, 1000, accepts={"N": "10**9", "M": "10**9"}),  # closed form
    "fa1_traffic_count": Example(64, 8, 1000, accepts={"M": "10**9"}),
    "draw_tile_schedule": Example(N=32, tile=8, causal=True,
                                  stats={"computed": 10, "skipped": 6},
                                  fresh=lambda: {"ax": __import__("matplotlib.pyplot")
                                                 .pyplot.subplots()[1]}),
}
ADVERSARIAL_EXEMPT = {"AttentionState": "a plain dataclass record built by attention_state"}


def test_mixed_precision_inputs_are_accepted_and_match_float64():
    Q, K, V = qkv(4, 5, 3, 2)
    np.testing.assert_allclose(naive_attention(Q.astype(np.float32), K, V), naive_attention(Q, K, V), rtol=1e-5)

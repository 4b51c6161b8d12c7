"""Tests for mlnotes.peft: LoRA, adapters, memory calculator, low-rank fits, prefixes, control-code tasks."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from adversarial_examples import Example
from mlnotes.peft import (ADD1, COPY, REVERSE, SEP, Adapter, LoRALinear, PrefixKV, add_adapters, answer_logits,
                          control_code_batch, draw_memory_bars, exact_match, finetune_memory_gb, fit_low_rank, inject_lora,
                          prefix_attention_mass, prefix_gate, svd_truncate)
from mlnotes.core import count_params
from mlnotes.transformer import TinyGPT, attention

torch.set_num_threads(1)


def test_lora_starts_at_base_and_merges():
    torch.manual_seed(0)
    base = nn.Linear(6, 4).double()
    lora = LoRALinear(base, r=2, alpha=4)
    x = torch.randn(3, 6, dtype=torch.float64)
    assert torch.equal(lora(x), base(x))
    nn.init.normal_(lora.B)
    assert torch.allclose(lora(x), lora.merge()(x), atol=1e-12)
    assert torch.allclose(lora.delta_weight(), 2.0 * lora.B @ lora.A)
    assert count_params(lora) == 2 * (6 + 4)


def test_lora_bad_inputs():
    with pytest.raises(TypeError, match="base must be a Linear"):
        LoRALinear(nn.Conv1d(1, 1, 1), r=1)
    with pytest.raises(ValueError, match="r must be <= 2"):
        LoRALinear(nn.Linear(3, 2), r=3)
    with pytest.raises(ValueError, match="r must be"):
        LoRALinear(nn.Linear(3, 2), r=0)


def test_inject_lora_freezes_and_keeps_skipped_trainable():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    inject_lora(model, r=2, skip=("2",))
    assert isinstance(model[0], LoRALinear) and isinstance(model[2], nn.Linear)
    assert count_params(model) == 2 * (4 + 8) + 8 * 3 + 3
    assert not model[0].base.weight.requires_grad
    with pytest.raises(ValueError, match="not modules"):
        inject_lora(nn.Sequential(nn.Linear(2, 2)), skip=("head",))
    with pytest.raises(ValueError, match="no nn.Linear"):
        inject_lora(nn.Sequential(nn.ReLU()))
    with pytest.raises(TypeError, match="model must be a Module"):
        inject_lora("model")


def test_adapter_identity_at_init_and_count():
    a = Adapter(10, 3)
    h = torch.randn(4, 10)
    assert torch.equal(a(h), h) and count_params(a) == 2 * 10 * 3 + 10 + 3
    with pytest.raises(ValueError, match="act"):
        Adapter(4, 2, act="swish")
    with pytest.raises(ValueError, match="m must be"):
        Adapter(4, 0)


def test_add_adapters():
    base = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model = add_adapters(base, 2)
    assert len(model) == 4 and isinstance(model[2], Adapter) and count_params(model) == 2 * 8 * 2 + 8 + 2
    x = torch.randn(2, 4)
    assert torch.equal(model(x), base(x))
    with pytest.raises(ValueError, match="nowhere"):
        add_adapters(nn.Sequential(nn.Linear(2, 2)), 2)
    with pytest.raises(TypeError, match="Sequential"):
        add_adapters(nn.Linear(2, 2), 2)
    with pytest.raises(ValueError, match="before any"):
        add_adapters(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)), 2)


def test_memory_calculator():
    m = finetune_memory_gb(7.7e9)
    assert math.isclose(m["total"], 123.2) and m["gpus"] == 2
    assert math.isclose(finetune_memory_gb(72.3e9)["total"], 1156.8) and finetune_memory_gb(72.3e9)["gpus"] == 15
    assert math.isclose(finetune_memory_gb(1e9, "fp32", "sgd")["total"], 8.0)
    assert math.isclose(finetune_memory_gb(1e9, trainable_fraction=0.0)["total"], 2.0)
    assert finetune_memory_gb(5e9)["gpus"] == 1  # exactly 80 GB fits on one GPU
    for kwargs, msg in [({"n_params": 0}, "n_params"), ({"n_params": 1e9, "precision": "fp8"}, "precision"),
                        ({"n_params": 1e9, "optimizer": "lion"}, "optimizer"),
                        ({"n_params": 1e9, "trainable_fraction": 2}, "trainable_fraction"),
                        ({"n_params": 1e9, "gpu_gb": 0}, "gpu_gb")]:
        with pytest.raises(ValueError, match=msg):
            finetune_memory_gb(**kwargs)


@settings(max_examples=50, deadline=None)
@given(m=st.integers(1, 8), n=st.integers(1, 8), seed=st.integers(0, 10_000), data=st.data())
def test_svd_truncate_eckart_young(m, n, seed, data):
    r = data.draw(st.integers(1, min(m, n)))
    M = np.random.default_rng(seed).normal(size=(m, n))
    approx, err = svd_truncate(M, r)
    s = np.linalg.svd(M, compute_uv=False)
    assert np.linalg.matrix_rank(approx, tol=1e-8) <= r
    assert math.isclose(err, np.linalg.norm(M - approx), abs_tol=1e-10)
    assert math.isclose(err, np.sqrt(np.sum(s[r:] ** 2)), abs_tol=1e-10)


def test_fit_low_rank_never_beats_svd():
    M = np.random.default_rng(0).normal(size=(12, 9))
    for r in (1, 3):
        _, err = fit_low_rank(M, r, steps=300, lr=0.05)
        assert err >= svd_truncate(M, r)[1] - 1e-9
        assert err <= 1.2 * svd_truncate(M, r)[1]


def test_low_rank_bad_inputs():
    with pytest.raises(ValueError, match="2-D"):
        svd_truncate(np.zeros(3), 1)
    with pytest.raises(ValueError, match="r must be <= 2"):
        svd_truncate(np.zeros((2, 3)), 3)
    with pytest.raises(ValueError, match="delta must be finite"):
        svd_truncate(np.full((2, 3), np.nan), 1)
    with pytest.raises(ValueError, match="2-D"):
        fit_low_rank(np.zeros((0, 2)), 1)
    with pytest.raises(ValueError, match="lr"):
        fit_low_rank(np.ones((2, 2)), 1, lr=0)


def test_prefix_kv_shapes_count_and_materialize():
    p = PrefixKV(2, 3, 8)
    kv = p()
    assert len(kv) == 2 and kv[0][0].shape == (3, 8) and count_params(p) == 2 * 2 * 3 * 8
    q = PrefixKV(2, 3, 8, reparam_hidden=5)
    fixed = q.materialize()
    assert count_params(fixed) == 96 and torch.allclose(fixed.values(), q.values())
    with pytest.raises(ValueError, match="P must"):
        PrefixKV(2, 0, 8)
    with pytest.raises(TypeError, match="reparam_hidden"):
        PrefixKV(2, 1, 8, reparam_hidden=2.5)


@settings(max_examples=50, deadline=None)
@given(P=st.integers(1, 5), L=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_prefix_gate_identity(P, L, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(4, 6, generator=g, dtype=torch.float64)
    pk, pv = torch.randn(P, 6, generator=g, dtype=torch.float64), torch.randn(P, 6, generator=g, dtype=torch.float64)
    K, V = torch.randn(L, 6, generator=g, dtype=torch.float64), torch.randn(L, 6, generator=g, dtype=torch.float64)
    lam = prefix_gate(q, pk, K)[:, None]
    lhs = attention(q, torch.cat([pk, K]), torch.cat([pv, V]))
    rhs = lam * attention(q, pk, pv) + (1 - lam) * attention(q, K, V)
    assert torch.allclose(lhs, rhs, atol=1e-12) and ((lam >= 0) & (lam <= 1)).all()


def test_prefix_gate_bad_inputs():
    with pytest.raises(TypeError, match="q must be a torch tensor"):
        prefix_gate(np.zeros((2, 3)), torch.zeros(1, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"prefix_k must have shape \(\.\.\., P, d\) with d = 3"):
        prefix_gate(torch.zeros(2, 3), torch.zeros(1, 4), torch.zeros(2, 3))


def test_control_code_batch_tasks():
    seq, which = control_code_batch(200, generator=torch.Generator().manual_seed(0))
    assert seq.shape == (200, 12) and (seq[:, 6] == SEP).all()
    x, y = seq[:, 1:6], seq[:, 7:]
    for k, code in enumerate((COPY, REVERSE, ADD1)):
        rows = which == k
        assert (seq[rows, 0] == code).all()
        expected = [x[rows], x[rows].flip(1), (x[rows] + 1) % 10][k]
        assert torch.equal(y[rows], expected)
    with pytest.raises(ValueError, match="tasks"):
        control_code_batch(3, tasks=("sort",))
    with pytest.raises(ValueError, match="batch_size"):
        control_code_batch(0)


def test_exact_match_and_attention_mass():
    seq, _ = control_code_batch(5, tasks=("copy",), generator=torch.Generator().manual_seed(1))
    perfect = torch.nn.functional.one_hot(torch.cat([seq[:, 1:], seq[:, :1]], 1), 14).float()
    assert exact_match(perfect, seq) == 1.0
    assert answer_logits(perfect).shape == (5, 5, 14)
    torch.manual_seed(0)
    gpt = TinyGPT(14, d=16, n_layer=2, n_head=2, max_len=16).eval()
    kv = [(torch.randn(3, 16), torch.randn(3, 16)), (torch.zeros(0, 16), torch.zeros(0, 16))]
    with torch.no_grad():
        mass = prefix_attention_mass(gpt, seq, kv)
    assert mass.shape == (2, 2, 5, 12) and (mass[1] == 0).all() and ((mass[0] > 0) & (mass[0] < 1)).all()
    with pytest.raises(ValueError, match="prefix_kv must hold exactly 2 items, got 1"):
        prefix_attention_mass(gpt, seq, kv[:1])


def test_prefix_list_pads_missing_layers_with_empty_prefixes():
    import torch
    from mlnotes.peft import prefix_list
    values = torch.randn(3, 1, 2, 4, 8)                         # (B, layers=1, 2, P, d)
    kv = prefix_list(values, 2)
    assert kv[0][0].shape == (3, 4, 8) and torch.equal(kv[0][1], values[:, 0, 1])
    assert kv[1][0].shape == (3, 0, 8)
    single = prefix_list(values[0], 2)
    assert single[0][0].shape == (4, 8) and single[1][0].shape == (0, 8)


def test_token_prefix_first_layer_is_the_models_own_projection():
    import torch
    from mlnotes.peft import token_prefix
    from mlnotes.transformer import TinyGPT
    torch.manual_seed(0)
    lm = TinyGPT(14, d=16, n_layer=2, n_head=2, max_len=8)
    ids = torch.tensor([3, 5, 7])
    values = token_prefix(lm, ids)
    assert values.shape == (2, 2, 3, 16)
    block = lm.blocks[0]
    x = lm.tok(ids) + lm.pos(torch.arange(3))
    k, v = block.attn.kv(block.ln1(x)).chunk(2, dim=-1)
    assert torch.allclose(values[0, 0], k, atol=1e-6) and torch.allclose(values[0, 1], v, atol=1e-6)


def test_train_prefixes_learns_and_keeps_the_model_frozen():
    import torch
    from mlnotes.peft import SEP, control_code_batch, prefix_exact_match, train_prefixes
    from mlnotes.transformer import TinyGPT, freeze
    torch.manual_seed(0)
    lm = freeze(TinyGPT(14, d=16, n_layer=2, n_head=2, max_len=16))
    before = {k: v.clone() for k, v in lm.state_dict().items()}

    def batch(n, g):
        seq = control_code_batch(n, tasks=("copy",), generator=g)[0]
        seq[:, 0] = SEP
        return seq

    prefixes, losses = train_prefixes(lm, batch, P=2, layers=1, n_seeds=3, steps=40, batch_size=16,
                                      lr=3e-2)
    assert prefixes.shape == (3, 1, 2, 2, 16)
    assert sum(losses[-5:]) < sum(losses[:5])
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items())
    em = prefix_exact_match(lm, batch(50, torch.Generator().manual_seed(1)), prefixes)
    assert em.shape == (3,) and ((0 <= em) & (em <= 1)).all()


def _gpt():
    from mlnotes.transformer import TinyGPT
    torch.manual_seed(0)
    return TinyGPT(14, d=16, n_layer=2, n_head=2, max_len=16)


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _batch(n, g):
    return control_code_batch(n, tasks=("copy",), generator=g)[0]


def _ax():
    import matplotlib.pyplot as plt
    return plt.subplots()[1]


_SCORES = {(128, "every layer"): np.array([0.5, 0.6]), (128, "first layer"): np.array([0.7, 0.8])}
ADVERSARIAL = {
    "LoRALinear": Example(fresh=lambda: {"base": nn.Linear(6, 4)}, r=2, alpha=4.0),
    "inject_lora": Example(fresh=lambda: {"model": _mlp()}, r=2, alpha=4.0, skip=("2",),
                           accepts={"skip": "empty"}),  # skip nothing
    "Adapter": Example(10, 3, act="relu"),
    "add_adapters": Example(fresh=lambda: {"model": _mlp()}, m=2, after=nn.ReLU),
    "finetune_memory_gb": Example(7e9, precision="bf16-mixed", optimizer="adam", trainable_fraction=0.5,
                                  gpu_gb=80.0, accepts={"n_params": "10**9", "trainable_fraction": "0",
                                                        "gpu_gb": "10**9"}),  # a 1e9-parameter model is real
    "svd_truncate": Example(np.arange(12.0).reshape(3, 4), 2),
    "fit_low_rank": Example(np.arange(12.0).reshape(3, 4), 2, steps=5, lr=0.01, seed=0),
    "PrefixKV": Example(2, 3, 8, reparam_hidden=5),
    "prefix_gate": Example(torch.randn(4, 6), torch.randn(2, 6), torch.randn(3, 6)),
    "control_code_batch": Example(8, tasks=("copy", "reverse"), n_digits=3,
                                  fresh=lambda: {"generator": torch.Generator().manual_seed(0)}),
    "answer_logits": Example(torch.randn(2, 12, 14), n_digits=5),
    "exact_match": Example(torch.randn(2, 12, 14), torch.randint(14, (2, 12)), n_digits=5),
    "prefix_attention_mass": Example(fresh=lambda: {"model": _gpt()}, ids=torch.randint(14, (2, 6)),
                                     prefix_kv=[(torch.randn(3, 16), torch.randn(3, 16))] * 2),
    "prefix_list": Example(torch.randn(1, 2, 3, 16), 2),
    "token_prefix": Example(fresh=lambda: {"model": _gpt()}, ids=torch.tensor([3, 5, 7])),
    "train_prefixes": Example(fresh=lambda: {"model": _gpt()}, batch_fn=_batch, P=2, layers=1, n_seeds=2,
                              steps=2, lr=0.03, batch_size=4, seed=0),
    "prefix_exact_match": Example(fresh=lambda: {"model": _gpt()}, seq=_batch(6, torch.Generator().manual_seed(0)),
                                  prefixes=torch.randn(2, 1, 2, 2, 16)),
    "plot_prefix_ablation": Example(fresh=lambda: {"ax": _ax()}, results=_SCORES,
                                    extra={"soft prompt": (128, np.array([0.1, 0.2]))}),
    "draw_memory_bars": Example(fresh=lambda: {"ax": _ax(), "mem": finetune_memory_gb(7e9)}),
    "draw_prefix_diagram": Example(fresh=lambda: {"axes": __import__("matplotlib.pyplot").pyplot.subplots(1, 2)[1]}),
    "plot_method_accuracy": Example(fresh=lambda: {"ax": _ax()},
                                    results={"head only": (10, np.array([0.5, 0.6])),
                                             "LoRA r=1": (20, np.array([0.6, 0.7]))}),
}


def test_draw_memory_bars_stacks_the_parts_and_marks_each_gpu():
    ax = _ax()
    mem = finetune_memory_gb(7.7e9)
    draw_memory_bars(ax, mem)
    widths = [patch.get_width() for patch in ax.patches]
    assert widths == pytest.approx([mem[p] for p in ("weights", "grads", "master", "optimizer")])
    assert len(ax.lines) == int(mem["gpus"]) and sum(widths) == pytest.approx(mem["total"])

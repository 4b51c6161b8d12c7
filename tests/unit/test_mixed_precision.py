"""Tests for mlnotes.mixed_precision against numpy's IEEE half, torch.finfo and torch.amp.GradScaler."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from adversarial_examples import Example

from mlnotes.mixed_precision import (DynamicLossScaler, float_bits, fp16_accumulate, fp16_decode, train_digits_mlp,
                                     underflow_fraction)


def _ax():
    import matplotlib.pyplot as plt
    return plt.subplots()[1]


ADVERSARIAL = {
    "float_bits": Example(1.5, "float16", accepts={"x": "-1 0 10**9 inf"}),  # any real has a pattern
    "fp16_decode": Example(0x3C00, accepts={"bits": "0"}),                     # 0 is +0.0
    "fp16_accumulate": Example(np.full(4, 0.01), start=0.5, dtype="float16", accepts={"start": "-1 0"}),
    "underflow_fraction": Example(np.array([1e-8, 1e-3, 1.0]), scale=4.0,
                                  accepts={"scale": "10**9"}),  # huge scale: all inf
    "DynamicLossScaler": Example(init_scale=1024.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=3,
                                 accepts={"init_scale": "10**9", "growth_interval": "10**9"}),
    "train_digits_mlp": Example("mixed", 0.05, num_steps=2, loss_scale=1024.0, batch_size=8, seed=0,
                                accepts={"num_steps": "0", "loss_scale": "10**9"}),
    "train_digits_mlp_seeds": Example("mixed", 0.05, num_seeds=2, num_steps=2, loss_scale=1024.0, batch_size=8,
                                      accepts={"num_steps": "0", "loss_scale": "10**9"}),
    "swamped_fraction": Example(1e-3, num_seeds=2, batch_size=8),
    "draw_bit_layout": Example(fresh=lambda: {"ax": _ax()}, formats=("float16", "bfloat16")),
    "draw_loss_scaling": Example(np.array([1e-9, -1e-6, 1e-3, 0.5]), 8, accepts={"K": "0"}),  # S = 1
}
ADVERSARIAL_EXEMPT = {"FORMATS": "a constant dict, not a callable"}


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 0xFFFF))
def test_decoder_matches_numpy(bits):
    expected = float(np.uint16(bits).view(np.float16))
    value = fp16_decode(bits)
    assert (np.isnan(value) and np.isnan(expected)) or value == expected


def test_decoder_edges():
    assert fp16_decode(0x7BFF) == 65504 and fp16_decode(0x0001) == 2.0 ** -24
    assert fp16_decode(0x0400) == 2.0 ** -14 and fp16_decode(0x7C00) == np.inf and fp16_decode(0x8000) == 0.0


@settings(max_examples=50, deadline=None)
@given(st.floats(-6e4, 6e4, allow_nan=False))
def test_float_bits_roundtrip(x):
    s, e, f = float_bits(x, "float16")
    assert fp16_decode(int(s + e + f, 2)) == float(np.float16(x))
    s, e, f = float_bits(x, "bfloat16")
    bf = torch.tensor(x, dtype=torch.float32).to(torch.bfloat16).view(torch.int16).item() & 0xFFFF
    assert int(s + e + f, 2) == bf


def test_float_bits_layout():
    assert float_bits(1.0) == ("0", "01111", "0000000000")
    assert [len(p) for p in float_bits(-2.5, "float32")] == [1, 8, 23]
    assert [len(p) for p in float_bits(3.0, np.float64)] == [1, 11, 52]


def test_accumulation_stalls():
    sums = fp16_accumulate(np.full(5000, 0.01))
    assert sums[-1] == 32.0
    assert abs(fp16_accumulate(np.full(5000, 0.01), dtype="float32")[-1] - 50) < 0.01
    assert fp16_accumulate([1e-4], start=1.0)[-1] == 1.0


def test_underflow_fraction():
    g = np.array([1e-9, 1e-6, 1e-3, 1.0])
    assert underflow_fraction(g, 1.0) == {"zero": 0.25, "subnormal": 0.25, "inf": 0.0}
    assert underflow_fraction(g, 2.0 ** 16)["inf"] == 0.25


def test_scaler_matches_gradscaler():
    pattern = [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0]
    ours = DynamicLossScaler(init_scale=2.0 ** 16, growth_interval=3)
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16, growth_interval=3)
    for overflow in pattern:
        opt.zero_grad()
        scaler.scale((p * 1.0).sum()).backward()
        if overflow:
            p.grad.fill_(float("inf"))
        before = p.detach().clone()
        scaler.step(opt)
        scaler.update()
        applied = ours.update(bool(overflow))
        assert ours.scale == scaler.get_scale()
        assert applied == (not torch.equal(before, p.detach()))


def test_mixed_precision_matches_fp32_quickly():
    a = train_digits_mlp("fp32", 0.05, num_steps=100)
    b = train_digits_mlp("mixed", 0.05, num_steps=100)
    assert abs(a - b) < 0.05 and a > 0.5


@pytest.mark.parametrize("call, error, match", [
    (lambda: float_bits("1"), TypeError, "real number"),
    (lambda: float_bits(1.0, "int8"), ValueError, "dtype"),
    (lambda: float_bits(float("nan")), ValueError, "x must be a finite"),
    (lambda: fp16_decode(1 << 16), ValueError, "bits must be <= 65535"),
    (lambda: fp16_decode(1.5), TypeError, "int"),
    (lambda: fp16_accumulate([]), ValueError, "empty"),
    (lambda: fp16_accumulate([1.0], dtype="float64"), ValueError, "dtype"),
    (lambda: underflow_fraction([0.0, 1.0]), ValueError, "nonzero"),
    (lambda: underflow_fraction([1.0], scale=0), ValueError, "scale"),
    (lambda: DynamicLossScaler(growth_interval=0), ValueError, "growth_interval"),
    (lambda: DynamicLossScaler(init_scale=-1.0), ValueError, "init_scale"),
    (lambda: DynamicLossScaler().update(1), TypeError, "found_inf"),
    (lambda: train_digits_mlp("bf16", 0.1), ValueError, "mode"),
    (lambda: train_digits_mlp("fp32", -0.1), ValueError, "lr"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_draw_bit_layout_draws_every_bit_and_rejects_bad_formats():
    import matplotlib.pyplot as plt

    from mlnotes.mixed_precision import draw_bit_layout

    fig, ax = plt.subplots()
    draw_bit_layout(ax, ("float16",))
    assert len(ax.patches) == 16
    with pytest.raises(ValueError, match="formats must hold at least 1 items"):
        draw_bit_layout(ax, ())
    with pytest.raises(TypeError, match="formats must be a list or tuple"):
        draw_bit_layout(ax, "float16")
    with pytest.raises(ValueError, match="formats must be one of"):
        draw_bit_layout(ax, ("float8",))
    plt.close(fig)


def test_batched_seeds_match_fp32_and_mixed_and_autocast_lists():
    from mlnotes.mixed_precision import autocast_dtypes, train_digits_mlp_seeds
    a32 = train_digits_mlp_seeds("fp32", 0.05, num_seeds=2, num_steps=100)
    amx = train_digits_mlp_seeds("mixed", 0.05, num_seeds=2, num_steps=100)
    assert a32.shape == (2,) and np.all(np.abs(a32 - amx) <= 0.02) and np.all(a32 > 0.5)
    d = autocast_dtypes()
    assert d["x @ w (matmul)"] == "bfloat16" and d["cross_entropy"] == "float32"
    assert d["parameter w"] == d["gradient of w"] == "float32"


def test_batched_seeds_rejects_bad_mode():
    from mlnotes.mixed_precision import train_digits_mlp_seeds
    with pytest.raises(ValueError, match="mode"):
        train_digits_mlp_seeds("fp8", 0.1, num_seeds=1, num_steps=1)


def test_swamped_fraction_matches_a_per_seed_unbatched_computation():
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from mlnotes.mixed_precision import swamped_fraction

    got = swamped_fraction(1e-3, num_seeds=2)
    digits = load_digits()
    X_tr, _, y_tr, _ = train_test_split(digits.data / 16, digits.target, test_size=0.3, random_state=0)
    X_tr, y_tr = torch.tensor(X_tr, dtype=torch.float32), torch.tensor(y_tr)
    for seed in range(2):
        gen = torch.Generator().manual_seed(seed)
        W = [(torch.randn(*sh, generator=gen) / np.sqrt(sh[0]) if len(sh) == 2 else torch.zeros(sh)).half()
             for sh in [(64, 64), (64,), (64, 10), (10,)]]
        idx = torch.randint(0, len(X_tr), (64,), generator=gen)
        P = [w.clone().requires_grad_() for w in W]
        loss = F.cross_entropy((torch.relu(X_tr[idx].half() @ P[0] + P[1]) @ P[2] + P[3]).float(), y_tr[idx])
        (loss * 1024).backward()
        lost = moved = 0
        for w, p in zip(W, P):
            g = p.grad.float() / 1024
            lost += int(((w - (1e-3 * g).half() == w) & (g != 0)).sum())
            moved += int((g != 0).sum())
        assert abs(got[seed] - lost / moved) < 1e-6
    assert np.all(swamped_fraction(1e-2, num_seeds=2) < got)


def test_draw_loss_scaling_shifts_the_histogram_by_K_bins():
    import matplotlib.pyplot as plt

    from mlnotes.mixed_precision import draw_loss_scaling

    grads = np.array([2.0**-30, -(2.0**-20), 2.0**-3])  # zero, subnormal, normal in FP16
    fig = draw_loss_scaling(grads, 0)
    assert fig.axes[0].get_title() == "$S = 2^{0}$: zero 33.3%, subnormal 33.3%, inf 0.0%"
    counts, edges, _ = fig.axes[0].patches[0].get_data()
    assert counts.sum() == 3 and counts[int(np.flatnonzero(edges == -30)[0])] == 1
    plt.close(fig)
    fig = draw_loss_scaling(grads, 16)
    counts16, edges16, _ = fig.axes[0].patches[0].get_data()
    assert np.array_equal(counts16, counts) and np.array_equal(edges16, edges + 16)
    assert fig.axes[0].get_title().startswith("$S = 2^{16}$: zero 0.0%, subnormal 0.0%")
    plt.close(fig)

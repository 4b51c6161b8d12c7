"""Tests for mlnotes.activations against torch.nn.functional, scipy and hand counts."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from scipy.integrate import quad
from scipy.special import erf, expit
from scipy.stats import norm

from adversarial_examples import Example
from mlnotes.activations import (FFN, GLUFFN, REGISTRY, SELU_ALPHA, SELU_LAMBDA, apply, derivative,
                                 draw_signal_depth, draw_swish, gelu_tanh, glu_hidden, propagate_stats,
                                 swish, train_digit_ffn)
from mlnotes.core import count_params

torch.set_num_threads(1)  # tiny models: one thread is fastest on a shared machine

BUILTINS = {
    "step": lambda t: torch.heaviside(t, torch.ones(1, dtype=t.dtype)),
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu, "leaky_relu": F.leaky_relu,
    "elu": F.elu, "selu": F.selu, "gelu": F.gelu, "silu": F.silu, "mish": F.mish,
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_matches_torch_builtins(name):
    x = torch.linspace(-30, 30, 6001, dtype=torch.float64)
    np.testing.assert_allclose(apply(name, x), BUILTINS[name](x).numpy(), atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_extreme_inputs_stay_finite(name):
    out = apply(name, np.array([-1e4, -50.0, 0.0, 50.0, 1e4]))
    assert np.isfinite(out).all()
    assert np.isfinite(derivative(name, np.array([-1e4, 1e4]))).all()


def test_gelu_against_scipy_and_tanh_form():
    x = np.linspace(-8, 8, 4001)
    np.testing.assert_allclose(apply("gelu", x), x * 0.5 * (1 + erf(x / np.sqrt(2))), atol=1e-12)
    t = torch.from_numpy(x)
    assert (gelu_tanh(t) - F.gelu(t, approximate="tanh")).abs().max() <= 1e-12
    assert 4e-4 < (gelu_tanh(t) - F.gelu(t)).abs().max() < 5e-4


@settings(max_examples=50, deadline=None)
@given(beta=st.floats(0.05, 50.0), z=st.floats(-20.0, 20.0))
def test_swish_matches_definition_and_bound(beta, z):
    value = swish(torch.tensor([z], dtype=torch.float64), beta).item()
    assert value == pytest.approx(z * expit(beta * z), rel=1e-12, abs=1e-300)
    assert abs(value - max(z, 0.0)) <= 0.2784646 / beta + 1e-12


def test_derivative_matches_closed_forms():
    z = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(derivative("sigmoid", z), expit(z) * (1 - expit(z)), atol=1e-14)
    np.testing.assert_allclose(derivative("tanh", z), 1 - np.tanh(z) ** 2, atol=1e-14)
    np.testing.assert_allclose(derivative("gelu", z), norm.cdf(z) + z * norm.pdf(z), atol=1e-12)
    assert derivative("relu", np.array([0.0]))[0] in (0.0, 1.0)
    assert derivative("step", z).tolist() == [0.0] * 101
    assert derivative("relu", np.array([[1.0, -1.0]])).shape == (1, 2)


def test_selu_constants_give_fixed_point():
    assert SELU_ALPHA == pytest.approx(1.6733, abs=1e-4) and SELU_LAMBDA == pytest.approx(1.0507, abs=1e-4)
    for k, target in ((1, 0.0), (2, 1.0)):
        moment = sum(quad(lambda z: float(apply("selu", z)) ** k * norm.pdf(z), a, b)[0]
                     for a, b in ((-np.inf, 0), (0, np.inf)))
        assert moment == pytest.approx(target, abs=1e-8)


def test_propagate_stats_shapes_and_physics():
    means, variances, grads = propagate_stats("relu", 10, 32, init="he", n=64, seed=0)
    assert means.shape == variances.shape == grads.shape == (11,)
    assert grads[-1] == pytest.approx(1.0)          # a unit vector at the top
    assert variances[0] == pytest.approx(1.0, abs=0.1)
    _, v_small, _ = propagate_stats("relu", 20, 64, init="lecun", n=64, seed=0)
    assert v_small[-1] < 1e-4                         # LeCun halves ReLU's second moment each layer
    # deterministic for a seed
    assert np.array_equal(propagate_stats("tanh", 3, 8, n=4, seed=5)[0], propagate_stats("tanh", 3, 8, n=4, seed=5)[0])


def test_glu_ffn_matches_manual_formula_and_counts():
    torch.manual_seed(0)
    block = GLUFFN(12, act="silu")
    x = torch.randn(5, 12)
    manual = (F.silu(x @ block.w.weight.T) * (x @ block.v.weight.T)) @ block.w2.weight.T
    assert torch.allclose(block(x), manual, atol=1e-6)
    # torch's F.glu gates the second half by a sigmoid: GLU with act = sigmoid
    glu = GLUFFN(4, hidden=6, act="sigmoid")
    both = torch.cat([x[:, :4] @ glu.v.weight.T, x[:, :4] @ glu.w.weight.T], dim=-1)
    assert torch.allclose(glu(x[:, :4]), F.glu(both, dim=-1) @ glu.w2.weight.T, atol=1e-6)
    for d in (3, 96, 192):
        assert count_params(GLUFFN(d)) == count_params(FFN(d)) == 8 * d * d
    assert glu_hidden(4096, multiple_of=256) == 11008
    assert count_params(FFN(4, bias=True)) == 4 * 16 + 16 + 16 * 4 + 4


@pytest.mark.parametrize("call, error, match", [
    (lambda: apply("swishy", [1.0]), ValueError, "name must be one of"),
    (lambda: apply(3, [1.0]), TypeError, "name must be one of"),
    (lambda: apply("relu", []), ValueError, "empty"),
    (lambda: apply("relu", ["a"]), TypeError, "numeric"),
    (lambda: apply("relu", [1 + 2j]), TypeError, "complex"),
    (lambda: derivative("nope", [1.0]), ValueError, "name must be one of"),
    (lambda: derivative("relu", torch.tensor([True])), TypeError, "numeric"),
    (lambda: gelu_tanh(["x"]), TypeError, "numeric"),
    (lambda: swish([1.0], beta=0.0), ValueError, "beta"),
    (lambda: swish([1.0], beta="1"), TypeError, "beta"),
    (lambda: propagate_stats("relu", 0, 8), ValueError, "depth"),
    (lambda: propagate_stats("relu", 2, 8.0), TypeError, "width"),
    (lambda: propagate_stats("relu", 2, 8, init="orthogonal"), ValueError, "init"),
    (lambda: propagate_stats("relu", 2, 8, scale=-1.0), ValueError, "scale"),
    (lambda: propagate_stats("nope", 2, 8), ValueError, "act must be one of"),
    (lambda: glu_hidden(0), ValueError, "d"),
    (lambda: FFN(8, act="swish"), ValueError, "act"),
    (lambda: FFN(0), ValueError, "d"),
    (lambda: GLUFFN(8, bias=1), TypeError, "bias must be True or False"),
    (lambda: GLUFFN(-2), ValueError, "d"),
    (lambda: train_digit_ffn("relu", np.zeros((4, 64)), [0, 1, 2, 10], [0, 1], [2, 3]), ValueError, "y"),
    (lambda: train_digit_ffn("relu", np.zeros((4, 64)), [0, 1, 2, 3], [0, 9], [2, 3]), ValueError, "train"),
    (lambda: draw_swish(1.0, reference="swishy"), ValueError, "reference"),
])
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_math_constant_c():
    ts = np.linspace(0, 5, 500001)
    assert (ts * expit(-ts)).max() == pytest.approx(0.278465, abs=1e-6)
    assert math.isclose(0.25 ** 10, 9.5367431640625e-07)


def test_draw_helpers_make_one_figure_each():
    import matplotlib.pyplot as plt

    v, g = np.ones((2, 4)), np.full((2, 4), 0.5)
    for fig in (draw_signal_depth(v, g, title="t"), draw_swish(2.0, "gelu")):
        assert sum(len(ax.lines) for ax in fig.axes) >= 4
        plt.close(fig)


def test_train_digit_ffn_learns_digits():
    from mlnotes.data import load_digits_scaled

    X, y = load_digits_scaled()
    out = train_digit_ffn("swiglu", X, y, np.arange(0, 1200), np.arange(1200, len(y)), num_epochs=30)
    assert out["train"][-1] < out["train"][0] / 3 and out["accuracy"] > 0.85


def _digits_example():
    rng = np.random.default_rng(0)
    return {"X": rng.normal(size=(20, 64)), "y": np.arange(20) % 10, "train": np.arange(15),
            "test": np.arange(15, 20)}


ADVERSARIAL = {
    "FFN": Example(d=8),
    "GLUFFN": Example(d=9, act="gelu"),
    # elementwise functions: any shape, numpy or torch
    "apply": Example("relu", np.linspace(-1, 1, 5), accepts={"x": "ndim torch"}),
    "derivative": Example("tanh", np.linspace(-1, 1, 5), accepts={"x": "ndim torch"}),
    "gelu_tanh": Example(np.linspace(-1, 1, 5), accepts={"x": "ndim torch"}),
    "swish": Example(np.linspace(-1, 1, 5), beta=2.0, accepts={"x": "ndim torch"}),
    "glu_hidden": Example(64, multiple_of=8),
    "propagate_stats": Example("relu", 3, 8, init="he", n=16, seed=0, scale=1.0),
    "train_digit_ffn": Example("relu", fresh=_digits_example, seed=0, num_epochs=2, lr=1e-3, eval_every=1),
    "draw_signal_depth": Example(np.ones((2, 4)), np.full((2, 4), 0.5), title="t",
                                 accepts={"title": "other-str"}),  # free text
    "draw_swish": Example(2.0, reference="relu"),
}


def test_train_digit_ffn_gives_both_kinds_the_same_initial_head(monkeypatch):
    import mlnotes.activations as act

    heads, build = [], act._DigitNet.__init__

    def spy(self, ffn, head):
        build(self, ffn, head)
        heads.append(head.weight.detach().clone())

    monkeypatch.setattr(act._DigitNet, "__init__", spy)
    data = _digits_example()
    for kind in ("relu", "swiglu"):
        train_digit_ffn(kind, **data, seed=3, num_epochs=1)
    assert torch.equal(heads[0], heads[1])

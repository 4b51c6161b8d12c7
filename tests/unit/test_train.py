"""Tests for mlnotes.train against torch.linalg, torch's spectral_norm / parametrize and direct computation."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.nn.utils import parametrize

from adversarial_examples import Example

from mlnotes.train import (AutoencoderWithLoss, HookRecorder, Progbar, RowNorm, SpectralNormWrap, fit, max_norm_,
                           power_iteration_sigma)


def _lin() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(2, 1)


ADVERSARIAL = {
    "Progbar": Example(10, width=20, stateful_metrics=["acc"],
                       accepts={"target": "10**9", "stateful_metrics": "empty"}),  # () is the default,
    "power_iteration_sigma": Example(torch.randn(4, 3, generator=torch.Generator().manual_seed(0)), 2,
                                     u=torch.ones(4)),
    "SpectralNormWrap": Example(n_iter=2, persistent=True, fresh=lambda: {"module": _lin()}),
    "RowNorm": Example(c=1.5, accepts={"c": "10**9"}),
    "max_norm_": Example(c=1.0, dim=1, fresh=lambda: {"module": _lin()},
                       accepts={"c": "10**9", "dim": "-1 0"}),  # rows (dim=1) or columns (dim=0)
    "HookRecorder": Example(fresh=lambda: {"module": _lin(), "fn": lambda out: out.sum()}),
    "AutoencoderWithLoss": Example(in_dim=8, hidden=4, seed=0),
    "fit": Example(steps=2, lr=0.1, weight_decay=0.0, accepts={"weight_decay": "0", "steps": "10**9"},
                   fresh=lambda: (lambda m: {"loss_fn": lambda step: m(torch.ones(1, 2)).pow(2).sum(),
                                             "params": m.parameters()})(_lin())),
}


def test_power_iteration_converges():
    W = torch.randn(32, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    true = torch.linalg.matrix_norm(W, ord=2)
    errors = [abs(power_iteration_sigma(W, r)[0] - true) / true for r in (1, 5, 20, 50)]
    assert all(a > b for a, b in zip(errors, errors[1:])) and errors[-1] < 1e-6


def test_power_iteration_rank_one_and_1x1():
    a, b = torch.randn(5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    W = torch.outer(a, b)
    assert torch.isclose(power_iteration_sigma(W, 1)[0].abs(), a.norm() * b.norm())
    assert power_iteration_sigma(torch.tensor([[-3.0]]), 2)[0].abs() == 3.0


def test_wrap_persistent_converges_to_unit_norm():
    lin = nn.Linear(20, 10).double()
    wrap = SpectralNormWrap(lin, n_iter=1, persistent=True)
    for _ in range(100):
        wrap(torch.zeros(1, 20, dtype=torch.float64))
    assert abs(torch.linalg.matrix_norm(wrap.normalized_weight().detach(), ord=2) - 1) < 1e-6
    wrap.eval()
    x = torch.randn(4, 20, dtype=torch.float64)
    assert torch.allclose(wrap(x), F_linear(x, wrap.normalized_weight(), lin.bias))


def F_linear(x, W, b):
    return x @ W.T + b


def test_rownorm_and_max_norm():
    lin = nn.Linear(8, 4)
    parametrize.register_parametrization(lin, "weight", RowNorm(2.0))
    assert torch.allclose(lin.weight.norm(dim=1), torch.full((4,), 2.0))
    lin2 = nn.Linear(8, 4)
    with torch.no_grad():
        lin2.weight.mul_(10)
    max_norm_(lin2, 1.5)
    assert torch.all(lin2.weight.norm(dim=1) <= 1.5 + 1e-6)
    small = nn.Linear(8, 4)
    with torch.no_grad():
        small.weight.mul_(1e-3)
    before = small.weight.clone()
    max_norm_(small, 1.0)
    assert torch.equal(before, small.weight)  # rows inside the ball are untouched


def test_internal_loss_and_hook():
    model = AutoencoderWithLoss(64, 8, seed=1)
    rec = HookRecorder(model.encoder, lambda out: (torch.relu(out) ** 2).sum(1).mean())
    x = torch.rand(10, 64)
    out = model(x)
    assert np.isclose(rec.values[-1], float(out["hidden_sq_norm"]), atol=1e-6)
    rec.remove()
    model(x)
    assert len(rec.values) == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=30), st.lists(st.integers(1, 3), min_size=30, max_size=30))
def test_progbar_step_weighted_mean(vals, incs):
    incs = incs[:len(vals)]
    bar = Progbar(sum(incs), stateful_metrics=["s"])
    current = 0
    for v, inc in zip(vals, incs):
        current += inc
        bar.update(current, [("m", v), ("s", v)])
    assert np.isclose(bar.value("m"), np.average(vals, weights=incs))
    assert bar.value("s") == vals[-1]
    assert bar.line().startswith(f"{sum(incs)}/{sum(incs)} [")


@pytest.mark.parametrize("call, error, match", [
    (lambda: Progbar(0), ValueError, "target"),
    (lambda: Progbar(5, width=0), ValueError, "width"),
    (lambda: Progbar(5).update(6), ValueError, "current"),
    (lambda: Progbar(5).update(1.5), TypeError, "int"),
    (lambda: Progbar(5).value("x"), KeyError, "unknown"),
    (lambda: power_iteration_sigma(torch.ones(3), 1), ValueError, "2-D"),
    (lambda: power_iteration_sigma(torch.ones(3, 2), 0), ValueError, "n_iter"),
    (lambda: power_iteration_sigma(torch.ones(3, 2), 1, torch.ones(2)), ValueError, "shape"),
    (lambda: SpectralNormWrap(nn.Conv1d(1, 1, 1)), ValueError, "module.weight must be a non-empty 2-D"),
    (lambda: SpectralNormWrap(nn.ReLU()), TypeError, "module.weight must be a torch tensor"),
    (lambda: Progbar(5).update(1, [("loss", "a")]), TypeError, "values"),
    (lambda: SpectralNormWrap(nn.Linear(2, 2), n_iter=0), ValueError, "n_iter"),
    (lambda: RowNorm(-1.0), ValueError, "c must"),
    (lambda: max_norm_(nn.ReLU(), 1.0), TypeError, "weight"),
    (lambda: max_norm_(nn.Linear(2, 2), 0), ValueError, "c must"),
    (lambda: HookRecorder("m", lambda o: o), TypeError, "nn.Module"),
    (lambda: HookRecorder(nn.ReLU(), 3), TypeError, "callable"),
    (lambda: AutoencoderWithLoss(0), ValueError, "in_dim"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fit_minimises_and_rejects_bad_input():
    w = nn.Parameter(torch.tensor([3.0]))
    losses = fit(lambda step: (w ** 2).sum(), [w], steps=200, lr=0.1)
    assert losses[-1] < 1e-2 < losses[0]
    frozen = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        fit(lambda step: frozen.weight.sum(), frozen.parameters(), 3, 0.1)
    with pytest.raises(TypeError, match="callable"):
        fit(None, [w], 3, 0.1)
    with pytest.raises(ValueError, match="lr"):
        fit(lambda s: w.sum(), [w], 3, 0.0)

"""Tests for mlnotes.autoregressive: FVSBN and NADE in torch, exact checks on small n."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mlnotes.autoregressive import FVSBN, NADE, empirical_pmf, enumerate_binary, fit_density, tv_distance


def _random_fvsbn(n, seed):
    model = FVSBN(n)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.bias.normal_(generator=gen)
        model.packed.normal_(generator=gen)
    return model


def test_enumerate_binary():
    states = enumerate_binary(3)
    assert states.shape == (8, 3) and states[5].tolist() == [1.0, 0.0, 1.0]
    assert enumerate_binary(1).tolist() == [[0.0], [1.0]]
    with pytest.raises(ValueError, match="n must be <= 20"):
        enumerate_binary(21)
    with pytest.raises(TypeError, match="int"):
        enumerate_binary(2.0)


def test_pmf_helpers():
    assert np.allclose(empirical_pmf(np.array([0, 1, 1, 3]), 4), [0.25, 0.5, 0, 0.25])
    assert tv_distance([0.5, 0.5], [1.0, 0.0]) == 0.5 and tv_distance([1.0], [1.0]) == 0.0
    with pytest.raises(ValueError, match="codes must have values"):
        empirical_pmf(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="non-empty"):
        empirical_pmf(np.array([], dtype=int), 2)
    with pytest.raises(ValueError, match="q must have shape"):
        tv_distance([1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        tv_distance([0.5, 0.6], [0.5, 0.5])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.integers(1, 5), st.integers(0, 1000))
def test_normalization_property(n, d, seed):
    states = enumerate_binary(n)
    assert abs(_random_fvsbn(n, seed).log_prob(states).exp().sum().item() - 1) < 1e-10
    assert abs(NADE(n, d, seed=seed).log_prob(states).exp().sum().item() - 1) < 1e-10


def test_fvsbn_matches_torch_bernoulli_and_counts():
    model = _random_fvsbn(6, 0)
    x = enumerate_binary(6)
    W = model.weight()
    assert torch.equal(W, torch.tril(W, -1))
    ref = torch.distributions.Bernoulli(logits=model.bias + x @ W.T).log_prob(x).sum(1)
    assert torch.allclose(model.log_prob(x), ref, atol=1e-12)
    assert sum(p.numel() for p in model.parameters()) == 21
    assert sum(p.numel() for p in NADE(6, 4).parameters()) == 2 * 6 * 4 + 6 + 4
    weights = np.tril(np.random.default_rng(0).normal(size=(6, 6)), -1)
    loaded = FVSBN(6).set_weights(np.ones(6), weights + np.triu(np.ones((6, 6))))  # upper part ignored
    assert np.allclose(loaded.weight().detach().numpy(), weights)


def test_nade_incremental_equals_naive_and_torch_bernoulli():
    model = NADE(9, 5, seed=1)
    x = enumerate_binary(9)
    assert torch.allclose(model.logits(x), model.logits_naive(x), atol=1e-12)
    ref = torch.distributions.Bernoulli(logits=model.logits_naive(x)).log_prob(x).sum(1)
    assert torch.allclose(model.log_prob(x), ref, atol=1e-12)


@pytest.mark.parametrize("kind", ["fvsbn", "nade"])
def test_ancestral_sampling_matches_pmf(kind):
    model = _random_fvsbn(4, 3) if kind == "fvsbn" else NADE(4, 3, seed=3)
    exact = model.log_prob(enumerate_binary(4)).exp().detach().numpy()
    draws = model.sample(100_000, generator=torch.Generator().manual_seed(0))
    codes = (draws @ (2 ** torch.arange(3, -1, -1, dtype=torch.float64))).long().numpy()
    assert tv_distance(empirical_pmf(codes, 16), exact) < 0.01


def test_clamped_sampling_keeps_known_pixels():
    model = NADE(6, 3, seed=0)
    known = torch.tensor([True, True, False, False, True, False])
    values = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    s = model.sample(500, generator=torch.Generator().manual_seed(1), x_known=values, known_mask=known)
    assert torch.all(s[:, known] == values[known])
    # with a known prefix, the next pixel follows the exact conditional
    p2 = model.conditionals(torch.tensor([[1.0, 0.0, 0, 0, 0, 0]], dtype=torch.float64))[0, 2].item()
    big = model.sample(50_000, generator=torch.Generator().manual_seed(2), x_known=values, known_mask=known)
    assert abs(big[:, 2].mean().item() - p2) < 0.01


def test_fit_density_decreases_nll():
    gen = torch.Generator().manual_seed(0)
    X = (torch.rand(400, 8, generator=gen) < 0.3).double()
    X[:, 1] = X[:, 0]
    model = NADE(8, 4, seed=0)
    before = -model.log_prob(X).mean().item()
    hist = fit_density(model, X, steps=200, lr=3e-2, batch_size=64, X_eval=X[:100], eval_every=100)
    assert hist["step"] == [100, 200] and len(hist["eval_nll"]) == 2
    assert hist["train_nll"][-1] < before - 0.5


def test_bad_inputs():
    model = NADE(4, 2)
    with pytest.raises(TypeError, match="torch tensor"):
        model.log_prob(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="x must have shape"):
        model.log_prob(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="x must hold only the values 0, 1"):
        model.log_prob(torch.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="x must hold only the values 0, 1"):
        model.conditionals(torch.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="x must have shape"):
        model.preactivations(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="neither"):
        model.sample(3, x_known=torch.zeros(4))
    with pytest.raises(TypeError, match="known_mask must be a bool tensor"):   # a wrong kind: TypeError
        model.sample(3, x_known=torch.zeros(4), known_mask=torch.zeros(4))
    with pytest.raises(ValueError, match=">= 1"):
        model.sample(0)
    with pytest.raises(ValueError, match=">= 1"):
        NADE(4, 0)
    with pytest.raises(TypeError, match="int"):
        FVSBN(4.5)
    with pytest.raises(ValueError, match=r"bias must have shape \(self.n,\) with self.n = 3, got shape \(2,\)"):
        FVSBN(3).set_weights(np.zeros(2), np.zeros((3, 3)))
    with pytest.raises(TypeError, match=r"model must provide model.n \(needed to check X\)"):
        fit_density(torch.nn.Linear(2, 2), torch.zeros(2, 2), steps=1)
    with pytest.raises(ValueError, match="lr"):
        fit_density(model, torch.zeros(2, 4), steps=1, lr=0)
    with pytest.raises(ValueError, match="steps"):
        fit_density(model, torch.zeros(2, 4), steps=0)


def test_fit_fvsbn_matches_logistic_regressions_and_normalizes():
    import itertools
    from sklearn.linear_model import LogisticRegression
    from mlnotes.autoregressive import fit_fvsbn
    X = (np.random.default_rng(0).random((300, 6)) < 0.4).astype(float)
    X[:, 3] = (X[:, 1] + X[:, 2] > 0).astype(float)
    X[:, 5] = 0  # a constant column falls back to a smoothed Bernoulli
    model = fit_fvsbn(X, C=1.0)
    W = model.weight().detach().numpy()
    for i in (2, 4):
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(X[:, :i], X[:, i])
        assert np.allclose(W[i, :i], lr.coef_[0]) and np.isclose(model.bias[i].item(), lr.intercept_[0])
    assert np.isclose(torch.sigmoid(model.bias[5]).item(), 1 / (len(X) + 2))
    states = torch.tensor(list(itertools.product([0, 1], repeat=6)), dtype=torch.float64)
    assert abs(model.log_prob(states).exp().sum().item() - 1) < 1e-10
    with pytest.raises(ValueError, match="X"):
        fit_fvsbn(np.zeros(5))
    with pytest.raises(ValueError, match="C"):
        fit_fvsbn(X, C=0.0)


def test_made_masks_normalizes_and_trains():
    from mlnotes.autoregressive import MADE, enumerate_binary, fit_density
    made = MADE(8, 16, seed=1)
    states = enumerate_binary(8).float()
    assert abs(made.log_prob(states).exp().sum().item() - 1) < 1e-5
    J = torch.autograd.functional.jacobian(lambda v: made.logits(v[None])[0], states[3])
    assert torch.triu(J).abs().max().item() == 0.0
    assert made.effective_params() == int(made.mask_in.sum() + made.mask_out.sum()) + 16 + 8
    s = made.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 8)
    X = (torch.rand(64, 8, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    h = fit_density(made, X, steps=5, eval_every=5)
    assert len(h["train_nll"]) == 1
    with pytest.raises(ValueError, match="n"):
        MADE(1, 4)
    with pytest.raises(ValueError, match="hidden"):
        MADE(4, 0)


# ----------------------------------------------------------------------------- bad input
from adversarial_examples import Example  # noqa: E402

_X = (np.random.default_rng(0).random((20, 4)) < 0.5).astype(float)
ADVERSARIAL = {
    "enumerate_binary": Example(n=3),
    "empirical_pmf": Example(np.array([0, 1, 1, 2]), K=3),
    "tv_distance": Example(np.array([0.5, 0.5]), np.array([0.25, 0.75])),
    "FVSBN": Example(n=4),
    "NADE": Example(n=4, d=3, seed=0),
    "MADE": Example(n=4, hidden=5, seed=0),
    "fit_fvsbn": Example(_X, C=1.0, alpha=1.0),
    "fit_density": Example(X=torch.tensor(_X), steps=2, lr=1e-2, batch_size=4, seed=0,
                           weight_decay=0.0, eval_every=1, fresh=lambda: {"model": FVSBN(4)},
                           accepts={"weight_decay": "0"}),
}

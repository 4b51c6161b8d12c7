"""Tests for mlnotes.self_supervised: NT-Xent against a loop reference, MI estimate, augmentations, pretext tasks."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from adversarial_examples import Example
from hypothesis import given, settings, strategies as st
from sklearn.datasets import load_digits

from mlnotes.infotheory import infonce_bound
from mlnotes.self_supervised import (MLPEncoder, augment_digits, info_nce, info_nce_mi_estimate, linear_probe, masked_mse,
                         train_contrastive, train_masked)

torch.set_num_threads(1)

_X = np.random.default_rng(0).random((8, 64))
_F = np.random.default_rng(1).random((8, 3))
_Y = np.array([0, 1] * 4)
ADVERSARIAL = {
    "MLPEncoder": Example(hidden=8, code=4, head=True),
    "augment_digits": Example(torch.rand(4, 64), shift=1, noise=0.1, drop=0.2, contrast=(0.6, 1.4),
                              generator=None, accepts={"shift": "0", "noise": "0", "drop": "0"}),  # no-op views
    "draw_ssl_taxonomy": Example(fresh=lambda: {"ax": __import__("matplotlib.pyplot").pyplot.subplots()[1]}),
    "info_nce": Example(torch.randn(4, 3), torch.randn(4, 3), tau=0.2),
    "info_nce_mi_estimate": Example(np.eye(4), accepts={"critic_matrix": "torch"}),  # numpy or torch
    "linear_probe": Example(_F, _Y, _F, _Y, labels_per_class=2, seed=0, accepts={"labels_per_class": "None"}),
    "masked_mse": Example(X=_X, mask_ratio=0.3, seed=0, fill=None, accepts={"fill": "None"},
                          fresh=lambda: {"model": __import__("mlnotes.self_supervised").self_supervised.MaskedPixelModel()}),
    "train_contrastive": Example(_X, steps=2, batch=4, tau=0.2, lr=1e-3, seed=0, shift=1, noise=0.1, drop=0.2,
                                 accepts={"shift": "0", "noise": "0", "drop": "0", "steps": "10**9"}),
    "train_masked": Example(_X, mask_ratio=0.3, steps=2, batch=4, lr=1e-3, seed=0),
}


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    X = d.data / 16.0
    return X[:1200], d.target[:1200], X[1200:], d.target[1200:]


def _nt_xent_loop(z1, z2, tau):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        partner = (i + n2 // 2) % n2
        logits = torch.stack([z[i] @ z[j] / tau for j in range(n2) if j != i])
        index = partner if partner < i else partner - 1
        total += -(logits[index] - torch.logsumexp(logits, 0))
    return total / n2


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 6), st.integers(1, 5), st.floats(0.05, 2.0), st.integers(0, 1000))
def test_info_nce_matches_loop(N, k, tau, seed):
    g = torch.Generator().manual_seed(seed)
    z1, z2 = torch.randn(N, k, generator=g, dtype=torch.float64), torch.randn(N, k, generator=g, dtype=torch.float64)
    assert info_nce(z1, z2, tau).item() == pytest.approx(_nt_xent_loop(z1, z2, tau).item(), rel=1e-9, abs=1e-9)


def test_info_nce_extremes():
    z = torch.randn(32, 8)
    assert info_nce(z, z, 0.05).item() < 0.1  # identical views, well separated: near 0
    zeros = torch.ones(16, 4)
    assert info_nce(zeros, zeros, 1.0).item() == pytest.approx(math.log(31), rel=1e-5)


def test_mi_estimate_equals_infonce_bound():
    s = np.random.default_rng(0).normal(size=(20, 20))
    assert info_nce_mi_estimate(s) == pytest.approx(infonce_bound(s))
    assert info_nce_mi_estimate(100 * np.eye(7)) == pytest.approx(math.log(7))


def test_augment_shapes_and_determinism():
    x = torch.rand(10, 64)
    a = augment_digits(x, generator=torch.Generator().manual_seed(0))
    b = augment_digits(x, generator=torch.Generator().manual_seed(0))
    assert a.shape == (10, 64) and torch.equal(a, b)
    same = augment_digits(x, shift=0, noise=0.0, drop=0.0, contrast=(1.0, 1.0))
    assert torch.equal(same, x)


def test_augment_shift_is_a_translation():
    x = torch.zeros(200, 64)
    x[:, 3 * 8 + 4] = 1.0  # one bright pixel at row 3, column 4
    out = augment_digits(x, shift=1, noise=0.0, drop=0.0, contrast=(1.0, 1.0),
                         generator=torch.Generator().manual_seed(1))
    rows, cols = np.divmod(out.argmax(dim=1).numpy(), 8)
    assert set(rows) <= {2, 3, 4} and set(cols) <= {3, 4, 5} and len(set(zip(rows, cols))) == 9
    assert torch.allclose(out.sum(1), torch.ones(200))


def test_pretext_tasks_learn(digits):
    X_tr, y_tr, X_te, y_te = digits
    model, losses = train_contrastive(X_tr, steps=120, batch=128, seed=0)
    assert np.mean(losses[-10:]) < losses[0] - 0.5
    torch.manual_seed(0)
    baseline = MLPEncoder()
    acc = linear_probe(model.features(X_tr), y_tr, model.features(X_te), y_te, 10)
    acc0 = linear_probe(baseline.features(X_tr), y_tr, baseline.features(X_te), y_te, 10)
    assert acc > acc0 - 0.02
    masked, _ = train_masked(X_tr, 0.3, steps=150, batch=128, seed=0)
    model_mse, mean_mse = masked_mse(masked, X_te)
    assert model_mse < mean_mse
    assert masked.features(X_te).shape == (len(X_te), 64)


def test_linear_probe_label_budget(digits):
    X_tr, y_tr, X_te, y_te = digits
    full = linear_probe(X_tr, y_tr, X_te, y_te)
    few = linear_probe(X_tr, y_tr, X_te, y_te, 2, seed=0)
    assert full > 0.9 and few < full
    assert linear_probe(X_tr, y_tr, X_te, y_te, 2, seed=0) == few


def test_bad_inputs(digits):
    X_tr, y_tr, X_te, y_te = digits
    with pytest.raises(ValueError, match="z2 must have shape"):
        info_nce(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="tau must be in"):
        info_nce(torch.zeros(3, 2), torch.zeros(3, 2), tau=0)
    with pytest.raises(ValueError, match=r"critic_matrix must have shape \(N, N\) with N = 2"):
        info_nce_mi_estimate(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        info_nce_mi_estimate(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="x must"):
        augment_digits(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="shift must be <= 3"):
        augment_digits(torch.zeros(3, 64), shift=5)
    with pytest.raises(ValueError, match="drop must be in"):
        augment_digits(torch.zeros(3, 64), drop=1.0)
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        MLPEncoder(hidden=0)
    with pytest.raises(ValueError, match=r"X must have shape \(any, 64\)"):
        MLPEncoder().features(np.zeros((2, 8)))
    with pytest.raises(ValueError, match=r"X must have shape \(n >= 2, 64\)"):
        train_contrastive(np.zeros((1, 64)))
    with pytest.raises(ValueError, match="mask_ratio must be in"):
        train_masked(X_tr, mask_ratio=1.0)
    with pytest.raises(TypeError, match="model must be a MaskedPixelModel"):
        masked_mse(None, X_te)
    with pytest.raises(ValueError, match=r"y_train must have shape \(N,\) with N = 1200, got shape \(5,\)"):
        linear_probe(X_tr, y_tr[:5], X_te, y_te)
    with pytest.raises(ValueError, match="fewer than labels_per_class"):
        linear_probe(X_tr, y_tr, X_te, y_te, 10_000)

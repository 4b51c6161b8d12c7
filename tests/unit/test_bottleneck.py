"""Tests for mlnotes.bottleneck: linear-Gaussian information identities and the VIB classifier."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy import integrate, stats

from mlnotes.bottleneck import (VIBClassifier, expected_kl_linear, gaussian_mi_linear, marginal_kl_linear,
                                train_vib)


@settings(max_examples=50, deadline=None)
@given(st.floats(-3, 3), st.floats(0.1, 3), st.floats(0.05, 3))
def test_identity_and_bound(a, s, sigma):
    e, i, m = expected_kl_linear(a, s, sigma), gaussian_mi_linear(a, s, sigma), marginal_kl_linear(a, s, sigma)
    assert abs(e - i - m) < 1e-10 and i >= 0 and m >= -1e-15 and e >= i - 1e-12


def test_mutual_information_against_numerical_integration():
    a, s, sigma = 0.8, 1.3, 0.5
    v = a ** 2 * s ** 2 + sigma ** 2
    # I = h(Z) - h(Z|X) with Gaussian entropies from scipy
    ref = stats.norm(scale=np.sqrt(v)).entropy() - stats.norm(scale=sigma).entropy()
    assert abs(gaussian_mi_linear(a, s, sigma) - ref) < 1e-12
    # E_x KL by quadrature over x
    kl = lambda x: 0.5 * ((a * x) ** 2 + sigma ** 2 - np.log(sigma ** 2) - 1)  # noqa: E731
    quad, _ = integrate.quad(lambda x: kl(x) * stats.norm.pdf(x, scale=s), -30, 30)
    assert abs(expected_kl_linear(a, s, sigma) - quad) < 1e-9
    assert gaussian_mi_linear(0.0, 1.0, 1.0) == 0.0 and abs(expected_kl_linear(0.6, 1.0, 0.8) - gaussian_mi_linear(0.6, 1.0, 0.8)) < 1e-12


def test_linear_bad_input():
    for fn in (gaussian_mi_linear, expected_kl_linear, marginal_kl_linear):
        with pytest.raises(ValueError, match="> 0"):
            fn(1.0, 0.0, 1.0)
        with pytest.raises(ValueError, match="finite"):
            fn(np.nan, 1.0, 1.0)
        with pytest.raises(TypeError, match="a must be a real number"):
            fn("1", 1.0, 1.0)


def test_vib_forward_and_training():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(200, 6, generator=gen)
    y = (X[:, 0] > 0).long()
    model = VIBClassifier(d_in=6, d_hidden=16, d_z=2, n_classes=2, seed=0)
    logits, kl = model(X)
    assert logits.shape == (200, 2) and kl.shape == (200,) and (kl >= 0).all()
    model = train_vib(model, X, y, lam=1e-3, steps=200, lr=1e-2, batch_size=64)
    assert not model.training
    with torch.no_grad():
        a1, _ = model(X)
        a2, _ = model(X)
        s1, _ = model(X, sample=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a1, a2) and not torch.equal(a1, s1)
    assert (a1.argmax(1) == y).float().mean() > 0.9
    collapsed = train_vib(VIBClassifier(d_in=6, d_hidden=16, d_z=2, n_classes=2, seed=0), X, y, lam=10.0, steps=200, lr=1e-2)
    with torch.no_grad():
        assert collapsed(X)[1].mean() < 0.1


def test_vib_bad_input():
    with pytest.raises(ValueError, match="d_z"):
        VIBClassifier(d_z=0)
    with pytest.raises(ValueError, match=">= 2"):
        VIBClassifier(n_classes=1)
    model = VIBClassifier(d_in=4, d_z=2)
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="VIBClassifier"):
        train_vib(torch.nn.Linear(2, 2), torch.zeros(2, 4), torch.zeros(2), 0.1)
    with pytest.raises(ValueError, match="lam"):
        train_vib(model, torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), -1.0)
    with pytest.raises(ValueError, match="steps"):
        train_vib(model, torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), 0.1, steps=0)
    with pytest.raises(ValueError, match=r"y must have shape \(n,\) with n = 2, got shape \(3,\)"):
        train_vib(model, torch.zeros(2, 4), torch.zeros(3, dtype=torch.long), 0.1)


# ----------------------------------------------------------------------------- bad input
from adversarial_examples import Example  # noqa: E402

from mlnotes.bottleneck import VIBClassifier as _VIB  # noqa: E402

ADVERSARIAL = {
    "gaussian_mi_linear": Example(a=0.8, s=1.3, sigma=0.5, accepts={"a": "-1 0"}),
    "expected_kl_linear": Example(a=0.8, s=1.3, sigma=0.5, accepts={"a": "-1 0"}),
    "marginal_kl_linear": Example(a=0.8, s=1.3, sigma=0.5, accepts={"a": "-1 0"}),
    "VIBClassifier": Example(d_in=4, d_hidden=8, d_z=2, n_classes=3, seed=0),
    "train_vib": Example(timeout=20, X=torch.zeros(6, 4), y=torch.tensor([0, 1, 2, 0, 1, 2]), lam=0.1,
                         steps=2, lr=1e-3, batch_size=4, seed=0, accepts={"lam": "0"},
                         fresh=lambda: {"model": _VIB(d_in=4, d_hidden=8, d_z=2, n_classes=3)}),
}

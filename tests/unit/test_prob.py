"""Tests for mlnotes.prob: the shared softmax helpers and the Gumbel samplers."""

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from hypothesis import given, settings, strategies as st

from adversarial_examples import Example
from mlnotes.prob import (as_generator, gumbel_max, gumbel_softmax, log_softmax, logsumexp,
                          sample_gumbel, softmax)

LOGITS = np.array([1.0, 0.2, -0.5, 2.0, 0.0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=8))
def test_softmax_matches_scipy(xs):
    assert np.allclose(softmax(xs), scipy.special.softmax(xs), atol=1e-12)
    assert np.allclose(logsumexp(xs), scipy.special.logsumexp(xs), atol=1e-9)
    assert np.allclose(log_softmax(xs), scipy.special.log_softmax(xs), atol=1e-9)


def test_as_generator():
    g = np.random.default_rng(3)
    assert as_generator(g) is g
    assert as_generator(3).random() == np.random.default_rng(3).random()
    with pytest.raises(TypeError, match="rng"):
        as_generator(1.5)
    with pytest.raises(ValueError, match="rng"):
        as_generator(-1)
    assert isinstance(as_generator(None), np.random.Generator)  # None: fresh entropy


def test_sample_gumbel_distribution_and_clipping():
    g = sample_gumbel(200_000, 0)
    assert g.shape == (200_000,) and np.isfinite(g).all()
    assert scipy.stats.kstest(g, scipy.stats.gumbel_r.cdf).statistic < 0.005
    assert sample_gumbel((2, 3), 0).shape == (2, 3)
    assert sample_gumbel((0,), 0).shape == (0,)
    assert np.abs(sample_gumbel(1000, 0, eps=0.4)).max() <= -np.log(-np.log(0.6)) + 1e-12


def test_sample_gumbel_bad_input():
    with pytest.raises(TypeError, match="shape"):
        sample_gumbel((2.5,), 0)
    with pytest.raises(ValueError, match="eps"):
        sample_gumbel(3, 0, eps=0.0)


def test_gumbel_max_frequencies_match_softmax():
    freq = np.bincount(gumbel_max(LOGITS, 200_000, 0), minlength=5) / 200_000
    assert np.abs(freq - softmax(LOGITS)).max() < 0.005


def test_gumbel_max_edges():
    assert (gumbel_max([3.0], 10, 0) == 0).all()
    assert (gumbel_max([0.0, -np.inf, 0.0], 5000, 0) != 1).all()  # impossible class never drawn
    assert (gumbel_max([0.0, 1e6], 100, 0) == 1).all()
    same = gumbel_max(LOGITS, 1000, 7), gumbel_max(LOGITS - 123.4, 1000, 7)
    assert np.array_equal(*same)  # shift invariance, same noise


def test_gumbel_max_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        gumbel_max(np.zeros((2, 3)), 5, 0)
    with pytest.raises(ValueError, match="NaN"):
        gumbel_max([0.0, np.nan], 5, 0)
    with pytest.raises(ValueError, match="n must"):
        gumbel_max(LOGITS, 0, 0)
    with pytest.raises(TypeError, match="logits"):
        gumbel_max(["a", "b"], 5, 0)
    with pytest.raises(ValueError, match="logits"):
        gumbel_max([], 5, 0)


def test_gumbel_softmax_simplex_limits_and_bias():
    y = gumbel_softmax(LOGITS, 0.5, 0, n=20_000)
    assert y.shape == (20_000, 5) and np.allclose(y.sum(1), 1) and (y >= 0).all()
    assert gumbel_softmax(LOGITS, 0.01, 0, n=2000).max(1).mean() > 0.99
    assert gumbel_softmax(LOGITS, 100.0, 0, n=2000).max(1).mean() < 0.25
    mean_tau1 = gumbel_softmax(LOGITS, 1.0, 0, n=100_000).mean(0)
    assert abs(mean_tau1[3] - softmax(LOGITS)[3]) > 0.05  # biased
    hard = gumbel_softmax(LOGITS, 1.0, 0, n=1000, hard=True)
    assert set(np.unique(hard)) == {0.0, 1.0} and np.allclose(hard.sum(1), 1)
    assert gumbel_softmax(np.zeros((4, 3)), 1.0, 0).shape == (4, 3)


def test_gumbel_softmax_matches_torch_relaxed_one_hot():
    ours = gumbel_softmax(LOGITS, 0.5, 0, n=100_000).max(1).mean()
    dist = torch.distributions.RelaxedOneHotCategorical(torch.tensor(0.5), logits=torch.tensor(LOGITS))
    torch.manual_seed(0)
    ref = dist.sample((100_000,)).max(1).values.mean().item()
    assert abs(ours - ref) < 0.01


def test_gumbel_softmax_logit_shift_exact():
    a = gumbel_softmax(LOGITS, 0.3, 5, n=100)
    b = gumbel_softmax(log_softmax(LOGITS), 0.3, 5, n=100)
    assert np.abs(a - b).max() < 1e-12


def test_gumbel_softmax_bad_input():
    for tau, error in ((0.0, ValueError), (-1.0, ValueError), (True, TypeError), ("1", TypeError)):
        with pytest.raises(error, match="tau"):
            gumbel_softmax(LOGITS, tau, 0)
    with pytest.raises(TypeError, match="hard"):
        gumbel_softmax(LOGITS, 1.0, 0, hard=1)
    with pytest.raises(ValueError, match="finite"):
        gumbel_softmax([-np.inf, -np.inf], 1.0, 0)


# --- logsumexp / softmax / log_softmax against scipy.special ---------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402
from scipy import special  # noqa: E402

from mlnotes.prob import log_softmax, logsumexp, softmax  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-700, 700), min_size=1, max_size=30), st.floats(0.05, 20))
def test_logsumexp_softmax_match_scipy(values, tau):
    x = np.array(values)
    np.testing.assert_allclose(logsumexp(x, tau=tau), tau * special.logsumexp(x / tau), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(softmax(x, tau=tau), special.softmax(x / tau), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(log_softmax(x, tau=tau), special.log_softmax(x / tau), rtol=1e-9, atol=1e-9)


def test_logsumexp_is_a_smooth_max_and_handles_extremes():
    x = np.array([[1.0, 3.0, 2.0], [1e308, 0.0, -1e308]])
    for tau in (1.0, 0.1, 0.001):
        gap = logsumexp(x[0], tau=tau) - x[0].max()
        assert 0 <= gap <= tau * np.log(3)
    assert np.isfinite(logsumexp(x, axis=1)).all() and softmax(x, axis=1)[1, 0] == 1.0
    np.testing.assert_allclose(softmax(np.zeros(4)), 0.25)  # ties share evenly
    assert logsumexp([-np.inf, -np.inf]) == -np.inf


@pytest.mark.parametrize("fn", [logsumexp, softmax, log_softmax])
@pytest.mark.parametrize("x, tau, error, message", [
    ([], 1.0, ValueError, "x"),
    (["a", "b"], 1.0, TypeError, "x"),
    ([1.0, 2.0], 0.0, ValueError, "tau"),
    ([1.0, 2.0], -1.0, ValueError, "tau"),
])
def test_smooth_max_family_rejects_bad_input(fn, x, tau, error, message):
    with pytest.raises(error, match=message):
        fn(x, tau=tau)


LOGITS_ARRAY = np.array([0.5, -1.0, 2.0])
ADVERSARIAL = {
    # x/logits: +-inf and NaN are meaningful (-inf = impossible class; NaN propagates)
    "logsumexp": Example(x=LOGITS_ARRAY, axis=-1, tau=1.0, accepts={"x": "inf-array ndim", "axis": "-1 0"}),
    "softmax": Example(x=LOGITS_ARRAY, axis=-1, tau=1.0, accepts={"x": "inf-array ndim", "axis": "-1 0"}),
    "log_softmax": Example(x=LOGITS_ARRAY, axis=-1, tau=1.0, accepts={"x": "inf-array ndim", "axis": "-1 0"}),
    "as_generator": Example(rng=0, accepts={"rng": "0 None 10**9"}),  # any seed; None = fresh
    "sample_gumbel": Example(shape=(2, 3), rng=0, eps=1e-12, accepts={"shape": "0 ndim empty", "rng": "None 10**9"}),  # () = one draw
    "gumbel_max": Example(logits=LOGITS_ARRAY, n=4, rng=0, accepts={"rng": "None 10**9"}),
    "gumbel_softmax": Example(logits=LOGITS_ARRAY, tau=0.5, rng=0, n=None, hard=False,
                              accepts={"logits": "ndim", "n": "int", "rng": "None 10**9"}),  # (..., k)
}


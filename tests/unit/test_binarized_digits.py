"""Tests for mlnotes.binarized_digits: parameter counts, chain rule, Bayes-net MLE, naive Bayes, FVSBN."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB

from mlnotes.binarized_digits import (BernoulliNaiveBayes, IndependentBernoulli, bayes_net_param_count,
                               chain_rule_conditionals, fit_markov_chain, joint_from_conditionals,
                               markov_chain_log_likelihood, param_counts)


def _data(m=300, n=6, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random(n)
    X = (rng.random((m, n)) < base).astype(np.uint8)
    X[:, 1] = X[:, 0] ^ (rng.random(m) < 0.1)  # a correlated pair
    return X, rng.integers(0, 3, size=m)


def _all_states(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.uint8)


def test_param_counts():
    c = param_counts(64)
    assert c["full joint"] == 2 ** 64 - 1 and c["Markov chain"] == 127 and c["FVSBN"] == 2080
    assert c["naive Bayes"] == 649 and c["logistic regression"] == 650 and c["independent"] == 64
    assert param_counts(1)["Bayes net, 2 parents"] == 1
    assert bayes_net_param_count([[], [0], [0], [1, 2], [3]]) == 11
    with pytest.raises(TypeError, match="int"):
        param_counts(3.0)
    with pytest.raises(ValueError, match=">= 2"):
        param_counts(3, n_classes=1)
    with pytest.raises(ValueError, match="earlier nodes"):
        bayes_net_param_count([[1], []])
    with pytest.raises(ValueError, match="repeated"):
        bayes_net_param_count([[], [0, 0]])
    with pytest.raises(ValueError, match="non-empty"):
        bayes_net_param_count([])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000))
def test_chain_rule_roundtrip(n, seed):
    joint = np.random.default_rng(seed).random((2,) * n)
    joint /= joint.sum()
    conds = chain_rule_conditionals(joint)
    assert [c.shape for c in conds] == [(2,) * i for i in range(n)]
    assert np.abs(joint_from_conditionals(conds) - joint).max() < 1e-12


def test_chain_rule_zero_probability_events():
    joint = np.zeros((2, 2)); joint[0, 1] = 1.0
    conds = chain_rule_conditionals(joint)
    assert conds[1][1] == 0.5  # x_0 = 1 never happens
    assert np.allclose(joint_from_conditionals(conds), joint)


def test_chain_rule_bad_input():
    with pytest.raises(ValueError, match=r"\(2,\)\*n"):
        chain_rule_conditionals(np.ones((2, 3)) / 6)
    with pytest.raises(ValueError, match="sum to 1"):
        chain_rule_conditionals(np.ones((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        joint_from_conditionals([np.array(0.5), np.ones(3) / 2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        joint_from_conditionals([np.array(1.5)])
    with pytest.raises(ValueError, match="non-empty"):
        joint_from_conditionals([])


def test_markov_chain_mle_and_normalization():
    X, _ = _data()
    p0, cpt = fit_markov_chain(X)
    assert cpt.shape == (5, 2) and 1 + cpt.size == param_counts(6)["Markov chain"]
    states = _all_states(6)
    total = sum(np.exp(markov_chain_log_likelihood(s[None], p0, cpt)) for s in states)
    assert abs(total - 1) < 1e-12
    best = markov_chain_log_likelihood(X, p0, cpt)
    moved = cpt.copy(); moved[0, 1] = min(1.0, moved[0, 1] + 0.01)
    assert markov_chain_log_likelihood(X, p0, moved) < best
    with pytest.raises(ValueError, match="shape"):
        markov_chain_log_likelihood(X, p0, cpt[:2])
    with pytest.raises(ValueError, match="p0 must be in"):
        markov_chain_log_likelihood(X, 1.5, cpt)
    with pytest.raises(ValueError, match="X must hold only the values 0, 1"):
        fit_markov_chain(X * 2)
    with pytest.raises(ValueError, match="non-empty"):
        fit_markov_chain(np.zeros((0, 3)))


def test_naive_bayes_matches_sklearn_and_normalizes():
    X, y = _data()
    ours = BernoulliNaiveBayes(alpha=1.0).fit(X, y)
    ref = BernoulliNB(alpha=1.0, binarize=None).fit(X, y)
    assert np.abs(ours.predict_log_proba(X) - ref.predict_log_proba(X)).max() < 1e-9
    assert np.array_equal(ours.predict(X), ref.predict(X))
    assert abs(np.exp(ours.log_prob(_all_states(6))).sum() - 1) < 1e-12
    s = ours.sample(500, rng=0, y=2)
    assert s.shape == (500, 6) and set(np.unique(s)) <= {0, 1}
    assert ours.sample(3, rng=0).shape == (3, 6)


def test_naive_bayes_bad_input():
    X, y = _data()
    with pytest.raises(ValueError, match="fit"):
        BernoulliNaiveBayes().predict(X)
    with pytest.raises(ValueError, match="alpha"):
        BernoulliNaiveBayes(alpha=-1)
    with pytest.raises(ValueError, match="shape"):
        BernoulliNaiveBayes().fit(X, y[:5])
    with pytest.raises(ValueError, match="two classes"):
        BernoulliNaiveBayes().fit(X, np.zeros(len(X)))
    nb = BernoulliNaiveBayes().fit(X, y)
    with pytest.raises(ValueError, match="X must have shape"):
        nb.log_prob(X[:, :3])
    with pytest.raises(ValueError, match="one of"):
        nb.sample(2, rng=0, y=7)
    with pytest.raises(ValueError, match=">= 1"):
        nb.sample(0, rng=0)


def test_independent_bernoulli():
    X, _ = _data()
    model = IndependentBernoulli(alpha=0.0).fit(X)
    assert np.allclose(model.p_, X.mean(0))
    assert abs(np.exp(IndependentBernoulli().fit(X).log_prob(_all_states(6))).sum() - 1) < 1e-12
    assert model.sample(4, rng=0).shape == (4, 6)
    with pytest.raises(ValueError, match="fit"):
        IndependentBernoulli().log_prob(X)
    with pytest.raises(TypeError, match="alpha"):
        IndependentBernoulli(alpha="1")


# ----------------------------------------------------------------------------- bad input
from adversarial_examples import Example  # noqa: E402

_J = np.full((2, 2, 2), 1 / 8)
_XB = (np.random.default_rng(0).random((20, 5)) < 0.5).astype(float)
ADVERSARIAL = {
    "param_counts": Example(n=6, n_classes=10),
    "bayes_net_param_count": Example([[], [0], [0, 1]]),
    "chain_rule_conditionals": Example(_J),
    "joint_from_conditionals": Example([np.array(0.5), np.full(2, 0.5), np.full((2, 2), 0.5)]),
    "fit_markov_chain": Example(_XB),
    "markov_chain_log_likelihood": Example(_XB, p0=0.5, cpt=np.full((4, 2), 0.5),
                                           accepts={"p0": "0"}),  # a probability may be 0
    "IndependentBernoulli": Example(alpha=1.0, accepts={"alpha": "0"}),  # no smoothing
    "BernoulliNaiveBayes": Example(alpha=1.0, accepts={"alpha": "0"}),
}


def test_models_say_when_they_are_not_fitted():
    with pytest.raises(ValueError, match="this IndependentBernoulli is not fitted yet"):
        IndependentBernoulli().log_prob(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="this BernoulliNaiveBayes is not fitted yet"):
        BernoulliNaiveBayes().predict(np.zeros((1, 3)))

"""Tests for mlnotes.ensemble: bagging, voting, AdaBoost and stacking against references."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import binom
from sklearn.datasets import load_breast_cancer, make_moons
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier, StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from mlnotes.ensemble import (AdaBoostStumps, SimpleForest, adaboost_reweight, bootstrap_indices,
                              correlated_mean_variance, decision_grid,
                              majority_vote_accuracy,
                              manual_stacking, oob_fraction,
                              simulate_majority_vote)


def test_bootstrap_and_oob_fraction():
    rng = np.random.default_rng(0)
    in_bag, oob = bootstrap_indices(50, rng)
    assert len(in_bag) == 50 and not set(oob) & set(in_bag) and set(oob) | set(in_bag) == set(range(50))
    assert bootstrap_indices(1, rng)[1].size == 0
    assert oob_fraction(1) == 0.0 and abs(oob_fraction(10) - 0.9**10) < 1e-15
    assert abs(oob_fraction(10**6) - np.exp(-1)) < 1e-6


def test_correlated_mean_variance_edges():
    assert correlated_mean_variance(1, 0.5, 2.0) == 2.0
    assert correlated_mean_variance(10, 1.0) == 1.0 and correlated_mean_variance(4, 0.0) == 0.25


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 50).map(lambda k: 2 * k + 1), st.floats(0, 1), st.floats(0, 1))
def test_majority_vote_matches_binomial_mixture(T, p, rho):
    expected = rho * p + (1 - rho) * binom.sf(T // 2, T, p)
    assert abs(majority_vote_accuracy(T, p, rho) - expected) < 1e-12


def test_simulated_vote_matches_formula():
    for rho in (0.0, 0.4):
        sim = simulate_majority_vote(11, 0.6, rho, n_trials=100_000, seed=1)
        assert abs(sim - majority_vote_accuracy(11, 0.6, rho)) < 0.006


def test_forest_close_to_sklearn_and_handles_missing_classes():
    X, y = make_moons(300, noise=0.3, random_state=0)
    forest = SimpleForest(30, "sqrt", seed=0).fit(X[:200], y[:200])
    ref = RandomForestClassifier(30, max_features="sqrt", oob_score=True, random_state=0).fit(X[:200], y[:200])
    assert abs((forest.predict(X[200:]) == y[200:]).mean() - ref.score(X[200:], y[200:])) < 0.06
    assert abs(forest.oob_score() - ref.oob_score_) < 0.06
    assert forest.staged_accuracy(X[200:], y[200:]).shape == (30,)
    # a class that only one point has is often missing from a bootstrap: columns must still align
    y3 = y.copy()
    y3[0] = 2
    P = SimpleForest(10, seed=0).fit(X, y3).predict_proba(X)
    assert P.shape == (300, 3) and np.allclose(P.sum(axis=1), 1.0)


def test_adaboost_matches_sklearn_exactly():
    X, y = load_breast_cancer(return_X_y=True)
    stump = DecisionTreeClassifier(max_depth=1, random_state=0)
    ours = AdaBoostStumps(n_rounds=30, estimator=stump).fit(X, y)
    ref = AdaBoostClassifier(estimator=stump, n_estimators=30, learning_rate=1.0).fit(X, y)
    np.testing.assert_allclose(ref.estimator_weights_, 2 * ours.alphas_, atol=1e-12)
    np.testing.assert_allclose(ref.estimator_errors_, ours.errors_, atol=1e-12)
    assert (ref.predict(X) == ours.predict(X)).all()
    np.testing.assert_allclose(ours.Z_, 2 * np.sqrt(ours.errors_ * (1 - ours.errors_)), atol=1e-12)


def test_adaboost_own_stump_resample_and_perfect_learner():
    X, y = make_moons(200, noise=0.2, random_state=0)
    ours = AdaBoostStumps(n_rounds=20).fit(X, y)
    assert (ours.predict(X) == y).mean() > 0.9 and ours.weights_history_.shape == (21, 200)
    assert len(list(ours.staged_predict(X))) == 20
    resampled = AdaBoostStumps(n_rounds=20, resample=True, seed=1).fit(X, y)
    assert (resampled.predict(X) == y).mean() > 0.85
    separable = AdaBoostStumps(n_rounds=5).fit(np.array([[0.0], [1.0]]), np.array([3, 7]))
    assert len(separable.alphas_) == 1 and separable.predict(np.array([[0.0], [1.0]])).tolist() == [3, 7]


def test_adaboost_reweight_half_error():
    rng = np.random.default_rng(0)
    w = rng.random(20)
    w /= w.sum()
    y = rng.choice([-1.0, 1.0], 20)
    h = np.where(rng.random(20) < 0.3, -y, y)
    e = w[h != y].sum()
    w_new, Z = adaboost_reweight(w, y, h, 0.5 * np.log((1 - e) / e))
    assert abs(w_new[h != y].sum() - 0.5) < 1e-12 and abs(Z - 2 * np.sqrt(e * (1 - e))) < 1e-12


def test_manual_stacking_equals_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :5]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    bases = [GaussianNB(), DecisionTreeClassifier(max_depth=3, random_state=0)]
    final = LogisticRegression(max_iter=1000)
    ours = manual_stacking(bases, final, X, y, cv)(X)
    ref = StackingClassifier(list(zip(("nb", "tree"), bases)), final, cv=cv,
                             stack_method="predict_proba").fit(X, y).predict_proba(X)
    np.testing.assert_allclose(ours, ref, atol=1e-12)



def test_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n must"):
        bootstrap_indices(0, rng)
    with pytest.raises(TypeError, match="Generator"):
        bootstrap_indices(5, 0)
    with pytest.raises(TypeError, match="n must"):
        oob_fraction(2.5)
    with pytest.raises(ValueError, match="rho"):
        correlated_mean_variance(3, 1.5)
    with pytest.raises(ValueError, match="odd"):
        majority_vote_accuracy(4, 0.6)
    with pytest.raises(ValueError, match="p must"):
        majority_vote_accuracy(3, 1.2)
    with pytest.raises(ValueError, match="n_trials"):
        simulate_majority_vote(3, 0.6, n_trials=0)
    with pytest.raises(ValueError, match="n_estimators"):
        SimpleForest(0)
    with pytest.raises(ValueError, match="y must"):
        SimpleForest(2).fit(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="max_features"):
        SimpleForest(2, max_features="cube").fit(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="not fitted"):
        SimpleForest(2).predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="bootstrap"):
        SimpleForest(2, bootstrap=False).fit(np.zeros((3, 2)), np.arange(3)).oob_score()
    with pytest.raises(ValueError, match="two classes"):
        AdaBoostStumps(3).fit(np.zeros((3, 1)), np.arange(3))
    with pytest.raises(ValueError, match="learning_rate"):
        AdaBoostStumps(3, learning_rate=0)
    with pytest.raises(ValueError, match="chance"):
        AdaBoostStumps(3).fit(np.zeros((4, 1)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="not fitted"):
        AdaBoostStumps(3).predict(np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"y must hold only the values -1, 1, got \[0.0\]"):
        adaboost_reweight(np.array([0.5, 0.5]), np.array([0, 1]), np.array([1, 1]), 0.3)
    with pytest.raises(ValueError, match="sum to 1"):
        adaboost_reweight(np.array([0.5, 0.6]), np.array([1, 1]), np.array([1, 1]), 0.3)
    with pytest.raises(ValueError, match="estimators must hold at least 1 items, got 0"):
        manual_stacking([], LogisticRegression(), np.zeros((4, 1)), np.zeros(4), 2)
    with pytest.raises(ValueError, match="margin"):
        decision_grid(np.zeros((3, 2)), margin=-1)


def _equicorrelated(R, M, n, rho, sigma2, seed=0):
    """Tree predictions whose training-set part has variance rho sigma2 (shared by a forest)."""
    rng = np.random.default_rng(seed)
    shared = np.sqrt(rho * sigma2) * rng.standard_normal((R, 1, n))
    own = np.sqrt((1 - rho) * sigma2) * rng.standard_normal((R, M, n))
    return shared + own


def test_tree_variance_components_recovers_rho_and_sigma2():
    from mlnotes.ensemble import tree_variance_components
    sigma2, rho = tree_variance_components(_equicorrelated(400, 20, 30, 0.3, 2.0))
    assert abs(sigma2 - 2.0) < 0.05 and abs(rho - 0.3) < 0.03
    sigma2, rho = tree_variance_components(_equicorrelated(400, 20, 30, 0.0, 1.0, seed=1))
    assert abs(rho) < 0.02


def test_forest_variance_matches_formula():
    from mlnotes.ensemble import forest_variance
    preds = _equicorrelated(400, 20, 30, 0.3, 2.0, seed=2)
    for B in (1, 4, 20):
        assert abs(forest_variance(preds, B) / correlated_mean_variance(B, 0.3, 2.0) - 1) < 0.06


def test_bias_variance_against_known_model():
    from mlnotes.ensemble import bias_variance
    rng = np.random.default_rng(3)
    truth = np.linspace(-1, 1, 40)
    preds = truth + 0.5 + 0.7 * rng.standard_normal((2000, 40))   # bias 0.5, variance 0.49
    bias2, variance = bias_variance(preds, truth)
    assert abs(bias2 - 0.25) < 0.01 and abs(variance - 0.49) < 0.02
    with pytest.raises(ValueError, match="preds"):
        bias_variance(preds[:1], truth)
    with pytest.raises(ValueError, match="preds"):
        tree_variance_components_bad = __import__("mlnotes.ensemble", fromlist=["x"])
        tree_variance_components_bad.tree_variance_components(np.zeros((1, 3, 2)))


def test_experiment_plots_draw():
    import matplotlib.pyplot as plt
    from mlnotes.ensemble import (draw_forest_spread, draw_majority_vote, plot_bias_variance,
                                  plot_rho_experiment)
    preds = _equicorrelated(5, 8, 10, 0.3, 1.0)
    figs = [draw_forest_spread(preds, 4, np.zeros(10), (-3, 3), "t"),
            draw_majority_vote(0.6, 0.3),
            plot_bias_variance(["a", "b"], np.ones((2, 3)), np.ones((2, 3)), 1.0,
                               np.array([3.0, 3.0]), np.array([0.1, 0.1])),
            plot_rho_experiment([1, 2], np.array([[0.1, 0.2], [0.2, 0.3]]), [1, 2],
                                np.array([[1.0, 0.5], [1.0, 0.6]]), np.ones(2), np.array([0.1, 0.2]))]
    assert all(len(f.axes) >= 1 for f in figs)
    plt.close("all")


from adversarial_examples import Example  # noqa: E402

_Xm, _ym = make_moons(40, noise=0.2, random_state=0)
_P = np.random.default_rng(0).normal(size=(4, 6, 5))


def _axes():
    import matplotlib.pyplot as plt
    return {"ax": plt.subplots()[1]}


ADVERSARIAL = {
    "AdaBoostStumps": Example(n_rounds=3),
    "SimpleForest": Example(n_estimators=3),
    "adaboost_reweight": Example(np.full(4, 0.25), np.array([1.0, -1, 1, -1]),
                                 np.array([1.0, 1, -1, -1]), 0.5,
                                 accepts={"alpha": "-1 0 int"}),  # any finite vote
    "bias_variance": Example(_P[:, 0, :], np.zeros(5), accepts={"truth": "-1 0 int"}),
    "bootstrap_indices": Example(10, fresh=lambda: {"rng": np.random.default_rng(0)}),
    "correlated_mean_variance": Example(10, 0.3, 1.0,  # sigma2 0: constant; rho 0: independent
                                        accepts={"sigma2": "0", "rho": "0", "B": "10**9"}),
    "decision_grid": Example(_Xm, grid=5),
    "draw_forest_spread": Example(_P, 2, np.zeros(5), (-3.0, 3.0), "t",
                                  accepts={"title": "other-str", "truth": "-1 0 int"}),
    "draw_majority_vote": Example(0.6, 0.3, n_voters=5, T_max=9,
                                  accepts={"p": "0", "rho": "0"}),  # 0 is a valid probability
    "forest_variance": Example(_P, 2),
    "majority_vote_accuracy": Example(5, 0.6, accepts={"p": "0", "rho": "0"}),
    "manual_stacking": Example([DecisionTreeClassifier(max_depth=1)], LogisticRegression(),
                               _Xm, _ym, 2, timeout=5,
                               accepts={"cv": "None"}),  # None: scikit-learn's 5 folds
    "oob_fraction": Example(10, accepts={"n": "10**9"}),  # any n: a closed form
    "plot_bias_variance": Example(["a", "b"], np.ones((2, 3)), np.ones((2, 3)), 1.0,
                                  np.array([3.0, 3.0]), np.array([0.1, 0.1]),
                                  accepts={"noise": "0"}),  # noiseless problems exist
    "plot_noise_curves": Example({"a": np.full((2, 4), 0.1)}, np.full((2, 5), 0.3), 0.2,
                                 accepts={"start_share": "0"}),  # no flipped points
    "plot_rho_experiment": Example([1, 2], np.array([[0.1, 0.2], [0.2, 0.3]]), [1, 2],
                                   np.array([[1.0, 0.5], [1.0, 0.6]]), np.ones(2),
                                   np.array([0.1, 0.2])),
    "simulate_majority_vote": Example(5, 0.6, n_trials=100, seed=0,
                                      accepts={"p": "0", "rho": "0"}),
    "tree_variance_components": Example(_P),
}

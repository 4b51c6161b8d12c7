"""Tests for mlnotes.trees: CART against scikit-learn, edges, and bad inputs."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.datasets import load_diabetes, load_iris
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from mlnotes.trees import (ClassificationTree, GiniCriterion, RegressionTree, SquaredErrorCriterion,
                           TreeArrays, grow_tree, resolve_max_features, tree_to_text)


@pytest.mark.parametrize("depth", [1, 3, None])
def test_regression_tree_matches_sklearn(depth):
    X, y = load_diabetes(return_X_y=True)
    ours = RegressionTree(max_depth=depth).fit(X, y).predict(X)
    ref = DecisionTreeRegressor(max_depth=depth, random_state=0).fit(X, y).predict(X)
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_regression_tree_sample_weight_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)
    w = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    ours = RegressionTree(max_depth=4, min_samples_leaf=5).fit(X, y, sample_weight=w).predict(X)
    ref = DecisionTreeRegressor(max_depth=4, min_samples_leaf=5, random_state=0).fit(X, y, sample_weight=w).predict(X)
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_classification_tree_fits_training_set_and_is_close_to_sklearn():
    X, y = load_iris(return_X_y=True)
    ours = ClassificationTree(seed=0).fit(X, y)
    ref = DecisionTreeClassifier(random_state=0).fit(X, y)
    assert (ours.predict(X) == ref.predict(X)).mean() >= 0.99
    np.testing.assert_allclose(ours.predict_proba(X).sum(axis=1), 1.0)
    depth2 = ClassificationTree(max_depth=2).fit(X, y)
    ref2 = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(depth2.predict_proba(X), ref2.predict_proba(X))
    X, y = load_diabetes(return_X_y=True)
    reg = RegressionTree(max_depth=2).fit(X, y)
    ref3 = DecisionTreeRegressor(max_depth=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(reg.feature_importances_, ref3.feature_importances_, atol=1e-12)


def test_edges_single_point_constant_features_and_string_labels():
    one = ClassificationTree().fit(np.array([[1.0, 2.0]]), np.array(["a"]))
    assert one.tree_.n_leaves == 1 and one.predict(np.zeros((3, 2))).tolist() == ["a"] * 3
    X = np.ones((5, 3))
    reg = RegressionTree().fit(X, np.arange(5.0))
    assert reg.tree_.n_leaves == 1 and np.allclose(reg.predict(X), 2.0)
    pure = ClassificationTree().fit(np.arange(6.0)[:, None], np.zeros(6))
    assert pure.tree_.n_leaves == 1


def test_ties_split_only_between_distinct_values():
    X = np.array([[0.0], [0.0], [1.0], [1.0]])
    tree = RegressionTree().fit(X, np.array([0.0, 1.0, 5.0, 6.0]))
    assert tree.tree_.threshold[0] == 0.5 and tree.tree_.n_leaves == 2


def test_max_features_resolution():
    assert resolve_max_features("log2", 64) == 6 and resolve_max_features("sqrt", 64) == 8
    assert resolve_max_features(None, 5) == 5 and resolve_max_features(0.5, 10) == 5
    assert resolve_max_features("log2", 1) == 1


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 40), st.integers(0, 10_000))
def test_full_tree_interpolates_distinct_points(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.permutation(n).astype(float)[:, None] + rng.normal(size=(n, 1)) * 0.01
    X = np.round(X, 3)
    y = rng.normal(size=n)
    _, unique_idx = np.unique(X[:, 0], return_index=True)
    X, y = X[unique_idx], y[unique_idx]
    np.testing.assert_allclose(RegressionTree().fit(X, y).predict(X), y, atol=1e-9)


def test_tree_to_text_and_apply():
    tree = RegressionTree(max_depth=1).fit(np.array([[0.0], [1.0]]), np.array([1.0, 3.0]))
    text = tree_to_text(tree.tree_, ["age"])
    assert "if age <= 0.5" in text and "leaf: 1.0" in text and "leaf: 3.0" in text
    assert tree.apply(np.array([[0.2], [0.9]])).tolist() == [1, 2]


def test_bad_inputs():
    with pytest.raises(ValueError, match="X must"):
        RegressionTree().fit(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="y must"):
        RegressionTree().fit(np.zeros((3, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        ClassificationTree().fit(np.array([[np.nan]]), np.array([0]))
    with pytest.raises(ValueError, match="sample_weight"):
        ClassificationTree().fit(np.zeros((2, 1)), np.array([0, 1]), sample_weight=np.array([-1.0, 1.0]))
    with pytest.raises(ValueError, match="not fitted"):
        RegressionTree().predict(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="shape"):
        RegressionTree().fit(np.zeros((2, 2)), np.zeros(2)).predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="max_features"):
        resolve_max_features("cube", 4)
    with pytest.raises(ValueError, match="max_features"):
        resolve_max_features(9, 4)
    with pytest.raises(TypeError, match="max_features"):
        resolve_max_features(True, 4)
    with pytest.raises(ValueError, match="max_depth must be >= 1"):     # the models check what grow_tree gets
        RegressionTree(max_depth=0)
    with pytest.raises(ValueError, match="min_samples_leaf must be >= 1"):
        ClassificationTree(min_samples_leaf=0)
    with pytest.raises(AssertionError):                                 # grow_tree is internal: an invariant
        grow_tree(np.zeros((2, 1)), np.ones((3, 3)), GiniCriterion())
    with pytest.raises(TypeError, match="TreeArrays"):
        tree_to_text("tree")
    tree = RegressionTree(max_depth=1).fit(np.array([[0.0], [1.0]]), np.array([1.0, 3.0]))
    assert isinstance(tree.tree_, TreeArrays)
    with pytest.raises(ValueError, match="feature_names"):
        tree_to_text(tree.tree_, [])


from adversarial_examples import Example  # noqa: E402

ADVERSARIAL = {
    "ClassificationTree": Example(max_depth=2, seed=0, accepts={"max_depth": "None"}),  # None: grow fully
    "RegressionTree": Example(max_depth=2, accepts={"max_depth": "None"}),
    "resolve_max_features": Example("sqrt", 16,  # None: all features; an int k: k features
                                    accepts={"max_features": "None int"}),
    "tree_to_text": Example(fresh=lambda: {"tree": __import__("mlnotes.trees", fromlist=["x"])
                                           .RegressionTree(max_depth=1)
                                           .fit(np.arange(6.0)[:, None], np.arange(6.0)).tree_}),
}

"""CART decision trees in numpy: one greedy grower, pluggable split criteria.

The boosting criterion for XGBoost lives in ``mlnotes.boosting``.

Every criterion here is a *score of summed statistics* (``score`` may divide by zero for
an empty side; ``_best_split`` masks those positions). Each sample carries a row of
statistics ``S[i]`` (class-count one-hots, ``(w, w y, w y^2)``, or ``(g, h)``); a node's
statistics are the column sums over its samples, and a split's gain is

    gain = score(S_left) + score(S_right) - score(S_parent),

so the best split of a node is found for every feature and every threshold at once with
one sort and one cumulative sum (``_best_split``). For Gini, ``score = sum_c n_c^2 / n``
and the gain is the weighted impurity decrease; for squared error, ``score = (sum w y)^2 /
sum w`` and the gain is the drop in the sum of squared errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mlnotes.validate import checked, arg

#: Two feature values closer than this are treated as equal (scikit-learn uses 1e-7 too).
FEATURE_TOL = 1e-7


__all__ = ["ClassificationTree", "RegressionTree", "resolve_max_features", "tree_to_text"]


class GiniCriterion:
    """Gini impurity. Statistics: weighted one-hot class counts, shape (n, C)."""

    def score(self, S: np.ndarray) -> np.ndarray:
        return np.einsum("...c,...c->...", S, S) / S.sum(axis=-1)

    def leaf(self, S: np.ndarray) -> np.ndarray:
        return S / S.sum()

    def impurity(self, S: np.ndarray) -> float:
        w = S.sum()
        return float(1.0 - ((S / w) ** 2).sum())

    def weight(self, S: np.ndarray) -> np.ndarray:
        return S.sum(axis=-1)


class SquaredErrorCriterion:
    """Squared error. Statistics: ``(w, w y, w y^2)``, shape (n, 3)."""

    def score(self, S: np.ndarray) -> np.ndarray:
        return S[..., 1] ** 2 / S[..., 0]

    def leaf(self, S: np.ndarray) -> np.ndarray:
        return S[1:2] / S[0]

    def impurity(self, S: np.ndarray) -> float:
        return float(S[2] / S[0] - (S[1] / S[0]) ** 2)

    def weight(self, S: np.ndarray) -> np.ndarray:
        return S[..., 0]


@dataclass
class TreeArrays:
    """A fitted binary tree stored as parallel arrays (node 0 is the root).

    ``feature[j] == -1`` marks a leaf. Samples go left when ``x[feature] <= threshold``.
    ``value`` has shape (n_nodes, v): class probabilities, a mean, or a leaf weight.
    ``gain`` is the split's score gain (0 at leaves); ``n_samples`` counts training rows.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    gain: np.ndarray
    n_samples: np.ndarray
    depth: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_leaves(self) -> int:
        return int((self.feature < 0).sum())

    @property
    def max_depth(self) -> int:
        return int(self.depth.max())

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Index of the leaf each row of ``X`` (n, d) lands in, shape (n,)."""
        node = np.zeros(len(X), dtype=np.int64)
        active = np.arange(len(X))
        while active.size:
            f = self.feature[node[active]]
            inner = f >= 0
            active, f = active[inner], f[inner]
            here = node[active]
            go_left = X[active, f] <= self.threshold[here]
            node[active] = np.where(go_left, self.left[here], self.right[here])
        return node

    def predict_value(self, X: np.ndarray) -> np.ndarray:
        """Leaf values for each row: shape (n, v)."""
        return self.value[self.apply(X)]

    def feature_importances(self, n_features: int) -> np.ndarray:
        """Total split gain per feature, normalised to sum to 1 (mean decrease in impurity)."""
        imp = np.zeros(n_features)
        inner = self.feature >= 0
        np.add.at(imp, self.feature[inner], self.gain[inner])
        return imp / imp.sum() if imp.sum() > 0 else imp


@checked(d=arg.count(high=10**7))
def resolve_max_features(max_features: int | float | str | None, d: int) -> int:
    """Number of features tried per split: None -> d, 'sqrt' -> max(1, int(sqrt d)),
    'log2' -> max(1, int(log2 d)) (scikit-learn's conventions), int k, or float fraction."""
    if max_features is None:
        return d
    if isinstance(max_features, str):
        if max_features == "sqrt":
            return max(1, int(math.sqrt(d)))
        if max_features == "log2":
            return max(1, int(math.log2(d)))
        raise ValueError(f"max_features string must be 'sqrt' or 'log2', got {max_features!r}")
    if isinstance(max_features, bool):
        raise TypeError("max_features must be None, 'sqrt', 'log2', an int or a float")
    if isinstance(max_features, (int, np.integer)):
        if not 1 <= max_features <= d:
            raise ValueError(f"max_features must be in [1, {d}], got {max_features}")
        return int(max_features)
    if isinstance(max_features, float):
        if not 0.0 < max_features <= 1.0:
            raise ValueError(f"a float max_features is a fraction in (0, 1], got {max_features}")
        return max(1, int(max_features * d))
    raise TypeError(f"max_features must be None, 'sqrt', 'log2', an int or a float, "
                    f"got {type(max_features).__name__}")


def _best_split(Xn, Sn, feats, criterion, min_samples_leaf, min_child_weight, gain_scale):
    """Best (gain, feature, threshold) over ``feats`` for one node, fully vectorised.

    Sort each candidate column once, cumulative-sum the statistics in that order: row
    ``i`` of the cumsum is the left child of "first i + 1 sorted samples go left".
    """
    # region: split-scores
    m = len(Xn)
    Xf = Xn[:, feats]                                    # (m, k)
    order = np.argsort(Xf, axis=0, kind="stable")
    xs = np.take_along_axis(Xf, order, axis=0)
    cum = np.cumsum(Sn[order], axis=0)                   # (m, k, s)
    total = cum[-1]                                      # (k, s)
    left = cum[:-1]
    right = total - left
    with np.errstate(invalid="ignore", divide="ignore"):   # empty sides are masked below
        gain = gain_scale * (criterion.score(left) + criterion.score(right) - criterion.score(total))
    # endregion
    valid = xs[1:] > xs[:-1] + FEATURE_TOL               # split only between distinct values
    n_left = np.arange(1, m)[:, None]
    valid &= (n_left >= min_samples_leaf) & (m - n_left >= min_samples_leaf)
    if min_child_weight > 0:
        valid &= (criterion.weight(left) >= min_child_weight) & (criterion.weight(right) >= min_child_weight)
    if not valid.any():
        return -np.inf, -1, 0.0
    gain = np.where(valid & ~np.isnan(gain), gain, -np.inf)
    flat = int(np.argmax(gain.T))                        # first feature, then first position
    j, i = divmod(flat, m - 1)
    threshold = xs[i, j] / 2.0 + xs[i + 1, j] / 2.0      # midpoint, as scikit-learn
    if threshold == xs[i + 1, j]:
        threshold = xs[i, j]
    return float(gain[i, j]), int(feats[j]), float(threshold)


def grow_tree(X: np.ndarray, S: np.ndarray, criterion: object, *, max_depth: int | None = None,
              min_samples_split: int = 2, min_samples_leaf: int = 1, min_child_weight: float = 0.0,
              max_features: int | float | str | None = None, min_gain: float = -np.inf,
              stop_when_pure: bool = True, gain_scale: float = 1.0, penalty: float = 0.0,
              seed: int = 0) -> TreeArrays:
    """Grow a binary tree greedily, depth first, on rows ``X`` (n, d) with statistics ``S`` (n, s).

    A node splits when its depth is below ``max_depth``, it holds at least
    ``min_samples_split`` rows, it is impure (checked only if ``stop_when_pure``) and its
    best gain ``gain_scale * (score_L + score_R - score_P) - penalty`` exceeds ``min_gain``.
    ``max_features`` features are drawn (without replacement, from the features that are
    not constant in the node) for every split. Internal: the models' ``fit`` methods check the
    arguments (finite float arrays, ``S`` with one row per row of ``X``).
    """
    assert X.ndim == 2 and S.shape[0] == X.shape[0] > 0, (X.shape, S.shape)
    k = resolve_max_features(max_features, X.shape[1])
    rng = np.random.default_rng(seed)
    depth_limit = np.inf if max_depth is None else max_depth
    nodes: list[list] = []          # feature, threshold, left, right, value, gain, n, depth
    stack = [(np.arange(len(X)), 0, -1, False)]
    while stack:
        idx, depth, parent, is_right = stack.pop()
        node_id = len(nodes)
        if parent >= 0:
            nodes[parent][3 if is_right else 2] = node_id
        Sn = S[idx]
        total = Sn.sum(axis=0)
        nodes.append([-1, 0.0, -1, -1, criterion.leaf(total), 0.0, len(idx), depth])
        if depth >= depth_limit or len(idx) < min_samples_split or len(idx) < 2 * min_samples_leaf:
            continue
        if stop_when_pure and criterion.impurity(total) <= np.finfo(float).eps:
            continue
        Xn = X[idx]
        spread = Xn.max(axis=0) - Xn.min(axis=0)
        candidates = np.flatnonzero(spread > FEATURE_TOL)
        if candidates.size == 0:
            continue
        if k < candidates.size:
            candidates = rng.choice(candidates, size=k, replace=False)
        gain, f, thr = _best_split(Xn, Sn, candidates, criterion, min_samples_leaf,
                                   min_child_weight, gain_scale)
        gain -= penalty
        if not gain > min_gain:
            continue
        nodes[-1][0], nodes[-1][1], nodes[-1][5] = f, thr, gain
        go_left = Xn[:, f] <= thr
        stack.append((idx[~go_left], depth + 1, node_id, True))
        stack.append((idx[go_left], depth + 1, node_id, False))
    cols = list(zip(*nodes))
    return TreeArrays(feature=np.array(cols[0], dtype=np.int64), threshold=np.array(cols[1]),
                      left=np.array(cols[2], dtype=np.int64), right=np.array(cols[3], dtype=np.int64),
                      value=np.array(cols[4]), gain=np.array(cols[5]),
                      n_samples=np.array(cols[6], dtype=np.int64), depth=np.array(cols[7], dtype=np.int64))


# Argument rules of the trees' fit and predict methods (labels y are checked per model).
_FIT = dict(X=arg.array(shape=("n", "d")), sample_weight=arg.optional(arg.array(shape=("n",), low=0.0)))
_PREDICT = dict(self=arg.fitted("tree_"), X=arg.array(shape=(None, "self.n_features_in_")))


def _weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    """The sample weights (ones by default), which must not all be 0."""
    w = np.ones(n) if sample_weight is None else sample_weight
    if w.sum() <= 0:
        raise ValueError("sample_weight must have a positive sum")
    return w


class _CART:
    """Shared constructor and prediction plumbing for the two CART trees."""

    @checked(max_depth=arg.optional(arg.int(1, 512)), min_samples_split=arg.int(2), min_samples_leaf=arg.int(1),
             seed=arg.seed())
    def __init__(self, max_depth: int | None = None, min_samples_split: int = 2, min_samples_leaf: int = 1,
                 max_features: int | float | str | None = None, seed: int = 0):
        self.max_depth, self.min_samples_split = max_depth, min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features, self.seed = max_features, seed

    def _grow(self, X, S, criterion, keep):
        self.n_features_in_ = X.shape[1]
        self.tree_ = grow_tree(X[keep], S[keep], criterion, max_depth=self.max_depth,
                               min_samples_split=self.min_samples_split, min_samples_leaf=self.min_samples_leaf,
                               max_features=self.max_features, seed=self.seed)
        return self

    @checked(**_PREDICT)
    def apply(self, X: np.ndarray) -> np.ndarray:
        """Leaf index of each row of ``X`` (n, d): shape (n,)."""
        return self.tree_.apply(X)

    @property
    def feature_importances_(self) -> np.ndarray:
        return self.tree_.feature_importances(self.n_features_in_)


class ClassificationTree(_CART):
    """CART classifier (Gini impurity), grown fully unless ``max_depth`` stops it.

    ``fit(X (n, d), y (n,), sample_weight=None)``; ``predict_proba`` returns (n, C) with
    columns in the order of ``classes_`` (the sorted labels seen in ``fit``).
    """

    @checked(**_FIT)
    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "ClassificationTree":
        """Grow on labels ``y`` (n,) of any sortable kind (ints, strings)."""
        y, w = np.asarray(y), _weights(sample_weight, len(X))
        if y.shape != (len(X),):
            raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
        self.classes_, codes = np.unique(y, return_inverse=True)
        S = np.zeros((len(y), len(self.classes_)))
        S[np.arange(len(y)), codes] = w
        return self._grow(X, S, GiniCriterion(), w > 0)

    @checked(**_PREDICT)
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class frequencies (weighted) in the leaf of each row: shape (n, C)."""
        return self.tree_.predict_value(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most frequent class in each row's leaf: shape (n,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class RegressionTree(_CART):
    """CART regressor (squared error): leaves predict the (weighted) mean of their targets."""

    @checked(**_FIT, y=arg.array(shape=("n",)))
    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "RegressionTree":
        w = _weights(sample_weight, len(X))
        S = np.stack([w, w * y, w * y * y], axis=1)
        return self._grow(X, S, SquaredErrorCriterion(), w > 0)

    @checked(**_PREDICT)
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Leaf mean for each row: shape (n,)."""
        return self.tree_.predict_value(X)[:, 0]


@checked(tree=arg.instance(TreeArrays), feature_names=arg.optional(arg.sequence(arg.text())), decimals=arg.int(0, 15))
def tree_to_text(tree: TreeArrays, feature_names: list[str] | None = None, decimals: int = 3) -> str:
    """Indented text drawing of a fitted tree (``model.tree_``): one line per node, leaves show their value."""
    n_feat = int(tree.feature.max()) + 1 if (tree.feature >= 0).any() else 0
    names = [f"x{j}" for j in range(n_feat)] if feature_names is None else list(feature_names)
    if len(names) < n_feat:
        raise ValueError(f"feature_names needs at least {n_feat} names, got {len(names)}")
    lines: list[str] = []

    def walk(j: int, pad: str) -> None:
        if tree.feature[j] < 0:
            v = np.round(tree.value[j], decimals)
            lines.append(f"{pad}leaf: {v[0] if v.size == 1 else v.tolist()}  (n={tree.n_samples[j]})")
            return
        lines.append(f"{pad}if {names[tree.feature[j]]} <= {tree.threshold[j]:.{decimals}g}:")
        walk(int(tree.left[j]), pad + "    ")
        lines.append(f"{pad}else:")
        walk(int(tree.right[j]), pad + "    ")

    walk(0, "")
    return "\n".join(lines)

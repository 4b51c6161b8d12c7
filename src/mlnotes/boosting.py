"""Gradient boosting with CART regression trees (GBDT) and a small exact-greedy XGBoost.

Trees come from ``mlnotes.trees``: the
XGBoost tree is the same greedy grower with the statistics (g, h) and the score G^2 / (H + lambda).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from scipy.special import expit as sigmoid  # the logistic function; chapters import it from here

from mlnotes.trees import RegressionTree, TreeArrays, grow_tree
from mlnotes.validate import checked, arg


__all__ = ["GBDTBinaryClassifier", "GBDTRegressor", "XGBTree", "XGBoostLite", "gradients",
           "leaf_weight", "plot_early_stopping", "sparsity_aware_split", "split_gain",
           "weighted_quantiles"]   # sigmoid is scipy's expit, re-exported for the chapters


# Argument rules shared by the boosted models.
_FIT = dict(X=arg.numeric_array(2), y=arg.array(shape="X.shape[:1]", bool_ok=True))
_PREDICT = dict(self=arg.fitted("trees_"), X=arg.numeric_array(2, n_cols="self.n_features_in_"))
_SIZES = dict(n_estimators=arg.count(high=10**5), learning_rate=arg.real(0.0, low_open=True), max_depth=arg.int(1, 64))


def _staged_sum(F0: np.ndarray, terms: Iterable[tuple[float, object]], X: np.ndarray) -> Iterator[np.ndarray]:
    """``F_m = F0 + sum_{j <= m} w_j h_j(X)`` for m = 1..M over ``terms = [(w_j, h_j), ...]``."""
    F = F0
    for weight, model in terms:
        F = F + weight * np.asarray(model.predict(X), dtype=np.float64)
        yield F


def _final(stages: Iterator[np.ndarray]) -> np.ndarray:
    """The last stage ``F_M`` of a staged prediction."""
    F = None
    for F in stages:
        pass
    return F


class _BoostedTrees:
    """Prediction shared by the boosted models: ``F_m(X) = init_ + learning_rate * sum_{j <= m} tree_j(X)``."""

    def _stages(self, X: np.ndarray) -> Iterator[np.ndarray]:
        yield from _staged_sum(np.full(len(X), self.init_), ((self.learning_rate, t) for t in self.trees_), X)


# ----------------------------------------------------------------------------- GBDT

class _GBDT(_BoostedTrees):
    """Constructor shared by the two GBDT models."""

    @checked(**_SIZES)
    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.1, max_depth: int = 3,
                 min_samples_leaf: int = 1):
        self.n_estimators, self.learning_rate = int(n_estimators), float(learning_rate)
        self.max_depth, self.min_samples_leaf = int(max_depth), min_samples_leaf


class GBDTRegressor(_GBDT):
    """Gradient boosting for squared loss: F_0 = mean(y), then F_m = F_{m-1} + lr * h_m,
    where h_m is a CART regression tree fitted to the residuals y - F_{m-1}
    (the negative gradient of 1/2 (y - F)^2)."""

    @checked(**_FIT)
    def fit(self, X: np.ndarray, y: np.ndarray) -> "GBDTRegressor":
        self.init_ = float(y.mean())
        F = np.full(len(y), self.init_)
        self.trees_: list[RegressionTree] = []
        for _ in range(self.n_estimators):
            residual = y - F                                   # negative gradient
            tree = RegressionTree(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf)
            self.trees_.append(tree.fit(X, residual))
            F = F + self.learning_rate * tree.predict(X)
        self.n_features_in_ = X.shape[1]
        return self

    @checked(**_PREDICT)
    def staged_predict(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """F_m(X) for m = 1..M, each of shape (n,)."""
        return self._stages(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """F_M(X), shape (n,)."""
        return _final(self.staged_predict(X))


class GBDTBinaryClassifier(_GBDT):
    """Gradient boosting for log loss with labels y in {0, 1} (as scikit-learn's binary case).

    F_0 = log(p / (1 - p)) with p = mean(y). Each round fits a regression tree to the
    pseudo-residuals y - sigmoid(F), then replaces every leaf value by one Newton step,
    sum(r) / sum(p (1 - p)) over the leaf's samples (0 where the denominator vanishes).
    """

    @checked(X=arg.numeric_array(2), y=arg.array(shape="X.shape[:1]", bool_ok=True, values=(0, 1)))
    def fit(self, X: np.ndarray, y: np.ndarray) -> "GBDTBinaryClassifier":
        if y.min() == y.max():
            raise ValueError("y must hold both labels 0 and 1")
        p0 = y.mean()
        self.init_ = float(np.log(p0 / (1 - p0)))
        F = np.full(len(y), self.init_)
        self.trees_: list[RegressionTree] = []
        for _ in range(self.n_estimators):
            # region: newton-leaves
            p = sigmoid(F)
            residual = y - p                                   # negative gradient of log loss
            tree = RegressionTree(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf)
            tree.fit(X, residual)
            leaf = tree.apply(X)
            num = np.bincount(leaf, weights=residual, minlength=len(tree.tree_.value))
            den = np.bincount(leaf, weights=p * (1 - p), minlength=len(tree.tree_.value))
            newton = np.divide(num, den, out=np.zeros_like(num), where=np.abs(den) > 1e-150)
            tree.tree_.value = newton[:, None]                 # Newton step per leaf
            self.trees_.append(tree)
            F = F + self.learning_rate * newton[leaf]
            # endregion
        self.n_features_in_ = X.shape[1]
        return self

    @checked(**_PREDICT)
    def staged_decision_function(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """Log-odds F_m(X) for m = 1..M, each of shape (n,)."""
        return self._stages(X)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Log-odds F_M(X), shape (n,)."""
        return _final(self.staged_decision_function(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(y = 1 | x) = sigmoid(F_M(x)), shape (n,)."""
        return sigmoid(self.decision_function(X))


@checked(val_curves=arg.mapping(item=arg.array(ndim=2, low=0.0)),
         test_curves=arg.mapping(item=arg.array(ndim=2, low=0.0)), noise_var=arg.real(0.0, low_open=True))
def plot_early_stopping(val_curves: dict[float, np.ndarray], test_curves: dict[float, np.ndarray],
                        noise_var: float) -> object:
    """Left: validation (dashed) and test (solid) MSE against rounds for one seed, each learning
    rate's best validation round marked. Right: test MSE at each rate's best round, every seed.

    ``val_curves``/``test_curves``: learning rate -> (seeds, rounds) arrays.
    """
    from mlnotes.plotting import new_figure, style_cycle

    if any(test_curves.get(lr, np.empty(0)).shape != v.shape for lr, v in val_curves.items()):
        raise ValueError("test_curves must hold an array shaped like val_curves' for every learning rate")
    fig, (ax1, ax2) = new_figure(ncols=2, width=9.5, height=3.4)
    for k, (lr, style) in enumerate(zip(val_curves, style_cycle(len(val_curves)))):
        val, test = val_curves[lr][0], test_curves[lr][0]
        m = np.arange(1, len(val) + 1)
        best = int(np.argmin(val))
        ax1.plot(m, test, color=style["color"], lw=2, label=f"test, lr = {lr:g}")
        ax1.plot(m, val, color=style["color"], lw=1, ls="--", label=f"validation, lr = {lr:g}")
        ax1.plot(best + 1, test[best], "v", color=style["color"], ms=8)
        at_best = [t[np.argmin(v)] for v, t in zip(val_curves[lr], test_curves[lr])]
        ax2.plot(np.full(len(at_best), k), at_best, "o", color=style["color"], alpha=0.7)
        ax2.plot([k - 0.25, k + 0.25], [np.mean(at_best)] * 2, color=style["color"], lw=2)
    ax1.axhline(noise_var, color="black", lw=0.8, ls=":", label="noise variance")
    ax1.set(xscale="log", yscale="log", xlabel="number of trees", ylabel="mean squared error",
            title="Seed 0 (triangles: best validation round)")
    ax1.legend(ncols=2, fontsize=7)
    ax2.set_xticks(range(len(val_curves)), [f"lr = {lr:g}" for lr in val_curves])
    ax2.set(ylabel="test MSE at the best round", xlim=(-0.6, len(val_curves) - 0.4),
            title="Each rate at its own best round")
    return fig


# ----------------------------------------------------------------------------- XGBoost

@checked(G=arg.array(ndim=(0, 1)), H=arg.array(shape="G.shape", low=0.0), lam=arg.real(0.0))
def leaf_weight(G: float | np.ndarray, H: float | np.ndarray, lam: float) -> np.ndarray:
    """Optimal leaf weight w* = -G / (H + lambda), the minimiser of G w + 1/2 (H + lambda) w^2."""
    if np.any(H + lam <= 0):
        raise ValueError("H + lambda must be > 0 (the quadratic must curve upwards)")
    return -G / (H + lam)


@checked(GL=arg.array(ndim=(0, 1)), HL=arg.array(shape="GL.shape", low=0.0), GR=arg.array(shape="GL.shape"),
         HR=arg.array(shape="GL.shape", low=0.0), lam=arg.real(0.0), gamma=arg.real(0.0))
def split_gain(GL: float | np.ndarray, HL: float | np.ndarray, GR: float | np.ndarray,
               HR: float | np.ndarray, lam: float, gamma: float = 0.0) -> np.ndarray:
    """Structure-score gain of a split (Chen & Guestrin, eq. 7):
    1/2 [GL^2/(HL+l) + GR^2/(HR+l) - (GL+GR)^2/(HL+HR+l)] - gamma."""
    if np.any(HL + lam <= 0) or np.any(HR + lam <= 0):
        raise ValueError("HL + lambda and HR + lambda must be > 0")
    return 0.5 * (GL**2 / (HL + lam) + GR**2 / (HR + lam) - (GL + GR) ** 2 / (HL + HR + lam)) - gamma


class XGBCriterion:
    """Second-order criterion. Statistics: (g, h), shape (n, 2); score G^2 / (H + lambda)."""

    def __init__(self, lam: float):
        self.lam = lam

    def score(self, S: np.ndarray) -> np.ndarray:
        return S[..., 0] ** 2 / (S[..., 1] + self.lam)

    def leaf(self, S: np.ndarray) -> np.ndarray:
        return np.array([-S[0] / (S[1] + self.lam)]) if S[1] + self.lam > 0 else np.zeros(1)

    def weight(self, S: np.ndarray) -> np.ndarray:
        return S[..., 1]


def _prune(tree: TreeArrays, gamma: float) -> TreeArrays:
    """Bottom-up pruning as xgboost does: collapse a split whose children are leaves and whose
    gain is below gamma, repeatedly (children always have larger ids than parents)."""
    for j in range(len(tree.feature) - 1, -1, -1):
        if tree.feature[j] >= 0 and tree.feature[tree.left[j]] < 0 and tree.feature[tree.right[j]] < 0 \
                and tree.gain[j] < gamma:
            tree.feature[j], tree.gain[j] = -1, 0.0
    keep, stack = [], [0]                      # drop the nodes cut off from the root, in order
    while stack:
        j = stack.pop()
        keep.append(j)
        if tree.feature[j] >= 0:
            stack += [int(tree.right[j]), int(tree.left[j])]
    keep = np.array(sorted(keep))
    new_id = np.full(len(tree.feature), -1)
    new_id[keep] = np.arange(len(keep))
    inner = tree.feature[keep] >= 0
    return TreeArrays(feature=tree.feature[keep], threshold=tree.threshold[keep],
                      left=np.where(inner, new_id[tree.left[keep]], -1),
                      right=np.where(inner, new_id[tree.right[keep]], -1), value=tree.value[keep],
                      gain=tree.gain[keep], n_samples=tree.n_samples[keep], depth=tree.depth[keep])


class XGBTree:
    """One exact-greedy XGBoost tree fitted to gradients g and hessians h.

    Splits maximise G_L^2/(H_L+l) + G_R^2/(H_R+l) - G^2/(H+l) (xgboost's ``loss_chg``, which is
    twice the paper's gain), need both children's hessian sums >= ``min_child_weight``, and are
    pruned bottom-up when that gain is below ``gamma``. Leaves hold w* = -G / (H + lambda).
    """

    @checked(max_depth=arg.int(1, 64), reg_lambda=arg.real(0.0), gamma=arg.real(0.0), min_child_weight=arg.real(0.0))
    def __init__(self, max_depth: int = 6, reg_lambda: float = 1.0, gamma: float = 0.0,
                 min_child_weight: float = 1.0):
        self.max_depth, self.reg_lambda, self.gamma = int(max_depth), float(reg_lambda), float(gamma)
        self.min_child_weight = float(min_child_weight)

    @checked(X=arg.numeric_array(2), g=arg.array(shape="X.shape[:1]"), h=arg.array(shape="X.shape[:1]", low=0.0))
    def fit(self, X: np.ndarray, g: np.ndarray, h: np.ndarray) -> "XGBTree":
        """Grow on gradients ``g`` and hessians ``h`` >= 0 (a convex loss), both (n,)."""
        tree = grow_tree(X, np.stack([g, h], axis=1), XGBCriterion(self.reg_lambda), max_depth=self.max_depth,
                         min_child_weight=self.min_child_weight, stop_when_pure=False, min_gain=1e-6)
        self.tree_ = _prune(tree, self.gamma)
        self.n_features_in_ = X.shape[1]
        return self

    @checked(self=arg.fitted("tree_"), X=arg.numeric_array(2, n_cols="self.n_features_in_"))
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Leaf weight w* of each row's leaf, shape (n,)."""
        return self.tree_.predict_value(X)[:, 0]


OBJECTIVES = ("reg:squarederror", "binary:logistic")


@checked(objective=arg.choice(OBJECTIVES), y=arg.array(ndim=1, bool_ok=True), F=arg.array(shape="y.shape"))
def gradients(objective: str, y: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives (g, h) of the loss in the margin F, each of shape (n,).

    Squared error 1/2 (y - F)^2: g = F - y, h = 1. Logistic loss: g = sigmoid(F) - y, h = p (1 - p).
    """
    y = y.astype(np.float64)
    if objective == "reg:squarederror":
        return F - y, np.ones_like(F)
    p = sigmoid(F)
    return p - y, p * (1 - p)


class XGBoostLite(_BoostedTrees):
    """Exact-greedy XGBoost for squared error or logistic loss, in a few lines of numpy.

    Margin F_0 = base_score (logit(base_score) for logistic); each round computes (g, h) at
    the current margin, fits an :class:`XGBTree`, and adds ``learning_rate`` times its leaf weights.
    """

    @checked(objective=arg.choice(OBJECTIVES), **_SIZES, base_score=arg.real())
    def __init__(self, objective: str = "reg:squarederror", n_estimators: int = 100, learning_rate: float = 0.3,
                 max_depth: int = 6, reg_lambda: float = 1.0, gamma: float = 0.0, min_child_weight: float = 1.0,
                 base_score: float = 0.5):
        if objective == "binary:logistic" and not 0 < base_score < 1:
            raise ValueError(f"base_score must be in (0, 1) for logistic loss, got {base_score}")
        self.objective, self.n_estimators, self.learning_rate = objective, int(n_estimators), float(learning_rate)
        self.tree_params = dict(max_depth=max_depth, reg_lambda=reg_lambda, gamma=gamma,
                                min_child_weight=min_child_weight)
        XGBTree(**self.tree_params)                            # validates the tree parameters
        self.base_score = float(base_score)

    @checked(**_FIT)
    def fit(self, X: np.ndarray, y: np.ndarray) -> "XGBoostLite":
        b = self.base_score
        self.init_ = float(np.log(b / (1 - b))) if self.objective == "binary:logistic" else b
        F = np.full(len(y), self.init_)
        self.trees_: list[XGBTree] = []
        for _ in range(self.n_estimators):
            # region: xgb-round
            g, h = gradients(self.objective, y, F)
            tree = XGBTree(**self.tree_params).fit(X, g, h)
            self.trees_.append(tree)
            F = F + self.learning_rate * tree.predict(X)
            # endregion
        self.n_features_in_ = X.shape[1]
        return self

    @checked(**_PREDICT)
    def staged_margin(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """Margin F_m(X) after m = 1..M trees, each of shape (n,)."""
        return self._stages(X)

    def predict_margin(self, X: np.ndarray) -> np.ndarray:
        """Raw margin F_M(X), shape (n,) (xgboost's ``output_margin=True``)."""
        return _final(self.staged_margin(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Regression value, or P(y = 1) for the logistic objective: shape (n,)."""
        F = self.predict_margin(X)
        return sigmoid(F) if self.objective == "binary:logistic" else F


@checked(x=arg.array(ndim=1), w=arg.array(shape="x.shape", low=0.0), q=arg.array(ndim=(0, 1), low=0.0, high=1.0))
def weighted_quantiles(x: np.ndarray, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Weighted quantiles: for each q, the first sorted x whose cumulative weight reaches q * sum(w).

    XGBoost's approximate split finding proposes candidates this way with w = h. With
    w = 1 this is ``np.quantile(x, q, method='inverted_cdf')``.
    """
    if w.sum() <= 0:
        raise ValueError("w must have a positive sum")
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    idx = np.searchsorted(cum, np.atleast_1d(q) * cum[-1], side="left")
    return x[order][np.minimum(idx, len(x) - 1)].reshape(q.shape)


@checked(x=arg.array(shape=("n >= 2",), finite=False), g=arg.array(shape=("n",)), h=arg.array(shape=("n",), low=0.0),
         lam=arg.real(0.0, low_open=True))
def sparsity_aware_split(x: np.ndarray, g: np.ndarray, h: np.ndarray, lam: float = 1.0
                         ) -> tuple[float, float, bool]:
    """Best split of one feature with missing values (NaN): ``(gain, threshold, missing_left)``.

    Thresholds are enumerated over the present values only; the gradient and hessian sums of
    the missing rows are tried on the left and on the right (Chen & Guestrin, Algorithm 3).
    The gain is the paper's 1/2 [...] with gamma = 0; ties prefer sending missing rows right.
    """
    if np.isinf(x).any():
        raise ValueError("x must hold finite values or NaN (missing), not inf")
    miss = np.isnan(x)
    order = np.argsort(x[~miss], kind="stable")
    xs, gs, hs = x[~miss][order], g[~miss][order], h[~miss][order]
    if xs.size < 2 or xs[0] == xs[-1]:
        raise ValueError("x needs at least two distinct present values to split")
    Gm, Hm, G, H = g[miss].sum(), h[miss].sum(), g.sum(), h.sum()
    GL, HL = np.cumsum(gs)[:-1], np.cumsum(hs)[:-1]
    ok = xs[1:] > xs[:-1]
    best = (-np.inf, 0.0, False)
    for missing_left in (False, True):
        gl, hl = (GL + Gm, HL + Hm) if missing_left else (GL, HL)
        gain = np.where(ok, split_gain(gl, hl, G - gl, H - hl, lam), -np.inf)
        i = int(np.argmax(gain))
        if gain[i] > best[0]:
            best = (float(gain[i]), float((xs[i] + xs[i + 1]) / 2), missing_left)
    return best

"""Bagging, random forests, AdaBoost, voting and stacking, built on ``mlnotes.trees``.

Also the measurements of the part: the correlation rho of trees at a fixed point, the variance
of a forest, bias^2 + variance over many training sets, and the plots that show them.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterator

import numpy as np
from scipy.stats import binom

from mlnotes.trees import ClassificationTree, resolve_max_features
from mlnotes.validate import as_numeric_array, check_int, checked, arg


__all__ = ["AdaBoostStumps", "SimpleForest", "adaboost_reweight", "bias_variance", "bootstrap_indices",
           "correlated_mean_variance", "decision_grid", "draw_forest_spread", "draw_majority_vote",
           "forest_variance", "majority_vote_accuracy", "manual_stacking", "oob_fraction",
           "plot_bias_variance", "plot_noise_curves", "plot_rho_experiment",
           "simulate_majority_vote", "tree_variance_components"]


# ----------------------------------------------------------------------------- bagging

@checked(n=arg.count(high=10**8), rng=arg.generator())
def bootstrap_indices(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One bootstrap sample of ``range(n)``: ``(in_bag, oob)``.

    ``in_bag`` has n indices drawn with replacement; ``oob`` holds the indices never drawn
    (each is missed with probability (1 - 1/n)^n -> 1/e).
    """
    in_bag = rng.integers(0, n, size=n)
    drawn = np.zeros(n, dtype=bool)
    drawn[in_bag] = True
    return in_bag, np.flatnonzero(~drawn)


@checked(n=arg.int(1))
def oob_fraction(n: int) -> float:
    """Probability that a given point is out of bag: (1 - 1/n)^n, which tends to 1/e."""
    return float(math.exp(n * math.log1p(-1.0 / n))) if n > 1 else 0.0


@checked(B=arg.count(), rho=arg.probability(), sigma2=arg.real(0.0))
def correlated_mean_variance(B: int, rho: float, sigma2: float = 1.0) -> float:
    """Variance of the mean of B estimators with variance sigma2 and pairwise correlation rho:
    rho sigma2 + (1 - rho) sigma2 / B."""
    return rho * sigma2 + (1.0 - rho) * sigma2 / B


@checked(preds=arg.array(shape=("R >= 2", "M >= 2", None)))
def tree_variance_components(preds: np.ndarray) -> tuple[float, float]:
    """``(sigma2, rho)`` of single-tree predictions at fixed points, from ``preds`` (R, M, n).

    ``preds[r, m, i]`` is tree m of the forest grown on training set r, evaluated at the
    fixed point x_i. Two trees of one forest share the training set Z but not their own
    randomness (bootstrap, features), so their covariance at x is Var_Z(E[T(x) | Z]);
    sigma2 is the total variance Var(T(x)); rho = covariance / sigma2, both pooled over x.
    """
    # region: rho
    within = preds.var(axis=1, ddof=1).mean(axis=0)                   # E_Z Var(T | Z), (n,)
    M = preds.shape[1]
    between = preds.mean(axis=1).var(axis=0, ddof=1) - within / M     # Var_Z E(T | Z), (n,)
    sigma2 = float((within + between).mean())
    rho = float(between.mean() / sigma2)
    # endregion
    return sigma2, rho


@checked(preds=arg.numeric_array(ndim=3), B=arg.int(low=1, high="preds.shape[1]"))
def forest_variance(preds: np.ndarray, B: int) -> float:
    """Measured variance of a B-tree forest's prediction at fixed points, from ``preds`` (R, M, n).

    The M trees of each training set are cut into M // B disjoint forests of B trees; the
    variance over the R training sets is taken per forest index and point, then averaged.
    """
    R, M, n = preds.shape
    G = M // B
    forests = preds[:, :G * B].reshape(R, G, B, n).mean(axis=2)        # (R, G, n)
    return float(forests.var(axis=0, ddof=1).mean())


@checked(ks=arg.array(shape=("K",), low=1), rhos=arg.array(shape=("K", None)), Bs=arg.array(shape=("NB",), low=1),
         measured=arg.array(shape=("K", "NB"), low=0.0), sigma2=arg.array(shape=("K",), low=0.0),
         rho_mean=arg.array(shape=("K",)))
def plot_rho_experiment(ks: list[int], rhos: np.ndarray, Bs: list[int], measured: np.ndarray,
                        sigma2: np.ndarray, rho_mean: np.ndarray) -> object:
    """Two panels: rho against k (mean and spread over groups), forest variance against B.

    ``rhos`` (len(ks), groups); ``measured`` (len(ks), len(Bs)); ``sigma2``, ``rho_mean`` (len(ks),).
    """
    from mlnotes.plotting import new_figure, style_cycle

    ks, Bs = [int(k) for k in ks], [int(B) for B in Bs]
    fig, (ax1, ax2) = new_figure(ncols=2, width=9, height=3.4)
    ax1.errorbar(ks, rhos.mean(axis=1), yerr=rhos.std(axis=1, ddof=1), marker="o", capsize=3)
    ax1.set(xscale="log", xlabel="features per split $k$", ylabel=r"$\rho$ (trees at a fixed $x$)",
            title=r"Feature sampling lowers $\rho$")
    ax1.set_xticks(ks, [str(k) for k in ks])
    Bgrid = np.geomspace(1, max(Bs), 50)
    for i, (k, style) in enumerate(zip(ks, style_cycle(len(ks)))):
        s2, r = sigma2[i], rho_mean[i]
        ax2.plot(Bgrid, r * s2 + (1 - r) * s2 / Bgrid, color=style["color"], lw=1)
        ax2.plot(Bs, measured[i], "o", ms=4, color=style["color"], label=f"$k$ = {k}")
    ax2.set(xscale="log", yscale="log", xlabel="trees in the forest $B$",
            ylabel="variance of the forest", title=r"dots: measured; lines: $\rho\sigma^2 + (1-\rho)\sigma^2/B$")
    ticks = [t for t in (1, 2, 5, 10, 20, 50) if measured.min() / 1.5 <= t <= measured.max() * 1.5]
    ax2.set_yticks(ticks, [str(t) for t in ticks])
    ax2.set_xticks(Bs, [str(B) for B in Bs])
    ax2.minorticks_off()
    ax2.legend(fontsize=8)
    return fig


@checked(preds=arg.array(shape=("R", "M", "n")), B=arg.int(low=1, high="M"), truth=arg.array(shape=("n",)),
         ylim=arg.array(shape=(2,)), title=arg.text(min_len=0))
def draw_forest_spread(preds: np.ndarray, B: int, truth: np.ndarray, ylim: tuple[float, float],
                       title: str = "") -> object:
    """One figure: the first B-tree forest of every training set at fixed points, sorted by truth.

    ``preds`` (R, M, n) tree predictions as in :func:`forest_variance`; ``truth`` (n,).
    """
    from mlnotes.plotting import COLORS, new_figure

    order = np.argsort(truth)
    forests = preds[:, :B, order].mean(axis=1)                         # (R, n)
    fig, ax = new_figure(width=6.4, height=3.2)
    pos = np.broadcast_to(np.arange(len(order)), forests.shape)
    ax.plot(pos.ravel(), forests.ravel(), ".", ms=2, color=COLORS[0], alpha=0.5,
            label=f"forest of {B} tree{'s' if B > 1 else ''}, one per training set")
    ax.plot(np.arange(len(order)), np.asarray(truth)[order], color="black", lw=1.5,
            label="true $f(x)$")
    ax.set(ylim=ylim, xlabel="fixed test point (sorted by $f(x)$)", ylabel="prediction",
           title=title)
    ax.legend(loc="upper left", fontsize=8)
    return fig


class SimpleForest:
    """Random forest from scratch: bootstrap + fully grown CART trees with feature subsampling.

    ``max_features=None`` gives plain bagging of trees; 'log2' is the source article's
    choice, 'sqrt' scikit-learn's default. Class probabilities are averaged over trees.
    """

    @checked(n_estimators=arg.count(high=10**5), seed=arg.seed())
    def __init__(self, n_estimators: int = 100, max_features: int | float | str | None = "log2",
                 max_depth: int | None = None, bootstrap: bool = True, seed: int = 0):
        self.n_estimators = n_estimators
        self.max_features, self.max_depth, self.bootstrap = max_features, max_depth, bool(bootstrap)
        self.seed = seed

    @checked(X=arg.numeric_array(2), y=arg.array(shape="X.shape[:1]", dtype=None))
    def fit(self, X: np.ndarray, y: np.ndarray) -> "SimpleForest":
        """Fit ``n_estimators`` trees, each on its own bootstrap sample (as sample weights)."""
        resolve_max_features(self.max_features, X.shape[1])
        self.classes_ = np.unique(y)
        rng = np.random.default_rng(self.seed)
        self.trees_, self.oob_masks_ = [], []
        for b in range(self.n_estimators):
            if self.bootstrap:
                in_bag, oob = bootstrap_indices(len(X), rng)
                counts = np.bincount(in_bag, minlength=len(X)).astype(float)
            else:
                counts, oob = np.ones(len(X)), np.array([], dtype=np.int64)
            tree = ClassificationTree(max_depth=self.max_depth, max_features=self.max_features,
                                      seed=int(rng.integers(2**31)))
            self.trees_.append(tree.fit(X, y, sample_weight=counts))
            mask = np.zeros(len(X), dtype=bool)
            mask[oob] = True
            self.oob_masks_.append(mask)
        self._X_train, self._y_train = X, y
        return self

    @checked(self=arg.fitted("trees_"), X=arg.numeric_array(2, n_cols="self._X_train.shape[1]"))
    def tree_probas(self, X: np.ndarray) -> np.ndarray:
        """Every tree's class probabilities, columns aligned to ``classes_``: shape (B, n, C).

        A bootstrap sample can miss a class, so each tree's columns are placed by label.
        """
        out = np.zeros((len(self.trees_), len(X), len(self.classes_)))
        for b, tree in enumerate(self.trees_):
            out[b][:, np.searchsorted(self.classes_, tree.classes_)] = tree.predict_proba(X)
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean of the trees' class probabilities: shape (n, C)."""
        return self.tree_probas(X).mean(axis=0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Label with the highest mean probability: shape (n,)."""
        P = self.predict_proba(X)
        return self.classes_[np.argmax(P, axis=1)]

    def staged_accuracy(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Accuracy of the forest made of the first b trees, b = 1..B: shape (B,)."""
        P = np.cumsum(self.tree_probas(X), axis=0)
        return (self.classes_[np.argmax(P, axis=2)] == np.asarray(y)[None]).mean(axis=1)

    @checked(self=arg.fitted("trees_"), n_trees=arg.optional(arg.int(low=1, high="len(self.trees_)")))
    def oob_score(self, n_trees: int | None = None) -> float:
        """Out-of-bag accuracy: each training point is voted on only by trees that did not see it.

        Points that are in-bag for every one of the first ``n_trees`` trees are skipped.
        """
        if not self.bootstrap:
            raise ValueError("oob_score needs bootstrap=True")
        n_trees = len(self.trees_) if n_trees is None else n_trees
        votes = np.zeros((len(self._X_train), len(self.classes_)))
        for tree, mask in zip(self.trees_[:n_trees], self.oob_masks_[:n_trees]):
            if mask.any():
                cols = np.searchsorted(self.classes_, tree.classes_)
                votes[np.ix_(mask, cols)] += tree.predict_proba(self._X_train[mask])
        seen = votes.sum(axis=1) > 0
        pred = self.classes_[np.argmax(votes[seen], axis=1)]
        return float((pred == self._y_train[seen]).mean())


# ----------------------------------------------------------------------------- voting

@checked(T=arg.int(1), p=arg.probability(), rho=arg.probability())
def majority_vote_accuracy(T: int, p: float, rho: float = 0.0) -> float:
    """Accuracy of a majority vote of T (odd) voters, each right with probability p.

    With probability rho all voters copy one shared vote, otherwise they vote
    independently; this makes the pairwise correlation of their correctness exactly rho:
    acc = rho p + (1 - rho) P[Binomial(T, p) > T/2].
    """
    if T % 2 == 0:
        raise ValueError(f"T must be odd so that a majority always exists, got {T}")
    return float(rho * p + (1.0 - rho) * binom.sf(T // 2, T, p))


@checked(n_trials=arg.count(high=10**7), seed=arg.seed())
def simulate_majority_vote(T: int, p: float, rho: float = 0.0, n_trials: int = 20_000, seed: int = 0) -> float:
    """Monte Carlo estimate of :func:`majority_vote_accuracy` with the same voter model."""
    majority_vote_accuracy(T, p, rho)          # validates T, p, rho
    rng = np.random.default_rng(seed)
    shared = rng.random(n_trials) < rho
    correct = rng.random((n_trials, T)) < p
    correct[shared] = (rng.random(shared.sum()) < p)[:, None]
    return float((correct.sum(axis=1) > T // 2).mean())


@checked(n_voters=arg.int(1, 10**4), p=arg.probability(), rho=arg.probability(), T_max=arg.int(1, 10**4))
def draw_majority_vote(p: float, rho: float, n_voters: int = 25, T_max: int = 101) -> object:
    """Two panels for the correlated-voter model: majority accuracy against T (left, next to
    the independent case) and the distribution of right voters among ``n_voters`` (right)."""
    from mlnotes.plotting import COLORS, new_figure

    if n_voters % 2 == 0:
        raise ValueError(f"n_voters must be odd so that a majority always exists, got {n_voters}")
    acc = majority_vote_accuracy(n_voters, p, rho)
    Ts = np.arange(1, T_max + 1, 2)
    fig, (ax1, ax2) = new_figure(ncols=2, width=7.5, height=3)
    ax1.plot(Ts, [majority_vote_accuracy(T, p) for T in Ts], color=COLORS[0], ls="--",
             label="independent")
    ax1.plot(Ts, [majority_vote_accuracy(T, p, rho) for T in Ts], color=COLORS[3],
             label=rf"correlated, $\rho$ = {rho:g}")
    ax1.axhline(p, color="black", lw=0.8, ls=":", label=f"one voter, $p$ = {p:g}")
    ax1.set(xlabel="number of voters $T$", ylabel="majority accuracy", ylim=(0, 1.02))
    ax1.legend(fontsize=8, loc="lower right")
    k = np.arange(n_voters + 1)
    pmf = (1 - rho) * binom.pmf(k, n_voters, p)                   # (n_voters + 1,)
    pmf[0] += rho * (1 - p)
    pmf[-1] += rho * p
    ax2.bar(k, pmf, color=np.where(k > n_voters // 2, COLORS[2], COLORS[1]))
    ax2.set(xlabel=f"voters right (of {n_voters})", ylabel="probability", ylim=(0, 0.85),
            title=f"majority right: {acc:.3f}")
    return fig


@checked(preds=arg.array(shape=("R >= 2", "n")), truth=arg.array(shape=("n",)))
def bias_variance(preds: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """``(bias2, variance)`` of a model from its predictions over many training sets.

    ``preds`` (R, n): the model fitted on R independent training sets, evaluated at n fixed
    points with true values ``truth`` (n,). variance = mean_x Var_r(pred); bias2 =
    mean_x (mean_r pred - f)^2 minus variance / R, the part the finite R adds. With noise variance s2, the expected squared error on a fresh noisy
    label is bias2 + variance + s2.
    """
    # region: bias-variance
    var_x = preds.var(axis=0, ddof=1)                               # (n,)
    mean_pred = preds.mean(axis=0)                                  # (n,)
    bias2 = float(np.mean((mean_pred - truth) ** 2 - var_x / len(preds)))  # unbiased
    variance = float(var_x.mean())
    # endregion
    return bias2, variance


@checked(names=arg.sequence(arg.text()), bias2=arg.array(shape=("len(names)", None), low=0.0),
         variance=arg.array(shape="bias2.shape", low=0.0), noise=arg.real(0.0),
         mse=arg.array(shape=("len(names)",), low=0.0), mse_se=arg.array(shape=("len(names)",), low=0.0))
def plot_bias_variance(names: list[str], bias2: np.ndarray, variance: np.ndarray, noise: float,
                       mse: np.ndarray, mse_se: np.ndarray) -> object:
    """Stacked bars bias^2 + variance + noise per model, with the measured test error on top.

    ``bias2``, ``variance``: (models, groups), drawn as mean with a spread bar over groups;
    ``mse``, ``mse_se``: (models,) measured error on fresh noisy labels and its standard error.
    """
    from mlnotes.plotting import COLORS, new_figure

    x = np.arange(len(names))
    b, v = bias2.mean(axis=1), variance.mean(axis=1)
    fig, ax = new_figure(width=7.5, height=3.4)
    ax.bar(x, b, color=COLORS[0], label="bias$^2$", yerr=bias2.std(axis=1, ddof=1), capsize=3)
    ax.bar(x, v, bottom=b, color=COLORS[1], label="variance",
           yerr=variance.std(axis=1, ddof=1), capsize=3)
    ax.bar(x, np.full(len(x), noise), bottom=b + v, color="0.75", label=r"noise $\sigma^2$")
    ax.errorbar(x, mse, yerr=2 * mse_se, fmt="D", color="black", ms=5,
                label="measured test error ($\\pm 2$ SE)")
    ax.set_xticks(x, names, fontsize=8)
    ax.set(ylabel="squared error", title="Error decomposition over independent training sets")
    ax.legend(fontsize=8)
    return fig


# ----------------------------------------------------------------------------- AdaBoost

@checked(w=arg.array(shape=("n",), low=0.0, sums_to=1), y=arg.array(shape=("n",), values=(-1, 1)),
         h=arg.array(shape=("n",), values=(-1, 1)), alpha=arg.real())
def adaboost_reweight(w: np.ndarray, y: np.ndarray, h: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """One AdaBoost weight update: w_i exp(-alpha y_i h_i) / Z, returned with Z.

    ``w`` (n,) non-negative weights summing to 1; ``y`` and ``h`` (n,) in {-1, +1}.
    With alpha = 1/2 ln((1 - e)/e), Z = 2 sqrt(e (1 - e)).
    """
    w_new = w * np.exp(-alpha * y * h)
    Z = float(w_new.sum())
    return w_new / Z, Z


class AdaBoostStumps:
    """Binary AdaBoost (Freund & Schapire) with decision stumps, by reweighting or resampling.

    Labels may be any two values; internally y is mapped to {-1, +1} (``classes_[1]`` is +1).
    After ``fit``: ``alphas_``, ``errors_`` (weighted error e_m), ``Z_`` (normaliser),
    ``weights_history_`` (M + 1, n) with the weights before each round and after the last.
    ``estimator`` is any object with ``fit(X, y, sample_weight)`` and ``predict``; it is
    deep-copied every round (default: ``ClassificationTree(max_depth=1)``).
    """

    @checked(n_rounds=arg.count(high=10**5), learning_rate=arg.positive(), resample=arg.bool(), seed=arg.seed())
    def __init__(self, n_rounds: int = 50, learning_rate: float = 1.0, resample: bool = False,
                 estimator: object | None = None, seed: int = 0):
        self.n_rounds = n_rounds
        self.learning_rate, self.resample, self.seed = float(learning_rate), bool(resample), seed
        self.estimator = ClassificationTree(max_depth=1) if estimator is None else estimator

    @checked(X=arg.numeric_array(2), y=arg.array(shape="X.shape[:1]", dtype=None))
    def fit(self, X: np.ndarray, y: np.ndarray) -> "AdaBoostStumps":
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"y must hold exactly two classes, got {self.classes_}")
        ys = np.where(y == self.classes_[1], 1.0, -1.0)
        rng = np.random.default_rng(self.seed)
        w = np.full(len(X), 1.0 / len(X))
        self.learners_, self.alphas_, self.errors_, self.Z_, history = [], [], [], [], [w]
        for _ in range(self.n_rounds):
            # region: adaboost-round
            learner = copy.deepcopy(self.estimator)
            if self.resample:
                idx = rng.choice(len(X), size=len(X), p=w)
                learner.fit(X[idx], ys[idx], sample_weight=np.ones(len(X)))
            else:
                learner.fit(X, ys, sample_weight=w)
            h = np.asarray(learner.predict(X), dtype=np.float64)
            e = float(np.sum(w[h != ys]))
            if e >= 0.5:                               # no better than chance: stop
                if not self.learners_:
                    raise ValueError("the first weak learner is no better than chance (error >= 0.5)")
                break
            alpha = self.learning_rate * 0.5 * math.log((1.0 - max(e, 1e-12)) / max(e, 1e-12))
            self.learners_.append(learner)
            self.alphas_.append(alpha)
            self.errors_.append(e)
            if e == 0.0:                               # perfect learner: it decides alone
                self.Z_.append(0.0)
                break
            w, Z = adaboost_reweight(w, ys, h, alpha)
            # endregion
            self.Z_.append(Z)
            history.append(w)
        self.alphas_, self.errors_, self.Z_ = map(np.array, (self.alphas_, self.errors_, self.Z_))
        self.weights_history_ = np.array(history)
        self.n_features_in_ = X.shape[1]
        return self

    @checked(self=arg.fitted("learners_"), X=arg.numeric_array(2, n_cols="self.n_features_in_"))
    def staged_decision_function(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """F_m(x) = sum_{j <= m} alpha_j h_j(x) for m = 1..M, each of shape (n,)."""
        return self._staged(X)

    def _staged(self, X: np.ndarray) -> Iterator[np.ndarray]:
        terms = (alpha * np.asarray(h.predict(X), dtype=np.float64)  # (n,) each
                 for alpha, h in zip(self.alphas_, self.learners_))
        yield from itertools.accumulate(terms)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """F_M(x) = sum_m alpha_m h_m(x) for all M rounds: shape (n,)."""
        *_, F = self.staged_decision_function(X)
        return F

    def staged_predict(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """Labels sign(F_m(x)) mapped back to ``classes_``, for m = 1..M."""
        for F in self.staged_decision_function(X):
            yield self.classes_[(F > 0).astype(int)]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Label sign(F_M(x)) mapped back to ``classes_``: shape (n,)."""
        F = self.decision_function(X)
        return self.classes_[(F > 0).astype(int)]


@checked(test_err=arg.mapping(item=arg.array(ndim=2, low=0.0, high=1.0)), share=arg.array(ndim=2, low=0.0, high=1.0 + 1e-9),
         start_share=arg.probability())
def plot_noise_curves(test_err: dict[str, np.ndarray], share: np.ndarray, start_share: float) -> object:
    """Left: test error against rounds per label-noise level (mean line, min-max band over seeds).
    Right: the flipped points' share of the weight against rounds (one line per seed).

    ``test_err``: name -> (seeds, rounds); ``share``: (seeds, rounds + 1).
    """
    from mlnotes.plotting import COLORS, new_figure, style_cycle

    fig, (ax1, ax2) = new_figure(ncols=2, width=9.5, height=3.4)
    for (name, err), style in zip(test_err.items(), style_cycle(len(test_err))):
        m = np.arange(1, err.shape[1] + 1)
        ax1.plot(m, err.mean(axis=0), label=name, **style)
        ax1.fill_between(m, err.min(axis=0), err.max(axis=0), color=style["color"], alpha=0.2)
    ax1.set(xscale="log", xlabel="boosting round $m$", ylabel="test error (clean labels)",
            title="Test error, mean and range over seeds")
    ax1.legend(fontsize=8)
    for row in share:
        ax2.plot(np.arange(len(row)), row, color=COLORS[3], lw=1, alpha=0.7)
    ax2.axhline(start_share, color="black", lw=0.8, ls=":", label="their share at the start")
    ax2.plot([], [], color=COLORS[3], label="flipped points, one line per seed")
    ax2.set(xlabel="boosting round $m$", ylabel="weight on flipped points", ylim=(0, 1),
            title="Where the weight goes")
    ax2.legend(fontsize=8)
    return fig


# ----------------------------------------------------------------------------- stacking

@checked(estimators=arg.sequence(), X=arg.numeric_array(2), y=arg.array(shape="X.shape[:1]", dtype=None))
def manual_stacking(estimators: list[object], final_estimator: object, X: np.ndarray, y: np.ndarray,
                    cv: object) -> Callable[[np.ndarray], np.ndarray]:
    """Stacking by hand; returns ``predict_proba(X_new) -> (n, C)``.

    1. Meta-features: out-of-fold ``predict_proba`` of every base estimator (folds from ``cv``);
       for two classes only the positive column is kept, as scikit-learn does.
    2. Fit ``final_estimator`` on the meta-features; refit every base estimator on all of X.
    """
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    for name, est in [("estimators", e) for e in estimators] + [("final_estimator", final_estimator)]:
        if not (hasattr(est, "fit") and hasattr(est, "predict_proba")):
            raise TypeError(f"{name} must hold scikit-learn classifiers (fit, predict_proba), got {est!r:.40}")
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        cv = check_int("cv", cv, 2, len(X))                          # a fold count
    keep = slice(1, None) if len(np.unique(y)) == 2 else slice(None)
    meta = np.hstack([cross_val_predict(clone(est), X, y, cv=cv, method="predict_proba")[:, keep]
                      for est in estimators])
    final = clone(final_estimator).fit(meta, y)
    bases = [clone(est).fit(X, y) for est in estimators]

    def predict_proba(X_new: np.ndarray) -> np.ndarray:
        X_new = as_numeric_array(X_new, "X_new", 2, n_cols=X.shape[1])
        return final.predict_proba(np.hstack([b.predict_proba(X_new)[:, keep] for b in bases]))

    return predict_proba


# ----------------------------------------------------------------------------- plotting

@checked(X=arg.numeric_array(2, n_cols=2), grid=arg.int(2, 2000), margin=arg.real(0.0))
def decision_grid(X: np.ndarray, grid: int = 200, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The (grid, grid) mesh ``(gx, gy)`` that ``mlnotes.plotting.plot_decision_boundary`` evaluates for 2-D ``X``.

    Precompute ``predict(np.c_[gx.ravel(), gy.ravel()])`` once to redraw boundaries quickly.
    """
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    return np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))

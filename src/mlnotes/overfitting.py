"""Overfitting experiments on 1-D regression: polynomial capacity, learning curves, the
remedies (ridge and L1 penalties, cross-validated selection, jittered-input augmentation) and
early stopping and dropout of a small MLP, with the chapter's plot helpers.

The linear algebra lives in ``mlnotes.linear`` (``poly_design``, ``ridge_closed_form``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlnotes.linear import poly_design, ridge_closed_form
from mlnotes.validate import checked, arg

__all__ = ["TRUE_FUNCTIONS", "toy_regression", "fit_poly", "predict_poly", "poly_train_test_mse",
           "generalization_gaps", "cv_select_degree", "cv_select_lam", "train_mlp_early_stopping",
           "jitter_augment", "plot_poly_fits", "draw_poly_fit", "plot_remedies"]

#: The noise-free rules ``f(x)`` on [-1, 1] that ``toy_regression`` can sample.
TRUE_FUNCTIONS = {
    "sin": lambda x: np.sin(np.pi * x) + 0.5 * x,
    "linear": lambda x: 0.5 + 1.5 * x,
}
PENALTIES = ("l2", "l1")


@checked(n=arg.count(high=10**7), noise=arg.positive(allow_zero=True), fn=arg.choice(sorted(TRUE_FUNCTIONS)),
         seed=arg.seed())
def toy_regression(n: int, noise: float = 0.3, seed: int = 0, fn: str = "sin") -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``x ~ U(-1, 1)`` (sorted) and ``y = f(x) + noise * N(0, 1)``; shapes (n,), (n,)."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1.0, 1.0, n))
    return x, TRUE_FUNCTIONS[fn](x) + noise * rng.standard_normal(n)


@checked(x=arg.array(shape=("n",)), y=arg.array(shape=("n",)), degree=arg.int(0, 50), lam=arg.positive(allow_zero=True), penalty=arg.choice(PENALTIES))
def fit_poly(x: object, y: object, degree: int, lam: float = 0.0, penalty: str = "l2") -> np.ndarray:
    """Legendre coefficients (degree + 1,) of the penalised least-squares polynomial fit to ``(x, y)``.

    Minimises ``||A w - y||^2 + lam ||w||_2^2`` (``penalty="l2"``, ridge, closed form) or
    ``||A w - y||^2 + lam ||w||_1`` (``"l1"``, the LASSO, solved exactly by LARS:
    ``sklearn.linear_model.LassoLars`` with ``alpha = lam / (2 n)``), ``A = poly_design(x, degree)``.
    The constant ``P_0`` is a column of ``A``, so it is penalised like the other coefficients.
    """
    A = poly_design(x, degree)                                                    # (n, degree + 1)
    if penalty == "l2" or lam == 0:
        return ridge_closed_form(A, y, lam)
    from sklearn.linear_model import LassoLars

    return LassoLars(alpha=lam / (2 * len(y)), fit_intercept=False).fit(A, y).coef_


@checked(coef=arg.array(ndim=1))
def predict_poly(coef: object, x: object) -> np.ndarray:
    """Evaluate Legendre coefficients ``coef`` (degree + 1,) at ``x`` (m,)."""
    return poly_design(x, coef.size - 1) @ coef                                   # (m,)


@checked(x_train=arg.array(shape=("n",)), y_train=arg.array(shape=("n",)), x_test=arg.array(shape=("m",)),
         y_test=arg.array(shape=("m",)), degrees=arg.array(ndim=1, integer=True, low=0, high=50))
def poly_train_test_mse(x_train: object, y_train: object, x_test: object, y_test: object,
                        degrees: Sequence[int], lam: float = 0.0,
                        penalty: str = "l2") -> tuple[np.ndarray, np.ndarray]:
    """Train and test mean squared errors of polynomial fits, one per degree: two arrays (len(degrees),)."""
    train, test = [], []
    for degree in degrees:
        coef = fit_poly(x_train, y_train, int(degree), lam, penalty)
        train.append(np.mean((predict_poly(coef, x_train) - y_train) ** 2))
        test.append(np.mean((predict_poly(coef, x_test) - y_test) ** 2))
    return np.array(train), np.array(test)


@checked(degree=arg.int(0, 50), ns=arg.array(ndim=1, integer=True, low="degree + 1", high=10**6),
         n_resamples=arg.count(high=10**5), n_test=arg.count(high=10**6), seed=arg.seed())
def generalization_gaps(degree: int, ns: Sequence[int], n_resamples: int = 50, noise: float = 0.3,
                        n_test: int = 2000, seed: int = 0) -> np.ndarray:
    """Median over resampled training sets of ``test MSE - train MSE``, for each size in ``ns``.

    Returns shape (len(ns),). Each resample draws a fresh training set of size n from
    ``toy_regression``; one fixed test set of ``n_test`` points is shared.
    """
    x_test, y_test = toy_regression(n_test, noise, seed=seed + 10_000)
    gaps = np.empty((len(ns), n_resamples))                                      # (sizes, resamples)
    for i, n in enumerate(ns):
        for r in range(n_resamples):
            x, y = toy_regression(int(n), noise, seed=seed + 1 + r + 1000 * i)
            train, test = poly_train_test_mse(x, y, x_test, y_test, [degree])
            gaps[i, r] = test[0] - train[0]
    return np.median(gaps, axis=1)


def _cv_mse(x, y, folds, degree, lam, penalty) -> float:
    """Mean validation MSE over the folds (a list of (train, validation) index pairs)."""
    return float(np.mean([poly_train_test_mse(x[tr], y[tr], x[va], y[va], [degree], lam, penalty)[1][0]
                          for tr, va in folds]))


def _folds(x: np.ndarray, k: int, seed: int) -> list:
    from sklearn.model_selection import KFold

    return list(KFold(k, shuffle=True, random_state=seed).split(x))


@checked(x=arg.array(shape=("n",)), y=arg.array(shape=("n",)), degrees=arg.array(ndim=1, integer=True, low=0, high=50), k=arg.int(low=2, high="n"),
         seed=arg.seed())
def cv_select_degree(x: object, y: object, degrees: Sequence[int], k: int = 5, seed: int = 0,
                     lam: float = 0.0) -> tuple[int, np.ndarray]:
    """Pick the degree with the lowest mean validation MSE over ``k`` shuffled folds.

    Uses ``sklearn.model_selection.KFold(k, shuffle=True, random_state=seed)``. Returns
    ``(best_degree, cv_mse)`` with ``cv_mse`` of shape (len(degrees),).
    """
    folds = _folds(x, k, seed)
    cv_mse = np.array([_cv_mse(x, y, folds, int(d), lam, "l2") for d in degrees])
    return int(degrees[int(np.argmin(cv_mse))]), cv_mse


@checked(x=arg.array(shape=("n",)), y=arg.array(shape=("n",)), degree=arg.int(0, 50), lams=arg.array(ndim=1, low=0), k=arg.int(low=2, high="n"),
         seed=arg.seed(), penalty=arg.choice(PENALTIES))
def cv_select_lam(x: object, y: object, degree: int, lams: Sequence[float], k: int = 5, seed: int = 0,
                  penalty: str = "l2") -> tuple[float, np.ndarray]:
    """Pick the penalty ``lam`` (of ``fit_poly``) with the lowest mean validation MSE over ``k`` folds.

    Same folds as :func:`cv_select_degree`. Returns ``(best_lam, cv_mse)``, ``cv_mse`` (len(lams),).
    """
    folds = _folds(x, k, seed)
    cv_mse = np.array([_cv_mse(x, y, folds, degree, lam, penalty) for lam in lams])
    return float(lams[int(np.argmin(cv_mse))]), cv_mse


@checked(x_train=arg.array(shape=("n",)), y_train=arg.array(shape=("n",)), x_val=arg.array(shape=("nv",)),
         y_val=arg.array(shape=("nv",)), x_test=arg.optional(arg.array(shape=("nt",))),
         y_test=arg.optional(arg.array(shape=("nt",))), width=arg.count(high=100_000),
         num_epochs=arg.count(high=10**6), lr=arg.positive(), seed=arg.seed(), dropout=arg.probability(high_open=True))
def train_mlp_early_stopping(x_train: object, y_train: object, x_val: object, y_val: object,
                             width: int = 128, num_epochs: int = 1500, lr: float = 1e-2,
                             seed: int = 0, dropout: float = 0.0, x_test: object = None,
                             y_test: object = None) -> tuple[np.ndarray, ...]:
    """Full-batch Adam on a 1-width-width-1 tanh MLP (float32); MSE per step on train and validation.

    Returns two arrays of shape (num_epochs,), and a third with the test MSE per step when
    ``x_test, y_test`` are given. Early stopping keeps the weights of ``argmin(val)``; here we
    only record the curves (so the test MSE at that step is the early-stopped model's).
    ``dropout > 0`` zeroes each hidden unit with that probability at every training step
    (``nn.Dropout`` after each tanh); the recorded errors use the full network (evaluation mode).
    """
    import torch

    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    sets = [(x_train, y_train), (x_val, y_val)] + ([] if x_test is None else [(x_test, y_test)])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _train_mlp(sets, width, num_epochs, lr, dropout)


def _train_mlp(sets, width, num_epochs, lr, dropout):
    import torch
    from torch import nn

    net = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Dropout(dropout),
                        nn.Linear(width, width), nn.Tanh(), nn.Dropout(dropout), nn.Linear(width, 1))
    to_t = lambda a: torch.tensor(a, dtype=torch.float32)[:, None]  # noqa: E731  (n,) -> (n, 1)
    tensors = [(to_t(a), to_t(b)) for a, b in sets]
    (X_tr, Y_tr) = tensors[0]
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    curves = np.empty((len(sets), num_epochs))                                   # (sets, steps)
    for epoch in range(num_epochs):
        net.train()
        optimizer.zero_grad()
        loss = torch.mean((net(X_tr) - Y_tr) ** 2)
        loss.backward()
        optimizer.step()
        net.eval()
        with torch.no_grad():
            for i, (X, Y) in enumerate(tensors):
                curves[i, epoch] = torch.mean((net(X) - Y) ** 2).item()
    return tuple(curves)


@checked(x=arg.array(shape=("n",)), y=arg.array(shape=("n",)), copies=arg.count(low=0, high=10_000), sd=arg.real(low=0), seed=arg.seed())
def jitter_augment(x: object, y: object, copies: int, sd: float, seed: int = 0):
    """Data augmentation by input noise: each point plus ``copies`` jittered copies
    ``(x_i + eps, y_i)``, ``eps ~ N(0, sd^2)``; returns arrays of length ``n (copies + 1)``.

    It encodes the belief that the rule barely changes over a distance ``sd``; for small
    ``sd`` training on it acts like a penalty on the fit's slope (Bishop, 1995).
    """
    rng = np.random.default_rng(seed)
    x_new = x[None, :] + sd * rng.standard_normal((copies, x.size))               # (copies, n)
    return np.concatenate([x, x_new.ravel()]), np.concatenate([y, np.tile(y, copies)])


# ----------------------------------------------------------------------------- plots
def _draw_fit(ax, x, y, coef, f_true, title: str) -> None:
    from mlnotes.plotting import PALETTE

    grid = np.linspace(-1, 1, 400)
    ax.plot(grid, f_true(grid), color=PALETTE["black"], lw=1, ls=":", label="true $f(x)$")
    ax.plot(grid, predict_poly(coef, grid), color=PALETTE["vermillion"], label="fit")
    ax.scatter(x, y, s=14, color=PALETTE["blue"], zorder=3, label="training points")
    ax.set(ylim=(-2.5, 2.5), xlabel="input $x$", title=title)


@checked(x=arg.array(shape=("n",)), y=arg.array(shape=("n",)), degrees=arg.array(ndim=1, integer=True, low=0, high=50), f_true=arg.callable())
def plot_poly_fits(x: object, y: object, x_test: object, y_test: object, degrees: Sequence[int],
                   f_true=TRUE_FUNCTIONS["sin"]):
    """One panel per degree: the least-squares fit, the true rule and the training points; each
    title gives the training and test MSE. Returns the figure."""
    from mlnotes.plotting import new_figure

    fig, axes = new_figure(ncols=len(degrees), width=3.3 * len(degrees), height=3.2, sharey=True)
    for ax, degree in zip(np.atleast_1d(axes), degrees):
        train, test = poly_train_test_mse(x, y, x_test, y_test, [degree])
        _draw_fit(ax, x, y, fit_poly(x, y, int(degree)), f_true,
                  f"degree {degree}: train {train[0]:.3f}, test {test[0]:.3g}")
    np.atleast_1d(axes)[0].set_ylabel("output $y$")
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=8)
    return fig


@checked(x=arg.array(shape=("n",)), y=arg.array(shape=("n",)), degree=arg.int(0, 50), f_true=arg.callable())
def draw_poly_fit(x: object, y: object, x_test: object, y_test: object, degree: int, lam: float = 0.0,
                  f_true=TRUE_FUNCTIONS["sin"]):
    """One explorer frame: the ridge fit of ``degree`` with penalty ``lam``; the title gives
    n, the training and the test MSE. Returns the figure."""
    from mlnotes.plotting import new_figure

    train, test = poly_train_test_mse(x, y, x_test, y_test, [degree], lam=lam)
    fig, ax = new_figure(width=5.5, height=2.8)
    _draw_fit(ax, x, y, fit_poly(x, y, degree, lam), f_true,
              f"degree {degree}, n = {len(x)}, $\\lambda$ = {lam:g}: train {train[0]:.3f}, test {test[0]:.3g}")
    ax.set_ylabel("output $y$")
    ax.legend(loc="lower right", fontsize=7)
    return fig


@checked(ax=arg.axes(), noise_var=arg.positive(), results=arg.mapping(item=arg.array(ndim=1, low=0)), log=arg.bool())
def plot_remedies(ax: object, results: dict, noise_var: float, log: bool = True) -> None:
    """Test MSE of each remedy, one dot per seed and a bar for the mean (geometric on a log
    axis), with the noise variance (the best possible test MSE) dotted. ``results`` maps a
    remedy's name to its test MSEs, one per seed; ``log=False`` draws a linear axis from 0."""
    from mlnotes.plotting import COLORS, PALETTE

    for i, (name, values) in enumerate(results.items()):      # values: (seeds,)
        mean = np.exp(np.mean(np.log(values))) if log else values.mean()
        ax.scatter(i + np.linspace(-0.15, 0.15, len(values)), values, s=18,
                   color=COLORS[i % len(COLORS)], zorder=3)
        ax.hlines(mean, i - 0.3, i + 0.3, color=PALETTE["black"], lw=1.5)
    ax.axhline(noise_var, color=PALETTE["black"], lw=0.8, ls=":")
    ax.set_xticks(range(len(results)), list(results), rotation=20, ha="right")
    if log:
        ax.set(yscale="log", ylabel="test MSE (log scale)")
    else:
        ax.set(ylim=(0, None), ylabel="test MSE")

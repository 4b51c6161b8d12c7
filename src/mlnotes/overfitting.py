"""Overfitting experiments on 1-D regression: polynomial capacity, learning curves,
cross-validated model selection and early stopping of a small MLP.

The linear algebra lives in ``mlnotes.linear`` (``poly_design``, ``ridge_closed_form``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlnotes.core import check_seed
from mlnotes.linear import poly_design, ridge_closed_form
from mlnotes.validate import (check_array, check_count, check_int, check_positive, check_probability,
                              check_real, check_same_length)

__all__ = ["TRUE_FUNCTIONS", "toy_regression", "fit_poly", "predict_poly", "poly_train_test_mse",
           "generalization_gaps", "cv_select_degree", "train_mlp_early_stopping", "jitter_augment"]

#: The noise-free rules ``f(x)`` on [-1, 1] that ``toy_regression`` can sample.
TRUE_FUNCTIONS = {
    "sin": lambda x: np.sin(np.pi * x) + 0.5 * x,
    "linear": lambda x: 0.5 + 1.5 * x,
}


def _check_xy(x: object, y: object, xname: str = "x", yname: str = "y") -> tuple[np.ndarray, np.ndarray]:
    x, y = check_array(xname, x, ndim=1), check_array(yname, y, ndim=1)
    check_same_length((xname, x), (yname, y))
    return x, y


def _check_degrees(degrees: object) -> list[int]:
    if isinstance(degrees, (list, tuple)) and not degrees:
        raise ValueError("degrees must not be empty")
    return [int(d) for d in check_array("degrees", degrees, ndim=1, integer=True, low=0, high=50)]


def toy_regression(n: int, noise: float = 0.3, seed: int = 0, fn: str = "sin") -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``x ~ U(-1, 1)`` (sorted) and ``y = f(x) + noise * N(0, 1)``; shapes (n,), (n,)."""
    n = check_count("n", n, high=10**7)
    noise = check_positive("noise", noise, allow_zero=True)
    if fn not in TRUE_FUNCTIONS:
        raise ValueError(f"fn must be one of {sorted(TRUE_FUNCTIONS)}, got {fn!r}")
    rng = np.random.default_rng(check_seed(seed))
    x = np.sort(rng.uniform(-1.0, 1.0, n))
    return x, TRUE_FUNCTIONS[fn](x) + noise * rng.standard_normal(n)


def fit_poly(x: object, y: object, degree: int, lam: float = 0.0) -> np.ndarray:
    """Legendre coefficients (degree + 1,) of the (ridge-)least-squares polynomial fit to ``(x, y)``."""
    x, y = _check_xy(x, y)
    return ridge_closed_form(poly_design(x, degree), y, check_positive("lam", lam, allow_zero=True))


def predict_poly(coef: object, x: object) -> np.ndarray:
    """Evaluate Legendre coefficients ``coef`` (degree + 1,) at ``x`` (m,)."""
    coef = check_array("coef", coef, ndim=1)
    return poly_design(x, coef.size - 1) @ coef


def poly_train_test_mse(x_train: object, y_train: object, x_test: object, y_test: object,
                        degrees: Sequence[int], lam: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test mean squared errors of polynomial fits, one per degree: two arrays (len(degrees),)."""
    x_train, y_train = _check_xy(x_train, y_train, "x_train", "y_train")
    x_test, y_test = _check_xy(x_test, y_test, "x_test", "y_test")
    degrees = _check_degrees(degrees)
    train, test = [], []
    for degree in degrees:
        coef = fit_poly(x_train, y_train, degree, lam)
        train.append(np.mean((predict_poly(coef, x_train) - y_train) ** 2))
        test.append(np.mean((predict_poly(coef, x_test) - y_test) ** 2))
    return np.array(train), np.array(test)


def generalization_gaps(degree: int, ns: Sequence[int], n_resamples: int = 50, noise: float = 0.3,
                        n_test: int = 2000, seed: int = 0) -> np.ndarray:
    """Median over resampled training sets of ``test MSE - train MSE``, for each size in ``ns``.

    Returns shape (len(ns),). Each resample draws a fresh training set of size n from
    ``toy_regression``; one fixed test set of ``n_test`` points is shared.
    """
    degree = check_int("degree", degree, 0, 50)
    n_resamples = check_count("n_resamples", n_resamples, high=10**5)
    ns = [int(n) for n in check_array("ns", ns, ndim=1, integer=True, low=degree + 1, high=10**6)]
    n_test = check_count("n_test", n_test, high=10**6)
    seed = check_seed(seed)
    x_test, y_test = toy_regression(n_test, noise, seed=seed + 10_000)
    gaps = np.empty((len(ns), n_resamples))
    for i, n in enumerate(ns):
        for r in range(n_resamples):
            x, y = toy_regression(int(n), noise, seed=seed + 1 + r + 1000 * i)
            train, test = poly_train_test_mse(x, y, x_test, y_test, [degree])
            gaps[i, r] = test[0] - train[0]
    return np.median(gaps, axis=1)


def cv_select_degree(x: object, y: object, degrees: Sequence[int], k: int = 5, seed: int = 0,
                     lam: float = 0.0) -> tuple[int, np.ndarray]:
    """Pick the degree with the lowest mean validation MSE over ``k`` shuffled folds.

    Uses ``sklearn.model_selection.KFold(k, shuffle=True, random_state=seed)``. Returns
    ``(best_degree, cv_mse)`` with ``cv_mse`` of shape (len(degrees),).
    """
    from sklearn.model_selection import KFold

    x, y = _check_xy(x, y)
    k = check_int("k", k, 2)
    if k > x.size:
        raise ValueError(f"k = {k} folds need at least {k} points, got {x.size}")
    degrees = _check_degrees(degrees)
    folds = list(KFold(k, shuffle=True, random_state=check_seed(seed)).split(x))
    cv_mse = np.array([np.mean([poly_train_test_mse(x[tr], y[tr], x[va], y[va], [d], lam)[1][0]
                                for tr, va in folds]) for d in degrees])
    return int(degrees[int(np.argmin(cv_mse))]), cv_mse


def train_mlp_early_stopping(x_train: object, y_train: object, x_val: object, y_val: object,
                             width: int = 128, num_epochs: int = 1500, lr: float = 1e-2,
                             seed: int = 0, dropout: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch Adam on a 1-width-width-1 tanh MLP (float32); MSE per step on train and validation.

    Returns two arrays of shape (num_epochs,). Early stopping keeps the weights of
    ``argmin(val)``; here we only record the curves. ``dropout > 0`` zeroes each hidden unit
    with that probability at every training step (``nn.Dropout`` after each tanh); the
    recorded errors use the full network (evaluation mode).
    """
    import torch
    from torch import nn

    x_train, y_train = _check_xy(x_train, y_train, "x_train", "y_train")
    x_val, y_val = _check_xy(x_val, y_val, "x_val", "y_val")
    width = check_count("width", width, high=100_000)
    num_epochs = check_count("num_epochs", num_epochs, high=10**6)
    check_positive("lr", lr)
    dropout = check_probability("dropout", dropout, high_open=True)
    with torch.random.fork_rng():
        torch.manual_seed(check_seed(seed))
        return _train_mlp(x_train, y_train, x_val, y_val, width, num_epochs, lr, dropout)


def _train_mlp(x_train, y_train, x_val, y_val, width, num_epochs, lr, dropout):
    import torch
    from torch import nn

    net = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Dropout(dropout),
                        nn.Linear(width, width), nn.Tanh(), nn.Dropout(dropout), nn.Linear(width, 1))
    to_t = lambda a: torch.tensor(a, dtype=torch.float32)[:, None]
    X_tr, Y_tr, X_va, Y_va = to_t(x_train), to_t(y_train), to_t(x_val), to_t(y_val)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    train, val = np.empty(num_epochs), np.empty(num_epochs)
    for epoch in range(num_epochs):
        net.train()
        optimizer.zero_grad()
        loss = torch.mean((net(X_tr) - Y_tr) ** 2)
        loss.backward()
        optimizer.step()
        net.eval()
        with torch.no_grad():
            train[epoch] = torch.mean((net(X_tr) - Y_tr) ** 2).item()
            val[epoch] = torch.mean((net(X_va) - Y_va) ** 2).item()
    return train, val


def jitter_augment(x: object, y: object, copies: int, sd: float, seed: int = 0):
    """Data augmentation by input noise: each point plus ``copies`` jittered copies
    ``(x_i + eps, y_i)``, ``eps ~ N(0, sd^2)``; returns arrays of length ``n (copies + 1)``.

    It encodes the belief that the rule barely changes over a distance ``sd``; for small
    ``sd`` training on it acts like a penalty on the fit's slope (Bishop, 1995).
    """
    x, y = _check_xy(x, y)
    copies = check_count("copies", copies, low=0, high=10_000)
    sd = check_real("sd", sd, low=0)
    rng = np.random.default_rng(check_seed(seed))
    x_new = x[None, :] + sd * rng.standard_normal((copies, x.size))          # (copies, n)
    return np.concatenate([x, x_new.ravel()]), np.concatenate([y, np.tile(y, copies)])

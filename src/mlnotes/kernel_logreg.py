"""Kernels, surrogate losses, kernel logistic regression and Platt scaling.

Labels are in {-1, +1}
throughout, so that the margin of a score ``f(x)`` is ``s = y f(x)``.

- :func:`rbf` (and the linear kernel ``X Y^T``): Gram matrices.
- :func:`surrogate_losses`, :func:`hinge_objective`: the SVM as L2-regularized hinge loss.
- :class:`KernelLogReg`: ``min_beta (lam/N) beta^T K beta + (1/N) sum_n log(1 + exp(-y_n (K beta)_n))``
  by Newton's method (the representer theorem puts ``w = sum_m beta_m z_m``).
- :func:`logreg_primal`: the same objective in weight space, ``(lam/N)|w|^2 + mean log-loss``.
- :func:`platt_fit`: ``P(y = 1 | score) = sigmoid(A * score + B)`` fitted on held-out scores.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from threadpoolctl import threadpool_limits

from mlnotes.validate import checked, arg

__all__ = ["KernelLogReg", "hinge_objective", "logreg_primal", "platt_fit", "rbf",
           "surrogate_losses"]

KERNELS = ("rbf", "linear")


# Argument rules: data (n, d) and labels in {-1, +1} (map {0, 1} with 2 y - 1).
_X = arg.array(shape=("n", "d"))
_PM1 = arg.array(shape=("n",), values=(-1, 1))


@checked(X=arg.array(shape=("N", "D")), Y=arg.array(shape=("M", "D")), gamma=arg.positive())
def rbf(X: object, Y: object, gamma: float) -> np.ndarray:
    """Gaussian kernel matrix ``K[i, j] = exp(-gamma |x_i - y_j|^2)``, shape (N, M)."""
    sq = np.sum(X ** 2, 1)[:, None] + np.sum(Y ** 2, 1)[None, :] - 2.0 * X @ Y.T
    return np.exp(-gamma * np.maximum(sq, 0.0))


def _linear_kernel(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Linear kernel matrix ``K = X Y^T``, shape (N, M)."""
    return X @ Y.T


@checked(s=arg.array(ndim=1))
def surrogate_losses(s: object) -> dict[str, np.ndarray]:
    """Losses as functions of the margin ``s = y f(x)``: 0/1, hinge, scaled logistic, squared.

    ``zero_one = [s <= 0]``, ``hinge = max(0, 1 - s)``, ``logistic = log2(1 + e^{-s})``,
    ``squared = (1 - s)^2``. Hinge and scaled logistic upper-bound the 0/1 loss.
    """
    return {"0/1": (s <= 0).astype(np.float64), "hinge": np.maximum(0.0, 1.0 - s),
            "scaled logistic": np.logaddexp(0.0, -s) / np.log(2.0), "squared": (1.0 - s) ** 2}


@checked(X=_X, y=_PM1, w=arg.array(shape=("d",)), b=arg.real(), C=arg.positive())
def hinge_objective(w: object, b: float, X: object, y: object, C: float) -> float:
    """Unconstrained soft-margin SVM objective ``0.5 |w|^2 + C sum_n max(0, 1 - y_n (w . x_n + b))``."""
    return float(0.5 * w @ w + C * np.sum(np.maximum(0.0, 1.0 - y * (X @ w + b))))


def _logistic_objective(beta: np.ndarray, K: np.ndarray, y: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    N = len(y)
    scores = K @ beta
    loss = (lam / N) * beta @ scores + np.mean(np.logaddexp(0.0, -y * scores))
    dloss_dscore = -y * expit(-y * scores) / N
    return float(loss), (2.0 * lam / N) * scores + K @ dloss_dscore


class KernelLogReg:
    """Kernel logistic regression: ``f(x) = sum_m beta_m K(x_m, x)``, fitted by Newton's method.

    Minimizes ``(lam/N) beta^T K beta + (1/N) sum_n log(1 + exp(-y_n f(x_n)))`` with labels in
    {-1, +1}. ``beta_`` has one (generally nonzero) entry per training point.
    """

    @checked(lam=arg.positive(), kernel=arg.choice(KERNELS), gamma=arg.positive())
    def __init__(self, lam: float = 0.01, kernel: str = "rbf", gamma: float = 1.0):
        self.lam = lam
        self.kernel = kernel
        self.gamma = gamma

    def gram(self, X: object, Y: object) -> np.ndarray:
        """Kernel matrix between the rows of X and Y, shape (N, M)."""
        return rbf(X, Y, self.gamma) if self.kernel == "rbf" else _linear_kernel(X, Y)

    @checked(X=_X, y=_PM1, tol=arg.positive())
    def fit(self, X: object, y: object, tol: float = 1e-10, max_iter: int = 100) -> "KernelLogReg":
        """Fit ``beta_`` on training data ``X`` (N, D) with labels ``y`` (N,) in {-1, +1}.

        Newton's method with a backtracking line search. With ``d_n = -y_n sigmoid(-y_n f_n)`` and
        ``W = diag(sigmoid(f)(1 - sigmoid(f)))`` the gradient is ``K ((2 lam/N) beta + d/N)`` and
        the Hessian ``K ((2 lam/N) I + W K / N)``, so the step solves
        ``((2 lam/N) I + W K / N) delta = (2 lam/N) beta + d/N`` (K itself need not be inverted).
        Stops when the gradient's largest entry is below ``tol``.
        """
        K = self.gram(X, X)
        beta = np.zeros(len(y))
        loss, grad = _logistic_objective(beta, K, y, self.lam)
        self.n_iter_ = 0
        with threadpool_limits(limits=1, user_api="blas"):  # multithreaded BLAS crawls on a busy box
            beta, loss = self._newton(K, y, beta, loss, grad, tol, max_iter)
        self.X_, self.beta_, self.objective_ = X, beta, float(loss)
        return self

    def _newton(self, K: np.ndarray, y: np.ndarray, beta: np.ndarray, loss: float, grad: np.ndarray,
                tol: float, max_iter: int) -> tuple[np.ndarray, float]:
        N, c = len(y), 2.0 * self.lam / len(y)
        while np.max(np.abs(grad)) > tol and self.n_iter_ < max_iter:
            f = K @ beta
            p = expit(f)
            rhs = c * beta - y * expit(-y * f) / N
            step = np.linalg.solve(c * np.eye(N) + (p * (1 - p))[:, None] * K / N, rhs)
            t = 1.0
            while True:
                new_loss, new_grad = _logistic_objective(beta - t * step, K, y, self.lam)
                if new_loss <= loss - 1e-4 * t * (grad @ step) or t < 1e-10:
                    break
                t *= 0.5
            beta, loss, grad = beta - t * step, new_loss, new_grad
            self.n_iter_ += 1
        return beta, loss

    @checked(self=arg.fitted("beta_"), X=arg.array(shape=(None, "self.X_.shape[1]")))
    def decision_function(self, X: object) -> np.ndarray:
        """Scores ``f(x) = sum_m beta_m K(x_m, x)`` for the rows of X, shape (M,)."""
        return self.gram(X, self.X_) @ self.beta_

    def predict_proba(self, X: object) -> np.ndarray:
        """``P(y = +1 | x) = sigmoid(f(x))``, shape (M,)."""
        return expit(self.decision_function(X))

    def predict(self, X: object) -> np.ndarray:
        """Labels in {-1, +1}: the sign of the score (0 maps to +1)."""
        return np.where(self.decision_function(X) >= 0, 1, -1)


@checked(X=_X, y=_PM1, lam=arg.positive(), w0=arg.optional(arg.array(shape=("d",))))
def logreg_primal(X: object, y: object, lam: float, gtol: float = 1e-12,
                  w0: object | None = None) -> np.ndarray:
    """Weights of ``min_w (lam/N)|w|^2 + (1/N) sum_n log(1 + exp(-y_n w . x_n))`` (no intercept), by L-BFGS.

    ``w0`` (D,) is the starting point (default: zeros, which keeps every iterate in span(X)).
    """
    N = len(y)
    w0 = np.zeros(X.shape[1]) if w0 is None else w0

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        scores = X @ w
        loss = (lam / N) * w @ w + np.mean(np.logaddexp(0.0, -y * scores))
        return float(loss), (2.0 * lam / N) * w + X.T @ (-y * expit(-y * scores) / N)

    result = minimize(objective, w0, jac=True, method="L-BFGS-B",
                      options={"gtol": gtol, "ftol": 0.0, "maxiter": 5000})
    return result.x


@checked(scores=arg.array(shape=("n >= 2",)), y=_PM1)
def platt_fit(scores: object, y: object) -> tuple[float, float]:
    """Platt scaling: ``(A, B)`` maximizing the likelihood of ``P(y = 1 | s) = sigmoid(A s + B)``.

    ``scores`` (N,) are decision values on data *not* used to train the classifier; ``y`` in {-1, +1}.
    """
    if len(np.unique(y)) < 2:
        raise ValueError("y must contain both classes to fit a sigmoid")

    def objective(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = y * (ab[0] * scores + ab[1])
        g = -y * expit(-z)
        return float(np.sum(np.logaddexp(0.0, -z))), np.array([g @ scores, g.sum()])

    result = minimize(objective, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 0.0})
    return float(result.x[0]), float(result.x[1])

"""Representing distributions over binary vectors: parameter counts, the chain rule, Bayes nets,
Bernoulli naive Bayes and independent pixels, all in numpy / sklearn. (The FVSBN, the logistic
chain rule, lives in :mod:`mlnotes.autoregressive`; image mosaics in :mod:`mlnotes.plotting`.)

Conventions: data ``X`` is an (m, n) array of 0/1 values; log-probabilities are natural logs
(nats) and are summed over the n variables, so ``log_prob`` returns one number per row.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, xlogy


from mlnotes.prob import as_generator
from mlnotes.validate import checked, arg

__all__ = ["param_counts", "bayes_net_param_count", "chain_rule_conditionals",
           "joint_from_conditionals", "fit_markov_chain", "markov_chain_log_likelihood",
           "IndependentBernoulli", "BernoulliNaiveBayes"]


# Argument rules: binary images (m, n) as 0/1 (bools allowed), a smoothing count alpha >= 0.
_BINARY = arg.array(shape=("m", "n"), bool_ok=True, values=(0, 1))
_ALPHA = arg.positive(allow_zero=True)
_FITTED_NB = dict(self=arg.fitted("classes_"), X=arg.array(shape=(None, "self.theta_.shape[1]"), bool_ok=True,
                                                         values=(0, 1)))


def _bernoulli_log_prob(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """sum_j x_j log p_j + (1 - x_j) log(1 - p_j) for each row; 0 log 0 = 0."""
    return (xlogy(X, p) + xlogy(1 - X, 1 - p)).sum(axis=-1)


# ----------------------------------------------------------------------------- parameter counts
@checked(n=arg.int(1, 10 ** 4), n_classes=arg.int(2, 10 ** 4))
def param_counts(n: int, n_classes: int = 10) -> dict[str, int]:
    """Free parameters of each representation of n binary variables (exact Python ints).

    full joint / chain-rule tables ``2^n - 1``; Markov chain ``2n - 1``; Bayes net with at most
    two parents (each variable takes the previous two) ``1 + 2 + 4(n - 2)``; independent ``n``;
    naive Bayes ``(c - 1) + c n``; FVSBN ``n (n + 1) / 2``; logistic regression ``c (n + 1)``.
    """
    c = n_classes
    return {
        "full joint": 2 ** n - 1,
        "Markov chain": 2 * n - 1,
        "Bayes net, 2 parents": bayes_net_param_count([list(range(max(0, i - 2), i)) for i in range(n)]),
        "independent": n,
        "naive Bayes": (c - 1) + c * n,
        "FVSBN": n * (n + 1) // 2,
        "logistic regression": c * (n + 1),
    }


def bayes_net_param_count(parents: list[list[int]]) -> int:
    """``sum_i 2^{|pa(i)|}``: one Bernoulli parameter per configuration of each node's parents.

    ``parents[i]`` lists the parents of node i; they must come earlier (a topological order).
    """
    if not isinstance(parents, (list, tuple)) or not parents:
        raise ValueError("parents must be a non-empty list of parent lists")
    total = 0
    for i, pa in enumerate(parents):
        if not isinstance(pa, (list, tuple)) or any(
                isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < i for j in pa):
            raise ValueError(f"parents[{i}] must list distinct earlier nodes in [0, {i}), got {pa!r}")
        if len(set(pa)) != len(pa):
            raise ValueError(f"parents[{i}] has repeated entries: {pa!r}")
        total += 2 ** len(pa)
    return total


# ----------------------------------------------------------------------------- chain rule
@checked(joint=arg.array(min_ndim=1, low=0))
def chain_rule_conditionals(joint: object) -> list[np.ndarray]:
    """Conditionals ``p(x_i = 1 | x_<i)`` of a joint pmf over n binary variables.

    ``joint`` has shape (2,)*n and sums to 1. Entry i of the result has shape (2,)*i and
    holds ``p(x_i = 1 | x_0..x_{i-1})`` (0.5 where the conditioning event has probability 0),
    i.e. the 1 + 2 + ... + 2^{n-1} = 2^n - 1 numbers of the tabular chain rule.
    """
    P = joint
    if P.shape != (2,) * P.ndim:
        raise ValueError(f"joint must have shape (2,)*n, got {P.shape}")
    if (P < 0).any() or not np.isclose(P.sum(), 1.0, atol=1e-9):
        raise ValueError("joint must be non-negative and sum to 1")
    conds = []
    for i in range(P.ndim):
        marg = P.sum(axis=tuple(range(i + 1, P.ndim)))  # p(x_0..x_i), shape (2,)*(i+1)
        denom = marg.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            conds.append(np.where(denom > 0, marg[..., 1] / np.where(denom > 0, denom, 1), 0.5))
    return conds


def joint_from_conditionals(conds: list[np.ndarray]) -> np.ndarray:
    """Multiply chain-rule conditionals back into the joint pmf, shape (2,)*n."""
    if not isinstance(conds, (list, tuple)) or not conds:
        raise ValueError("conds must be a non-empty list of conditional tables")
    n = len(conds)
    joint = np.ones((2,) * n)
    for i, c in enumerate(conds):
        c = np.asarray(c, dtype=np.float64)
        if c.shape != (2,) * i:
            raise ValueError(f"conds[{i}] must have shape {(2,) * i}, got {c.shape}")
        if ((c < 0) | (c > 1)).any():
            raise ValueError(f"conds[{i}] must hold probabilities in [0, 1]")
        factor = np.stack([1 - c, c], axis=-1).reshape((2,) * (i + 1) + (1,) * (n - i - 1))
        joint = joint * factor
    return joint


# ----------------------------------------------------------------------------- Markov chain BN
@checked(X=_BINARY)
def fit_markov_chain(X: object) -> tuple[float, np.ndarray]:
    """Maximum-likelihood CPTs of the chain x_0 -> x_1 -> ... -> x_{n-1}: normalized counts.

    Returns ``p0 = P(x_0 = 1)`` and ``cpt`` (n - 1, 2) with ``cpt[i - 1, v] = P(x_i = 1 | x_{i-1} = v)``
    (0.5 when ``x_{i-1} = v`` never occurs). 1 + 2(n - 1) = 2n - 1 parameters.
    """
    prev, cur = X[:, :-1], X[:, 1:]
    ones = np.stack([((prev == v) * cur).sum(0) for v in (0, 1)], axis=1)
    totals = np.stack([(prev == v).sum(0) for v in (0, 1)], axis=1)
    cpt = np.where(totals > 0, ones / np.maximum(totals, 1), 0.5)
    return float(X[:, 0].mean()), cpt


@checked(X=_BINARY, p0=arg.probability(), cpt=arg.array(shape=("n - 1", 2), low=0, high=1))
def markov_chain_log_likelihood(X: object, p0: float, cpt: object) -> float:
    """Total log-likelihood (nats) of the rows of X under a chain Bayes net (see :func:`fit_markov_chain`)."""
    p = np.where(X[:, :-1] == 1, cpt[:, 1], cpt[:, 0])  # P(x_i = 1 | parent value), (m, n - 1)
    first = xlogy(X[:, 0], p0) + xlogy(1 - X[:, 0], 1 - p0)
    return float(first.sum() + (xlogy(X[:, 1:], p) + xlogy(1 - X[:, 1:], 1 - p)).sum())


# ----------------------------------------------------------------------------- density models
class IndependentBernoulli:
    """``p(x) = prod_j p_j^{x_j} (1 - p_j)^{1 - x_j}``: n parameters, smoothed by ``alpha``."""

    @checked(alpha=_ALPHA)
    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha
        self.p_: np.ndarray | None = None

    @checked(X=_BINARY)
    def fit(self, X: object) -> "IndependentBernoulli":
        self.p_ = (X.sum(0) + self.alpha) / (X.shape[0] + 2 * self.alpha)
        return self

    @checked(self=arg.fitted("p_"), X=arg.array(shape=(None, "self.p_.size"), bool_ok=True, values=(0, 1)))
    def log_prob(self, X: object) -> np.ndarray:
        """log p(x) in nats for each row, shape (m,)."""
        return _bernoulli_log_prob(X, self.p_)

    @checked(self=arg.fitted("p_"), n_samples=arg.int(1))
    def sample(self, n_samples: int, rng: object) -> np.ndarray:
        p = self.p_
        return (as_generator(rng).random((n_samples, p.size)) < p).astype(np.uint8)


class BernoulliNaiveBayes:
    """``p(x, y) = p(y) prod_j p(x_j | y)`` with Laplace smoothing ``alpha``; (c - 1) + c n parameters.

    ``theta_[c, j] = (count(x_j = 1, y = c) + alpha) / (count(y = c) + 2 alpha)``; the class prior is
    the empirical frequency (as in ``sklearn.naive_bayes.BernoulliNB`` with ``fit_prior=True``).
    """

    @checked(alpha=_ALPHA)
    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha
        self.classes_: np.ndarray | None = None

    @checked(X=_BINARY, y=arg.array(shape=("m",), dtype=None))
    def fit(self, X: object, y: object) -> "BernoulliNaiveBayes":
        self.classes_, idx = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError("y must hold at least two classes")
        counts = np.bincount(idx)
        ones = np.stack([X[idx == c].sum(0) for c in range(self.classes_.size)])
        self.theta_ = (ones + self.alpha) / (counts[:, None] + 2 * self.alpha)
        self.log_prior_ = np.log(counts / counts.sum())
        return self

    def _joint(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            log_t, log_1t = np.log(self.theta_), np.log1p(-self.theta_)
        return self.log_prior_ + X @ log_t.T + (1 - X) @ log_1t.T  # log p(x, y), (m, c)

    @checked(**_FITTED_NB)
    def predict_log_proba(self, X: object) -> np.ndarray:
        """log p(y | x), shape (m, c), columns in the order of ``classes_``."""
        joint = self._joint(X)
        return joint - logsumexp(joint, axis=1, keepdims=True)

    @checked(**_FITTED_NB)
    def predict(self, X: object) -> np.ndarray:
        return self.classes_[np.argmax(self._joint(X), axis=1)]

    @checked(**_FITTED_NB)
    def log_prob(self, X: object) -> np.ndarray:
        """Marginal density log p(x) = logsumexp_y [log p(y) + log p(x | y)], shape (m,)."""
        return logsumexp(self._joint(X), axis=1)

    @checked(self=arg.fitted("classes_"), n_samples=arg.int(1))
    def sample(self, n_samples: int, rng: object, y: object = None) -> np.ndarray:
        """Samples from p(x) (class drawn from the prior) or from p(x | y) when ``y`` is given."""
        rng = as_generator(rng)
        if y is None:
            rows = rng.choice(self.classes_.size, size=n_samples, p=np.exp(self.log_prior_))
        else:
            if y not in self.classes_:
                raise ValueError(f"y must be one of {self.classes_.tolist()}, got {y!r}")
            rows = np.full(n_samples, int(np.flatnonzero(self.classes_ == y)[0]))
        return (rng.random((n_samples, self.theta_.shape[1])) < self.theta_[rows]).astype(np.uint8)

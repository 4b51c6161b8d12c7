"""Autoregressive density models for binary vectors, in torch: FVSBN and NADE.

Both factorize ``p(x) = prod_i p(x_i | x_<i)`` in a fixed order and return Bernoulli logits
for every conditional in one parallel pass ("teacher forcing"); sampling is sequential
(ancestral), optionally with some pixels clamped to known values (inpainting).

* :class:`FVSBN`: ``logit_i = b_i + sum_{j<i} w_ij x_j``, n(n+1)/2 parameters (the strictly
  lower-triangular weights are stored packed, so ``numel`` counts only free parameters).
* :class:`NADE`: ``h_i = sigmoid(c + W[:, :i] x_<i)``, ``logit_i = b_i + V_i . h_i``,
  2nd + n + d parameters; the pre-activations obey ``a_{i+1} = a_i + W[:, i] x_i`` (a cumsum).

Plus :func:`enumerate_binary`, :func:`empirical_pmf`, :func:`tv_distance` for exact checks on
small n, and :func:`fit_density`, a small Adam loop.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlnotes.validate import checked, arg

__all__ = ["enumerate_binary", "empirical_pmf", "tv_distance", "FVSBN", "NADE", "MADE",
           "fit_fvsbn", "fit_density"]


@checked(n=arg.int(1, 20))
def enumerate_binary(n: int) -> torch.Tensor:
    """All 2^n binary vectors as a float64 tensor (2^n, n), row k = binary digits of k (MSB first)."""
    k = torch.arange(2 ** n)
    return ((k[:, None] >> torch.arange(n - 1, -1, -1)) & 1).to(torch.float64)


@checked(K=arg.int(1, 10 ** 7), codes=arg.array(ndim=1, integer=True, low=0, high="K - 1"))
def empirical_pmf(codes: object, K: int) -> np.ndarray:
    """Frequencies of integer codes in ``[0, K)``: shape (K,), sums to 1."""
    return np.bincount(codes, minlength=K) / codes.size


@checked(p=arg.array(shape=("k",), low=0, sums_to=1), q=arg.array(shape=("k",), low=0, sums_to=1))
def tv_distance(p: object, q: object) -> float:
    """Total variation distance ``0.5 * sum |p - q|`` between two pmfs of the same shape."""
    return float(0.5 * np.abs(p - q).sum())


# Binary rows (batch, n) for a model with n variables.
_ROWS = arg.tensor(shape=(None, "self.n"), bool_ok=True, values=(0, 1))


class _Autoregressive(nn.Module):
    """Shared log_prob / sample on top of ``logits(x)`` and ``_step``."""

    n: int

    def logits(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @checked(x=_ROWS)
    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """``p(x_i = 1 | x_<i)`` for every row, shape (batch, n)."""
        return torch.sigmoid(self.logits(x.to(self._dtype())))

    @checked(x=_ROWS)
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats, shape (batch,), via binary cross-entropy on logits (no log of a sigmoid)."""
        logits = self.logits(x.to(self._dtype()))
        return -F.binary_cross_entropy_with_logits(logits, x.to(logits.dtype), reduction="none").sum(1)

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @torch.no_grad()
    @checked(num_samples=arg.int(1), x_known=arg.optional(arg.tensor(shape=("self.n",), bool_ok=True)),
             known_mask=arg.optional(arg.tensor(shape=("self.n",), bool_ok=True)))
    def sample(self, num_samples: int, generator: torch.Generator | None = None,
               x_known: torch.Tensor | None = None, known_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral samples (num_samples, n); pixels where ``known_mask`` is True are set to ``x_known``.

        Conditioning on known pixels this way is exact only for pixels that come first in the
        order (a known prefix); later known pixels are clamped, not conditioned on.
        """
        if (x_known is None) != (known_mask is None):
            raise ValueError("give both x_known and known_mask, or neither")
        if known_mask is not None and known_mask.dtype != torch.bool:
            raise TypeError(f"known_mask must be a bool tensor, got dtype {known_mask.dtype}")
        x = torch.zeros(num_samples, self.n, dtype=self._dtype())
        state = self._init_state(num_samples)
        for i in range(self.n):
            logit, state = self._step(i, x, state)
            xi = (torch.rand(num_samples, generator=generator, dtype=x.dtype) < torch.sigmoid(logit)).to(x.dtype)
            if known_mask is not None and known_mask[i]:
                xi = torch.full_like(xi, float(x_known[i]))
            x[:, i] = xi
            state = self._update(i, x, state)
        return x


class FVSBN(_Autoregressive):
    """Fully visible sigmoid belief net over n binary variables: n(n+1)/2 parameters."""

    @checked(n=arg.int(1, 4096))
    def __init__(self, n: int, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.n = n
        self.register_buffer("_rows", torch.tril_indices(self.n, self.n, -1)[0], persistent=False)
        self.register_buffer("_cols", torch.tril_indices(self.n, self.n, -1)[1], persistent=False)
        self.bias = nn.Parameter(torch.zeros(self.n, dtype=dtype))
        self.packed = nn.Parameter(torch.zeros(self.n * (self.n - 1) // 2, dtype=dtype))

    def weight(self) -> torch.Tensor:
        """The strictly lower-triangular weight matrix (n, n): entry (i, j) weighs x_j in logit_i."""
        W = torch.zeros(self.n, self.n, dtype=self.bias.dtype)
        return W.index_put((self._rows, self._cols), self.packed)

    @torch.no_grad()
    @checked(bias=arg.array(shape=("self.n",)), weight=arg.array(shape=("self.n", "self.n")))
    def set_weights(self, bias: object, weight: object) -> "FVSBN":
        """Copy a bias (n,) and a weight matrix (n, n) (only its strict lower triangle is used)."""
        self.bias.copy_(torch.from_numpy(bias))
        self.packed.copy_(torch.from_numpy(weight)[self._rows, self._cols])
        return self

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias + x @ self.weight().T

    def _init_state(self, num_samples: int):
        return self.weight()

    def _step(self, i: int, x: torch.Tensor, W: torch.Tensor):
        return self.bias[i] + x[:, :i] @ W[i, :i], W

    def _update(self, i: int, x: torch.Tensor, W: torch.Tensor):
        return W


class NADE(_Autoregressive):
    """Neural autoregressive distribution estimator with d hidden units: 2nd + n + d parameters."""

    @checked(n=arg.int(1, 4096), d=arg.int(1, 4096), seed=arg.seed())
    def __init__(self, n: int, d: int, seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.n, self.d = n, d
        gen = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(self.d, self.n, generator=gen, dtype=dtype) / np.sqrt(self.n))
        self.c = nn.Parameter(torch.zeros(self.d, dtype=dtype))
        self.V = nn.Parameter(torch.randn(self.n, self.d, generator=gen, dtype=dtype) / np.sqrt(self.d))
        self.b = nn.Parameter(torch.zeros(self.n, dtype=dtype))

    @checked(x=arg.tensor(shape=(None, "self.n")))
    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """``a_i = c + W[:, :i] x_<i`` for all i at once, (batch, n, d): an exclusive cumsum of W[:, j] x_j."""
        contrib = x[:, :, None] * self.W.T[None]  # (batch, n, d): W[:, j] x_j
        return self.c + torch.cumsum(contrib, dim=1) - contrib

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sigmoid(self.preactivations(x))
        return self.b + (h * self.V).sum(-1)

    @checked(x=_ROWS)
    def logits_naive(self, x: torch.Tensor) -> torch.Tensor:
        """The same logits recomputed from scratch for every i with a mask (O(n^2 d)); for checking."""
        x = x.to(self.W.dtype)
        out = []
        for i in range(self.n):
            mask = (torch.arange(self.n) < i).to(x.dtype)
            h = torch.sigmoid(self.c + (x * mask) @ self.W.T)
            out.append(self.b[i] + h @ self.V[i])
        return torch.stack(out, dim=1)

    def _init_state(self, num_samples: int):
        return self.c.expand(num_samples, self.d).clone()

    def _step(self, i: int, x: torch.Tensor, a: torch.Tensor):
        return self.b[i] + torch.sigmoid(a) @ self.V[i], a

    def _update(self, i: int, x: torch.Tensor, a: torch.Tensor):
        return a + x[:, i:i + 1] * self.W[:, i]


# region: made
class MADE(_Autoregressive):
    """Masked autoencoder for distribution estimation: an MLP ``n -> hidden -> n`` whose weight
    matrices are multiplied by 0/1 masks so that output logit ``i`` sees only inputs ``< i``.

    Input ``j`` gets degree ``j + 1``; hidden unit ``k`` a degree ``m_k`` in ``[1, n - 1]``; a
    hidden unit may see input ``j`` when ``m_k >= j + 1``, and output ``i`` may see hidden unit
    ``k`` when ``i + 1 > m_k``. Every path from input ``j`` to output ``i`` then has
    ``j < i``: one forward pass gives all n conditionals.
    """

    @checked(n=arg.int(2, 4096), hidden=arg.int(1, 4096), seed=arg.seed())
    def __init__(self, n: int, hidden: int, seed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.n = n
        gen = torch.Generator().manual_seed(seed)
        degrees = torch.randint(1, self.n, (hidden,), generator=gen)      # (hidden,) in [1, n-1]
        inputs = torch.arange(1, self.n + 1)                               # (n,) degrees 1..n
        self.register_buffer("mask_in", (degrees[:, None] >= inputs[None]).to(dtype))
        self.register_buffer("mask_out", (inputs[:, None] > degrees[None]).to(dtype))
        torch.manual_seed(seed)
        self.hidden_layer = nn.Linear(self.n, hidden).to(dtype)
        self.output_layer = nn.Linear(hidden, self.n).to(dtype)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(F.linear(x, self.hidden_layer.weight * self.mask_in,
                                self.hidden_layer.bias))                   # (B, hidden)
        return F.linear(h, self.output_layer.weight * self.mask_out,
                        self.output_layer.bias)                            # (B, n)

    def effective_params(self) -> int:
        """Parameters that can be non-zero: unmasked weights plus biases."""
        return int(self.mask_in.sum() + self.mask_out.sum()) + self.hidden_layer.bias.numel() \
            + self.output_layer.bias.numel()

    def _init_state(self, num_samples: int):
        return None

    def _step(self, i: int, x: torch.Tensor, state):
        return self.logits(x)[:, i], state                                 # one full pass

    def _update(self, i: int, x: torch.Tensor, state):
        return state
# endregion


@checked(X=arg.array(ndim=2, low=0, high=1), C=arg.positive(), alpha=arg.positive())
def fit_fvsbn(X: np.ndarray, C: float = 1.0, alpha: float = 1.0) -> FVSBN:
    """Maximum likelihood for an FVSBN over the columns of binary ``X`` (m, n), in column order.

    The log-likelihood decouples into one logistic regression per variable (sklearn, L2 with
    inverse strength ``C``); a variable constant in the data (or the first one) gets a
    Bernoulli with Laplace smoothing ``alpha``. For another order, pass ``X[:, order]``.
    """
    from sklearn.linear_model import LogisticRegression

    m, n = X.shape
    bias, weight = np.zeros(n), np.zeros((n, n))
    for i in range(n):
        target = X[:, i]
        if i == 0 or target.min() == target.max():
            p = (target.sum() + alpha) / (m + 2 * alpha)
            bias[i] = np.log(p / (1 - p))
            continue
        lr = LogisticRegression(C=C, max_iter=1000).fit(X[:, :i], target)
        bias[i], weight[i, :i] = lr.intercept_[0], lr.coef_[0]
    return FVSBN(n).set_weights(bias, weight)


@checked(X=arg.tensor(shape=(None, "model.n"), bool_ok=True, values=(0, 1)),
         X_eval=arg.optional(arg.tensor(shape=(None, "model.n"), bool_ok=True, values=(0, 1))),
         steps=arg.int(1, 10 ** 6), batch_size=arg.int(1, 10 ** 6), lr=arg.positive(),
         weight_decay=arg.positive(allow_zero=True), eval_every=arg.int(1, 10 ** 6), seed=arg.seed())
def fit_density(model: _Autoregressive, X: torch.Tensor, steps: int, lr: float = 1e-2, batch_size: int = 128,
                seed: int = 0, weight_decay: float = 0.0, X_eval: torch.Tensor | None = None,
                eval_every: int = 50) -> dict[str, list[float]]:
    """Maximum likelihood with Adam on minibatches: minimizes mean NLL (nats per row).

    Returns ``{"step": [...], "train_nll": [...], "eval_nll": [...]}`` recorded every ``eval_every``
    steps (``eval_nll`` only when ``X_eval`` is given).
    """
    if not isinstance(model, _Autoregressive):
        raise TypeError(f"model must be an FVSBN, NADE or MADE, got {type(model).__name__}")
    X = X.to(model._dtype())
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history: dict[str, list[float]] = {"step": [], "train_nll": [], "eval_nll": []}
    for step in range(1, steps + 1):
        idx = torch.randint(0, X.shape[0], (min(batch_size, X.shape[0]),), generator=gen)
        loss = -model.log_prob(X[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                history["step"].append(step)
                history["train_nll"].append(-model.log_prob(X).mean().item())
                if X_eval is not None:
                    history["eval_nll"].append(-model.log_prob(X_eval.to(X.dtype)).mean().item())
    return history

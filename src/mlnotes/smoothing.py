"""Smooth stand-ins for non-differentiable functions: max, argmax, top-k, accuracy and F1.

The stable log-sum-exp and
softmax come from :mod:`mlnotes.prob`; this module builds on them:

- ``smooth_max``      tau * log sum exp(x / tau), the smooth maximum, within tau*log(n) of max(x)
- ``soft_argmax``     sum_i i * softmax(x / tau)_i, the smooth index of the maximum
- ``soft_k_max``      Su's iterative soft top-k indicator (sums to k, tends to multi-hot top-k)
- ``weighted_softmax_topk``  a tempting but wrong recursion, kept to show why it fails
- ``threshold_topk``  sigmoid((x - t) / tau) with t chosen so the entries sum to k
- ``soft_accuracy`` / ``soft_f1``  differentiable metric surrogates (numpy arrays or torch tensors)
- ``softmax_regression_history`` / ``finetune_soft_f1``  the two small training experiments
- ``draw_soft_topk``  the explorer's figure: softmax and soft top-k of one vector at one temperature
"""

from __future__ import annotations

import numpy as np

from mlnotes.prob import logsumexp, softmax
from mlnotes.validate import arg, checked

__all__ = ["smooth_max", "soft_argmax", "soft_k_max", "weighted_softmax_topk", "threshold_topk",
           "soft_accuracy", "soft_f1", "softmax_regression_history", "finetune_soft_f1",
           "draw_soft_topk"]


@checked(x=arg.array(min_ndim=1), tau=arg.positive(), axis=arg.int(low="-x.ndim", high="x.ndim - 1"))
def smooth_max(x: object, tau: float = 1.0, axis: int = -1) -> np.ndarray:
    """Smooth maximum ``tau * log(sum_i exp(x_i / tau))`` along ``axis``.

    Bounds: ``max(x) <= smooth_max(x, tau) <= max(x) + tau * log(n)``, so the error vanishes as
    ``tau -> 0``. Its gradient with respect to ``x`` is ``softmax(x / tau)``. Delegates to
    :func:`mlnotes.prob.logsumexp`, which shifts by the maximum so nothing overflows.
    """
    a = x
    return logsumexp(np.moveaxis(a, axis, -1), axis=-1, tau=tau)   # (...) without `axis`


@checked(x=arg.array(min_ndim=1), tau=arg.positive())
def soft_argmax(x: object, tau: float = 1.0) -> np.ndarray:
    """Smooth index of the maximum: ``sum_i i * softmax(x / tau)_i`` over the last axis.

    ``x`` has shape ``(..., n)``; the result has shape ``(...)`` and lies in ``[0, n - 1]``.
    Tends to ``argmax(x)`` as ``tau -> 0`` when the maximum is unique.
    """
    a = x           # (..., n)
    return softmax(a, axis=-1, tau=tau) @ np.arange(a.shape[-1], dtype=np.float64)


@checked(x=arg.array(min_ndim=1), k=arg.int(low=1, high="x.shape[-1]"), tau=arg.positive())
def soft_k_max(x: object, k: int, tau: float = 1.0) -> np.ndarray:
    """Su's soft top-k indicator of a vector (2019), shape ``(..., n)`` -> ``(..., n)``.

    Shift ``x`` so its minimum is 0, set ``p = softmax(x / tau)``, then ``k - 1`` times:
    ``y = (1 - p) * x`` (entries already chosen, ``p ~ 1``, drop to about 0, the smallest value)
    and ``p <- p + softmax(y / tau)``. Every row sums to ``k``; as ``tau -> 0`` the result tends
    to the multi-hot indicator of the ``k`` largest entries. A heuristic: entries may exceed 1
    slightly at moderate ``tau``. With ``k == n`` it returns all ones.
    """
    a = x           # (..., n)
    if k == a.shape[-1]:
        return np.ones_like(a)
    a = a - a.min(axis=-1, keepdims=True)
    p = softmax(a, axis=-1, tau=tau)
    for _ in range(k - 1):
        p = p + softmax((1.0 - p) * a, axis=-1, tau=tau)
    return p


@checked(x=arg.array(min_ndim=1), k=arg.int(low=1, high="x.shape[-1]"), tau=arg.positive())
def weighted_softmax_topk(x: object, k: int, tau: float = 1.0) -> np.ndarray:
    """The *flawed* recursion ``p <- p + softmax_w(x / tau)`` with weights ``w = 1 - p``.

    ``softmax_w(z)_i = w_i exp(z_i) / sum_j w_j exp(z_j)``. It also sums to ``k``, but as
    ``tau -> 0`` the top entry keeps a weight ``1 - p_1 ~ exp(-(x_1 - x_2) / tau)`` that exactly
    cancels its exponential advantage, so for ``k = 2`` the limit is ``1.5, 0.5`` on the top two
    entries instead of ``1, 1``. Kept to show why the masking must act inside the exponent.
    """
    a = x           # (..., n)
    p = softmax(a, axis=-1, tau=tau)
    # log(1 - p) after the first step, computed exactly: 1 - p_i = sum_{j != i} p_j
    n = a.shape[-1]
    z = np.broadcast_to(a[..., None, :] / tau, a.shape + (n,)).copy()
    z[..., np.arange(n), np.arange(n)] = -np.inf
    log_q = (logsumexp(z, axis=-1) - logsumexp(a, axis=-1, tau=tau)[..., None]) if n > 1 else np.full_like(a, -np.inf)
    for step in range(k - 1):
        if step > 0:
            with np.errstate(divide="ignore"):
                log_q = np.log(np.clip(1.0 - p, 0.0, None))
        logits = np.where(np.isfinite(log_q), log_q + a / tau, -np.inf)
        m = logits.max(axis=-1, keepdims=True)
        e = np.exp(logits - m)
        p = p + e / e.sum(axis=-1, keepdims=True)
    return p


@checked(x=arg.array(min_ndim=1), k=arg.int(low=1, high="x.shape[-1] - 1"), tau=arg.positive(),
         num_iters=arg.count(high=10_000))
def threshold_topk(x: object, k: int, tau: float = 1.0, num_iters: int = 100) -> np.ndarray:
    """Soft top-k by a shifted sigmoid: ``sigmoid((x - t) / tau)`` with ``t`` set so rows sum to ``k``.

    ``t`` is found by bisection (the sum is decreasing in ``t``). Every entry stays in ``(0, 1)``
    and, when the k-th and (k+1)-th largest differ, the result tends to the top-k indicator as
    ``tau -> 0``. Shape ``(..., n)`` -> ``(..., n)``; ``1 <= k < n``.
    """
    a = x           # (..., n)
    # k < n (the rule on k): every sigmoid is < 1

    def total(t: np.ndarray) -> np.ndarray:
        z = np.clip((a - t) / tau, -700, 700)
        return (1.0 / (1.0 + np.exp(-z))).sum(axis=-1, keepdims=True)

    lo = a.min(axis=-1, keepdims=True) - 50 * tau
    hi = a.max(axis=-1, keepdims=True) + 50 * tau
    for _ in range(num_iters):
        mid = 0.5 * (lo + hi)
        too_big = total(mid) > k
        lo, hi = np.where(too_big, mid, lo), np.where(too_big, hi, mid)
    z = np.clip((a - 0.5 * (lo + hi)) / tau, -700, 700)
    return 1.0 / (1.0 + np.exp(-z))


def _is_tensor(x: object) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _numpy(x: object) -> np.ndarray:
    """A checked array or tensor as a numpy array (for index arithmetic, not for autograd)."""
    return x.detach().cpu().numpy() if _is_tensor(x) else np.asarray(x)


@checked(probs=arg.array(shape=("N", "C"), low=0.0, high=1.0, torch_ok=True),
         y=arg.array(shape=("N",), integer=True, low=0, high="C - 1", torch_ok=True))
def soft_accuracy(probs: object, y: object):
    """Mean probability of the true class: ``(1/N) sum_n probs[n, y_n]``.

    ``probs`` has shape ``(N, C)`` (rows are class probabilities), ``y`` integer labels of
    shape ``(N,)``. With one-hot ``probs`` this is exactly the accuracy of ``argmax``.
    Accepts numpy arrays or torch tensors (the result is a differentiable tensor then).
    """
    rows, labels = np.arange(len(y)), _numpy(y)
    if _is_tensor(probs):
        import torch
        return probs[torch.as_tensor(rows), torch.as_tensor(labels)].mean()
    return float(probs[rows, labels].mean())


@checked(p=arg.array(shape=("N",), low=0.0, high=1.0, torch_ok=True),
         t=arg.array(shape=("N",), values=(0, 1), torch_ok=True))
def soft_f1(p: object, t: object):
    """Batch-level soft F1 for binary labels: ``2 sum(t * p) / sum(t + p)``.

    ``p`` are predicted probabilities of the positive class, ``t`` the 0/1 targets, both of
    shape ``(N,)``. With 0/1 predictions it equals ``2TP / (2TP + FP + FN)``, the F1 score.
    It is a ratio over the whole batch, not a mean of per-example terms. Accepts numpy arrays
    or torch tensors (autograd flows through ``p``).
    """
    p_values, t_values = _numpy(p), _numpy(t)
    if p_values.sum() + t_values.sum() == 0:
        raise ValueError("soft F1 is undefined when there are no positives in t and no predicted positives in p")
    if _is_tensor(p) and not _is_tensor(t):
        import torch
        t = torch.as_tensor(t_values, dtype=p.dtype)
    elif _is_tensor(t) and not _is_tensor(p):
        t = t_values
    result = 2 * (t * p).sum() / (t + p).sum()
    return result if _is_tensor(result) else float(result)


@checked(X=arg.array(shape=("N", "D")), y=arg.array(shape=("N",), integer=True, low=0, high=10_000),
         X_test=arg.array(shape=("M", "D")), y_test=arg.array(shape=("M",), integer=True, low=0, high=10_000),
         seed=arg.seed(), lr=arg.positive(), num_epochs=arg.count(high=10_000), batch_size=arg.count(high=10**6))
def softmax_regression_history(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                               lr: float = 0.5, num_epochs: int = 30, batch_size: int = 32,
                               seed: int = 0) -> dict[str, np.ndarray]:
    """Train softmax regression by minibatch SGD on cross-entropy; record test metrics per epoch.

    ``X`` is ``(N, d)``, ``y`` integer labels ``(N,)``. Returns arrays of length
    ``num_epochs + 1`` (epoch 0 is the zero initialisation): ``"ce"`` test cross-entropy,
    ``"acc"`` test accuracy of argmax, ``"soft_acc"`` test mean true-class probability.
    """
    rng = np.random.default_rng(seed)
    num_classes = int(max(y.max(), y_test.max())) + 1
    W, b = np.zeros((X.shape[1], num_classes)), np.zeros(num_classes)
    history: dict[str, list[float]] = {"ce": [], "acc": [], "soft_acc": []}

    def record() -> None:
        logits = X_test @ W + b
        probs = softmax(logits)
        history["ce"].append(float(np.mean(logsumexp(logits) - logits[np.arange(len(y_test)), y_test])))
        history["acc"].append(float(np.mean(logits.argmax(axis=1) == y_test)))
        history["soft_acc"].append(soft_accuracy(probs, y_test))

    record()
    for _ in range(num_epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            probs = softmax(X[idx] @ W + b)
            probs[np.arange(len(idx)), y[idx]] -= 1.0  # d CE / d logits
            W -= lr * X[idx].T @ probs / len(idx)
            b -= lr * probs.mean(axis=0)
        record()
    return {name: np.array(values) for name, values in history.items()}


@checked(X=arg.array(shape=("N", "D")), t=arg.array(shape=("N",), values=(0, 1)), w0=arg.array(shape=("D",)),
         b0=arg.real(), lr=arg.positive(), num_steps=arg.count(high=10**5))
def finetune_soft_f1(X: np.ndarray, t: np.ndarray, w0: np.ndarray, b0: float, lr: float = 0.01,
                     num_steps: int = 300) -> tuple[np.ndarray, float]:
    """Fine-tune a logistic model ``p = sigmoid(X @ w + b)`` with Adam on ``-soft_f1(p, t)``.

    Full batch, starting from ``(w0, b0)`` (e.g. a cross-entropy fit). ``X`` is ``(N, d)``,
    ``t`` 0/1 targets ``(N,)``. Returns the new ``(w, b)``. Deterministic (no sampling).
    """
    import torch

    X_t = torch.as_tensor(X)
    t_t = torch.as_tensor(t)
    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(float(b0), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    for _ in range(num_steps):
        opt.zero_grad()
        p = torch.sigmoid(X_t @ w + b)
        loss = -2 * (t_t * p).sum() / (t_t + p).sum()  # -soft_f1(p, t), without per-step validation
        loss.backward()
        opt.step()
    return w.detach().numpy().copy(), float(b.detach())


@checked(x=arg.array(ndim=1), tau=arg.positive(), k=arg.int(low=1, high="len(x)"))
def draw_soft_topk(x: object, tau: float, k: int):
    """Two panels for one vector ``x`` (n,) at temperature ``tau``, as a figure.

    Top: ``softmax(x / tau)`` (bars) against the one-hot of the argmax (black dashes), titled
    with the smooth maximum against ``max(x)`` and the soft-argmax against the argmax.
    Bottom: :func:`soft_k_max` (bars) against the hard top-``k`` indicator (black dashes).
    """
    from mlnotes.plotting import COLORS, new_figure

    n, entries = len(x), np.arange(len(x))
    hard_k = np.zeros(n)
    hard_k[np.argsort(-x)[:k]] = 1                                                    # (n,)
    fig, (ax0, ax1) = new_figure(nrows=2, width=6, height=3.8, sharex=True)
    ax0.bar(entries, softmax(x, tau=tau), color=COLORS[0])
    ax0.plot(entries, np.eye(n)[x.argmax()], "k_", ms=14, mew=2)
    ax0.set(ylabel=r"softmax$(x / \tau)$", ylim=(0, 1.05))
    ax0.set_title(f"smax {smooth_max(x, tau):.3f} vs max {x.max():.3f} | "
                  f"soft-argmax {soft_argmax(x, tau):.2f} vs argmax {x.argmax()}", fontsize=9)
    ax1.bar(entries, soft_k_max(x, k, tau), color=COLORS[1])
    ax1.plot(entries, hard_k, "k_", ms=14, mew=2)
    ax1.set(xlabel="entry $i$", ylabel=f"soft top-${k}$", ylim=(0, 1.15))
    return fig

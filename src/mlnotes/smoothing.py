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
"""

from __future__ import annotations

import numpy as np

from mlnotes.core import check_seed
from mlnotes.prob import logsumexp, softmax

__all__ = ["smooth_max", "soft_argmax", "soft_k_max", "weighted_softmax_topk", "threshold_topk",
           "soft_accuracy", "soft_f1", "softmax_regression_history", "finetune_soft_f1"]


def _check_tau(tau: object) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float, np.floating, np.integer)):
        raise TypeError(f"temperature tau must be a number, got {type(tau).__name__}")
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"temperature tau must be finite and > 0, got {tau}")
    return float(tau)


def _check_vector_batch(x: object, name: str = "x") -> np.ndarray:
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one entry along its last axis, got shape {array.shape}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array


def _check_k(k: object, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, n={n}], got {k}")
    return int(k)


def smooth_max(x: object, tau: float = 1.0, axis: int = -1) -> np.ndarray:
    """Smooth maximum ``tau * log(sum_i exp(x_i / tau))`` along ``axis``.

    Bounds: ``max(x) <= smooth_max(x, tau) <= max(x) + tau * log(n)``, so the error vanishes as
    ``tau -> 0``. Its gradient with respect to ``x`` is ``softmax(x / tau)``. Delegates to
    :func:`mlnotes.prob.logsumexp`, which shifts by the maximum so nothing overflows.
    """
    tau = _check_tau(tau)
    a = np.asarray(x)
    if a.ndim == 0:
        raise ValueError("x must have at least one axis, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, int) or not -a.ndim <= axis < a.ndim:
        raise ValueError(f"axis must be an int in [-{a.ndim}, {a.ndim}), got {axis!r}")
    a = _check_vector_batch(np.moveaxis(a, axis, -1))
    return logsumexp(a, axis=-1, tau=tau)


def soft_argmax(x: object, tau: float = 1.0) -> np.ndarray:
    """Smooth index of the maximum: ``sum_i i * softmax(x / tau)_i`` over the last axis.

    ``x`` has shape ``(..., n)``; the result has shape ``(...)`` and lies in ``[0, n - 1]``.
    Tends to ``argmax(x)`` as ``tau -> 0`` when the maximum is unique.
    """
    tau = _check_tau(tau)
    a = _check_vector_batch(x)
    return softmax(a, axis=-1, tau=tau) @ np.arange(a.shape[-1], dtype=np.float64)


def soft_k_max(x: object, k: int, tau: float = 1.0) -> np.ndarray:
    """Su's soft top-k indicator of a vector (2019), shape ``(..., n)`` -> ``(..., n)``.

    Shift ``x`` so its minimum is 0, set ``p = softmax(x / tau)``, then ``k - 1`` times:
    ``y = (1 - p) * x`` (entries already chosen, ``p ~ 1``, drop to about 0, the smallest value)
    and ``p <- p + softmax(y / tau)``. Every row sums to ``k``; as ``tau -> 0`` the result tends
    to the multi-hot indicator of the ``k`` largest entries. A heuristic: entries may exceed 1
    slightly at moderate ``tau``. With ``k == n`` it returns all ones.
    """
    tau = _check_tau(tau)
    a = _check_vector_batch(x)
    k = _check_k(k, a.shape[-1])
    if k == a.shape[-1]:
        return np.ones_like(a)
    a = a - a.min(axis=-1, keepdims=True)
    p = softmax(a, axis=-1, tau=tau)
    for _ in range(k - 1):
        p = p + softmax((1.0 - p) * a, axis=-1, tau=tau)
    return p


def weighted_softmax_topk(x: object, k: int, tau: float = 1.0) -> np.ndarray:
    """The *flawed* recursion ``p <- p + softmax_w(x / tau)`` with weights ``w = 1 - p``.

    ``softmax_w(z)_i = w_i exp(z_i) / sum_j w_j exp(z_j)``. It also sums to ``k``, but as
    ``tau -> 0`` the top entry keeps a weight ``1 - p_1 ~ exp(-(x_1 - x_2) / tau)`` that exactly
    cancels its exponential advantage, so for ``k = 2`` the limit is ``1.5, 0.5`` on the top two
    entries instead of ``1, 1``. Kept to show why the masking must act inside the exponent.
    """
    tau = _check_tau(tau)
    a = _check_vector_batch(x)
    k = _check_k(k, a.shape[-1])
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


def threshold_topk(x: object, k: int, tau: float = 1.0, num_iters: int = 100) -> np.ndarray:
    """Soft top-k by a shifted sigmoid: ``sigmoid((x - t) / tau)`` with ``t`` set so rows sum to ``k``.

    ``t`` is found by bisection (the sum is decreasing in ``t``). Every entry stays in ``(0, 1)``
    and, when the k-th and (k+1)-th largest differ, the result tends to the top-k indicator as
    ``tau -> 0``. Shape ``(..., n)`` -> ``(..., n)``; ``1 <= k < n``.
    """
    tau = _check_tau(tau)
    a = _check_vector_batch(x)
    n = a.shape[-1]
    k = _check_k(k, n)
    if k == n:
        raise ValueError(f"threshold_topk needs k < n={n} (every sigmoid is < 1), got k={k}")
    if isinstance(num_iters, bool) or not isinstance(num_iters, int) or num_iters < 1:
        raise ValueError(f"num_iters must be a positive int, got {num_iters!r}")

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


def _check_metric_input(x: object, name: str):
    """Return x as a float numpy array, or the torch tensor itself (so autograd flows)."""
    if _is_tensor(x):
        if not x.is_floating_point():
            x = x.double()
        values = x.detach().cpu().numpy()
    else:
        x = _check_vector_batch(x, name) if np.ndim(x) else np.asarray(x, dtype=float)
        values = x
    if values.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x, values


def soft_accuracy(probs: object, y: object):
    """Mean probability of the true class: ``(1/N) sum_n probs[n, y_n]``.

    ``probs`` has shape ``(N, C)`` (rows are class probabilities), ``y`` integer labels of
    shape ``(N,)``. With one-hot ``probs`` this is exactly the accuracy of ``argmax``.
    Accepts numpy arrays or torch tensors (the result is a differentiable tensor then).
    """
    probs, values = _check_metric_input(probs, "probs")
    if values.ndim != 2:
        raise ValueError(f"probs must have shape (N, C), got {values.shape}")
    labels = np.asarray(y.detach().cpu().numpy() if _is_tensor(y) else y)
    if labels.shape != (values.shape[0],):
        raise ValueError(f"y must have shape (N,)=({values.shape[0]},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= values.shape[1]:
        raise ValueError(f"labels must be in [0, C={values.shape[1]}), got range [{labels.min()}, {labels.max()}]")
    if values.min() < 0 or values.max() > 1:
        raise ValueError("probs must lie in [0, 1]")
    rows = np.arange(values.shape[0])
    if _is_tensor(probs):
        import torch
        return probs[torch.as_tensor(rows), torch.as_tensor(labels)].mean()
    return float(probs[rows, labels].mean())


def soft_f1(p: object, t: object):
    """Batch-level soft F1 for binary labels: ``2 sum(t * p) / sum(t + p)``.

    ``p`` are predicted probabilities of the positive class, ``t`` the 0/1 targets, both of
    shape ``(N,)``. With 0/1 predictions it equals ``2TP / (2TP + FP + FN)``, the F1 score.
    It is a ratio over the whole batch, not a mean of per-example terms. Accepts numpy arrays
    or torch tensors (autograd flows through ``p``).
    """
    p, p_values = _check_metric_input(p, "p")
    t, t_values = _check_metric_input(t, "t")
    if p_values.ndim != 1 or p_values.shape != t_values.shape:
        raise ValueError(f"p and t must be 1-D of equal length, got {p_values.shape} and {t_values.shape}")
    if p_values.min() < 0 or p_values.max() > 1:
        raise ValueError("p must lie in [0, 1]")
    if not np.all((t_values == 0) | (t_values == 1)):
        raise ValueError("t must hold 0/1 targets")
    if p_values.sum() + t_values.sum() == 0:
        raise ValueError("soft F1 is undefined when there are no positives and no predicted positives")
    if _is_tensor(p) and not _is_tensor(t):
        import torch
        t = torch.as_tensor(t_values, dtype=p.dtype)
    result = 2 * (t * p).sum() / (t + p).sum()
    return result if _is_tensor(result) else float(result)


def softmax_regression_history(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                               lr: float = 0.5, num_epochs: int = 30, batch_size: int = 32,
                               seed: int = 0) -> dict[str, np.ndarray]:
    """Train softmax regression by minibatch SGD on cross-entropy; record test metrics per epoch.

    ``X`` is ``(N, d)``, ``y`` integer labels ``(N,)``. Returns arrays of length
    ``num_epochs + 1`` (epoch 0 is the zero initialisation): ``"ce"`` test cross-entropy,
    ``"acc"`` test accuracy of argmax, ``"soft_acc"`` test mean true-class probability.
    """
    seed = check_seed(seed)
    X, X_test = _check_vector_batch(X, "X"), _check_vector_batch(X_test, "X_test")
    y, y_test = np.asarray(y), np.asarray(y_test)
    if X.ndim != 2 or X_test.ndim != 2 or X.shape[1] != X_test.shape[1]:
        raise ValueError(f"X and X_test must be (N, d) with equal d, got {X.shape} and {X_test.shape}")
    if y.shape != (len(X),) or y_test.shape != (len(X_test),):
        raise ValueError("y and y_test must be 1-D label vectors matching X and X_test")
    if not (np.issubdtype(y.dtype, np.integer) and np.issubdtype(y_test.dtype, np.integer)):
        raise TypeError("labels must be integers")
    if not lr > 0 or num_epochs < 1 or batch_size < 1:
        raise ValueError(f"need lr > 0, num_epochs >= 1, batch_size >= 1; got {lr}, {num_epochs}, {batch_size}")
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


def finetune_soft_f1(X: np.ndarray, t: np.ndarray, w0: np.ndarray, b0: float, lr: float = 0.01,
                     num_steps: int = 300) -> tuple[np.ndarray, float]:
    """Fine-tune a logistic model ``p = sigmoid(X @ w + b)`` with Adam on ``-soft_f1(p, t)``.

    Full batch, starting from ``(w0, b0)`` (e.g. a cross-entropy fit). ``X`` is ``(N, d)``,
    ``t`` 0/1 targets ``(N,)``. Returns the new ``(w, b)``. Deterministic (no sampling).
    """
    import torch

    X = _check_vector_batch(X, "X")
    w0 = _check_vector_batch(w0, "w0")
    if X.ndim != 2 or w0.shape != (X.shape[1],):
        raise ValueError(f"X must be (N, d) and w0 (d,), got {X.shape} and {w0.shape}")
    if not (lr > 0 and isinstance(num_steps, int) and num_steps >= 1):
        raise ValueError(f"need lr > 0 and an int num_steps >= 1, got {lr}, {num_steps!r}")
    X_t = torch.as_tensor(X)
    t_t = torch.as_tensor(np.asarray(t, dtype=np.float64))
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

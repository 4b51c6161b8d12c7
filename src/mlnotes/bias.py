"""The bias term: thresholds, augmented features, homogeneity, and bias initialisation.

Holds:

- ``threshold_unit`` and ``augment``: a bias is minus a threshold, and a weight on a constant 1;
- ``sigmoid_neuron`` / ``sigmoid_midpoint``: ``b`` shifts a sigmoid, ``w`` sets its slope;
- ``make_mlp`` / ``fit_mlp``: small float64 ReLU MLPs with or without biases (torch);
- ``homogeneous_best_fit``: the best a bias-free ReLU network can do in 1-D (a lower bound);
- ``prior_logit``, ``binary_entropy``, ``mean_bce_with_logits``: output-bias initialisation;
- ``plot_decision_boundary``: filled decision regions of any 2-D classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mlnotes.core import check_seed


def _as_matrix(X: object, name: str = "X") -> np.ndarray:
    array = np.asarray(X)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row")
    array = array.astype(np.float64)
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN")
    return array


def _as_vector(x: object, name: str) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    array = array.astype(np.float64)
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN")
    return array


def _check_real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def augment(X: object) -> np.ndarray:
    """Append a constant-1 column: ``(n, d) -> (n, d + 1)``, so ``[x, 1] . [w, b] = w.x + b``."""
    X = _as_matrix(X)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def threshold_unit(X: object, w: object, T: float) -> np.ndarray:
    """McCulloch-Pitts unit: ``1[w . x >= T]`` for each row of ``X`` (n, d); returns int (n,)."""
    X = _as_matrix(X)
    w = _as_vector(w, "w")
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w has length {w.shape[0]} but X has {X.shape[1]} columns")
    T = _check_real(T, "T")
    return (X @ w >= T).astype(np.int64)


def sigmoid_neuron(x: object, w: float, b: float) -> np.ndarray:
    """``sigma(w x + b) = 1 / (1 + exp(-(w x + b)))`` elementwise for a 1-D input ``x`` (n,)."""
    x = _as_vector(x, "x")
    z = _check_real(w, "w") * x + _check_real(b, "b")
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def sigmoid_midpoint(w: float, b: float) -> float:
    """Where ``sigma(w x + b) = 1/2``: ``x = -b / w`` (needs ``w != 0``)."""
    w, b = _check_real(w, "w"), _check_real(b, "b")
    if w == 0:
        raise ValueError("w must be non-zero: with w = 0 the sigmoid is constant and has no midpoint")
    return -b / w


def make_mlp(widths: Sequence[int], bias: bool = True, seed: int = 0):
    """A float64 ReLU MLP ``Linear -> ReLU -> ... -> Linear`` with layer sizes ``widths``.

    ``widths = [1, 32, 32, 1]`` gives two hidden layers of 32 units. ``bias=False`` removes
    every additive term, which makes the network positively homogeneous:
    ``f(alpha x) = alpha f(x)`` for ``alpha > 0``.
    """
    import torch
    from torch import nn

    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"widths must be a sequence of ints, got {type(widths).__name__}")
    if len(widths) < 2:
        raise ValueError(f"widths needs at least an input and an output size, got {list(widths)}")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in widths):
        raise ValueError(f"widths must be positive ints, got {list(widths)}")
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    generator_seed = check_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(generator_seed)
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(int(d_in), int(d_out), bias=bias, dtype=torch.float64))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)


def fit_mlp(model, x: object, y: object, num_epochs: int = 600, lr: float = 0.01) -> list[float]:
    """Full-batch Adam on the mean squared error of a 1-D regression; returns the loss per step.

    ``x`` and ``y`` have shape (n,); the model sees ``x[:, None]`` and predicts ``(n, 1)``.
    """
    import torch

    x, y = _as_vector(x, "x"), _as_vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, (int, np.integer)) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
    if not _check_real(lr, "lr") > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X_t = torch.from_numpy(x)[:, None]
    y_t = torch.from_numpy(y)[:, None]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(int(num_epochs)):
        optimizer.zero_grad()
        loss = torch.mean((model(X_t) - y_t) ** 2)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def homogeneous_best_fit(x: object, y: object) -> tuple[float, float, float]:
    """Least-squares fit of ``f(x) = a_pos x`` for ``x > 0`` and ``a_neg x`` for ``x < 0``.

    Every positively homogeneous function of one variable has this form (``f(0) = 0``), so
    the returned mean squared error is a lower bound for any bias-free ReLU network on
    ``(x, y)``. Each slope is ``sum(x y) / sum(x^2)`` over its half-line. Returns
    ``(a_pos, a_neg, mse)``.
    """
    x, y = _as_vector(x, "x"), _as_vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    slopes = []
    for side in (x > 0, x < 0):
        xs, ys = x[side], y[side]
        slopes.append(float(xs @ ys / (xs @ xs)) if xs.size else 0.0)
    a_pos, a_neg = slopes
    fit = np.where(x > 0, a_pos * x, a_neg * x)
    return a_pos, a_neg, float(np.mean((y - fit) ** 2))


def prior_logit(pi: float) -> float:
    """Output bias that makes ``sigma(b) = pi``: ``b = log(pi / (1 - pi))``, for ``0 < pi < 1``."""
    pi = _check_real(pi, "pi")
    if not 0 < pi < 1:
        raise ValueError(f"pi must be a probability strictly between 0 and 1, got {pi}")
    return float(np.log(pi) - np.log1p(-pi))


def binary_entropy(pi: float) -> float:
    """``H(pi) = -pi log pi - (1 - pi) log(1 - pi)`` in nats, for ``0 <= pi <= 1``."""
    pi = _check_real(pi, "pi")
    if not 0 <= pi <= 1:
        raise ValueError(f"pi must be in [0, 1], got {pi}")
    return float(-sum(p * np.log(p) for p in (pi, 1 - pi) if p > 0))


def mean_bce_with_logits(logits: object, y: object) -> float:
    """Mean binary cross-entropy ``mean(softplus(z) - y z)`` for logits ``z`` (n,), labels in {0, 1}."""
    z, y = _as_vector(logits, "logits"), _as_vector(y, "y")
    if z.shape != y.shape:
        raise ValueError(f"logits and y must have the same shape, got {z.shape} and {y.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must hold only 0 and 1 labels")
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def plot_decision_boundary(predict_fn: Callable[[np.ndarray], np.ndarray], X: object, y: object,
                           ax=None, grid: int = 200, margin: float = 1.0, lims=None):
    """Shade the regions where ``predict_fn`` (m, 2) -> (m,) labels differ, then scatter ``(X, y)``.

    ``X`` has shape (n, 2) and ``y`` (n,) integer labels. The grid covers the data plus
    ``margin`` on each side, or ``lims = (xmin, xmax, ymin, ymax)``. Returns the Axes.
    """
    from mlnotes.plotting import COLORS, new_figure

    if not callable(predict_fn):
        raise TypeError(f"predict_fn must be callable, got {type(predict_fn).__name__}")
    X = _as_matrix(X)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns to draw a plane, got {X.shape[1]}")
    y = _as_vector(y, "y")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} labels but X has {X.shape[0]} rows")
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or not 2 <= grid <= 1000:
        raise ValueError(f"grid must be an int in [2, 1000], got {grid!r}")
    if ax is None:
        _, ax = new_figure()
    if lims is None:
        lims = (X[:, 0].min() - margin, X[:, 0].max() + margin, X[:, 1].min() - margin, X[:, 1].max() + margin)
    g0, g1 = np.meshgrid(np.linspace(lims[0], lims[1], grid), np.linspace(lims[2], lims[3], grid))
    labels = np.asarray(predict_fn(np.column_stack([g0.ravel(), g1.ravel()]))).reshape(g0.shape)
    classes = np.unique(y)
    ax.contourf(g0, g1, labels.astype(float), levels=[-0.5, 0.5, 1.5], colors=COLORS[:2], alpha=0.2)
    markers = ("o", "s", "^", "D")
    for i, c in enumerate(classes):
        ax.scatter(*X[y == c].T, s=12, color=COLORS[i % len(COLORS)], marker=markers[i % 4], label=f"class {c:g}")
    ax.set_xlim(lims[0], lims[1])
    ax.set_ylim(lims[2], lims[3])
    return ax

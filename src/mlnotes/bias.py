"""The bias term: thresholds, augmented features, homogeneity, and bias initialisation.

Holds:

- ``threshold_unit`` and ``augment``: a bias is minus a threshold, and a weight on a constant 1;
- ``sigmoid_neuron`` / ``sigmoid_midpoint``: ``b`` shifts a sigmoid, ``w`` sets its slope;
- ``make_mlp`` / ``fit_mlp``: small float64 ReLU MLPs with or without biases (torch);
- ``homogeneous_best_fit``: the best a bias-free ReLU network can do in 1-D (a lower bound);
- ``prior_logit``, ``binary_entropy``, ``mean_bce_with_logits``: output-bias initialisation;
- ``draw_linear_unit``: the explorer's frame, a linear unit with a chosen direction and bias.

Decision regions are drawn with ``mlnotes.plotting.plot_decision_boundary``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mlnotes.validate import arg, checked

__all__ = ["augment", "binary_entropy", "fit_mlp", "homogeneous_best_fit", "make_mlp",
           "mean_bce_with_logits", "prior_logit", "sigmoid_midpoint", "sigmoid_neuron",
           "threshold_unit", "draw_linear_unit"]


@checked(X=arg.array(ndim=2, bool_ok=True))
def augment(X: object) -> np.ndarray:
    """Append a constant-1 column: ``(n, d) -> (n, d + 1)``, so ``[x, 1] . [w, b] = w.x + b``."""
    return np.hstack([X, np.ones((X.shape[0], 1))])


@checked(X=arg.array(shape=(None, "D"), bool_ok=True), w=arg.array(shape=("D",)), T=arg.real())
def threshold_unit(X: object, w: object, T: float) -> np.ndarray:
    """McCulloch-Pitts unit: ``1[w . x >= T]`` for each row of ``X`` (n, d); returns int (n,)."""
    return (X @ w >= T).astype(np.int64)


@checked(x=arg.array(ndim=1), w=arg.real(), b=arg.real())
def sigmoid_neuron(x: object, w: float, b: float) -> np.ndarray:
    """``sigma(w x + b) = 1 / (1 + exp(-(w x + b)))`` elementwise for a 1-D input ``x`` (n,)."""
    z = w * x + b
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@checked(w=arg.real(), b=arg.real())
def sigmoid_midpoint(w: float, b: float) -> float:
    """Where ``sigma(w x + b) = 1/2``: ``x = -b / w`` (needs ``w != 0``)."""
    if w == 0:
        raise ValueError("w must be non-zero: with w = 0 the sigmoid is constant and has no midpoint")
    return -b / w


@checked(widths=arg.array(ndim=1, integer=True, low=1, high=4096), bias=arg.bool(), seed=arg.seed())
def make_mlp(widths: Sequence[int], bias: bool = True, seed: int = 0):
    """A float64 ReLU MLP ``Linear -> ReLU -> ... -> Linear`` with layer sizes ``widths``.

    ``widths = [1, 32, 32, 1]`` gives two hidden layers of 32 units. ``bias=False`` removes
    every additive term, which makes the network positively homogeneous:
    ``f(alpha x) = alpha f(x)`` for ``alpha > 0``.
    """
    if len(widths) < 2:
        raise ValueError(f"widths needs at least an input and an output size, got {list(widths)}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(int(d_in), int(d_out), bias=bias, dtype=torch.float64))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)


@checked(model=arg.module(), x=arg.array(shape=("N",)), y=arg.array(shape=("N",)), num_epochs=arg.count(high=10**6),
         lr=arg.positive())
def fit_mlp(model, x: object, y: object, num_epochs: int = 600, lr: float = 0.01) -> list[float]:
    """Full-batch Adam on the mean squared error of a 1-D regression; returns the loss per step.

    ``x`` and ``y`` have shape (n,); the model sees ``x[:, None]`` and predicts ``(n, 1)``.
    """
    X_t = torch.from_numpy(x)[:, None]  # (n, 1)
    y_t = torch.from_numpy(y)[:, None]  # (n, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        optimizer.zero_grad()
        loss = torch.mean((model(X_t) - y_t) ** 2)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@checked(x=arg.array(shape=("N",)), y=arg.array(shape=("N",)))
def homogeneous_best_fit(x: object, y: object) -> tuple[float, float, float]:
    """Least-squares fit of ``f(x) = a_pos x`` for ``x > 0`` and ``a_neg x`` for ``x < 0``.

    Every positively homogeneous function of one variable has this form (``f(0) = 0``), so
    the returned mean squared error is a lower bound for any bias-free ReLU network on
    ``(x, y)``. Each slope is ``sum(x y) / sum(x^2)`` over its half-line. Returns
    ``(a_pos, a_neg, mse)``.
    """
    slopes = []
    for side in (x > 0, x < 0):
        xs, ys = x[side], y[side]
        slopes.append(float(xs @ ys / (xs @ xs)) if xs.size else 0.0)
    a_pos, a_neg = slopes
    fit = np.where(x > 0, a_pos * x, a_neg * x)
    return a_pos, a_neg, float(np.mean((y - fit) ** 2))


@checked(pi=arg.real(0.0, 1.0, low_open=True, high_open=True))
def prior_logit(pi: float) -> float:
    """Output bias that makes ``sigma(b) = pi``: ``b = log(pi / (1 - pi))``, for ``0 < pi < 1``."""
    return float(np.log(pi) - np.log1p(-pi))


@checked(pi=arg.probability())
def binary_entropy(pi: float) -> float:
    """``H(pi) = -pi log pi - (1 - pi) log(1 - pi)`` in nats, for ``0 <= pi <= 1``."""
    return float(-sum(p * np.log(p) for p in (pi, 1 - pi) if p > 0))


@checked(logits=arg.array(shape=("N",)), y=arg.array(shape=("N",), values=(0, 1)))
def mean_bce_with_logits(logits: object, y: object) -> float:
    """Mean binary cross-entropy ``mean(softplus(z) - y z)`` for logits ``z`` (n,), labels in {0, 1}."""
    z = logits
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@checked(X=arg.array(shape=("N", 2)), y=arg.array(shape=("N",), low=0, high=1), angle_deg=arg.real(), b=arg.real())
def draw_linear_unit(X: object, y: object, angle_deg: float, b: float):
    """One explorer frame: the unit ``1[w . x + b >= 0]`` with ``w = (cos a, sin a)`` on 2-D points
    ``X`` (n, 2) with 0/1 labels ``y`` (n,): shaded decision regions, the origin (+) and the
    accuracy in the title. Returns the figure."""
    from mlnotes.plotting import new_figure, plot_decision_boundary

    angle = angle_deg
    w = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])  # (2,)
    predict = lambda P: (P @ w + b >= 0).astype(int)                        # (m, 2) -> (m,)
    fig, ax = new_figure(width=4.2, height=3.6)
    plot_decision_boundary(ax, predict, X, y, lims=(-1, 7, -1, 7), grid=80)
    ax.plot(0, 0, "k+", ms=10)
    ax.set(title=f"angle {angle:g}$^\\circ$, $b$ = {b:g}: accuracy {(predict(X) == y).mean():.2f}",
           xlabel="feature $x_1$", ylabel="feature $x_2$", aspect="equal")
    ax.legend(loc="upper left", fontsize=7)
    return fig

"""Activation functions written from their definitions, signal propagation through deep
random networks, and gated feed-forward blocks (SwiGLU / GeGLU).

Holds:

- ``REGISTRY``: name -> torch function for step, sigmoid, tanh, ReLU, Leaky ReLU, ELU, SELU,
  GELU, SiLU and Mish, each written from its formula (the chapter checks them against
  ``torch.nn.functional``); ``apply`` and ``derivative`` evaluate them on numpy arrays;
- ``gelu_tanh`` and ``swish`` (with its slope ``beta``);
- ``propagate_stats``: mean, variance and back-propagated gradient norm, layer by layer, in a
  deep random bias-free network;
- ``FFN`` and ``GLUFFN``: the Transformer feed-forward block and its gated variant, and
  ``train_digit_ffn``, which compares them on scikit-learn's digits;
- ``draw_signal_depth`` and ``draw_swish``: the chapter's two explorer frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

import torch.nn.functional as F

from mlnotes.core import count_params
from mlnotes.plotting import PALETTE, new_figure
from mlnotes.validate import arg, checked

__all__ = ["FFN", "GLUFFN", "LEAKY_SLOPE", "REGISTRY", "SELU_ALPHA", "SELU_LAMBDA", "apply",
           "derivative", "draw_signal_depth", "draw_swish", "gelu_tanh", "glu_hidden",
           "propagate_stats", "swish", "train_digit_ffn"]

#: SELU constants (Klambauer et al., 2017), the values torch uses in ``F.selu``.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
#: Negative-side slope of the Leaky ReLU in ``REGISTRY`` (torch's default).
LEAKY_SLOPE = 0.01


def _step(x: torch.Tensor) -> torch.Tensor:
    return (x >= 0).to(x.dtype) + 0.0 * x   # "+ 0 x" keeps the graph: its gradient is 0


def _elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    # expm1 on the clamped negative part only: no overflow for large positive x
    return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0.0)))


def _gelu(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))        # x * Phi(x)


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    # 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0: no overflow, finite gradients
    e_pos, e_neg = torch.exp(-torch.clamp(x, min=0.0)), torch.exp(torch.clamp(x, max=0.0))
    return torch.where(x >= 0, 1.0 / (1.0 + e_pos), e_neg / (1.0 + e_neg))


def _softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, min=0.0) + torch.log1p(torch.exp(-torch.abs(x)))


# region: registry
REGISTRY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "step": _step,
    "sigmoid": _sigmoid,
    "tanh": torch.tanh,
    "relu": lambda x: torch.clamp(x, min=0.0),
    "leaky_relu": lambda x: torch.where(x > 0, x, LEAKY_SLOPE * x),
    "elu": _elu,
    "selu": lambda x: SELU_LAMBDA * _elu(x, SELU_ALPHA),
    "gelu": _gelu,
    "silu": lambda x: x * torch.sigmoid(x),
    "mish": lambda x: x * torch.tanh(_softplus(x)),
}
# endregion


# x for the elementwise functions: numbers, numpy or torch, any shape; NaN and inf propagate.
_ELEMENTWISE = arg.array(torch_ok=True, finite=False)


def _tensor(x: object) -> torch.Tensor:
    """``x`` (numbers, numpy or torch) as a tensor: a floating tensor as is, anything else float64."""
    return x if torch.is_tensor(x) and x.is_floating_point() else torch.as_tensor(x, dtype=torch.float64)


@checked(name=arg.choice(REGISTRY), x=_ELEMENTWISE)
def apply(name: str, x: object) -> np.ndarray:
    """``REGISTRY[name]`` applied elementwise to ``x`` (any shape), in float64; returns numpy.
    NaN and inf inputs propagate as the formula says (``relu(inf) = inf``)."""
    f = REGISTRY[name]
    with torch.no_grad():
        return f(_tensor(x).to(torch.float64)).numpy()


@checked(name=arg.choice(REGISTRY), x=_ELEMENTWISE)
def derivative(name: str, x: object) -> np.ndarray:
    """``f'(x)`` elementwise by autograd, float64, same shape as ``x``; NaN inputs propagate.

    At a kink autograd returns one one-sided value (ReLU: 0 at x = 0); the step function's
    derivative is 0 everywhere it exists.
    """
    f = REGISTRY[name]
    t = _tensor(x).detach().to(torch.float64).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(t).sum(), t)
    return grad.numpy()


@checked(x=_ELEMENTWISE)
def gelu_tanh(x: object) -> torch.Tensor:
    """Tanh approximation of GELU: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    NaN and inf inputs propagate."""
    x = _tensor(x)
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


@checked(x=_ELEMENTWISE, beta=arg.positive())
def swish(x: object, beta: float = 1.0) -> torch.Tensor:
    """Swish ``x * sigmoid(beta x)``, ``beta > 0``; SiLU is ``beta = 1``, ReLU the limit ``beta -> inf``.

    ``sup_x |swish(x) - relu(x)| = c / beta`` with ``c = max_t t sigmoid(-t) ~ 0.278465``.
    NaN and inf inputs propagate.
    """
    x = _tensor(x)
    return x * torch.sigmoid(beta * x)


_INIT_GAIN = {"he": 2.0, "xavier": 1.0, "lecun": 1.0}


@checked(act=arg.choice(REGISTRY), init=arg.choice(_INIT_GAIN), depth=arg.count(high=1000), width=arg.count(high=1024),
         n=arg.int(2, 4096), scale=arg.positive(), seed=arg.seed())
def propagate_stats(act: str, depth: int, width: int, init: str = "he", n: int = 2048, seed: int = 0,
                    scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Push ``n`` standard-normal inputs through ``depth`` random layers ``h <- act(W h)``.

    ``W`` is ``width x width`` with entries ``N(0, scale^2 gain / width)``: gain 2 for ``'he'``,
    1 for ``'xavier'`` and ``'lecun'`` (equal for square layers). No biases. Then back-propagate
    a fixed random unit vector from the last layer. Returns three arrays of length ``depth + 1``
    indexed by layer ``l = 0..depth`` (0 = input): the mean and variance of the activations over
    all units and examples, and the norm of the gradient with respect to ``h_l`` (averaged over
    examples), which shows how a signal from the output shrinks or grows on its way down.
    """
    f, gain = REGISTRY[act], _INIT_GAIN[init]
    gen = torch.Generator().manual_seed(seed)
    # region: propagate
    std = scale * math.sqrt(gain / width)
    hs = [torch.randn(n, width, generator=gen, dtype=torch.float64).requires_grad_(True)]  # (n, width)
    for _ in range(depth):
        W = std * torch.randn(width, width, generator=gen, dtype=torch.float64)  # (width, width)
        hs.append(f(hs[-1] @ W.T))                                               # (n, width)
        hs[-1].retain_grad()
    direction = torch.randn(width, generator=gen, dtype=torch.float64)
    (hs[-1] @ (direction / direction.norm())).sum().backward()
    # endregion
    with torch.no_grad():
        means = np.array([h.mean().item() for h in hs])
        variances = np.array([h.var().item() for h in hs])
        grad_norms = np.array([h.grad.norm(dim=1).mean().item() for h in hs])
    return means, variances, grad_norms


_ACTS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


@checked(d=arg.count(high=1 << 20), multiple_of=arg.count(high=1 << 20))
def glu_hidden(d: int, multiple_of: int = 1) -> int:
    """Hidden width of a gated FFN with the parameters of a ``4d`` FFN: ``8d/3``, rounded up to ``multiple_of``.

    LLaMA uses ``multiple_of = 256``: ``d = 4096`` gives 11008.
    """
    hidden = int(2 * (4 * d) / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class FFN(nn.Module):
    """Transformer feed-forward block ``act(x W1) W2``: ``(..., d) -> (..., d)``, hidden ``4d`` by default."""

    @checked(d=arg.count(high=4096), hidden=arg.optional(arg.count(high=16384)), act=arg.choice(_ACTS), bias=arg.bool())
    def __init__(self, d: int, hidden: int | None = None, act: str = "relu", bias: bool = False):
        super().__init__()
        hidden = 4 * d if hidden is None else hidden
        self.w1 = nn.Linear(d, hidden, bias=bias)
        self.w2 = nn.Linear(hidden, d, bias=bias)
        self.act = _ACTS[act]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(self.act(self.w1(x)))


class GLUFFN(nn.Module):
    """Gated FFN ``(act(x W) * (x V)) W2``: ``(..., d) -> (..., d)``.

    ``act='silu'`` is SwiGLU, ``act='gelu'`` GeGLU. Three matrices instead of two, so the
    default hidden width is ``glu_hidden(d)`` = ``8d/3``, which matches the ``8 d^2``
    parameters of a bias-free ``4d`` FFN when 3 divides d.
    """

    @checked(d=arg.count(high=4096), hidden=arg.optional(arg.count(high=16384)), act=arg.choice(_ACTS), bias=arg.bool())
    def __init__(self, d: int, hidden: int | None = None, act: str = "silu", bias: bool = False):
        super().__init__()
        hidden = glu_hidden(d) if hidden is None else hidden
        self.w = nn.Linear(d, hidden, bias=bias)
        self.v = nn.Linear(d, hidden, bias=bias)
        self.w2 = nn.Linear(hidden, d, bias=bias)
        self.act = _ACTS[act]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(self.act(self.w(x)) * self.v(x))


class _DigitNet(nn.Module):
    """``logits = head(x + FFN(x))`` on 64-pixel digits."""

    def __init__(self, ffn: nn.Module, head: nn.Module):
        super().__init__()
        self.ffn, self.head = ffn, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x + self.ffn(x))


@checked(kind=arg.choice(("relu", "swiglu")), X=arg.array(shape=("N", 64)),
         y=arg.array(shape=("N",), integer=True, low=0, high=9), seed=arg.seed(), lr=arg.positive(),
         train=arg.array(ndim=1, integer=True, low=0, high="N - 1"), num_epochs=arg.count(high=100_000),
         test=arg.array(ndim=1, integer=True, low=0, high="N - 1"), eval_every=arg.count(high=100_000))
def train_digit_ffn(kind: str, X: object, y: object, train: object, test: object, seed: int = 0,
                    num_epochs: int = 100, lr: float = 5e-3, eval_every: int = 5) -> dict:
    """Full-batch Adam on ``head(x + FFN(x))`` with a ReLU ``FFN(64)`` (``kind="relu"``) or a
    ``GLUFFN(64)`` (``kind="swiglu"``); ``seed`` sets the initial weights. The head is drawn
    first, so both kinds start from the same head for the same seed.

    Returns the training loss per step, the test loss every ``eval_every`` steps (and at the
    last), the test accuracy and the FFN's parameter count.
    """
    X_t = torch.tensor(X, dtype=torch.float32)  # (n, 64)
    y_t = torch.as_tensor(y)    # (n,)
    train, test = torch.as_tensor(train), torch.as_tensor(test)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = nn.Linear(64, 10)
        net = _DigitNet(FFN(64) if kind == "relu" else GLUFFN(64), head)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    out = {"train": [], "test": [], "params": count_params(net.ffn)}
    for epoch in range(num_epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(X_t[train]), y_t[train])
        loss.backward()
        optimizer.step()
        out["train"].append(loss.item())
        if epoch % eval_every == 0 or epoch == num_epochs - 1:
            with torch.no_grad():
                out["test"].append(F.cross_entropy(net(X_t[test]), y_t[test]).item())
    with torch.no_grad():
        out["accuracy"] = (net(X_t[test]).argmax(1) == y_t[test]).float().mean().item()
    return out


@checked(variances=arg.array(shape=("S", "L"), low=0), grads=arg.array(shape=("S", "L"), low=0),
         title=arg.instance(str))
def draw_signal_depth(variances: object, grads: object, title: str = ""):
    """One frame of the depth explorer: ``log10`` of the forward variance (solid) and of the
    back-propagated gradient norm (dashed) at each layer, one thin line per seed.

    ``variances``, ``grads``: ``(seeds, depth + 1)`` arrays, rows from ``propagate_stats``.
    """
    fig, ax = new_figure(width=5.5, height=3)
    for i, (v, g) in enumerate(zip(variances, grads)):
        ax.plot(np.log10(np.maximum(v, 1e-300)), color=PALETTE["blue"], lw=1, alpha=0.8,
                label="forward: variance at layer $l$" if i == 0 else None)
        ax.plot(np.log10(np.maximum(g, 1e-300)), color=PALETTE["vermillion"], lw=1, alpha=0.8,
                ls="--", label="backward: gradient norm at layer $l$" if i == 0 else None)
    ax.set(xlabel="layer $l$", ylabel=r"$\log_{10}$ of size", title=title)
    ax.legend(loc="lower left", fontsize=8)
    return fig


@checked(beta=arg.positive(), reference=arg.choice(REGISTRY))
def draw_swish(beta: float, reference: str = "relu"):
    """One frame of the Swish explorer: ``Swish_beta`` and a ``reference`` activation from
    ``REGISTRY`` on ``[-4, 4]``, functions (left) and derivatives (right); the title gives their
    largest gap on that window (against ReLU it is ``c / beta``, ``c ~ 0.278``, once the window
    holds the maximiser ``z = -1.28 / beta``)."""
    ref = REGISTRY[reference]
    z = torch.linspace(-4, 4, 801, dtype=torch.float64, requires_grad=True)  # (801,)
    curves = {rf"Swish, $\beta$ = {beta:.3g}": swish(z, beta), reference: ref(z)}
    slopes = {k: torch.autograd.grad(y.sum(), z)[0] for k, y in curves.items()}
    gap = (curves[reference] - next(iter(curves.values()))).abs().max().item()
    fig, axes = new_figure(ncols=2, width=8, height=3)
    for ax, shown, lim in ((axes[0], curves, (-1.2, 4.1)), (axes[1], slopes, (-0.2, 1.4))):
        for (label, y), color, ls in zip(shown.items(), ("blue", "orange"), ("-", "--")):
            ax.plot(z.detach(), y.detach(), color=PALETTE[color], ls=ls, label=label)
        ax.set(xlabel="input $z$", ylim=lim)
    axes[0].set(ylabel="$f(z)$", title=f"largest gap on [-4, 4]: {gap:.3f}")
    axes[1].set(ylabel="$f'(z)$", title="derivatives")
    axes[0].legend(loc="upper left", fontsize=8)
    return fig

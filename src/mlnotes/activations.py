"""Activation functions written from their definitions, signal propagation through deep
random networks, and gated feed-forward blocks (SwiGLU / GeGLU).

Holds:

- ``REGISTRY``: name -> torch function for step, sigmoid, tanh, ReLU, Leaky ReLU, ELU, SELU,
  GELU, SiLU and Mish, each written from its formula (the chapter checks them against
  ``torch.nn.functional``); ``apply`` and ``derivative`` evaluate them on numpy arrays;
- ``gelu_tanh`` and ``swish`` (with its slope ``beta``);
- ``propagate_stats``: mean, variance and back-propagated gradient norm, layer by layer, in a
  deep random bias-free network;
- ``FFN`` and ``GLUFFN``: the Transformer feed-forward block and its gated variant.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mlnotes.core import check_seed
from mlnotes.validate import check_int, check_positive

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


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    if name not in REGISTRY:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(REGISTRY)}")
    return name


def _as_tensor(x: object) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
        return x
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"x must be numeric, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError("x must not be empty")
    return torch.from_numpy(array.astype(np.float64))


def apply(name: str, x: object) -> np.ndarray:
    """``REGISTRY[name]`` applied elementwise to ``x`` (any shape), in float64; returns numpy."""
    f = REGISTRY[_check_name(name)]
    with torch.no_grad():
        return f(_as_tensor(x).to(torch.float64)).numpy()


def derivative(name: str, x: object) -> np.ndarray:
    """``f'(x)`` elementwise by autograd, float64, same shape as ``x``.

    At a kink autograd returns one one-sided value (ReLU: 0 at x = 0); the step function's
    derivative is 0 everywhere it exists.
    """
    f = REGISTRY[_check_name(name)]
    t = _as_tensor(x).detach().to(torch.float64).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(t).sum(), t)
    return grad.numpy()


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """Tanh approximation of GELU: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    x = _as_tensor(x)
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def swish(x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Swish ``x * sigmoid(beta x)``, ``beta > 0``; SiLU is ``beta = 1``, ReLU the limit ``beta -> inf``.

    ``sup_x |swish(x) - relu(x)| = c / beta`` with ``c = max_t t sigmoid(-t) ~ 0.278465``.
    """
    return _as_tensor(x) * torch.sigmoid(check_positive("beta", beta) * _as_tensor(x))


_INIT_GAIN = {"he": 2.0, "xavier": 1.0, "lecun": 1.0}


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
    f = REGISTRY[_check_name(act)]
    for label, value, low in (("depth", depth, 1), ("width", width, 1), ("n", n, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{label} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{label} must be >= {low}, got {value}")
    if init not in _INIT_GAIN:
        raise ValueError(f"init must be one of {sorted(_INIT_GAIN)}, got {init!r}")
    scale = check_positive("scale", scale)
    gen = torch.Generator().manual_seed(check_seed(seed))
    # region: propagate
    std = scale * math.sqrt(_INIT_GAIN[init] / width)
    hs = [torch.randn(n, width, generator=gen, dtype=torch.float64).requires_grad_(True)]
    for _ in range(depth):
        W = std * torch.randn(width, width, generator=gen, dtype=torch.float64)
        hs.append(f(hs[-1] @ W.T))
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


def _check_dims(d: object, hidden: object, act: object, bias: object) -> None:
    check_int("d", d, 1)
    check_int("hidden", hidden, 1)
    if act not in _ACTS:
        raise ValueError(f"act must be one of {sorted(_ACTS)}, got {act!r}")
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")


def glu_hidden(d: int, multiple_of: int = 1) -> int:
    """Hidden width of a gated FFN with the parameters of a ``4d`` FFN: ``8d/3``, rounded up to ``multiple_of``.

    LLaMA uses ``multiple_of = 256``: ``d = 4096`` gives 11008.
    """
    for label, value in (("d", d), ("multiple_of", multiple_of)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    hidden = int(2 * (4 * d) / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class FFN(nn.Module):
    """Transformer feed-forward block ``act(x W1) W2``: ``(..., d) -> (..., d)``, hidden ``4d`` by default."""

    def __init__(self, d: int, hidden: int | None = None, act: str = "relu", bias: bool = False):
        super().__init__()
        hidden = 4 * d if hidden is None else hidden
        _check_dims(d, hidden, act, bias)
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

    def __init__(self, d: int, hidden: int | None = None, act: str = "silu", bias: bool = False):
        super().__init__()
        if hidden is None:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
                raise ValueError(f"d must be a positive int, got {d!r}")
            hidden = glu_hidden(d)
        _check_dims(d, hidden, act, bias)
        self.w = nn.Linear(d, hidden, bias=bias)
        self.v = nn.Linear(d, hidden, bias=bias)
        self.w2 = nn.Linear(hidden, d, bias=bias)
        self.act = _ACTS[act]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(self.act(self.w(x)) * self.v(x))


def count_params(module: nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class _DigitNet(nn.Module):
    """``logits = head(x + FFN(x))`` on 64-pixel digits."""

    def __init__(self, ffn: nn.Module):
        super().__init__()
        self.ffn, self.head = ffn, nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x + self.ffn(x))


def train_digit_ffn(kind: str, X: object, y: object, train: object, test: object, seed: int = 0,
                    num_epochs: int = 100, lr: float = 5e-3, eval_every: int = 5) -> dict:
    """Full-batch Adam on ``head(x + FFN(x))`` with a ReLU ``FFN(64)`` (``kind="relu"``) or a
    ``GLUFFN(64)`` (``kind="swiglu"``); ``seed`` sets the initial weights.

    Returns the training loss per step, the test loss every ``eval_every`` steps (and at the
    last), the test accuracy and the FFN's parameter count.
    """
    import torch.nn.functional as F
    from mlnotes.validate import check_array, check_choice, check_count

    kind = check_choice("kind", kind, ("relu", "swiglu"))
    X_t = torch.tensor(check_array("X", X, ndim=2, shape=(None, 64)), dtype=torch.float32)
    y_t = torch.as_tensor(check_array("y", y, ndim=1, integer=True))
    train, test = (torch.as_tensor(check_array(n, v, ndim=1, integer=True)) for n, v in
                   (("train", train), ("test", test)))
    num_epochs = check_count("num_epochs", num_epochs, high=100_000)
    with torch.random.fork_rng():
        torch.manual_seed(check_seed(seed))
        net = _DigitNet(FFN(64) if kind == "relu" else GLUFFN(64))
    optimizer = torch.optim.Adam(net.parameters(), lr=check_positive("lr", lr))
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

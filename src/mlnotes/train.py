"""Training-loop craft in PyTorch: internal losses, logged metrics, weight constraints, progress bars.

- ``Progbar``                 a text progress bar with step-weighted running means (like Keras' Progbar)
- ``power_iteration_sigma``   the largest singular value of a matrix by power iteration
- ``SpectralNormWrap``        wraps an ``nn.Linear`` so its forward uses ``W / sigma_max(W)``
                              (article style: fresh start every call; or Miyato style: persistent ``u``)
- ``RowNorm``                 a ``torch.nn.utils.parametrize`` parametrization ``W -> c W / ||W_row||``
- ``max_norm_``               post-hoc projection of weight rows onto the ball of radius ``c``
- ``HookRecorder``            records ``fn(output)`` of a module on every forward
- ``AutoencoderWithLoss``     a model whose ``forward`` returns its loss and metrics (no targets)
- ``fit``                     the plain AdamW loop the pretraining chapters train their tiny models with
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mlnotes.validate import arg, check_real, check_tensor, checked

__all__ = ["Progbar", "power_iteration_sigma", "SpectralNormWrap", "RowNorm", "max_norm_", "HookRecorder",
           "AutoencoderWithLoss", "fit"]


class Progbar:
    """Text progress bar ``current/target [=====>....] - name: value``, deterministic (no timings).

    For ordinary metrics the displayed value is the running mean weighted by how many steps each
    update covered: ``update(current, [("loss", v)])`` adds ``v * (current - previous)``. Metrics named
    in ``stateful_metrics`` show their last value instead (for quantities that are already averages).
    """

    @checked(target=arg.count(), width=arg.count(high=1000), stateful_metrics=arg.sequence(arg.text(), min_len=0))
    def __init__(self, target: int, width: int = 30, stateful_metrics: Iterable[str] = ()):
        self.target, self.width = target, width
        self.stateful_metrics = set(stateful_metrics)
        self.current = 0
        self._sums: dict[str, list[float]] = {}  # name -> [weighted sum, total weight]
        self._order: list[str] = []

    @checked(current=arg.int(low="self.current", high="self.target"))
    def update(self, current: int, values: Sequence[tuple[str, float]] | None = None) -> str:
        """Move to step ``current`` (cumulative, not an increment) and fold in ``values``; returns the line."""
        steps = current - self.current
        for name, value in values or []:
            value = check_real(f"values[{name!r}]", value)
            if name not in self._sums:
                self._order.append(name)
                self._sums[name] = [0.0, 0.0]
            if name in self.stateful_metrics:
                self._sums[name] = [value, 1.0]
            else:
                self._sums[name][0] += value * max(steps, 1)
                self._sums[name][1] += max(steps, 1)
        self.current = int(current)
        return self.line()

    def value(self, name: str) -> float:
        """The displayed value of metric ``name`` (running mean, or last value if stateful)."""
        if name not in self._sums:
            raise KeyError(f"unknown metric {name!r}; known: {self._order}")
        total, weight = self._sums[name]
        return total / weight

    def line(self) -> str:
        """The bar as one line of text."""
        digits = len(str(self.target))
        done = int(self.width * self.current / self.target)
        bar = "=" * done + (">" if done < self.width else "") + "." * (self.width - done - 1)
        bar = bar[: self.width]
        metrics = "".join(f" - {n}: {self.value(n):.4f}" for n in self._order)
        return f"{self.current:>{digits}}/{self.target} [{bar}]{metrics}"


@checked(W=arg.tensor(ndim=2), n_iter=arg.count(high=10**5), u=arg.optional(arg.tensor(shape=("W.shape[0]",))))
def power_iteration_sigma(W: torch.Tensor, n_iter: int = 1, u: torch.Tensor | None = None):
    """Estimate ``sigma_max(W)`` by ``n_iter`` rounds of ``v <- normalize(W^T u)``, ``u <- normalize(W v)``.

    ``W`` has shape ``(m, n)``. ``u`` (shape ``(m,)``) is the starting left vector; by default the
    normalised all-ones vector. Returns ``(sigma, u, v)`` with ``sigma = u^T W v`` (differentiable in
    ``W``; ``u`` and ``v`` are detached, as in spectral normalisation).
    """
    u = torch.ones(W.shape[0], dtype=W.dtype) if u is None else u
    with torch.no_grad():
        u = F.normalize(u.to(W.dtype), dim=0)           # (m,)
        for _ in range(n_iter):
            v = F.normalize(W.T @ u, dim=0)             # (n,)
            u = F.normalize(W @ v, dim=0)               # (m,)
    return u @ W @ v, u, v                              # sigma = u^T W v, a scalar


class SpectralNormWrap(nn.Module):
    """Use ``W / sigma(W)`` in place of an ``nn.Linear``'s weight, ``sigma`` by power iteration.

    ``persistent=False`` (the article's wrapper): ``n_iter`` iterations from the all-ones vector on
    every call. ``persistent=True`` (Miyato et al.): ``u`` is a buffer carried across calls and
    refined by ``n_iter`` iterations per training-mode forward (typically 1).
    """

    @checked(module=arg.module(), n_iter=arg.count(high=10**5), persistent=arg.bool())
    def __init__(self, module: nn.Linear, n_iter: int = 5, persistent: bool = False):
        super().__init__()
        check_tensor("module.weight", getattr(module, "weight", None), ndim=2)   # (out, in), as nn.Linear
        self.module, self.n_iter, self.persistent = module, n_iter, persistent
        self.register_buffer("u", torch.ones(module.weight.shape[0], dtype=module.weight.dtype))

    def normalized_weight(self) -> torch.Tensor:
        """``W / sigma`` with the current estimate (updates ``u`` in training mode when persistent)."""
        W = self.module.weight
        if self.persistent:
            if self.training:
                sigma, u, _ = power_iteration_sigma(W, self.n_iter, self.u)
                self.u.copy_(u)
            else:
                sigma, _, _ = power_iteration_sigma(W, 1, self.u)
        else:
            sigma, _, _ = power_iteration_sigma(W, self.n_iter)
        return W / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), getattr(self.module, "bias", None))  # (B, out)


class RowNorm(nn.Module):
    """Parametrization ``W -> c * W / ||W_i||`` row by row (register with ``torch.nn.utils.parametrize``)."""

    @checked(c=arg.positive())
    def __init__(self, c: float = 1.0):
        super().__init__()
        self.c = c

    def forward(self, W: torch.Tensor) -> torch.Tensor:
        return self.c * W / W.norm(dim=1, keepdim=True)


@checked(module=arg.module(), c=arg.positive(), dim=arg.int(low="module.weight.ndim * -1", high="module.weight.ndim - 1"))
def max_norm_(module: nn.Module, c: float, dim: int = 1) -> None:
    """Project ``module.weight`` in place so every row (norm over ``dim``) has norm at most ``c``.

    Call it right after ``optimizer.step()``; it runs under ``torch.no_grad()``.
    """
    weight = module.weight                                                              # (out, in)
    with torch.no_grad():
        norms = weight.norm(dim=dim, keepdim=True)                                      # (out, 1)
        weight.mul_(torch.clamp(c / norms.clamp_min(1e-12), max=1.0))


class HookRecorder:
    """Record ``fn(output)`` (a float) on every forward of ``module``; read ``.values``, then ``.remove()``."""

    @checked(module=arg.module(), fn=arg.callable())
    def __init__(self, module: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.values: list[float] = []
        self._handle = module.register_forward_hook(
            lambda _m, _inp, out: self.values.append(float(fn(out.detach()))))

    def remove(self) -> None:
        """Detach the hook from the module."""
        self._handle.remove()


class AutoencoderWithLoss(nn.Module):
    """``x -> h = relu(W1 x + b1) -> x_hat = W2 h + b2``; ``forward(x)`` returns ``{"loss", "hidden_sq_norm"}``.

    The loss (mean squared reconstruction error) needs no targets: it is built inside the model from
    the input and the output, the PyTorch counterpart of Keras' ``add_loss`` with ``fit(x, None)``.
    """

    @checked(in_dim=arg.count(high=10**5), hidden=arg.count(high=10**5), seed=arg.seed())
    def __init__(self, in_dim: int = 64, hidden: int = 16, seed: int = 0):
        super().__init__()
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            self.encoder, self.decoder = nn.Linear(in_dim, hidden), nn.Linear(hidden, in_dim)
        finally:
            torch.random.set_rng_state(gen_state)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.encoder(x))          # (B, hidden)
        x_hat = self.decoder(h)                  # (B, in_dim)
        return {"loss": F.mse_loss(x_hat, x), "hidden_sq_norm": (h ** 2).sum(dim=1).mean().detach()}


@checked(loss_fn=arg.callable(), steps=arg.count(), lr=arg.real(0.0, low_open=True), weight_decay=arg.real(0.0))
def fit(loss_fn: Callable[[int], torch.Tensor], params: Iterable[torch.Tensor], steps: int, lr: float,
        weight_decay: float = 0.0) -> list[float]:
    """AdamW on ``params`` for ``steps`` steps; ``loss_fn(step)`` returns a scalar loss.

    Only the parameters given are optimised (no Adam state for frozen ones). Returns the losses.
    """
    if not isinstance(params, Iterable) or isinstance(params, (str, torch.Tensor)):  # a generator is fine
        raise TypeError("params must be an iterable of parameter tensors (e.g. model.parameters())")
    params = [check_tensor("params", p) for p in params]
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("no trainable parameters given to fit() (params)")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    losses = []
    for step in range(steps):
        loss = loss_fn(step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses

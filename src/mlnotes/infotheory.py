"""Mutual-information estimation by variational bounds, and Deep InfoMax on small images.

Holds

- ``gaussian_mi``, ``correlated_gaussians``, ``gaussian_log_ratio``: a test bed with known MI and
  its optimal critic ``log p(x, y) / (p(x) p(y))``;
- ``dv_bound``, ``jsd_bound``, ``infonce_bound``: the Donsker-Varadhan (MINE), Jensen-Shannon and
  InfoNCE objectives, from critic scores;
- ``SeparableCritic`` and ``train_critic``: a learned critic ``f(x) . g(y)`` (torch);
- ``DIMEncoder``, its local and global InfoNCE losses, ``train_dim`` (and ``train_local_dim``):
  local and global Deep InfoMax on small digit images.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import logsumexp
from torch import nn

from mlnotes.validate import checked, arg

__all__ = ["gaussian_mi", "correlated_gaussians", "gaussian_log_ratio", "dv_bound", "jsd_bound",
           "infonce_bound", "SeparableCritic", "train_critic", "DIMEncoder", "train_dim", "train_local_dim", "encode", "plot_mi_estimates",
           "plot_probe_comparison"]

_MAX_DIM = 10_000  # a dimension, width or batch beyond this can only be a mistake here


@checked(rho=arg.real(-1, 1, low_open=True, high_open=True), d=arg.count(high=_MAX_DIM))
def gaussian_mi(rho: float, d: int = 1) -> float:
    """MI of d independent pairs of standard normals with correlation rho: ``-(d/2) log(1 - rho^2)`` nats."""
    return -0.5 * d * math.log1p(-rho * rho)


@checked(n=arg.count(high=10**8), d=arg.count(high=_MAX_DIM), rho=arg.real(-1, 1, low_open=True, high_open=True),
         seed=arg.seed())
def correlated_gaussians(n: int, rho: float, d: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of (x, y), each (n, d): ``y = rho x + sqrt(1 - rho^2) eps`` coordinate-wise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rho * x + math.sqrt(1 - rho * rho) * rng.standard_normal((n, d))
    return x, y


@checked(rho=arg.real(-1, 1, low_open=True, high_open=True), x=arg.array(min_ndim=1), y=arg.array(min_ndim=1))
def gaussian_log_ratio(x: np.ndarray, y: np.ndarray, rho: float) -> np.ndarray:
    """Optimal critic ``log p(x, y) / (p(x) p(y))`` for :func:`correlated_gaussians`, summed over d.

    ``x`` (n, d) and ``y`` (n, d) give the n paired values; ``x`` (n, 1, d) with ``y`` (1, m, d)
    broadcast to the (n, m) matrix of all pairs.
    """
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y must have the same last dimension, got {x.shape} and {y.shape}")
    r2 = rho * rho
    d = x.shape[-1]
    if x.ndim == 3 and y.ndim == 3 and x.shape[1] == 1 and y.shape[0] == 1:
        # all pairs at once: sum_k (r2 x_k^2 - 2 rho x_k y_k + r2 y_k^2) through one matrix product
        x2, y2 = (x[:, 0] ** 2).sum(-1), (y[0] ** 2).sum(-1)
        quad = r2 * x2[:, None] + r2 * y2[None, :] - 2 * rho * (x[:, 0] @ y[0].T)
        return -0.5 * d * math.log1p(-r2) - quad / (2 * (1 - r2))
    per_dim = -0.5 * math.log1p(-r2) - (r2 * x**2 - 2 * rho * x * y + r2 * y**2) / (2 * (1 - r2))
    return per_dim.sum(axis=-1)


@checked(t_joint=arg.array(), t_marginal=arg.array())
def dv_bound(t_joint: np.ndarray, t_marginal: np.ndarray) -> float:
    """Donsker-Varadhan bound ``E_joint[T] - log E_marginal[e^T]`` (MINE's objective), in nats.

    The log-mean-exp is computed as ``logsumexp(T) - log M``, never as a plain mean of ``e^T``.
    """
    tj, tm = t_joint, t_marginal.ravel()
    return float(tj.mean() - (logsumexp(tm) - math.log(tm.size)))


@checked(t_joint=arg.array(), t_marginal=arg.array())
def jsd_bound(t_joint: np.ndarray, t_marginal: np.ndarray) -> float:
    """Jensen-Shannon objective ``E_joint[-softplus(-T)] - E_marginal[softplus(T)]``.

    Its maximiser is the same log density ratio, but its value is NOT a mutual-information estimate.
    """
    tj, tm = t_joint, t_marginal
    return float(-np.logaddexp(0, -tj).mean() - np.logaddexp(0, tm).mean())


@checked(scores=arg.array(shape=("N", "N")))
def infonce_bound(scores: np.ndarray) -> float:
    """InfoNCE ``mean_i [S_ii - log sum_j exp(S_ij)] + log N`` for an (N, N) score matrix.

    Row i scores x_i against every y_j; the diagonal holds the positive pairs. Each term is a
    log-softmax (<= 0), so the value never exceeds ``log N``.
    """
    s = scores  # (N, N)
    n = s.shape[0]
    return float(np.mean(np.diag(s) - logsumexp(s, axis=1)) + math.log(n))


# -- learned critics (torch) ----------------------------------------------------------------------
class SeparableCritic(nn.Module):
    """``T(x, y) = f(x) . g(y)`` with two small MLPs; ``forward(x, y)`` gives the (N, N) score matrix."""

    @checked(d=arg.count(high=_MAX_DIM), hidden=arg.count(high=_MAX_DIM), embed=arg.count(high=_MAX_DIM))
    def __init__(self, d: int, hidden: int = 64, embed: int = 16):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, embed))
        self.g = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, embed))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.f(x) @ self.g(y).T


def _torch_infonce(scores: torch.Tensor) -> torch.Tensor:
    n = scores.shape[0]
    return torch.diagonal(scores).mean() - torch.logsumexp(scores, dim=1).mean() + math.log(n)


def _torch_jsd(scores: torch.Tensor) -> torch.Tensor:
    n = scores.shape[0]
    joint = torch.diagonal(scores)
    marginal = scores[~torch.eye(n, dtype=torch.bool)]
    return -F.softplus(-joint).mean() - F.softplus(marginal).mean()


def _torch_dv(scores: torch.Tensor) -> torch.Tensor:
    n = scores.shape[0]
    marginal = scores[~torch.eye(n, dtype=torch.bool)]
    return torch.diagonal(scores).mean() - (torch.logsumexp(marginal, dim=0) - math.log(marginal.numel()))


@checked(objective=arg.choice(("infonce", "jsd", "dv")), rho=arg.real(-1, 1, low_open=True, high_open=True),
         lr=arg.positive(), steps=arg.count(high=_MAX_DIM), batch=arg.count(high=_MAX_DIM), seed=arg.seed())
def train_critic(rho: float, d: int = 2, objective: str = "infonce", steps: int = 1000, batch: int = 256,
                 lr: float = 1e-3, seed: int = 0) -> tuple[SeparableCritic, dict[str, list[float]]]:
    """Train a :class:`SeparableCritic` on fresh correlated-Gaussian batches by maximising ``objective``.

    ``objective`` is "infonce", "jsd" or "dv". Negatives are the other y's of the batch (all
    off-diagonal pairs). Returns the critic and per-step values of the InfoNCE and DV estimates.
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    critic = SeparableCritic(d)
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    loss_fn = {"infonce": _torch_infonce, "jsd": _torch_jsd, "dv": _torch_dv}[objective]
    history: dict[str, list[float]] = {"infonce": [], "dv": []}
    for _ in range(steps):
        x, y = correlated_gaussians(batch, rho, d, seed=int(rng.integers(2**31)))
        scores = critic(torch.from_numpy(x).float(), torch.from_numpy(y).float())
        loss = -loss_fn(scores)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            history["infonce"].append(_torch_infonce(scores).item())
            history["dv"].append(_torch_dv(scores).item())
    return critic, history


# -- local and global Deep InfoMax -------------------------------------------------------------------
class DIMEncoder(nn.Module):
    """Square ``size`` x ``size`` image -> global code (B, code), local features (B, n, code) and
    a whole-map summary (B, code).

    Two 3x3 convolutions (``channels`` each, ReLU, padding 1; the first with ``stride``) give a
    (channels, m, m) map, ``m = size / stride``; a 1x1 convolution projects each of its ``n = m^2``
    positions to ``code`` dims (the local features; each sees a 5x5 patch for stride 1, 7x7 for
    stride 2); an MLP on the flattened map gives the global code; a linear map of the flattened
    map gives the summary that global DIM pairs with the code.
    """

    @checked(channels=arg.count(high=_MAX_DIM), code=arg.count(high=_MAX_DIM), size=arg.count(high=_MAX_DIM),
             stride=arg.count(high=_MAX_DIM))
    def __init__(self, channels: int = 32, code: int = 16, size: int = 8, stride: int = 1):
        super().__init__()
        if size % stride:
            raise ValueError(f"size={size} must be divisible by stride={stride}")
        n = (size // stride) ** 2
        self.size = size
        self.conv = nn.Sequential(nn.Conv2d(1, channels, 3, stride=stride, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.local = nn.Conv2d(channels, code, 1)
        self.glob = nn.Sequential(nn.Flatten(), nn.Linear(channels * n, 64), nn.ReLU(),
                                  nn.Linear(64, code))
        self.summary = nn.Linear(channels * n, code)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images`` (B, 1, size, size) -> (global code (B, code), local features (B, n, code))."""
        fmap = self.conv(images)                                  # (B, channels, m, m)
        local = self.local(fmap).flatten(2).transpose(1, 2)       # (B, n, code)
        return self.glob(fmap), local

    def whole_map(self, images: torch.Tensor) -> torch.Tensor:
        """The summary of the whole feature map (B, code) that global DIM scores the code against."""
        return self.summary(self.conv(images).flatten(1))


# region: dim-losses
def _local_dim_loss(global_code: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
    """Negative mean InfoNCE between each image's global code and each of its local features.

    ``global_code`` (B, k), ``local`` (B, P, k). For every position p the positive pair is (i, i)
    and the negatives are the position-p features of the other images in the batch:
    ``S_p = G L_p^T`` (B, B), loss = ``-mean_p mean_i log softmax_j(S_p)[i, i]``.
    """
    scores = torch.einsum("ik,jpk->pij", global_code, local)  # (P, B, B)
    target = torch.arange(global_code.shape[0]).expand(scores.shape[0], -1)
    return F.cross_entropy(scores.reshape(-1, scores.shape[2]), target.reshape(-1))


def _global_dim_loss(global_code: torch.Tensor, summary: torch.Tensor) -> torch.Tensor:
    """Negative InfoNCE between each image's global code and a summary of its whole feature map.

    ``global_code`` and ``summary`` (B, k); ``S = G M^T`` (B, B), positives on the diagonal.
    """
    return F.cross_entropy(global_code @ summary.T, torch.arange(global_code.shape[0]))
# endregion


@checked(images=arg.array(shape=("n >= 2", "h", "h"), dtype=np.float32), objective=arg.choice(("local", "global")),
         lr=arg.positive(), steps=arg.count(high=_MAX_DIM), batch=arg.count(low=2, high=_MAX_DIM), seed=arg.seed())
def train_dim(images: np.ndarray, objective: str = "local", steps: int = 300, batch: int = 64,
              lr: float = 2e-3, seed: int = 0, channels: int = 32,
              stride: int = 1) -> tuple[DIMEncoder, list[float]]:
    """Train a :class:`DIMEncoder` on square ``images`` (n >= 2, h, h: one image has no negatives)
    with the local or global loss (InfoNCE over batches of ``min(batch, n)`` images)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder = DIMEncoder(channels=channels, size=images.shape[1], stride=stride)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    data = torch.from_numpy(images)[:, None]
    losses = []
    for _ in range(steps):
        idx = torch.from_numpy(rng.choice(len(images), size=min(batch, len(images)), replace=False))
        g, local = encoder(data[idx])
        loss = (_local_dim_loss(g, local) if objective == "local"
                else _global_dim_loss(g, encoder.whole_map(data[idx])))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return encoder, losses


@checked(images=arg.array(shape=(None, 8, 8)))
def train_local_dim(images: np.ndarray, steps: int = 300, batch: int = 64, lr: float = 2e-3,
                    seed: int = 0) -> tuple[DIMEncoder, list[float]]:
    """Train a :class:`DIMEncoder` on 8x8 ``images`` (n, 8, 8) with the local loss."""
    return train_dim(images, "local", steps=steps, batch=batch, lr=lr, seed=seed)


@checked(encoder=arg.instance(DIMEncoder),
         images=arg.array(shape=(None, "encoder.size", "encoder.size"), dtype=np.float32))
def encode(encoder: DIMEncoder, images: np.ndarray) -> np.ndarray:
    """Global codes (n, code) of square ``images`` (n, h, h) of the encoder's size, without gradients."""
    with torch.no_grad():
        return encoder(torch.from_numpy(images)[:, None])[0].numpy().astype(np.float64)


@checked(ax=arg.axes(), true_mi=arg.array(shape=("M",)), curves=arg.mapping(item=arg.array(shape=("M",))))
def plot_mi_estimates(ax, true_mi, curves: dict, ceilings=(16,)) -> None:
    """Each estimator's value against the true MI, with the diagonal and the ``log N`` ceilings."""
    top = 1.1 * float(true_mi.max())
    ax.plot([0, top], [0, top], color="gray", lw=3, alpha=0.5, label="estimate = true MI")
    for (name, values), marker in zip(curves.items(), "os^vDP"):
        ax.plot(true_mi, values, marker=marker, ms=4, label=name)
    for N in ceilings:
        ax.axhline(math.log(N), color="gray", lw=0.7, ls=":")
        ax.text(0.75 * top, math.log(N) + 0.05, rf"ceiling $\log {N}$", fontsize=9, color="gray")
    ax.set(xlabel="true mutual information (nats)", ylabel="estimate (nats)",
           xlim=(0, top), ylim=(0, top))
    ax.legend(fontsize=8, loc="upper left")


@checked(ax=arg.axes(), accuracies=arg.mapping(item=arg.array(ndim=1)), baselines=arg.mapping(item=arg.real()))
def plot_probe_comparison(ax, accuracies: dict, baselines: dict) -> None:
    """Per-seed probe accuracies as dots with their mean as a bar; ``baselines`` as dashed lines."""
    for k, (name, values) in enumerate(accuracies.items()):      # values: (seeds,)
        ax.bar(k, values.mean(), color=f"C{k}", alpha=0.4, width=0.6)
        ax.plot(np.full(len(values), k), values, "o", color=f"C{k}", ms=5)
    for (name, value), style in zip(baselines.items(), ["--", ":"]):
        ax.axhline(value, color="black", ls=style, lw=1, label=name)
    ax.set_xticks(range(len(accuracies)), list(accuracies))
    ax.set(ylabel="linear-probe test accuracy", ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)

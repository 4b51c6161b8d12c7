"""Energy-based models: Langevin sampling (ULA, MALA), two-phase gradients, PCD and a torch EBM.

A density ``q(x) = exp(-U(x)) / Z``. The unadjusted Langevin algorithm (ULA)
``x <- x - (eps/2) grad U(x) + sqrt(eps) xi`` has ``exp(-U)`` as its stationary law as eps -> 0;
MALA adds a Metropolis test that removes the O(eps) bias. Maximum likelihood needs only samples:
``grad_theta NLL = E_data[grad_theta U] - E_model[grad_theta U]``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mlnotes.validate import checked, arg

__all__ = ["langevin", "mala", "hist_tv", "grid_nll_and_grad", "pcd_quadratic", "MLPEnergy",
           "langevin_torch", "ReplayBuffer", "train_ebm", "tilted_well_fit", "energy_grid",
           "plot_energy_samples"]

Tensor = torch.Tensor
ArrayFn = Callable[[np.ndarray], np.ndarray]


# Langevin step size and number of steps, and an optional noise scale (sqrt(eps) by default).
_STEPS = dict(eps=arg.positive(), n_steps=arg.int(0, 10 ** 6), noise=arg.optional(arg.positive(allow_zero=True)))


@checked(grad_U=arg.callable(), rng=arg.generator(), x0=arg.array(min_ndim=1), **_STEPS)
def langevin(grad_U: ArrayFn, x0: np.ndarray, eps: float, n_steps: int, rng: np.random.Generator,
             noise: float | None = None) -> np.ndarray:
    """ULA: ``n_steps`` of ``x <- x - (eps/2) grad_U(x) + noise * xi``, ``noise = sqrt(eps)`` by default.

    A smaller ``noise`` samples a colder law, approximately ``exp(-U / T)`` with ``T = noise^2 / eps``.
    """
    noise = np.sqrt(eps) if noise is None else noise
    x = x0.copy()
    for _ in range(n_steps):
        x = x - 0.5 * eps * grad_U(x) + noise * rng.standard_normal(x.shape)
    return x


@checked(U=arg.callable(), grad_U=arg.callable(), rng=arg.generator(), x0=arg.array(min_ndim=1),
         eps=arg.positive(), n_steps=arg.int(0, 10 ** 6))
def mala(U: ArrayFn, grad_U: ArrayFn, x0: np.ndarray, eps: float, n_steps: int,
         rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Metropolis-adjusted Langevin for independent 1-D particles: (samples, acceptance rate).

    Proposal ``y = x - (eps/2) grad U(x) + sqrt(eps) xi``; accept with probability
    ``min(1, exp(-U(y) + U(x)) q(x|y) / q(y|x))``, ``q(y|x) = N(y; x - (eps/2) grad U(x), eps)``.
    """
    x = x0.copy()
    accepted = 0.0

    def log_q(to, frm):
        return -((to - frm + 0.5 * eps * grad_U(frm)) ** 2) / (2 * eps)

    for _ in range(n_steps):
        y = x - 0.5 * eps * grad_U(x) + np.sqrt(eps) * rng.standard_normal(x.shape)
        log_alpha = -U(y) + U(x) + log_q(x, y) - log_q(y, x)
        accept = np.log(rng.random(x.shape)) < log_alpha
        x = np.where(accept, y, x)
        accepted += accept.mean()
    return x, accepted / max(n_steps, 1)


@checked(samples=arg.array(min_ndim=1), density=arg.callable(), bins=arg.count(high=10 ** 4), lo=arg.real(),
         hi=arg.real())
def hist_tv(samples: np.ndarray, density: ArrayFn, bins: int = 50, lo: float = -2.5, hi: float = 2.5) -> float:
    """Total-variation distance between the histogram of 1-D ``samples`` and the binned ``density``.

    ``density`` need not be normalised: bin masses are integrated on a fine grid and renormalised
    over [lo, hi]; samples outside the range count as mismatch.
    """
    samples = samples.ravel()
    if not hi > lo:
        raise ValueError(f"hi must be > lo, got lo={lo}, hi={hi}")
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.histogram(samples, bins=edges)[0] / samples.size
    fine = np.linspace(lo, hi, bins * 200 + 1)
    mids = 0.5 * (fine[1:] + fine[:-1])
    mass = density(mids).reshape(bins, 200).sum(1)
    mass = mass / mass.sum()
    return 0.5 * (np.abs(counts - mass).sum() + (1 - counts.sum()))


@checked(theta=arg.array(ndim=1), stats=arg.callable(), data=arg.array(ndim=1), grid=arg.array(shape=("g >= 2",)))
def grid_nll_and_grad(theta: np.ndarray, stats: Callable[[np.ndarray], np.ndarray], data: np.ndarray,
                      grid: np.ndarray) -> tuple[float, np.ndarray]:
    """For ``U_theta(x) = theta . T(x)``: the NLL ``mean U(data) + log Z`` (Z by the trapezoid rule on
    ``grid``) and its gradient by the two-phase formula ``E_data[T] - E_model[T]``.
    """
    T_data, T_grid = stats(data), stats(grid)
    if T_data.shape[1] != theta.size or T_grid.shape[1] != theta.size:
        raise ValueError("stats(x) must return (n, len(theta)) sufficient statistics")
    logw = -T_grid @ theta
    m = logw.max()
    w = np.exp(logw - m)
    dx = np.diff(grid)
    Z_scaled = np.sum(0.5 * (w[1:] + w[:-1]) * dx)
    nll = float((T_data @ theta).mean() + m + np.log(Z_scaled))
    weights = np.zeros_like(w)
    weights[1:] += 0.5 * w[1:] * dx
    weights[:-1] += 0.5 * w[:-1] * dx
    e_model = (weights / weights.sum()) @ T_grid
    return nll, T_data.mean(0) - e_model


@checked(data=arg.array(shape=("n >= 2",)), n_updates=arg.count(high=10 ** 6), n_chains=arg.count(high=10 ** 7),
         k=arg.int(0, 10 ** 4), eps=arg.positive(), lr=arg.positive(), seed=arg.seed())
def pcd_quadratic(data: np.ndarray, n_updates: int = 1500, n_chains: int = 1000, k: int = 10, eps: float = 0.01,
                  lr: float = 0.05, seed: int = 0) -> np.ndarray:
    """Persistent contrastive divergence for ``U(x) = a x^2 + b x``: trajectory of (a, b), shape (n_updates + 1, 2).

    Each update runs ``k`` ULA steps on persistent chains, then ``theta -= lr (E_data[T] - E_chains[T])``
    with ``T = (x^2, x)``. The MLE is ``a = 1 / (2 var)``, ``b = -2 a mean``.
    """
    rng = np.random.default_rng(seed)
    a, b = 0.5, 0.0
    chains = rng.standard_normal(n_chains)
    t_data = np.array([np.mean(data ** 2), np.mean(data)])
    path = [(a, b)]
    for _ in range(n_updates):
        chains = langevin(lambda x: 2 * a * x + b, chains, eps, k, rng)
        grad = t_data - np.array([np.mean(chains ** 2), np.mean(chains)])
        a, b = a - lr * grad[0], b - lr * grad[1]
        path.append((a, b))
    return np.array(path)


class MLPEnergy(nn.Module):
    """``U(x)``: an MLP ``d -> hidden -> hidden -> 1`` with SiLU; returns energies of shape (N,)."""

    @checked(d=arg.count(high=4096), hidden=arg.count(high=4096))
    def __init__(self, d: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


@checked(energy=arg.module(), x=arg.tensor(min_ndim=1), **_STEPS, grad_clip=arg.positive())
def langevin_torch(energy: nn.Module, x: Tensor, n_steps: int, eps: float, noise: float | None = None,
                   grad_clip: float = 10.0, generator: torch.Generator | None = None) -> Tensor:
    """ULA on a torch energy: returns detached samples. Each step starts from a fresh leaf
    (``x.detach().requires_grad_()``) so no graph grows across steps; gradients are clamped.
    """
    noise = eps ** 0.5 if noise is None else noise
    try:
        with torch.no_grad():
            energy(x[:1])
    except RuntimeError as exc:
        raise ValueError(f"x of shape {tuple(x.shape)} does not fit the energy: {exc}") from None
    for _ in range(n_steps):
        x = x.detach().requires_grad_()
        g = torch.autograd.grad(energy(x).sum(), x)[0].clamp(-grad_clip, grad_clip)
        x = x - 0.5 * eps * g + noise * torch.randn(x.shape, generator=generator)
    return x.detach()


class ReplayBuffer:
    """Past negative samples. ``sample(n)`` returns n starts: each a stored sample, or with
    probability ``reinit`` fresh uniform noise on [low, high]^d. ``push`` stores new samples (FIFO).
    """

    @checked(size=arg.count(high=10 ** 7), d=arg.count(high=4096), low=arg.real(), high=arg.real(),
             reinit=arg.probability())
    def __init__(self, size: int, d: int, low: float, high: float, reinit: float = 0.05,
                 generator: torch.Generator | None = None) -> None:
        if not high > low:
            raise ValueError(f"high must be > low, got low={low}, high={high}")
        self.low, self.high, self.reinit, self.gen = low, high, reinit, generator
        self.data = self._uniform(size, d)
        self.next = 0

    def _uniform(self, n: int, d: int) -> Tensor:
        return self.low + (self.high - self.low) * torch.rand(n, d, generator=self.gen)

    def sample(self, n: int) -> Tensor:
        idx = torch.randint(len(self.data), (n,), generator=self.gen)
        starts = self.data[idx].clone()
        fresh = torch.rand(n, generator=self.gen) < self.reinit
        starts[fresh] = self._uniform(int(fresh.sum()), self.data.shape[1])
        return starts

    def push(self, x: Tensor) -> None:
        n = min(len(x), len(self.data))
        pos = (self.next + torch.arange(n)) % len(self.data)
        self.data[pos] = x[:n].detach()
        self.next = int((self.next + n) % len(self.data))


@checked(energy=arg.module(), data_fn=arg.callable(), n_iter=arg.count(high=10 ** 6), batch=arg.count(high=10 ** 6),
         k=arg.int(0, 10 ** 4), eps=arg.positive(), reg=arg.positive(allow_zero=True), lr=arg.positive(),
         buffer=arg.optional(arg.instance(ReplayBuffer)))
def train_ebm(energy: nn.Module, data_fn: Callable[[int], Tensor], n_iter: int = 300, batch: int = 128,
              k: int = 20, eps: float = 0.01, reg: float = 0.1, lr: float = 1e-3,
              buffer: ReplayBuffer | None = None, generator: torch.Generator | None = None) -> list[float]:
    """Du & Mordatch style training: loss = mean U(real) - mean U(fake) + reg (U(real)^2 + U(fake)^2),
    negatives from ``k`` Langevin steps started from the replay buffer. Returns the losses.
    """
    buffer = buffer if buffer is not None else ReplayBuffer(10_000, 2, -4.0, 4.0, generator=generator)
    opt = torch.optim.Adam(energy.parameters(), lr=lr, betas=(0.0, 0.999))
    losses = []
    for _ in range(n_iter):
        fake = langevin_torch(energy, buffer.sample(batch), k, eps, generator=generator)
        buffer.push(fake)
        u_real, u_fake = energy(data_fn(batch)), energy(fake)
        loss = u_real.mean() - u_fake.mean() + reg * (u_real ** 2 + u_fake ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses



# region: buffer-ablation
@checked(data=arg.array(ndim=1), persistent=arg.array(ndim=1, bool_ok=True), k=arg.int(0, 10 ** 4), eps=arg.positive(),
         lr=arg.positive(), seed=arg.seed(), n_chains=arg.count(high=10 ** 7), n_updates=arg.count(high=10 ** 6))
def tilted_well_fit(data: np.ndarray, persistent: np.ndarray, n_updates: int = 1000,
                    n_chains: int = 1000, k: int = 20, eps: float = 0.01, lr: float = 0.5,
                    seed: int = 0) -> np.ndarray:
    """Fit the tilt ``theta`` of ``U(x) = 2 (x^2 - 1)^2 + theta x`` by the two-phase gradient.

    One run per entry of ``persistent`` (S,), side by side: ``True`` keeps each run's chains
    between updates (a replay buffer with no restarts); ``False`` starts every update's ``k``
    ULA steps from fresh uniform noise on [-3, 3] (no buffer). Update:
    ``theta -= lr (mean(data) - mean(negatives))``. Returns the paths of theta (n_updates + 1, S).
    """
    keep = persistent.astype(bool)[:, None]
    rng = np.random.default_rng(seed)
    theta = np.zeros((len(keep), 1))                                       # (S, 1)
    chains = rng.uniform(-3, 3, (len(keep), n_chains))
    path = [theta[:, 0].copy()]
    for _ in range(n_updates):
        chains = np.where(keep, chains, rng.uniform(-3, 3, chains.shape))
        chains = langevin(lambda x: 8 * x * (x ** 2 - 1) + theta, chains, eps, k, rng)
        theta = theta - lr * (data.mean() - chains.mean(1, keepdims=True))
        path.append(theta[:, 0].copy())
    return np.array(path)
# endregion



@checked(energy=arg.module(), lim=arg.positive(), n=arg.int(2, 2000))
def energy_grid(energy: nn.Module, lim: float = 4.0, n: int = 120) -> np.ndarray:
    """Energies of a 2-D ``energy`` on an ``n x n`` grid over [-lim, lim]^2 (rows: x2)."""
    g = np.linspace(-lim, lim, n)
    XX, YY = np.meshgrid(g, g)
    with torch.no_grad():
        grid = torch.tensor(np.stack([XX.ravel(), YY.ravel()], 1), dtype=torch.float32)
        return energy(grid).numpy().reshape(n, n)


@checked(ax=arg.axes(), UU=arg.array(ndim=2), points=arg.tensor(ndim=2, shape=(None, 2)),
         modes=arg.tensor(ndim=2, shape=(None, 2)), lim=arg.positive(), title=arg.instance(str))
def plot_energy_samples(ax, UU: np.ndarray, points: Tensor, modes: Tensor, title: str,
                        lim: float = 4.0):
    """Energy map ``UU`` from :func:`energy_grid` (dark: low), samples (white), modes (+)."""
    im = ax.imshow(UU, extent=(-lim, lim, -lim, lim), origin="lower", cmap="viridis")
    ax.scatter(*points.numpy().T, s=2, color="white", alpha=0.6)
    ax.scatter(*modes.numpy().T, marker="+", s=80, color="#d55e00")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title, xlim=(-lim, lim), ylim=(-lim, lim))
    ax.grid(False)
    return im

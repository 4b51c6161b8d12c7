"""A small MLP variational autoencoder (and its plain-autoencoder twin) for 8x8 digits, in torch.

Holds the Gaussian KL term, the reparameterized sampler, the model and a short training loop.

Conventions (the usual source of silent bugs): the encoder predicts ``mu`` and ``log_var``
(log sigma^2, clamped to [-10, 10]); the KL term is **summed over latent dimensions and averaged
over the batch**; the reconstruction term is a Bernoulli negative log-likelihood (binary
cross-entropy on logits), summed over the 64 pixels and averaged over the batch, in nats.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlnotes.validate import checked, arg

__all__ = ["kl_std_normal", "reparameterize", "MLPVAE", "train_vae",
           "evaluate", "decode_grid", "jitter_reconstruction", "draw_ellipses",
           "log_px_estimates", "ConditionalVAE", "train_cvae", "sample_images", "code_holes"]

LOG_VAR_RANGE = (-10.0, 10.0)




# A diagonal Gaussian's mean and log-variance, same shape (..., k).
_GAUSS = dict(mu=arg.tensor(min_ndim=1, floating=True), log_var=arg.tensor(shape="mu.shape", floating=True))
_DATA = arg.tensor(shape=(None, "model.d_in"))                 # rows of a model's input width


@checked(**_GAUSS)
def kl_std_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag e^log_var) || N(0, I))`` per row, summed over the last dimension.

    ``0.5 * sum(mu^2 + sigma^2 - log sigma^2 - 1)``: the second moment ``mu^2 + sigma^2``
    minus the log-variance minus 1, halved. Shapes (..., k) -> (...).
    """
    return 0.5 * (mu ** 2 + log_var.exp() - log_var - 1).sum(-1)


def _simple_regularizer(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """The naive "pull every ellipse to the unit circle" penalty ``||mu||^2 + ||sigma - 1||^2`` per row."""
    return (mu ** 2 + (torch.exp(0.5 * log_var) - 1) ** 2).sum(-1)


@checked(**_GAUSS)
def reparameterize(mu: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``z = mu + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)``: a sample that gradients can pass."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + torch.exp(0.5 * log_var) * eps


class MLPVAE(nn.Module):
    """Encoder ``d_in -> d_hidden -> (mu, log_var)`` and decoder ``d_latent -> d_hidden -> d_in`` logits.

    ``variational=False`` gives the plain autoencoder: ``z = mu``, no noise, no KL.
    """

    @checked(d_in=arg.count(high=4096), d_hidden=arg.count(high=4096), d_latent=arg.count(high=4096), seed=arg.seed(),
             variational=arg.bool())
    def __init__(self, d_in: int = 64, d_hidden: int = 128, d_latent: int = 2, variational: bool = True,
                 seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)  # parameter initialization only
        self.d_in, self.d_latent, self.variational = d_in, d_latent, bool(variational)
        self.encoder = nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, 2 * d_latent))
        self.decoder = nn.Sequential(nn.Linear(d_latent, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_in))

    @checked(x=arg.tensor(shape=(None, "self.d_in"), floating=True))
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, log_var)``, each (batch, d_latent); log_var is clamped to ``LOG_VAR_RANGE``."""
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(*LOG_VAR_RANGE)

    @checked(z=arg.tensor(shape=("...", "self.d_latent"), floating=True))
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits (batch, d_in); ``torch.sigmoid`` gives the Bernoulli means."""
        return self.decoder(z)

    @checked(regularizer=arg.choice(("kl", "simple")), beta=arg.positive(allow_zero=True))
    def loss(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None,
             regularizer: str = "kl") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(rec + beta * reg, rec, reg)``, batch means; rec = BCE summed over pixels (nats).

        ``regularizer`` is ``"kl"`` (the VAE) or ``"simple"`` (``||mu||^2 + ||sigma - 1||^2``).
        For the plain autoencoder reg is 0 and z = mu.
        """
        mu, log_var = self.encode(x)
        if self.variational:
            z = reparameterize(mu, log_var, generator)
            reg = (kl_std_normal if regularizer == "kl" else _simple_regularizer)(mu, log_var).mean()
        else:
            z, reg = mu, torch.zeros((), dtype=mu.dtype)
        rec = F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(-1).mean()
        return rec + beta * reg, rec, reg


@checked(model=arg.instance(MLPVAE), X=_DATA, steps=arg.count(high=10 ** 6), lr=arg.positive(),
         batch_size=arg.count(high=10 ** 6), beta=arg.positive(allow_zero=True),
         regularizer=arg.choice(("kl", "simple")), log_every=arg.count(high=10 ** 6), seed=arg.seed())
def train_vae(model: MLPVAE, X: torch.Tensor, steps: int = 500, lr: float = 3e-3, batch_size: int = 256,
              beta: float = 1.0, seed: int = 0, regularizer: str = "kl", log_every: int = 25) -> dict[str, list[float]]:
    """Adam on random minibatches of ``X`` (rows in [0, 1]); returns ``{"step", "rec", "reg"}`` batch values."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"step": [], "rec": [], "reg": []}
    for step in range(1, steps + 1):
        idx = torch.randint(0, X.shape[0], (min(batch_size, X.shape[0]),), generator=gen)
        total, rec, reg = model.loss(X[idx], beta=beta, generator=gen, regularizer=regularizer)
        opt.zero_grad()
        total.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            history["step"].append(step)
            history["rec"].append(rec.item())
            history["reg"].append(reg.item())
    return history


@torch.no_grad()
@checked(model=arg.instance(MLPVAE), X=_DATA, seed=arg.seed())
def evaluate(model: MLPVAE, X: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Mean reconstruction BCE from mu (``rec_mu``), from a sample (``rec_sample``), mean KL and mean sigma."""
    mu, log_var = model.encode(X)
    gen = torch.Generator().manual_seed(seed)
    z = reparameterize(mu, log_var, gen) if model.variational else mu

    def bce(z_: torch.Tensor) -> float:
        return F.binary_cross_entropy_with_logits(model.decode(z_), X, reduction="none").sum(-1).mean().item()

    return {"rec_mu": bce(mu), "rec_sample": bce(z),
            "kl": kl_std_normal(mu, log_var).mean().item() if model.variational else float("nan"),
            "mean_sigma": torch.exp(0.5 * log_var).mean().item() if model.variational else 0.0}


@torch.no_grad()
@checked(model=arg.instance(MLPVAE), lim=arg.positive(), steps=arg.int(2, 1000))
def decode_grid(model: MLPVAE, lim: float = 3.0, steps: int = 15) -> np.ndarray:
    """Decode a ``steps x steps`` grid over ``[-lim, lim]^2`` (2-D latent): Bernoulli means (steps^2, d_in).

    Row r of the grid has z_2 = +lim ... -lim from top to bottom; columns run z_1 = -lim ... +lim.
    """
    if model.d_latent != 2:
        raise ValueError(f"model must have a 2-D latent space, got d_latent={model.d_latent}")
    axis = torch.linspace(-lim, lim, steps)
    z2, z1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return torch.sigmoid(model.decode(torch.stack([z1.ravel(), z2.ravel()], dim=1))).numpy()


@torch.no_grad()
@checked(model=arg.instance(MLPVAE), X=_DATA, radius=arg.positive(allow_zero=True), seed=arg.seed())
def jitter_reconstruction(model: MLPVAE, X: torch.Tensor, radius: float, seed: int = 0) -> float:
    """Mean BCE (nats) when decoding ``mu + radius * std(mu) * eps`` instead of ``mu``.

    ``std(mu)`` is the per-dimension spread of the codes over ``X``, which makes the jitter
    comparable between an autoencoder (arbitrary code scale) and a VAE.
    """
    mu, _ = model.encode(X)
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype)
    z = mu + radius * mu.std(0) * eps
    return F.binary_cross_entropy_with_logits(model.decode(z), X, reduction="none").sum(-1).mean().item()


@checked(ax=arg.axes(), mu=arg.array(shape=(None, 2)), sigma=arg.array(shape="mu.shape", low=0), n_std=arg.positive())
def draw_ellipses(ax, mu: np.ndarray, sigma: np.ndarray, n_std: float = 2.0, **kw) -> None:
    """Draw axis-aligned ellipses with centres ``mu`` (m, 2) and semi-axes ``n_std * sigma`` (m, 2)."""
    from matplotlib.patches import Ellipse

    style = {"fill": False, "lw": 0.8, "color": "black", "alpha": 0.7} | kw
    for (x, y), (sx, sy) in zip(mu, sigma):
        ax.add_patch(Ellipse((x, y), 2 * n_std * sx, 2 * n_std * sy, **style))


# region: importance-sampling
@torch.no_grad()
@checked(model=arg.instance(MLPVAE), X=_DATA, K=arg.int(1, 10 ** 5), seed=arg.seed())
def log_px_estimates(model: MLPVAE, X: torch.Tensor, K: int = 1000,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-image ELBO and importance-sampled ``log p(x)`` (nats), each (N,).

    With ``z_k ~ q(z|x)``, ``w_k = p(x|z_k) p(z_k) / q(z_k|x)``:
    ELBO = mean_k log w_k (a lower bound on log p(x) by Jensen), and
    ``log (1/K) sum_k w_k`` (IWAE) is a tighter lower bound that reaches log p(x) as K grows.
    """
    if not model.variational:
        raise TypeError("model must be a variational MLPVAE (variational=True)")
    mu, log_var = model.encode(X)                                     # (N, k)
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn((K, *mu.shape), generator=gen, dtype=mu.dtype)  # (K, N, k)
    z = mu + torch.exp(0.5 * log_var) * eps
    log_px_z = -F.binary_cross_entropy_with_logits(
        model.decode(z), X.expand(K, -1, -1), reduction="none").sum(-1)   # (K, N)
    log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_qz = torch.distributions.Normal(mu, torch.exp(0.5 * log_var)).log_prob(z).sum(-1)
    log_w = log_px_z + log_pz - log_qz                                # (K, N)
    iwae = torch.logsumexp(log_w, 0) - np.log(K)
    return log_w.mean(0).numpy(), iwae.numpy()
# endregion


class ConditionalVAE(nn.Module):
    """A conditional VAE: encoder ``q(z | x, y)`` and decoder ``p(x | z, y)`` both see the class
    ``y`` as a one-hot vector; the prior stays ``N(0, I)``. Generating class ``y`` means
    decoding ``z ~ N(0, I)`` together with ``y``.
    """

    @checked(seed=arg.seed(), n_classes=arg.int(2, 4096), d_latent=arg.int(1, 4096), d_in=arg.count(high=4096),
             d_hidden=arg.count(high=4096))
    def __init__(self, n_classes: int = 10, d_in: int = 64, d_hidden: int = 128,
                 d_latent: int = 2, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.n_classes = n_classes
        self.d_latent = d_latent
        self.encoder = nn.Sequential(nn.Linear(d_in + n_classes, d_hidden), nn.ReLU(),
                                     nn.Linear(d_hidden, 2 * d_latent))
        self.decoder = nn.Sequential(nn.Linear(d_latent + n_classes, d_hidden), nn.ReLU(),
                                     nn.Linear(d_hidden, d_in))

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Pixel logits (N, d_in) for codes ``z`` (N, k) and integer classes ``y`` (N,)."""
        return self.decoder(torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], -1))

    def loss(self, x: torch.Tensor, y: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Negative ELBO of ``log p(x | y)``, batch mean (nats)."""
        h = self.encoder(torch.cat([x, F.one_hot(y, self.n_classes).to(x.dtype)], -1))
        mu, log_var = h.chunk(2, dim=-1)
        log_var = log_var.clamp(*LOG_VAR_RANGE)
        z = reparameterize(mu, log_var, generator)
        rec = F.binary_cross_entropy_with_logits(self.decode(z, y), x, reduction="none")
        return (rec.sum(-1) + kl_std_normal(mu, log_var)).mean()


@checked(X=arg.tensor(shape=("n", 64)), y=arg.array(shape=("n",), integer=True, low=0, high=9),
         batch_size=arg.count(high=10 ** 6), lr=arg.positive(), steps=arg.count(high=10 ** 6))
def train_cvae(X: torch.Tensor, y: np.ndarray, steps: int = 400, seed: int = 0,
               lr: float = 3e-3, batch_size: int = 256) -> ConditionalVAE:
    """Adam on the conditional negative ELBO over minibatches of (``X`` (N, 64), ``y`` (N,))."""
    y = torch.as_tensor(y)
    model = ConditionalVAE(seed=seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, len(X), (batch_size,), generator=gen)
        loss = model.loss(X[idx], y[idx], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
@checked(model=arg.instance((MLPVAE, ConditionalVAE)), n=arg.int(1, 10 ** 5), scale=arg.positive(), seed=arg.seed(),
         labels=arg.optional(arg.array(shape=("n",), integer=True)))
def sample_images(model: nn.Module, n: int, seed: int = 0, labels: np.ndarray | None = None,
                  scale: float = 1.0) -> np.ndarray:
    """Bernoulli means (n, 64) decoded from ``z ~ N(0, scale^2 I)`` (with ``labels`` for a CVAE)."""
    gen = torch.Generator().manual_seed(seed)
    z = scale * torch.randn(n, model.d_latent, generator=gen)
    if labels is None:
        return torch.sigmoid(model.decode(z)).numpy()
    labels = torch.as_tensor(labels)
    return torch.sigmoid(model.decode(z, labels)).numpy()


@torch.no_grad()
@checked(model=arg.instance(MLPVAE), X=_DATA, radius=arg.positive(), gap=arg.positive(), steps=arg.int(2, 1000))
def code_holes(model: MLPVAE, X: torch.Tensor, radius: float = 2.0, gap: float = 0.3,
               steps: int = 41) -> tuple[float, np.ndarray, np.ndarray]:
    """Holes in a 2-D code space, measured on the *standardized* codes ``(mu - mean) / std``.

    A grid point inside the disk of ``radius`` (standard deviations) is a hole when no code lies
    within ``gap`` of it. Returns (fraction of holes, standardized codes (N, 2), hole points (h, 2)).
    Standardizing first makes an autoencoder's arbitrary code scale comparable with a VAE's.
    """
    if model.d_latent != 2:
        raise ValueError(f"model must have a 2-D latent space, got d_latent={model.d_latent}")
    mu = model.encode(X)[0]
    codes = ((mu - mu.mean(0)) / mu.std(0)).numpy()                   # (N, 2)
    axis = np.linspace(-radius, radius, steps)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    grid = grid[np.linalg.norm(grid, axis=1) <= radius]                # points in the disk
    nearest = np.sqrt(((grid[:, None, :] - codes[None]) ** 2).sum(-1)).min(1)
    holes = grid[nearest > gap]
    return len(holes) / len(grid), codes, holes

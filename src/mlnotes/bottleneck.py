"""The variational information bottleneck (VIB): closed forms for a linear-Gaussian encoder and a
small VIB classifier in torch.

For ``x ~ N(0, s^2)`` and the encoder ``p(z | x) = N(a x, sigma^2)``, everything is Gaussian:
the marginal is ``p(z) = N(0, v)`` with ``v = a^2 s^2 + sigma^2``, and

* ``I(X; Z) = 0.5 log(v / sigma^2)`` (:func:`gaussian_mi_linear`),
* ``E_x KL(p(z|x) || N(0, 1)) = 0.5 (v - log sigma^2 - 1)`` (:func:`expected_kl_linear`),
* ``KL(p(z) || N(0, 1)) = 0.5 (v - log v - 1)`` (:func:`marginal_kl_linear`),

so ``E_x KL = I + KL(p(z) || q)`` >= I, with equality exactly when ``v = 1``.

"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlnotes.vae import kl_std_normal, reparameterize
from mlnotes.validate import checked, arg

__all__ = ["gaussian_mi_linear", "expected_kl_linear", "marginal_kl_linear", "VIBClassifier",
           "train_vib"]


# The linear-Gaussian channel x ~ N(0, s^2), z | x ~ N(a x, sigma^2).
_CHANNEL = dict(a=arg.real(), s=arg.positive(), sigma=arg.positive())


@checked(**_CHANNEL)
def gaussian_mi_linear(a: float, s: float, sigma: float) -> float:
    """Mutual information ``I(X; Z)`` in nats for ``x ~ N(0, s^2)``, ``z | x ~ N(a x, sigma^2)``."""
    return 0.5 * float(np.log1p(a ** 2 * s ** 2 / sigma ** 2))


@checked(**_CHANNEL)
def expected_kl_linear(a: float, s: float, sigma: float) -> float:
    """``E_x KL(N(a x, sigma^2) || N(0, 1))`` in nats: the VIB / VAE penalty, an upper bound on I(X; Z)."""
    return 0.5 * (a ** 2 * s ** 2 + sigma ** 2 - np.log(sigma ** 2) - 1)


@checked(**_CHANNEL)
def marginal_kl_linear(a: float, s: float, sigma: float) -> float:
    """``KL(p(z) || N(0, 1))`` with ``p(z) = N(0, a^2 s^2 + sigma^2)``: the slack of the bound."""
    v = a ** 2 * s ** 2 + sigma ** 2
    return 0.5 * (v - np.log(v) - 1)


class VIBClassifier(nn.Module):
    """``x -> MLP -> (mu, log_var) -> z -> linear -> class logits``, with a KL(p(z|x) || N(0, I)) output.

    ``forward(x, sample=None)`` returns ``(logits, kl)`` with ``kl`` per row (batch,). ``sample``
    defaults to ``self.training``: noise during training, the mean ``mu`` at evaluation.
    """

    @checked(d_in=arg.count(high=4096), d_hidden=arg.count(high=4096), d_z=arg.count(high=4096),
             n_classes=arg.int(2, 4096), seed=arg.seed())
    def __init__(self, d_in: int = 64, d_hidden: int = 128, d_z: int = 8, n_classes: int = 10, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.d_in, self.d_z = d_in, d_z
        self.encoder = nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, 2 * d_z))
        self.classifier = nn.Linear(d_z, n_classes)

    @checked(x=arg.tensor(shape=(None, "self.d_in")))
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor, sample: bool | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encode(x)
        sample = self.training if sample is None else sample
        z = reparameterize(mu, log_var, generator) if sample else mu
        return self.classifier(z), kl_std_normal(mu, log_var)


@checked(model=arg.instance(VIBClassifier), X=arg.tensor(shape=("n", "model.d_in")),
         y=arg.tensor(shape=("n",), integer=True, low=0, high="model.classifier.out_features - 1"),
         lam=arg.positive(allow_zero=True), steps=arg.count(high=10**6), batch_size=arg.count(high=10**6),
         seed=arg.seed(), lr=arg.positive())
def train_vib(model: VIBClassifier, X: torch.Tensor, y: torch.Tensor, lam: float, steps: int = 600,
              lr: float = 3e-3, batch_size: int = 128, seed: int = 0) -> VIBClassifier:
    """Minimize ``cross-entropy + lam * mean KL`` with Adam on minibatches; returns the model in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, X.shape[0], (min(batch_size, X.shape[0]),), generator=gen)
        logits, kl = model(X[idx], generator=gen)
        loss = F.cross_entropy(logits, y[idx]) + lam * kl.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()

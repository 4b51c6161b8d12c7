"""Self-supervised learning on small images: contrastive (SimCLR-style) and masked-pixel pretext tasks.

Holds

- ``info_nce``: the NT-Xent / InfoNCE loss over 2N augmented views, self-similarity masked;
- ``info_nce_mi_estimate``: ``log N - cross-entropy`` of a critic matrix (a lower bound on MI);
- ``augment_digits``: vectorized augmentations of 8x8 digits (shift, contrast, noise, pixel dropout);
- ``MLPEncoder``, ``train_contrastive`` and ``train_masked``: two pretext tasks on the same encoder shape;
- ``masked_mse``: reconstruction error on hidden pixels; ``linear_probe``: logistic regression on
  a fixed number of labels per class.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlnotes.validate import checked, arg

__all__ = ["MLPEncoder", "augment_digits", "draw_ssl_taxonomy", "info_nce", "info_nce_mi_estimate", "linear_probe",
           "masked_mse", "train_contrastive", "train_masked"]


@checked(z1=arg.tensor(shape=("N >= 2", "k")), z2=arg.tensor(shape=("N", "k")), tau=arg.real(0.0, low_open=True))
def info_nce(z1: torch.Tensor, z2: torch.Tensor, tau: float = 0.2) -> torch.Tensor:
    """SimCLR's NT-Xent loss for N pairs of views ``z1``, ``z2`` (N, k).

    The 2N embeddings are L2-normalised, compared by cosine / ``tau``; each view's positive is its
    partner, its 2N - 2 negatives are all other views (the self-similarity is masked out):
    ``loss = mean_i -log exp(s_i,p(i)) / sum_{j != i} exp(s_ij)``.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, partner)


@checked(critic_matrix=arg.array(shape=("N", "N"), torch_ok=True))
def info_nce_mi_estimate(critic_matrix: np.ndarray | torch.Tensor) -> float:
    """``log N - CE``: the InfoNCE lower bound on MI from an (N, N) critic matrix (diagonal = positives).

    Never exceeds ``log N``.
    """
    s = torch.as_tensor(critic_matrix, dtype=torch.float64)
    n = s.shape[0]
    return math.log(n) - F.cross_entropy(s, torch.arange(n)).item()


@checked(x=arg.tensor(shape=(None, 64)), shift=arg.int(0, 3), noise=arg.real(0.0), drop=arg.probability(high_open=True),
         contrast=arg.array(shape=(2,), low=1e-9), generator=arg.optional(arg.instance(torch.Generator)))
def augment_digits(x: torch.Tensor, shift: int = 1, noise: float = 0.1, drop: float = 0.2,
                   contrast: tuple[float, float] = (0.6, 1.4), generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """A random view of each digit in ``x`` (B, 64) in [0, 1], vectorized over the batch.

    Each image is shifted by up to ``shift`` pixels in each direction (zero padding), scaled by a
    contrast factor drawn uniformly from ``contrast``, perturbed with Gaussian noise of std
    ``noise``, and a fraction ``drop`` of its pixels is set to 0. Returns (B, 64).
    """
    if contrast[0] > contrast[1]:
        raise ValueError(f"contrast must be (low, high) with low <= high, got {tuple(contrast)}")
    b = x.shape[0]
    img = F.pad(x.view(b, 1, 8, 8), (shift, shift, shift, shift))
    patches = img.unfold(2, 8, 1).unfold(3, 8, 1)  # (B, 1, 2s+1, 2s+1, 8, 8): every shifted crop
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=generator)
    out = patches[torch.arange(b), 0, dy, dx].reshape(b, 64)
    scale = torch.empty(b, 1).uniform_(contrast[0], contrast[1], generator=generator)
    out = out * scale + noise * torch.randn(out.shape, generator=generator)
    keep = torch.rand(out.shape, generator=generator) >= drop
    return out * keep


class MLPEncoder(nn.Module):
    """64 -> ``hidden`` -> ``code`` MLP encoder with an optional projection head ``code -> code``."""

    @checked(hidden=arg.count(high=10**5), code=arg.count(high=10**5), head=arg.bool())
    def __init__(self, hidden: int = 256, code: int = 64, head: bool = True):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, code))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(code, code)) if head else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    @checked(X=arg.array(shape=(None, 64), dtype=np.float32))
    def features(self, X: np.ndarray) -> np.ndarray:
        """Representations (n, code) of images ``X`` (n, 64), without gradients (no head)."""
        with torch.no_grad():
            return self.body(torch.from_numpy(X)).numpy().astype(np.float64)


def _adam_steps(model: nn.Module, X: np.ndarray, batch_loss, steps: int, batch: int, lr: float,
                gen: torch.Generator) -> list[float]:
    """``steps`` Adam updates of ``model`` on minibatches of ``X`` drawn with ``gen``; the losses."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.from_numpy(X)
    losses = []
    for _ in range(steps):
        loss = batch_loss(data[torch.randint(0, len(data), (min(batch, len(data)),), generator=gen)])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@checked(X=arg.array(shape=("n >= 2", 64), dtype=np.float32), tau=arg.real(0.0, low_open=True),
         lr=arg.real(0.0, low_open=True), steps=arg.count(high=10**6), batch=arg.count(high=10**6), seed=arg.seed())
def train_contrastive(X: np.ndarray, steps: int = 400, batch: int = 256, tau: float = 0.2, lr: float = 1e-3,
                      seed: int = 0, shift: int = 1, noise: float = 0.1, drop: float = 0.2
                      ) -> tuple[MLPEncoder, list[float]]:
    """SimCLR on ``X`` (n, 64): two fresh augmentations per image per step, NT-Xent on the head's output.

    ``shift``, ``noise`` and ``drop`` are passed to :func:`augment_digits`.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MLPEncoder()

    def batch_loss(xb: torch.Tensor) -> torch.Tensor:
        z1 = model.head(model(augment_digits(xb, shift=shift, noise=noise, drop=drop, generator=gen)))
        z2 = model.head(model(augment_digits(xb, shift=shift, noise=noise, drop=drop, generator=gen)))
        return info_nce(z1, z2, tau)

    return model, _adam_steps(model, X, batch_loss, steps, batch, lr, gen)


class MaskedPixelModel(nn.Module):
    """Encoder (64 -> 256 -> 64) plus decoder (64 -> 64); input is the masked image and the mask."""

    def __init__(self):
        super().__init__()
        self.encoder = MLPEncoder(head=False)
        self.encoder.body[0] = nn.Linear(128, 256)
        self.decoder = nn.Sequential(nn.ReLU(), nn.Linear(64, 64))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(torch.cat([x * ~mask, mask.float()], dim=1)))

    @checked(X=arg.array(shape=(None, 64), dtype=np.float32))
    def features(self, X: np.ndarray) -> np.ndarray:
        """Representations (n, 64) of unmasked images ``X`` (n, 64)."""
        X = torch.from_numpy(X)
        with torch.no_grad():
            return self.encoder(torch.cat([X, torch.zeros_like(X)], dim=1)).numpy().astype(np.float64)


@checked(X=arg.array(shape=(None, 64), dtype=np.float32), lr=arg.real(0.0, low_open=True),
         mask_ratio=arg.probability(low_open=True, high_open=True), steps=arg.count(high=10**6),
         batch=arg.count(high=10**6), seed=arg.seed())
def train_masked(X: np.ndarray, mask_ratio: float = 0.3, steps: int = 400, batch: int = 256, lr: float = 1e-3,
                 seed: int = 0) -> tuple[MaskedPixelModel, list[float]]:
    """Masked-pixel pretext task: hide a random ``mask_ratio`` of pixels, predict them (MSE on hidden ones)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MaskedPixelModel()

    def batch_loss(xb: torch.Tensor) -> torch.Tensor:
        mask = torch.rand(xb.shape, generator=gen) < mask_ratio
        return ((model(xb, mask) - xb)[mask] ** 2).mean()

    return model, _adam_steps(model, X, batch_loss, steps, batch, lr, gen)


@checked(model=arg.instance(MaskedPixelModel), X=arg.array(shape=(None, 64), dtype=np.float32),
         mask_ratio=arg.probability(low_open=True, high_open=True), seed=arg.seed(),
         fill=arg.optional(arg.array(shape=(64,), dtype=np.float32)))
def masked_mse(model: MaskedPixelModel, X: np.ndarray, mask_ratio: float = 0.3, seed: int = 0,
               fill: np.ndarray | None = None) -> tuple[float, float]:
    """(model MSE, mean-imputation MSE) on randomly hidden pixels of ``X`` (n, 64).

    Mean imputation fills each hidden pixel with ``fill[pixel]``: pass the training-set pixel
    means; by default the means over ``X`` itself (which peeks at the evaluation data).
    """
    X = torch.as_tensor(X)  # (n, 64)
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(X.shape, generator=gen) < mask_ratio
    with torch.no_grad():
        pred = model(X, mask)
    if fill is None:
        means = X.mean(dim=0, keepdim=True)
    else:
        means = torch.as_tensor(fill).reshape(1, -1)
    baseline = means.expand_as(X)
    return float(((pred - X)[mask] ** 2).mean()), float(((baseline - X)[mask] ** 2).mean())


@checked(features_train=arg.array(shape=("N", "D")), y_train=arg.array(shape=("N",), integer=True),
         features_test=arg.array(shape=("M", "D")), y_test=arg.array(shape=("M",), integer=True),
         labels_per_class=arg.optional(arg.count(high=10**6)), seed=arg.seed())
def linear_probe(features_train: np.ndarray, y_train: np.ndarray, features_test: np.ndarray,
                 y_test: np.ndarray, labels_per_class: int | None = None, seed: int = 0) -> float:
    """Test accuracy of a logistic regression trained on ``labels_per_class`` examples per class.

    ``None`` uses every training example. The labelled subset is drawn with ``seed``; features are
    standardised with its statistics. BLAS runs single-threaded during the fit: on a busy small
    machine, multi-threaded BLAS made these tiny fits several times slower.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    if labels_per_class is None:
        picked = np.arange(len(y_train))
    else:
        rng = np.random.default_rng(seed)
        chosen = []
        for c in np.unique(y_train):
            idx = np.flatnonzero(y_train == c)
            if len(idx) < labels_per_class:
                raise ValueError(f"class {c} has only {len(idx)} examples, fewer than "
                                 f"labels_per_class={labels_per_class}")
            chosen.extend(rng.choice(idx, size=labels_per_class, replace=False))
        picked = np.array(chosen)
    with threadpool_limits(limits=1):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
        probe.fit(features_train[picked], y_train[picked])
        return float(probe.score(features_test, y_test))


_FAMILIES = {
    "Generative": ["autoregressive: GPT, PixelCNN", "autoencoding: DAE, BERT (MLM)", "flows, VAE",
                   "hybrid: MADE, XLNet"],
    "Contrastive": ["context-instance: jigsaw, rotation", "MI maximisation: DIM, CPC",
                    "instance-instance: MoCo, SimCLR"],
    "Adversarial": ["GAN", "BiGAN / ALI", "ELECTRA"],
}


@checked(ax=arg.axes())
def draw_ssl_taxonomy(ax) -> None:
    """The survey's three families of self-supervised methods, with example models, as boxes."""
    from matplotlib.patches import FancyBboxPatch
    from mlnotes.plotting import COLORS

    ax.set(xlim=(0, 3), ylim=(-0.2, 5.4))
    ax.axis("off")
    ax.add_patch(FancyBboxPatch((0.95, 4.55), 1.1, 0.6, boxstyle="round,pad=0.03", fc="white",
                                ec="black"))
    ax.text(1.5, 4.85, "Self-supervised learning", ha="center", va="center", fontsize=11,
            weight="bold")
    for i, (name, examples) in enumerate(_FAMILIES.items()):
        color = COLORS[i]
        ax.annotate("", xy=(0.5 + i, 3.95), xytext=(1.5, 4.5),
                    arrowprops={"arrowstyle": "->", "color": "gray"})
        ax.add_patch(FancyBboxPatch((0.1 + i, 3.35), 0.8, 0.55, boxstyle="round,pad=0.03",
                                    fc=color, alpha=0.3, ec=color))
        ax.text(0.5 + i, 3.62, name, ha="center", va="center", fontsize=10, weight="bold")
        for j, example in enumerate(examples):
            ax.text(0.5 + i, 2.7 - 0.65 * j, example, ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": color})

"""Vector quantization for two-stage image generation (VQ-VAE / VQGAN) and a tiny token prior.

- :func:`quantize` assigns each vector to its nearest codeword with the expansion
  ``||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2``; :func:`straight_through` copies gradients past it;
  :func:`vq_losses` are the codebook and commitment terms; :func:`adaptive_weight` is VQGAN's
  balance between reconstruction and adversarial gradients at the decoder's last layer.
- :func:`kmeans_codebook`, :func:`image_patches` and :func:`patches_to_images` turn 8x8 digits
  into 4x4 token maps and back.
- :class:`TinyVQVAE` and :func:`train_vqvae` are a trained stage 1 at CPU scale: a conv encoder,
  a codebook, a conv decoder, straight-through gradients and the commitment loss, on 8x8 digits.
- :func:`train_code_prior`, :func:`code_bits` and :func:`sample_codes` are stage 2: a causal
  Transformer (``mlnotes.transformer.TinyGPT``) over the raster-ordered codes.
- :class:`GridPrior` is a count-based stage-2 baseline: a smoothed count model of each token
  given its position and its left and upper neighbours, sampled in raster order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits
from torch import nn

from mlnotes.transformer import TinyGPT
from mlnotes.validate import check_axes, check_int, checked, arg

__all__ = ["quantize", "straight_through", "vq_losses", "adaptive_weight", "kmeans_codebook",
           "image_patches", "patches_to_images", "GridPrior", "TinyVQVAE", "train_vqvae",
           "train_code_prior", "code_bits", "sample_codes", "plot_image_rows", "plot_voronoi"]

Tensor = torch.Tensor


@checked(z=arg.tensor(shape=("N", "D")), codebook=arg.tensor(shape=("K", "D")))
def quantize(z: Tensor, codebook: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest codeword for each row: ``z`` (N, D), ``codebook`` (K, D) -> (idx (N,) long, z_q (N, D)).

    ``idx_n = argmin_k ||z_n||^2 - 2 z_n . e_k + ||e_k||^2`` (ties: smallest k); ``z_q = codebook[idx]``.
    """
    d2 = (z ** 2).sum(1, keepdim=True) - 2 * z @ codebook.T + (codebook ** 2).sum(1)[None]
    idx = d2.argmin(dim=1)
    return idx, codebook[idx]


@checked(z=arg.tensor(min_ndim=1), zq=arg.tensor(shape="z.shape"))
def straight_through(z: Tensor, zq: Tensor) -> Tensor:
    """``z + sg(z_q - z)``: forward value ``z_q``, gradient passed unchanged to ``z``."""
    return z + (zq - z).detach()


@checked(z=arg.tensor(min_ndim=1), zq=arg.tensor(shape="z.shape"), beta=arg.positive(allow_zero=True), legacy=arg.bool())
def vq_losses(z: Tensor, zq: Tensor, beta: float = 0.25, legacy: bool = False) -> tuple[Tensor, Tensor]:
    """(codebook term, commitment term), both mean squared errors with stop-gradients.

    ``legacy=False`` (VQ-VAE paper): ``||sg[z] - z_q||^2`` and ``beta ||z - sg[z_q]||^2``.
    ``legacy=True`` (taming-transformers' default flag): beta moves to the codebook term.
    """
    codebook = ((z.detach() - zq) ** 2).mean()
    commit = ((z - zq.detach()) ** 2).mean()
    return (beta * codebook, commit) if legacy else (codebook, beta * commit)


@checked(rec_loss=arg.tensor(ndim=0), gan_loss=arg.tensor(ndim=0), last_layer=arg.tensor(), delta=arg.positive())
def adaptive_weight(rec_loss: Tensor, gan_loss: Tensor, last_layer: Tensor, delta: float = 1e-6) -> Tensor:
    """VQGAN's ``lambda = ||grad_{G_L} L_rec|| / (||grad_{G_L} L_GAN|| + delta)``, detached.

    ``last_layer`` is the weight of the decoder's last layer; both losses must depend on it.
    """
    g_rec = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_gan = torch.autograd.grad(gan_loss, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_gan.norm() + delta)).detach()


@checked(X=arg.array(ndim=2), seed=arg.seed())
def kmeans_codebook(X: np.ndarray, K: int, seed: int = 0) -> np.ndarray:
    """K-means centroids (K, D) of the rows of ``X`` (N, D): a codebook with no dead codes.

    scikit-learn's KMeans (one k-means++ start), run on one thread so that the result does not
    depend on how many threads the machine grants (parallel sums round differently).
    """
    K = check_int("K", K, 1, len(np.unique(X, axis=0)))             # at most the distinct rows
    with threadpool_limits(limits=1):
        return KMeans(n_clusters=int(K), n_init=1, random_state=seed).fit(X).cluster_centers_


@checked(images=arg.array(ndim=3), p=arg.int(low=1, high="min(images.shape[1:])"))
def image_patches(images: np.ndarray, p: int = 2) -> np.ndarray:
    """Non-overlapping ``p x p`` patches: (N, H, W) -> (N, (H/p)(W/p), p*p), raster order."""
    n, h, w = images.shape
    if h % p or w % p:
        raise ValueError(f"patch size p={p} must divide H={h} and W={w}")
    return images.reshape(n, h // p, p, w // p, p).transpose(0, 1, 3, 2, 4).reshape(n, (h // p) * (w // p), p * p)


@checked(H=arg.int(1, 4096), W=arg.int(1, 4096), p=arg.int(low=1, high="min(H, W)"),
         patches=arg.array(shape=(None, "(H // p) * (W // p)", "p * p")))
def patches_to_images(patches: np.ndarray, H: int, W: int, p: int = 2) -> np.ndarray:
    """Inverse of :func:`image_patches`: (N, (H/p)(W/p), p*p) -> (N, H, W)."""
    if H % p or W % p:
        raise ValueError(f"patch size p={p} must divide H={H} and W={W}")
    n = patches.shape[0]
    return patches.reshape(n, H // p, W // p, p, p).transpose(0, 1, 3, 2, 4).reshape(n, H, W)


class GridPrior:
    """Stage-2 prior over (h, w) token maps with K codes, raster order:
    ``p(s_ij | position ij, left s_i(j-1), up s_(i-1)j)`` from counts plus ``alpha`` smoothing.
    Missing neighbours at the border use the extra symbol K.
    """

    @checked(K=arg.int(1, 4096), h=arg.int(1, 64), w=arg.int(1, 64), alpha=arg.positive())
    def __init__(self, K: int, h: int, w: int, alpha: float = 0.1) -> None:
        self.K, self.h, self.w = K, h, w
        self.counts = np.full((h, w, K + 1, K + 1, K), alpha)

    def _context(self, maps: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        left = maps[:, i, j - 1] if j > 0 else np.full(len(maps), self.K)
        up = maps[:, i - 1, j] if i > 0 else np.full(len(maps), self.K)
        return left, up

    @checked(maps=arg.array(shape=(None, "self.h", "self.w"), integer=True, low=0, high="self.K - 1"))
    def fit(self, maps: np.ndarray) -> "GridPrior":
        """Add the counts of token maps (N, h, w) with values in [0, K)."""
        for i in range(self.h):
            for j in range(self.w):
                left, up = self._context(maps, i, j)
                np.add.at(self.counts[i, j], (left, up, maps[:, i, j]), 1.0)
        return self

    @checked(maps=arg.array(shape=(None, "self.h", "self.w"), integer=True, low=0, high="self.K - 1"))
    def log2_prob(self, maps: np.ndarray) -> np.ndarray:
        """Bits ``log2 p(s)`` of each map (N,)."""
        total = np.zeros(len(maps))
        for i in range(self.h):
            for j in range(self.w):
                left, up = self._context(maps, i, j)
                c = self.counts[i, j, left, up]
                total += np.log2(c[np.arange(len(maps)), maps[:, i, j]] / c.sum(1))
        return total

    @checked(n=arg.count(high=10**6), rng=arg.generator())
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` token maps (n, h, w), drawn token by token in raster order."""
        maps = np.zeros((n, self.h, self.w), dtype=np.int64)
        for i in range(self.h):
            for j in range(self.w):
                left, up = self._context(maps, i, j)
                p = self.counts[i, j, left, up]
                p = p / p.sum(1, keepdims=True)
                u = rng.random((n, 1))
                maps[:, i, j] = np.minimum((np.cumsum(p, 1) < u).sum(1), self.K - 1)
        return maps


class TinyVQVAE(nn.Module):
    """Stage 1 at CPU scale: (B, 1, 8, 8) images -> (B, 4, 4) codes -> (B, 1, 8, 8) images.

    Encoder ``E``: 3x3 conv, ReLU, 2x2 stride-2 conv to ``D`` channels (one latent per 2x2 block,
    receptive field 4x4). Codebook: ``K`` rows of size ``D``. Decoder ``G``: 2x2 stride-2
    transposed conv, ReLU, 3x3 conv, sigmoid.
    """

    @checked(K=arg.int(1, 2 ** 16), D=arg.int(1, 4096), hidden=arg.int(1, 4096), straight=arg.bool())
    def __init__(self, K: int = 32, D: int = 4, hidden: int = 32, straight: bool = True) -> None:
        super().__init__()
        self.K, self.D, self.straight = K, D, straight
        self.encoder = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(hidden, D, 2, stride=2))
        self.decoder = nn.Sequential(nn.ConvTranspose2d(D, hidden, 2, stride=2), nn.ReLU(),
                                     nn.Conv2d(hidden, 1, 3, padding=1))
        self.codebook = nn.Parameter(torch.zeros(K, D))

    def encode(self, x: Tensor) -> Tensor:
        """Encoder outputs as rows (B*h*w, D), raster order within each image."""
        z = self.encoder(x)                                        # (B, D, h, w)
        return z.permute(0, 2, 3, 1).reshape(-1, self.D)           # (B*h*w, D)

    def decode_codes(self, codes: Tensor) -> Tensor:
        """Images (B, 1, 8, 8) from code grids (B, 4, 4)."""
        zq = self.codebook[codes]                                  # (B, h, w, D)
        return torch.sigmoid(self.decoder(zq.permute(0, 3, 1, 2)))

    # region: vqvae-forward
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(reconstruction (B, 1, 8, 8), codes (B, 4, 4), codebook + commitment loss)."""
        B, _, H, W = x.shape
        z = self.encode(x)                                         # (B*16, D)
        idx, zq = quantize(z, self.codebook)                       # nearest codeword
        codebook_loss, commit_loss = vq_losses(z, zq, beta=0.25)
        z_in = straight_through(z, zq) if self.straight else zq.detach()
        grid = z_in.reshape(B, H // 2, W // 2, self.D).permute(0, 3, 1, 2)
        x_hat = torch.sigmoid(self.decoder(grid))                  # (B, 1, H, W)
        return x_hat, idx.reshape(B, H // 2, W // 2), codebook_loss + commit_loss
    # endregion


@checked(images=arg.array(shape=(None, 8, 8)), seeds=arg.sequence(arg.seed()), steps=arg.int(1, 10 ** 6),
         batch=arg.int(1, 10 ** 6), lr=arg.positive())
def train_vqvae(images: np.ndarray, seeds: tuple[int, ...] = (0,), K: int = 32, D: int = 4,
                hidden: int = 32, steps: int = 150, batch: int = 128,
                lr: float = 1e-2) -> tuple[list[TinyVQVAE], np.ndarray]:
    """Train one :class:`TinyVQVAE` per seed on ``images`` (N, 8, 8) in [0, 1] with Adam.

    Loss per minibatch: pixel MSE + codebook term + 0.25 * commitment term. The codebook starts
    on encoder outputs of random training images (so no codeword starts far from the data).
    Each seed has its own initialisation and minibatches. Returns (models, losses (n_seeds, steps)).
    """
    X = torch.tensor(images,
                     dtype=torch.float32)[:, None]                    # (N, 1, 8, 8)
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = TinyVQVAE(K, D, hidden)
        with torch.no_grad():
            z = model.encode(X[torch.randperm(len(X))[:512]])
            model.codebook.copy_(z[torch.randperm(len(z))[:K]])
        models.append(model)
    losses = np.zeros((len(seeds), steps))
    for s, (seed, model) in enumerate(zip(seeds, models)):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for step in range(steps):
            xb = X[torch.randint(0, len(X), (batch,), generator=gen)]  # (batch, 1, 8, 8)
            x_hat, _, vq_loss = model(xb)
            loss = F.mse_loss(x_hat, xb) + vq_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[s, step] = loss.item()
    return [m.eval() for m in models], losses


def _bos_inputs(codes: Tensor, K: int) -> Tensor:
    """Prepend the start symbol K and drop the last code: model input for next-code prediction."""
    return torch.cat([torch.full((len(codes), 1), K), codes[:, :-1]], dim=1)


@checked(K=arg.int(1, 2 ** 16), codes=arg.array(ndim=2, integer=True, low=0, high="K - 1"), seed=arg.seed(),
         steps=arg.int(1, 10 ** 6), d=arg.int(4, 1024, multiple_of=4), lr=arg.positive())
def train_code_prior(codes: np.ndarray, K: int, steps: int = 150, d: int = 32, seed: int = 0,
                     lr: float = 3e-3) -> TinyGPT:
    """Stage 2: a causal TinyGPT over raster-ordered code sequences ``codes`` (N, L), values < K.

    Cross-entropy of each code given the codes before it (a start symbol K comes first).
    """
    codes = torch.as_tensor(codes)
    torch.manual_seed(seed)
    gpt = TinyGPT(vocab_size=K + 1, d=d, n_layer=1, n_head=4,
                  max_len=codes.shape[1])
    inputs, gen = _bos_inputs(codes, K), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(gpt.parameters(), lr=lr)
    for _ in range(steps):
        i = torch.randint(0, len(codes), (128,), generator=gen)
        logits = gpt(inputs[i])[..., :K]                           # (128, L, K)
        loss = F.cross_entropy(logits.reshape(-1, K), codes[i].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return gpt.eval()


@checked(gpt=arg.instance(TinyGPT),
         codes=arg.array(shape=(None, "L <= gpt.max_len"), integer=True, low=0, high="gpt.vocab_size - 2"))
def code_bits(gpt: TinyGPT, codes: np.ndarray) -> np.ndarray:
    """Code length ``-log2 p(s)`` in bits of each sequence (N,) under a trained prior."""
    K = gpt.vocab_size - 1
    codes = torch.as_tensor(codes)
    with torch.no_grad():
        logp = torch.log_softmax(gpt(_bos_inputs(codes, K))[..., :K], -1)
    picked = logp.gather(-1, codes[..., None])[..., 0]              # (N, L)
    return (-picked.sum(1) / np.log(2)).numpy()


@checked(gpt=arg.instance(TinyGPT), n=arg.int(1, 10 ** 5), length=arg.int(low=1, high="gpt.max_len"), seed=arg.seed())
def sample_codes(gpt: TinyGPT, n: int, length: int, seed: int = 0) -> np.ndarray:
    """``n`` code sequences (n, length) drawn one code at a time from the prior (ancestral)."""
    K, gen = gpt.vocab_size - 1, torch.Generator().manual_seed(seed)
    seq = torch.full((n, 1), K)
    with torch.no_grad():
        for _ in range(length):
            probs = torch.softmax(gpt(seq)[:, -1, :K], -1)          # (n, K)
            seq = torch.cat([seq, torch.multinomial(probs, 1, generator=gen)], 1)
    return seq[:, 1:].numpy()


def _mosaic(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """(N, H, W) -> one (H + 2 pad, N (W + 2 pad)) strip with white gaps."""
    padded = np.pad(np.asarray(images), ((0, 0), (pad, pad), (pad, pad)))
    return np.concatenate(list(padded), axis=1)


@checked(rows=arg.mapping(item=arg.array(ndim=3)))
def plot_image_rows(axes, rows: dict[str, np.ndarray]) -> None:
    """One labelled strip of 8x8 images per axes: ``rows`` maps a label to images (N, H, W)."""
    axes = [check_axes("axes", ax) for ax in np.atleast_1d(axes)]
    for ax, (label, imgs) in zip(axes, rows.items()):
        ax.imshow(_mosaic(imgs), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set(xticks=[], yticks=[])
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
        ax.grid(False)


@checked(ax=arg.axes(), codebook=arg.tensor(ndim=2, shape=(None, 2)), points=arg.array(ndim=2, shape=(None, 2)),
         lim=arg.array(shape=(2,)), title=arg.text(min_len=0))
def plot_voronoi(ax, codebook: Tensor, points: np.ndarray, lim: tuple[float, float],
                 title: str) -> None:
    """Voronoi cells of a 2-D ``codebook`` (K, 2) over a square, the data and the codewords."""
    lim = tuple(lim)
    if not lim[0] < lim[1]:
        raise ValueError(f"lim must be (low, high) with low < high, got {lim}")
    axis = np.linspace(*lim, 200)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    cells = quantize(torch.tensor(grid, dtype=codebook.dtype), codebook)[0].numpy()
    ax.imshow(cells.reshape(200, 200), extent=(*lim, *lim), origin="lower", cmap="tab20",
              alpha=0.35, interpolation="nearest")
    ax.scatter(*np.asarray(points).T, s=2, color="black", alpha=0.4)
    ax.scatter(*codebook.numpy().T, s=50, marker="X", color="#d55e00", edgecolor="white")
    ax.set(title=title, xlabel="latent dim 1", ylabel="latent dim 2")
    ax.grid(False)

"""Vector quantization for two-stage image generation (VQ-VAE / VQGAN) and a tiny token prior.

Chapter: generative/vqgan.

- :func:`quantize` assigns each vector to its nearest codeword with the expansion
  ``||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2``; :func:`straight_through` copies gradients past it;
  :func:`vq_losses` are the codebook and commitment terms; :func:`adaptive_weight` is VQGAN's
  balance between reconstruction and adversarial gradients at the decoder's last layer.
- :func:`kmeans_codebook`, :func:`image_patches` and :func:`patches_to_images` turn 8x8 digits
  into 4x4 token maps and back.
- :class:`GridPrior` is a stage-2 prior over token maps: a smoothed count model of each token
  given its position and its left and upper neighbours, sampled in raster order.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

Tensor = torch.Tensor


def quantize(z: Tensor, codebook: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest codeword for each row: ``z`` (N, D), ``codebook`` (K, D) -> (idx (N,) long, z_q (N, D)).

    ``idx_n = argmin_k ||z_n||^2 - 2 z_n . e_k + ||e_k||^2`` (ties: smallest k); ``z_q = codebook[idx]``.
    """
    if not isinstance(z, Tensor) or not isinstance(codebook, Tensor):
        raise TypeError("z and codebook must be torch tensors")
    if z.dim() != 2 or codebook.dim() != 2 or z.shape[1] != codebook.shape[1]:
        raise ValueError(f"need z (N, D) and codebook (K, D) with equal D, got {tuple(z.shape)} and {tuple(codebook.shape)}")
    if codebook.shape[0] == 0:
        raise ValueError("codebook must hold at least one codeword")
    d2 = (z ** 2).sum(1, keepdim=True) - 2 * z @ codebook.T + (codebook ** 2).sum(1)[None]
    idx = d2.argmin(dim=1)
    return idx, codebook[idx]


def straight_through(z: Tensor, zq: Tensor) -> Tensor:
    """``z + sg(z_q - z)``: forward value ``z_q``, gradient passed unchanged to ``z``."""
    if not isinstance(z, Tensor) or not isinstance(zq, Tensor) or z.shape != zq.shape:
        raise ValueError("z and zq must be torch tensors of the same shape")
    return z + (zq - z).detach()


def vq_losses(z: Tensor, zq: Tensor, beta: float = 0.25, legacy: bool = False) -> tuple[Tensor, Tensor]:
    """(codebook term, commitment term), both mean squared errors with stop-gradients.

    ``legacy=False`` (VQ-VAE paper): ``||sg[z] - z_q||^2`` and ``beta ||z - sg[z_q]||^2``.
    ``legacy=True`` (taming-transformers' default flag): beta moves to the codebook term.
    """
    if not isinstance(z, Tensor) or not isinstance(zq, Tensor) or z.shape != zq.shape:
        raise ValueError("z and zq must be torch tensors of the same shape")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    codebook = ((z.detach() - zq) ** 2).mean()
    commit = ((z - zq.detach()) ** 2).mean()
    return (beta * codebook, commit) if legacy else (codebook, beta * commit)


def adaptive_weight(rec_loss: Tensor, gan_loss: Tensor, last_layer: Tensor, delta: float = 1e-6) -> Tensor:
    """VQGAN's ``lambda = ||grad_{G_L} L_rec|| / (||grad_{G_L} L_GAN|| + delta)``, detached.

    ``last_layer`` is the weight of the decoder's last layer; both losses must depend on it.
    """
    if not all(isinstance(t, Tensor) for t in (rec_loss, gan_loss, last_layer)):
        raise TypeError("rec_loss, gan_loss and last_layer must be torch tensors")
    if rec_loss.dim() != 0 or gan_loss.dim() != 0:
        raise ValueError("rec_loss and gan_loss must be scalars")
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    g_rec = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_gan = torch.autograd.grad(gan_loss, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_gan.norm() + delta)).detach()


def kmeans_codebook(X: np.ndarray, K: int, seed: int = 0) -> np.ndarray:
    """K-means centroids (K, D) of the rows of ``X`` (N, D): a codebook with no dead codes.

    scikit-learn's KMeans (one k-means++ start), run on one thread so that the result does not
    depend on how many threads the machine grants (parallel sums round differently).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or not 1 <= K <= len(np.unique(X, axis=0)):
        raise ValueError(f"K must be an int in [1, number of distinct rows], got {K!r}")
    with threadpool_limits(limits=1):
        return KMeans(n_clusters=int(K), n_init=1, random_state=seed).fit(X).cluster_centers_


def image_patches(images: np.ndarray, p: int = 2) -> np.ndarray:
    """Non-overlapping ``p x p`` patches: (N, H, W) -> (N, (H/p)(W/p), p*p), raster order."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
    n, h, w = images.shape
    if isinstance(p, bool) or not isinstance(p, int) or p < 1 or h % p or w % p:
        raise ValueError(f"patch size p={p!r} must be a positive int dividing H={h} and W={w}")
    return images.reshape(n, h // p, p, w // p, p).transpose(0, 1, 3, 2, 4).reshape(n, (h // p) * (w // p), p * p)


def patches_to_images(patches: np.ndarray, H: int, W: int, p: int = 2) -> np.ndarray:
    """Inverse of :func:`image_patches`: (N, (H/p)(W/p), p*p) -> (N, H, W)."""
    patches = np.asarray(patches)
    if patches.ndim != 3 or H % p or W % p or patches.shape[1:] != ((H // p) * (W // p), p * p):
        raise ValueError(f"patches of shape {patches.shape} do not fit H={H}, W={W}, p={p}")
    n = patches.shape[0]
    return patches.reshape(n, H // p, W // p, p, p).transpose(0, 1, 3, 2, 4).reshape(n, H, W)


class GridPrior:
    """Stage-2 prior over (h, w) token maps with K codes, raster order:
    ``p(s_ij | position ij, left s_i(j-1), up s_(i-1)j)`` from counts plus ``alpha`` smoothing.
    Missing neighbours at the border use the extra symbol K.
    """

    def __init__(self, K: int, h: int, w: int, alpha: float = 0.1) -> None:
        if isinstance(K, bool) or not isinstance(K, int) or K < 1 or h < 1 or w < 1:
            raise ValueError(f"K, h, w must be positive ints, got {K!r}, {h!r}, {w!r}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.K, self.h, self.w = K, h, w
        self.counts = np.full((h, w, K + 1, K + 1, K), alpha)

    def _context(self, maps: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        left = maps[:, i, j - 1] if j > 0 else np.full(len(maps), self.K)
        up = maps[:, i - 1, j] if i > 0 else np.full(len(maps), self.K)
        return left, up

    def fit(self, maps: np.ndarray) -> "GridPrior":
        """Add the counts of token maps (N, h, w) with values in [0, K)."""
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[1:] != (self.h, self.w):
            raise ValueError(f"maps must have shape (N, {self.h}, {self.w}), got {maps.shape}")
        if maps.min() < 0 or maps.max() >= self.K:
            raise ValueError(f"token ids must lie in [0, {self.K})")
        for i in range(self.h):
            for j in range(self.w):
                left, up = self._context(maps, i, j)
                np.add.at(self.counts[i, j], (left, up, maps[:, i, j]), 1.0)
        return self

    def log2_prob(self, maps: np.ndarray) -> np.ndarray:
        """Bits ``log2 p(s)`` of each map (N,)."""
        maps = np.asarray(maps)
        total = np.zeros(len(maps))
        for i in range(self.h):
            for j in range(self.w):
                left, up = self._context(maps, i, j)
                c = self.counts[i, j, left, up]
                total += np.log2(c[np.arange(len(maps)), maps[:, i, j]] / c.sum(1))
        return total

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` token maps (n, h, w), drawn token by token in raster order."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        maps = np.zeros((n, self.h, self.w), dtype=np.int64)
        for i in range(self.h):
            for j in range(self.w):
                left, up = self._context(maps, i, j)
                p = self.counts[i, j, left, up]
                p = p / p.sum(1, keepdims=True)
                u = rng.random((n, 1))
                maps[:, i, j] = np.minimum((np.cumsum(p, 1) < u).sum(1), self.K - 1)
        return maps

"""Offline datasets: generated here, or shipped inside installed packages. Never downloaded.

Used across the book: digits (scikit-learn's bundled 8x8 images), binarized digits for
the generative chapters, small synthetic regression/classification sets.
"""

from __future__ import annotations

import numpy as np

from mlnotes.core import check_seed
from mlnotes.validate import check_int


def load_digits_scaled() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits: ``X`` of shape (1797, 64) in [0, 1], ``y`` of shape (1797,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data.astype(np.float64) / 16.0, digits.target.astype(np.int64)


def load_binarized_digits(threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Digits binarized at ``threshold``: ``X`` uint8 (1797, 64) of {0, 1}, ``y`` (1797,)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    X, y = load_digits_scaled()
    return (X > threshold).astype(np.uint8), y


def noisy_sine(n: int, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``x ~ U(0, 1)``, ``y = sin(2 pi x) + noise * N(0, 1)``; shapes (n,), (n,)."""
    n = check_int("n", n, 1)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(check_seed(seed))
    x = np.sort(rng.uniform(0.0, 1.0, n))
    return x, np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)


def gaussian_blobs(n: int, centers: np.ndarray, std: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points split evenly over Gaussian blobs at ``centers`` (k, d): ``X`` (n, d), ``y`` (n,)."""
    n = check_int("n", n, 1)
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[0] == 0:
        raise ValueError(f"centers must have shape (k, d) with k >= 1, got {centers.shape}")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    rng = np.random.default_rng(check_seed(seed))
    y = np.arange(n) % centers.shape[0]
    return centers[y] + std * rng.standard_normal((n, centers.shape[1])), y


def sample_image_gray(name: str = "china.jpg", size: int = 128) -> np.ndarray:
    """scikit-learn's bundled photo as a grayscale float image in [0, 1] of shape (size, size).

    The photo is centre-cropped to a square and average-pooled down to ``size``.
    """
    from sklearn.datasets import load_sample_image

    if name not in ("china.jpg", "flower.jpg"):
        raise ValueError(f"name must be 'china.jpg' or 'flower.jpg', got {name!r}")
    size = check_int("size", size, 8)
    image = load_sample_image(name).astype(np.float64).mean(axis=2) / 255.0
    side = min(image.shape)
    if size > side:
        raise ValueError(f"size must be <= {side} for {name}, got {size}")
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    square = image[top:top + side, left:left + side]
    factor = side // size
    square = square[: size * factor, : size * factor]
    return square.reshape(size, factor, size, factor).mean(axis=(1, 3))

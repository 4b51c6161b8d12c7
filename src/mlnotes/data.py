"""Offline datasets: generated here, or shipped inside installed packages. Never downloaded.

Digits (scikit-learn's bundled 8x8 images) and their binarized version, small synthetic
regression/classification sets, a bundled photo as a grayscale image, and gensim's bundled
Lee news corpus as text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlnotes.validate import checked, arg

__all__ = ["load_digits_scaled", "load_binarized_digits", "noisy_sine", "gaussian_blobs", "sample_image_gray",
           "lee_corpus"]


def load_digits_scaled() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits: ``X`` of shape (1797, 64) in [0, 1], ``y`` of shape (1797,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data.astype(np.float64) / 16.0, digits.target.astype(np.int64)


@checked(threshold=arg.probability(low_open=True, high_open=True))
def load_binarized_digits(threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Digits binarized at ``threshold``: ``X`` uint8 (1797, 64) of {0, 1}, ``y`` (1797,)."""
    X, y = load_digits_scaled()
    return (X > threshold).astype(np.uint8), y


@checked(n=arg.count(high=10**7), noise=arg.real(low=0), seed=arg.seed())
def noisy_sine(n: int, noise: float = 0.2, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``x ~ U(0, 1)``, ``y = sin(2 pi x) + noise * N(0, 1)``; shapes (n,), (n,)."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    return x, np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)


@checked(n=arg.count(high=10**7), centers=arg.array(ndim=2), std=arg.real(low=0, low_open=True), seed=arg.seed())
def gaussian_blobs(n: int, centers: np.ndarray, std: float = 1.0,
                   seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points split evenly over Gaussian blobs at ``centers`` (k, d): ``X`` (n, d), ``y`` (n,)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % centers.shape[0]
    return centers[y] + std * rng.standard_normal((n, centers.shape[1])), y


@checked(name=arg.choice(("china.jpg", "flower.jpg")), size=arg.count(low=8, high=427))
def sample_image_gray(name: str = "china.jpg", size: int = 128) -> np.ndarray:
    """scikit-learn's bundled photo as a grayscale float image in [0, 1] of shape (size, size).

    The photo is centre-cropped to a square and average-pooled down to ``size``.
    """
    from sklearn.datasets import load_sample_image

    image = load_sample_image(name).astype(np.float64).mean(axis=2) / 255.0
    side = min(image.shape)  # 427 for both photos
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    square = image[top:top + side, left:left + side]
    factor = side // size
    square = square[: size * factor, : size * factor]
    return square.reshape(size, factor, size, factor).mean(axis=(1, 3))


@checked(lower=arg.bool())
def lee_corpus(lower: bool = True) -> str:
    """Text of gensim's bundled ``lee_background.cor`` (300 Australian news stories, ~360 kB)."""
    from gensim.test.utils import datapath

    text = Path(datapath("lee_background.cor")).read_text(encoding="utf-8")
    return text.lower() if lower else text

from pathlib import Path

import numpy as np
import pytest
from adversarial_examples import Example
from sklearn.datasets import load_digits

from mlnotes.data import (gaussian_blobs, lee_corpus, load_binarized_digits, load_digits_scaled, noisy_sine,
                          sample_image_gray)

ADVERSARIAL = {
    "lee_corpus": Example(lower=True),
    "load_binarized_digits": Example(threshold=0.5),
    "noisy_sine": Example(n=20, noise=0.1, seed=0, accepts={"noise": "0"}),  # noise=0: noiseless
    "gaussian_blobs": Example(n=9, centers=np.array([[0.0, 0.0], [5.0, 5.0]]), std=0.5, seed=1,
                              accepts={"centers": "-1 0"}),  # any finite centres
    "sample_image_gray": Example(name="flower.jpg", size=16),
}


def test_digits_match_sklearn():
    X, y = load_digits_scaled()
    reference = load_digits()
    assert X.shape == (1797, 64) and X.min() == 0 and X.max() == 1
    np.testing.assert_array_equal(X * 16, reference.data)
    np.testing.assert_array_equal(y, reference.target)


def test_binarized_digits_are_binary_and_threshold_monotone():
    X_low, _ = load_binarized_digits(0.2)
    X_high, _ = load_binarized_digits(0.8)
    assert set(np.unique(X_low)) == {0, 1} and X_low.dtype == np.uint8
    assert (X_high <= X_low).all()


def test_generators_are_seeded_and_shaped():
    x1, y1 = noisy_sine(50, seed=1)
    x2, y2 = noisy_sine(50, seed=1)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == y1.shape == (50,) and np.all(np.diff(x1) >= 0)
    x, y = noisy_sine(1, noise=0.0)
    np.testing.assert_allclose(y, np.sin(2 * np.pi * x))
    X, y = gaussian_blobs(9, centers=[[0, 0], [5, 5], [-5, 5]], std=0.1)
    assert X.shape == (9, 2) and np.bincount(y).tolist() == [3, 3, 3]
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [5, 5], atol=0.2)


def test_sample_image():
    image = sample_image_gray(size=64)
    assert image.shape == (64, 64) and 0 <= image.min() and image.max() <= 1
    assert sample_image_gray("flower.jpg", size=8).shape == (8, 8)


@pytest.mark.parametrize("call, error", [
    (lambda: load_binarized_digits(1.0), ValueError),
    (lambda: load_binarized_digits(0), ValueError),
    (lambda: noisy_sine(0), ValueError),
    (lambda: noisy_sine(5.0), TypeError),
    (lambda: noisy_sine(5, noise=-1), ValueError),
    (lambda: noisy_sine(5, seed=-2), ValueError),
    (lambda: gaussian_blobs(5, centers=[1, 2]), ValueError),
    (lambda: gaussian_blobs(5, centers=np.zeros((0, 2))), ValueError),
    (lambda: gaussian_blobs(5, centers=[[0, 0]], std=0), ValueError),
    (lambda: sample_image_gray("cat.jpg"), ValueError),
    (lambda: sample_image_gray(size=4), ValueError),
    (lambda: sample_image_gray(size=10_000), ValueError),
])
def test_bad_inputs_are_rejected(call, error):
    with pytest.raises(error):
        call()


def test_lee_corpus_is_gensims_file():
    from gensim.test.utils import datapath

    raw = Path(datapath("lee_background.cor")).read_text(encoding="utf-8")
    assert lee_corpus(lower=False) == raw and lee_corpus() == raw.lower()
    with pytest.raises(TypeError, match="lower"):
        lee_corpus(lower="yes")

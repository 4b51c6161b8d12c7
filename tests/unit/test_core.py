import random

import numpy as np
import pytest
import torch

from adversarial_examples import Example
from mlnotes.core import _setup_torch_threads, check_seed, count_params, numerical_grad, seed_everything, setup_notebook

ADVERSARIAL = {
    "seed_everything": Example(seed=0),
    "setup_notebook": Example(seed=0, torch=False),
    "numerical_grad": Example(f=lambda: 0.0, x=None, fresh=lambda: {"x": np.zeros(2)}, idx=(0,), eps=1e-6,
                              accepts={"x": "ndim nan-array inf-array"}),  # any shape; NaN/inf propagate
    "count_params": Example(module=torch.nn.Linear(2, 3), trainable_only=True),
}


def test_seed_everything_makes_global_rngs_repeat():
    seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert first == (random.random(), np.random.rand(), torch.rand(1).item())


def test_setup_torch_threads_sets_one_thread():
    assert _setup_torch_threads(1) == 1 == torch.get_num_threads()


def test_setup_notebook_applies_style_and_seed():
    import matplotlib as mpl

    setup_notebook(seed=5, torch=True)
    assert mpl.rcParams["figure.facecolor"] == "white"
    assert torch.get_num_threads() == 1
    value = np.random.rand()
    setup_notebook(seed=5)
    assert np.random.rand() == value


def test_seed_none_means_fresh_entropy_everywhere():
    # core re-exports mlnotes.validate.check_seed: None gives a concrete, usable seed
    assert check_seed is __import__("mlnotes.validate", fromlist=["check_seed"]).check_seed
    seeds = {check_seed(None) for _ in range(3)}
    assert all(isinstance(s, int) and s >= 0 for s in seeds) and len(seeds) == 3
    seed_everything(None)


def test_count_params_counts_trainable_scalars():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2, bias=False))
    assert count_params(model) == 3 * 4 + 4 + 4 * 2
    model[0].weight.requires_grad_(False)
    assert count_params(model) == 24 - 12 and count_params(model, trainable_only=False) == 24
    with pytest.raises(TypeError, match="module"):
        count_params(np.zeros(3))


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError)])
def test_bad_seeds_are_rejected(seed, error):
    with pytest.raises(error, match="seed"):
        check_seed(seed)
    with pytest.raises(error, match="seed"):
        seed_everything(seed)
    with pytest.raises(error, match="seed"):
        setup_notebook(seed=seed)


def test_numerical_grad_matches_analytic_and_restores_x():
    x = np.array([1.0, -2.0, 3.0])
    assert numerical_grad(lambda: float(x @ x), x, (1,)) == pytest.approx(-4.0)
    assert x.tolist() == [1.0, -2.0, 3.0]
    W = np.arange(6.0).reshape(2, 3)
    assert numerical_grad(lambda: float(np.sin(W).sum()), W, (1, 2)) == pytest.approx(np.cos(5.0))


def test_numerical_grad_rejects_bad_input():
    with pytest.raises(TypeError, match="callable"):
        numerical_grad(3.0, np.zeros(2), (0,))
    with pytest.raises(TypeError, match="float numpy"):
        numerical_grad(lambda: 0.0, [0.0], (0,))
    with pytest.raises(TypeError, match="float numpy"):
        numerical_grad(lambda: 0.0, np.zeros(2, dtype=int), (0,))
    with pytest.raises(ValueError, match="eps"):
        numerical_grad(lambda: 0.0, np.zeros(2), (0,), eps=0)

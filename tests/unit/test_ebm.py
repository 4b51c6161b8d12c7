"""Tests for mlnotes.ebm: ULA, MALA, TV distance, two-phase gradient, PCD, torch EBM pieces."""

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from mlnotes.ebm import (MLPEnergy, ReplayBuffer, grid_nll_and_grad, hist_tv, langevin, langevin_torch, mala,
                         pcd_quadratic, train_ebm)

torch.set_num_threads(1)


def test_ula_bias_and_mala_exact():
    rng = np.random.default_rng(0)
    x = langevin(lambda x: x, rng.standard_normal(20_000), 0.5, 300, rng)
    assert abs(x.var() - 1 / (1 - 0.5 / 4)) < 0.04
    y, acc = mala(lambda x: x ** 2 / 2, lambda x: x, rng.standard_normal(20_000), 1.0, 200, rng)
    assert abs(y.var() - stats.norm.var()) < 0.04 and 0.8 < acc < 1.0
    assert np.array_equal(langevin(lambda x: x, np.ones(3), 0.1, 0, rng), np.ones(3))


def test_langevin_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="eps"):
        langevin(lambda x: x, np.zeros(2), 0.0, 5, rng)
    with pytest.raises(ValueError, match="n_steps"):
        langevin(lambda x: x, np.zeros(2), 0.1, -1, rng)
    with pytest.raises(TypeError, match="Generator"):
        langevin(lambda x: x, np.zeros(2), 0.1, 1, 0)
    with pytest.raises(ValueError, match="noise"):
        langevin(lambda x: x, np.zeros(2), 0.1, 1, rng, noise=-1.0)
    with pytest.raises(ValueError, match="eps"):
        mala(lambda x: x, lambda x: x, np.zeros(2), -1.0, 1, rng)


def test_hist_tv():
    rng = np.random.default_rng(1)
    exact = stats.norm.rvs(size=200_000, random_state=rng)
    assert hist_tv(exact, stats.norm.pdf, bins=40, lo=-5, hi=5) < 0.01
    assert hist_tv(exact + 1.0, stats.norm.pdf, bins=40, lo=-5, hi=5) > 0.3
    assert np.isclose(hist_tv(np.full(10, 100.0), stats.norm.pdf), 1.0)   # all mass outside the range
    with pytest.raises(ValueError, match="empty"):
        hist_tv(np.array([]), stats.norm.pdf)
    with pytest.raises(ValueError, match="bins"):
        hist_tv(exact, stats.norm.pdf, bins=0)


def test_grid_nll_matches_quad_and_finite_differences():
    T = lambda x: np.stack([x ** 2, x], axis=-1)
    theta = np.array([0.7, -0.4])
    data = np.random.default_rng(2).normal(size=100)
    grid = np.linspace(-12, 12, 40001)
    nll, grad = grid_nll_and_grad(theta, T, data, grid)
    Z = integrate.quad(lambda x: np.exp(-0.7 * x ** 2 + 0.4 * x), -np.inf, np.inf)[0]
    assert np.isclose(nll, (T(data) @ theta).mean() + np.log(Z), atol=1e-8)
    h = 1e-5
    fd = [(grid_nll_and_grad(theta + h * e, T, data, grid)[0] - grid_nll_and_grad(theta - h * e, T, data, grid)[0]) / (2 * h)
          for e in np.eye(2)]
    assert np.allclose(fd, grad, atol=1e-8)
    with pytest.raises(ValueError, match="sufficient statistics"):
        grid_nll_and_grad(np.zeros(3), T, data, grid)


def test_pcd_recovers_mle():
    data = np.random.default_rng(3).normal(-1.0, 0.5, 2000)
    path = pcd_quadratic(data, n_updates=1500, n_chains=500, k=10, eps=0.01, lr=0.05, seed=0)
    a, b = 1 / (2 * data.var()), data.mean() / data.var() * -1
    assert path.shape == (1501, 2)
    assert abs(path[-1, 0] / a - 1) < 0.1 and abs(path[-1, 1] / b - 1) < 0.1
    with pytest.raises(ValueError, match="1-D"):
        pcd_quadratic(np.zeros((2, 2)))


def test_torch_langevin_matches_numpy_drift_and_buffer():
    energy = MLPEnergy(d=2, hidden=8)
    x = torch.randn(4, 2)
    # with zero noise one step is exactly x - eps/2 grad U
    x_req = x.clone().requires_grad_()
    g = torch.autograd.grad(energy(x_req).sum(), x_req)[0]
    assert torch.allclose(langevin_torch(energy, x, 1, 0.1, noise=0.0), x - 0.05 * g.clamp(-10, 10), atol=1e-6)
    buf = ReplayBuffer(5, 2, -1.0, 1.0, reinit=0.0, generator=torch.Generator().manual_seed(0))
    buf.push(torch.full((3, 2), 7.0))
    assert (buf.data[:3] == 7.0).all() and buf.next == 3
    starts = buf.sample(100)
    assert starts.shape == (100, 2) and (starts.abs() <= 7).all()
    with pytest.raises(ValueError, match="reinit"):
        ReplayBuffer(5, 2, -1.0, 1.0, reinit=2.0)
    with pytest.raises(ValueError, match="eps"):
        langevin_torch(energy, x, 1, 0.0)


def test_train_ebm_lowers_energy_of_data():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    energy = MLPEnergy(d=2, hidden=16)
    data_fn = lambda n: torch.randn(n, 2, generator=g) * 0.3 + 2.0
    losses = train_ebm(energy, data_fn, n_iter=25, batch=32, k=5, eps=0.01, lr=3e-3, generator=g)
    with torch.no_grad():
        assert energy(torch.full((1, 2), 2.0)).item() < energy(torch.full((1, 2), -3.0)).item()
    assert len(losses) == 25
    with pytest.raises(ValueError, match="n_iter"):
        train_ebm(energy, data_fn, n_iter=0)


def test_tilted_well_fit_and_energy_grid():
    from mlnotes.ebm import MLPEnergy, energy_grid, tilted_well_fit
    data = np.random.default_rng(0).normal(1.0, 0.3, 500)
    paths = tilted_well_fit(data, np.array([True, False]), n_updates=5, n_chains=50)
    assert paths.shape == (6, 2) and np.all(paths[0] == 0) and np.isfinite(paths).all()
    grid = energy_grid(MLPEnergy(), lim=2.0, n=7)
    assert grid.shape == (7, 7) and np.isfinite(grid).all()
    with pytest.raises(ValueError, match="data"):
        tilted_well_fit(np.zeros((2, 2)), np.array([True]))
    with pytest.raises(TypeError, match="energy"):
        energy_grid("not a model")


# ----------------------------------------------------------------------------- bad input
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from adversarial_examples import Example  # noqa: E402

from mlnotes.ebm import MLPEnergy as _Energy, ReplayBuffer as _Buffer  # noqa: E402

_T = lambda x: np.stack([x ** 2, x], axis=-1)  # noqa: E731
ADVERSARIAL = {
    "langevin": Example(grad_U=lambda x: x, x0=np.zeros(4), eps=0.1, n_steps=3, noise=0.3,
                        fresh=lambda: {"rng": np.random.default_rng(0)},
                        accepts={"n_steps": "0", "noise": "0",
                                 "x0": "ndim"}),  # any array of particles
    "mala": Example(U=lambda x: x ** 2 / 2, grad_U=lambda x: x, x0=np.zeros(4), eps=0.1,
                    n_steps=3, fresh=lambda: {"rng": np.random.default_rng(0)},
                    accepts={"n_steps": "0", "x0": "ndim"}),  # any array of particles
    "hist_tv": Example(np.zeros(10), density=lambda x: np.exp(-x ** 2), bins=5, lo=-1.0, hi=1.0,
                       accepts={"lo": "-1 0", "hi": "0",
                                "samples": "ndim"}),  # samples are flattened by design
    "grid_nll_and_grad": Example(np.array([0.5, 0.0]), stats=_T, data=np.zeros(5),
                                 grid=np.linspace(-3, 3, 11), accepts={"theta": "-1 0"}),
    "pcd_quadratic": Example(np.array([0.0, 1.0, 2.0]), n_updates=2, n_chains=5, k=2, eps=0.01,
                             lr=0.05, seed=0, accepts={"k": "0"}),
    "MLPEnergy": Example(d=2, hidden=4),
    "langevin_torch": Example(x=torch.zeros(3, 2), n_steps=2, eps=0.01, noise=0.1,
                              grad_clip=5.0, fresh=lambda: {"energy": _Energy(2, 4)},
                              accepts={"n_steps": "0", "noise": "0"}),
    "ReplayBuffer": Example(size=10, d=2, low=-1.0, high=1.0, reinit=0.05,
                            accepts={"low": "-1 0", "high": "0", "reinit": "0"}),
    "train_ebm": Example(timeout=20, data_fn=lambda n: torch.zeros(n, 2), n_iter=2, batch=4, k=2, eps=0.01,
                         reg=0.1, lr=1e-3, fresh=lambda: {"energy": _Energy(2, 4),
                                                          "buffer": _Buffer(10, 2, -1.0, 1.0)},
                         accepts={"k": "0", "reg": "0", "buffer": "None"}),
    "tilted_well_fit": Example(np.zeros(5), np.array([True, False]), n_updates=2, n_chains=5,
                               k=2, eps=0.01, lr=0.5, seed=0, accepts={"k": "0"}),
    "energy_grid": Example(lim=2.0, n=5, fresh=lambda: {"energy": _Energy(2, 4)}),
    "plot_energy_samples": Example(UU=np.zeros((5, 5)), points=torch.zeros(3, 2),
                                   modes=torch.zeros(2, 2), title="t", lim=4.0,
                                   fresh=lambda: {"ax": plt.subplots()[1]},
                                   accepts={"title": "*"}),  # any title text
}

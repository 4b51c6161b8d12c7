"""Tests for mlnotes.reparameterization: Gaussian and categorical gradient estimators, straight-through."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

from mlnotes.reparameterization import (TEST_FUNCTIONS, draw_simplex, exact_categorical_grad,  # noqa: E402
                             gumbel_softmax_categorical, gumbel_softmax_st, pathwise_estimates,
                             reparam_grad, score_function_categorical, score_function_estimates,
                             score_function_grad, simplex_xy)
from mlnotes.prob import softmax  # noqa: E402

LOGITS = np.array([1.0, 0.2, -0.5, 2.0, 0.0])
REWARD = np.array([0.0, 1.0, 0.0, -1.0, 0.5])


@pytest.mark.parametrize("name", list(TEST_FUNCTIONS))
def test_estimators_unbiased_on_test_functions(name):
    f, f_prime, exact = TEST_FUNCTIONS[name]
    mu, sigma = 0.7, 1.3
    sf, _ = score_function_grad(f, mu, sigma, 400_000, 0)
    assert np.allclose(sf, exact(mu, sigma), atol=0.03)
    rp, _ = reparam_grad(f_prime, mu, sigma, 400_000, 0)
    if name == "1[z>0]":
        assert np.all(rp == 0)  # the pathwise estimator cannot see a step
    else:
        assert np.allclose(rp, exact(mu, sigma), atol=0.01)


def test_exact_grads_match_finite_differences():
    from scipy.integrate import quad
    from scipy.stats import norm
    for f, _, exact in TEST_FUNCTIONS.values():
        def value(mu, sigma):
            return quad(lambda z: float(f(np.array(z))) * norm.pdf(z, mu, sigma), -12, 12, points=[0])[0]
        h = 1e-4
        fd = [(value(0.4 + h, 0.9) - value(0.4 - h, 0.9)) / (2 * h),
              (value(0.4, 0.9 + h) - value(0.4, 0.9 - h)) / (2 * h)]
        assert np.allclose(fd, exact(0.4, 0.9), atol=1e-5)


def test_variances_square_theory():
    _, var_rp = reparam_grad(lambda z: 2 * z, 1.0, 1.0, 10**6, 0)
    _, var_sf = score_function_grad(np.square, 1.0, 1.0, 10**6, 0)
    _, var_b = score_function_grad(np.square, 1.0, 1.0, 10**6, 0, baseline=2.0)
    assert abs(var_rp[0] - 4) < 0.1 and abs(var_sf[0] - 30) < 1.5 and abs(var_b[0] - 18) < 1.0


def test_pathwise_matches_torch_autograd():
    eps = np.random.default_rng(0).standard_normal(1000)
    mu = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    (torch.sin(mu + sigma * torch.from_numpy(eps))).mean().backward()
    ours = pathwise_estimates(np.cos, 0.3, 1.7, 1000, np.random.default_rng(0)).mean(0)
    assert np.allclose(ours, [mu.grad.item(), sigma.grad.item()], atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.floats(-3, 3), st.floats(0.1, 3), st.integers(1, 50))
def test_shapes_and_length_one(mu, sigma, n):
    assert pathwise_estimates(np.cos, mu, sigma, n, 0).shape == (n, 2)
    est = score_function_estimates(np.sin, mu, sigma, n, 0, baseline=0.5)
    assert est.shape == (n, 2) and np.isfinite(est).all()


def test_gaussian_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        pathwise_estimates(np.cos, 0.0, 0.0, 10, 0)
    with pytest.raises(TypeError, match="mu"):
        score_function_estimates(np.sin, "0", 1.0, 10, 0)
    with pytest.raises(ValueError, match="n must"):
        reparam_grad(np.cos, 0.0, 1.0, 0, 0)
    with pytest.raises(TypeError, match="n must"):
        score_function_grad(np.sin, 0.0, 1.0, 2.5, 0)
    with pytest.raises(ValueError, match="finite"):
        pathwise_estimates(np.cos, np.nan, 1.0, 10, 0)
    with pytest.raises(TypeError, match="callable"):
        pathwise_estimates(3, 0.0, 1.0, 10, 0)
    with pytest.raises(ValueError, match="same shape"):
        score_function_estimates(np.sum, 0.0, 1.0, 10, 0)
    with pytest.raises(ValueError, match="baseline"):
        score_function_grad(np.sin, 0.0, 1.0, 10, 0, baseline=np.inf)


def test_categorical_estimators():
    exact = exact_categorical_grad(LOGITS, REWARD)
    p = torch.tensor(LOGITS, requires_grad=True)
    (torch.softmax(p, 0) @ torch.tensor(REWARD)).backward()
    assert np.allclose(exact, p.grad.numpy(), atol=1e-12)
    sf = score_function_categorical(LOGITS, REWARD, 200_000, 0)
    assert np.abs(sf.mean(0) - exact).max() < 0.005
    assert np.abs(gumbel_softmax_categorical(LOGITS, REWARD, 0.05, 200_000, 0).mean(0) - exact).max() < 0.02
    assert np.abs(gumbel_softmax_categorical(LOGITS, REWARD, 1.0, 200_000, 0).mean(0) - exact).max() > 0.05


def test_gumbel_softmax_categorical_matches_autograd():
    g = np.random.default_rng(1)
    from mlnotes.prob import sample_gumbel
    noise = sample_gumbel((3, 5), g)
    ours = gumbel_softmax_categorical(LOGITS, REWARD, 0.7, 3, np.random.default_rng(1))
    for row, gi in zip(ours, noise):
        lg = torch.tensor(LOGITS, requires_grad=True)
        (torch.softmax((lg + torch.tensor(gi)) / 0.7, 0) @ torch.tensor(REWARD)).backward()
        assert np.allclose(row, lg.grad.numpy(), atol=1e-12)


def test_categorical_bad_input():
    with pytest.raises(ValueError, match="k >= 2"):
        exact_categorical_grad([1.0], [1.0])
    with pytest.raises(ValueError, match="reward must have shape"):
        score_function_categorical(LOGITS, REWARD[:3], 10, 0)
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax_categorical(LOGITS, REWARD, 0.0, 10, 0)
    with pytest.raises(ValueError, match="n must"):
        gumbel_softmax_categorical(LOGITS, REWARD, 1.0, 0, 0)
    with pytest.raises(ValueError, match="finite"):
        score_function_categorical(LOGITS, REWARD, 10, 0, baseline=np.nan)


def test_straight_through_matches_torch():
    logits = torch.tensor(np.tile(LOGITS, (4, 1)), requires_grad=True)
    w = torch.arange(5.0, dtype=torch.float64)
    torch.manual_seed(0)
    ours = gumbel_softmax_st(logits, 0.5, hard=True)
    torch.manual_seed(0)
    ref = F.gumbel_softmax(logits, tau=0.5, hard=True)
    assert torch.equal(ours, ref)
    assert torch.equal(ours.sum(-1), torch.ones(4, dtype=torch.float64))
    (ours * w).sum().backward()
    g_hard = logits.grad.clone()
    logits.grad = None
    torch.manual_seed(0)
    (gumbel_softmax_st(logits, 0.5, hard=False) * w).sum().backward()
    assert torch.equal(g_hard, logits.grad)


def test_straight_through_bad_input():
    with pytest.raises(TypeError, match="torch tensor"):
        gumbel_softmax_st(np.zeros(3))
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax_st(torch.zeros(3), tau=0)
    with pytest.raises(ValueError, match="shape"):
        gumbel_softmax_st(torch.tensor(1.0))


def test_simplex_helpers():
    xy = simplex_xy(np.eye(3))
    assert np.allclose(xy, [[0, 0], [1, 0], [0.5, np.sqrt(3) / 2]])
    assert np.allclose(simplex_xy([[1 / 3] * 3]), [[0.5, np.sqrt(3) / 6]])
    fig, ax = plt.subplots()
    draw_simplex(ax)
    plt.close(fig)
    with pytest.raises(ValueError, match="P must have shape"):
        simplex_xy(np.ones((2, 4)))
    with pytest.raises(ValueError, match="labels must hold exactly 3 items, got 2"):
        draw_simplex(plt.subplots()[1], labels=("a", "b"))


# ----------------------------------------------------------------------------- bad input
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from adversarial_examples import Example  # noqa: E402

_L5, _R5 = np.array([1.0, 0.2, -0.5, 2.0, 0.0]), np.array([0.0, 1.0, 0.0, -1.0, 0.5])
ADVERSARIAL = {
    "pathwise_estimates": Example(f_prime=lambda z: 2 * z, mu=1.0, sigma=1.0, n=10, rng=0,
                                  accepts={"mu": "-1 0", "rng": "None 10**9"}),  # seeds
    "score_function_estimates": Example(f=np.square, mu=1.0, sigma=1.0, n=10, rng=0,
                                        accepts={"mu": "-1 0", "rng": "None 10**9"}),
    "reparam_grad": Example(f_prime=lambda z: 2 * z, mu=1.0, sigma=1.0, n=10, rng=0,
                            accepts={"mu": "-1 0", "rng": "None 10**9"}),
    "score_function_grad": Example(f=np.square, mu=1.0, sigma=1.0, n=10, rng=0,
                                   accepts={"mu": "-1 0", "rng": "None 10**9"}),
    "exact_categorical_grad": Example(_L5, _R5),
    "score_function_categorical": Example(_L5, _R5, n=10, rng=0,
                                          accepts={"rng": "None 10**9"}),  # a seed
    "gumbel_softmax_categorical": Example(_L5, _R5, tau=0.5, n=10, rng=0,
                                          accepts={"rng": "None 10**9"}),
    "gumbel_softmax_st": Example(torch.zeros(3, 4), tau=0.5, hard=True,
                                 accepts={"logits": "ndim"}),  # any (..., k) shape
    "simplex_xy": Example(np.full((2, 3), 1 / 3)),
    "draw_simplex": Example(labels=("a", "b", "c"), fresh=lambda: {"ax": plt.subplots()[1]}),
}

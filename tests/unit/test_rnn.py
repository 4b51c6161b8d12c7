"""Tests for mlnotes.rnn: BPTT against torch autograd and finite differences, forward against
torch.nn.RNN, gradient-norm regimes and the char-RNN."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mlnotes.rnn import (char_vocab, grad_norm_profile, init_params, numerical_grad, rnn_bptt, rnn_forward,
                         sample, scaled_recurrence, train_char_rnn)

torch.set_num_threads(1)


def problem(T=7, n_h=6, vocab=5, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(vocab, n_h, seed=seed + 1, scale=0.5)
    params["b"], params["c"] = rng.normal(size=n_h) * 0.1, rng.normal(size=vocab) * 0.1
    return params, rng.integers(0, vocab, T), rng.integers(0, vocab, T), rng.normal(size=n_h) * 0.1


def torch_loss(params, xs, ys, h0):
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h, loss = torch.tensor(h0), 0.0
    for x, y in zip(xs, ys):
        h = torch.tanh(leaves["U"][:, x] + leaves["W"] @ h + leaves["b"])
        loss = loss - torch.log_softmax(leaves["V"] @ h + leaves["c"], 0)[y]
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in leaves.items()}


@settings(max_examples=50, deadline=None)
@given(T=st.integers(1, 12), n_h=st.integers(1, 8), vocab=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_bptt_matches_autograd(T, n_h, vocab, seed):
    params, xs, ys, h0 = problem(T, n_h, vocab, seed)
    loss, grads, h_last = rnn_bptt(params, xs, ys, h0)
    ref_loss, ref_grads = torch_loss(params, xs, ys, h0)
    assert loss == pytest.approx(ref_loss, abs=1e-12)
    for k in grads:
        assert np.abs(grads[k] - ref_grads[k]).max() < 1e-10
    assert np.allclose(h_last, rnn_forward(params, xs, ys, h0)[1][-1])


def test_bptt_matches_finite_difference():
    params, xs, ys, h0 = problem()
    _, grads, _ = rnn_bptt(params, xs, ys, h0)
    numeric = numerical_grad(lambda: rnn_forward(params, xs, ys, h0)[0], params["W"], (2, 3))
    assert numeric == pytest.approx(grads["W"][2, 3], abs=1e-7)


def test_forward_matches_torch_rnn():
    params, xs, ys, h0 = problem(T=9)
    rnn = torch.nn.RNN(5, 6, nonlinearity="tanh").double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["U"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["W"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["b"]))
        rnn.bias_hh_l0.zero_()
        onehot = torch.nn.functional.one_hot(torch.from_numpy(xs), 5).double()[:, None, :]
        out, _ = rnn(onehot, torch.from_numpy(h0)[None, None])
    assert np.abs(out[:, 0].numpy() - rnn_forward(params, xs, ys, h0)[1]).max() < 1e-12


def test_length_one_and_probs():
    params, xs, ys, h0 = problem(T=1)
    loss, hs, probs = rnn_forward(params, xs, ys)
    assert hs.shape == (1, 6) and np.allclose(probs.sum(axis=1), 1)
    assert loss == pytest.approx(-np.log(probs[0, ys[0]]))


def test_forward_bad_input():
    params, xs, ys, h0 = problem()
    with pytest.raises(ValueError, match=r"params must have the keys \['U', 'V', 'W', 'b', 'c'\], got \['U'\]"):
        rnn_forward({"U": params["U"]}, xs, ys)
    with pytest.raises(ValueError, match="shape"):
        rnn_forward({**params, "W": np.zeros((2, 2))}, xs, ys)
    with pytest.raises(TypeError, match=r"params\['b'\] must be a numeric array"):
        rnn_forward({**params, "b": ["a"] * 6}, xs, ys)
    with pytest.raises(ValueError, match=r"ys must have shape \(T,\) with T = "):
        rnn_forward(params, xs, ys[:3])
    with pytest.raises(ValueError, match=r"xs must have values in \[0, 4\]"):
        rnn_forward(params, xs + 10, ys)
    with pytest.raises(TypeError, match="xs must be an integer array"):
        rnn_forward(params, xs.astype(float), ys)
    with pytest.raises(ValueError, match="non-empty"):
        rnn_forward(params, [], [])
    with pytest.raises(ValueError, match="h0"):
        rnn_bptt(params, xs, ys, np.zeros(3))


def test_init_bad_input():
    with pytest.raises(ValueError, match="n_h"):
        init_params(5, 0)
    with pytest.raises(ValueError, match="scale"):
        init_params(5, 3, scale=0.0)
    with pytest.raises(TypeError, match="seed"):
        init_params(5, 3, seed=1.5)


def test_grad_norm_regimes():
    assert grad_norm_profile(0.5, 40, act="tanh")[-1] < 1e-3
    assert grad_norm_profile(1.5, 40, act="tanh")[-1] < 1e-2
    assert grad_norm_profile(1.5, 40, act="linear")[-1] > 1e3
    profile = grad_norm_profile(0.9, 1)
    assert profile.tolist() == [1.0]
    W = scaled_recurrence(8, 1.3, seed=2)
    assert np.abs(np.linalg.eigvals(W)).max() == pytest.approx(1.3)


def test_grad_norm_bad_input():
    with pytest.raises(ValueError, match="act"):
        grad_norm_profile(1.0, act="sigmoid")
    with pytest.raises(ValueError, match="T must"):
        grad_norm_profile(1.0, T=0)
    with pytest.raises(ValueError, match="rho"):
        scaled_recurrence(4, -1.0)


def test_char_rnn_learns_and_samples():
    text = "hello world, hello rnn. " * 4
    params, losses, snapshots = train_char_rnn(text, iters=600, snapshot_every=300)
    assert losses[-50:].mean() < 0.2 * losses[:10].mean()
    assert sorted(snapshots) == [0, 300, 600]
    chars, stoi = char_vocab(text)
    out = sample(params, stoi["h"], 30, seed=1)
    assert len(out) == 30 and all(0 <= i < len(chars) for i in out)
    assert sample(params, stoi["h"], 0) == []


def test_char_rnn_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        char_vocab("a")
    with pytest.raises(ValueError, match="seq_len"):
        train_char_rnn("abcdef", seq_len=24)
    with pytest.raises(ValueError, match="lr must be"):
        train_char_rnn("abcdef" * 10, seq_len=4, lr=-1.0)
    params = init_params(3, 4)
    with pytest.raises(ValueError, match="n must"):
        sample(params, 0, -1)
    with pytest.raises(ValueError, match="start"):
        sample(params, 7, 3)


def test_grad_norm_bound_holds_and_nonnormal_grows():
    import numpy as np
    from mlnotes.rnn import grad_norm_profile, nonnormal_recurrence

    for act in ("tanh", "linear", "relu"):
        norms, bound = grad_norm_profile(0.9, T=30, act=act, with_bound=True)
        assert (norms <= bound * (1 + 1e-12)).all()
    W = nonnormal_recurrence(4, 0.9, 1.0)
    assert np.abs(np.linalg.eigvals(W)).max() < 1 < np.linalg.norm(W, 2)
    assert grad_norm_profile(0.9, T=40, act="linear", W=W).max() > 100


def test_train_delay_rnn_learns_when_window_exceeds_delay():
    from mlnotes.rnn import train_delay_rnn

    short = train_delay_rnn(2, 1, seeds=2, steps=400)
    long_ = train_delay_rnn(2, 4, seeds=2, steps=400)
    assert short.shape == (2,) and long_.min() > short.max()


def test_drawing_helpers_return_figures():
    import matplotlib.pyplot as plt
    from mlnotes.rnn import draw_profile, draw_unrolled

    for fig in (draw_unrolled(), draw_profile("relu", 1.1, T=20)):
        assert fig.axes
        plt.close(fig)


import numpy as _np  # noqa: E402
from adversarial_examples import Example  # noqa: E402

from mlnotes.rnn import init_params as _init  # noqa: E402

ADVERSARIAL = {
    "init_params": Example(4, 3),
    "rnn_forward": Example(fresh=lambda: {"params": _init(4, 3)}, xs=[0, 1, 2], ys=[1, 2, 3]),
    "rnn_bptt": Example(fresh=lambda: {"params": _init(4, 3)}, xs=[0, 1, 2], ys=[1, 2, 3]),
    "scaled_recurrence": Example(4, 0.9),
    "nonnormal_recurrence": Example(4, 0.9, 1.0),
    "grad_norm_profile": Example(0.9, T=5, n_h=4),
    "char_vocab": Example("hello", accepts={"text": "other-str"}),     # any text
    "train_char_rnn": Example("hello world hello", n_h=4, seq_len=4, iters=2, timeout=5,
                              accepts={"text": "other-str"}),
    "sample": Example(fresh=lambda: {"params": _init(4, 3)}, start=0, n=3,
                      accepts={"n": "0"}),                               # zero tokens: []
    "train_delay_rnn": Example(2, 3, seeds=1, steps=8, timeout=10),
    "draw_profile": Example("tanh", 0.9, T=5),
}
ADVERSARIAL_EXEMPT = {"draw_unrolled": "takes no input",
                      "numerical_grad": "re-exported from mlnotes.core, which validates it"}

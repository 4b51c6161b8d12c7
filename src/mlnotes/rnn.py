"""A vanilla (Elman) RNN in numpy: forward pass, back-propagation through time (BPTT),
gradient-norm profiles and a tiny character-level language model.

Column-vector convention, tokens as integer ids
(one-hot inputs), float64 throughout. For t = 1..T:

    h_t = tanh(U x_t + W h_{t-1} + b),   o_t = V h_t + c,   yhat_t = softmax(o_t),
    L = sum_t -log yhat_t[y_t].

Parameters are a dict with ``U`` (n_h, vocab), ``W`` (n_h, n_h), ``V`` (vocab, n_h),
``b`` (n_h,), ``c`` (vocab,). They are shared across time steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mlnotes.core import check_seed, numerical_grad  # noqa: F401  (numerical_grad: the chapter's gradient check)
from mlnotes.prob import log_softmax
from mlnotes.validate import check_array, checked, arg

__all__ = ["PARAM_NAMES", "ACTIVATIONS", "init_params", "rnn_forward", "rnn_bptt",
           "scaled_recurrence", "nonnormal_recurrence", "grad_norm_profile", "char_vocab",
           "train_char_rnn", "sample", "train_delay_rnn", "numerical_grad",
           "draw_unrolled", "draw_profile"]

PARAM_NAMES = ("U", "W", "V", "b", "c")
ACTIVATIONS = ("tanh", "linear", "relu")


# Argument rules: the parameter dict (n_h hidden units, vocab tokens), token ids, the start state.
_PARAMS = arg.mapping(fields=dict(U=arg.array(shape=("n_h", "vocab")), W=arg.array(shape=("n_h", "n_h")),
                                  V=arg.array(shape=("vocab", "n_h")), b=arg.array(shape=("n_h",)),
                                  c=arg.array(shape=("vocab",))))
_IDS = arg.array(shape=("T",), integer=True, low=0, high="vocab - 1")
_H0 = arg.optional(arg.array(shape=("n_h",)))


# ----------------------------------------------------------------------------- model
@checked(vocab=arg.int(1, 10**5), n_h=arg.int(1, 4096), scale=arg.real(0, low_open=True), seed=arg.seed())
def init_params(vocab: int, n_h: int, seed: int = 0, scale: float = 0.1) -> dict[str, np.ndarray]:
    """Gaussian weights with standard deviation ``scale`` and zero biases."""
    rng = np.random.default_rng(seed)
    return {"U": rng.normal(0, scale, (n_h, vocab)), "W": rng.normal(0, scale, (n_h, n_h)),
            "V": rng.normal(0, scale, (vocab, n_h)), "b": np.zeros(n_h), "c": np.zeros(vocab)}


@checked(params=_PARAMS, xs=_IDS, ys=_IDS, h0=_H0)
def rnn_forward(params: dict[str, np.ndarray], xs: Sequence[int], ys: Sequence[int],
                h0: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Run the RNN over token ids ``xs`` (T,) with targets ``ys`` (T,): ``(loss, hs, probs)``.

    ``hs`` (T, n_h) holds h_1..h_T, ``probs`` (T, vocab) holds yhat_1..yhat_T, and ``loss`` is the
    summed cross-entropy. ``h0`` defaults to zeros.
    """
    return _forward(params, xs, ys, h0)


def _forward(params, xs, ys, h0):
    n_h = params["W"].shape[0]
    h = np.zeros(n_h) if h0 is None else h0
    U, W, V, b, c = (params[k] for k in PARAM_NAMES)
    hs = np.empty((len(xs), n_h))
    for t, x in enumerate(xs):
        h = np.tanh(U[:, x] + W @ h + b)  # U x_t for a one-hot x_t is a column of U
        hs[t] = h
    log_probs = log_softmax(hs @ V.T + c, axis=1)
    loss = -float(log_probs[np.arange(len(ys)), ys].sum())
    return loss, hs, np.exp(log_probs)


@checked(params=_PARAMS, xs=_IDS, ys=_IDS, h0=_H0)
def rnn_bptt(params: dict[str, np.ndarray], xs: Sequence[int], ys: Sequence[int],
             h0: np.ndarray | None = None) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Loss, gradients of all five parameters and the last hidden state, by BPTT.

    With e_t = yhat_t - onehot(y_t) (softmax and cross-entropy together):
    ``delta_T = V^T e_T``; ``delta_t = V^T e_t + W^T [(1 - h_{t+1}^2) * delta_{t+1}]``;
    ``g_t = (1 - h_t^2) * delta_t``; ``dW = sum g_t h_{t-1}^T``, ``dU = sum g_t x_t^T``,
    ``db = sum g_t``, ``dV = sum e_t h_t^T``, ``dc = sum e_t``.
    """
    loss, hs, probs = _forward(params, xs, ys, h0)
    h0 = np.zeros(hs.shape[1]) if h0 is None else h0
    h_prev = np.vstack([h0[None], hs[:-1]])  # h_{t-1} for every t
    E = probs.copy()
    E[np.arange(len(ys)), ys] -= 1.0  # e_t = yhat_t - y_t
    V, W = params["V"], params["W"]
    G = np.empty_like(hs)
    g_next = np.zeros(hs.shape[1])
    for t in range(len(xs) - 1, -1, -1):
        delta = V.T @ E[t] + W.T @ g_next  # dL/dh_t
        g_next = (1.0 - hs[t] ** 2) * delta  # dL/da_t, the tanh derivative applied BEFORE W^T
        G[t] = g_next
    dU = np.zeros_like(params["U"])
    np.add.at(dU.T, xs, G)  # sum_t g_t x_t^T for one-hot x_t
    grads = {"U": dU, "W": G.T @ h_prev, "V": E.T @ hs, "b": G.sum(axis=0), "c": E.sum(axis=0)}
    return loss, grads, hs[-1].copy()


# ----------------------------------------------------------------------------- gradient flow
@checked(n_h=arg.int(1, 4096), rho=arg.real(0, 100, low_open=True), seed=arg.seed())
def scaled_recurrence(n_h: int, rho: float, seed: int = 0) -> np.ndarray:
    """A random Gaussian (n_h, n_h) matrix rescaled to spectral radius ``rho``."""
    W = np.random.default_rng(seed).normal(size=(n_h, n_h))
    return W * (rho / np.abs(np.linalg.eigvals(W)).max())


@checked(n_h=arg.int(low=2, high=4096), rho=arg.positive(), shear=arg.positive())
def nonnormal_recurrence(n_h: int, rho: float, shear: float) -> np.ndarray:
    """``rho * I + shear * S`` with S the shift (ones just above the diagonal).

    Its eigenvalues are all ``rho`` (spectral radius ``rho``), but its largest singular
    value is about ``rho + shear``: a matrix with rho < 1 whose products still grow for
    many steps before they shrink.
    """
    return rho * np.eye(n_h) + shear * np.eye(n_h, k=1)


@checked(T=arg.int(low=1, high=10**5), rho=arg.real(0, 100, low_open=True), n_h=arg.int(1, 4096), seed=arg.seed())
def grad_norm_profile(rho: float, T: int = 40, n_h: int = 16, act: str = "tanh", seed: int = 0,
                      input_scale: float = 1.0, W: np.ndarray | None = None,
                      with_bound: bool = False):
    """Norms ``||dL/dh_t||`` for ``L = u . h_T`` (unit ``u``), as a function of the lag ``T - t``.

    Runs ``h_t = act(W h_{t-1} + x_t)`` with ``x_t ~ N(0, input_scale^2)`` and ``W`` of spectral
    radius ``rho`` (or the given ``W``), then ``dL/dh_{t-1} = W^T [act'(a_t) * dL/dh_t]``.
    Returns an array of length ``T`` whose entry ``k`` is the norm at lag ``k`` (entry 0 is 1).
    With ``with_bound`` also returns the product of the largest singular values of the step
    Jacobians ``W^T diag(act'(a_t))`` over the same lags, an upper bound on the norms.
    """
    if act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {ACTIVATIONS}, got {act!r}")
    rng = np.random.default_rng(seed)
    W = scaled_recurrence(n_h, rho, seed) if W is None else check_array("W", W, ndim=2)
    n_h = W.shape[0]
    h, slopes = np.zeros(n_h), []
    for _ in range(T):
        a = W @ h + rng.normal(0, input_scale, n_h)
        if act == "tanh":
            h = np.tanh(a)
            slopes.append(1 - h ** 2)
        elif act == "relu":
            h = np.maximum(a, 0)
            slopes.append((a > 0).astype(float))
        else:
            h = a
            slopes.append(np.ones(n_h))
    delta = rng.normal(size=n_h)
    delta /= np.linalg.norm(delta)
    norms, bound = [1.0], [1.0]
    # region: step-jacobians
    for t in range(T - 1, 0, -1):  # from dL/dh_T back to dL/dh_1
        J = W.T * slopes[t]        # W^T diag(act'(a_t)): one backward step, (n_h, n_h)
        delta = J @ delta
        norms.append(float(np.linalg.norm(delta)))
        bound.append(bound[-1] * np.linalg.norm(J, 2))   # times the largest singular value
    # endregion
    return (np.array(norms), np.array(bound)) if with_bound else np.array(norms)


# ----------------------------------------------------------------------------- char-RNN
def char_vocab(text: str) -> tuple[list[str], dict[str, int]]:
    """Sorted distinct characters of ``text`` and the map character -> id."""
    if not isinstance(text, str) or len(text) < 2:
        raise ValueError("text must be a string of at least 2 characters")
    chars = sorted(set(text))
    if len(chars) < 2:
        raise ValueError("text must contain at least 2 distinct characters")
    return chars, {ch: i for i, ch in enumerate(chars)}


@checked(seq_len=arg.int(1, 10**6), n_h=arg.int(1, 4096), iters=arg.int(1, 10**6), lr=arg.real(0, low_open=True),
         clip=arg.real(0, low_open=True))
def train_char_rnn(text: str, n_h: int = 32, seq_len: int = 24, iters: int = 1500, lr: float = 0.1,
                   clip: float = 5.0, seed: int = 0, snapshot_every: int = 0
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[int, dict[str, np.ndarray]]]:
    """Train a character RNN with truncated BPTT and Adagrad: ``(params, losses, snapshots)``.

    Windows of ``seq_len`` characters slide along ``text`` (inputs ``text[p:p+seq_len]``, targets
    shifted by one); the hidden state is carried between windows and reset when the window wraps
    to the start. Gradients are clipped elementwise to ``[-clip, clip]``. ``losses[i]`` is the mean
    per-character loss of iteration ``i``; ``snapshots`` maps iteration -> parameter copy, every
    ``snapshot_every`` iterations (and iteration 0) if it is positive.
    """
    chars, stoi = char_vocab(text)
    if len(text) < seq_len + 1:
        raise ValueError(f"text needs at least seq_len + 1 = {seq_len + 1} characters, got {len(text)}")
    data = np.array([stoi[ch] for ch in text])
    params = init_params(len(chars), n_h, seed, scale=0.01)
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    snapshots = {0: {k: v.copy() for k, v in params.items()}} if snapshot_every else {}
    losses, p, h = np.empty(iters), 0, np.zeros(n_h)
    for it in range(iters):
        if p + seq_len + 1 > len(data):
            p, h = 0, np.zeros(n_h)
        loss, grads, h = rnn_bptt(params, data[p:p + seq_len], data[p + 1:p + seq_len + 1], h)
        for k in PARAM_NAMES:
            g = np.clip(grads[k], -clip, clip)
            memory[k] += g * g
            params[k] -= lr * g / np.sqrt(memory[k] + 1e-8)
        losses[it] = loss / seq_len
        p += seq_len
        if snapshot_every and (it + 1) % snapshot_every == 0:
            snapshots[it + 1] = {k: v.copy() for k, v in params.items()}
    return params, losses, snapshots


@checked(params=_PARAMS, start=arg.int(low=0, high="vocab - 1"), n=arg.int(0, 10**6), seed=arg.seed(), h0=_H0)
def sample(params: dict[str, np.ndarray], start: int, n: int, seed: int = 0,
           h0: np.ndarray | None = None) -> list[int]:
    """Generate ``n`` token ids after ``start`` by sampling from the RNN's softmax outputs."""
    n_h, vocab = params["U"].shape
    rng = np.random.default_rng(seed)
    h, x, out = np.zeros(n_h) if h0 is None else h0, start, []
    for _ in range(n):
        h = np.tanh(params["U"][:, x] + params["W"] @ h + params["b"])
        logits = params["V"] @ h + params["c"]
        p = np.exp(logits - logits.max())
        x = int(rng.choice(vocab, p=p / p.sum()))
        out.append(x)
    return out


# ----------------------------------------------------------------------------- truncation
@checked(delay=arg.int(1, 1000), seq_len=arg.int(1, 1000), seeds=arg.int(1, 100), vocab=arg.int(2, 1000),
         n_h=arg.int(1, 1024), batch=arg.int(1, 4096), steps=arg.int(1, 10**6), lr=arg.real(0, 1, low_open=True))
def train_delay_rnn(delay: int, seq_len: int, seeds: int = 5, vocab: int = 4, n_h: int = 24,
                    batch: int = 16, steps: int = 1200, lr: float = 0.01) -> np.ndarray:
    """Test accuracy of RNNs trained by truncated BPTT to output the symbol seen ``delay``
    steps ago, one value per seed (models batched over seeds, torch, Adam).

    The input is a stream of uniform random symbols; the hidden state is carried from one
    window of ``seq_len`` steps to the next but the graph is cut (``detach``) between
    windows, so no gradient travels more than ``seq_len - 1`` steps back. Chance is
    ``1 / vocab``. All seeds see the same stream; they differ in their initial weights.
    """
    import torch

    data = torch.Generator().manual_seed(1000 + delay)
    gens = [torch.Generator().manual_seed(s) for s in range(seeds)]
    U = torch.stack([torch.randn(vocab, n_h, generator=g) * 0.5 for g in gens])   # (S, V, H)
    W = torch.stack([torch.randn(n_h, n_h, generator=g) / n_h ** 0.5 for g in gens])
    Vo = torch.stack([torch.randn(n_h, vocab, generator=g) * 0.1 for g in gens])  # (S, H, V)
    b, c = torch.zeros(seeds, 1, n_h), torch.zeros(seeds, 1, vocab)
    weights = [w.requires_grad_() for w in (U, W, Vo, b, c)]
    opt = torch.optim.Adam(weights, lr=lr)
    x = torch.randint(0, vocab, (steps + delay, batch), generator=data)         # (T, B)
    h = torch.zeros(seeds, batch, n_h)                                          # (S, B, H)
    for start in range(delay, steps + delay - seq_len + 1, seq_len):
        h, loss = h.detach(), 0.0           # truncation: no gradient before this window
        for t in range(start, start + seq_len):
            h = torch.tanh(U[:, x[t]] + h @ W + b)                              # (S, B, H)
            logits = (h @ Vo + c).reshape(-1, vocab)                            # (S*B, V)
            loss = loss + torch.nn.functional.cross_entropy(
                logits, x[t - delay].repeat(seeds), reduction="sum")
        opt.zero_grad()
        (loss / (seq_len * batch)).backward()
        opt.step()
    with torch.no_grad():
        test = torch.randint(0, vocab, (400, batch), generator=data)
        h, hits = torch.zeros(seeds, batch, n_h), torch.zeros(seeds)
        for t in range(400):
            h = torch.tanh(U[:, test[t]] + h @ W + b)
            if t >= delay + 10:
                hits += ((h @ Vo + c).argmax(-1) == test[t - delay]).float().mean(1)
    return (hits / (400 - delay - 10)).numpy().astype(float)


# ----------------------------------------------------------------------------- figures
def draw_unrolled():
    """Diagram of the RNN unrolled over three time steps (figure)."""
    from mlnotes.plotting import COLORS, new_figure

    fig, ax = new_figure(width=8, height=4.2)
    ax.set_axis_off()
    box = dict(boxstyle="round,pad=0.35", fc="white", ec=COLORS[0], lw=1.5)
    rows = {"x": 0.0, "h": 1.2, "o": 2.4, "L": 3.6}
    arrow = dict(arrowstyle="->")
    for i, t in enumerate(["t-1", "t", "t+1"]):
        X = 2.5 * i + 1.5
        for name, Y in rows.items():
            ax.text(X, Y, f"{name}({t})", ha="center", va="center", bbox=box, fontsize=10)
        ax.text(X + 0.9, rows["L"], f"y({t})", ha="center", va="center", fontsize=9, color=COLORS[3])
        for (a, b), label in [(("x", "h"), "U"), (("h", "o"), "V"), (("o", "L"), "")]:
            ax.annotate("", xy=(X, rows[b] - 0.3), xytext=(X, rows[a] + 0.3), arrowprops=arrow)
            ax.text(X + 0.12, (rows[a] + rows[b]) / 2, label, color=COLORS[1], fontsize=11,
                    fontweight="bold")
        ax.annotate("", xy=(X + 0.45, rows["L"]), xytext=(X + 0.7, rows["L"]),
                    arrowprops=dict(arrowstyle="->", color=COLORS[3]))
    for X in (0.2, 1.5, 4.0, 6.5):
        start, end = (X + 0.6, X + 1.9) if X > 1 else (0.2, 1.0)
        ax.annotate("", xy=(end, rows["h"]), xytext=(start, rows["h"]),
                    arrowprops=dict(arrowstyle="->", color=COLORS[2], lw=1.8))
        ax.text((X + 1.25) if X > 1 else 0.55, rows["h"] + 0.12, "W", color=COLORS[2],
                fontsize=11, fontweight="bold")
    ax.set(xlim=(0, 8.6), ylim=(-0.5, 4.1), title="An RNN unrolled over three time steps")
    return fig


@checked(activation=arg.choice(ACTIVATIONS))
def draw_profile(activation: str, rho: float, T: int = 60, ylim: tuple[float, float] = (1e-25, 1e12)):
    """Explorer frame: gradient norm against lag with the fitted per-step factor, and the
    singular-value bound (product of the step Jacobians' largest singular values)."""
    from mlnotes.plotting import COLORS, new_figure

    norms, bound = grad_norm_profile(rho, T=T, act=activation, with_bound=True)
    lags = np.arange(len(norms))
    positive = norms > 0
    rate = np.exp(np.polyfit(lags[positive], np.log(norms[positive]), 1)[0])
    sigma = np.linalg.norm(scaled_recurrence(16, rho, 0), 2)
    fig, ax = new_figure(width=6, height=3.2)
    ax.plot(lags[positive], norms[positive], color=COLORS[0], label="gradient norm")
    ax.plot(lags, bound, color=COLORS[1], ls="--", label=r"bound: product of $\sigma_{\max}(J_k)$")
    ax.set(yscale="log", ylim=ylim, xlabel="lag $T - t$ (steps)", ylabel="gradient norm",
           title=f"{activation}, $\\rho(W)$ = {rho}, $\\sigma_{{\\max}}(W)$ = {sigma:.2f}: "
                 f"×{rate:.2f} per step")
    ax.legend(loc="lower left")
    return fig

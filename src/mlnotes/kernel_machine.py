"""Gradient descent as a kernel machine: the empirical neural tangent kernel and the path kernel.

Models are small torch MLPs in float64
with a scalar output; parameters are handled as one flat vector through ``torch.func``.

- ``mlp`` / ``TanhMLP``    a 1-hidden-layer tanh network ``R^d -> R`` in the NTK parameterization
- ``jacobian``             per-example gradients ``J[n] = d f(x_n) / d theta``, shape ``(N, P)``
- ``empirical_ntk``        ``K(x, x') = <grad f(x), grad f(x')>`` = ``J1 J2^T``
- ``path_kernel_trace``    full-batch GD on ``0.5 sum (f - y)^2`` that also accumulates
                           ``sum_steps -lr K_t(x, X) (f(X) - y)`` per training example
- ``train_gd``             the same GD without the bookkeeping (for NTK-change measurements)
- ``linear_path_coefficients``  the exact kernel representation of GD on a linear model
- ``hinge_path_coefficients``   (sub)gradient descent or SGD on the linear SVM's primal, kept as
                                a kernel machine ``w = sum_i alpha_i x_i`` (compare with an SVM's dual)
- ``plot_*`` / ``draw_retrieval``  the chapter's figures (reconstruction, Gram matrices, NTK change,
                                hinge expansion, retrieval view)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from mlnotes.validate import check_array, check_count, check_real, checked, arg

__all__ = ["TanhMLP", "mlp", "jacobian", "empirical_ntk", "path_kernel_trace", "train_gd",
           "linear_path_coefficients", "hinge_path_coefficients", "plot_hinge_svm", "draw_retrieval",
           "plot_reconstruction", "plot_gram_matrices", "plot_kernel_change"]




def _column(X: np.ndarray) -> np.ndarray:
    """A 1-D ``X`` is ``N`` inputs of dimension 1: ``(N,) -> (N, 1)``; 2-D passes through."""
    return X[:, None] if X.ndim == 1 else X


def _in_dim(model: nn.Module) -> int | None:
    """The input dimension of the first linear map, if the model exposes one."""
    first = next((p for p in model.parameters() if p.ndim == 2), None)
    return None if first is None else int(first.shape[1])



class TanhMLP(nn.Module):
    """``f(x) = b2 + W2 . tanh(W1 x + b1) / sqrt(width)`` in the NTK parameterization (float64).

    All weights start as standard normals; the ``1/sqrt(width)`` factor in the forward pass keeps
    the NTK of order one at any width, so one learning rate works for every width and the kernel
    moves less and less as the width grows (the lazy regime).
    """

    @checked(width=arg.count(high=100_000), in_dim=arg.count(high=10_000))
    def __init__(self, width: int, in_dim: int = 1, generator: torch.Generator | None = None):
        super().__init__()
        self.width = width
        normal = lambda *shape: torch.randn(*shape, dtype=torch.float64, generator=generator)  # noqa: E731
        self.W1 = nn.Parameter(normal(width, in_dim))
        self.b1 = nn.Parameter(normal(width))
        self.W2 = nn.Parameter(normal(width))
        self.b2 = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``X`` is ``(N, in_dim)``; returns ``(N, 1)``."""
        return (torch.tanh(X @ self.W1.T + self.b1) @ self.W2 / self.width ** 0.5 + self.b2)[:, None]


@checked(width=arg.count(high=10**6), in_dim=arg.count(high=10**6), seed=arg.seed())
def mlp(width: int, in_dim: int = 1, seed: int = 0) -> TanhMLP:
    """A one-hidden-layer tanh network ``R^in_dim -> R`` of the given width, NTK parameterization."""
    return TanhMLP(width, in_dim, torch.Generator().manual_seed(seed))


def _analytic_jacobian(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Closed-form rows ``d f(x_n) / d theta`` for :class:`TanhMLP`, in parameter order W1, b1, W2, b2."""
    W1, b1, W2 = params["W1"], params["b1"], params["W2"]
    scale = 1.0 / np.sqrt(W2.shape[0])
    h = np.tanh(X @ W1.T + b1)                       # (N, w)
    back = scale * W2 * (1.0 - h ** 2)               # d f / d pre-activation, (N, w)
    dW1 = back[:, :, None] * X[:, None, :]           # (N, w, d)
    return np.concatenate([dW1.reshape(len(X), -1), back, scale * h, np.ones((len(X), 1))], axis=1)


def _forward_np(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return np.tanh(X @ params["W1"].T + params["b1"]) @ params["W2"] / np.sqrt(params["W2"].shape[0]) + params["b2"]


# region: jacobian
def _jacobian(model: nn.Module, params: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    def f_single(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, p, (x[None],))[0, 0]

    jac = vmap(jacrev(f_single), in_dims=(None, 0))(params, X)
    return torch.cat([j.reshape(X.shape[0], -1) for j in jac.values()], dim=1)
# endregion


@checked(model=arg.module(), X=arg.array(ndim=(1, 2)))
def jacobian(model: nn.Module, X: object) -> np.ndarray:
    """Per-example parameter gradients of a scalar-output model: ``(N, P)`` with ``P`` = #parameters.

    Row ``n`` is ``d f(x_n) / d theta`` flattened in ``model.named_parameters()`` order, computed
    with ``torch.func.vmap(jacrev(...))`` and ``functional_call``.
    """
    X = _column(X)  # (N, d)
    X = torch.from_numpy(check_array("X", X, shape=(None, _in_dim(model))))
    params = {k: v.detach() for k, v in model.named_parameters()}
    return _jacobian(model, params, X).numpy()


@checked(model=arg.module(), X1=arg.array(ndim=(1, 2)))
def empirical_ntk(model: nn.Module, X1: object, X2: object | None = None) -> np.ndarray:
    """Empirical NTK ``K[i, j] = <grad_theta f(x1_i), grad_theta f(x2_j)>``, shape ``(N1, N2)``.

    ``K = J1 J2^T`` with the Jacobians of :func:`jacobian`. ``X2=None`` gives the Gram matrix of
    ``X1`` (symmetric positive semi-definite).
    """
    d = _in_dim(model)
    X1 = check_array("X1", _column(X1), shape=(None, d))              # (N1, d)
    X2 = X1 if X2 is None else check_array("X2", _column(check_array("X2", X2, ndim=(1, 2))), shape=(None, d))
    params = {k: v.detach() for k, v in model.named_parameters()}
    J1 = _jacobian(model, params, torch.from_numpy(X1)).numpy()                                       # (N1, P)
    J2 = J1 if X2 is X1 else _jacobian(model, params, torch.from_numpy(X2)).numpy()                   # (N2, P)
    return J1 @ J2.T


@checked(model=arg.instance(TanhMLP), X=arg.array(ndim=(1, 2)), X_test=arg.array(ndim=(1, 2)),
         lr=arg.real(low=0, low_open=True), num_steps=arg.count(low=0, high=10**6), seed=arg.seed())
def path_kernel_trace(model: TanhMLP, X: object, y: object, X_test: object, lr: float,
                      num_steps: int, batch_size: int | None = None,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Full-batch GD on ``L = 0.5 sum_i (f(x_i) - y_i)^2``, keeping the kernel-machine bookkeeping.

    With ``batch_size`` it is SGD instead: each step draws ``batch_size`` examples without
    replacement (``numpy.random.default_rng(seed)``) and uses ``0.5 sum_{i in B} (f_i - y_i)^2``;
    the bookkeeping is the same with ``r_i = 0`` for the examples not drawn.

    At every step ``k``, *before* the update, with residuals ``r_i(k) = f_k(x_i) - y_i`` and the
    current NTK ``K_k``, it adds ``-lr K_k(x, x_i) r_i(k)`` to the contribution of training example
    ``i`` at every test point ``x``. Their sum approximates ``f_T(x) - f_0(x)`` to ``O(lr^2)`` per step.
    The GD step itself is ``theta <- theta - lr J^T r`` (``J^T r`` is the gradient of ``L``). Uses the
    closed-form Jacobian of :class:`TanhMLP` (checked against ``torch.func`` in the tests); the model
    is not modified. Returns numpy arrays ``f0_test``, ``fT_test`` ``(M,)``, ``contributions``
    ``(M, N)``, ``f0_train``, ``fT_train`` ``(N,)``, ``K0_train``, ``KT_train`` ``(N, N)``.
    """
    d = model.W1.shape[1]  # from mlnotes.kernel_machine.mlp
    X = check_array("X", _column(X), shape=(None, d))            # (N, d)
    X_test = check_array("X_test", _column(X_test), shape=(None, d))
    y = check_array("y", y, shape=(len(X),))                                                     # (N,)
    batch_size = None if batch_size is None else check_count("batch_size", batch_size, high=X.shape[0])
    rng = np.random.default_rng(seed)
    params = {k: v.detach().numpy().copy() for k, v in model.named_parameters()}
    layout = [(k, v.shape) for k, v in params.items()]
    both = np.concatenate([X, X_test])
    n = len(X)
    f0_test, f0_train = _forward_np(params, X_test), _forward_np(params, X)
    contributions = np.zeros((len(X_test), n))
    K0 = None
    for step in range(num_steps + 1):
        J = _analytic_jacobian(params, both)
        J_train, J_test = J[:n], J[n:]
        if K0 is None:
            K0 = J_train @ J_train.T
        if step == num_steps:
            break
        r = _forward_np(params, X) - y                                     # (N,)
        if batch_size is not None:                                         # SGD: drawn only
            r = r * np.isin(np.arange(n), rng.choice(n, batch_size, replace=False))
        contributions -= lr * (J_test @ J_train.T) * r[None, :]            # (M, N)
        update, start = -lr * J_train.T @ r, 0
        for name, shape in layout:
            size = int(np.prod(shape))
            params[name] = params[name] + update[start:start + size].reshape(shape)
            start += size
    return {"f0_test": f0_test, "fT_test": _forward_np(params, X_test), "contributions": contributions,
            "fT_train": _forward_np(params, X), "f0_train": f0_train, "K0_train": K0, "KT_train": J_train @ J_train.T}


@checked(model=arg.module(), X=arg.array(ndim=(1, 2)), lr=arg.real(low=0, low_open=True),
         num_steps=arg.count(low=0, high=10**6))
def train_gd(model: nn.Module, X: object, y: object, lr: float, num_steps: int) -> nn.Module:
    """Full-batch GD on ``0.5 sum (f - y)^2`` in place (plain autograd); returns the model."""
    X = _column(X)  # (N, d)
    X = torch.from_numpy(check_array("X", X, shape=(None, _in_dim(model))))
    y_t = torch.from_numpy(check_array("y", y, shape=(len(X),)))                            # (N,)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(num_steps):
        opt.zero_grad()
        loss = 0.5 * ((model(X)[:, 0] - y_t) ** 2).sum()
        loss.backward()
        opt.step()
    return model


@checked(X=arg.array(shape=("n", "d")), y=arg.array(shape=("n",)), w0=arg.array(shape=("d",)),
         lr=arg.real(low=0, low_open=True), num_steps=arg.count(low=0, high=10**6))
def linear_path_coefficients(X: object, y: object, w0: object, lr: float,
                             num_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """GD on the linear model ``f(x) = w . x`` with ``L = 0.5 sum (Xw - y)^2``, as a kernel machine.

    Returns ``(w_T, c)`` where ``c_i = -lr sum_k r_i(k)`` so that exactly
    ``f_T(x) - f_0(x) = sum_i c_i (x . x_i)``: the NTK of a linear model is the constant ``x . x'``.
    """
    Xt = X                                                 # (N, d)
    w = w0.copy()
    c = np.zeros(Xt.shape[0])
    for _ in range(num_steps):
        r = Xt @ w - y
        c -= lr * r
        w = w - lr * Xt.T @ r
    return w, c


# region: hinge-svm
@checked(X=arg.array(shape=("n", "d")), y=arg.array(shape=("n",), values=(-1, 1)), lam=arg.real(low=0, low_open=True),
         num_steps=arg.count(high=10**6), batch_size=arg.optional(arg.count(high="n")), seed=arg.seed())
def hinge_path_coefficients(X: object, y: object, lam: float, num_steps: int,
                            batch_size: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """(Sub)gradient descent on the linear SVM's primal, kept as a kernel machine.

    Minimises ``lam/2 |w|^2 + (1/N) sum_i max(0, 1 - y_i (w . x_i + b))`` from ``w = 0, b = 0``
    with the Pegasos step ``lr_k = 1 / (lam k)``; with ``batch_size`` each step uses a random
    minibatch (SGD). Alongside ``w`` it keeps one weight per example: ``alpha_i`` is shrunk by
    ``(1 - lr lam)`` each step and grows by ``lr y_i / |B|`` whenever example ``i`` is drawn
    and violates the margin (``y_i f(x_i) < 1``), so that ``w = sum_i alpha_i x_i``.
    ``X`` is ``(N, d)``, ``y`` in ``{-1, +1}``. Returns ``w (d,)``, ``b`` and ``alpha (N,)``.
    """
    n = len(y)
    batch_size = n if batch_size is None else batch_size
    rng = np.random.default_rng(seed)
    w, b, alpha = np.zeros(X.shape[1]), 0.0, np.zeros(n)
    for k in range(1, num_steps + 1):
        lr = 1.0 / (lam * k)
        batch = np.arange(n) if batch_size == n else rng.choice(n, batch_size, replace=False)
        weight = np.zeros(n)                                   # -dloss/df_i, (N,)
        violators = batch[y[batch] * (X[batch] @ w + b) < 1]
        weight[violators] = y[violators] / batch_size
        w = (1 - lr * lam) * w + lr * X.T @ weight             # the plain (sub)gradient step
        b = b + lr * weight.sum()
        alpha = (1 - lr * lam) * alpha + lr * weight           # the same step, per example
    return {"w": w, "b": b, "alpha": alpha}
# endregion


@checked(ax=arg.axes(), X=arg.array(ndim=2, shape=(None, 2)), fit=arg.instance(dict))
def plot_hinge_svm(X: object, y: object, fit: dict, svm: object, ax: object) -> None:
    """Training points sized by ``|alpha_i|`` of a :func:`hinge_path_coefficients` ``fit``, the
    support vectors of ``svm`` (a fitted linear ``sklearn.svm.SVC``) ringed, and both decision
    lines ``w . x + b = 0`` (GD's with ``w = X^T alpha``)."""
    from mlnotes.plotting import COLORS
    alpha, y = check_array("fit['alpha']", fit.get("alpha"), shape=(len(X),)), check_array("y", y, shape=(len(X),))
    b = check_real("fit['b']", fit.get("b"))
    coef = check_array("svm.coef_", getattr(svm, "coef_", None), shape=(1, 2))   # a fitted linear SVC
    support = check_array("svm.support_", getattr(svm, "support_", None), ndim=1, integer=True, low=0, high=len(X) - 1)
    sizes = 8 + 300 * np.abs(alpha) / np.abs(alpha).max()
    for label, color in ((-1, COLORS[0]), (1, COLORS[1])):
        ax.scatter(*X[y == label].T, s=sizes[y == label], color=color, alpha=0.7,
                   label=f"class {label:+d} (size = $|\\alpha_i|$ from GD)")
    ax.scatter(*X[support].T, s=160, facecolors="none", edgecolors="black", lw=1,
               label="SVM support vectors")
    xs = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
    w = X.T @ alpha                                                                # (2,)
    for (wv, bv), style, name in (((coef[0], float(np.ravel(svm.intercept_)[0])), "-", "SVM boundary"),
                                  ((w, b), "--", "GD boundary")):
        ax.plot(xs, -(wv[0] * xs + bv) / wv[1], "k" + style, lw=1, label=name)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", ylim=(X[:, 1].min() - 0.5, X[:, 1].max() + 0.5))


@checked(X_test=arg.array(shape=("m",)), X=arg.array(shape=("n",)), y=arg.array(shape=("n",)),
         f_test=arg.array(shape=("m",)), contributions=arg.array(shape=("n",)), query=arg.int(low=0, high="m - 1"),
         title=arg.text(min_len=0))
def draw_retrieval(X: object, y: object, X_test: object, f_test: object, contributions: object,
                   query: int, title: str = ""):
    """The retrieval view of one prediction, as a figure of two panels. Left: the trained
    network ``f_test`` on the grid ``X_test`` (m,) and the training points ``(X, y)`` (n,), sized by
    ``|c_i(x)|`` at the query ``X_test[query]`` (dotted line). Right: the contributions
    ``c_i(x)`` (n,) as bars, positive and negative in two colours; ``contributions`` is one row
    of :func:`path_kernel_trace`'s ``"contributions"`` (m, n)."""
    from mlnotes.plotting import COLORS, new_figure

    c = contributions
    fig, (ax0, ax1) = new_figure(ncols=2, width=9.5, height=3.4)
    ax0.plot(X_test, f_test, color=COLORS[0], label="trained network $f_T$")
    ax0.scatter(X, y, s=10 + 400 * np.abs(c) / max(np.abs(c).max(), 1e-300), color=COLORS[1],
                label="training points (size = |contribution|)")
    ax0.axvline(X_test[query], color="black", ls=":", label=f"query x = {X_test[query]:.2f}")
    ax0.set(xlabel="input $x$", ylabel="output", title=title)
    ax0.legend(fontsize=7, loc="upper left")
    ax1.bar(np.arange(len(X)), c, color=[COLORS[2] if v > 0 else COLORS[3] for v in c])
    ax1.set_xticks(range(0, len(X), 2))
    ax1.set(xlabel="training example $i$ (sorted by $x_i$)", ylabel="contribution $c_i(x)$",
            title=f"contributions to $f_T - f_0$ at $x$ = {X_test[query]:.2f} (sum {c.sum():+.3f})")
    return fig


@checked(ax=arg.axes(), trace=arg.instance(dict), X=arg.array(shape=("n",)), y=arg.array(shape=("n",)),
         X_test=arg.array(ndim=1))
def plot_reconstruction(ax: object, X: object, y: object, X_test: object, trace: dict) -> None:
    """One panel of the path-kernel check for a :func:`path_kernel_trace` result ``trace``: the
    actual change ``f_T - f_0`` on ``X_test`` (m,) (thick), its reconstruction
    ``sum_k -lr K_k(x, X) r(k)`` (dashed) and the targets ``y - f_0`` at the inputs ``X`` (n,)."""
    from mlnotes.plotting import COLORS

    change = trace["fT_test"] - trace["f0_test"]                                      # (m,)
    ax.plot(X_test, change, color=COLORS[0], lw=3, label="actual $f_T - f_0$")
    ax.plot(X_test, trace["contributions"].sum(axis=1), color=COLORS[1], ls="--",
            label=r"$\sum_k -\mathrm{lr}\, K_k(x, x_i)\, r_i(k)$")
    ax.plot(X, y - trace["f0_train"], "o", color=COLORS[3], ms=4,
            label="targets $y - f_0$ at the training inputs")
    ax.set(xlabel="input $x$")


@checked(kernels=arg.instance(dict))
def plot_gram_matrices(kernels: dict):
    """Heat maps of Gram matrices on one shared colour scale from 0, one panel per entry of
    ``kernels`` (panel title -> (N, N) matrix), with one colour bar. Returns the figure."""
    from mlnotes.plotting import new_figure

    mats = {title: check_array(f"kernels[{title!r}]", K, ndim=2) for title, K in kernels.items()}
    vmax = max(K.max() for K in mats.values())
    fig, axes = new_figure(ncols=len(mats), width=2.5 * len(mats), height=2.8)
    for ax, (title, K) in zip(np.atleast_1d(axes), mats.items()):
        im = ax.imshow(K, cmap="viridis", vmin=0, vmax=vmax)
        ax.set(title=title, xlabel="$i$", ylabel="$j$")
    fig.colorbar(im, ax=axes, shrink=0.8, label="$K(x_i, x_j)$")
    return fig


@checked(ax=arg.axes(), widths=arg.array(ndim=1, low=1))
def plot_kernel_change(ax: object, widths: object, change: object) -> None:
    """Relative NTK change against the width on log-log axes: one thin line per seed, the mean
    with dots, and a ``1/sqrt(w)`` reference through the first mean. ``change`` is
    (len(widths), seeds)."""
    from mlnotes.plotting import COLORS

    change = check_array("change", change, ndim=2, shape=(len(widths), None), low=0)  # (W, seeds)
    ax.loglog(widths, change, "-", color=COLORS[0], alpha=0.3, lw=1)
    ax.plot([], [], "-", color=COLORS[0], alpha=0.3, lw=1, label="one seed")
    ax.loglog(widths, change.mean(1), "o-", color=COLORS[0], label=f"mean of {change.shape[1]} seeds")
    ax.loglog(widths, change[0].mean() * np.sqrt(widths[0] / widths), ":", color="gray",
              label=r"$1/\sqrt{w}$")
    ax.minorticks_off()
    ax.set_xticks(widths, [f"{w:g}" for w in widths])
    ax.set(xlabel="hidden width $w$", ylabel=r"$\|K_T - K_0\|_F / \|K_0\|_F$")
    ax.legend()

"""Parameter-efficient fine-tuning: LoRA, adapters, prefix keys/values and a memory calculator.

The frozen models come from :mod:`mlnotes.transformer`.

LoRA:     ``W x + (alpha / r) B A x`` with ``A`` (r, d_in) random, ``B`` (d_out, r) zero.
Adapter:  ``h + W_up act(W_down h)`` with ``W_up`` zero, so both start at the base model.
Prefix:   per layer, P trainable keys and values prepended to the attention's own.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mlnotes.train import fit
from mlnotes.transformer import causal_mask
from mlnotes.validate import check_axes, check_instance, checked, arg

__all__ = ["ADD1", "COPY", "REVERSE", "SEP", "TASK_CODES", "Adapter", "LoRALinear", "PrefixKV",
           "add_adapters", "answer_logits", "control_code_batch", "draw_memory_bars", "draw_prefix_diagram",
           "exact_match",
           "finetune_memory_gb", "fit_low_rank", "inject_lora", "plot_method_accuracy",
           "plot_prefix_ablation", "prefix_attention_mass", "prefix_exact_match", "prefix_gate",
           "prefix_list", "svd_truncate", "token_prefix", "train_prefixes"]

Tensor = torch.Tensor


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update: ``y = W0 x + b + (alpha/r) B A x``.

    ``A`` (r, d_in) ~ Kaiming-uniform, ``B`` (d_out, r) = 0, so at initialisation the layer equals
    the base exactly. ``alpha`` defaults to ``r`` (scale 1). Trainable parameters: ``r (d_in + d_out)``.
    """

    @checked(base=arg.instance(nn.Linear), r=arg.int(low=1, high="min(base.in_features, base.out_features)"),
             alpha=arg.optional(arg.positive()))
    def __init__(self, base: nn.Linear, r: int, alpha: float | None = None) -> None:
        super().__init__()
        self.base = base.requires_grad_(False)
        self.r, self.alpha = r, float(r if alpha is None else alpha)
        self.A = nn.Parameter(torch.empty(r, base.in_features, dtype=base.weight.dtype))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, dtype=base.weight.dtype))

    @property
    def scale(self) -> float:
        return self.alpha / self.r

    def delta_weight(self) -> Tensor:
        """The update ``(alpha / r) B A`` of shape (d_out, d_in)."""
        return self.scale * self.B @ self.A

    def forward(self, x: Tensor) -> Tensor:
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T

    def merge(self) -> nn.Linear:
        """A plain ``nn.Linear`` with weight ``W0 + (alpha/r) B A``: same outputs, no extra latency."""
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None,
                           dtype=self.base.weight.dtype)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged


@checked(model=arg.instance(nn.Module), r=arg.count(high=4096), alpha=arg.optional(arg.positive()),
         skip=arg.sequence(arg.text(), min_len=0))
def inject_lora(model: nn.Module, r: int = 4, alpha: float | None = None,
                skip: tuple[str, ...] = ()) -> nn.Module:
    """Freeze ``model`` and replace (in place) every ``nn.Linear`` not named in ``skip`` by a LoRALinear.

    Names are the dotted names of ``model.named_modules()``. Skipped layers keep their own
    ``requires_grad`` setting (use it for a new, fully trainable head). Returns ``model``.
    """
    names = {name for name, _ in model.named_modules()}
    unknown = [s for s in skip if s not in names]
    if unknown:
        raise ValueError(f"skip names {unknown} are not modules of the model; known: {sorted(names)}")
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and name not in skip]
    if not targets:
        raise ValueError("the model has no nn.Linear layer to adapt")
    kept = {name: [p.requires_grad for p in m.parameters()] for name, m in model.named_modules() if name in skip}
    for p in model.parameters():
        p.requires_grad_(False)
    for name, flags in kept.items():
        for p, flag in zip(dict(model.named_modules())[name].parameters(), flags):
            p.requires_grad_(flag)
    for name, layer in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(layer, r, alpha))
    return model


class Adapter(nn.Module):
    """Bottleneck adapter with a residual: ``h + W_up act(W_down h + b_down) + b_up``.

    ``W_down`` (m, d), ``W_up`` (d, m) zero-initialised (starts as the identity map).
    Parameters: ``2 d m + d + m``.
    """

    @checked(d=arg.count(high=65536), m=arg.count(high=65536), act=arg.choice(("relu", "gelu", "tanh")))
    def __init__(self, d: int, m: int, act: str = "relu") -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}
        self.down, self.act, self.up = nn.Linear(d, m), acts[act](), nn.Linear(m, d)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.up(self.act(self.down(h)))


@checked(model=arg.instance(nn.Sequential), m=arg.count(high=65536))
def add_adapters(model: nn.Sequential, m: int, after: type = nn.ReLU) -> nn.Sequential:
    """A new ``nn.Sequential``: ``model``'s layers (frozen, shared) with an Adapter after each ``after`` layer.

    The adapter width ``d`` is the ``out_features`` of the last ``nn.Linear`` before it.
    """
    if not (isinstance(after, type) and issubclass(after, nn.Module)):
        raise TypeError(f"after must be an nn.Module class such as nn.ReLU, got {after!r:.60}")
    layers, width = [], None
    for layer in model:
        layer.requires_grad_(False)
        layers.append(layer)
        if isinstance(layer, nn.Linear):
            width = layer.out_features
        if isinstance(layer, after):
            if width is None:
                raise ValueError("an activation comes before any nn.Linear: cannot size the adapter")
            layers.append(Adapter(width, m))
    if len(layers) == len(model):
        raise ValueError(f"no {after.__name__} layer found: nowhere to insert adapters")
    return nn.Sequential(*layers)


#: Bytes per parameter for each training state, by precision.
_BYTES = {"fp32": {"weights": 4, "grads": 4, "master": 0, "adam": 8, "sgd": 0},
          "bf16-mixed": {"weights": 2, "grads": 2, "master": 4, "adam": 8, "sgd": 0}}


@checked(n_params=arg.positive(), gpu_gb=arg.positive(), precision=arg.choice(_BYTES),
         optimizer=arg.choice(("adam", "sgd")), trainable_fraction=arg.probability())
def finetune_memory_gb(n_params: float, precision: str = "bf16-mixed", optimizer: str = "adam",
                       trainable_fraction: float = 1.0, gpu_gb: float = 80.0) -> dict[str, float]:
    """Training-state memory in GB (1e9 bytes), activations excluded.

    Per parameter: weights (2 B bf16 / 4 B fp32). Per *trainable* parameter: gradients (2 / 4 B),
    fp32 master copy (4 B, mixed precision only) and Adam's m and v (4 B each; plain SGD keeps none).
    Full bf16-mixed Adam therefore costs 2 + 2 + 4 + 8 = 16 B/parameter. Returns the parts,
    ``total`` and ``gpus`` = ceil(total / gpu_gb).
    """
    b, t = _BYTES[precision], n_params * trainable_fraction
    parts = {"weights": n_params * b["weights"] / 1e9, "grads": t * b["grads"] / 1e9,
             "master": t * b["master"] / 1e9, "optimizer": t * b[optimizer] / 1e9}
    parts["total"] = sum(parts.values())
    parts["gpus"] = float(math.ceil(round(parts["total"] / gpu_gb, 9)))
    return parts


@checked(delta=arg.array(ndim=2), r=arg.int(low=1, high="min(delta.shape)"))
def svd_truncate(delta: object, r: int) -> tuple[np.ndarray, float]:
    """Best rank-``r`` approximation of a matrix (Eckart-Young) and its Frobenius error.

    Returns ``(U_r S_r V_r^T, sqrt(sum_{i > r} sigma_i^2))``.
    """
    M = delta                  # (m, n)
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    return (U[:, :r] * S[:r]) @ Vt[:r], float(np.sqrt(np.sum(S[r:] ** 2)))


@checked(delta=arg.array(ndim=2), r=arg.int(low=1, high="min(delta.shape)"), steps=arg.count(high=10**6),
         lr=arg.positive(), seed=arg.seed())
def fit_low_rank(delta: object, r: int, steps: int = 500, lr: float = 0.02, seed: int = 0) -> tuple[np.ndarray, float]:
    """Fit ``B A`` (rank ``r``) to ``delta`` by Adam on ``||delta - B A||_F^2``, LoRA-style init.

    Returns ``(B A, ||delta - B A||_F)``; by Eckart-Young the error is >= the SVD truncation error.
    """
    M = torch.as_tensor(delta)   # (m, n)
    g = torch.Generator().manual_seed(seed)
    A = (torch.randn(r, M.shape[1], generator=g, dtype=torch.float64) / math.sqrt(M.shape[1])).requires_grad_()
    B = torch.zeros(M.shape[0], r, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([A, B], lr=lr)
    for _ in range(steps):
        loss = ((M - B @ A) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    approx = (B @ A).detach()
    return approx.numpy(), float(torch.linalg.norm(M - approx))


class PrefixKV(nn.Module):
    """Trainable prefix keys/values for every layer: ``forward() -> [(k_l, v_l)]``, each (P, d).

    Direct: one parameter of shape (n_layer, 2, P, d), i.e. ``n_layer * 2 * P * d`` numbers.
    With ``reparam_hidden=h``: ``P = MLP(P')`` with ``P'`` (P, d) and an MLP
    ``d -> h -> n_layer * 2 * d`` (Li & Liang's reparameterisation); :meth:`materialize` then
    returns a direct ``PrefixKV`` holding the computed values, and the MLP can be thrown away.
    """

    @checked(n_layer=arg.count(high=256), P=arg.count(high=4096), d=arg.count(high=4096),
             reparam_hidden=arg.optional(arg.count(high=65536)))
    def __init__(self, n_layer: int, P: int, d: int, reparam_hidden: int | None = None) -> None:
        super().__init__()
        self.n_layer, self.P = n_layer, P
        self.d = d
        if reparam_hidden is None:
            self.prefix = nn.Parameter(0.5 * torch.randn(n_layer, 2, P, d))
            self.seed, self.mlp = None, None
        else:
            self.seed = nn.Parameter(torch.randn(P, d))
            self.mlp = nn.Sequential(nn.Linear(d, reparam_hidden), nn.Tanh(), nn.Linear(reparam_hidden, n_layer * 2 * d))

    def values(self) -> Tensor:
        """All prefix vectors as one tensor (n_layer, 2, P, d)."""
        if self.mlp is None:
            return self.prefix
        return self.mlp(self.seed).view(self.P, self.n_layer, 2, self.d).permute(1, 2, 0, 3)

    def forward(self) -> list[tuple[Tensor, Tensor]]:
        kv = self.values()
        return [(kv[layer, 0], kv[layer, 1]) for layer in range(self.n_layer)]

    def materialize(self) -> "PrefixKV":
        """A direct (MLP-free) PrefixKV with the same values."""
        out = PrefixKV(self.n_layer, self.P, self.d)
        with torch.no_grad():
            out.prefix.copy_(self.values())
        return out


@checked(q=arg.tensor(shape=("...", "Lq", "d"), floating=True), prefix_k=arg.tensor(shape=("...", "P", "d"), floating=True),
         k=arg.tensor(shape=("...", "L", "d"), floating=True))
def prefix_gate(q: Tensor, prefix_k: Tensor, k: Tensor) -> Tensor:
    """Attention mass on the prefix, ``lambda(q) = sum_p e^{q.p_k/s} / (sum_p e^{q.p_k/s} + sum_j e^{q.k_j/s})``.

    ``q`` (..., Lq, d), ``prefix_k`` (..., P, d), ``k`` (..., L, d); ``s = sqrt(d)``; all keys
    visible (apply a causal mask yourself if needed). Returns (..., Lq) in [0, 1].
    """
    s = math.sqrt(q.shape[-1])
    lp = torch.logsumexp(q @ prefix_k.transpose(-2, -1) / s, dim=-1)
    lc = torch.logsumexp(q @ k.transpose(-2, -1) / s, dim=-1)
    return torch.sigmoid(lp - lc)


# ---------------------------------------------------------------------------
# Control-code tasks for prefix-tuning (chapter: pretraining/prefix-tuning).
# ---------------------------------------------------------------------------

#: Token ids of the control-code language: digits 0-9, then SEP and three task codes.
SEP, COPY, REVERSE, ADD1 = 10, 11, 12, 13
TASK_CODES = {"copy": COPY, "reverse": REVERSE, "add1": ADD1}


@checked(batch_size=arg.count(high=10**6), tasks=arg.sequence(arg.choice(tuple(TASK_CODES))), n_digits=arg.count(high=1000),
         generator=arg.optional(arg.instance(torch.Generator)))
def control_code_batch(batch_size: int, tasks: tuple[str, ...] = ("copy", "reverse", "add1"), n_digits: int = 5,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Sequences ``[code, x_1..x_n, SEP, y_1..y_n]`` (B, 2n + 2) and the task index of each row (B,).

    ``copy``: y = x; ``reverse``: y = x reversed; ``add1``: y_i = (x_i + 1) mod 10. Tasks are
    drawn uniformly from ``tasks``.
    """
    which = torch.randint(len(tasks), (batch_size,), generator=generator)
    x = torch.randint(10, (batch_size, n_digits), generator=generator)
    outputs = {"copy": x, "reverse": x.flip(1), "add1": (x + 1) % 10}
    y = torch.stack([outputs[t] for t in tasks])[which, torch.arange(batch_size)]
    codes = torch.tensor([TASK_CODES[t] for t in tasks])[which]
    seq = torch.cat([codes[:, None], x, torch.full((batch_size, 1), SEP), y], dim=1)
    return seq, which


@checked(logits=arg.tensor(ndim=3, floating=True), n_digits=arg.int(low=1, high="logits.shape[1] - 1"))
def answer_logits(logits: Tensor, n_digits: int = 5) -> Tensor:
    """The logits that predict the ``n_digits`` answer tokens: positions -n-1 .. -2 of (B, L, V)."""
    return logits[:, -n_digits - 1:-1]


@checked(logits=arg.tensor(shape=("B", "L", None), floating=True), seq=arg.tensor(shape=("B", "L"), integer=True),
         n_digits=arg.int(low=1, high="L - 1"))
def exact_match(logits: Tensor, seq: Tensor, n_digits: int = 5) -> float:
    """Fraction of rows whose every answer token is the argmax (teacher-forced = greedy when all right)."""
    pred = answer_logits(logits, n_digits).argmax(-1)
    return (pred == seq[:, -n_digits:]).all(dim=1).float().mean().item()


@checked(model=arg.module(), ids=arg.tensor(ndim=2, integer=True),
         prefix_kv=arg.sequence(min_len="len(model.blocks)", max_len="len(model.blocks)"))
def prefix_attention_mass(model: nn.Module, ids: Tensor, prefix_kv: list[tuple[Tensor, Tensor]]) -> Tensor:
    """Attention mass ``lambda`` each content query puts on the prefix: (n_layer, n_head, B, L).

    Runs a :class:`mlnotes.transformer.TinyGPT` layer by layer, recomputing each layer's
    attention weights over [prefix; causal content].
    """
    x = model.embed(ids)
    masses = []
    for block, kv in zip(model.blocks, prefix_kv):
        P = kv[0].shape[-2]
        mask = causal_mask(ids.shape[1], P)
        q, k, _ = block.attn.project(block.ln1(x), prefix_kv=kv)
        scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, float("-inf"))
        masses.append(torch.softmax(scores, dim=-1)[..., :P].sum(-1).transpose(0, 1))
        x = block(x, mask=mask, prefix_kv=kv)
    return torch.stack(masses)


# ---------------------------------------------------------------------------
# Prefix ablations over seeds (chapter: pretraining/prefix-tuning).
# ---------------------------------------------------------------------------

@checked(n_layer=arg.count(high=256), values=arg.tensor(ndim=(4, 5)))
def prefix_list(values: Tensor, n_layer: int) -> list[tuple[Tensor, Tensor]]:
    """``values`` (layers, 2, P, d) or (B, layers, 2, P, d) -> one ``(k, v)`` per model layer.

    Layers beyond ``values``' own get an empty prefix (P = 0): a first-layer-only prefix.
    """
    v = values if values.dim() == 5 else values[None]            # (B, layers, 2, P, d)
    empty = v.new_zeros(v.shape[0], 0, v.shape[-1])
    kv = [(v[:, layer, 0], v[:, layer, 1]) if layer < v.shape[1] else (empty, empty)
          for layer in range(n_layer)]
    return kv if values.dim() == 5 else [(k[0], val[0]) for k, val in kv]


@checked(model=arg.module(), ids=arg.tensor(ndim=1, integer=True))
def token_prefix(model: nn.Module, ids: Tensor) -> Tensor:
    """The frozen model's own keys and values for real tokens ``ids`` (P,): (n_layer, 2, P, d).

    Li & Liang initialise a prefix with the activations of real words; this is that init.
    """
    x, out = model.embed(ids[None]), []
    with torch.no_grad():
        for block in model.blocks:
            k, v = block.attn.kv(block.ln1(x)).chunk(2, dim=-1)     # (1, P, d) each
            out.append(torch.stack([k[0], v[0]]))
            x = block(x, mask=causal_mask(x.shape[1]))
    return torch.stack(out)


# region: prefix-seeds
@checked(model=arg.module(), batch_fn=arg.callable(), P=arg.count(high=4096), n_seeds=arg.count(high=256),
         steps=arg.count(high=10**6), lr=arg.positive(), batch_size=arg.count(high=65536), seed=arg.seed(),
         layers=arg.int(low=1, high="len(model.blocks)"),
         init=arg.optional(arg.tensor(shape=("n_seeds", "layers", 2, "P", "model.d"))))
def train_prefixes(model: nn.Module, batch_fn, P: int, layers: int, n_seeds: int = 5,
                   steps: int = 100, lr: float = 3e-2, batch_size: int = 64,
                   init: Tensor | None = None, seed: int = 0, prefix_from: int = 0) -> tuple[Tensor, list[float]]:
    """Train ``n_seeds`` independent direct prefixes at once on a frozen causal LM.

    Each seed's prefix (layers, 2, P, d) serves its own ``batch_size`` rows of one big batch
    (per-row prefixes), so the seeds never interact: the summed loss has separate gradients
    and Adam's update is per coordinate. ``batch_fn(n, generator)`` returns (n, L) sequences
    whose last 5 tokens are the answer. ``init``: (n_seeds, layers, 2, P, d), else 0.5 N(0, 1).
    ``prefix_from``: positions before it cannot see the slots (an infix; see ``causal_mask``).
    Returns the prefixes (n_seeds, layers, 2, P, d) and the mean loss per step.
    """
    import torch.nn.functional as F
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 100)
    start = 0.5 * torch.randn(n_seeds, layers, 2, P, model.d) if init is None else init
    prefix = nn.Parameter(start.clone())                       # (S, layers, 2, P, d)

    def loss(step: int) -> Tensor:
        seq = batch_fn(n_seeds * batch_size, g)                # (S * batch, L)
        rows = prefix.repeat_interleave(batch_size, dim=0)     # one prefix per row
        kv = prefix_list(rows, len(model.blocks))
        logits = answer_logits(model(seq, prefix_kv=kv, prefix_from=prefix_from))
        return n_seeds * F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                         seq[:, -5:].reshape(-1))

    losses = fit(loss, [prefix], steps=steps, lr=lr)
    return prefix.detach(), [value / n_seeds for value in losses]
# endregion


@checked(model=arg.module(), seq=arg.tensor(ndim=2, integer=True), prefixes=arg.tensor(ndim=5, floating=True))
def prefix_exact_match(model: nn.Module, seq: Tensor, prefixes: Tensor, prefix_from: int = 0) -> np.ndarray:
    """Exact match on ``seq`` of each prefix in ``prefixes`` (S, layers, 2, P, d): array (S,)."""
    with torch.no_grad():
        return np.array([exact_match(model(seq, prefix_kv=prefix_list(p, len(model.blocks)),
                                           prefix_from=prefix_from), seq) for p in prefixes])


@checked(ax=arg.axes(), results=arg.instance(dict), extra=arg.optional(arg.instance(dict)))
def plot_prefix_ablation(ax, results: dict, extra: dict | None = None) -> None:
    """Exact match (mean ± sd over seeds) against the stored budget, one line per placement.

    ``results[(budget, placement)] = array of per-seed exact matches``; ``extra`` maps a label to
    ``(budget, array)`` drawn as single points with error bars.
    """
    placements = sorted({where for _, where in results}, reverse=True)
    markers = iter("osD^v")
    for where in placements:
        budgets = sorted(b for b, w in results if w == where)
        em = np.array([results[b, where] for b in budgets])              # (budgets, seeds)
        ax.errorbar(budgets, em.mean(1), yerr=em.std(1, ddof=1), marker=next(markers), capsize=3,
                    label=f"prefix in {where}")
    for label, (budget, em) in (extra or {}).items():
        ax.errorbar([budget], [em.mean()], yerr=[em.std(ddof=1)], marker=next(markers), capsize=3,
                    ls="none", label=label)
    ax.set(xscale="log", xlabel="stored prefix numbers (log scale)", ylim=(0, 1.03),
           ylabel="exact match, code-less reverse")
    ax.set_xticks(sorted({b for b, _ in results}), [str(b) for b in sorted({b for b, _ in results})])
    ax.minorticks_off()
    ax.legend()


def draw_prefix_diagram(axes) -> None:
    """Two panels: where prefix-tuning and a soft prompt put their trainable vectors (orange)."""
    from matplotlib.patches import FancyBboxPatch
    from mlnotes.plotting import COLORS

    axes = [check_axes("axes", ax) for ax in np.ravel(check_instance("axes", axes, (list, tuple, np.ndarray)))]
    if len(axes) != 2:
        raise ValueError(f"axes must hold 2 Axes (prefix-tuning, soft prompt), got {len(axes)}")

    def box(ax, x, y, text, color, w=0.9, h=0.7):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color,
                                    ec="black", lw=0.6, alpha=0.85))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)

    tokens = ["SEP", "3", "1", "4", "..."]
    for ax, kind in zip(axes, ["prefix-tuning", "soft prompt"]):
        for layer in range(3):
            y = layer * 1.1
            label = "embed" if layer == 0 else f"layer {layer} K,V"
            ax.text(-0.3, y + 0.35, label, ha="right", va="center", fontsize=8)
            if (kind == "prefix-tuning") == (layer > 0):     # where the trainable vectors go
                for p in range(2):
                    box(ax, p, y, f"p{p + 1}", COLORS[1])
            for t, tok in enumerate(tokens):
                box(ax, 2.2 + t, y, tok if layer == 0 else "frozen", COLORS[5] if layer else "white")
        shift = 2 if kind == "soft prompt" else 0
        for t in range(4):
            ax.text(2.65 + t, -0.35, f"pos {t + shift}", ha="center", fontsize=8)
        ax.set(xlim=(-2.2, 7.4), ylim=(-0.6, 3.3), title=kind, xticks=[], yticks=[])
        ax.grid(False)


@checked(ax=arg.axes(), results=arg.instance(dict))
def plot_method_accuracy(ax, results: dict) -> None:
    """Test accuracy (mean ± sd over seeds) against trainable parameters, one marker per family.

    ``results[name] = (n_trainable, array of per-seed accuracies)``; names start with the family.
    """
    families = {"head only": "s", "LoRA": "o", "adapter": "^", "full": "D"}
    for k, (family, marker) in enumerate(families.items()):
        names = [name for name in results if name.startswith(family)]
        n = [results[name][0] for name in names]
        acc = np.array([results[name][1] for name in names])            # (methods, seeds)
        ax.errorbar(n, acc.mean(1), yerr=acc.std(1, ddof=1), marker=marker, color=f"C{k}",
                    capsize=3, ls="-" if len(names) > 1 else "none", label=family)
        for name, x, y in zip(names, n, acc.mean(1)):
            if family in ("LoRA", "adapter"):
                ax.annotate(name.split(" ")[-1], (x, y), textcoords="offset points",
                            xytext=(4, -12), fontsize=8)
    ax.set(xscale="log", xlabel="trainable parameters (log scale)",
           ylabel="test accuracy on digits 5-9")
    ax.legend(loc="lower right")


@checked(ax=arg.axes(), mem=arg.instance(dict))
def draw_memory_bars(ax, mem: dict) -> None:
    """One stacked bar of training-state memory from :func:`finetune_memory_gb`'s ``mem``
    (weights, grads, master, optimizer, in GB), with a dotted line at every 80 GB GPU."""
    from mlnotes.plotting import COLORS
    left = 0.0
    for part, color in zip(["weights", "grads", "master", "optimizer"], COLORS):
        ax.barh(0, mem[part], left=left, color=color, label=part)
        left += mem[part]
    for k in range(1, int(mem["gpus"]) + 1):
        ax.axvline(80 * k, color="gray", lw=0.6, ls=":")
    ax.set(yticks=[], xlabel="memory (GB)", xlim=(0, max(100, 1.1 * mem["total"])),
           title=f"{mem['total']:.2f} GB -> {mem['gpus']:.0f} x 80 GB GPU(s)")
    ax.legend(ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.35))

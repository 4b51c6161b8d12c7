"""The book's figure style and the figure helpers several chapters share.

Every chapter calls :func:`use_book_style` (through ``mlnotes.core.setup_notebook``).
The palette is Okabe & Ito's colour-blind-safe set; figures keep a white face so they
stay readable when the site is in dark mode. The style also:

- turns the grid off on axes that show an image (``imshow``/``matshow``/``pcolormesh``),
  so no chapter needs ``ax.grid(False)``;
- labels log axes with powers of ten (``10^{-3}``, as mathtext) at the decades, and labels
  the in-between ticks, as plain numbers, only when the axis spans less than one decade;
- writes scalar tick offsets in mathtext (``\\times 10^{4}``), like the labels (``$\\sigma^2$``).

Shared helpers: :func:`plot_decision_boundary` (classifiers on the plane: score, label or
probability), :func:`tile_images` (a grid of small images as one array), and
:func:`log_limits` (a log axis whose range is set by the data that matters).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import matplotlib as mpl
import matplotlib.pyplot as plt
import matplotlib.scale as mscale
import matplotlib.ticker as mticker
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mlnotes.validate import checked, arg

__all__ = ["COLORS", "LINESTYLES", "PALETTE", "BOOK_RC", "use_book_style", "new_figure", "style_cycle",
           "plot_decision_boundary", "tile_images", "log_limits"]

#: Okabe & Ito (2008), safe for the common forms of colour blindness.
PALETTE: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
#: Cycle order: the most distinguishable colours first.
COLORS: list[str] = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion", "purple", "sky", "black")]
#: Line styles that pair with COLORS so lines differ in print too.
LINESTYLES: list[str] = ["-", "--", "-.", ":", "-", "--", "-."]

BOOK_RC: dict[str, object] = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.prop_cycle": cycler(color=COLORS),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "figure.constrained_layout.use": True,
    "axes.formatter.use_mathtext": True,
    "axes.formatter.limits": (-3, 4),
}

#: Axes methods that draw an image; after them the axes' grid is turned off.
_IMAGE_METHODS = ("imshow", "pcolormesh", "pcolorfast")


def _grid_off_after(method: Callable) -> Callable:
    @functools.wraps(method)
    def draw_image(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self.grid(False)
        return result

    draw_image._mlnotes_grid_off = True
    return draw_image


class _PlainLogFormatter(mticker.LogFormatter):
    """matplotlib's minor log labels, written as plain numbers ("0.3", "20", "20000") instead
    of "3e-01" or "2e+04"."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:g}"


class _BookLogScale(mscale.LogScale):
    """matplotlib's log scale, labelled with powers of ten at the decades; the ticks in
    between get plain labels ("20", "50") only when the axis spans less than one decade."""

    if hasattr(mscale, "_scale_has_axis_parameter"):  # matplotlib >= 3.11 builds scales without axis
        def __init__(self, *, base: float = 10, subs=None, nonpositive: str = "clip") -> None:
            super().__init__(None, base=base, subs=subs, nonpositive=nonpositive)

    def set_default_locators_and_formatters(self, axis) -> None:
        super().set_default_locators_and_formatters(axis)
        axis.set_major_formatter(mticker.LogFormatterSciNotation(self.base))
        axis.set_minor_formatter(_PlainLogFormatter(self.base, labelOnlyBase=False))  # "20", "0.3"


def use_book_style() -> None:
    """Apply the book's matplotlib style (idempotent): rc settings, no grid on image axes,
    log axes labelled with powers of ten."""
    mpl.rcParams.update(BOOK_RC)
    for name in _IMAGE_METHODS:
        method = getattr(Axes, name)
        if not getattr(method, "_mlnotes_grid_off", False):
            setattr(Axes, name, _grid_off_after(method))
    if mscale._scale_mapping.get("log") is not _BookLogScale:
        mscale.register_scale(_BookLogScale)


@checked(ncols=arg.int(1, 8), nrows=arg.int(1, 8), width=arg.real(low=0.0, high=20.0, low_open=True),
         height=arg.real(low=0.0, high=20.0, low_open=True))
def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.6,
               **subplot_kw: object) -> tuple[Figure, object]:
    """A figure with ``nrows x ncols`` axes in the book's style: ``(fig, axes)``.

    ``axes`` is a single Axes when ``nrows == ncols == 1``, else a numpy array of Axes.
    """
    use_book_style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=True, **subplot_kw)
    return fig, axes


@checked(n=arg.int(0, 10_000))
def style_cycle(n: int) -> list[dict[str, str]]:
    """``n`` (colour, linestyle) pairs for lines that must differ in colour and in print."""
    return [{"color": COLORS[i % len(COLORS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}
            for i in range(n)]



@checked(ax=arg.axes(), values=arg.array(finite=False, min_ndim=1), axis=arg.choice(("x", "y")), pad=arg.real(low=1.0))
def log_limits(ax: Axes, values: object, axis: str = "y", pad: float = 1.5) -> tuple[float, float]:
    """Put ``axis`` of ``ax`` on a log scale whose range covers the positive finite ``values``
    (times/divided by ``pad``), so zeros, clamps and overflow do not set the range.

    Returns the limits ``(lo, hi)``.
    """
    v = values
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        raise ValueError("values must contain at least one positive finite number for a log axis")
    lo, hi = float(v.min()) / pad, float(v.max()) * pad
    getattr(ax, f"set_{axis}scale")("log")
    getattr(ax, f"set_{axis}lim")(lo, hi)
    return lo, hi


def _scores(model: object, points: np.ndarray, kind: str) -> np.ndarray:
    """What to shade at ``points`` (m, 2): a fitted model's own method for ``kind``, or the
    callable itself."""
    method = {"score": "decision_function", "label": "predict", "proba": "predict_proba"}[kind]
    if hasattr(model, method):
        out = np.asarray(getattr(model, method)(points), dtype=float)
        return out[:, -1] if kind == "proba" and out.ndim == 2 else out  # P(last class)
    if not callable(model):
        raise TypeError(f"model must be callable or have a {method}() method, got {type(model).__name__}")
    return np.asarray(model(points), dtype=float)


@checked(ax=arg.axes(), kind=arg.choice(("score", "label", "proba")), X=arg.array(shape=("N", 2)),
         y=arg.array(shape=("N",), dtype=None), grid=arg.count(low=2, high=2000), margin=arg.real(low=0.0),
         lims=arg.optional(arg.array(shape=(4,))), sizes=arg.optional(arg.array(shape=("N",), low=0.0)))
def plot_decision_boundary(ax: Axes, model: object, X: object, y: object, kind: str = "label", *,
                           grid: int = 200, margin: float = 0.5, lims: tuple | None = None,
                           sizes: object = None) -> Axes:
    """Shade the plane by a classifier and scatter the points ``X`` (n, 2) coloured by ``y`` (n,).

    ``model`` is a fitted estimator or a function of points (m, 2) -> (m,):

    - ``kind="score"``: a real score (``decision_function``), diverging colours
      symmetric about 0 and the boundary score = 0 drawn as a black line;
    - ``kind="label"``: predicted labels (``predict``), one light colour per class;
    - ``kind="proba"``: P(class 1) (``predict_proba``'s last column), colours over
      [0, 1] and the boundary P = 0.5 drawn as a black line.

    The grid covers the data plus ``margin`` on each side, or ``lims=(x0, x1, y0, y1)``;
    ``sizes`` (n,) sets marker areas. Returns ``ax``.
    """
    if lims is None:
        lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
        lims = (lo[0], hi[0], lo[1], hi[1])
    x0, x1, y0, y1 = map(float, lims)
    g0, g1 = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))      # (grid, grid)
    Z = _scores(model, np.column_stack([g0.ravel(), g1.ravel()]), kind).reshape(g0.shape)
    classes = np.unique(y)
    if kind == "label":
        levels = np.concatenate([[-np.inf], (classes[1:] + classes[:-1]) / 2, [np.inf]])
        ax.contourf(g0, g1, Z, levels=levels, colors=COLORS[:len(classes)], alpha=0.2)
    else:
        middle = 0.0 if kind == "score" else 0.5
        half = max(float(np.abs(Z - middle).max()), 1e-12) if kind == "score" else 0.5
        ax.contourf(g0, g1, Z, levels=np.linspace(middle - half, middle + half, 21), cmap="RdBu_r",
                    alpha=0.45, extend="both")
        if Z.min() < middle < Z.max():
            ax.contour(g0, g1, Z, levels=[middle], colors="black", linewidths=1.2)
    markers = ("o", "^", "s", "D", "v", "P")
    for i, c in enumerate(classes):
        sel = y == c
        ax.scatter(X[sel, 0], X[sel, 1], s=12 if sizes is None else sizes[sel], color=COLORS[i % len(COLORS)],
                   marker=markers[i % len(markers)], edgecolors="white", linewidths=0.4, label=f"class {c:g}")
    ax.grid(False)  # a shaded plane, like an image
    ax.set(xlim=(x0, x1), ylim=(y0, y1))
    if not ax.get_xlabel():
        ax.set_xlabel("$x_1$")
    if not ax.get_ylabel():
        ax.set_ylabel("$x_2$")
    return ax


@checked(side=arg.count(high=4096), ncols=arg.count(high=10_000), pad=arg.int(0, 1000),
         fill=arg.array(ndim=0, finite=False), images=arg.array(shape=(None, "side * side"), finite=False))
def tile_images(images: object, ncols: int, side: int = 8, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tile (m, side*side) images into one 2-D array, ``ncols`` per row, ``pad`` pixels of
    ``fill`` between them (NaN shows as the background in ``imshow``)."""
    fill = float(fill)  # NaN allowed: a blank gap
    m = images.shape[0]
    nrows = -(-m // ncols)
    step = side + pad
    canvas = np.full((nrows * step - pad, ncols * step - pad), fill)
    for k, img in enumerate(images):
        r, c = divmod(k, ncols)
        canvas[r * step:r * step + side, c * step:c * step + side] = img.reshape(side, side)
    return canvas

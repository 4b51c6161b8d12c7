"""The book's figure style and small figure helpers.

Every chapter calls :func:`use_book_style` (through ``mlnotes.core.setup_notebook``).
The palette is Okabe & Ito's colour-blind-safe set; figures keep a white face so they
stay readable when the site is in dark mode.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.figure import Figure

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
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (idempotent)."""
    mpl.rcParams.update(BOOK_RC)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.6,
               **subplot_kw: object) -> tuple[Figure, object]:
    """A figure with ``nrows x ncols`` axes in the book's style: ``(fig, axes)``.

    ``axes`` is a single Axes when ``nrows == ncols == 1``, else a numpy array of Axes.
    """
    for name, value in (("ncols", ncols), ("nrows", nrows)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not 1 <= value <= 8:
            raise ValueError(f"{name} must be in [1, 8], got {value}")
    if not (0 < width <= 20 and 0 < height <= 20):
        raise ValueError(f"width and height must be in (0, 20] inches, got {width} x {height}")
    use_book_style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=True, **subplot_kw)
    return fig, axes


def style_cycle(n: int) -> list[dict[str, str]]:
    """``n`` (colour, linestyle) pairs for lines that must differ in colour and in print."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    return [{"color": COLORS[i % len(COLORS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}
            for i in range(n)]


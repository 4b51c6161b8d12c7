"""Numbers a page states, computed by the page: ``glue`` and ``spread``.

How a chapter writes a measured number (the book's convention):

- The prose, caption or alt text carries the number **literally** ("the deque made 1.98 n
  operations"), so the notebook reads well wherever it is opened: JupyterLab, Colab or
  Binder show plain text, never an unresolved ``{glue:text}`` role.
- A code cell computes the value and registers the text it formats to:
  ``glue("deque-ratio", ratio, "{:.2f}")``.
- The build checks that every decimal number or percentage in markdown, captions and alt
  text (outside math and code) occurs in the glued text of that notebook, or is listed with
  a reason in the notebook metadata ``{"mlnotes": {"constants": {"0.25": "max of sigmoid'"}}}``.
  So a number typed by hand, or left behind after the computation changed, fails the build.

``glue`` uses myst-nb's glue when myst-nb is installed (the book build) and does nothing
else otherwise (Colab and Binder have no myst-nb). It returns the formatted text; the
returned string shows nothing when it is a cell's last expression, so ``glue(...)`` can
end a cell without printing a stray ``'0.31'``.

``spread(values)`` formats a multi-seed measurement as ``"0.312 ± 0.021 (5 seeds, min
0.281, max 0.342)"``: mean ± sample standard deviation (ddof = 1), the count, and both
extremes, so the worst seed is on the page.
"""

from __future__ import annotations

from mlnotes.validate import check_array

__all__ = ["glue", "spread"]


class Glued(str):
    """The formatted text ``glue`` returns: a plain string that displays nothing on its own."""

    def _ipython_display_(self) -> None:
        pass


def glue(name: str, value: object, fmt: str = "{}") -> Glued:
    """Format ``value`` with ``fmt`` and register the text under ``name`` for the build."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format string like '{{:.2f}}', got {fmt!r}")
    text = Glued(fmt.format(value))
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab, Binder: nothing to register with
        return text
    myst_glue(name, str(text), display=False)
    return text


def spread(values: object, fmt: str = "{:.3f}", unit: str = "seeds") -> str:
    """``"mean ± sd (N seeds, min .., max ..)"`` of ``values``, each number formatted by ``fmt``."""
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format string like '{{:.3f}}', got {fmt!r}")
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a word such as 'seeds' or 'splits', got {unit!r}")
    x = check_array("values", values, ndim=1)
    if x.size < 2:
        raise ValueError(f"values must hold at least 2 measurements for a spread, got {x.size}")
    mean, sd = x.mean(), x.std(ddof=1)
    return (f"{fmt.format(mean)} ± {fmt.format(sd)} ({x.size} {unit}, "
            f"min {fmt.format(x.min())}, max {fmt.format(x.max())})")

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

``glue`` records the text as myst-nb's ``glue(name, text, display=False)`` does (a hidden
output the build reads back) when myst-nb is installed (the book build), without importing
it into the kernel, and does nothing otherwise (Colab and Binder have no myst-nb). It returns the formatted text; the
returned string shows nothing when it is a cell's last expression, so ``glue(...)`` can
end a cell without printing a stray ``'0.31'``.

``spread(values)`` formats a multi-seed measurement as ``"0.312 ± 0.021 (5 seeds, min
0.281, max 0.342)"``: mean ± sample standard deviation (ddof = 1), the count, and both
extremes, so the worst seed is on the page.
"""

from __future__ import annotations

import importlib.util
import math
import numbers

from mlnotes.validate import checked, arg

__all__ = ["glue", "spread"]

#: The mime prefix of a hidden glue output (myst_nb.ext.glue.GLUE_PREFIX).
GLUE_PREFIX = "application/papermill.record/"


class Glued(str):
    """The formatted text ``glue`` returns: a plain string that displays nothing on its own."""

    def _ipython_display_(self) -> None:
        pass


_FMT = arg.text(contains="{")          # a format string such as "{:.2f}"


@checked(name=arg.text(), fmt=_FMT)
def glue(name: str, value: object, fmt: str = "{}") -> Glued:
    """Format ``value`` with ``fmt`` and register the text under ``name`` for the build.

    ``value`` is a finite number or any object ``fmt`` can format (text, a tuple for
    ``"{0[0]:.2f} ± {0[1]:.2f}"``); NaN and inf raise, since no page states them as a result.
    """
    if isinstance(value, numbers.Real) and not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r}")
    try:
        text = Glued(fmt.format(value))
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
        raise TypeError(f"value {value!r} cannot be formatted by fmt {fmt!r}: {error}") from None
    if importlib.util.find_spec("myst_nb") is None:  # Colab, Binder: nothing to register with
        return text
    from IPython import get_ipython
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    if get_ipython() is None:  # a plain script: no notebook to record in
        return text
    # What myst_nb.glue(name, text, display=False) emits, without importing myst-nb and
    # Sphinx into the kernel (seconds per chapter): a hidden output myst-nb reads back.
    bundle, metadata = format_display_data(str(text))
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display({GLUE_PREFIX + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
    return text


@checked(values=arg.array(shape=("n >= 2",)), fmt=_FMT, unit=arg.text())
def spread(values: object, fmt: str = "{:.3f}", unit: str = "seeds") -> str:
    """``"mean ± sd (N seeds, min .., max ..)"`` of ``values`` (at least 2), each number formatted by ``fmt``."""
    x = values
    mean, sd = x.mean(), x.std(ddof=1)
    return (f"{fmt.format(mean)} ± {fmt.format(sd)} ({x.size} {unit}, "
            f"min {fmt.format(x.min())}, max {fmt.format(x.max())})")

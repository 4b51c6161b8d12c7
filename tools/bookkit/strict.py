"""Kernel start-up for strict execution: warnings become errors, the network is cut, and
figures are linted before they are shown.

Installed by ``tools/ipython/profile_default/startup/00-strict.py`` in every kernel the
book's executor starts (the build, ``make check``, the determinism run); never in a reader's
live notebook. The offline guard refuses every socket connection that is not to the
loopback interface or a Unix socket, so a chapter that tries to download fails.

Figure lint (``lint_figure(fig) -> list[str]``) catches three slips:

- ``figure-legend``: an axes shows two or more labelled artists and no legend explains
  them (neither its own, nor the figure's, nor another axes' legend with those labels);
- ``figure-log-range``: an autoscaled log axis whose range reaches more than
  ``LOG_SLACK_DECADES`` beyond the data that matters: per line or scatter, its 2nd..98th
  percentile (all of it below 10 points), after setting aside an extreme value repeated
  exactly (a clamp such as ``np.maximum(x, 1e-16)``) or lone, when a gap of more than
  that many decades, and three times the artist's largest other step, cuts it off;
- ``figure-empty``: a visible axes with its axis drawn and nothing in it.

Where it runs: (1) at the end of every cell, on every open figure and on a figure that is
the cell's value, so the cell itself raises ``FigureLintError`` before matplotlib-inline's
``post_execute`` flush shows the figure (a ``post_execute``/``post_run_cell`` callback cannot
fail a cell: IPython catches and prints its exceptions); (2) on every figure rendered to an
image (``FigureCanvasBase.print_figure``: ``savefig``, explorer frames, ``display(fig)``).
A figure shown in the middle of a cell (``plt.show()``) fails the cell at its end. When the
cell itself raised, the lint stands aside and the cell's own error is reported.

``MLNOTES_FIGURE_LINT``: ``error`` (default) raises, ``record`` writes one
``figure lint: <kind> <message>`` line per problem to stderr instead (``bookkit.check
--gates --execute`` counts them), ``off`` disables the lint.
"""

from __future__ import annotations

import ast
import ipaddress
import os
import socket
import sys
import warnings

import numpy as np

OFFLINE_ENV = "MLNOTES_OFFLINE"
FIGURE_LINT_ENV = "MLNOTES_FIGURE_LINT"
FIGURE_LINT_MARK = "figure lint:"
#: A log axis may reach this many decades beyond the data that matters before it is a slip.
LOG_SLACK_DECADES = 3.0
STRICT_CATEGORIES = (DeprecationWarning, FutureWarning, RuntimeWarning, UserWarning)


class OfflineError(OSError):
    """Raised when code in a chapter tries to reach the network."""


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(method):
    def connect(self, address):
        if self.family != socket.AF_UNIX and not _is_local(address):
            raise OfflineError(f"network access is cut while the book executes: refused to connect to {address!r}")
        return method(self, address)
    return connect


def _guarded_getaddrinfo(original):
    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host if isinstance(host, str) else (host,)):
            raise OfflineError(f"network access is cut while the book executes: refused to resolve {host!r}")
        return original(host, *args, **kwargs)
    return getaddrinfo


# --- figure lint ------------------------------------------------------------------------------

class FigureLintError(AssertionError):
    """A figure about to be shown has a legend, log-range or empty-axes slip."""


def _labelled(ax) -> list[str]:
    labels = ax.get_legend_handles_labels()[1]
    return list(dict.fromkeys(labels))


def _legend_texts(legend) -> set[str]:
    return {t.get_text() for t in legend.get_texts()} if legend is not None else set()


def _legend_problems(fig) -> list[str]:
    figure_labels = set().union(*(_legend_texts(leg) for leg in fig.legends)) if fig.legends else set()
    elsewhere = set().union(*(_legend_texts(ax.get_legend()) for ax in fig.axes))
    problems = []
    for number, ax in enumerate(fig.axes):
        labels = _labelled(ax)
        if len(labels) < 2 or ax.get_legend() is not None:
            continue
        if set(labels) <= figure_labels | elsewhere:
            continue  # one legend for several panels that show the same labelled lines
        problems.append(f"figure-legend axes {number} ({ax.get_title() or 'untitled'!r}) has "
                        f"{len(labels)} labelled artists {labels[:4]} and no legend: call ax.legend()")
    return problems


def _artist_points(ax) -> list[tuple[np.ndarray, object]]:
    """``(points, transform)`` of every visible line, scatter, filled region and patch of ``ax``."""
    found = []
    for line in ax.get_lines():
        if line.get_visible():
            found.append((line.get_xydata(), line.get_transform()))
    for collection in ax.collections:
        if not collection.get_visible():
            continue
        offsets = np.asarray(collection.get_offsets(), dtype=float)
        if len(offsets) > 1 or (len(offsets) == 1 and offsets.any()):  # scatter: markers at offsets
            found.append((offsets, collection.get_offset_transform()))
        else:  # fill_between, polygons: their paths' vertices
            paths = [p.vertices for p in collection.get_paths() if len(p.vertices)]
            if paths:
                found.append((np.concatenate(paths), collection.get_transform()))
    for patch in ax.patches:  # axvspan/axhspan, bars: their corners
        if patch.get_visible():
            found.append((patch.get_path().vertices, patch.get_transform()))
    return found


def _artist_values(ax, axis: str) -> list[np.ndarray]:
    """Per artist: log10 of its positive finite data coordinates along ``axis`` ('x' or 'y')."""
    column = 0 if axis == "x" else 1
    to_data = ax.transData.inverted()
    found = []
    for points, transform in _artist_points(ax):
        try:
            xy = np.asarray(points, dtype=float)
            if xy.ndim != 2 or not len(xy):
                continue
            if transform != ax.transData:  # axhline, axvspan, patches: via display space
                with np.errstate(all="ignore"):
                    xy = to_data.transform(transform.transform(xy))
        except (TypeError, ValueError):
            continue
        values = xy[:, column]
        values = values[np.isfinite(values) & (values > 0)]
        if len(values):
            found.append(np.log10(values))
    return found


def _core_range(logs: np.ndarray) -> tuple[float, float]:
    """The range of one artist's data that matters: clamps set aside, then 2nd..98th percentile."""
    logs = np.sort(logs)
    for side in (0, 1):
        if len(logs) < 3:
            break
        edge = logs[0] if side == 0 else logs[-1]
        inner = logs[logs != edge]
        if not len(inner):
            break
        repeated = np.count_nonzero(logs == edge)
        gap = (inner[0] - edge) if side == 0 else (edge - inner[-1])
        steps = np.diff(np.unique(inner))
        typical = steps.max() if len(steps) else 0.0  # quadratic convergence has growing steps
        if gap > max(LOG_SLACK_DECADES, 3 * typical) and (repeated >= 2 or len(logs) >= 10) \
                and repeated <= len(logs) / 2:
            logs = inner
    if len(logs) < 10:
        return float(logs[0]), float(logs[-1])
    return float(np.percentile(logs, 2)), float(np.percentile(logs, 98))


def _log_range_problems(fig) -> list[str]:
    problems = []
    for number, ax in enumerate(fig.axes):
        for axis in ("x", "y"):
            if getattr(ax, f"get_{axis}scale")() != "log" or not getattr(ax, f"get_autoscale{axis}_on")():
                continue
            shared = getattr(ax, f"get_shared_{axis}_axes")().get_siblings(ax)
            artists = [v for sibling in shared for v in _artist_values(sibling, axis)]
            if not artists:
                continue
            cores = [_core_range(v) for v in artists]
            lo, hi = min(c[0] for c in cores), max(c[1] for c in cores)
            view = np.log10(np.clip(sorted(getattr(ax, f"get_{axis}lim")()), 1e-300, None))
            below, above = lo - view[0], view[1] - hi
            if max(below, above) > LOG_SLACK_DECADES:
                side = "below" if below >= above else "above"
                problems.append(
                    f"figure-log-range axes {number} ({ax.get_title() or 'untitled'!r}): the log {axis} axis "
                    f"spans 1e{view[0]:.1f}..1e{view[1]:.1f} but the data that matters spans "
                    f"1e{lo:.1f}..1e{hi:.1f}; {max(below, above):.1f} decades {side} it are set by a few "
                    f"extreme values (clamps, zeros, overflow): drop or mark them, or set the limits")
    return problems


def _empty_problems(fig) -> list[str]:
    problems = []
    for number, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        if ax.has_data() or ax.texts or ax.artists or ax.tables or ax.get_images():
            continue
        problems.append(f"figure-empty axes {number} ({ax.get_title() or 'untitled'!r}) is visible and "
                        f"empty: remove it (fig.delaxes(ax)) or turn it off (ax.axis('off'))")
    return problems


def lint_figure(fig) -> list[str]:
    """Every legend, log-range and empty-axes slip of ``fig``, as ``"<kind> <message>"``."""
    problems = []
    for rule in (_legend_problems, _log_range_problems, _empty_problems):
        try:
            problems += rule(fig)
        except Exception as exc:  # a figure the lint cannot read must not look like a chapter bug
            sys.stderr.write(f"bookkit.strict: {rule.__name__} could not check a figure "
                             f"({type(exc).__name__}: {exc}); report it to the book tooling\n")
    return problems


_pending: list[str] = []  # problems of figures shown mid-cell (their display path swallows errors)
_checking = False


def check_figure(fig, where: str = "") -> None:
    """Lint ``fig`` as the mode says: raise ``FigureLintError``, write to stderr, or do nothing."""
    global _checking
    mode = os.environ.get(FIGURE_LINT_ENV, "error")
    if mode == "off" or _checking:
        return
    _checking = True
    try:
        problems = lint_figure(fig)
    finally:
        _checking = False
    if not problems:
        return
    if mode == "record":
        for problem in problems:
            if problem not in _recorded:
                _recorded.add(problem)
                sys.stderr.write(f"{FIGURE_LINT_MARK} {problem}\n")
        return
    raise FigureLintError("figure lint" + (f" ({where})" if where else "") + ":\n- " + "\n- ".join(problems))


_recorded: set[str] = set()


def _end_of_cell(value=None) -> None:
    """Run at the end of every cell (an AST transformer appends the call): lint what will show."""
    from matplotlib._pylab_helpers import Gcf
    from matplotlib.figure import Figure

    problems, _pending[:] = list(_pending), []
    figures = [manager.canvas.figure for manager in Gcf.get_all_fig_managers()]
    if isinstance(value, Figure) and value not in figures:
        figures.append(value)
    for fig in figures:
        try:
            check_figure(fig)
        except FigureLintError as exc:
            problems.append(str(exc))
            Gcf.destroy_fig(fig)  # nor shown by the inline backend's flush (no-op if not pyplot's)
    if problems:
        raise FigureLintError("\n".join(dict.fromkeys(problems)))


def _new_cell(*args) -> None:
    _pending.clear()
    _recorded.clear()


LINT_NAME = "_mlnotes_lint_figures"
VALUE_NAME = "_mlnotes_cell_value"


class _LintAtCellEnd(ast.NodeTransformer):
    """Append ``_mlnotes_lint_figures(<last value>)`` to every cell, keeping its displayed value."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        body = node.body
        if not body:
            return node
        last = body[-1]
        if isinstance(last, ast.Expr):
            body.pop()
            added = [ast.Assign(targets=[ast.Name(VALUE_NAME, ast.Store())], value=last.value),
                     ast.parse(f"{LINT_NAME}({VALUE_NAME})").body[0],
                     ast.Expr(ast.Name(VALUE_NAME, ast.Load()))]
        else:
            added = [ast.parse(f"{LINT_NAME}()").body[0]]
        for new in added:  # tracebacks point at the cell's last line
            for sub in ast.walk(new):
                if "lineno" in sub._attributes and not hasattr(sub, "_keep"):
                    ast.copy_location(sub, last)
                    sub.end_lineno, sub.end_col_offset = last.end_lineno, last.end_col_offset
        body += added
        return node


def _cell_already_failed() -> bool:
    """True while the inline backend flushes the figures of a cell that raised: the lint then
    stands aside, so the cell's own traceback is the one reported (ipykernel replies with the
    last traceback shown)."""
    from IPython import get_ipython

    shell = get_ipython()
    return (shell is not None and shell.displayhook.exec_result is None  # the cell body has ended
            and not shell.last_execution_succeeded)


def _print_figure_linted(original):
    def print_figure(self, *args, **kwargs):
        if not _checking and getattr(self, "figure", None) is not None and not _cell_already_failed():
            try:
                check_figure(self.figure)
            except FigureLintError as exc:
                _pending.append(str(exc))
                raise
        return original(self, *args, **kwargs)
    print_figure._mlnotes_linted = True
    return print_figure


def install_figure_lint(shell=None) -> None:
    """Lint figures at the end of each cell of ``shell`` and whenever one is rendered."""
    from matplotlib.backend_bases import FigureCanvasBase

    if not getattr(FigureCanvasBase.print_figure, "_mlnotes_linted", False):
        FigureCanvasBase.print_figure = _print_figure_linted(FigureCanvasBase.print_figure)
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None or any(isinstance(t, _LintAtCellEnd) for t in shell.ast_transformers):
        return
    shell.ast_transformers.append(_LintAtCellEnd())
    shell.events.register("pre_run_cell", _new_cell)
    shell.user_ns[LINT_NAME] = _end_of_cell
    shell.user_ns_hidden[LINT_NAME] = _end_of_cell


def install() -> None:
    """Turn the strict warning categories into errors; with ``MLNOTES_OFFLINE=1`` cut the network;
    lint figures before they are shown (unless ``MLNOTES_FIGURE_LINT=off``)."""
    for category in STRICT_CATEGORIES:
        warnings.simplefilter("error", category)
    if os.environ.get(FIGURE_LINT_ENV, "error") != "off":
        install_figure_lint()
    if os.environ.get(OFFLINE_ENV) == "1" and not getattr(socket, "_mlnotes_guarded", False):
        socket.socket.connect = _guarded(socket.socket.connect)
        socket.socket.connect_ex = _guarded(socket.socket.connect_ex)
        socket.getaddrinfo = _guarded_getaddrinfo(socket.getaddrinfo)
        socket._mlnotes_guarded = True

"""The build is strict: a throwaway book with the book's own _config.yml fails on a cell error,
a warning, a network access, output on stderr and a broken cross-reference, and passes when clean.
The strict kernel's figure lint fails a cell that shows a figure with a legend, log-range or
empty-axes slip (also inside savefig, as explorer frames are rendered) and passes healthy ones;
the numbers gate reads the glue outputs of an executed notebook."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import ROOT
from bookkit.contract import number_problems
from bookkit.execute import KERNEL_ENV, execute_one
from bookkit.strict import lint_figure

CASES = {
    "clean": ("print('fine')", "See {doc}`intro`.", True, "fine"),
    "cell-error": ("raise RuntimeError('deliberately broken')", "", False, "deliberately broken"),
    "deprecation-warning": ("import warnings\nwarnings.warn('stale', DeprecationWarning)", "", False, "stale"),
    "runtime-warning": ("import numpy as np\nnp.log(np.zeros(1))", "", False, "divide by zero"),
    "network": ("import urllib.request\nurllib.request.urlopen('http://example.com', timeout=5)", "", False,
                "network access is cut"),
    "stderr": ("import sys\nsys.stderr.write('oops')", "", False, "stderr"),
    "broken-reference": ("print('fine')", "See {doc}`no-such-chapter`.", False, "no-such-chapter"),
}


#: The book's kernels and Sphinx find bookkit on PYTHONPATH (the Makefile exports it).
BUILD_ENV = os.environ | KERNEL_ENV | {"PYTHONPATH": os.pathsep.join(
    p for p in (str(ROOT / "tools"), os.environ.get("PYTHONPATH")) if p)}


def make_book(tmp_path, code: str, markdown: str):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copy(ROOT / "references.bib", tmp_path / "references.bib")
    (tmp_path / "assets").mkdir()
    shutil.copy(ROOT / "assets" / "favicon.png", tmp_path / "assets" / "favicon.png")
    (tmp_path / "intro.md").write_text("# Intro\n\n```{bibliography}\n```\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapter\n")
    nb = new_notebook(cells=[new_markdown_cell(f"# Chapter\n\n{markdown}"), new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "chapter.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_strict_build(tmp_path, case):
    code, markdown, should_pass, evidence = CASES[case]
    make_book(tmp_path, code, markdown)
    env = BUILD_ENV
    build = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "-W", "-n",
                            "--keep-going"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    log = build.stdout + build.stderr
    assert (build.returncode == 0) == should_pass, log[-3000:]
    if should_pass:
        log = (tmp_path / "_build" / "html" / "chapter.html").read_text()
    else:
        reports = tmp_path / "_build" / "html" / "reports"
        log += "".join(p.read_text() for p in reports.glob("*.log")) if reports.exists() else ""
    assert evidence in log, log[-3000:]


def _execute(tmp_path, *sources, markdown=()):
    path = tmp_path / "chapter.ipynb"
    nb = new_notebook(cells=[*map(new_markdown_cell, markdown), *map(new_code_cell, sources)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return execute_one(str(path))


@pytest.mark.slow
@pytest.mark.parametrize("case", ["cell-error", "deprecation-warning", "network"])
def test_executor_reports_failures_per_chapter(tmp_path, case):
    code, _, _, evidence = CASES[case]
    result, executed = _execute(tmp_path, code)
    assert not result.ok and executed is None and evidence in result.error
    assert result.peak_mb > 10  # the kernel's memory was measured


# --- figure lint ------------------------------------------------------------------------------

def _figure(*series, log="y", axhline=None, legend=False):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for i, (x, y) in enumerate(series):
        ax.plot(x, y, label=f"series {i}" if legend is not None else None)
    if axhline is not None:
        ax.axhline(axhline, ls=":", label="_reference")
    if legend:
        ax.legend()
    if "y" in log:
        ax.set_yscale("log")
    if "x" in log:
        ax.set_xscale("log")
    return fig


T = np.arange(1000)
HEALTHY_LOG = {
    "exponential decay": lambda: _figure((T, np.exp(-T / 70))),
    "power law with a reference line": lambda: _figure((T + 1, (T + 1.0) ** 1.5), log="xy", axhline=1e7),
    "two curves 13 decades apart": lambda: _figure(
        (T, 1e-16 * (1 + np.random.default_rng(0).random(1000))), (T, 1e-3 * (1 + np.random.default_rng(1).random(1000))),
        legend=True),
    "quadratic convergence to round-off": lambda: _figure((np.arange(6), [1e-1, 1e-2, 1e-4, 1e-8, 1e-16, 1e-16])),
    "machine epsilon reference": lambda: _figure((T, np.exp(-T / 300)), axhline=2.2e-16),
}
BAD_LOG = {
    "zeros clamped to 1e-16": lambda: _figure((T, np.maximum(np.where(T < 700, np.exp(-T / 200), 0.0), 1e-16))),
    "two overflow spikes": lambda: _figure((T, np.where(np.isin(T, [10, 500]), 1e30, 1 / (1 + T)))),
    "one stray tiny value": lambda: _figure((T, np.where(T == 999, 1e-20, 1 / (1 + T)))),
}


@pytest.mark.parametrize("case", HEALTHY_LOG)
def test_lint_passes_healthy_log_plots(case):
    assert lint_figure(HEALTHY_LOG[case]()) == []


@pytest.mark.parametrize("case", BAD_LOG)
def test_lint_catches_log_axes_stretched_by_extreme_values(case):
    (problem,) = lint_figure(BAD_LOG[case]())
    assert problem.startswith("figure-log-range") and "decades" in problem


def test_lint_leaves_log_limits_the_author_set_alone():
    fig = BAD_LOG["zeros clamped to 1e-16"]()
    fig.axes[0].set_ylim(1e-17, 10)  # deliberate (an explorer sharing limits across frames does this)
    assert lint_figure(fig) == []


def test_lint_needs_a_legend_for_two_labelled_lines_unless_another_panel_has_it():
    import matplotlib.pyplot as plt

    assert lint_figure(_figure((T, T), (T, 2 * T), log="", legend=False))[0].startswith("figure-legend")
    assert lint_figure(_figure((T, T), (T, 2 * T), log="", legend=True)) == []
    assert lint_figure(_figure((T, T), log="", legend=False)) == []  # one labelled line needs no legend
    fig, (a, b) = plt.subplots(1, 2)
    for ax in (a, b):
        ax.plot(T, T, label="train")
        ax.plot(T, 2 * T, label="test")
    a.legend()
    assert lint_figure(fig) == []  # one legend for both panels
    b.plot(T, 3 * T, label="validation")
    assert lint_figure(fig)[0].startswith("figure-legend axes 1")


def test_lint_catches_a_visible_empty_axes():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    axes[0].plot(T, T)
    axes[1].imshow(np.eye(3))
    problems = lint_figure(fig)
    assert len(problems) == 1 and problems[0].startswith("figure-empty axes 2")
    axes[2].axis("off")
    assert lint_figure(fig) == []


LINT_CASES = {
    "legend": ("fig, ax = plt.subplots()\nax.plot([1, 2], label='a')\nax.plot([2, 1], label='b')", "figure-legend"),
    "log-range": ("fig, ax = plt.subplots()\ny = np.maximum(np.r_[np.geomspace(1, 1e-2, 50), np.zeros(5)], 1e-300)\n"
                  "ax.semilogy(y)", "figure-log-range"),
    "empty": ("fig, axes = plt.subplots(1, 2)\naxes[0].plot([1, 2])", "figure-empty"),
    "explorer-frame": ("import io\nfig, ax = plt.subplots()\nax.plot([1, 2], label='a')\nax.plot([2, 1], label='b')\n"
                       "fig.savefig(io.BytesIO(), format='png')\nplt.close(fig)", "figure-legend"),
    "shown-mid-cell": ("fig, axes = plt.subplots(1, 2)\naxes[0].plot([1, 2])\nplt.show()\nprint('went on')",
                       "figure-empty"),
    "figure-as-value": ("from matplotlib.figure import Figure\nfig = Figure()\nfig.add_subplot()\nfig", "figure-empty"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", LINT_CASES)
def test_strict_kernel_fails_the_cell_that_shows_a_bad_figure(tmp_path, case):
    code, evidence = LINT_CASES[case]
    result, executed = _execute(tmp_path, "import numpy as np\nimport matplotlib.pyplot as plt", code, "print('never')")
    assert not result.ok and executed is None
    assert "FigureLintError" in result.error and evidence in result.error, result.error[-2000:]


@pytest.mark.slow
def test_figure_lint_stands_aside_when_the_cell_itself_failed(tmp_path):
    code = "fig, axes = plt.subplots(1, 2)\nraise RuntimeError('the real error')"
    result, _ = _execute(tmp_path, "import matplotlib.pyplot as plt", code)
    assert not result.ok and "the real error" in result.error
    assert "FigureLintError" not in result.error and "figure-empty" not in result.error, result.error[-2000:]


@pytest.mark.slow
def test_strict_kernel_shows_healthy_figures_and_keeps_cell_values(tmp_path):
    result, executed = _execute(
        tmp_path, "import numpy as np\nimport matplotlib.pyplot as plt",
        "fig, ax = plt.subplots()\nax.plot([1, 2], label='a')\nax.plot([2, 1], label='b')\nax.legend();",
        "fig, ax = plt.subplots()\nax.semilogy(np.geomspace(1, 1e-6, 100))\nplt.close(fig)\nfig",
        "1 + 1", "x = 3")
    assert result.ok, result.error[-2000:]
    cells = nbformat.reads(executed, as_version=4).cells
    assert [len(c.outputs) for c in cells] == [0, 1, 1, 1, 0]  # a ';' still hides the value
    assert "image/png" in cells[1].outputs[0].data and "image/png" in cells[2].outputs[0].data
    assert cells[3].outputs[0].data["text/plain"] == "2"


@pytest.mark.slow
def test_record_mode_reports_figure_problems_on_stderr_and_runs_on(tmp_path, monkeypatch):
    monkeypatch.setenv("MLNOTES_FIGURE_LINT", "record")
    result, executed = _execute(tmp_path, "import matplotlib.pyplot as plt", LINT_CASES["empty"][0], "print('ran on')")
    assert result.ok, result.error[-2000:]
    from bookkit.check import figure_lint_records

    found = figure_lint_records(nbformat.reads(executed, as_version=4))
    assert [kind for kind, _ in found] == ["figure-empty"] and found[0][1].startswith("code cell 1:")


@pytest.mark.slow
def test_numbers_gate_reads_what_an_executed_notebook_glued(tmp_path):
    markdown = ["The mean is 0.50 and the share 25%; the typed 0.75 is not glued."]
    result, executed = _execute(tmp_path, "from mlnotes.claims import glue",
                                "glue('mean', 0.5, '{:.2f}')\nglue('share', 0.25, '{:.0%}')", markdown=markdown)
    assert result.ok, result.error[-2000:]
    nb = nbformat.reads(executed, as_version=4)
    assert [len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"] == [0, 2]
    problems = number_problems(nb)
    assert len(problems) == 1 and "'0.75'" in problems[0][1]


# --- what readers see: show() highlighted, glue() hidden, the ledger's escaping ----------------

def _build(tmp_path, code: str, markdown: str) -> str:
    make_book(tmp_path, code, markdown)
    build = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "-W", "-n",
                            "--keep-going"], capture_output=True, text=True, env=BUILD_ENV,
                           timeout=300, cwd=tmp_path)
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    return (tmp_path / "_build" / "html" / "chapter.html").read_text()


@pytest.mark.slow
def test_show_renders_highlighted_and_glue_stays_hidden_on_the_site(tmp_path):
    code = ("from mlnotes.show import show\nfrom mlnotes.claims import glue, spread\n"
            "glue('mean', 0.5, '{:.2f}')\nshow(spread)")
    html = _build(tmp_path, code, "The mean is 0.50.")
    assert '<div class="highlight-python notranslate">' in html
    assert re.search(r'<span class="k">def</span>(<span class="w"> </span>| )<span class="nf">spread</span>', html)  # pygments
    assert "<code class=\"docutils literal notranslate\"><span class=\"pre\">mlnotes.claims.spread</span>" in html
    assert "The mean is 0.50." in html and "&#39;0.50&#39;" not in html and "'0.50'" not in html


@pytest.mark.slow
def test_claims_ledger_escapes_markdown_math_and_roles(tmp_path):
    from bookkit.contract import parse_claim
    from bookkit.report import _code, _md, seeds_text

    claim = parse_claim("# Claim (one run, exact because |x| < $1 {doc}`x`): a*b_c [1] `code` <tag> #3\nassert 1")
    row = f"| {_md(claim.text)} | {_md(seeds_text(claim))} | {_code('p | q ` $x$ {doc}`y`')} | passed |"
    html = _build(tmp_path, "print('fine')", "| Claim | Seeds | Evidence | Result |\n|---|---|---|---|\n" + row)
    text = re.sub(r"<[^>]+>", "", html)
    assert "a*b_c [1] `code` &lt;tag&gt; #3" in text
    assert "one run, exact because |x| &lt; $1 {doc}`x`" in text
    assert "p | q ` $x$ {doc}`y`" in text

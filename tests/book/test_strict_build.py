"""The build is strict: a throwaway book with the book's own _config.yml fails on a cell error,
a warning, a network access, output on stderr and a broken cross-reference, and passes when clean."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import ROOT
from bookkit.execute import KERNEL_ENV, execute_one

pytestmark = pytest.mark.slow

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


@pytest.mark.parametrize("case", CASES)
def test_strict_build(tmp_path, case):
    code, markdown, should_pass, evidence = CASES[case]
    make_book(tmp_path, code, markdown)
    env = os.environ | KERNEL_ENV
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


@pytest.mark.parametrize("case", ["cell-error", "deprecation-warning", "network"])
def test_executor_reports_failures_per_chapter(tmp_path, case):
    code, _, _, evidence = CASES[case]
    path = tmp_path / "chapter.ipynb"
    nb = new_notebook(cells=[new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    result, executed = execute_one(str(path))
    assert not result.ok and executed is None and evidence in result.error
    assert result.peak_mb > 10  # the kernel's memory was measured

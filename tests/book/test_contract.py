"""Every chapter keeps the chapter contract; the checker itself catches what it should."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import ROOT
from bookkit.contract import check_notebook, chapter_stats
from bookkit.execute import toc_notebooks

CHAPTERS = sorted((ROOT / "chapters").rglob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_keeps_the_contract(path):
    problems = check_notebook(path)
    assert not problems, f"{path.relative_to(ROOT)}:\n- " + "\n- ".join(problems)


def test_every_chapter_is_in_the_toc_and_the_toc_has_no_strays():
    assert sorted(toc_notebooks()) == CHAPTERS


def test_chapters_live_in_known_parts():
    parts = {"foundations", "classical", "vision", "sequences", "pretraining", "generative"}
    assert {p.parent.name for p in CHAPTERS} <= parts


def _write(tmp_path: Path, cells) -> Path:
    path = tmp_path / "chapter.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_checker_reports_every_missing_part(tmp_path):
    bad = new_code_cell("import sys\nsys.path.append('..')\nimport requests\nimport pandas as pd")
    bad.outputs = [nbformat.v4.new_output("stream", text="hi")]
    problems = "\n".join(check_notebook(_write(tmp_path, [new_markdown_cell("no title"), bad])))
    for expected in ("H1 title", "Source", "What you will learn", "Explore", "Exercises", "Summary",
                     "{cite}", "{doc}", "figures", "check", "explorer", "exercises", "solutions",
                     "stored with outputs", "sys.path", "['pandas', 'requests']"):
        assert expected in problems


def test_checker_counts_cells_like_the_pattern_chapter():
    stats = chapter_stats(ROOT / "chapters/sequences/sliding-window-maximum.ipynb")
    assert stats.checks >= 3 and stats.figures >= 2 and stats.explorers >= 1
    assert stats.exercises >= 2 and stats.solutions >= 2


def test_solution_without_code_is_not_counted(tmp_path):
    cells = [new_markdown_cell("```{solution-start} ex-1\n```\ntext only\n```{solution-end}\n```")]
    assert chapter_stats(_write(tmp_path, cells)).solutions == 0

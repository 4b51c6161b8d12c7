"""Every chapter keeps the chapter contract and passes the claim and code gates; the checker
itself catches what it should, each gate on a deliberately bad throwaway notebook."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import ROOT
from bookkit.contract import (chapter_stats, check_notebook, claims, gate_problems, gate_warnings,
                              number_problems, numbers_in, parse_claim, prose)
from bookkit.execute import toc_notebooks

CHAPTERS = sorted((ROOT / "chapters").rglob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_keeps_the_contract(path):
    problems = check_notebook(path, gates=False)
    assert not problems, f"{path.relative_to(ROOT)}:\n- " + "\n- ".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_is_a_valid_notebook(path):
    """nbformat's schema: e.g. no cell ids in a 4.4 notebook (an editor adds them; Jupyter warns)."""
    nbformat.validate(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_passes_the_claim_and_code_gates(path):
    """Solutions assert, claim comments and seeds, line length, no source slicing, and the
    numbers gate when it needs no execution (tests/book/test_gates.py checks it on the cache)."""
    problems = [p for p in check_notebook(path) if p.startswith("[")]
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


# --- each gate fails on a deliberately bad example -----------------------------------------------

def _kinds(cells, metadata=None, glued=None) -> list[str]:
    nb = new_notebook(cells=cells)
    nb.metadata.update(metadata or {})
    found = gate_problems(nb) + number_problems(nb, glued=set() if glued is None else glued)
    return [kind for kind, _ in found]


def _glue_output(name: str, text: str):
    return nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": repr(text)},
                                  metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})


def test_numbers_gate_finds_unglued_decimals_and_percentages_outside_math_and_code():
    text = ("The error fell to 0.31 (12% of runs, tolerance 1e-6, the paper's 2.5x). Integers pass: 45 chapters.\n"
            "Math $0.5$, $$1.5$$ and {math}`2.5`, code `3.5`, {cite}`smith4.5`, <https://x.org/5.5>, v6.5.\n"
            "```python\nlr = 7.5\n```\n"
            "```{exercise} Halve 8.5\n:label: ex-9.5\nCompute 10.5.\n```\n")
    assert numbers_in(prose(text)) == ["0.31", "12%", "1e-6", "2.5", "8.5", "10.5"]
    figure = new_code_cell("plot()")
    figure.metadata["mystnb"] = {"figure": {"caption": "Accuracy 0.93 at $k = 0.5$"}, "image": {"alt": "Bars at 7%"}}
    cells = [new_markdown_cell("Loss 0.31 and 0.42."), figure]
    assert _kinds(cells).count("numbers") == 4
    glued = {"loss": "0.31 ± 0.02", "acc": "0.93", "share": "7.0%"}
    problems = number_problems(new_notebook(cells=cells), glued=glued)
    assert [m for _, m in problems] == [m for _, m in problems if "0.42" in m or "'7%'" in m]
    assert len(problems) == 2  # 0.42 is not glued; "7%" is not "7.0%"


def test_numbers_gate_reads_glue_outputs_and_listed_constants():
    cell = new_code_cell("glue('loss', loss, '{:.2f}')")
    cell.outputs = [_glue_output("loss", "0.31")]
    cells = [new_markdown_cell("Loss 0.31; the sigmoid's slope is at most 0.25; 0.42 is typed."), cell]
    nb = new_notebook(cells=cells)
    nb.metadata["mlnotes"] = {"constants": {"0.25": "max of sigmoid', exact", "0.77": ""}}
    problems = [m for _, m in number_problems(nb)]
    assert len(problems) == 2 and "'0.77'" in problems[0] and "has no reason" in problems[0]
    assert "'0.42'" in problems[1]


def test_solutions_gate_needs_an_assert_in_every_solution():
    def end():
        return new_markdown_cell("```{solution-end}\n```")

    cells = [new_markdown_cell("```{solution-start} ex-a\n:class: dropdown\n```"), new_code_cell("print(1 + 1)"),
             end(), new_markdown_cell("```{solution-start} ex-b\n```"), new_code_cell("x = 2\nassert x == 2"),
             end(), new_markdown_cell("```{solution-start} ex-c\n```"),
             new_code_cell("np.testing.assert_allclose(1, 1)"), end(),
             new_markdown_cell("```{solution-start} ex-d\n```\nprose only\n```{solution-end}\n```")]
    problems = [m for k, m in gate_problems(new_notebook(cells=cells)) if k == "solution-assert"]
    assert len(problems) == 2 and "ex-a" in problems[0] and "ex-d" in problems[1]


def _check(source):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["check"]
    return cell


def test_claim_gates_need_a_claim_comment_and_five_seeds_for_randomness():
    cells = [_check("assert 1 + 1 == 2"),                                            # no claim comment
             _check("# Claim: the sum is 2\nassert 1 + 1 == 2"),                     # old style
             _check("# Claim (soft): it learns\nassert True"),                       # not a kind
             _check("# Claim (3 seeds): training lowers the loss\nassert True"),     # too few seeds
             _check("# Claim (exact): the fit converges\nassert True"),              # random text, no reason
             _check("# Claim (exact): sums agree\nrng = np.random.default_rng(0)\nassert True"),  # random code
             _check("# Claim (5 seeds): training lowers the loss\nassert True"),
             _check("# Claim (exact): the identity holds\n# on two lines\nassert 2 == 2"),
             _check("# Claim (one run, exact because any input (even random) works): ok\n"
                    "rng = np.random.default_rng(0)\nassert True")]
    problems = gate_problems(new_notebook(cells=cells))
    assert [(k, int(m.split()[2])) for k, m in problems] == [
        ("claim-comment", 0), ("claim-comment", 1), ("claim-comment", 2), ("claim-seeds", 3),
        ("claim-seeds", 4), ("claim-seeds", 5)]
    ledger = claims(new_notebook(cells=cells))
    assert [(c.kind, c.seeds) for c in ledger[6:]] == [("seeds", 5), ("exact", 1), ("exact-because", 1)]
    assert ledger[7].text == "the identity holds on two lines"
    assert ledger[8].reason == "any input (even random) works"


def test_randomness_words_are_not_found_in_deterministic_claims():
    claim = parse_claim("# Claim (exact): upsampling by 2 is optimal for the bilinear kernel\nassert up(x).shape")
    assert claim.kind == "exact"
    assert not claims(new_notebook(cells=[_check(
        "# Claim (exact): upsampling is optimal\nassert upsample(x, 2).shape == (4,)")]))[0].random
    assert not claims(new_notebook(cells=[_check(
        "# Claim (exact): attention is permutation-equivariant\nassert np.allclose(attn(x[p]), attn(x)[p])")]))[0].random


def test_code_gates_catch_long_lines_and_source_slicing():
    cells = [new_code_cell("x = 1  # " + "a" * 80),
             new_code_cell("source = inspect.getsource(f)\nprint(source[source.index('    for'):])"),
             new_code_cell("print(inspect.getsource(f)[10:])"),
             new_code_cell("lines = inspect.getsourcelines(f)[0]\nprint(''.join(lines[3:9]))"),
             new_code_cell("from mlnotes.show import show\nshow(f)\nshow(module, 'deque')")]
    install = new_code_cell("%pip install -q 'a-very-long-package-name @ git+https://example.org/" + "x" * 80 + "'")
    install.metadata["tags"] = ["colab-install", "remove-cell"]
    problems = gate_problems(new_notebook(cells=[*cells, install]))
    assert [(k, int(m.split()[2].rstrip(":"))) for k, m in problems] == [
        ("line-length", 0), ("source-slicing", 1), ("source-slicing", 2), ("source-slicing", 3)]


def test_long_cells_and_whole_getsource_are_warned_not_failed():
    cells = [new_code_cell("\n".join(f"x{i} = {i}" for i in range(26))), new_code_cell("\n".join("y = 1" for _ in range(25))),
             new_code_cell("print(inspect.getsource(f))")]
    nb = new_notebook(cells=cells)
    assert [k for k, _ in gate_warnings(nb)] == ["long-cell", "getsource"]
    assert not gate_problems(nb)


def test_gates_command_counts_problems_per_chapter_and_part(tmp_path):
    from bookkit.check import gate_table

    part = tmp_path / "vision"
    part.mkdir()
    cells = [new_markdown_cell("Accuracy 0.93 and 0.95."), new_code_cell("x = 1  # " + "a" * 90),
             _check("# Claim (2 seeds): training helps\nassert True")]
    nbformat.write(new_notebook(cells=cells), part / "demo.ipynb")
    table = gate_table([part / "demo.ipynb"])
    header, row = table.splitlines()[:2]
    counts = dict(zip(header.split()[1:], map(int, row.split()[1:])))
    assert counts == {"numbers": 2, "sol-assert": 0, "claim-cmt": 0, "claim-seeds": 1, "line>88": 1,
                      "slicing": 0, "w:long-cell": 0, "w:getsource": 0}
    assert any(line.startswith("vision (1/1)") for line in table.splitlines())

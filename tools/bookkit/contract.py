"""The chapter-contract checker: what ``../shared/chapter-contract.md`` asks, checked mechanically.

``check_notebook(path)`` returns a list of problems (empty when the chapter keeps the
contract); ``chapter_stats(path)`` counts what the build report shows.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

#: Top-level imports every chapter may use.
ALLOWED_IMPORTS = {"numpy", "scipy", "torch", "matplotlib", "ipywidgets", "sklearn", "mlnotes", "IPython"}
#: Extra packages a chapter's specification names, by chapter slug.
EXTRA_IMPORTS = {
    "word2vec": {"gensim"},
    "new-word-discovery": {"jieba"},
    "tokenizers": {"tokenizers"},
    "xgboost": {"xgboost"},
    "training-loop-ergonomics": {"tqdm"},
}
STDLIB = set(sys.stdlib_module_names)


@dataclass
class ChapterStats:
    title: str
    checks: int
    figures: int
    explorers: int
    exercises: int
    solutions: int


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _is_figure(cell) -> bool:
    meta = cell.get("metadata", {}).get("mystnb", {})
    return bool(meta.get("figure", {}).get("caption")) and bool(meta.get("image", {}).get("alt"))


def _imports(source: str) -> set[str]:
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))  # %magics become calls
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _solutions_with_code(cells) -> int:
    """Gated solutions (solution-start ... solution-end) that hold at least one code cell."""
    count, inside, has_code = 0, False, False
    for cell in cells:
        if cell.cell_type == "code":
            has_code = has_code or (inside and bool(cell.source.strip()))
            continue
        for marker in re.findall(r"\{solution-(start|end)\}", cell.source):
            if marker == "start":
                inside, has_code = True, False
            else:
                count += inside and has_code
                inside = False
    return count


def chapter_stats(path: Path) -> ChapterStats:
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = [c for c in nb.cells if c.cell_type == "code"]
    title = next((m.group(1).strip() for m in [re.search(r"^# (.+)$", markdown, re.M)] if m), "")
    return ChapterStats(
        title=title,
        checks=sum("check" in _tags(c) and "assert" in c.source for c in code),
        figures=sum(_is_figure(c) for c in code),
        explorers=sum("explorer" in _tags(c) and "explorer(" in c.source for c in code),
        exercises=len(re.findall(r"[`:]{3,}\{exercise(-start)?\}", markdown)),
        solutions=_solutions_with_code(nb.cells),
    )


def check_notebook(path: Path) -> list[str]:
    """Every way the chapter at ``path`` breaks the contract, as readable messages."""
    nb = nbformat.read(path, as_version=4)
    problems: list[str] = []
    cells = nb.cells
    markdown = [c.source for c in cells if c.cell_type == "markdown"]
    head = "\n".join(markdown[:2])
    if not re.search(r"^# \S", head, re.M):
        problems.append("no H1 title in the first markdown cell")
    if not re.search(r"\{admonition\} Source", head) or "http" not in head:
        problems.append("no ':::{admonition} Source' note with the original article's link near the top")
    body = "\n".join(markdown)
    for heading in ("What you will learn", "Explore", "Exercises", "Summary"):
        if not re.search(rf"^#+ {heading}", body, re.M):
            problems.append(f"no '{heading}' section heading")
    if "{cite" not in body:
        problems.append("no {cite} reference to references.bib")
    if "{doc}" not in body:
        problems.append("no {doc} link to a related chapter")
    stats = chapter_stats(path)
    for name, have, need in (("figures with caption and alt text", stats.figures, 2),
                             ("'check'-tagged cells with an assert", stats.checks, 3),
                             ("'explorer'-tagged cells calling explorer(", stats.explorers, 1),
                             ("exercises", stats.exercises, 2),
                             ("solutions (solution-start/-end) with executed code", stats.solutions, 2)):
        if have < need:
            problems.append(f"{have} {name}; at least {need} required")
    allowed = ALLOWED_IMPORTS | STDLIB | EXTRA_IMPORTS.get(path.stem, set())
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count"):
            problems.append(f"code cell {index} is stored with outputs; store notebooks clean")
        if "sys.path" in cell.source:
            problems.append(f"code cell {index} edits sys.path; import from the installed mlnotes")
        try:
            bad = _imports(cell.source) - allowed
        except SyntaxError as exc:
            problems.append(f"code cell {index} does not parse: {exc}")
            continue
        if bad:
            problems.append(f"code cell {index} imports {sorted(bad)}, outside the allowed set")
    return problems

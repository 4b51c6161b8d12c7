"""Write the build-report appendix page from this build's measurements.

``python -m bookkit.report`` reads ``_build/reports/metrics.json`` (written by
``bookkit.execute``) and each executed notebook in the cache, and writes
``appendix/build-report.md``:

- per chapter, execution time, peak memory, verified claims (``check`` cells) and how many
  passed, figures, explorers and exercises;
- the claims ledger: per chapter, every check cell's claim (from its ``# Claim (...)``
  comment), how many seeds it rests on (or why one run is exact), and the evidence it printed;
- the gates: per chapter, the problems each claim/code gate finds and the warnings (cells
  over 25 lines), so a failing gate is visible on the page as well as in ``make check``.
  Gate counts are kept in ``_build/reports/gate-counts.json`` per notebook, cached
  execution and version of the gates' code, so a rebuild with nothing changed does not
  re-run the gates.

It then writes the code map and landing page (``bookkit.codemap``) in the same process
(one interpreter start and one import of nbformat less per build). The page is rewritten
only when its text changes, so a no-op build leaves Sphinx nothing to re-read.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

from bookkit.contract import (GATE_KINDS, WARNING_KINDS, Claim, chapter_stats, claims, gate_problems,
                              gate_warnings, number_problems, uses_glue, with_outputs)
from bookkit.execute import ROOT, execution_stamp, load_metrics, open_cache, toc_notebooks

PAGE = ROOT / "appendix" / "build-report.md"
EVIDENCE_CHARS = 240


GATE_COUNTS = ROOT / "_build" / "reports" / "gate-counts.json"


def executed(cache, path: Path):
    """The chapter at ``path`` with the outputs of its cached execution, and that cache record
    (``(None, None)`` if not cached)."""
    source = nbformat.read(path, as_version=4)
    try:
        record = cache.match_cache_notebook(source)
    except KeyError:
        return None, None
    return with_outputs(source, cache.get_cache_bundle(record.pk).nb), record


def _passed(cell) -> bool:
    return bool(cell.get("execution_count")) and not any(o.output_type == "error" for o in cell.get("outputs", []))


def passed_checks(nb) -> int | None:
    """``check`` cells of the executed chapter that ran without an error output (None if not executed)."""
    if nb is None:
        return None
    return sum(1 for c in nb.cells if c.cell_type == "code" and "check" in c.metadata.get("tags", [])
               and "assert" in c.source and _passed(c))


def evidence(cell) -> str:
    """What a check cell printed (its stdout), shortened to one line."""
    text = "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stdout")
    text = " / ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS - 1] + "…"


def seeds_text(claim: Claim) -> str:
    if claim.kind == "seeds":
        return f"{claim.seeds}"
    if claim.kind == "exact":
        return "exact"
    if claim.kind == "exact-because":
        return f"one run, exact because {claim.reason}"
    return "**no claim comment**"


_ESCAPE = re.compile(r"([\\`*_$|<>\[\]{}#])")


def _md(text: str) -> str:
    """Plain text as a table cell: Markdown, MyST roles and math characters escaped."""
    return _ESCAPE.sub(r"\\\1", " ".join(text.split()))


def _code(text: str) -> str:
    """Text as a code span inside a table cell."""
    if not text:
        return "(printed nothing)"
    ticks = "``" if "`" in text else "`"
    return f"{ticks} {text.replace('|', chr(92) + '|')} {ticks}"


def ledger(path: Path, nb) -> list[str]:
    """The claims ledger of one chapter: a table of its check cells."""
    source = nbformat.read(path, as_version=4)
    cells = (source if nb is None else nb).cells
    rows = []
    for claim in claims(source):
        cell = cells[claim.cell]
        status = "not run" if nb is None else ("passed" if _passed(cell) else "**failed**")
        rows.append(f"| {_md(claim.text)} | {_md(seeds_text(claim))} | {_code(evidence(cell))} | {status} |")
    return ["| Claim | Seeds | Evidence printed | Result |", "|---|---|---|---|", *rows]


def gate_counts(path: Path, nb) -> collections.Counter:
    """Problems per gate kind (and ``warn:`` kinds) for one chapter."""
    source = nbformat.read(path, as_version=4)
    found = gate_problems(source)
    if nb is not None:
        found += number_problems(nb)
    elif not uses_glue(source):
        found += number_problems(source, glued=set())
    found += [(f"warn:{kind}", message) for kind, message in gate_warnings(source)]
    return collections.Counter(kind for kind, _ in found)


def render(root: Path = ROOT) -> str:
    metrics, cache = load_metrics(), open_cache()
    rows, total_checks, total_passed = [], 0, 0
    memo = json.loads(GATE_COUNTS.read_text()) if GATE_COUNTS.exists() else {}
    gates = hashlib.sha256((Path(__file__).parent / "contract.py").read_bytes()).hexdigest()  # the gates' code
    new_memo, executions = {}, []
    ledgers, gate_rows, totals = [], [], collections.Counter()
    kinds = [*GATE_KINDS, *(f"warn:{k}" for k in WARNING_KINDS)]
    for path in toc_notebooks(root):
        rel = str(path.relative_to(root))
        stats, m = chapter_stats(path), metrics.get(rel, {})
        nb, record = executed(cache, path)
        passed = passed_checks(nb)
        if record is not None:
            executions.append(record.created)
        stamp = record and execution_stamp(record)
        total_checks += stats.checks
        total_passed += passed or 0
        doc = "/" + rel.removesuffix(".ipynb")
        link = f"{{doc}}`{stats.title} <{doc}>`"
        rows.append(f"| {link} | {m.get('seconds', float('nan')):.1f} | "
                    f"{m.get('peak_mb', float('nan')):.0f} | {passed if passed is not None else 'not run'}"
                    f" / {stats.checks} | {stats.figures} | {stats.explorers} | {stats.exercises} |")
        ledgers += [f"### {_md(stats.title)}", "", link, "", *ledger(path, nb), ""]
        key = f"{rel}:{hashlib.sha256(path.read_bytes()).hexdigest()}:{stamp}:{gates}"
        counts = new_memo[key] = collections.Counter(memo[key]) if key in memo else gate_counts(path, nb)
        totals.update(counts)
        gate_rows.append(f"| {link} | " + " | ".join(str(counts.get(k, 0)) for k in kinds) + " |")
    GATE_COUNTS.parent.mkdir(parents=True, exist_ok=True)
    GATE_COUNTS.write_text(json.dumps(new_memo, sort_keys=True))
    newest = max(executions, default=None)
    newest = f"{newest:%Y-%m-%d %H:%M} UTC" if newest else "never"  # jupyter-cache stores UTC
    failing = sum(1 for row in gate_rows if any(int(n) for n in row.split(" | ")[1:1 + len(GATE_KINDS)]))
    return "\n".join([
        "# Build report", "",
        f"Generated from the chapters' latest executions (the newest ran {newest}). Every chapter was"
        " executed top to bottom in",
        "a fresh kernel on two CPU cores, offline, with warnings turned into errors. A *verified",
        "claim* is a cell tagged `check` that asserts a claim of the chapter with computed numbers;",
        "it passed if it ran without raising. Time and memory are the wall time and the kernel's",
        "peak resident memory of the chapter's most recent execution (budgets: 60 s, 1.5 GB).", "",
        f"**{total_passed} of {total_checks} verified claims passed in {len(rows)} chapters.**", "",
        "| Chapter | Time (s) | Peak memory (MB) | Verified claims passed | Figures | Explorers | Exercises |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows, "",
        "## Gates", "",
        "Problems each gate finds per chapter (0 everywhere when the book keeps its promises):",
        "*numbers* in prose, captions or alt text that no code cell glued and that are not listed",
        "constants; *solution-assert*, solutions without an `assert`; *claim-comment*, check cells",
        "without a `# Claim (...)` comment; *claim-seeds*, claims that involve randomness but rest on",
        "fewer than 5 seeds without saying why one run is exact; *line-length*, code cells with lines",
        "over 88 characters; *source-slicing*, code shown by slicing source text. The warnings count",
        "cells over 25 lines and code printed with `inspect.getsource`. Figures are linted while the",
        "chapter executes (a figure with two labelled lines and no legend, a log axis stretched by a",
        "few extreme values, or an empty axes fails its cell).", "",
        f"**{failing} of {len(gate_rows)} chapters fail a gate.**", "",
        "| Chapter | " + " | ".join(kinds) + " |",
        "|---|" + "---:|" * len(kinds),
        *gate_rows,
        "| **all** | " + " | ".join(str(totals.get(k, 0)) for k in kinds) + " |", "",
        "## Claims ledger", "",
        "Every verified claim, as its check cell states it, with the number of seeds (or splits,",
        "training sets) it rests on, or why one run is exact, and the evidence the cell printed",
        "before asserting.", "",
        *ledgers])


def main() -> int:
    from bookkit import codemap

    PAGE.parent.mkdir(exist_ok=True)
    codemap.write_if_changed(PAGE, render())
    print(f"build report: {PAGE.relative_to(ROOT)}")
    return codemap.main([])


if __name__ == "__main__":
    sys.exit(main())

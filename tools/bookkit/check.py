"""Check one or more chapters the way the build will, without touching the build cache.

``python -m bookkit.check chapters/part/slug.ipynb [--twice]`` runs the contract
checker, executes the chapter strictly (warnings are errors, network cut, explorers
pre-rendered), reports time and peak memory against the budgets, fails on any stderr
output, and with ``--twice`` executes again and compares the printed text. After execution
it runs the numbers gate on the executed notebook (glued texts are outputs); figure lint runs
inside the strict kernel (``bookkit.strict``) and fails the cell that shows a bad figure.

``python -m bookkit.check --gates [CH ...]`` executes nothing: it lists, per chapter (default:
every chapter in ``_toc.yml``) and per part, how many problems each claim/code gate finds
(``--details`` prints them). The numbers gate is decided statically for chapters that glue
nothing (and from the build cache for the others, when cached). ``--gates --execute`` also
executes the chapters with figure lint in record mode, to count figure problems as well.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from bookkit.contract import (GATE_KINDS, WARNING_KINDS, check_notebook, gate_problems, gate_warnings,
                              number_problems, uses_glue, with_outputs)
from bookkit.execute import ROOT, open_cache, run_parallel, text_outputs, toc_notebooks
from bookkit.strict import FIGURE_LINT_ENV, FIGURE_LINT_MARK

BUDGET_SECONDS = 60.0
BUDGET_MB = 1536.0


def stderr_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Text every code cell wrote to stderr (the Sphinx build treats it as a warning)."""
    return [out.text for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "stream" and out.name == "stderr"]


def budget_problems(seconds: float, peak_mb: float) -> list[str]:
    """Budget breaches of one execution, as messages naming the number that broke."""
    problems = []
    if seconds >= BUDGET_SECONDS:
        problems.append(f"took {seconds:.1f} s >= budget {BUDGET_SECONDS:.0f} s")
    if peak_mb >= BUDGET_MB:
        problems.append(f"peak memory {peak_mb:.0f} MB >= budget {BUDGET_MB:.0f} MB")
    return problems


def figure_lint_records(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """Figure problems a kernel in record mode wrote to stderr, as ``(kind, message)``: one per
    cell and kind (an explorer repeats a slip in every frame), with the number of repeats."""
    found: dict[tuple[int, str], list[str]] = {}
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "stream" and out.name == "stderr":
                for line in out.text.splitlines():
                    if line.startswith(FIGURE_LINT_MARK):
                        kind, _, message = line[len(FIGURE_LINT_MARK):].strip().partition(" ")
                        found.setdefault((index, kind), []).append(message)
    return [(kind, f"code cell {index}: {messages[0]}"
                   + (f" (and {len(messages) - 1} more like it)" if len(messages) > 1 else ""))
            for (index, kind), messages in found.items()]


def cached_notebook(cache, path: Path):
    """The chapter with the outputs of its cached execution (None if not cached)."""
    source = nbformat.read(path, as_version=4)
    try:
        record = cache.match_cache_notebook(source)
    except KeyError:
        return None
    return with_outputs(source, cache.get_cache_bundle(record.pk).nb)


def gate_table(paths: list[Path], details: bool = False, execute: bool = False, jobs: int = 1) -> str:
    """Per chapter and per part: the count of problems of each gate kind (warnings last)."""
    import collections
    import os

    executed: dict[str, nbformat.NotebookNode | None] = {}
    errors: dict[str, str] = {}
    if execute:
        os.environ[FIGURE_LINT_ENV] = "record"
        for result, nb_json in run_parallel(paths, jobs):
            executed[result.path] = nbformat.reads(nb_json, as_version=4) if result.ok else None
            if not result.ok:
                errors[result.path] = re.sub(r"\x1b\[[0-9;]*m", "", result.error).strip().splitlines()[-1:]
    cache = open_cache() if (ROOT / "_build" / ".jupyter_cache").exists() else None
    kinds = [*GATE_KINDS, "figure-legend", "figure-log-range", "figure-empty"] if execute else list(GATE_KINDS)
    kinds += [f"warn:{k}" for k in WARNING_KINDS]
    lines, parts = [], collections.defaultdict(collections.Counter)
    short = {"solution-assert": "sol-assert", "claim-comment": "claim-cmt", "line-length": "line>88",
             "source-slicing": "slicing", "figure-legend": "fig-legend", "figure-log-range": "fig-logrange",
             "figure-empty": "fig-empty", "warn:long-cell": "w:long-cell", "warn:getsource": "w:getsource"}
    header = "".join(f"{short.get(k, k):>13}" for k in kinds)
    lines.append(f"{'chapter':42}{header}")
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        found = gate_problems(nb)
        run = executed.get(str(path)) if execute else (cached_notebook(cache, path) if cache else None)
        note = ""
        if run is not None:
            found += number_problems(run) + figure_lint_records(run)
        elif not uses_glue(nb):
            found += number_problems(nb, glued=set())
        else:
            note = "  (numbers: not executed" + (f", failed: {errors.get(str(path))})" if execute else ")")
        found += [(f"warn:{k}", m) for k, m in gate_warnings(nb)]
        counts = collections.Counter(k for k, _ in found)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        part = rel.parent.name
        parts[part].update(counts)
        parts[part]["chapters failing"] += any(not k.startswith("warn:") for k in counts)
        parts[part]["chapters"] += 1
        lines.append(f"{str(rel).removeprefix('chapters/').removesuffix('.ipynb'):42}"
                     + "".join(f"{counts.get(k, 0):>13}" for k in kinds) + note)
        if details:
            lines += [f"    [{k}] {m}" for k, m in found]
    lines += ["", f"{'part (chapters failing/all)':42}{header}"]
    total = collections.Counter()
    for part, counts in [*parts.items(), ("all", total)]:
        if part != "all":
            total.update(counts)
        label = f"{part} ({counts['chapters failing']}/{counts['chapters']})"
        lines.append(f"{label:42}" + "".join(f"{counts.get(k, 0):>13}" for k in kinds))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--twice", action="store_true", help="execute twice and compare printed text")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--gates", action="store_true", help="only count gate problems per chapter and part")
    parser.add_argument("--details", action="store_true", help="with --gates: print every problem")
    parser.add_argument("--execute", action="store_true", help="with --gates: also execute (figure lint)")
    args = parser.parse_args(argv)
    if args.gates:
        paths = [p.resolve() for p in args.notebooks] or toc_notebooks()
        print(gate_table(paths, args.details, args.execute, args.jobs))
        return 0
    if not args.notebooks:
        parser.error("name one or more chapters: make check CH=\"chapters/a/b.ipynb ...\"")
    paths = [p.resolve() for p in args.notebooks]
    failed = False
    for path in paths:
        for problem in check_notebook(path):
            print(f"CONTRACT {path.name}: {problem}")
            failed = True
    runs = [run_parallel(paths, args.jobs)]
    if args.twice:
        runs.append(run_parallel(paths, args.jobs))
    for result, nb_json in runs[0]:
        name = Path(result.path).name
        if not result.ok:
            print(f"EXECUTION {name} failed:\n{result.error}")
            failed = True
            continue
        nb = nbformat.reads(nb_json, as_version=4)
        if uses_glue(nb):  # otherwise the contract check above decided the numbers gate
            for kind, problem in number_problems(nb):
                print(f"CONTRACT {name}: [{kind}] {problem}")
                failed = True
        for text in stderr_outputs(nb):
            print(f"STDERR {name}: {text[:500]}")
            failed = True
        for problem in budget_problems(result.seconds, result.peak_mb):
            print(f"BUDGET {name}: {problem}")
            failed = True
        if args.twice:
            again = {r.path: j for r, j in runs[1]}.get(result.path)
            if again is None or text_outputs(nb) != text_outputs(nbformat.reads(again, as_version=4)):
                print(f"DETERMINISM {name}: the second run printed different text (or failed)")
                failed = True
    print("FAILED" if failed else f"OK: {len(paths)} chapter(s) keep the contract and the budgets")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

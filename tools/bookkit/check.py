"""Check one or more chapters the way the build will, without touching the build cache.

``python -m bookkit.check chapters/part/slug.ipynb [--twice]`` runs the contract
checker, executes the chapter strictly (warnings are errors, network cut, explorers
pre-rendered), reports time and peak memory against the budgets, fails on any stderr
output, and with ``--twice`` executes again and compares the printed text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from bookkit.contract import check_notebook
from bookkit.execute import text_outputs, run_parallel

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--twice", action="store_true", help="execute twice and compare printed text")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
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

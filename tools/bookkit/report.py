"""Write the build-report appendix page from this build's measurements.

``python -m bookkit.report`` reads ``_build/reports/metrics.json`` (written by
``bookkit.execute``) and each executed notebook in the cache, and writes
``appendix/build-report.md``: per chapter, execution time, peak memory, verified claims
(``check`` cells) and how many passed, figures, explorers and exercises.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import nbformat

from bookkit.contract import chapter_stats
from bookkit.execute import ROOT, load_metrics, open_cache, toc_notebooks

PAGE = ROOT / "appendix" / "build-report.md"


def passed_checks(cache, path: Path) -> int | None:
    """``check`` cells of the cached execution that ran without an error output (None if not cached)."""
    try:
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
    except KeyError:
        return None
    nb = cache.get_cache_bundle(record.pk).nb
    return sum(1 for c in nb.cells if c.cell_type == "code" and "check" in c.metadata.get("tags", [])
               and "assert" in c.source and c.get("execution_count")
               and not any(o.output_type == "error" for o in c.get("outputs", [])))


def render(root: Path = ROOT) -> str:
    metrics, cache = load_metrics(), open_cache(invalidate=False)
    rows, total_checks, total_passed = [], 0, 0
    for path in toc_notebooks(root):
        rel = str(path.relative_to(root))
        stats, m = chapter_stats(path), metrics.get(rel, {})
        passed = passed_checks(cache, path)
        total_checks += stats.checks
        total_passed += passed or 0
        doc = "/" + rel.removesuffix(".ipynb")
        rows.append(f"| {{doc}}`{stats.title} <{doc}>` | {m.get('seconds', float('nan')):.1f} | "
                    f"{m.get('peak_mb', float('nan')):.0f} | {passed if passed is not None else 'not run'}"
                    f" / {stats.checks} | {stats.figures} | {stats.explorers} | {stats.exercises} |")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "# Build report", "",
        f"Generated when this site was built ({stamp}). Every chapter was executed top to bottom in",
        "a fresh kernel on two CPU cores, offline, with warnings turned into errors. A *verified",
        "claim* is a cell tagged `check` that asserts a claim of the chapter with computed numbers;",
        "it passed if it ran without raising. Time and memory are the wall time and the kernel's",
        "peak resident memory of the chapter's most recent execution (budgets: 60 s, 1.5 GB).", "",
        f"**{total_passed} of {total_checks} verified claims passed in {len(rows)} chapters.**", "",
        "| Chapter | Time (s) | Peak memory (MB) | Verified claims passed | Figures | Explorers | Exercises |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows, ""])


def main() -> int:
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

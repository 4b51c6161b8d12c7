"""Measure the build: cold, no-op, one chapter edited, one topic module edited, core edited.

``python -m bookkit.bench`` (``make bench``) runs the same steps as ``make book``
(execute into the cache, write the report, Sphinx build) once per scenario and writes the
wall time and the number of chapters executed for each to ``_build/reports/build-bench.json``
(and a table on stdout). Scenarios, in order: cold; no-op; one chapter's code edited; that
edit restored; one topic module edited (a module that 1-3 chapters import, chosen from the
dependency record of the cold build); that edit restored; ``core`` edited (every chapter
imports it); that edit restored. Targets on 2 cores: topic-module edit <= 60 s, its restore
<= 15 s, no-op <= 10 s. Edits append a comment to the file and are always restored.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bookkit.execute import CACHE_DIR, DEPS_DIR, ROOT, DepsIndex, toc_notebooks

BENCH_FILE = ROOT / "_build" / "reports" / "build-bench.json"
TARGETS_S = {"warm_noop": 10, "topic_module_edited": 60, "topic_module_restored": 15}
STEPS = [
    [sys.executable, "-m", "bookkit.execute"],
    [sys.executable, "-m", "bookkit.report"],  # also writes the code map
    [str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "-W", "-n", "--keep-going", "--quiet"],
]


def build() -> dict[str, float | int]:
    """Run the book's build steps; return wall seconds and how many chapters executed."""
    start = time.perf_counter()
    executed = 0
    for step in STEPS:
        run = subprocess.run(step, cwd=ROOT, capture_output=True, text=True)
        if run.returncode:
            raise SystemExit(f"build step {' '.join(step[-3:])} failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
        match = re.search(r"executing (\d+) of", run.stdout)
        executed += int(match.group(1)) if match else 0
    return {"seconds": round(time.perf_counter() - start, 1), "chapters_executed": executed}


@contextlib.contextmanager
def edited(path: Path, suffix: str):
    """Temporarily change a file's bytes (restored on exit)."""
    original = path.read_bytes()
    try:
        path.write_bytes(original + suffix.encode())
        yield
    finally:
        path.write_bytes(original)


def edit_first_code_cell(path: Path):
    """Temporarily add a comment line to the first code cell of a notebook (a code edit)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").source += "\n# bench edit"
    original = path.read_bytes()

    @contextlib.contextmanager
    def context():
        try:
            nbformat.write(nb, path)
            yield
        finally:
            path.write_bytes(original)
    return context()


def topic_module(chapters: list[Path]) -> tuple[str, list[str]]:
    """A module that 1-3 chapters import (per the dependency record), and those chapters."""
    index = DepsIndex(DEPS_DIR)
    current = {str(p.relative_to(ROOT)) for p in chapters}
    importers: dict[str, set[str]] = {}
    for entries in index.data["entries"].values():
        for entry in entries:
            if entry["path"] in current:
                for rel in entry["deps"]:
                    importers.setdefault(rel, set()).add(entry["path"])
    candidates = sorted((len(paths), rel) for rel, paths in importers.items() if 1 <= len(paths) <= 3)
    if not candidates:
        raise SystemExit("no mlnotes module is imported by 1-3 chapters")
    n, rel = max(candidates)  # the most expensive topic edit within the scenario
    return rel, sorted(importers[rel])


def main() -> int:
    chapters = toc_notebooks()
    for folder in (CACHE_DIR, ROOT / "_build" / "html", ROOT / "_build" / ".doctrees",
                   ROOT / "_build" / "jupyter_execute"):
        shutil.rmtree(folder, ignore_errors=True)
    results = {"chapters": len(chapters), "cold": build(), "warm_noop": build()}
    target = chapters[len(chapters) // 2]
    with edit_first_code_cell(target):
        results["one_chapter_edited"] = build() | {"chapter": str(target.relative_to(ROOT))}
    results["one_chapter_restored"] = build()
    module, importers = topic_module(chapters)
    with edited(ROOT / "src" / module, "\n# bench edit\n"):
        results["topic_module_edited"] = build() | {"module": module, "imported_by": importers}
    results["topic_module_restored"] = build()
    with edited(ROOT / "src" / "mlnotes" / "core.py", "\n# bench edit\n"):
        results["core_edited"] = build()
    results["core_restored"] = build()
    for name, limit in TARGETS_S.items():
        results[name] |= {"target_s": limit, "within_target": results[name]["seconds"] <= limit}
    BENCH_FILE.parent.mkdir(parents=True, exist_ok=True)
    BENCH_FILE.write_text(json.dumps(results, indent=1))
    print("| scenario | wall time (s) | chapters executed | target |\n|---|---:|---:|---|")
    for name, row in results.items():
        if isinstance(row, dict):
            target_text = f"<= {row['target_s']} s: {'met' if row['within_target'] else 'MISSED'}" \
                if "target_s" in row else ""
            print(f"| {name} | {row['seconds']} | {row['chapters_executed']} | {target_text} |")
    print(json.dumps(results, indent=1))
    return 0 if all(results[name]["within_target"] for name in TARGETS_S) else 1


if __name__ == "__main__":
    sys.exit(main())

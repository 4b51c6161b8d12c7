"""Measure the build: cold, warm no-op, one chapter edited, one mlnotes module edited.

``python -m bookkit.bench`` (``make bench``) runs the same steps as ``make book``
(execute into the cache, write the report, Sphinx build) four times and writes the wall
times and the number of chapters executed each time to ``_build/reports/build-bench.json``.
The edits are made to temporary copies of the sources' bytes and always restored.
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

from bookkit.execute import CACHE_DIR, ROOT, toc_notebooks

BENCH_FILE = ROOT / "_build" / "reports" / "build-bench.json"
STEPS = [
    [sys.executable, "-m", "bookkit.execute"],
    [sys.executable, "-m", "bookkit.report"],
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


def main() -> int:
    chapters = toc_notebooks()
    for folder in (CACHE_DIR, ROOT / "_build" / "html", ROOT / "_build" / ".doctrees",
                   ROOT / "_build" / "jupyter_execute"):
        shutil.rmtree(folder, ignore_errors=True)
    results = {"chapters": len(chapters), "cold": build(), "warm_noop": build()}
    target = chapters[len(chapters) // 2]
    with edit_first_code_cell(target):
        results["one_chapter_edited"] = build() | {"chapter": str(target.relative_to(ROOT))}
    results["after_restore"] = build()
    with edited(ROOT / "src" / "mlnotes" / "core.py", "\n# bench edit\n"):
        results["mlnotes_module_edited"] = build()
    results["after_restore_module"] = build()
    BENCH_FILE.parent.mkdir(parents=True, exist_ok=True)
    BENCH_FILE.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

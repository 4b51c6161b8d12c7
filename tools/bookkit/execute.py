"""Execute the book's chapters in parallel into the jupyter-cache, measuring each one.

``python -m bookkit.execute`` runs every chapter listed in ``_toc.yml`` that has no
valid cache entry, two at a time (one per core), each in its own worker process and
kernel. The kernels run strictly (``tools/ipython``: warnings are errors, network cut) with
explorers pre-rendered. For each chapter it records wall time and the kernel's peak RSS
in ``_build/reports/metrics.json``. The Sphinx build then runs in ``cache`` mode and finds
every notebook already executed.

The cache is keyed on the notebook's code; jupyter-cache does not see imported files, so
the whole cache is dropped when the hash of ``src/mlnotes`` (minus this tooling) changes.

``--determinism`` re-executes every chapter and compares its text outputs with the cache.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import hashlib
import json
import os
import re
import resource
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
import yaml

ROOT = Path.cwd()  # the book's root: every entry point runs from there (see the Makefile)
CACHE_DIR = ROOT / "_build" / ".jupyter_cache"
METRICS_FILE = ROOT / "_build" / "reports" / "metrics.json"
KERNEL_ENV = {
    "MLNOTES_STATIC_EXPLORERS": "1",
    "MLNOTES_OFFLINE": "1",
    "IPYTHONDIR": str(ROOT / "tools" / "ipython"),
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
TIMEOUT_S = 300


@dataclass
class Result:
    path: str
    ok: bool
    seconds: float
    peak_mb: float
    error: str = ""


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """Chapter notebooks listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def source_hash(root: Path = ROOT) -> str:
    """sha256 of the helper package's code (without ``bookkit``) and of pyproject.toml."""
    digest = hashlib.sha256()
    package = root / "src" / "mlnotes"
    for path in sorted(package.rglob("*.py")):
        if "book" in path.relative_to(package).parts:
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    digest.update((root / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def open_cache(cache_dir: Path = CACHE_DIR, root: Path = ROOT, invalidate: bool = True):
    """The jupyter-cache at ``cache_dir``; with ``invalidate``, emptied first if ``src/mlnotes`` changed."""
    from jupyter_cache import get_cache

    stamp = cache_dir / "mlnotes-src.sha256"
    current = source_hash(root)
    if not invalidate:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return get_cache(str(cache_dir))
    if cache_dir.exists() and (not stamp.exists() or stamp.read_text() != current):
        print("src/mlnotes changed since the cache was filled: every chapter re-executes")
        shutil.rmtree(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(cache_dir))
    stamp.write_text(current)
    return cache


def execute_one(path: str) -> tuple[Result, str | None]:
    """Execute one notebook in a fresh kernel (run in a worker process of its own).

    Returns the measurements and the executed notebook as JSON (None on failure).
    The peak RSS is the largest child of this worker: its kernel.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ.update(KERNEL_ENV)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3", allow_errors=False, record_timing=False,
                            coalesce_streams=True,  # a print split by the kernel's flush timer is one output
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no TCP notice per kernel
                            resources={"metadata": {"path": str(Path(path).parent)}})
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc)
    except Exception as exc:  # timeouts, dead kernels: report them per chapter
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = Result(path=path, ok=not error, seconds=round(seconds, 2), peak_mb=round(peak_mb, 1), error=error)
    return result, (nbformat.writes(nb) if not error else None)


def run_parallel(paths: list[Path], jobs: int) -> list[tuple[Result, str | None]]:
    """Execute ``paths`` with ``jobs`` workers, one fresh worker per notebook; print progress."""
    results = []
    ctx = __import__("multiprocessing").get_context("spawn")
    with futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, max_tasks_per_child=1) as pool:
        pending = {pool.submit(execute_one, str(p)): p for p in paths}
        for future in futures.as_completed(pending):
            result, nb_json = future.result()
            status = "ok" if result.ok else "FAILED"
            print(f"  {status:6} {result.seconds:6.1f} s {result.peak_mb:7.0f} MB  "
                  f"{Path(result.path).relative_to(ROOT)}", flush=True)
            results.append((result, nb_json))
    return results


def load_metrics() -> dict[str, dict]:
    return json.loads(METRICS_FILE.read_text()) if METRICS_FILE.exists() else {}


def text_outputs(nb: nbformat.NotebookNode) -> list[list[str]]:
    """Per code cell, its outputs as text with embedded images blanked out."""
    blank = re.compile(r"[A-Za-z0-9+/=]{200,}")
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
                    if mime in out.get("data", {}):
                        texts.append(blank.sub("<image>", str(out.data[mime])))
            elif out.output_type == "error":
                texts.append(out.ename)
        cells.append(texts)
    return cells


def check_determinism(paths: list[Path], cache, jobs: int) -> list[str]:
    """Re-execute ``paths`` and list every chapter whose text outputs differ from the cache."""
    problems = []
    for result, nb_json in run_parallel(paths, jobs):
        rel = Path(result.path).relative_to(ROOT)
        if not result.ok:
            problems.append(f"{rel}: failed on re-execution: {result.error[-2000:]}")
            continue
        record = cache.match_cache_notebook(nbformat.read(result.path, as_version=4))
        first = text_outputs(cache.get_cache_bundle(record.pk).nb)
        second = text_outputs(nbformat.reads(nb_json, as_version=4))
        for index, (a, b) in enumerate(zip(first, second)):
            if a != b:
                problems.append(f"{rel}: code cell {index} printed different text on two runs:\n"
                                f"  first:  {a!r:.300}\n  second: {b!r:.300}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter in _toc.yml")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--force", action="store_true", help="re-execute even when cached")
    parser.add_argument("--determinism", action="store_true",
                        help="re-execute and compare text outputs with the cache")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or toc_notebooks()
    from jupyter_cache.base import CacheBundleIn

    cache = open_cache()
    if args.determinism:
        problems = check_determinism(paths, cache, args.jobs)
        print("\n".join(problems) or f"determinism: {len(paths)} chapters printed identical text twice")
        return 1 if problems else 0

    todo = []
    for path in paths:
        try:
            if args.force:
                raise KeyError(path)
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    print(f"executing {len(todo)} of {len(paths)} chapters ({len(paths) - len(todo)} cached), "
          f"{args.jobs} at a time")
    metrics = load_metrics()
    failures = []
    for result, nb_json in run_parallel(todo, args.jobs):
        rel = str(Path(result.path).relative_to(ROOT))
        metrics[rel] = asdict(result) | {"path": rel}
        if result.ok:
            nb = nbformat.reads(nb_json, as_version=4)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb=nb, uri=result.path, data={"execution_seconds": result.seconds}),
                check_validity=False, overwrite=True)
        else:
            failures.append(f"{rel}:\n{result.error}")
    METRICS_FILE.parent.mkdir(parents=True, exist_ok=True)
    METRICS_FILE.write_text(json.dumps(metrics, indent=1, sort_keys=True))
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Execute the book's chapters in parallel into the jupyter-cache, measuring each one.

``python -m bookkit.execute`` runs every chapter listed in ``_toc.yml`` that has no
valid cache entry, two at a time (one per core), each in its own worker process and
kernel. The kernels run strictly (``tools/ipython``: warnings are errors, network cut) with
explorers pre-rendered. For each chapter it records wall time and the kernel's peak RSS
in ``_build/reports/metrics.json``. The Sphinx build then runs in ``cache`` mode and finds
every notebook already executed.

Per-chapter dependencies. jupyter-cache (which the Sphinx build reads) keys an entry on the
notebook's code only. So at the end of each execution the kernel reports the ``mlnotes``
modules it imported (``sys.modules``) with the sha256 of their files, and a side record,
``_build/.jupyter_cache/mlnotes-deps/index.json``, keeps several executions per notebook,
each with its dependency hashes and the executed notebook (``store/``). An execution is
valid while its notebook code, the files of the modules it imported, and the environment
(``pyproject.toml``, the strict kernel start-up) are unchanged. Before the build, the valid
execution of each chapter is put into the jupyter-cache (a copy, no kernel), so the build
finds exactly the execution that matches today's modules; a chapter without one is executed.
Editing a topic module re-executes the chapters that import it; restoring the edit finds the
earlier executions again. Without the side record nothing in the jupyter-cache is trusted.

``--determinism`` re-executes every chapter and compares its text outputs with the cache.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import hashlib
import json
import os
import re
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


DEPS_DIR = CACHE_DIR / "mlnotes-deps"
KEEP_PER_CHAPTER = 6  # executions kept per notebook path (older ones are dropped)
# Printed by an extra cell run in the kernel after the chapter: the mlnotes files it imported.
DEPS_MARKER = "MLNOTES-DEPS:"
DEPS_CELL = f"""\
import hashlib as _h, json as _j, os as _o, sys as _s
_deps = {{}}
_pkg = getattr(_s.modules.get("mlnotes"), "__file__", None)
for _n, _m in sorted(_s.modules.items()):
    _f = getattr(_m, "__file__", None)
    if _pkg and (_n == "mlnotes" or _n.startswith("mlnotes.")) and _f:
        _root = _o.path.dirname(_pkg)
        with open(_f, "rb") as _fh:
            _deps["mlnotes/" + _o.path.relpath(_f, _root).replace(_o.sep, "/")] = _h.sha256(_fh.read()).hexdigest()
print("{DEPS_MARKER}" + _j.dumps(_deps))
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def env_hash(root: Path = ROOT) -> str:
    """sha256 of what every chapter depends on besides its imports: pyproject.toml and the pins in
    constraints.txt, the strict kernel start-up, and non-Python files shipped inside ``src/mlnotes``."""
    digest = hashlib.sha256()
    files = [root / "pyproject.toml", root / "constraints.txt", root / "tools" / "bookkit" / "strict.py",
             *sorted((root / "tools" / "ipython" / "profile_default" / "startup").glob("*.py")),
             *sorted(p for p in (root / "src" / "mlnotes").rglob("*")
                     if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)]
    for path in files:
        if path.exists():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def module_hash(rel: str, root: Path = ROOT) -> str | None:
    """sha256 of ``src/<rel>`` today (``rel`` like ``mlnotes/vae.py``); None if it is gone."""
    path = root / "src" / rel
    return _sha(path.read_bytes()) if path.is_file() else None


def deps_key(deps: dict[str, str], env: str) -> str:
    return _sha(json.dumps({"deps": deps, "env": env}, sort_keys=True).encode())


class DepsIndex:
    """The side record: per notebook-code hash, executions with their dependency hashes.

    ``index.json``: ``{"entries": {nb_hash: [{"key", "env", "deps", "path", "result", "time"}]},
    "active": {nb_hash: key}}``; ``active`` names the execution now in the jupyter-cache.
    The executed notebooks are ``store/<key>.ipynb``.
    """

    def __init__(self, directory: Path = DEPS_DIR):
        self.dir = directory
        self.file = directory / "index.json"
        self.data = json.loads(self.file.read_text()) if self.file.exists() else {"entries": {}, "active": {}}

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        tmp.replace(self.file)

    def valid_entry(self, nb_hash: str, env: str, root: Path = ROOT) -> dict | None:
        """The newest execution of this notebook code whose dependencies are unchanged today."""
        for entry in reversed(self.data["entries"].get(nb_hash, [])):
            if entry["env"] == env and (self.dir / "store" / f"{entry['key']}.ipynb").exists() and all(
                    module_hash(rel, root) == sha for rel, sha in entry["deps"].items()):
                return entry
        return None

    def add(self, nb_hash: str, env: str, deps: dict[str, str], path: str, result: dict, nb_json: str) -> dict:
        key = deps_key(deps, env)
        (self.dir / "store").mkdir(parents=True, exist_ok=True)
        (self.dir / "store" / f"{key}.ipynb").write_text(nb_json)
        entries = [e for e in self.data["entries"].get(nb_hash, []) if e["key"] != key]
        entry = {"key": key, "env": env, "deps": deps, "path": path, "result": result, "time": time.time()}
        self.data["entries"][nb_hash] = entries + [entry]
        self.data["active"][nb_hash] = key
        self._prune(path)
        return entry

    def _prune(self, path: str) -> None:
        """Keep the newest KEEP_PER_CHAPTER executions of each notebook path."""
        mine = sorted(((e["time"], h, e["key"]) for h, es in self.data["entries"].items() for e in es
                       if e["path"] == path), reverse=True)
        for _, nb_hash, key in mine[KEEP_PER_CHAPTER:]:
            self.data["entries"][nb_hash] = [e for e in self.data["entries"][nb_hash] if e["key"] != key]
            if not self.data["entries"][nb_hash]:
                del self.data["entries"][nb_hash]
            if self.data["active"].get(nb_hash) == key:
                del self.data["active"][nb_hash]
            (self.dir / "store" / f"{key}.ipynb").unlink(missing_ok=True)


def open_cache(cache_dir: Path = CACHE_DIR):
    """The jupyter-cache at ``cache_dir`` (created if missing); validity is per chapter (``DepsIndex``)."""
    from jupyter_cache import get_cache

    cache_dir.mkdir(parents=True, exist_ok=True)
    return get_cache(str(cache_dir))


def execution_stamp(record) -> str:
    """Identifies one cached execution (a re-execution of the same notebook gets a new stamp)."""
    return f"{record.pk}:{record.hashkey}:{record.created.timestamp()}"


def notebook_hash(cache, nb: nbformat.NotebookNode) -> str:
    """The hash jupyter-cache (and so myst-nb) matches executed notebooks on."""
    return cache.create_hashed_notebook(nb)[1]


def split_deps(nb_json: str) -> tuple[str, dict[str, str]]:
    """Remove the trailing dependency cell from an executed notebook; return it and the deps."""
    nb = nbformat.reads(nb_json, as_version=4)
    cell = nb.cells.pop()
    assert cell.source == DEPS_CELL, "the last cell is not the dependency probe"
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    line = next(ln for ln in text.splitlines() if ln.startswith(DEPS_MARKER))
    return nbformat.writes(nb), json.loads(line[len(DEPS_MARKER):])


def execute_one(path: str, record_deps: bool = False) -> tuple[Result, str | None]:
    """Execute one notebook in a fresh kernel (run in a worker process of its own).

    Returns the measurements and the executed notebook as JSON (None on failure).
    The peak RSS is the kernel's high-water mark (``VmHWM``), read after every cell, so a
    worker process can serve many chapters. With ``record_deps``, an extra last cell reports
    the ``mlnotes`` files the kernel imported (see ``split_deps``).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ.update(KERNEL_ENV)
    nb = nbformat.read(path, as_version=4)
    if record_deps:
        nb.cells.append(nbformat.v4.new_code_cell(DEPS_CELL))
    client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3", allow_errors=False, record_timing=False,
                            coalesce_streams=True,  # a print split by the kernel's flush timer is one output
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no TCP notice per kernel
                            resources={"metadata": {"path": str(Path(path).parent)}})
    peak_kb = [0]

    def note_peak(**_) -> None:  # the kernel's peak RSS so far (Linux /proc), after each cell
        status = Path(f"/proc/{client.km.provisioner.pid}/status").read_text()
        peak_kb[0] = max(peak_kb[0], int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))

    client.on_cell_executed = client.on_cell_error = note_peak
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc)
    except Exception as exc:  # timeouts, dead kernels: report them per chapter
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    peak_mb = peak_kb[0] / 1024
    result = Result(path=path, ok=not error, seconds=round(seconds, 2), peak_mb=round(peak_mb, 1), error=error)
    return result, (nbformat.writes(nb) if not error else None)


def run_parallel(paths: list[Path], jobs: int, record_deps: bool = False,
                 on_result=None) -> list[tuple[Result, str | None]]:
    """Execute ``paths`` with ``jobs`` worker processes (each notebook in a fresh kernel); print progress.

    ``on_result(result, nb_json)`` is called as each notebook finishes (to cache it at once).
    """
    results = []
    if not paths:
        return results
    ctx = __import__("multiprocessing").get_context("spawn")
    with futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        pending = {pool.submit(execute_one, str(p), record_deps): p for p in paths}
        for future in futures.as_completed(pending):
            result, nb_json = future.result()
            status = "ok" if result.ok else "FAILED"
            shown = Path(result.path)
            shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
            print(f"  {status:6} {result.seconds:6.1f} s {result.peak_mb:7.0f} MB  {shown}", flush=True)
            if on_result is not None:
                on_result(result, nb_json)
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
    cache = open_cache()
    if args.determinism:
        problems = check_determinism(paths, cache, args.jobs)
        print("\n".join(problems) or f"determinism: {len(paths)} chapters printed identical text twice")
        return 1 if problems else 0
    return execute_into_cache(paths, cache, args.jobs, force=args.force)


def execute_into_cache(paths: list[Path], cache, jobs: int, force: bool = False, root: Path = ROOT,
                       deps_dir: Path | None = None) -> int:
    """Make the jupyter-cache hold, for every chapter, an execution valid for today's modules.

    Valid executions are copied in from the side record; the other chapters are executed
    (``jobs`` at a time) and recorded. Prints ``executing N of M chapters``; returns 1 on failure.
    """
    from jupyter_cache.base import CacheBundleIn

    index = DepsIndex(deps_dir or Path(cache.path) / "mlnotes-deps")
    env = env_hash(root)
    todo, restored = [], 0
    hashes: dict[str, str] = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nb_hash = hashes[str(path)] = notebook_hash(cache, nb)
        entry = None if force else index.valid_entry(nb_hash, env, root)
        if entry is None:
            todo.append(path)
            continue
        in_cache = True
        try:
            cache.match_cache_notebook(nb)
        except KeyError:
            in_cache = False
        if not in_cache or index.data["active"].get(nb_hash) != entry["key"]:
            stored = nbformat.read(index.dir / "store" / f"{entry['key']}.ipynb", as_version=4)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb=stored, uri=str(path), data={"execution_seconds": entry["result"]["seconds"]}),
                check_validity=False, overwrite=True)
            index.data["active"][nb_hash] = entry["key"]
            restored += 1
    index.save()
    metrics_file = root / "_build" / "reports" / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    for path in paths:  # the measurements of the execution now in the cache
        entry = index.valid_entry(hashes[str(path)], env, root) if path not in todo else None
        if entry is not None:
            metrics[str(path.relative_to(root))] = entry["result"]
    print(f"executing {len(todo)} of {len(paths)} chapters ({len(paths) - len(todo)} cached, "
          f"{restored} restored from earlier executions), {jobs} at a time", flush=True)
    failures = []

    def record(result: Result, nb_json: str | None) -> None:
        rel = str(Path(result.path).relative_to(root))
        row = {k: v for k, v in asdict(result).items()} | {"path": rel}
        metrics[rel] = row
        if not result.ok:
            failures.append(f"{rel}:\n{result.error}")
            return
        nb_json, deps = split_deps(nb_json)
        nb = nbformat.reads(nb_json, as_version=4)
        cache.cache_notebook_bundle(
            CacheBundleIn(nb=nb, uri=result.path, data={"execution_seconds": result.seconds}),
            check_validity=False, overwrite=True)
        index.add(hashes[result.path], env, deps, rel, row, nb_json)
        index.save()

    run_parallel(todo, jobs, record_deps=True, on_result=record)
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.write_text(json.dumps(metrics, indent=1, sort_keys=True))
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

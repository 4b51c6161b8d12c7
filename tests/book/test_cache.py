"""The execution cache tracks each chapter's imported modules (bookkit.execute, issue 21).

A throwaway mini-book of three tiny notebooks over a fake ``mlnotes`` package (put first on
the kernels' PYTHONPATH): ``a`` imports ``core`` and ``topic_a``, ``b`` imports ``core`` and
``topic_b``, ``c`` imports ``core`` only. Each notebook prints values from the modules it
imports, so the executed copy in the jupyter-cache shows which module version it ran with.
"""

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from bookkit.execute import DepsIndex, execute_into_cache, open_cache
from conftest import ROOT

pytestmark = pytest.mark.slow

IMPORTS = {"a": "from mlnotes import core, topic_a\nprint(core.VALUE, topic_a.VALUE)",
           "b": "from mlnotes import core, topic_b\nprint(core.VALUE, topic_b.VALUE)",
           "c": "from mlnotes import core\nprint(core.VALUE)"}


class MiniBook:
    def __init__(self, root, monkeypatch):
        self.root = root
        package = root / "src" / "mlnotes"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text('"""A fake mlnotes."""\n')
        for name in ("core", "topic_a", "topic_b"):
            self.set_module(name, 1)
        (root / "pyproject.toml").write_text('[project]\nname = "mini"\ndependencies = ["numpy==2.0"]\n')
        for name, code in IMPORTS.items():
            self.write_notebook(name, code)
        self.cache = open_cache(root / "_build" / ".jupyter_cache")
        monkeypatch.setenv("PYTHONPATH", f"{root / 'src'}:{ROOT / 'tools'}")

    def set_module(self, name, value):
        (self.root / "src" / "mlnotes" / f"{name}.py").write_text(f"VALUE = {value}\n")

    def write_notebook(self, name, code):
        nb = new_notebook(cells=[new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, self.root / f"{name}.ipynb")

    def paths(self):
        return [self.root / f"{name}.ipynb" for name in IMPORTS]

    def build(self, capsys) -> set[str]:
        """Bring the cache up to date; return the names of the notebooks that executed."""
        assert execute_into_cache(self.paths(), self.cache, jobs=2, root=self.root) == 0
        out = capsys.readouterr().out
        executed = {re.search(r"(\w+)\.ipynb$", line).group(1) for line in out.splitlines()
                    if line.strip().startswith("ok ")}
        n = int(re.search(r"executing (\d+) of 3 chapters", out).group(1))
        assert n == len(executed), out
        return executed

    def printed(self, name) -> str:
        """What the executed copy of ``name`` in the jupyter-cache printed (what the site shows)."""
        record = self.cache.match_cache_notebook(nbformat.read(self.root / f"{name}.ipynb", as_version=4))
        nb = self.cache.get_cache_bundle(record.pk).nb
        assert len(nb.cells) == 1, "the dependency probe cell must not stay in the cached notebook"
        return "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()


@pytest.fixture
def book(tmp_path, monkeypatch):
    return MiniBook(tmp_path, monkeypatch)


def test_the_cache_follows_each_chapters_imported_modules(book, capsys):
    # One sequence (kernels are the slow part): every step starts from the previous state.
    assert book.build(capsys) == {"a", "b", "c"}
    deps = {e["path"]: sorted(e["deps"]) for es in DepsIndex(book.root / "_build" / ".jupyter_cache" /
                                                             "mlnotes-deps").data["entries"].values() for e in es}
    assert deps["a.ipynb"] == ["mlnotes/__init__.py", "mlnotes/core.py", "mlnotes/topic_a.py"], deps
    assert deps["c.ipynb"] == ["mlnotes/__init__.py", "mlnotes/core.py"], deps
    assert book.build(capsys) == set()  # no-op

    # A topic module imported by one chapter: that chapter only.
    book.set_module("topic_a", 2)
    assert book.build(capsys) == {"a"}
    assert book.printed("a") == "1 2" and book.printed("b") == "1 1"
    # Restored: the earlier execution is found and put back, no kernel runs.
    book.set_module("topic_a", 1)
    assert book.build(capsys) == set()
    assert book.printed("a") == "1 1", "the cache must hold the execution matching today's module"

    # core, imported by every chapter: all of them; restoring it reuses all three.
    book.set_module("core", 7)
    assert book.build(capsys) == {"a", "b", "c"}
    assert (book.printed("a"), book.printed("c")) == ("7 1", "7")
    book.set_module("core", 1)
    assert book.build(capsys) == set()
    assert (book.printed("a"), book.printed("b"), book.printed("c")) == ("1 1", "1 1", "1")

    # A chapter that starts importing a module follows that module's later edits.
    book.write_notebook("c", "from mlnotes import core, topic_b\nprint('c', core.VALUE, topic_b.VALUE)")
    assert book.build(capsys) == {"c"}
    book.set_module("topic_b", 5)
    assert book.build(capsys) == {"b", "c"}
    assert book.printed("c") == "c 1 5"

    # Without the dependency record nothing in the jupyter-cache is trusted.
    (book.root / "_build" / ".jupyter_cache" / "mlnotes-deps" / "index.json").unlink()
    assert book.build(capsys) == {"a", "b", "c"}
    assert book.build(capsys) == set()

    # pyproject.toml (the pins) invalidates everything.
    pyproject = book.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("numpy==2.0", "numpy==2.1"))
    assert book.build(capsys) == {"a", "b", "c"}

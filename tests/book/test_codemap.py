"""The generated map of the book (bookkit.codemap): imports, links, and one record of who uses what.

The "Code map" appendix is generated from the chapters' imports, so module docstrings do not
repeat it: a hand-written "Used by ..." or "Chapter(s): ..." sentence in a module docstring
drifts (issue 14 found several), and this test rejects it.
"""

import ast
import re


from bookkit.codemap import code_map_markdown, landing_markdown, mlnotes_imports, read_chapters, resolve_doc
from conftest import ROOT

USED_BY = re.compile(r"(^|\.\s+|\n\s*)(Used (by|across|in)\b|Chapters?:)", re.I)


def test_imports_are_read_in_every_spelling():
    package = {"vae", "core", "prob", "plotting"}
    source = ("%matplotlib inline\n!pip install x\nfrom mlnotes import core, plotting as P\n"
              "from mlnotes.vae import VAE\nimport mlnotes.prob as prob\nimport numpy\nfrom mlnotes import not_a_module\n")
    assert mlnotes_imports(source, package) == {"core", "plotting", "vae", "prob"}
    assert mlnotes_imports("from mlnotes import (core,\n  vae)\nif True print(", package) == {"core", "vae"}


def test_doc_links_resolve_from_the_chapter():
    doc = "chapters/generative/vae"
    assert resolve_doc(doc, "vae-geometry") == "chapters/generative/vae-geometry"
    assert resolve_doc(doc, "../vision/r-fcn.ipynb") == "chapters/vision/r-fcn"
    assert resolve_doc(doc, "/chapters/classical/gbdt") == "chapters/classical/gbdt"


def test_every_chapter_is_mapped_to_existing_modules_and_tests():
    chapters = read_chapters(ROOT)
    assert len(chapters) >= 40 and len({c.part for c in chapters}) == 6
    modules = {p.stem for p in (ROOT / "src" / "mlnotes").glob("*.py")}
    for c in chapters:
        assert c.title and c.modules, f"{c.doc}: no title or no mlnotes import found"
        assert set(c.modules) <= modules
        assert all(link.startswith("chapters/") and link != c.doc for link in c.links)
    page = code_map_markdown(chapters, {"vae": ["tests/unit/test_vae.py"]}, ROOT)
    assert page.count("{doc}`") >= len(chapters) and "`test_vae.py`" in page
    landing = landing_markdown(chapters, {chapters[0].doc: "_build/map/thumbs/x.png"}, "alt text")
    assert landing.count("### Part ") == 6 and landing.count("![](") == 1 and ":alt: alt text" in landing


def _docstring_used_by(path):
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return [line.strip() for line in doc.splitlines() if USED_BY.search("\n" + line)]


def test_module_docstrings_leave_who_uses_them_to_the_code_map():
    found = {p.stem: lines for p in sorted((ROOT / "src" / "mlnotes").glob("*.py"))
             if (lines := _docstring_used_by(p))}
    message = "module docstrings that say which chapters use them (the Code map appendix is generated):\n" + \
        "\n".join(f"  mlnotes.{m}: {lines[0][:100]}" for m, lines in found.items())
    assert not found, message

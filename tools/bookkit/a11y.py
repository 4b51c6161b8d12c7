"""A Sphinx extension that fixes markup the accessibility audit (axe-core, WCAG 2 A/AA) rejects.

docutils renders each bibliography entry as ``<div role="doc-biblioentry">`` inside
``<div role="list">``. The DPUB-ARIA role ``doc-biblioentry`` is deprecated (axe-core:
``aria-deprecated-role``), and a ``list`` whose children are not ``listitem`` breaks
``aria-required-children`` (critical). Each entry becomes a plain ``listitem`` of that list.

It also adds ``static/mlnotes-a11y.css``: links inside admonitions (an exercise's tinted
background) get a darker blue in light mode, for a 4.5:1 contrast (axe-core ``color-contrast``).
"""

from __future__ import annotations

import re
from pathlib import Path

_BIBLIOENTRY = re.compile(r'(<div\b[^>]*?)\brole="doc-biblioentry"')


def fix_roles(html: str) -> str:
    return _BIBLIOENTRY.sub(r'\1role="listitem"', html)


def fix_page(app, pagename, templatename, context, doctree) -> None:
    if "body" in context and "doc-biblioentry" in context["body"]:
        context["body"] = fix_roles(context["body"])


def add_static(app) -> None:
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))


def setup(app):
    app.connect("builder-inited", add_static)
    app.add_css_file("mlnotes-a11y.css")
    app.connect("html-page-context", fix_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

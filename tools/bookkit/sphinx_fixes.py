"""A small Sphinx extension with two fixes the book's pages need to load with no console errors.

- sphinx-thebe and sphinx-togglebutton add their inline configuration scripts twice per page
  under Jupyter Book 1.x (``const THEBE_JS_URL`` declared twice is a JavaScript error): keep
  the first copy of every identical script and stylesheet.
- The theme logs "Got invalid theme mode" when no default colour mode is set: default to
  ``auto`` (follow the reader's system light/dark setting; the theme switcher still works).
"""

from __future__ import annotations


def _identity(item: object) -> tuple:
    attributes = getattr(item, "attributes", {}) or {}
    # An inline script is registered once with filename None and once with '': the same script.
    filename = getattr(item, "filename", None) or ""
    return filename, tuple(sorted((k, str(v)) for k, v in attributes.items()))


def dedupe_assets(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            seen: set[tuple] = set()
            unique = []
            for item in context[key]:
                ident = _identity(item)
                if ident not in seen:
                    seen.add(ident)
                    unique.append(item)
            context[key] = unique
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


def setup(app):
    app.connect("html-page-context", dedupe_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

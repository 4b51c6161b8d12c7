"""The map of the book, generated from the chapters themselves (issue 14, items 3 and 7).

``python -m bookkit.codemap`` (run by ``make report``, after the chapters are executed)
writes into ``_build/map/``:

- ``code-map.md``: chapter -> ``mlnotes`` modules it imports -> the tests of those modules,
  and the reverse (module -> chapters, tests), derived from the import statements in the
  notebooks' code cells and in ``tests/unit``; included by ``appendix/code-map.md``;
- ``landing.md``: the six parts, one line (the chapter's title) and one thumbnail (the first
  figure of the chapter's executed notebook in the execution cache) per chapter, and a figure
  of the related-chapter links (the chapters' ``{doc}`` links to each other); included by
  ``intro.md``;
- ``thumbs/*.png`` and ``links.png``.

Nothing here needs the network or a kernel; a chapter not yet executed has no thumbnail.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

ROOT = Path.cwd()
OUT = ROOT / "_build" / "map"
THUMB_WIDTH = 240  # pixels
DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`<>]+)>?`")
IMPORT_FALLBACK = re.compile(r"^\s*(?:from\s+mlnotes(?:\.(\w+))?\s+import\s+(\([^)]*\)|[\w, ]+)"
                             r"|import\s+mlnotes\.(\w+))", re.M)


@dataclass
class Chapter:
    doc: str  # "chapters/part/name"
    part: str  # the part's caption in _toc.yml
    title: str = ""
    modules: list[str] = field(default_factory=list)  # "vae" for mlnotes.vae
    links: list[str] = field(default_factory=list)  # docs of other chapters it links to

    @property
    def path(self) -> Path:
        return ROOT / f"{self.doc}.ipynb"

    @property
    def key(self) -> str:
        return self.doc.removeprefix("chapters/")


def toc_parts(root: Path = ROOT) -> list[tuple[str, list[str]]]:
    """(caption, [doc, ...]) for each part of ``_toc.yml`` that holds chapters."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [(part["caption"], [c["file"] for c in part.get("chapters", []) if c["file"].startswith("chapters/")])
            for part in toc.get("parts", []) if any(c["file"].startswith("chapters/") for c in part.get("chapters", []))]


def _code(source: str) -> str:
    """A cell's source without IPython magics and shell escapes (so that ``ast`` can read it)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def mlnotes_imports(source: str, package: set[str]) -> set[str]:
    """The ``mlnotes`` modules that a piece of code imports (``from mlnotes import x`` included)."""
    found: set[str] = set()
    if "mlnotes" not in source:
        return found
    try:
        tree = ast.parse(_code(source))
    except SyntaxError:
        for sub, names, plain in IMPORT_FALLBACK.findall(source):
            if sub or plain:
                found.add(sub or plain)
            else:
                found |= {n.split()[0] for n in names.strip("()").split(",") if n.strip()} & package
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mlnotes":
                found |= {alias.name for alias in node.names} & package
            elif node.module.startswith("mlnotes."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("mlnotes.")}
    return found & package


def package_modules(root: Path = ROOT) -> set[str]:
    return {p.stem for p in (root / "src" / "mlnotes").glob("*.py") if not p.stem.startswith("_")}


def read_chapters(root: Path = ROOT) -> list[Chapter]:
    package = package_modules(root)
    chapters = []
    for caption, docs in toc_parts(root):
        for doc in docs:
            chapter = Chapter(doc, caption)
            if not chapter.path.exists():
                continue
            nb = nbformat.read(chapter.path, as_version=4)
            modules: set[str] = set()
            links: list[str] = []
            for cell in nb.cells:
                if cell.cell_type == "code":
                    modules |= mlnotes_imports(cell.source, package)
                elif cell.cell_type == "markdown":
                    if not chapter.title:
                        heading = re.search(r"^#\s+(.+)$", cell.source, re.M)
                        chapter.title = heading.group(1).strip() if heading else ""
                    for target in DOC_ROLE.findall(cell.source):
                        resolved = resolve_doc(doc, target.strip())
                        if resolved.startswith("chapters/") and resolved != doc and resolved not in links:
                            links.append(resolved)
            chapter.title = chapter.title or Path(doc).name.replace("-", " ")
            chapter.modules, chapter.links = sorted(modules), links
            chapters.append(chapter)
    return chapters


def resolve_doc(doc: str, target: str) -> str:
    """A {doc} target as a path from the book's root, without suffix."""
    target = target.removesuffix(".ipynb").removesuffix(".md")
    if target.startswith("/"):
        return target.lstrip("/")
    parts = list(Path(doc).parent.parts)
    for piece in target.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def module_tests(root: Path = ROOT) -> dict[str, list[str]]:
    """module -> the test files of ``tests/unit`` that import it."""
    package = package_modules(root)
    tests: dict[str, list[str]] = defaultdict(list)
    for path in sorted((root / "tests" / "unit").glob("test_*.py")):
        for module in sorted(mlnotes_imports(path.read_text(), package)):
            tests[module].append(str(path.relative_to(root)))
    return tests


# ----------------------------------------------------------------------------- code map page
def code_map_markdown(chapters: list[Chapter], tests: dict[str, list[str]], root: Path = ROOT) -> str:
    everywhere = set.intersection(*(set(c.modules) for c in chapters)) if chapters else set()
    lines = [
        "This page is generated at every build from the chapters' import statements and the",
        "imports of the unit tests (`python -m bookkit.codemap`), so it cannot drift from the code.",
        "Module files are in `src/mlnotes/`; tests in `tests/unit/`.",
        "",
    ]
    if everywhere:
        lines += ["Every chapter imports " + ", ".join(f"`mlnotes.{m}`" for m in sorted(everywhere)) +
                  " (not repeated below).", ""]
    lines += ["## Chapter to modules to tests", ""]
    for caption in dict.fromkeys(c.part for c in chapters):
        lines += [f"### {caption}", "", "| Chapter | Modules | Tests |", "|---|---|---|"]
        for c in (c for c in chapters if c.part == caption):
            mods = [m for m in c.modules if m not in everywhere]
            test_files = sorted({Path(t).name for m in mods for t in tests.get(m, [])})
            lines.append(f"| {{doc}}`{short_title(c.title)} </{c.doc}>` | "
                         f"{', '.join(f'`{m}`' for m in mods) or '(none)'} | "
                         f"{', '.join(f'`{t}`' for t in test_files) or '(none)'} |")
        lines.append("")
    users: dict[str, list[Chapter]] = defaultdict(list)
    for c in chapters:
        for m in c.modules:
            users[m].append(c)
    lines += ["## Module to chapters and tests", "", "| Module | Chapters | Tests |", "|---|---|---|"]
    for module in sorted(package_modules(root)):
        readers = users.get(module, [])
        shown = ("every chapter" if module in everywhere else
                 ", ".join(f"{{doc}}`{c.key} </{c.doc}>`" for c in readers) or "(no chapter imports it)")
        lines.append(f"| `mlnotes.{module}` | {shown} | "
                     f"{', '.join(f'`{Path(t).name}`' for t in tests.get(module, [])) or '(none)'} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- landing page
def short_title(title: str) -> str:
    return title.split(":")[0].strip()


def cache_record(chapter: Chapter, cache):
    """The execution-cache record of the chapter's notebook (None if it is not executed)."""
    try:
        return cache.match_cache_notebook(nbformat.read(chapter.path, as_version=4))
    except KeyError:
        return None


def first_figure(record, cache) -> bytes | None:
    """The first PNG output of the executed notebook of ``record`` (None if it has none)."""
    for cell in cache.get_cache_bundle(record.pk).nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                return base64.b64decode(data["image/png"])
    return None


def thumbnail(png: bytes, width: int = THUMB_WIDTH) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = max(1, round(image.height * width / image.width))
    buffer = io.BytesIO()
    image.resize((width, height), Image.LANCZOS).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


PART_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]  # Okabe-Ito


def link_pairs(chapters: list[Chapter]) -> list[tuple[str, str]]:
    docs = {c.doc for c in chapters}
    return sorted({tuple(sorted((c.doc, target))) for c in chapters for target in c.links if target in docs})


def links_figure(chapters: list[Chapter], path) -> str:
    """Draw the related-chapter links on a circle (chapters grouped and coloured by part);
    return the figure's alt text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    parts = list(dict.fromkeys(c.part for c in chapters))
    n = len(chapters)
    angles = {c.doc: np.pi / 2 - 2 * np.pi * i / n for i, c in enumerate(chapters)}
    xy = {doc: (np.cos(a), np.sin(a)) for doc, a in angles.items()}
    pairs = link_pairs(chapters)
    degree = defaultdict(int)
    for a, b in pairs:
        degree[a] += 1
        degree[b] += 1
    fig, ax = plt.subplots(figsize=(9, 9), dpi=100)
    for a, b in pairs:
        (x0, y0), (x1, y1) = xy[a], xy[b]
        ax.plot([x0, x1], [y0, y1], color="0.55", lw=0.8, alpha=0.7, zorder=1)
    for part_index, caption in enumerate(parts):
        members = [c for c in chapters if c.part == caption]
        ax.scatter([xy[c.doc][0] for c in members], [xy[c.doc][1] for c in members],
                   s=[30 + 25 * degree[c.doc] for c in members], color=PART_COLOURS[part_index % 7],
                   label=caption, zorder=2, edgecolor="white")
        for c in members:
            a = angles[c.doc]
            x, y = 1.08 * np.cos(a), 1.08 * np.sin(a)
            rotation = np.degrees(a)
            left = np.cos(a) >= 0
            ax.text(x, y, Path(c.doc).name, fontsize=7.5, rotation=rotation if left else rotation + 180,
                    rotation_mode="anchor", ha="left" if left else "right", va="center")
    ax.set_xlim(-1.62, 1.62)
    ax.set_ylim(-1.62, 1.62)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.06), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    top = max(chapters, key=lambda c: degree[c.doc]) if chapters else None
    isolated = [Path(c.doc).name for c in chapters if degree[c.doc] == 0]
    alone = (f"{len(isolated)} chapters ({', '.join(isolated)}) have no link in either direction."
             if isolated else "Every chapter links to, or is linked from, at least one other.")
    return (f"The {n} chapters on a circle, grouped and coloured by part, with a grey line for each of the "
            f"{len(pairs)} pairs of chapters where one links to the other; dot size grows with the number "
            f"of links. The most connected chapter is {Path(top.doc).name} ({degree[top.doc]} links). {alone}"
            if top else "No chapters.")


def landing_markdown(chapters: list[Chapter], thumbs: dict[str, str], alt_links: str) -> str:
    parts = list(dict.fromkeys(c.part for c in chapters))
    lines = [f"The book has {len(chapters)} chapters in {len(parts)} parts. Each line below links to a "
             "chapter; the picture beside it is the first figure the chapter draws.", ""]
    for index, caption in enumerate(parts, 1):
        members = [c for c in chapters if c.part == caption]
        lines += [f"### Part {index}: {caption}", "", "| Figure | Chapter |", "|---|---|"]
        for c in members:
            image = f"![]({thumbs[c.doc]})" if c.doc in thumbs else ""
            rest = c.title[len(short_title(c.title)):].lstrip(": ").strip()
            line = f"{{doc}}`{short_title(c.title)} </{c.doc}>`" + (f": {rest}" if rest else "")
            lines.append(f"| {image} | {line} |")
        lines.append("")
    lines += ["### How the chapters link to each other", "",
              "```{figure} _build/map/links.png", f":alt: {alt_links}", ":width: 100%", "",
              "Related-chapter links: each line joins two chapters when one refers the reader to the "
              "other; chapters are grouped and coloured by part (counted from the chapters' own links "
              "at build time).", "```", ""]
    return "\n".join(lines)


def write_if_changed(path: Path, data: bytes | str) -> None:
    """Write only when the bytes differ, so that an unchanged page keeps its mtime and Sphinx
    does not re-read the pages that include it (a no-op build stays a no-op)."""
    data = data.encode() if isinstance(data, str) else data
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    from bookkit.execute import execution_stamp, open_cache

    chapters = read_chapters()
    OUT.mkdir(parents=True, exist_ok=True)
    write_if_changed(OUT / "code-map.md", code_map_markdown(chapters, module_tests()))
    cache = open_cache()
    thumbs_dir = OUT / "thumbs"
    thumbs_dir.mkdir(exist_ok=True)
    # Thumbnails are redone only for chapters whose cached execution changed (reading an
    # executed notebook and resizing its figure is most of this step's time).
    manifest_file = OUT / "thumbs.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    thumbs, new_manifest = {}, {}
    for c in chapters:
        record = cache_record(c, cache)
        if record is None:
            continue
        target = thumbs_dir / f"{c.key.replace('/', '--')}.png"
        stamp = execution_stamp(record)
        if manifest.get(c.doc) == stamp and target.exists():
            new_manifest[c.doc], thumbs[c.doc] = stamp, str(target.relative_to(ROOT))
            continue
        png = first_figure(record, cache)
        if png is not None:
            write_if_changed(target, thumbnail(png))
            new_manifest[c.doc], thumbs[c.doc] = stamp, str(target.relative_to(ROOT))
    write_if_changed(manifest_file, json.dumps(new_manifest, indent=1, sort_keys=True))
    # The links figure depends on the chapters' parts, order and links only.
    structure = json.dumps([[c.doc, c.part, c.links] for c in chapters])
    structure_file, alt_file = OUT / "links.json", OUT / "links-alt.txt"
    if not (structure_file.exists() and structure_file.read_text() == structure and alt_file.exists()
            and (OUT / "links.png").exists()):
        figure = io.BytesIO()
        alt = links_figure(chapters, figure)
        write_if_changed(OUT / "links.png", figure.getvalue())
        write_if_changed(alt_file, alt)
        write_if_changed(structure_file, structure)
    alt = alt_file.read_text()
    write_if_changed(OUT / "landing.md", landing_markdown(chapters, thumbs, alt))
    write_if_changed(OUT / "map.json", json.dumps(
        {c.doc: {"title": c.title, "modules": c.modules, "links": c.links} for c in chapters}, indent=1))
    print(f"book map: {len(chapters)} chapters, {len(thumbs)} thumbnails, "
          f"{len(link_pairs(chapters))} linked pairs -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

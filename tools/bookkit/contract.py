"""The chapter-contract checker: what ``../shared/chapter-contract.md`` asks, checked mechanically.

``check_notebook(path)`` returns a list of problems (empty when the chapter keeps the
contract); ``chapter_stats(path)`` counts what the build report shows.

The gates on claims and code (issues 12 and 14), each a function of the notebook:

- ``numbers``: every decimal number, percentage or scientific literal in markdown, figure
  captions and alt text (outside math and code) occurs in a text the notebook glued with
  ``mlnotes.claims.glue``, or is a listed constant (``number_problems``; needs the executed
  notebook, so ``make check`` runs it after execution).
- ``solution-assert``: every exercise solution holds at least one ``assert``.
- ``claim-comment``: every ``check`` cell starts with ``# Claim (N seeds): ...``,
  ``# Claim (exact): ...`` or ``# Claim (one run, exact because ...): ...``.
- ``claim-seeds``: a claim that involves randomness (training, fitting, splits, sampling,
  seeds: see ``RANDOMNESS``) rests on at least 5 seeds, unless it says why one run is exact.
- ``line-length``: code lines are at most 88 characters.
- ``source-slicing``: no source text sliced by string position (use ``mlnotes.show``).
- warnings (reported, not failed): cells over 25 lines, whole ``inspect.getsource`` prints.

``gate_problems(nb)`` returns ``(kind, message)`` pairs, ``gate_warnings(nb)`` the warnings,
``claims(nb)`` the parsed claim comments the build report lists.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

#: Top-level imports every chapter may use.
ALLOWED_IMPORTS = {"numpy", "scipy", "torch", "matplotlib", "ipywidgets", "sklearn", "mlnotes", "IPython"}
#: Extra packages a chapter's specification names, by chapter slug.
EXTRA_IMPORTS = {
    "word2vec": {"gensim"},
    "new-word-discovery": {"jieba"},
    "tokenizers": {"tokenizers"},
    "xgboost": {"xgboost"},
    "training-loop-ergonomics": {"tqdm"},
}
STDLIB = set(sys.stdlib_module_names)


@dataclass
class ChapterStats:
    title: str
    checks: int
    figures: int
    explorers: int
    exercises: int
    solutions: int


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _is_figure(cell) -> bool:
    meta = cell.get("metadata", {}).get("mystnb", {})
    return bool(meta.get("figure", {}).get("caption")) and bool(meta.get("image", {}).get("alt"))


def _imports(source: str) -> set[str]:
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))  # %magics become calls
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _solutions_with_code(cells) -> int:
    """Gated solutions (solution-start ... solution-end) that hold at least one code cell."""
    count, inside, has_code = 0, False, False
    for cell in cells:
        if cell.cell_type == "code":
            has_code = has_code or (inside and bool(cell.source.strip()))
            continue
        for marker in re.findall(r"\{solution-(start|end)\}", cell.source):
            if marker == "start":
                inside, has_code = True, False
            else:
                count += inside and has_code
                inside = False
    return count


def chapter_stats(path: Path) -> ChapterStats:
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = [c for c in nb.cells if c.cell_type == "code"]
    title = next((m.group(1).strip() for m in [re.search(r"^# (.+)$", markdown, re.M)] if m), "")
    return ChapterStats(
        title=title,
        checks=sum("check" in _tags(c) and "assert" in c.source for c in code),
        figures=sum(_is_figure(c) for c in code),
        explorers=sum("explorer" in _tags(c) and "explorer(" in c.source for c in code),
        exercises=len(re.findall(r"[`:]{3,}\{exercise(-start)?\}", markdown)),
        solutions=_solutions_with_code(nb.cells),
    )


def check_notebook(path: Path, gates: bool = True) -> list[str]:
    """Every way the chapter at ``path`` breaks the contract, as readable messages.

    With ``gates`` the static claim and code gates are included (``[kind] message``); the
    numbers gate is included only when it can be decided without executing (no ``glue``).
    """
    nb = nbformat.read(path, as_version=4)
    problems: list[str] = []
    cells = nb.cells
    markdown = [c.source for c in cells if c.cell_type == "markdown"]
    head = "\n".join(markdown[:2])
    if not re.search(r"^# \S", head, re.M):
        problems.append("no H1 title in the first markdown cell")
    if not re.search(r"\{admonition\} Source", head) or "http" not in head:
        problems.append("no ':::{admonition} Source' note with the original article's link near the top")
    body = "\n".join(markdown)
    for heading in ("What you will learn", "Explore", "Exercises", "Summary"):
        if not re.search(rf"^#+ {heading}", body, re.M):
            problems.append(f"no '{heading}' section heading")
    if "{cite" not in body:
        problems.append("no {cite} reference to references.bib")
    if "{doc}" not in body:
        problems.append("no {doc} link to a related chapter")
    stats = chapter_stats(path)
    for name, have, need in (("figures with caption and alt text", stats.figures, 2),
                             ("'check'-tagged cells with an assert", stats.checks, 3),
                             ("'explorer'-tagged cells calling explorer(", stats.explorers, 1),
                             ("exercises", stats.exercises, 2),
                             ("solutions (solution-start/-end) with executed code", stats.solutions, 2)):
        if have < need:
            problems.append(f"{have} {name}; at least {need} required")
    allowed = ALLOWED_IMPORTS | STDLIB | EXTRA_IMPORTS.get(path.stem, set())
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count"):
            problems.append(f"code cell {index} is stored with outputs; store notebooks clean")
        if "sys.path" in cell.source:
            problems.append(f"code cell {index} edits sys.path; import from the installed mlnotes")
        try:
            bad = _imports(cell.source) - allowed
        except SyntaxError as exc:
            problems.append(f"code cell {index} does not parse: {exc}")
            continue
        if bad:
            problems.append(f"code cell {index} imports {sorted(bad)}, outside the allowed set")
    if gates:
        found = gate_problems(nb)
        if not uses_glue(nb):  # nothing glued: the numbers gate is decided without executing
            found += number_problems(nb, glued=set())
        problems += [f"[{kind}] {message}" for kind, message in found]
    return problems


# --- gates on claims and code (issues 12 and 14) ---------------------------------------------

#: Gate kinds, in the order reports list them; figure lint kinds come from ``bookkit.strict``.
GATE_KINDS = ("numbers", "solution-assert", "claim-comment", "claim-seeds", "line-length", "source-slicing")
WARNING_KINDS = ("long-cell", "getsource")
MAX_LINE = 88
LONG_CELL = 25
MIN_SEEDS = 5
#: Words (in a claim or its cell's code) that make a claim depend on randomness.
RANDOMNESS = re.compile(
    r"\b(?:train\w*|fit(?:s|ted|ting)?\b|\w*split\w*|(?:re|sub)?sampl\w*|\w*seeds?\b|\w*_seed\b"
    r"|random\w*|rand(?:n|int|perm|om)?(?:_like)?\b|\w*rng\b|shuffl\w*|dropout|epochs?\b|optim(?:i[sz]ers?)?\b"
    r"|sgd\b|adam\w*|bootstrap\w*|stochastic\w*|monte[ -]carlo|nois[ey]\w*)",
    re.IGNORECASE)
CLAIM = re.compile(r"#\s*Claim\b")
#: A decimal number, a scientific literal or a percentage (integers are matched, then skipped).
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?[eE][+-]?\d+|\d*\.\d+|\d+)(\s?%)?(?![\w]|\.\d)"
                    r"|(?<![\w.])(\d+(?:\.\d+)?[eE][+-]?\d+|\d*\.\d+)(?=[A-Za-z×])")
#: Directives whose body is code or math (dropped); their arguments are never prose either.
CODE_DIRECTIVES = {"math", "code", "code-block", "code-cell", "sourcecode", "literalinclude", "raw",
                   "include", "bibliography", "glue", "glue:", "glue:any", "glue:figure", "glue:math",
                   "glue:md", "mermaid", "csv-table"}
#: Directives whose argument is a title in prose (others take labels or paths).
TITLED_DIRECTIVES = {"exercise", "exercise-start", "admonition", "dropdown", "topic", "sidebar"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(\{([\w:-]+)\})?\s*(.*)$")
OPTION = re.compile(r"^\s*:([\w-]+):\s*(.*)$")
INLINE_DROPS = [
    re.compile(r"<!--.*?-->", re.S),                      # HTML comments
    re.compile(r"\$\$.*?\$\$", re.S),                      # display math
    re.compile(r"\\\[.*?\\\]|\\\(.*?\\\)", re.S),           # \[..\] and \(..\)
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S),  # LaTeX environments
    re.compile(r"(?<![\\$])\$(?!\s)(?:\\.|[^$\\])+?(?<!\s)\$", re.S),  # inline math
    re.compile(r"\{[\w:-]+\}(`+).*?\1", re.S),              # roles: {cite}`..`, {math}`..`, {doc}`..`
    re.compile(r"(`+).*?\1", re.S),                          # code spans
    re.compile(r"\]\([^)]*\)|\]\[[^\]]*\]"),                # link targets
    re.compile(r"<https?://[^>]*>|https?://\S+"),            # URLs
    re.compile(r"</?[A-Za-z][^>]*>"),                        # HTML tags and their attributes
]


def prose(markdown: str) -> str:
    """The prose of a markdown cell: code blocks, math, roles, code spans, URLs and directive
    options removed; the bodies of prose directives (exercises, admonitions) kept."""
    kept, stack = [], []  # stack of (fence, keep_body)
    for line in markdown.splitlines():
        match = FENCE.match(line)
        if match and stack and match[1][0] == stack[-1][0][0] and len(match[1]) >= len(stack[-1][0]) \
                and not match[2] and not match[4]:
            stack.pop()
            continue
        if match and (match[2] or match[1][0] != ":") and not (stack and not stack[-1][1]):
            name = match[3]
            keep = name is not None and name not in CODE_DIRECTIVES
            stack.append((match[1], keep))
            if keep and name in TITLED_DIRECTIVES:
                kept.append(match[4])
            continue
        if stack and not stack[-1][1]:
            continue
        option = OPTION.match(line)
        if stack and option:
            if option[1] in ("alt", "caption", "title"):
                kept.append(option[2])
            continue
        kept.append(line)
    text = "\n".join(kept)
    for pattern in INLINE_DROPS:
        text = pattern.sub(" ", text)
    return text


def numbers_at(text: str) -> list[tuple[str, int]]:
    """``(token, offset)`` of every decimal number, percentage or scientific literal in ``text``."""
    found = []
    for match in NUMBER.finditer(text):
        number, percent, before_unit = match[1], match[2], match[3]
        if before_unit:
            found.append((before_unit, match.start()))
        elif percent or "." in number or "e" in number.lower():
            found.append((number + ("%" if percent else ""), match.start()))
    return found


def numbers_in(text: str) -> list[str]:
    """Decimal numbers, percentages and scientific literals in ``text`` (integers skipped)."""
    return [token for token, _ in numbers_at(text)]


def _number_key(token: str) -> str:
    return token.replace(" ", "").rstrip("%")


def _plain(text: object) -> str:
    text = "".join(text) if isinstance(text, list) else str(text)
    try:
        value = ast.literal_eval(text)
        return value if isinstance(value, str) else text
    except (ValueError, SyntaxError):
        return text


def glued_texts(nb) -> dict[str, str]:
    """Name -> text of every value the executed notebook glued (myst-nb's scrapbook outputs)."""
    texts = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is None:
                continue
            data = out.get("data", {})
            plain = next((v for k, v in data.items() if k.endswith("text/plain")), "")
            texts[name] = _plain(plain)
    return texts


def with_outputs(source, executed):
    """``source`` (all cells, metadata) with the outputs of ``executed``'s code cells, in order.

    The jupyter-cache keeps only code cells; the gates also need the markdown and metadata."""
    import copy

    merged = copy.deepcopy(source)
    code = [cell for cell in merged.cells if cell.cell_type == "code"]
    ran = [cell for cell in executed.cells if cell.cell_type == "code"]
    if [c.source for c in code] != [c.source for c in ran]:
        raise ValueError("the executed notebook's code cells differ from the source notebook's")
    for cell, done in zip(code, ran):
        cell.outputs, cell.execution_count = done.get("outputs", []), done.get("execution_count")
    return merged


def uses_glue(nb) -> bool:
    return any(cell.cell_type == "code" and re.search(r"\bglue\s*\(", cell.source) for cell in nb.cells)


def prose_pieces(nb) -> list[tuple[str, str]]:
    """``(where, text)`` for every markdown cell, figure caption and alt text of ``nb``."""
    pieces = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            pieces.append((f"markdown cell {index}", prose(cell.source)))
        elif cell.cell_type == "code":
            meta = cell.get("metadata", {}).get("mystnb", {})
            for key, field in (("figure", "caption"), ("image", "alt")):
                text = meta.get(key, {}).get(field)
                if text:
                    pieces.append((f"code cell {index} {field}", prose(text)))
    return pieces


def number_problems(nb, glued: set[str] | dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The numbers gate on an executed notebook (or with ``glued`` texts given)."""
    texts = glued_texts(nb).values() if glued is None else (
        glued.values() if isinstance(glued, dict) else glued)
    allowed = {_number_key(t) for text in texts for t in numbers_in(str(text))}
    allowed |= {_number_key(m[0]) for text in texts for m in re.finditer(r"\d+(?:\.\d+)?", str(text))}
    constants = nb.metadata.get("mlnotes", {}).get("constants", {})
    problems = []
    for number, reason in constants.items():
        if not isinstance(reason, str) or len(reason.strip()) < 3:
            problems.append(("numbers", f"constant {number!r} in metadata mlnotes.constants has no reason"))
        allowed.add(_number_key(str(number)))
    for where, text in prose_pieces(nb):
        for token, at in numbers_at(text):
            if _number_key(token) not in allowed:
                context = " ".join(text[max(0, at - 40):at + 40].split())
                problems.append(("numbers", f"{where}: {token!r} is neither glued nor a listed constant "
                                            f"(\"...{context}...\")"))
    return problems


def _solution_cells(cells) -> list[tuple[str, list]]:
    """``(label, code cells)`` of every solution-start ... solution-end stretch."""
    solutions, current, label = [], None, ""
    for cell in cells:
        if cell.cell_type == "code":
            if current is not None:
                current.append(cell)
            continue
        for match in re.finditer(r"\{solution-(start|end)\}\s*([\w-]*)", cell.source):
            if match[1] == "start":
                current, label = [], match[2] or "(unlabelled)"
            elif current is not None:
                solutions.append((label, current))
                current = None
    if current is not None:
        solutions.append((label + " (no solution-end)", current))
    return solutions


def _asserts(source: str) -> bool:
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return "assert" in source
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.startswith("assert_") or name == "assert_close":
                return True
    return False


def _python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


@dataclass
class Claim:
    cell: int
    text: str
    kind: str           # "seeds", "exact", "exact-because" or "malformed"/"missing"
    seeds: int | None   # the N of "(N seeds)"; 1 for exact claims
    reason: str = ""
    random: list[str] | None = None  # randomness words found in the claim or its code


def _parenthesised(text: str) -> tuple[str, str] | None:
    """``("inside", "rest")`` for text starting with a balanced parenthesis, else None."""
    if not text.startswith("("):
        return None
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return text[1:i], text[i + 1:]
    return None


def parse_claim(source: str, cell: int = 0) -> Claim:
    """The claim comment at the top of a ``check`` cell."""
    lines = [ln.strip() for ln in source.strip().splitlines()]
    if not lines or not CLAIM.match(lines[0]):
        return Claim(cell, lines[0] if lines else "", "missing", None)
    comment = [re.sub(r"^#\s*Claim\s*", "", lines[0])]
    for ln in lines[1:]:
        if not ln.startswith("#"):
            break
        comment.append(ln.lstrip("#").strip())
    whole = " ".join(comment)  # the parenthesis may close on a later comment line
    parsed = _parenthesised(whole)
    if parsed is None or not parsed[1].lstrip().startswith(":"):
        return Claim(cell, whole, "malformed", None)
    inside, text = " ".join(parsed[0].split()), parsed[1].lstrip()[1:].strip()
    if (m := re.fullmatch(r"(\d+)\s+[A-Za-z].*", inside, re.S)):
        return Claim(cell, text, "seeds", int(m[1]))
    if inside == "exact":
        return Claim(cell, text, "exact", 1)
    if (m := re.fullmatch(r"one run,\s*exact because\s+(.{3,})", inside, re.S)):
        return Claim(cell, text, "exact-because", 1, reason=m[1].strip())
    return Claim(cell, f"({inside}): {text}", "malformed", None)


def claims(nb) -> list[Claim]:
    """Every ``check`` cell's claim, with the randomness words of its claim text and code."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "check" not in _tags(cell):
            continue
        claim = parse_claim(cell.source, index)
        words = {m[0].lower() for m in RANDOMNESS.finditer(cell.source)}
        claim.random = sorted(words)
        found.append(claim)
    return found


def claim_problems(nb) -> list[tuple[str, str]]:
    problems = []
    for claim in claims(nb):
        where = f"check cell {claim.cell}"
        if claim.kind in ("missing", "malformed"):
            problems.append(("claim-comment", f"{where} does not start with '# Claim (N seeds): ...', "
                                              f"'# Claim (exact): ...' or '# Claim (one run, exact because "
                                              f"...): ...': {claim.text[:80]!r}"))
        elif claim.kind == "seeds" and claim.seeds < MIN_SEEDS:
            problems.append(("claim-seeds", f"{where} rests on {claim.seeds} seeds; at least {MIN_SEEDS}"))
        elif claim.kind == "exact" and claim.random:
            problems.append(("claim-seeds", f"{where} says exact but mentions {', '.join(claim.random[:4])}: "
                                            f"measure over >= {MIN_SEEDS} seeds or say "
                                            f"'(one run, exact because ...)'"))
    return problems


def _sliced_source(source: str) -> list[str]:
    """Where ``source`` slices program text (``getsource(..)[..]``, ``src[src.index(..):]`` ...)."""
    found = [m[0] for m in re.finditer(r"\w*(?:source|src|code|lines)\w*\.(?:index|find|rindex|rfind)\(",
                                       source)]
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return found
    tainted: set[str] = set()

    def is_source(node) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                f = sub.func
                if (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")) in (
                        "getsource", "getsourcelines", "getlines", "source_of"):
                    return True
            if isinstance(sub, ast.Name) and sub.id in tainted:
                return True
        return False

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and is_source(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            tainted |= {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_source(node.value):
            found.append(ast.unparse(node)[:60])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("index", "find", "rindex", "rfind", "partition", "split", "splitlines") \
                and is_source(node.func.value):
            found.append(ast.unparse(node)[:60])
    return sorted(set(found))


def _code_cells(nb):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "colab-install" not in _tags(cell):
            yield index, cell


def gate_problems(nb) -> list[tuple[str, str]]:
    """``(kind, message)`` for every failure of the static claim and code gates."""
    problems = []
    for label, cells in _solution_cells(nb.cells):
        if not any(_asserts(c.source) for c in cells):
            problems.append(("solution-assert", f"solution {label} has no assert"
                                                + ("" if cells else " (no code cell)")))
    problems += claim_problems(nb)
    for index, cell in _code_cells(nb):
        long = [n for n, line in enumerate(cell.source.splitlines(), 1) if len(line) > MAX_LINE]
        if long:
            widest = max(len(line) for line in cell.source.splitlines())
            problems.append(("line-length", f"code cell {index}: {len(long)} line(s) over {MAX_LINE} "
                                            f"characters (lines {long[:5]}, widest {widest})"))
        sliced = _sliced_source(cell.source)
        if sliced:
            problems.append(("source-slicing", f"code cell {index} slices source text ({sliced[0]}); "
                                               f"use mlnotes.show.show(obj) or a '# region:'"))
    return problems


def gate_warnings(nb) -> list[tuple[str, str]]:
    """``(kind, message)`` for what the build report flags without failing."""
    warnings_ = []
    for index, cell in _code_cells(nb):
        n = len(cell.source.rstrip().splitlines())
        if n > LONG_CELL:
            warnings_.append(("long-cell", f"code cell {index} has {n} lines (> {LONG_CELL})"))
        if re.search(r"\bgetsource(lines)?\(", cell.source) and not _sliced_source(cell.source):
            warnings_.append(("getsource", f"code cell {index} prints inspect.getsource; "
                                           f"use mlnotes.show.show for highlighted code"))
    return warnings_

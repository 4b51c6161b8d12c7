"""Guard-line share of ``src/mlnotes`` (the count issue 15 defines).

``python -m bookkit.guard_share [--per-module]`` counts, over the non-blank, non-comment,
non-docstring lines of ``src/mlnotes/*.py`` (``book/`` excluded, if present):

- guard lines: lines of a statement that raises ``ValueError``/``TypeError``, lines of a
  condition that calls ``isinstance``, lines of a ``@checked(...)`` decorator (the declared
  argument rules of ``mlnotes.validate``), and lines of a statement that calls a check helper
  (a name matching ``check_*``, ``_check*``, ``_validate*``, ``_require*``, ``_ensure*``,
  ``as_numeric_array``, ``check_array``...);
- the same, plus the whole bodies of private checkers (functions named ``_check*``,
  ``_validate*``, ``_require*``, ``_ensure*``, ``_as_*``);
- private checkers and hand-written ``isinstance`` chains (conditions with two or more
  ``isinstance`` calls, or an ``isinstance`` that leads to a ``raise``) outside ``validate.py``.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import tokenize
from pathlib import Path

CHECK_CALL = re.compile(r"^(_?check\w*|_validate\w*|_require\w*|_ensure\w*|as_numeric_array|check_array|"
                        r"check_tensor)$")
PRIVATE_CHECKER = re.compile(r"^(_check\w*|_validate\w*|_require\w*|_ensure\w*|_as_\w+)$")


def _call_name(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else None
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _lines(node: ast.AST) -> set[int]:
    return set(range(node.lineno, (node.end_lineno or node.lineno) + 1))


def _calls(node: ast.AST) -> list[str]:
    return [_call_name(n) for n in ast.walk(node) if isinstance(n, ast.Call)]


def code_lines(source: str, tree: ast.Module) -> set[int]:
    """Line numbers holding code: not blank, not only a comment, not in a docstring."""
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
            lines |= set(range(tok.start[0], tok.end[0] + 1))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines -= _lines(first)
    return lines


def analyse(path: Path) -> dict:
    source = path.read_text()
    tree = ast.parse(source)
    code = code_lines(source, tree)
    guard: set[int] = set()
    chains = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in ("ValueError", "TypeError"):
                guard |= _lines(node)
        if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            test = node.test
            n_isinstance = _calls(test).count("isinstance")
            if n_isinstance:
                guard |= _lines(test)
                raises = isinstance(node, ast.If) and any(isinstance(s, ast.Raise) for s in node.body)
                if n_isinstance >= 2 or raises:
                    chains += 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                if _call_name(decorator) == "checked":
                    guard |= _lines(decorator)
        if isinstance(node, ast.stmt) and not isinstance(
                node, (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef,
                       ast.AsyncFunctionDef)):
            if any(CHECK_CALL.match(name) for name in _calls(node)):
                guard |= _lines(node)
    checkers = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                and PRIVATE_CHECKER.match(n.name)]
    with_bodies = set(guard)
    for fn in checkers:
        with_bodies |= _lines(fn)
    return {"code": len(code), "guard": len(guard & code), "guard_with_checker_bodies": len(with_bodies & code),
            "private_checkers": len(checkers), "isinstance_chains": chains}


def measure(package: Path) -> dict:
    per_module = {}
    for path in sorted(package.glob("*.py")):
        per_module[path.stem] = analyse(path)
    total = {key: sum(m[key] for m in per_module.values()) for key in next(iter(per_module.values()))}
    outside = {k: v for k, v in per_module.items() if k != "validate"}
    total["private_checkers"] = sum(m["private_checkers"] for m in outside.values())
    total["isinstance_chains"] = sum(m["isinstance_chains"] for m in outside.values())
    total["guard_share"] = round(total["guard"] / total["code"], 4)
    total["guard_share_with_checker_bodies"] = round(total["guard_with_checker_bodies"] / total["code"], 4)
    return {"total": total, "modules": per_module}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", type=Path, default=Path("src/mlnotes"))
    parser.add_argument("--per-module", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.package)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    t = result["total"]
    print(f"code lines {t['code']}, guard lines {t['guard']} ({t['guard_share']:.1%}), "
          f"with private checkers' bodies {t['guard_with_checker_bodies']} "
          f"({t['guard_share_with_checker_bodies']:.1%}); private checkers {t['private_checkers']}, "
          f"isinstance chains {t['isinstance_chains']} (outside validate.py)")
    if args.per_module:
        for name, m in sorted(result["modules"].items(), key=lambda kv: -kv[1]["guard"] / max(kv[1]["code"], 1)):
            print(f"  {name:26} {m['guard']:4}/{m['code']:5} = {m['guard'] / max(m['code'], 1):5.1%}  "
                  f"checkers {m['private_checkers']:2}  chains {m['isinstance_chains']:2}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

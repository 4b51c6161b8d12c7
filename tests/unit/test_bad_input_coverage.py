"""Gate: every public function of every mlnotes topic module has a bad-input test.

A function counts as covered when some test function in ``tests/test_<module>.py`` both uses
``pytest.raises`` and names the function (in its body or its parametrize decorator).
"""

import ast
import importlib
import inspect
import pkgutil

import pytest

import mlnotes
from conftest import ROOT

MODULES = sorted(m.name for m in pkgutil.iter_modules(mlnotes.__path__) if not m.name.startswith("_")
                 and m.name != "book")


def public_functions(module_name: str) -> list[str]:
    module = importlib.import_module(f"mlnotes.{module_name}")
    return sorted(name for name, obj in vars(module).items()
                  if not name.startswith("_") and inspect.isfunction(obj)
                  and obj.__module__ == module.__name__
                  and inspect.signature(obj).parameters)  # a function with no inputs has no bad input


def names_tested_for_bad_input(test_file) -> set[str]:
    tree = ast.parse(test_file.read_text())
    covered: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            if "raises" in names:
                covered |= names
    return covered


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_function_has_a_bad_input_test(module_name):
    test_file = ROOT / "tests" / "unit" / f"test_{module_name}.py"
    assert test_file.exists(), f"mlnotes.{module_name} has no tests/unit/test_{module_name}.py"
    missing = sorted(set(public_functions(module_name)) - names_tested_for_bad_input(test_file))
    assert not missing, (f"mlnotes.{module_name}: no pytest.raises test names {missing}; feed each "
                         "wrong shapes/types/empty/out-of-range input and expect ValueError/TypeError")

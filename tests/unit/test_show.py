"""mlnotes.show: a function, class or method whole, or a marked region of its module, as a
highlighted Python block (Markdown with a ```python fence, which myst-nb and JupyterLab render
with syntax highlighting); never sliced by string position."""

import importlib
import sys
import textwrap

import pytest
from adversarial_examples import Example
from IPython.display import Markdown

import mlnotes.claims
from mlnotes.claims import spread
from mlnotes.show import _source_of, show

ADVERSARIAL = {"show": Example(spread, None)}

MODULE = '''\
"""A throwaway module with regions."""


def outer(x):
    total = 0
    # region: loop
    for i in range(x):
        total += i
    # endregion
    return total


class Box:
    def area(self, w, h):
        # region: area
        return w * h
        # endregion


# region: top-level
LIMIT = 3
# endregion
'''


@pytest.fixture()
def module(tmp_path, monkeypatch):
    (tmp_path / "regions_demo.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("regions_demo", None)
    yield importlib.import_module("regions_demo")
    sys.modules.pop("regions_demo", None)


def test_whole_function_is_its_source_dedented():
    import inspect

    assert _source_of(spread) == inspect.getsource(spread).rstrip()
    first, second = _source_of(spread).splitlines()[:2]  # the declared argument rules, then the def
    assert first.startswith("@checked(values=") and second.startswith("def spread(values")


def test_method_and_class_are_shown_whole_and_dedented(module):
    assert _source_of(module.Box.area) == "def area(self, w, h):\n    # region: area\n    return w * h\n    # endregion"
    assert _source_of(module.Box).startswith("class Box:\n    def area")
    assert _source_of(module.Box().area).startswith("def area")  # a bound method


def test_regions_are_dedented_and_found_from_the_module_or_any_member(module):
    assert _source_of(module, "loop") == "for i in range(x):\n    total += i"
    assert _source_of(module.outer, "area") == "return w * h"  # the member's module is searched
    assert _source_of(module, "top-level") == "LIMIT = 3"


def test_an_unknown_region_names_the_known_ones(module):
    with pytest.raises(ValueError, match=r"'lop' is not marked in regions_demo; its regions are "
                                         r"\['area', 'loop', 'top-level'\]"):
        _source_of(module, "lop")


@pytest.mark.parametrize("bad, region, error", [(3, None, TypeError), ("spread", None, TypeError),
                                                (spread, 2, TypeError)])
def test_bad_arguments_name_themselves(bad, region, error):
    with pytest.raises(error, match="obj" if region is None else "region"):
        show(bad, region)


def test_show_is_a_titled_python_fence(module):
    shown = show(spread)
    assert isinstance(shown, Markdown)
    assert shown.data == f"`mlnotes.claims.spread`\n\n```python\n{_source_of(spread)}\n```"
    assert show(module, "loop").data == ("`regions_demo`, region `loop`\n\n```python\n"
                                         "for i in range(x):\n    total += i\n```")
    assert show(module.Box.area).data.startswith("`regions_demo.Box.area`")


def test_show_renders_as_markdown_in_a_kernel():
    from IPython.core.formatters import format_display_data

    bundle, _ = format_display_data(show(mlnotes.claims))
    assert set(bundle) == {"text/plain", "text/markdown"}
    assert bundle["text/markdown"].startswith("`mlnotes.claims`\n\n```python\n\"\"\"Numbers a page states")


def test_renamed_variables_do_not_break_a_region(module, tmp_path):
    renamed = MODULE.replace("total", "acc")
    (tmp_path / "regions_demo.py").write_text(renamed)
    sys.modules.pop("regions_demo", None)
    again = importlib.import_module("regions_demo")
    assert _source_of(again, "loop") == textwrap.dedent("for i in range(x):\n    acc += i")

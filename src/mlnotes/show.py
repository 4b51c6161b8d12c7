"""Show the code a chapter teaches: a whole function or class, or a named region of a module.

``show(sliding_max)``
displays the function's source as a highlighted Python block, on the built site (myst-nb
renders the Markdown output with the theme's highlighting) and in JupyterLab or Colab alike.
A region is a stretch of a module between two comment lines::

    # region: monotone-deque
    ...
    # endregion

and ``show(mlnotes.sliding_window, "monotone-deque")`` displays just that stretch.
Nothing is sliced by string position, so renaming a variable never breaks a chapter.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from types import FunctionType, MethodType, ModuleType

from IPython.display import Markdown

from mlnotes.validate import arg, checked

__all__ = ["show"]

_REGION = re.compile(r"^\s*# region: (?P<name>[\w.-]+)\s*$")
_END = re.compile(r"^\s*# endregion\s*$")


def _regions(module: ModuleType) -> dict[str, str]:
    """Every ``# region: name`` ... ``# endregion`` stretch of a module, dedented."""
    regions, name, lines = {}, None, []
    for line in inspect.getsource(module).splitlines():
        if (start := _REGION.match(line)) is not None:
            name, lines = start["name"], []
        elif _END.match(line) and name is not None:
            regions[name] = textwrap.dedent("\n".join(lines))
            name = None
        elif name is not None:
            lines.append(line)
    return regions


def _source_of(obj: object, region: str | None = None) -> str:
    """The source text ``show`` displays: ``obj`` whole, or the named region of its module."""
    if region is None:
        return textwrap.dedent(inspect.getsource(obj)).rstrip()
    module = obj if isinstance(obj, ModuleType) else inspect.getmodule(obj)
    regions = _regions(module)
    if region not in regions:
        raise ValueError(f"region {region!r} is not marked in {module.__name__}; "
                         f"its regions are {sorted(regions)}")
    return regions[region].strip("\n")


@checked(obj=arg.instance((FunctionType, MethodType, type, ModuleType)), region=arg.optional(arg.text()))
def show(obj: object, region: str | None = None) -> Markdown:
    """Display ``obj``'s source (or one region of its module) as highlighted Python: a function,
    method, class or module, or the ``# region: <name>`` block of its module."""
    code = _source_of(obj, region)
    module = obj if isinstance(obj, ModuleType) else inspect.getmodule(obj)
    where = module.__name__ + ("" if isinstance(obj, ModuleType) else f".{obj.__qualname__}")
    title = f"`{where}`" + (f", region `{region}`" if region else "")
    return Markdown(f"{title}\n\n```python\n{code}\n```")

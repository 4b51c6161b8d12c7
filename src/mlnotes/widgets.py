"""Explorers: one interactive figure that works in a live kernel and on the static site.

Used by every chapter ("Explore" section). ``explorer(render, k=[1, 2, 3], kind=["a", "b"])``
takes a function that draws one matplotlib Figure from keyword parameters, and one
finite list of values per control:

- in a live kernel (Binder, Thebe, local Jupyter) it returns a real ipywidgets control:
  numeric lists become ``SelectionSlider`` s, string lists become ``Dropdown`` s, and an
  ``Image`` widget shows the figure, redrawn in the kernel whenever a control moves;
- when the book is built (``MLNOTES_STATIC_EXPLORERS=1``, set by the Makefile) it renders
  every combination of control values at build time into PNG frames and returns a small
  HTML/JS control that switches frames with no kernel.

Because the controls only take the listed values, the static frames cover every
position a reader can reach, and building the book renders (so proves) all of them.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import os
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

#: Environment variable that switches explorers to pre-rendered static output.
STATIC_ENV = "MLNOTES_STATIC_EXPLORERS"
#: Most frames one explorer may pre-render (keeps pages light and builds fast).
MAX_FRAMES = 64
#: Most bytes of PNG one explorer may embed (the whole page must stay under 3 MB).
MAX_BYTES = 1_200_000

Value = int | float | str
Renderer = Callable[..., Figure]


def static_mode() -> bool:
    """True when explorers should pre-render frames (the book build), False in a live kernel."""
    return os.environ.get(STATIC_ENV, "") == "1"


def _check_controls(controls: dict[str, Sequence[Value]]) -> dict[str, list[Value]]:
    if not controls:
        raise ValueError("an explorer needs at least one control, e.g. explorer(render, k=[1, 2, 3])")
    checked: dict[str, list[Value]] = {}
    n_frames = 1
    for name, values in controls.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"control {name!r} needs a list of values, got {type(values).__name__}")
        values = list(values)
        if not values:
            raise ValueError(f"control {name!r} has no values; give at least one")
        kinds = {isinstance(v, str) for v in values}
        if len(kinds) != 1 or not all(isinstance(v, (int, float, str)) and not isinstance(v, bool)
                                      for v in values):
            raise TypeError(f"control {name!r} values must be all numbers or all strings, got {values!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"control {name!r} has repeated values: {values!r}")
        checked[name] = values
        n_frames *= len(values)
    if n_frames > MAX_FRAMES:
        raise ValueError(f"{n_frames} control combinations exceed MAX_FRAMES={MAX_FRAMES}; "
                         "use fewer values per control")
    return checked


def render_checked(render: Renderer, params: dict[str, Value]) -> Figure:
    """Call ``render(**params)`` and check it returned a Figure with at least one Axes."""
    fig = render(**params)
    if not isinstance(fig, Figure):
        raise TypeError(f"render{params} must return a matplotlib Figure, got {type(fig).__name__}")
    if not fig.axes:
        raise ValueError(f"render{params} returned a Figure with no axes")
    return fig


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


class StaticExplorer:
    """Pre-rendered frames for every control combination, shown by a small HTML/JS control."""

    _count = 0

    def __init__(self, render: Renderer, controls: dict[str, list[Value]], defaults: dict[str, Value],
                 title: str):
        self.controls, self.defaults, self.title = controls, defaults, title
        names = list(controls)
        self.frames: dict[str, str] = {}
        for combo in itertools.product(*controls.values()):
            params = dict(zip(names, combo))
            self.frames[self.key(params)] = base64.b64encode(_png_bytes(render_checked(render, params))).decode("ascii")
        size = sum(len(f) * 3 // 4 for f in self.frames.values())
        if size > MAX_BYTES:
            raise ValueError(f"explorer {title!r} frames take {size} bytes > MAX_BYTES={MAX_BYTES}; "
                             "use fewer values or smaller figures")
        StaticExplorer._count += 1
        self.uid = f"mlnotes-explorer-{StaticExplorer._count}"

    def key(self, params: dict[str, Value]) -> str:
        """Frame key: the index of each control's value, joined by '-'."""
        return "-".join(str(self.controls[n].index(params[n])) for n in self.controls)

    def _control_html(self, name: str, values: list[Value], default: Value) -> str:
        label = html.escape(name)
        index = values.index(default)
        if isinstance(values[0], str):
            options = "".join(f'<option value="{i}"{" selected" if i == index else ""}>{html.escape(v)}</option>'
                              for i, v in enumerate(values))
            field = f'<select data-control="{label}" aria-label="{label}">{options}</select>'
        else:
            field = (f'<input type="range" data-control="{label}" aria-label="{label}" min="0" '
                     f'max="{len(values) - 1}" step="1" value="{index}">')
        readout = html.escape(str(default))
        return (f'<label class="mlnotes-control">{label} {field} '
                f'<output data-readout="{label}">{readout}</output></label>')

    def _repr_html_(self) -> str:
        controls = "".join(self._control_html(n, v, self.defaults[n]) for n, v in self.controls.items())
        labels = {n: [str(v) for v in vals] for n, vals in self.controls.items()}
        start = self.frames[self.key(self.defaults)]
        alt = html.escape(f"{self.title}: figure for the selected control values")
        script = f"""
(function() {{
  const root = document.getElementById("{self.uid}");
  const frames = {json.dumps(self.frames)};
  const labels = {json.dumps(labels)};
  const names = {json.dumps(list(self.controls))};
  const img = root.querySelector("img");
  function update() {{
    const key = names.map(n => root.querySelector('[data-control="' + n + '"]').value).join("-");
    img.src = "data:image/png;base64," + frames[key];
    img.dataset.frame = key;
    names.forEach(n => {{
      const i = Number(root.querySelector('[data-control="' + n + '"]').value);
      root.querySelector('[data-readout="' + n + '"]').textContent = labels[n][i];
    }});
  }}
  root.querySelectorAll("[data-control]").forEach(el => el.addEventListener("input", update));
}})();"""
        return (f'<div class="mlnotes-explorer" id="{self.uid}" data-frames="{len(self.frames)}">'
                f'<div class="mlnotes-explorer-title"><strong>{html.escape(self.title)}</strong> '
                f'(pre-rendered: every position was computed when the book was built)</div>'
                f'<div class="mlnotes-controls">{controls}</div>'
                f'<img alt="{alt}" data-frame="{self.key(self.defaults)}" '
                f'src="data:image/png;base64,{start}" style="max-width:100%">'
                f'<script>{script}</script></div>')

    def __repr__(self) -> str:
        return f"StaticExplorer({self.title!r}, {len(self.frames)} frames)"


def _live_explorer(render: Renderer, controls: dict[str, list[Value]], defaults: dict[str, Value],
                   title: str):
    """An ipywidgets box: a title, one control per parameter, and an Image redrawn on every change."""
    import ipywidgets as widgets

    inputs = {}
    for name, values in controls.items():
        if isinstance(values[0], str):
            inputs[name] = widgets.Dropdown(options=values, value=defaults[name], description=name)
        else:
            inputs[name] = widgets.SelectionSlider(options=values, value=defaults[name], description=name,
                                                   continuous_update=False)
    image = widgets.Image(format="png")

    def redraw(change: object = None) -> None:
        image.value = _png_bytes(render_checked(render, {n: w.value for n, w in inputs.items()}))

    for control in inputs.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HTML(f"<strong>{html.escape(title)}</strong>"),
                        widgets.HBox(list(inputs.values())), image])
    box.controls = inputs  # lets tests and readers drive the explorer programmatically
    return box


def explorer(render: Renderer, title: str = "Explore", defaults: dict[str, Value] | None = None,
             **controls: Sequence[Value]):
    """An interactive figure: ``render(**params) -> Figure`` driven by one control per keyword.

    Each control is a finite list of values (numbers give a slider, strings a dropdown);
    at most ``MAX_FRAMES`` combinations in all. ``defaults`` picks the starting values
    (the first value of each list otherwise). Returns an ipywidgets box in a live kernel,
    a :class:`StaticExplorer` when ``MLNOTES_STATIC_EXPLORERS=1``.
    """
    if not callable(render):
        raise TypeError(f"render must be callable, got {type(render).__name__}")
    if not isinstance(title, str) or not title:
        raise TypeError("title must be a non-empty string")
    checked = _check_controls(controls)
    defaults = dict(defaults or {})
    unknown = set(defaults) - set(checked)
    if unknown:
        raise ValueError(f"defaults name unknown controls {sorted(unknown)}; controls are {list(checked)}")
    for name, values in checked.items():
        defaults.setdefault(name, values[0])
        if defaults[name] not in values:
            raise ValueError(f"default {defaults[name]!r} for {name!r} is not one of {values!r}")
    if static_mode():
        return StaticExplorer(render, checked, defaults, title)
    return _live_explorer(render, checked, defaults, title)

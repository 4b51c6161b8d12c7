"""Explorers: one interactive figure that works in a live kernel and on the static site.

Usage, as in the "Explore" section of a chapter::

    explorer(render, title="Sliding-window maximum",
             k=Control([1, 2, 4, 8, 16, 32], label="window length k", fmt="{:d}"),
             causal=Control(["off", "on"], label="causal mask"),
             defaults={"k": 4})

``render(**params)`` draws one matplotlib Figure. Each keyword is a control: a
:class:`Control` (values, display label, value format, optional live range) or a plain
list (its label is the keyword with spaces).

- In a live kernel (JupyterLab, Binder, Colab) ``explorer`` returns an ipywidgets box:
  one row per control with its label and readout, and an Image at its natural size.
  A numeric control with ``live=(lo, hi)`` or ``(lo, hi, step)`` is a continuous slider
  over that range (``continuous_update`` when a frame renders quickly); without ``live``
  it is a slider over the listed values that shows the values, never their indices.
- When the book is built (``MLNOTES_STATIC_EXPLORERS=1``) it renders every combination
  of listed values into PNG frames and returns an HTML/JS control that needs no kernel.
  Axis limits are shared by all frames (the union of what each frame autoscales to)
  unless ``autoscale=True``. It also renders a few seeded random positions inside every
  ``live`` range (not shown) to prove that live positions draw without error.

Build rules (see :data:`STRICT_ENV`): no two frames identical, every control changes
some frame, a numeric control lists at least 5 values, axis limits equal across frames
unless ``autoscale=True``, readouts distinct, labels without code underscores. A violation
raises ``ValueError``; with ``MLNOTES_STRICT_EXPLORERS=0`` it is only recorded in
``StaticExplorer.problems`` and in the page (``data-problems``), where the book gates
(tests/book/test_explorers.py) still fail on it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from mlnotes.validate import checked, arg

__all__ = ["Control", "explorer", "static_mode", "strict_mode"]

#: Environment variable that switches explorers to pre-rendered static output.
STATIC_ENV = "MLNOTES_STATIC_EXPLORERS"
#: Environment variable that turns explorer rule violations into errors ("1") or records ("0").
STRICT_ENV = "MLNOTES_STRICT_EXPLORERS"
#: Used when STRICT_ENV is unset: the rules are enforced ("0" records violations instead).
STRICT_DEFAULT = "1"
#: Most frames one explorer may pre-render (keeps pages light and builds fast).
MAX_FRAMES = 96
#: Most bytes of PNG one explorer may embed (the whole page must stay under 3 MB).
MAX_BYTES = 1_200_000
#: A numeric control lists at least this many values (fewer: use named string choices).
MIN_NUMERIC_VALUES = 5
#: Random live positions rendered per explorer at build time (the sweep test).
SWEEP_POSITIONS = 3
#: A live slider updates while dragging when one frame renders faster than this (seconds).
FAST_RENDER_S = 0.25
#: Colours kept in a static frame's palette PNG (anti-aliased plots look the same).
PNG_COLORS = 256

Value = int | float | str
Renderer = Callable[..., Figure]


def static_mode() -> bool:
    """True when explorers should pre-render frames (the book build), False in a live kernel."""
    return os.environ.get(STATIC_ENV, "") == "1"


def strict_mode() -> bool:
    """True when explorer rule violations raise instead of being recorded."""
    return os.environ.get(STRICT_ENV, STRICT_DEFAULT) == "1"


@dataclass(frozen=True)
class Control:
    """One explorer control: the listed ``values`` (static frames), a display ``label``
    in words and units, a value format ``fmt`` such as ``"{:.2f}"`` or ``"{:d} steps"``,
    and for a numeric control optionally ``live=(lo, hi)`` or ``(lo, hi, step)``: the
    continuous range of its slider in a live kernel."""

    values: Sequence[Value]
    label: str | None = None
    fmt: str | None = None
    live: tuple[float, ...] | None = None


@dataclass
class _Spec:
    name: str
    values: list[Value]
    label: str
    fmt: str
    live: tuple[float, ...] | None
    texts: list[str]

    @property
    def numeric(self) -> bool:
        return not isinstance(self.values[0], str)

    @property
    def integer(self) -> bool:
        return self.numeric and all(isinstance(v, int) for v in self.values) and all(
            float(b).is_integer() for b in (self.live or ()))

    def text(self, value: Value) -> str:
        return self.fmt.format(value)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _spec(name: str, control: object) -> _Spec:
    if not isinstance(control, Control):
        control = Control(control)  # a plain list
    values = control.values
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"control {name!r} needs a list of values, got {type(values).__name__}")
    values = list(values)
    if not values:
        raise ValueError(f"control {name!r} has no values; give at least one")
    if not (all(isinstance(v, str) for v in values) or all(_is_number(v) for v in values)):
        raise TypeError(f"control {name!r} values must be all numbers or all strings, got {values!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"control {name!r} has repeated values: {values!r}")
    label = control.label if control.label is not None else name.replace("_", " ")
    if not isinstance(label, str) or not label.strip():
        raise TypeError(f"control {name!r}: label must be a non-empty string, got {label!r}")
    fmt = control.fmt if control.fmt is not None else ("{}" if isinstance(values[0], str) else "{:g}")
    if not isinstance(fmt, str):
        raise TypeError(f"control {name!r}: fmt must be a format string like '{{:.2f}}', got {fmt!r}")
    try:
        texts = [fmt.format(v) for v in values]
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise ValueError(f"control {name!r}: fmt {fmt!r} cannot format its values ({error})") from None
    live = control.live
    if live is not None:
        if isinstance(values[0], str):
            raise TypeError(f"control {name!r}: live ranges are for numeric controls only")
        if not isinstance(live, tuple) or len(live) not in (2, 3) or not all(_is_number(b) for b in live):
            raise TypeError(f"control {name!r}: live must be (lo, hi) or (lo, hi, step), got {live!r}")
        lo, hi = live[:2]
        if not lo < hi or (len(live) == 3 and not 0 < live[2] <= hi - lo):
            raise ValueError(f"control {name!r}: live range needs lo < hi and 0 < step <= hi - lo, got {live!r}")
        outside = [v for v in values if not lo <= v <= hi]
        if outside:
            raise ValueError(f"control {name!r}: listed values {outside} lie outside live range {live!r}")
    return _Spec(name, values, label, fmt, live, texts)


def _specs(controls: dict[str, object]) -> list[_Spec]:
    if not controls:
        raise ValueError("an explorer needs at least one control, e.g. explorer(render, k=[1, 2, 3])")
    specs = [_spec(name, control) for name, control in controls.items()]
    n_frames = 1
    for spec in specs:
        n_frames *= len(spec.values)
    if n_frames > MAX_FRAMES:
        raise ValueError(f"{n_frames} control combinations exceed MAX_FRAMES={MAX_FRAMES}; "
                         "use fewer values per control")
    return specs


def _declaration_problems(specs: list[_Spec]) -> list[str]:
    """Rule violations visible without rendering."""
    problems = []
    for s in specs:
        if s.numeric and len(s.values) < MIN_NUMERIC_VALUES:
            problems.append(f"numeric control {s.name!r} lists {len(s.values)} values; give at least "
                            f"{MIN_NUMERIC_VALUES} to show a trend, or named string choices")
        if len(set(s.texts)) != len(s.texts):
            problems.append(f"control {s.name!r}: fmt {s.fmt!r} shows different values alike: {s.texts}")
        if "_" in s.label:
            problems.append(f"control {s.name!r}: label {s.label!r} looks like code; use words and units")
    return problems


def _render_checked(render: Renderer, params: dict[str, Value]) -> Figure:
    """Call ``render(**params)`` and check it returned a Figure with at least one Axes."""
    fig = render(**params)
    if not isinstance(fig, Figure):
        raise TypeError(f"render{params} must return a matplotlib Figure, got {type(fig).__name__}")
    if not fig.axes:
        raise ValueError(f"render{params} returned a Figure with no axes")
    return fig


def _png_bytes(fig: Figure, quantize: bool = False) -> bytes:
    """The figure as PNG (then closed); ``quantize`` keeps the smaller of RGB and palette PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    png = buffer.getvalue()
    if not quantize:
        return png
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    palette = image.quantize(colors=PNG_COLORS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return min(png, out.getvalue(), key=len)


def png_width(png: bytes) -> int:
    """Pixel width of a PNG, read from its header."""
    return int.from_bytes(png[16:20], "big")


# --- shared axis limits -------------------------------------------------------------------

def _comparable(ax) -> bool:
    """Axes whose data limits the explorer may share: plain axes without images or colorbars."""
    return ax.name == "rectilinear" and not ax.images and getattr(ax, "_colorbar", None) is None


def _union(intervals: list[tuple[float, float]]) -> tuple[float, float]:
    lo = min(min(i) for i in intervals)
    hi = max(max(i) for i in intervals)
    return lo, hi


def _share_limits(figures: list[Figure]) -> None:
    """Give every autoscaled plain axes the union of its limits over all frames (matched by
    position in ``fig.axes``); axes with explicit limits, images and colorbars are left alone."""
    n_axes = min(len(f.axes) for f in figures)
    for i in range(n_axes):
        axes = [f.axes[i] for f in figures]
        if not all(_comparable(ax) for ax in axes):
            continue
        for get, set_, auto in (("get_xlim", "set_xlim", "get_autoscalex_on"),
                                ("get_ylim", "set_ylim", "get_autoscaley_on")):
            scaled = [ax for ax in axes if getattr(ax, auto)()]
            if len(scaled) < 2:
                continue
            lo, hi = _union([getattr(ax, get)() for ax in scaled])
            for ax in scaled:
                a, b = getattr(ax, get)()
                getattr(ax, set_)((hi, lo) if a > b else (lo, hi))


def _limits(fig: Figure) -> list[list[float] | None]:
    """Per axes: [x0, x1, y0, y1] rounded to 6 significant digits, or None for image axes."""
    return [[float(f"{v:.6g}") for v in (*ax.get_xlim(), *ax.get_ylim())] if _comparable(ax) else None
            for ax in fig.axes]


# --- static explorer ----------------------------------------------------------------------

class StaticExplorer:
    """Pre-rendered frames for every control combination, shown by a small HTML/JS control.

    Attributes: ``frames`` (key -> base64 PNG, key = value indices joined by '-'),
    ``hashes`` (key -> sha256 prefix), ``limits`` (key -> per-axes limits), ``problems``
    (rule violations, raised instead under strict mode), ``sweep`` (live positions drawn).
    """

    _count = 0

    def __init__(self, render: Renderer, specs: list[_Spec], defaults: dict[str, Value], title: str,
                 autoscale: bool = False):
        self.specs, self.defaults, self.title, self.autoscale = specs, defaults, title, autoscale
        self.problems = _declaration_problems(specs)
        figures: dict[str, Figure] = {}
        try:
            for combo in itertools.product(*(s.values for s in specs)):
                params = {s.name: v for s, v in zip(specs, combo)}
                fig = _render_checked(render, params)
                plt.close(fig)  # out of pyplot's registry; the Figure still draws and saves
                if any(fig is other for other in figures.values()):
                    raise ValueError(f"render{params} returned a Figure it returned before; "
                                     "draw a new Figure on every call")
                figures[self.key(params)] = fig
            if not autoscale:
                _share_limits(list(figures.values()))
            self.limits = {k: _limits(f) for k, f in figures.items()}
            pngs = {k: _png_bytes(f, quantize=True) for k, f in figures.items()}
        finally:
            for fig in figures.values():
                plt.close(fig)
        self.hashes = {k: hashlib.sha256(p).hexdigest()[:16] for k, p in pngs.items()}
        self.frames = {k: base64.b64encode(p).decode("ascii") for k, p in pngs.items()}
        self.size = sum(len(p) for p in pngs.values())
        if self.size > MAX_BYTES:
            raise ValueError(f"explorer {title!r} frames take {self.size} bytes > MAX_BYTES={MAX_BYTES}; "
                             "use fewer values or smaller figures")
        self.problems += self._frame_problems()
        self.sweep = self._sweep(render)
        if self.problems and strict_mode():
            raise ValueError(f"explorer {title!r}: " + "; ".join(self.problems))
        StaticExplorer._count += 1
        self.uid = f"mlnotes-explorer-{StaticExplorer._count}"

    def key(self, params: dict[str, Value]) -> str:
        """Frame key: the index of each control's value, joined by '-'."""
        return "-".join(str(s.values.index(params[s.name])) for s in self.specs)

    def position(self, key: str) -> str:
        """A frame key in words: ``label=value, ...``."""
        return ", ".join(f"{s.name}={s.texts[int(i)]}" for s, i in zip(self.specs, key.split("-")))

    def _frame_problems(self) -> list[str]:
        problems = []
        keys = list(self.hashes)
        for c, spec in enumerate(self.specs):
            if len(spec.values) == 1:
                problems.append(f"control {spec.name!r} has one value and changes no frame")
                continue
            groups: dict[tuple, set[str]] = {}
            for k in keys:
                rest = tuple(p for j, p in enumerate(k.split("-")) if j != c)
                groups.setdefault(rest, set()).add(self.hashes[k])
            if all(len(g) == 1 for g in groups.values()):
                problems.append(f"control {spec.name!r} changes no frame")
        first: dict[str, str] = {}
        for k in keys:
            h = self.hashes[k]
            if h in first:
                problems.append(f"frames {self.position(first[h])} and {self.position(k)} are identical")
            else:
                first[h] = k
        if not self.autoscale:
            n_axes = {len(v) for v in self.limits.values()}
            for i in range(min(n_axes)):
                seen = {json.dumps(v[i]) for v in self.limits.values() if v[i] is not None}
                if len(seen) > 1:
                    problems.append(f"axes {i} has different limits across frames (render sets them per "
                                    "frame); fix them in render or pass autoscale=True and say why")
        return problems

    def _sweep(self, render: Renderer) -> int:
        """Render seeded random positions inside the live ranges (not kept); return how many."""
        live = [s for s in self.specs if s.live is not None]
        if not live:
            return 0
        rng = random.Random(hashlib.sha256(self.title.encode()).hexdigest())
        for _ in range(SWEEP_POSITIONS):
            params = {s.name: rng.choice(s.values) for s in self.specs}
            for s in live:
                params[s.name] = _random_live_value(rng, s)
            plt.close(_render_checked(render, params))
        return SWEEP_POSITIONS

    def _control_html(self, c: int, spec: _Spec) -> str:
        name, label = html.escape(spec.name), html.escape(spec.label)
        index = spec.values.index(self.defaults[spec.name])
        text = html.escape(spec.texts[index])
        field_id = f"{self.uid}-c{c}"
        if spec.numeric:
            field = (f'<input type="range" class="mlnotes-input" id="{field_id}" data-control="{name}" '
                     f'min="0" max="{len(spec.values) - 1}" step="1" value="{index}" '
                     f'aria-valuetext="{text}">')
        else:
            options = "".join(f'<option value="{i}"{" selected" if i == index else ""}>{html.escape(t)}</option>'
                              for i, t in enumerate(spec.texts))
            field = f'<select class="mlnotes-input" id="{field_id}" data-control="{name}">{options}</select>'
        return (f'<div class="mlnotes-control"><label class="mlnotes-label" for="{field_id}">{label}</label>'
                f'{field}<output class="mlnotes-readout" for="{field_id}" data-readout="{name}">{text}</output>'
                f'</div>')

    def _meta_html(self) -> str:
        meta = {"autoscale": self.autoscale, "controls": [s.name for s in self.specs],
                "live": [s.name for s in self.specs if s.live is not None],
                "hashes": self.hashes, "limits": self.limits, "problems": self.problems,
                "sweep": self.sweep, "bytes": self.size}
        attributes = " ".join(f'data-{k}="{html.escape(json.dumps(v), quote=True)}"' for k, v in meta.items())
        return f'<div class="mlnotes-explorer-meta" hidden {attributes}></div>'

    def _repr_html_(self) -> str:
        controls = "".join(self._control_html(c, s) for c, s in enumerate(self.specs))
        texts = {s.name: s.texts for s in self.specs}
        labels = {s.name: s.label for s in self.specs}
        start = self.key(self.defaults)
        alt = html.escape(f"{self.title}: " + ", ".join(
            f"{s.label} {s.text(self.defaults[s.name])}" for s in self.specs))
        live = any(s.live for s in self.specs)
        note = ("pre-rendered: every position was computed when the book was built"
                + ("; in a live notebook the sliders are continuous" if live else ""))
        def js(value: object) -> str:  # JSON that cannot close the <script> element
            return json.dumps(value).replace("<", "\\u003c")

        script = f"""
(function() {{
  const root = document.getElementById("{self.uid}");
  const frames = {js(self.frames)};
  const texts = {js(texts)};
  const labels = {js(labels)};
  const names = {js([s.name for s in self.specs])};
  const title = {js(self.title)};
  const img = root.querySelector("img");
  const field = n => root.querySelector('[data-control="' + CSS.escape(n) + '"]');
  function update() {{
    const key = names.map(n => field(n).value).join("-");
    img.src = "data:image/png;base64," + frames[key];
    img.dataset.frame = key;
    const words = [];
    names.forEach(n => {{
      const text = texts[n][Number(field(n).value)];
      root.querySelector('[data-readout="' + CSS.escape(n) + '"]').textContent = text;
      if (field(n).type === "range") field(n).setAttribute("aria-valuetext", text);
      words.push(labels[n] + " " + text);
    }});
    img.alt = title + ": " + words.join(", ");
  }}
  root.querySelectorAll("[data-control]").forEach(el => el.addEventListener("input", update));
}})();"""
        return (f'<div class="mlnotes-explorer" id="{self.uid}" data-frames="{len(self.frames)}">'
                f'<div class="mlnotes-explorer-title"><strong>{html.escape(self.title)}</strong> '
                f'<span class="mlnotes-explorer-note">({note})</span></div>'
                f'<div class="mlnotes-controls">{controls}</div>'
                f'<img class="mlnotes-frame" alt="{alt}" data-frame="{start}" '
                f'src="data:image/png;base64,{self.frames[start]}">'
                f'{self._meta_html()}<script>{script}</script></div>')

    def __repr__(self) -> str:
        return f"StaticExplorer({self.title!r}, {len(self.frames)} frames)"


def _random_live_value(rng: random.Random, spec: _Spec) -> Value:
    lo, hi = spec.live[:2]
    if len(spec.live) == 3:
        step = spec.live[2]
        value = lo + step * rng.randint(0, int((hi - lo) // step))
    else:
        value = rng.uniform(lo, hi)
    return int(round(value)) if spec.integer else float(value)


# --- live explorer ------------------------------------------------------------------------

def _live_widget(spec: _Spec, default: Value, continuous: bool):
    import ipywidgets as widgets

    # a fixed width: inside a row that sizes to its content, "100%" collapses the slider track
    common = {"description": spec.label, "style": {"description_width": "initial"},
              "layout": widgets.Layout(width="30rem", max_width="100%")}
    if not spec.numeric:
        common["layout"] = widgets.Layout(width="auto")
        return widgets.Dropdown(options=list(zip(spec.texts, spec.values)), value=default, **common)
    if spec.live is None:
        return widgets.SelectionSlider(options=list(zip(spec.texts, spec.values)), value=default,
                                       continuous_update=continuous, readout=False, **common)
    lo, hi = spec.live[:2]
    if spec.integer:
        step = int(spec.live[2]) if len(spec.live) == 3 else 1
        return widgets.IntSlider(min=int(lo), max=int(hi), step=step, value=int(default),
                                 continuous_update=continuous, readout=False, **common)
    step = spec.live[2] if len(spec.live) == 3 else (hi - lo) / 200
    return widgets.FloatSlider(min=lo, max=hi, step=step, value=default, continuous_update=continuous,
                               readout=False, **common)


def _live_explorer(render: Renderer, specs: list[_Spec], defaults: dict[str, Value], title: str):
    """An ipywidgets box: a title, one row per control (label, slider, readout), and the
    figure at its natural pixel size, redrawn in the kernel whenever a control moves."""
    import ipywidgets as widgets

    start = time.perf_counter()
    first = _png_bytes(_render_checked(render, dict(defaults)))
    continuous = time.perf_counter() - start < FAST_RENDER_S
    inputs = {s.name: _live_widget(s, defaults[s.name], continuous) for s in specs}
    readouts = {s.name: widgets.Label(s.text(defaults[s.name]), layout=widgets.Layout(flex="0 0 auto", min_width="5em"))
                for s in specs if s.numeric}
    image = widgets.Image(value=first, format="png",
                          layout=widgets.Layout(width=f"{png_width(first)}px", max_width="100%", height="auto"))

    def redraw(change: object = None) -> None:
        for s in specs:
            if s.name in readouts:
                readouts[s.name].value = s.text(inputs[s.name].value)
        png = _png_bytes(_render_checked(render, {n: w.value for n, w in inputs.items()}))
        image.layout.width = f"{png_width(png)}px"
        image.value = png

    for control in inputs.values():
        control.observe(redraw, names="value")
    rows = [widgets.HBox([inputs[s.name]] + ([readouts[s.name]] if s.name in readouts else []),
                         layout=widgets.Layout(align_items="center"))
            for s in specs]
    box = widgets.VBox([widgets.HTML(f"<strong>{html.escape(title)}</strong>"), *rows, image],
                       layout=widgets.Layout(align_items="flex-start"))
    box.add_class("mlnotes-live-explorer")
    box.controls, box.readouts, box.image = inputs, readouts, image  # for tests and readers
    box.continuous = continuous
    return box


@checked(render=arg.callable(), title=arg.text(), defaults=arg.optional(arg.mapping(min_len=0)), autoscale=arg.bool())
def explorer(render: Renderer, title: str = "Explore", defaults: dict[str, Value] | None = None,
             autoscale: bool = False, **controls: Control | Sequence[Value]):
    """An interactive figure: ``render(**params) -> Figure`` driven by one control per keyword.

    Each control is a :class:`Control` or a plain list of values (numbers give a slider,
    strings a dropdown); at most ``MAX_FRAMES`` combinations of listed values in all.
    ``defaults`` picks the starting values (the first listed value otherwise).
    ``autoscale=True`` lets each frame keep its own axis limits (say why beside it).
    Returns an ipywidgets box in a live kernel, a :class:`StaticExplorer` when
    ``MLNOTES_STATIC_EXPLORERS=1``.
    """
    specs = _specs(controls)
    defaults = dict(defaults or {})
    names = [s.name for s in specs]
    unknown = set(defaults) - set(names)
    if unknown:
        raise ValueError(f"defaults name unknown controls {sorted(unknown)}; controls are {names}")
    for s in specs:
        defaults.setdefault(s.name, s.values[0])
        if defaults[s.name] not in s.values:
            raise ValueError(f"default {defaults[s.name]!r} for {s.name!r} is not one of {s.values!r}")
    if static_mode():
        return StaticExplorer(render, specs, defaults, title, autoscale=autoscale)
    return _live_explorer(render, specs, defaults, title)

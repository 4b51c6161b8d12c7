import html as html_lib
import itertools
import json
import re

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

from mlnotes import widgets as mw
from mlnotes.plotting import new_figure
from mlnotes.widgets import Control
from adversarial_examples import Example

AMPS = [1, 2, 3, 4, 5]

ADVERSARIAL = {
    "explorer": Example(lambda k: render(k, "a"), title="t", defaults={"k": 2}, autoscale=False, k=AMPS,
                        accepts={"title": "other-str"}),  # any non-empty title
}
ADVERSARIAL_EXEMPT = {
    "Control": "a declaration record (values, label, fmt, live); explorer() validates each field and "
               "names the control (tests: test_bad_controls_are_rejected)",
}


def render(k, kind):
    """k changes the data range (so limits would differ per frame), kind the curve."""
    fig, ax = new_figure(width=2, height=1.5)
    x = np.linspace(0, 1, 20)
    ax.plot(x, k * (x if kind == "a" else x ** 2), label=kind)
    return fig


@pytest.fixture
def static(monkeypatch):
    """Static mode with rule violations recorded (not raised), so tests can read them."""
    monkeypatch.setenv(mw.STATIC_ENV, "1")
    monkeypatch.setenv(mw.STRICT_ENV, "0")


@pytest.fixture
def strict(static, monkeypatch):
    monkeypatch.setenv(mw.STRICT_ENV, "1")


@pytest.fixture
def live(monkeypatch):
    monkeypatch.delenv(mw.STATIC_ENV, raising=False)


def meta(ex):
    """The data attributes a gate on the built page reads."""
    tag = re.search(r'<div class="mlnotes-explorer-meta" hidden ([^>]*)>', ex._repr_html_()).group(1)
    return {k: json.loads(html_lib.unescape(v)) for k, v in re.findall(r'data-(\w+)="([^"]*)"', tag)}


# --- static frames ----------------------------------------------------------------------

def test_static_explorer_prerenders_every_position(static):
    calls = []

    def counting(k, kind):
        calls.append((k, kind))
        return render(k, kind)

    open_before = set(plt.get_fignums())
    ex = mw.explorer(counting, title="demo", k=AMPS, kind=["a", "b"], defaults={"kind": "b"})
    assert isinstance(ex, mw.StaticExplorer)
    assert sorted(calls) == sorted(itertools.product(AMPS, ["a", "b"]))
    assert len(ex.frames) == 10 and set(plt.get_fignums()) == open_before  # every figure closed
    assert ex.problems == [] and ex.sweep == 0
    page = ex._repr_html_()
    assert 'data-frames="10"' in page and page.count("<input") == 1 and page.count("<select") == 1
    assert 'data-frame="0-1"' in page  # starts at the defaults
    assert "<script>" in page and ex.uid in page


def test_each_control_has_its_own_row_label_and_formatted_readout(static):
    ex = mw.explorer(render, title="demo", defaults={"k": 3},
                     k=Control(AMPS, label="slope k (units)", fmt="{:d} u"), kind=["a", "b"])
    page = ex._repr_html_()
    rows = re.findall(r'<div class="mlnotes-control">(.*?)</div>', page)
    assert len(rows) == 2
    assert '<label class="mlnotes-label" for="' in rows[0] and ">slope k (units)</label>" in rows[0]
    assert ">kind</label>" in rows[1]
    # The readout and the accessible value show the formatted VALUE, never the index.
    assert 'data-readout="k">3 u</output>' in rows[0] and 'aria-valuetext="3 u"' in rows[0]
    assert json.dumps(["1 u", "2 u", "3 u", "4 u", "5 u"]) in page  # what the script shows
    # label `for` points at the control's id: clicking the label focuses the control
    field_id = re.search(r'for="([^"]+)"', rows[0]).group(1)
    assert f'id="{field_id}"' in rows[0]


def test_plain_list_label_is_the_name_with_spaces(static):
    ex = mw.explorer(lambda label_noise: render(label_noise, "a"), label_noise=[1, 2, 3, 4, 5])
    assert ">label noise</label>" in ex._repr_html_() and ex.problems == []


def test_static_explorers_on_one_page_get_distinct_ids(static):
    a = mw.explorer(render, k=AMPS, kind=["a"])
    b = mw.explorer(render, k=AMPS, kind=["a"])
    assert a.uid != b.uid


def test_frames_are_palette_pngs_smaller_than_rgb(static):
    import base64
    import io

    from PIL import Image

    ex = mw.explorer(render, k=AMPS, kind=["a"])
    png = base64.b64decode(ex.frames["0-0"])
    assert Image.open(io.BytesIO(png)).mode == "P"
    assert len(png) < len(mw._png_bytes(render(1, "a")))


# --- shared axis limits -------------------------------------------------------------------

def test_axis_limits_are_shared_across_frames_by_default(static):
    ex = mw.explorer(render, k=AMPS, kind=["a", "b"])
    limits = {json.dumps(v) for v in ex.limits.values()}
    assert len(limits) == 1
    (x0, x1, y0, y1), = json.loads(limits.pop())
    assert y1 >= 5 and y0 <= 0  # the union covers the largest frame (k=5) and the smallest
    assert meta(ex)["limits"] == ex.limits and meta(ex)["autoscale"] is False


def test_autoscale_true_keeps_each_frames_own_limits(static):
    ex = mw.explorer(lambda k: render(k, "a"), k=AMPS, autoscale=True)
    tops = [v[0][3] for v in ex.limits.values()]
    assert len(set(tops)) == 5 and tops == sorted(tops)
    assert ex.problems == []


def test_explicit_per_frame_limits_are_a_problem_unless_autoscale(static):
    def fixed(k):
        fig = render(k, "a")
        fig.axes[0].set_ylim(0, k)
        return fig

    ex = mw.explorer(fixed, k=AMPS)
    assert any("different limits" in p for p in ex.problems)
    assert mw.explorer(fixed, k=AMPS, autoscale=True).problems == []


def test_image_axes_and_explicit_limits_are_left_alone(static):
    def picture(k):
        fig, (img_ax, line_ax) = new_figure(ncols=2, width=3, height=1.5)
        img_ax.imshow(np.arange(k * k).reshape(k, k))
        line_ax.plot([0, 1], [0, k])
        line_ax.set_xlim(-1, 2)
        return fig

    ex = mw.explorer(picture, k=AMPS)
    assert all(v[0] is None for v in ex.limits.values())  # image axes: not compared
    assert {tuple(v[1][:2]) for v in ex.limits.values()} == {(-1, 2)}  # explicit x kept
    assert len({v[1][3] for v in ex.limits.values()}) == 1  # autoscaled y shared
    assert ex.problems == []


# --- build rules --------------------------------------------------------------------------

def test_identical_frames_are_recorded_with_both_positions(static):
    def flat(k, kind):
        return render(1 if k < 3 else k, kind)

    ex = mw.explorer(flat, k=AMPS, kind=["a", "b"])
    assert "frames k=1, kind=a and k=2, kind=a are identical" in ex.problems
    assert json.dumps(ex.problems) == json.dumps(meta(ex)["problems"])
    assert len(set(meta(ex)["hashes"].values())) == 8  # 10 frames, k=1 and k=2 alike twice


def test_identical_frames_raise_under_strict_mode(strict):
    with pytest.raises(ValueError, match=r"k=1, kind=a and k=2, kind=a are identical"):
        mw.explorer(lambda k, kind: render(1 if k < 3 else k, kind), k=AMPS, kind=["a", "b"])


def test_a_control_that_changes_no_frame_is_an_error_under_strict_mode(strict):
    with pytest.raises(ValueError, match="control 'unused' changes no frame"):
        mw.explorer(lambda k, unused: render(k, "a"), k=AMPS, unused=["x", "y"])
    with pytest.raises(ValueError, match="one value"):
        mw.explorer(lambda k, unused: render(k, "a"), k=AMPS, unused=["x"])


def test_numeric_controls_need_five_values(static, monkeypatch):
    ex = mw.explorer(render, k=[1, 2, 3, 4], kind=["a", "b"])
    assert any("lists 4 values" in p for p in ex.problems)
    monkeypatch.setenv(mw.STRICT_ENV, "1")
    with pytest.raises(ValueError, match="lists 4 values"):
        mw.explorer(render, k=[1, 2, 3, 4], kind=["a", "b"])
    mw.explorer(render, k=AMPS, kind=["a", "b"])  # five are enough; two strings are fine


@pytest.mark.parametrize("control, message", [
    (Control(AMPS, label="slope_k"), "looks like code"),
    (Control([0.1, 0.11, 0.12, 0.2, 0.3], fmt="{:.1f}"), "shows different values alike"),
])
def test_label_and_readout_rules(strict, control, message):
    with pytest.raises(ValueError, match=message):
        mw.explorer(lambda k: render(k * 10, "a"), k=control)


def test_rules_are_strict_by_default(monkeypatch):
    monkeypatch.setenv(mw.STATIC_ENV, "1")
    monkeypatch.delenv(mw.STRICT_ENV, raising=False)
    assert mw.STRICT_DEFAULT == "1" and mw.strict_mode()
    with pytest.raises(ValueError, match="lists 4 values"):
        mw.explorer(render, k=[1, 2, 3, 4], kind=["a", "b"])


# --- sweep of live ranges -----------------------------------------------------------------

def test_sweep_renders_seeded_random_positions_inside_the_live_range(static):
    calls = []

    def counting(k, kind):
        calls.append((k, kind))
        return render(k, kind)

    ex = mw.explorer(counting, title="sweep", k=Control([1.0, 2.0, 3.0, 4.0, 5.0], live=(0.5, 6.0)),
                     kind=["a", "b"])
    swept = calls[10:]
    assert ex.sweep == mw.SWEEP_POSITIONS == len(swept) and meta(ex)["sweep"] == len(swept)
    assert all(0.5 <= k <= 6.0 and k not in (1, 2, 3, 4, 5) for k, _ in swept)
    calls.clear()
    mw.explorer(counting, title="sweep", k=Control([1.0, 2.0, 3.0, 4.0, 5.0], live=(0.5, 6.0)),
                kind=["a", "b"])
    assert calls[10:] == swept  # seeded: the build is deterministic


def test_sweep_respects_integer_steps(static):
    seen = []

    def counting(k):
        seen.append(k)
        return render(k, "a")

    mw.explorer(counting, k=Control([2, 4, 6, 8, 10], live=(2, 40, 2)))
    assert all(isinstance(k, int) and k % 2 == 0 and 2 <= k <= 40 for k in seen)


def test_sweep_failure_surfaces(static):
    def fragile(k):
        if k not in (1, 2, 3, 4, 5):
            raise RuntimeError(f"cannot draw k={k}")
        return render(k, "a")

    with pytest.raises(RuntimeError, match="cannot draw"):
        mw.explorer(fragile, k=Control(AMPS, live=(1, 50)))


# --- live kernel --------------------------------------------------------------------------

def test_live_explorer_is_a_real_widget_and_every_position_draws(live):
    calls = []

    def counting(k, kind):
        calls.append((k, kind))
        return render(k, kind)

    open_before = set(plt.get_fignums())
    box = mw.explorer(counting, title="demo", k=Control(AMPS, label="slope k", fmt="{:d}"), kind=["a", "b"])
    assert isinstance(box, widgets.VBox)
    slider, dropdown = box.controls["k"], box.controls["kind"]
    assert isinstance(slider, widgets.SelectionSlider) and isinstance(dropdown, widgets.Dropdown)
    # The slider's options are (shown text, value): the reader sees values, not indices.
    assert slider.options == tuple(("%d" % k, k) for k in AMPS)
    assert slider.description == "slope k" and slider.style.description_width == "initial"
    image = box.image
    assert isinstance(image, widgets.Image) and bytes(image.value).startswith(b"\x89PNG")
    for k, kind in itertools.product([3, 1, 5], ["b", "a"]):
        before = len(calls)
        slider.value, dropdown.value = k, kind
        assert calls[-1] == (k, kind) and len(calls) > before
        assert box.readouts["k"].value == str(k)
    assert set(plt.get_fignums()) == open_before


def test_live_image_is_shown_at_its_natural_size(live):
    box = mw.explorer(render, k=AMPS, kind=["a"])
    width = mw.png_width(bytes(box.image.value))
    assert width == 2 * plt.rcParams["savefig.dpi"]  # a 2-inch figure
    assert box.image.layout.width == f"{width}px" and box.image.layout.max_width == "100%"
    assert box.layout.align_items == "flex-start"  # the VBox does not stretch it


def test_live_range_gives_a_continuous_slider(live):
    box = mw.explorer(render, k=Control([1.0, 2.0, 3.0, 4.0, 5.0], live=(0.5, 6.0), fmt="{:.2f}"),
                      kind=["a"])
    slider = box.controls["k"]
    assert isinstance(slider, widgets.FloatSlider) and (slider.min, slider.max) == (0.5, 6.0)
    slider.value = 2.345
    assert box.readouts["k"].value == f"{slider.value:.2f}"
    ints = mw.explorer(render, k=Control(AMPS, live=(1, 50, 1)), kind=["a"]).controls["k"]
    assert isinstance(ints, widgets.IntSlider) and (ints.min, ints.max, ints.step) == (1, 50, 1)


def test_continuous_update_only_when_rendering_is_fast(live, monkeypatch):
    monkeypatch.setattr(mw, "FAST_RENDER_S", 60.0)  # any render is "fast" (the machine may be loaded)
    assert mw.explorer(render, k=Control(AMPS, live=(1, 9)), kind=["a"]).controls["k"].continuous_update
    monkeypatch.setattr(mw, "FAST_RENDER_S", 0.0)
    box = mw.explorer(render, k=Control(AMPS, live=(1, 9)), kind=["a"])
    assert not box.continuous and not box.controls["k"].continuous_update


# --- bad declarations ---------------------------------------------------------------------

def test_render_errors_surface(static):
    def broken(k):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        mw.explorer(broken, k=AMPS)


@pytest.mark.parametrize("bad_render, error", [(lambda k: "not a figure", TypeError),
                                               (lambda k: plt.figure(), ValueError)])
def test_render_must_return_a_figure_with_axes(static, bad_render, error):
    with pytest.raises(error, match="render"):
        mw.explorer(bad_render, k=AMPS)
    plt.close("all")


def test_render_must_return_a_new_figure_each_time(static):
    fig = render(1, "a")
    with pytest.raises(ValueError, match="new Figure"):
        mw.explorer(lambda k: fig, k=AMPS)
    plt.close("all")


@pytest.mark.parametrize("kwargs, error, message", [
    ({}, ValueError, "at least one control"),
    ({"k": 3}, TypeError, "list of values"),
    ({"k": "abc"}, TypeError, "list of values"),
    ({"k": []}, ValueError, "no values"),
    ({"k": [1, "a"]}, TypeError, "all numbers or all strings"),
    ({"k": [True, False]}, TypeError, "all numbers or all strings"),
    ({"k": [1, 1]}, ValueError, "repeated"),
    ({"k": list(range(10)), "j": list(range(10))}, ValueError, "MAX_FRAMES"),
    ({"k": AMPS, "defaults": {"k": 9}}, ValueError, "not one of"),
    ({"k": AMPS, "defaults": {"q": 1}}, ValueError, "unknown controls"),
    ({"k": AMPS, "autoscale": "yes"}, TypeError, "autoscale"),
    ({"k": Control(AMPS, label="")}, TypeError, "label"),
    ({"k": Control(AMPS, fmt=3)}, TypeError, "fmt"),
    ({"k": Control([1.5, 2.5], fmt="{:d}")}, ValueError, "cannot format"),
    ({"k": Control(["a", "b"], live=(0, 1))}, TypeError, "numeric controls only"),
    ({"k": Control(AMPS, live=(1,))}, TypeError, "live must be"),
    ({"k": Control(AMPS, live=(5, 1))}, ValueError, "lo < hi"),
    ({"k": Control(AMPS, live=(1, 5, 0))}, ValueError, "step"),
    ({"k": Control(AMPS, live=(2, 5))}, ValueError, "outside live range"),
])
def test_bad_controls_are_rejected(static, kwargs, error, message):
    with pytest.raises(error, match=message):
        mw.explorer(render, **kwargs)


def test_bad_render_and_title_are_rejected(static):
    with pytest.raises(TypeError, match="callable"):
        mw.explorer("render", k=AMPS)
    with pytest.raises(ValueError, match="title must be a str of at least 1 characters"):
        mw.explorer(render, title="", k=AMPS)


def test_oversized_frames_are_rejected(static, monkeypatch):
    monkeypatch.setattr(mw, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match="MAX_BYTES"):
        mw.explorer(render, k=AMPS, kind=["a"])


def test_static_html_has_no_unescaped_labels(static):
    ex = mw.explorer(lambda k, kind: render(k, "a" if kind == "<x>" else "b"), title="<b>t</b>",
                     k=AMPS, kind=Control(["<x>", "y"], label="<i>kind</i>"))
    page = ex._repr_html_()
    assert "<b>t</b>" not in page and "<i>kind</i>" not in page and "&lt;x&gt;" in page
    assert not re.search(r"<option[^>]*><x>", page)


def test_render_checked_direct():
    fig = mw._render_checked(render, {"k": 2, "kind": "a"})
    assert fig.axes
    plt.close(fig)
    with pytest.raises(TypeError, match="unexpected keyword"):
        mw._render_checked(render, {"q": 1})


def test_many_frames_open_no_figure_warning(static):
    # pytest turns warnings into errors: holding 25 frames must not trip max_open_warning
    ex = mw.explorer(lambda k, j: render(k + 10 * j, "a"), k=AMPS, j=[0, 1, 2, 3, 4])
    assert len(ex.frames) == 25 > plt.rcParams["figure.max_open_warning"]

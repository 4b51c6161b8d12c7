import itertools
import re

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from mlnotes import widgets as mw
from mlnotes.plotting import new_figure


def render(k, kind):
    fig, ax = new_figure(width=2, height=1.5)
    ax.plot(range(k), label=kind)
    return fig


@pytest.fixture
def static(monkeypatch):
    monkeypatch.setenv(mw.STATIC_ENV, "1")


def test_static_explorer_prerenders_every_position(static):
    calls = []

    def counting(k, kind):
        calls.append((k, kind))
        return render(k, kind)

    open_before = set(plt.get_fignums())
    ex = mw.explorer(counting, title="demo", k=[1, 2, 3], kind=["a", "b"], defaults={"kind": "b"})
    assert isinstance(ex, mw.StaticExplorer)
    assert sorted(calls) == sorted(itertools.product([1, 2, 3], ["a", "b"]))
    assert len(ex.frames) == 6 and set(plt.get_fignums()) == open_before  # every frame's figure closed
    html = ex._repr_html_()
    assert 'data-frames="6"' in html and html.count("<input") == 1 and html.count("<select") == 1
    assert 'data-frame="0-1"' in html  # starts at the defaults
    assert "<script>" in html and ex.uid in html


def test_static_explorers_on_one_page_get_distinct_ids(static):
    a = mw.explorer(render, k=[1], kind=["a"])
    b = mw.explorer(render, k=[1], kind=["a"])
    assert a.uid != b.uid


def test_live_explorer_is_a_real_widget_and_every_position_draws(monkeypatch):
    monkeypatch.delenv(mw.STATIC_ENV, raising=False)
    calls = []

    def counting(k, kind):
        calls.append((k, kind))
        return render(k, kind)

    open_before = set(plt.get_fignums())
    box = mw.explorer(counting, title="demo", k=[1, 2, 3], kind=["a", "b"])
    assert isinstance(box, widgets.VBox)
    slider, dropdown = box.controls["k"], box.controls["kind"]
    assert isinstance(slider, widgets.SelectionSlider) and isinstance(dropdown, widgets.Dropdown)
    image = box.children[-1]
    assert isinstance(image, widgets.Image) and bytes(image.value).startswith(b"\x89PNG")
    for k, kind in itertools.product([3, 1, 2], ["b", "a"]):
        before = len(calls)
        slider.value, dropdown.value = k, kind
        assert calls[-1] == (k, kind) and len(calls) > before
        assert bytes(image.value).startswith(b"\x89PNG")
    assert set(plt.get_fignums()) == open_before


def test_render_errors_surface(static):
    def broken(k):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        mw.explorer(broken, k=[1, 2])


@pytest.mark.parametrize("bad_render, error", [(lambda k: "not a figure", TypeError),
                                               (lambda k: plt.figure(), ValueError)])
def test_render_must_return_a_figure_with_axes(static, bad_render, error):
    with pytest.raises(error, match="render"):
        mw.explorer(bad_render, k=[1, 2])
    plt.close("all")


@pytest.mark.parametrize("kwargs, error, message", [
    ({}, ValueError, "at least one control"),
    ({"k": 3}, TypeError, "list of values"),
    ({"k": "abc"}, TypeError, "list of values"),
    ({"k": []}, ValueError, "no values"),
    ({"k": [1, "a"]}, TypeError, "all numbers or all strings"),
    ({"k": [True, False]}, TypeError, "all numbers or all strings"),
    ({"k": [1, 1]}, ValueError, "repeated"),
    ({"k": list(range(9)), "j": list(range(9))}, ValueError, "MAX_FRAMES"),
    ({"k": [1, 2], "defaults": {"k": 5}}, ValueError, "not one of"),
    ({"k": [1, 2], "defaults": {"q": 1}}, ValueError, "unknown controls"),
])
def test_bad_controls_are_rejected(static, kwargs, error, message):
    with pytest.raises(error, match=message):
        mw.explorer(render, **kwargs)


def test_bad_render_and_title_are_rejected(static):
    with pytest.raises(TypeError, match="callable"):
        mw.explorer("render", k=[1])
    with pytest.raises(TypeError, match="title"):
        mw.explorer(render, title="", k=[1])


def test_oversized_frames_are_rejected(static, monkeypatch):
    monkeypatch.setattr(mw, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match="MAX_BYTES"):
        mw.explorer(render, k=[1, 2], kind=["a"])


def test_static_html_has_no_unescaped_labels(static):
    ex = mw.explorer(render, title="<b>t</b>", k=[1], kind=["<x>"])
    html = ex._repr_html_()
    assert "<b>t</b>" not in html and "&lt;x&gt;" in html
    assert not re.search(r"<option[^>]*><x>", html)


def test_render_checked_direct():
    fig = mw.render_checked(render, {"k": 2, "kind": "a"})
    assert fig.axes
    plt.close(fig)
    with pytest.raises(TypeError, match="unexpected keyword"):
        mw.render_checked(render, {"q": 1})

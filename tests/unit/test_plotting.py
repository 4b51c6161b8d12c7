import matplotlib as mpl
import matplotlib.colors as mcolors
import numpy as np
import pytest

from mlnotes.plotting import COLORS, PALETTE, new_figure, style_cycle, use_book_style


def test_style_is_applied_and_idempotent():
    use_book_style()
    use_book_style()
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == COLORS
    assert mpl.rcParams["savefig.facecolor"] == "white"


def test_palette_colours_are_distinct_under_greyscale_and_valid():
    # Lines also differ in print: the first four colours have distinct luminance.
    lum = [np.dot(mcolors.to_rgb(c), [0.299, 0.587, 0.114]) for c in COLORS[:4]]
    assert min(abs(a - b) for i, a in enumerate(lum) for b in lum[i + 1:]) > 0.05
    assert all(mcolors.is_color_like(c) for c in PALETTE.values())


def test_new_figure_shapes():
    fig, axes = new_figure(ncols=3, nrows=2, width=8, height=4)
    assert axes.shape == (2, 3)
    assert tuple(fig.get_size_inches()) == (8, 4)


def test_style_cycle_pairs_colour_and_dash():
    styles = style_cycle(9)
    assert len(styles) == 9 and styles[0] != styles[1]
    assert style_cycle(0) == []


@pytest.mark.parametrize("kwargs, error", [({"ncols": 0}, ValueError), ({"nrows": 9}, ValueError),
                                           ({"ncols": 1.5}, TypeError), ({"width": 0}, ValueError),
                                           ({"height": 50}, ValueError)])
def test_new_figure_rejects_bad_layouts(kwargs, error):
    with pytest.raises(error):
        new_figure(**kwargs)


@pytest.mark.parametrize("n", [-1, 2.0, True])
def test_style_cycle_rejects_bad_counts(n):
    with pytest.raises(ValueError, match="non-negative int"):
        style_cycle(n)


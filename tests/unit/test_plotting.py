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


@pytest.mark.parametrize("n, error", [(-1, ValueError), (2.0, TypeError), (True, TypeError)])
def test_style_cycle_rejects_bad_counts(n, error):
    with pytest.raises(error, match="n must"):
        style_cycle(n)



# --- style: images without grid, log axes in powers of ten, mathtext ------------------------
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from adversarial_examples import Example  # noqa: E402
from mlnotes.plotting import log_limits, plot_decision_boundary, tile_images  # noqa: E402

X2 = np.array([[0.0, 0.0], [1.0, 0.2], [0.1, 1.0], [1.2, 1.1], [2.0, 2.0], [2.2, 1.6]])
Y2 = np.array([0, 0, 0, 1, 1, 1])

ADVERSARIAL = {
    "new_figure": Example(ncols=1, nrows=1, width=2.0, height=2.0),
    "style_cycle": Example(n=3, accepts={"n": "0"}),  # zero styles: an empty list
    "plot_decision_boundary": Example(ax=None, model=lambda P: P[:, 0] - 1, X=X2, y=Y2, kind="score", grid=5,
                                      margin=0.5, fresh=lambda: {"ax": plt.subplots()[1]},
                                      accepts={"margin": "0", "y": "-1 0 nan-array"}),  # labels: any values
    "tile_images": Example(images=np.ones((3, 4)), ncols=2, side=2, pad=1, fill=0.0,
                           accepts={"pad": "0", "fill": "-1 0 nan inf", "images": "nan-array inf-array"}),
    "log_limits": Example(ax=None, fresh=lambda: {"ax": plt.subplots()[1]}, values=np.array([0.0, 1e-3, 5.0]),
                          axis="y", pad=1.5, accepts={"values": "nan-array inf-array ndim"}),  # any shape; non-positive, NaN, inf dropped
}


def _labels(ax, which="y", minor=False):
    ax.figure.canvas.draw()
    ticks = getattr(ax, f"get_{which}ticklabels")(minor=minor)
    return [t.get_text() for t in ticks if t.get_text()]


def test_image_axes_have_no_grid_but_plots_keep_it():
    use_book_style()
    use_book_style()  # wrapping twice must not stack
    fig, (a, b, c) = plt.subplots(1, 3)
    a.imshow(np.eye(3))
    b.pcolormesh(np.eye(3))
    c.plot([0, 1])
    fig.canvas.draw()
    assert not any(line.get_visible() for line in a.get_xgridlines() + a.get_ygridlines())
    assert not any(line.get_visible() for line in b.get_xgridlines())
    assert all(line.get_visible() for line in c.get_ygridlines())
    plt.close(fig)


def test_log_axes_label_decades_as_powers_of_ten():
    use_book_style()
    fig, ax = plt.subplots()
    ax.semilogy([1e-3, 1.0, 1e3])
    assert _labels(ax) and all(t.startswith("$\\mathdefault{10^{") for t in _labels(ax))
    assert _labels(ax, minor=True) == []  # no 2x10^1-style clutter over several decades
    ax.set_ylim(20, 80)  # less than one decade: plain in-between labels, no "x10"
    minor = _labels(ax, minor=True)
    assert minor and all(t.isdigit() for t in minor)
    ax.set_ylim(0.06, 0.35)  # small values: "0.2", not "2e-01"
    assert "0.2" in _labels(ax, minor=True) and not any("e" in t for t in _labels(ax, minor=True))
    ax.set_ylim(15000, 40000)  # large values: "20000", not "2x10^4"
    assert "20000" in _labels(ax, minor=True) and not any("10^" in t for t in _labels(ax, minor=True))
    plt.close(fig)


def test_scalar_offsets_use_mathtext():
    use_book_style()
    assert mpl.rcParams["axes.formatter.use_mathtext"]
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1e6, 2e6])
    fig.canvas.draw()
    assert "times" in ax.yaxis.get_offset_text().get_text()
    plt.close(fig)


def test_log_limits_ignore_zeros_and_overflow():
    fig, ax = plt.subplots()
    lo, hi = log_limits(ax, np.array([0.0, 1e-4, 3e-2, np.inf, -1.0]), pad=2.0)
    assert ax.get_yscale() == "log" and (lo, hi) == pytest.approx((5e-5, 6e-2))
    assert ax.get_ylim() == pytest.approx((5e-5, 6e-2))
    with pytest.raises(ValueError, match="positive"):
        log_limits(ax, np.array([0.0, -1.0]))
    plt.close(fig)


# --- one decision-boundary helper ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["score", "label", "proba"])
def test_decision_boundary_uses_the_models_own_method(kind):
    model = LogisticRegression().fit(X2, Y2)
    fig, ax = plt.subplots()
    assert plot_decision_boundary(ax, model, X2, Y2, kind=kind, grid=40) is ax
    filled = [c for c in ax.collections if hasattr(c, "levels")]
    shaded = filled[0]
    if kind == "label":
        assert len(shaded.levels) == 3  # two classes: one band each
    else:
        assert len(filled) == 2  # shading and the boundary line
        boundary = filled[1].levels
        assert list(boundary) == [0.0 if kind == "score" else 0.5]
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["class 0", "class 1"]
    assert ax.get_xlim() == pytest.approx((X2[:, 0].min() - 0.5, X2[:, 0].max() + 0.5))
    assert not any(line.get_visible() for line in ax.get_xgridlines())
    plt.close(fig)


def test_decision_boundary_matches_a_direct_evaluation():
    # The shaded field must be the score itself: compare the contour's data range with
    # an independent evaluation of the same function on the corners of the grid.
    def score(P):
        return P[:, 0] + 2 * P[:, 1] - 2

    fig, ax = plt.subplots()
    plot_decision_boundary(ax, score, X2, Y2, kind="score", grid=30, margin=0.0)
    corners = np.array([[0.0, 0.0], [2.2, 2.0]])
    extreme = np.abs(score(corners)).max()
    shaded = ax.collections[0]
    assert shaded.levels.max() == pytest.approx(extreme)
    plt.close(fig)


def test_decision_boundary_rejects_models_without_the_method():
    fig, ax = plt.subplots()
    with pytest.raises(TypeError, match="model"):
        plot_decision_boundary(ax, object(), X2, Y2, kind="proba")
    with pytest.raises(ValueError, match="kind"):
        plot_decision_boundary(ax, lambda P: P[:, 0], X2, Y2, kind="margin")
    plt.close(fig)


def test_tile_images_layout():
    images = np.arange(5 * 4, dtype=float).reshape(5, 4)  # five 2x2 images
    canvas = tile_images(images, ncols=3, side=2, pad=1)
    assert canvas.shape == (2 * 3 - 1, 3 * 3 - 1)
    np.testing.assert_array_equal(canvas[0:2, 3:5], images[1].reshape(2, 2))
    np.testing.assert_array_equal(canvas[3:5, 3:5], images[4].reshape(2, 2))
    assert np.isnan(canvas[2]).all() and np.isnan(canvas[3:5, 6:8]).all()  # pad and empty slot

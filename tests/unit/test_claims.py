"""mlnotes.claims: glued text reaches myst-nb's glue (or nothing, without myst-nb); spread's
mean, sample standard deviation and extremes match numpy."""

import builtins
import sys

import numpy as np
import pytest

from mlnotes import claims
from mlnotes.claims import glue, spread


def test_glue_registers_the_formatted_text_with_myst_nb(monkeypatch):
    calls = []
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda *args, **kw: calls.append((args, kw)))
    text = glue("ratio", 1.98765, "{:.2f}")
    assert text == "1.99" and calls == [(("ratio", "1.99"), {"display": False})]
    assert type(calls[0][0][1]) is str  # myst-nb stores the plain string's repr


def test_glue_without_myst_nb_is_a_quiet_no_op(monkeypatch):
    real_import = builtins.__import__

    def no_myst_nb(name, *args, **kwargs):
        if name.startswith("myst_nb"):
            raise ImportError("no myst_nb here (Colab)")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "myst_nb", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_myst_nb)
    assert glue("share", 0.3125, "{:.1%}") == "31.2%"


def test_glue_text_displays_nothing_as_a_cells_last_expression():
    from IPython.core.formatters import format_display_data

    text = claims.Glued("0.31")
    assert text._ipython_display_() is None and text + "" == "0.31" and f"{text}" == "0.31"
    assert format_display_data(text)[0] == {}  # IPython calls _ipython_display_ instead


def test_glue_in_a_kernel_records_a_hidden_output():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    with capture_output() as captured:
        glue("rmse", np.float64(0.123456), "{:.3f}")
    (output,) = captured.outputs
    assert output.metadata["scrapbook"]["name"] == "rmse"
    assert output.data == {"application/papermill.record/text/plain": "'0.123'"}


def test_glue_rejects_bad_names_and_formats():
    with pytest.raises(TypeError, match="name"):
        glue("", 1.0)
    with pytest.raises(TypeError, match="fmt"):
        glue("x", 1.0, fmt=2)
    with pytest.raises(ValueError):
        glue("x", "text", "{:.2f}")  # a string formatted as a number


def test_spread_matches_numpy():
    values = [0.281, 0.30, 0.312, 0.325, 0.342]
    x = np.array(values)
    expected = (f"{x.mean():.3f} ± {x.std(ddof=1):.3f} (5 seeds, min 0.281, max 0.342)")
    assert spread(values) == expected
    assert spread(np.array([1.0, 3.0]), "{:.1f}", unit="splits") == "2.0 ± 1.4 (2 splits, min 1.0, max 3.0)"


@pytest.mark.parametrize("bad, error", [([0.5], ValueError), ([], ValueError), ([1.0, np.nan], ValueError),
                                        ([[1.0, 2.0]], ValueError), ("0.5", TypeError)])
def test_spread_rejects_what_is_not_a_set_of_measurements(bad, error):
    with pytest.raises(error, match="values"):
        spread(bad)

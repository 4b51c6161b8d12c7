"""mlnotes.claims: glued text reaches myst-nb's glue (or nothing, without myst-nb); spread's
mean, sample standard deviation and extremes match numpy."""

import numpy as np
import pytest
from adversarial_examples import Example

from mlnotes import claims
from mlnotes.claims import glue, spread

ADVERSARIAL = {
    # value: -1 and 0 are values like any other; a bool formats as 1.00 (harmless text).
    # name and unit: any word is a valid key or unit.
    "glue": Example("key", 0.5, "{:.2f}", accepts={"name": "other-str", "value": "-1 0 bool"}),
    "spread": Example([0.1, 0.2, 0.3], "{:.2f}", "splits", accepts={"unit": "other-str"}),
}


def _captured(call):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    with capture_output() as captured:
        result = call()
    return result, captured.outputs


def test_glue_records_exactly_what_myst_nb_glue_records():
    from myst_nb import glue as myst_glue
    from myst_nb.ext.glue import GLUE_PREFIX

    assert claims.GLUE_PREFIX == GLUE_PREFIX
    text, ours = _captured(lambda: glue("ratio", 1.98765, "{:.2f}"))
    _, theirs = _captured(lambda: myst_glue("ratio", "1.99", display=False))
    assert text == "1.99" and type(text) is claims.Glued
    assert [(o.data, o.metadata) for o in ours] == [(o.data, o.metadata) for o in theirs]
    assert ours[0].data == {"application/papermill.record/text/plain": "'1.99'"}


def test_glue_without_myst_nb_is_a_quiet_no_op(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "myst_nb" else real_find_spec(name, *a))
    text, outputs = _captured(lambda: glue("share", 0.3125, "{:.1%}"))
    assert text == "31.2%" and outputs == []


def test_glue_outside_ipython_records_nothing(capsys):
    assert glue("plain", 2.5, "{:.1f}") == "2.5" and capsys.readouterr().out == ""


def test_glue_text_displays_nothing_as_a_cells_last_expression():
    from IPython.core.formatters import format_display_data

    text = claims.Glued("0.31")
    assert text._ipython_display_() is None and text + "" == "0.31" and f"{text}" == "0.31"
    assert format_display_data(text)[0] == {}  # IPython calls _ipython_display_ instead


def test_glue_rejects_bad_names_and_formats():
    with pytest.raises(ValueError, match="name must be a str of at least 1 characters"):
        glue("", 1.0)
    with pytest.raises(TypeError, match="fmt"):
        glue("x", 1.0, fmt=2)
    with pytest.raises(TypeError, match="value 'text' cannot be formatted by fmt"):
        glue("x", "text", "{:.2f}")  # a string formatted as a number
    with pytest.raises(ValueError, match="fmt must contain '{'"):
        glue("x", 1.0, "1.00")  # constant text: nothing computed reaches the page
    with pytest.raises(ValueError, match="value must be finite"):
        glue("x", np.nan, "{:.2f}")
    assert glue("pair", (0.31, 0.02), "{0[0]:.2f} ± {0[1]:.2f}") == "0.31 ± 0.02"


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

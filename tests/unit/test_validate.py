"""Tests for mlnotes.validate: each validator rejects bad input and accepts edge input."""

import numpy as np
import pytest

from mlnotes.validate import as_numeric_array, check_int, check_positive


def test_check_int_edges():
    assert check_int("n", 0, 0) == 0 and check_int("n", 5, 1, 5) == 5
    value = check_int("n", np.int64(3))
    assert value == 3 and type(value) is int
    assert check_int("n", -7) == -7  # no bounds given


@pytest.mark.parametrize("value, low, high, error, match", [
    (True, None, None, TypeError, "n must be an int, got bool"),
    (2.0, None, None, TypeError, "n must be an int, got float"),
    ("3", None, None, TypeError, "n must be an int, got str"),
    (0, 1, None, ValueError, "n must be >= 1, got 0"),
    (6, 1, 5, ValueError, "n must be <= 5, got 6"),
])
def test_check_int_bad_input(value, low, high, error, match):
    with pytest.raises(error, match=match):
        check_int("n", value, low, high)


def test_check_positive_edges():
    assert check_positive("lr", 1e-300) == 1e-300
    assert check_positive("lam", 0, allow_zero=True) == 0.0
    assert type(check_positive("lr", np.float32(0.5))) is float


@pytest.mark.parametrize("value, allow_zero, error, match", [
    (True, False, TypeError, "lr must be a real number, got bool"),
    ("1", False, TypeError, "lr must be a real number, got str"),
    (None, True, TypeError, "real number"),
    (0.0, False, ValueError, "lr must be a finite number > 0, got 0.0"),
    (-1.0, True, ValueError, "lr must be a finite number >= 0, got -1.0"),
    (float("nan"), True, ValueError, ">= 0, got nan"),
    (float("inf"), False, ValueError, "> 0, got inf"),
])
def test_check_positive_bad_input(value, allow_zero, error, match):
    with pytest.raises(error, match=match):
        check_positive("lr", value, allow_zero)


def test_as_numeric_array_edges():
    X = as_numeric_array([[1, 2]], "X", 2, n_cols=2)
    assert X.dtype == np.float64 and X.shape == (1, 2)
    assert as_numeric_array(np.array(True), "x").dtype == np.float64  # 0-d bool counts as numeric
    ints = as_numeric_array(np.arange(4).reshape(1, 1, 2, 2), "x", min_ndim=4, dtype=None)
    assert ints.dtype == np.arange(1).dtype
    assert np.isnan(as_numeric_array([np.nan], "x", finite=False)[0])


@pytest.mark.parametrize("x, kwargs, error, match", [
    (["a"], {}, TypeError, "x must be a numeric array, got dtype <U1"),
    ([None], {}, TypeError, "numeric array, got dtype object"),
    ([], {}, ValueError, "x must be non-empty"),
    ([1.0], dict(ndim=2), ValueError, r"x must be a non-empty 2-D array, got shape \(1,\)"),
    (np.ones((0, 3)), dict(ndim=2), ValueError, "non-empty 2-D"),
    (np.ones((2, 2)), dict(min_ndim=4), ValueError, "at least 4 non-empty axes"),
    (np.ones((2, 3)), dict(ndim=2, n_cols=2), ValueError, r"x must have 2 columns, got shape \(2, 3\)"),
    (5.0, dict(n_cols=1), ValueError, "1 columns"),
    ([1.0, np.nan], {}, ValueError, r"x must be finite \(no NaN or inf\)"),
    ([np.inf], dict(ndim=1), ValueError, "finite"),
])
def test_as_numeric_array_bad_input(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        as_numeric_array(x, "x", **kwargs)

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


# ----------------------------------------------------------------------------- the stronger rules
import math  # noqa: E402

import torch  # noqa: E402

from mlnotes.validate import (check_array, check_axes, check_bool, check_callable, check_choice,  # noqa: E402
                              check_count, check_module, check_probability, check_real, check_same_length,
                              check_seed, check_tensor)


def test_check_count_bounds_and_bool():
    assert check_count("n", 1) == 1 and check_count("n", 0, low=0) == 0
    assert check_count("n", np.int32(7), high=7) == 7
    for value, error, match in [(True, TypeError, "n must be an int, got bool"), (0, ValueError, "n must be >= 1"),
                                (10**9, ValueError, "n must be <= 1000"), (2.0, TypeError, "got float"),
                                (None, TypeError, "got NoneType")]:
        with pytest.raises(error, match=match):
            check_count("n", value, high=1000)


def test_check_seed_one_meaning():
    assert check_seed(0) == 0 and check_seed(np.int64(5)) == 5 and check_seed(10**9) == 10**9
    fresh = {check_seed(None) for _ in range(3)}
    assert len(fresh) == 3 and all(isinstance(s, int) and 0 <= s < 2**63 for s in fresh)
    torch.manual_seed(check_seed(None))  # the drawn seed is valid for torch too
    for value, error, match in [(-1, ValueError, r"seed must be an int in \[0, 2\*\*63 - 1\] or None, got -1"),
                                (2**63, ValueError, "or None"), (True, TypeError, "seed must be an int >= 0 or None, got bool"),
                                (1.0, TypeError, "got float"), ("1", TypeError, "got str")]:
        with pytest.raises(error, match=match):
            check_seed(value)
    with pytest.raises(ValueError, match="init_seed must"):
        check_seed(-3, name="init_seed")


def test_check_real_ranges():
    assert check_real("x", -2) == -2.0 and type(check_real("x", np.float32(1.5))) is float
    assert check_real("t", math.inf, low=0, finite=False) == math.inf
    assert check_probability("p", 0) == 0.0 and check_probability("p", 1) == 1.0
    cases = [(check_real, ("x", math.nan), {}, ValueError, "x must be a finite number, got nan"),
             (check_real, ("x", math.inf), {}, ValueError, "finite"),
             (check_real, ("lr", 0.0), dict(low=0, low_open=True), ValueError, r"lr must be in \(0, inf\], got 0"),
             (check_real, ("x", 3), dict(high=2), ValueError, r"x must be in \[-inf, 2\], got 3"),
             (check_real, ("x", True), {}, TypeError, "x must be a real number, got bool"),
             (check_real, ("x", 1j), {}, TypeError, "got complex"),
             (check_real, ("x", "1"), {}, TypeError, "got str"),
             (check_probability, ("p", 1.5), {}, ValueError, r"p must be in \[0, 1\], got 1.5"),
             (check_probability, ("p", 1.0), dict(high_open=True), ValueError, r"p must be in \[0, 1\)"),
             (check_probability, ("p", -0.1), {}, ValueError, "p must be in")]
    for func, args, kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            func(*args, **kwargs)


def test_check_bool_and_choice():
    assert check_bool("causal", np.bool_(True)) is True
    assert check_choice("mode", "b", ("a", "b")) == "b" and check_choice("k", 2, (1, 2)) == 2
    for func, args, error, match in [(check_bool, ("causal", 1), TypeError, "causal must be True or False, got int"),
                                     (check_choice, ("mode", "c", ("a", "b")), ValueError,
                                      "mode must be one of 'a', 'b', got 'c'"),
                                     (check_choice, ("mode", None, ("a", "b")), TypeError, "got NoneType"),
                                     (check_choice, ("k", True, (1, 2)), ValueError, "k must be one of 1, 2"),
                                     (check_choice, ("k", np.ones(2), (1, 2)), ValueError, "k must be one of")]:
        with pytest.raises(error, match=match):
            func(*args)


def test_check_array_accepts_and_converts():
    x = check_array("x", [[1, 2], [3, 4]], ndim=2, shape=(None, 2))
    assert x.dtype == np.float64 and x.shape == (2, 2)
    labels = check_array("y", np.array([0, 2, 1]), integer=True, ndim=1, low=0, high=2)
    assert labels.dtype.kind == "i"
    assert check_array("m", np.array([True, False]), bool_ok=True).dtype == bool
    assert check_array("x", np.zeros((0, 3)), allow_empty=True, ndim=2).shape == (0, 3)
    assert np.isnan(check_array("x", [np.nan], finite=False)[0])
    assert check_array("x", np.ones(3), ndim=(1, 2)).ndim == 1
    t = torch.ones(2, 3)
    assert check_array("x", t, torch_ok=True, ndim=2) is t


@pytest.mark.parametrize("x, kwargs, error, match", [
    ([1 + 5j, 2], {}, TypeError, "x must be real-valued, got complex dtype complex128"),
    (np.array([True]), {}, TypeError, "x must be a numeric array, got bool dtype"),
    ([None, 1], {}, TypeError, "x must be a numeric array, got dtype object"),
    (["a"], {}, TypeError, "got dtype <U1"),
    ("abc", {}, TypeError, "x must be a numeric array, got str"),
    (None, {}, TypeError, "x must be a numeric array, got NoneType"),
    ([[1, 2], [3]], {}, ValueError, "x must be a rectangular numeric array"),
    ([], {}, ValueError, r"x must be non-empty, got shape \(0,\)"),
    (np.ones(3), dict(ndim=2), ValueError, r"x must be a non-empty 2-D array, got shape \(3,\)"),
    (np.ones(3), dict(ndim=(2, 3)), ValueError, "2-D or 3-D"),
    (np.ones((2, 3)), dict(shape=(None, 2)), ValueError, r"x must have shape \(any, 2\), got shape \(2, 3\)"),
    (np.ones(2), dict(min_ndim=2), ValueError, "at least 2"),
    ([1.0, np.inf], {}, ValueError, r"x must be finite \(no NaN or inf\)"),
    ([1.5, 2.0], dict(integer=True), TypeError, "x must be an integer array, got dtype float64"),
    ([0, 3], dict(integer=True, high=2), ValueError, r"x must have values in \[-inf, 2\], got values in \[0, 3\]"),
    (torch.ones(2), {}, TypeError, "x must be a numpy array .* got a torch tensor"),
    (torch.ones(2, dtype=torch.complex64), dict(torch_ok=True), TypeError, "x must be real-valued"),
    (torch.tensor([1.0, float("nan")]), dict(torch_ok=True), ValueError, "x must be finite"),
])
def test_check_array_bad_input(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_array("x", x, **kwargs)


def test_check_tensor():
    t = torch.zeros(2, 3, dtype=torch.long)
    assert check_tensor("ids", t, integer=True, ndim=2) is t
    for x, kwargs, error, match in [(np.ones(2), {}, TypeError, r"x must be a torch tensor, got numpy.ndarray; "
                                     r"pass torch.as_tensor\(x\)"),
                                    (torch.ones(2, dtype=torch.bool), {}, TypeError, "numeric tensor"),
                                    (torch.ones(2), dict(integer=True), TypeError, "integer tensor"),
                                    (torch.ones(2, 2), dict(ndim=3), ValueError, "3-D"),
                                    (torch.empty(0), {}, ValueError, "non-empty"),
                                    (torch.tensor([-1.0]), dict(low=0), ValueError, "values in")]:
        with pytest.raises(error, match=match):
            check_tensor("x", x, **kwargs)


def test_duck_typed_objects():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert check_axes("ax", ax) is ax and check_axes("ax", None, allow_none=True) is None
    plt.close(fig)
    model = torch.nn.Linear(2, 1)
    assert check_module("model", model) is model and check_callable("f", len) is len
    for func, value, match in [(check_axes, None, "ax must be a matplotlib Axes"),
                               (check_axes, "ax", "got str"),
                               (check_module, lambda x: x, "model must be a torch nn.Module, got function"),
                               (check_callable, 3, "f must be callable")]:
        with pytest.raises(TypeError, match=match):
            func({check_axes: "ax", check_module: "model", check_callable: "f"}[func], value)


def test_check_same_length():
    assert check_same_length(("X", np.ones((3, 2))), ("y", np.ones(3))) == 3
    with pytest.raises(ValueError, match="X and y must have the same length on axis 0: X has 3, y has 4"):
        check_same_length(("X", np.ones((3, 2))), ("y", np.ones(4)))


def test_as_numeric_array_rejects_complex():
    with pytest.raises(TypeError, match="x must be real-valued"):
        as_numeric_array([1 + 5j, 2], "x")


# ----------------------------------------------------------------------------- generators, types, tokens
def test_check_generator():
    from mlnotes.validate import check_generator
    rng = np.random.default_rng(0)
    assert check_generator("rng", rng) is rng
    fresh = check_generator("rng", None, allow_none=True)
    assert isinstance(fresh, np.random.Generator)
    for bad in (None, 0, np.random.RandomState(0), "rng"):
        with pytest.raises(TypeError, match="rng must be a numpy Generator"):
            check_generator("rng", bad)
    with pytest.raises(TypeError, match="or None"):
        check_generator("rng", 3, allow_none=True)


def test_check_instance():
    from mlnotes.validate import check_instance
    assert check_instance("x", 3, int) == 3
    with pytest.raises(TypeError, match="model must be a dict or list, got str"):
        check_instance("model", "m", (dict, list))


def test_check_vocab():
    from mlnotes.validate import check_vocab
    assert check_vocab("vocab", ("a", "b")) == ["a", "b"]
    with pytest.raises(TypeError, match="vocab must be a list or tuple"):
        check_vocab("vocab", "ab")
    with pytest.raises(ValueError, match="vocab must be a non-empty"):
        check_vocab("vocab", [])
    with pytest.raises(TypeError, match="vocab must hold non-empty strings"):
        check_vocab("vocab", ["a", 1])
    with pytest.raises(ValueError, match="vocab must not repeat"):
        check_vocab("vocab", ["a", "a"])


def test_check_tokens():
    from mlnotes.validate import check_tokens
    assert check_tokens("t", ("a", "b"), vocab=["a", "b"]) == ["a", "b"]
    ids = check_tokens("t", np.array([0, 2]), vocab=["a", "b", "c"])
    assert ids == [0, 2] and all(type(i) is int for i in ids)
    assert check_tokens("t", [], allow_empty=True) == []
    cases = [("ab", TypeError, "t must be a list, tuple or 1-D array"),
             ([], ValueError, "t must hold at least one token"),
             (np.zeros((2, 2), int), ValueError, "t must be a 1-D sequence"),
             (["a", 1], TypeError, "t must hold only token strings or only int ids, got a mix"),
             ([True], TypeError, "got True"), ([1.5], TypeError, "got 1.5"),
             (["z"], ValueError, "outside the vocabulary"), ([3], ValueError, r"ids must be in \[0, 2\]"),
             ([-1], ValueError, "ids must be in")]
    for value, error, match in cases:
        with pytest.raises(error, match=match):
            check_tokens("t", value, vocab=["a", "b", "c"])
    with pytest.raises(ValueError, match="ids must be >= 0"):
        check_tokens("t", [-1])
    assert check_tokens("t", ["a", np.int64(3)], mixed=True) == ["a", 3]
    with pytest.raises(TypeError, match="got None"):
        check_tokens("t", ["a", None], mixed=True)


def test_check_tensor_floating():
    import torch
    from mlnotes.validate import check_tensor
    x = torch.zeros(2)
    assert check_tensor("x", x, floating=True) is x
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        check_tensor("x", torch.zeros(2, dtype=torch.long), floating=True)


def test_checked_applies_rules_to_arguments_and_defaults():
    import inspect
    from mlnotes.validate import arg, checked

    @checked(n=arg.count(high=10), x=arg.array(ndim=1), seed=arg.seed(), mode=arg.choice(("a", "b")))
    def f(n, x, seed=0, mode="a", extra=None):
        return n, x, seed, mode, extra

    n, x, seed, mode, extra = f(np.int64(3), [1, 2])
    assert type(n) is int and x.dtype == np.float64 and (seed, mode, extra) == (0, "a", None)
    assert list(inspect.signature(f).parameters) == ["n", "x", "seed", "mode", "extra"]
    assert "def f(n, x" in inspect.getsource(f)  # show() prints the function with its rules
    cases = [(dict(n=0, x=[1.0]), ValueError, "n must be >= 1, got 0"),
             (dict(n=True, x=[1.0]), TypeError, "n must be an int, got bool"),
             (dict(n=2, x=[[1.0]]), ValueError, "x must be a non-empty 1-D array"),
             (dict(n=2, x=[1.0], seed=-1), ValueError, "seed must be an int in"),
             (dict(n=2, x=[1.0], mode="c"), ValueError, "mode must be one of"),
             (dict(x=[1.0]), TypeError, "missing a required argument: 'n'")]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            f(**kwargs)
    assert repr(arg.count(high=10)) == "arg.count(high=10)"


def test_checked_rejects_rules_for_unknown_parameters():
    from mlnotes.validate import arg, checked
    with pytest.raises(AssertionError, match="has no parameter"):
        checked(m=arg.count())(lambda n: n)


def test_named_axes_bind_once_and_must_agree_across_arguments():
    from mlnotes.validate import arg, checked

    @checked(X=arg.array(shape=("N", "D")), y=arg.array(shape=("N",)), W=arg.array(shape=("D", "D")))
    def f(X, y, W):
        return X.shape, y.shape, W.shape

    assert f(np.zeros((4, 2)), np.zeros(4), np.eye(2)) == ((4, 2), (4,), (2, 2))
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) with N = 4, got shape \(5,\)"):
        f(np.zeros((4, 2)), np.zeros(5), np.eye(2))
    with pytest.raises(ValueError, match=r"W must have shape \(D, D\) with D = 2, got shape \(3, 3\)"):
        f(np.zeros((4, 2)), np.zeros(4), np.eye(3))
    # a name repeated inside one shape (a square matrix) binds on its first axis
    square = checked(A=arg.array(shape=("M", "M")))(lambda A: A)
    assert square(np.eye(3)).shape == (3, 3)
    with pytest.raises(ValueError, match=r"A must have shape \(M, M\) with M = 3, got shape \(3, 2\)"):
        square(np.zeros((3, 2)))


def test_rules_refer_to_other_arguments_and_their_attributes():
    from types import SimpleNamespace
    from mlnotes.validate import arg, checked

    @checked(n=arg.count(high=100), heads=arg.array(integer=True, low=0, high="n"),
             x=arg.array(shape=(None, "model.d_in")), k=arg.count(high="len(heads)"))
    def f(n, heads, model, x, k=1):
        return k

    model = SimpleNamespace(d_in=3)
    assert f(5, np.array([0, 5]), model, np.zeros((2, 3)), k=2) == 2
    with pytest.raises(ValueError, match=r"heads must have values in \[0, 5\]"):
        f(5, np.array([0, 6]), model, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"x must have shape \(any, model.d_in\) with model.d_in = 3, got shape \(2, 4\)"):
        f(5, np.array([0, 1]), model, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"k must be <= 2"):
        f(5, np.array([0, 1]), model, np.zeros((2, 3)), k=3)
    same = checked(a=arg.array(), b=arg.array(shape="a.shape"))(lambda a, b: b)
    assert same(np.zeros((2, 3)), np.ones((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match=r"b must have shape a.shape = \(2, 3\), got shape \(3, 2\)"):
        same(np.zeros((2, 3)), np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"model must provide model.d_in \(needed to check x\), got str"):
        f(5, np.array([0, 1]), "model", np.zeros((2, 3)))


def test_values_sums_to_text_sequence_mapping_fitted_optional():
    from mlnotes.validate import (arg, check_array, check_fitted, check_mapping, check_sequence, check_tensor,
                                  check_text, checked)

    assert check_array("X", [[0, 1], [1, 1]], values=(0, 1)).dtype == np.float64
    with pytest.raises(ValueError, match=r"X must hold only the values 0, 1, got \[0.5\]"):
        check_array("X", [0, 0.5, 1], values=(0, 1))
    check_array("p", [[0.25, 0.75], [1.0, 0.0]], sums_to=1)
    with pytest.raises(ValueError, match=r"p must sum to 1 along its last axis, got sums in \[0.9, 1\]"):
        check_array("p", [[0.2, 0.7], [1.0, 0.0]], sums_to=1)
    with pytest.raises(ValueError, match="t must sum to 1"):
        check_tensor("t", torch.tensor([0.5, 0.6]), sums_to=1)
    assert check_text("s", "ab") == "ab"
    with pytest.raises(TypeError, match="s must be a str, got int"):
        check_text("s", 3)
    with pytest.raises(ValueError, match="s must be a str of at least 1 characters, got ''"):
        check_text("s", "")
    assert check_text("s", "", min_len=0) == ""
    assert sorted(check_sequence("words", {"b", "a"}, arg.text(), unordered=True)) == ["a", "b"]
    with pytest.raises(TypeError, match=r"words must be a collection \(list, tuple, set\), got str"):
        check_sequence("words", "ab", unordered=True)
    assert check_sequence("xs", (1, 2), arg.count()) == [1, 2]
    with pytest.raises(ValueError, match=r"xs\[1\] must be >= 1, got 0"):
        check_sequence("xs", [1, 0], arg.count())
    with pytest.raises(ValueError, match="xs must hold 1 to 2 items, got 3"):
        check_sequence("xs", [1, 1, 1], max_len=2)
    with pytest.raises(TypeError, match="xs must be a list or tuple, got str"):
        check_sequence("xs", "ab")
    assert check_mapping("m", {"a": 1}, arg.text(), arg.count()) == {"a": 1}
    with pytest.raises(ValueError, match=r"m\['a'\] must be >= 1"):
        check_mapping("m", {"a": 0}, arg.text(), arg.count())
    with pytest.raises(TypeError, match="m must be a dict, got list"):
        check_mapping("m", [1])

    class Model:
        coef_ = None
    with pytest.raises(ValueError, match="this Model is not fitted yet: call fit"):
        check_fitted("model", Model(), "coef_")
    Model.coef_ = 1.0
    assert check_fitted("model", Model(), "coef_").coef_ == 1.0
    maybe = checked(x=arg.optional(arg.count()))(lambda x=None: x)
    assert maybe() is None and maybe(2) == 2
    with pytest.raises(TypeError, match="x must be an int"):
        maybe("2")
    assert repr(arg.optional(arg.count(high=3))) == "arg.optional(arg.count(high=3))"


def test_named_axes_may_ask_for_a_minimum_size():
    from mlnotes.validate import arg, checked

    pairs = checked(z1=arg.array(shape=("N >= 2", "k")), z2=arg.array(shape=("N", "k")))(lambda z1, z2: len(z1))
    assert pairs(np.zeros((2, 3)), np.ones((2, 3))) == 2
    with pytest.raises(ValueError, match=r"z1 must have shape \(N >= 2, k\), got shape \(1, 3\)"):
        pairs(np.zeros((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"z2 must have shape \(N, k\) with N = 2, got shape \(3, 3\)"):
        pairs(np.zeros((2, 3)), np.ones((3, 3)))


def test_axes_bounded_by_other_arguments_and_leading_ellipsis():
    from types import SimpleNamespace
    from mlnotes.validate import arg, checked

    @checked(ids=arg.array(shape=(None, "L <= model.max_len"), integer=True),
             q=arg.array(shape=("...", "Lq", "d")), k=arg.array(shape=("...", "Lk", "d")))
    def f(model, ids, q, k):
        return q.shape[-2], k.shape[-2]

    model = SimpleNamespace(max_len=4)
    assert f(model, np.zeros((2, 4), dtype=int), np.zeros((3, 2, 5)), np.zeros((7, 5))) == (2, 7)
    with pytest.raises(ValueError, match=r"ids must have shape \(any, L <= model.max_len\) with model.max_len = 4, "
                                         r"got shape \(2, 5\)"):
        f(model, np.zeros((2, 5), dtype=int), np.zeros((2, 5)), np.zeros((7, 5)))
    with pytest.raises(ValueError, match=r"k must have shape \(\.\.\., Lk, d\) with d = 5, got shape \(7, 4\)"):
        f(model, np.zeros((2, 4), dtype=int), np.zeros((2, 5)), np.zeros((7, 4)))
    with pytest.raises(ValueError, match=r"q must have at least 2 non-empty axes"):
        f(model, np.zeros((2, 4), dtype=int), np.zeros(5), np.zeros((7, 5)))


def test_floating_arrays_keep_their_precision_and_masked_logits_may_be_minus_inf():
    from mlnotes.validate import check_array

    assert check_array("Q", np.zeros((2, 2), np.float32), dtype=None, floating=True).dtype == np.float32
    with pytest.raises(TypeError, match="Q must be a floating-point array, got dtype int64"):
        check_array("Q", np.zeros((2, 2), np.int64), dtype=None, floating=True)
    assert check_array("S", [0.0, -np.inf], finite="-inf")[1] == -np.inf
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match=r"S must hold no NaN or \+inf \(-inf, a masked entry, is allowed\)"):
            check_array("S", [0.0, bad], finite="-inf")


def test_int_multiple_of():
    assert check_int("d", 6, 2, multiple_of=2) == 6
    with pytest.raises(ValueError, match="d must be a multiple of 2, got 7"):
        check_int("d", 7, 2, multiple_of=2)


def test_item_rules_of_sequences_see_the_other_arguments():
    from mlnotes.validate import arg, checked

    decode = checked(vocab=arg.sequence(arg.text()), ids=arg.sequence(arg.int(low=0, high="len(vocab) - 1")))(
        lambda vocab, ids: [vocab[i] for i in ids])
    assert decode(["a", "b"], [1, 0]) == ["b", "a"]
    with pytest.raises(ValueError, match=r"ids\[1\] must be <= 1, got 2"):
        decode(["a", "b"], [1, 2])


def test_text_may_have_to_contain_a_marker():
    from mlnotes.validate import check_text

    assert check_text("fmt", "{:.2f}", contains="{") == "{:.2f}"
    with pytest.raises(ValueError, match="fmt must contain '{', got '1.00'"):
        check_text("fmt", "1.00", contains="{")


def test_mapping_fields_check_a_record_with_shared_axes():
    from mlnotes.validate import arg, checked

    rules = dict(W=arg.array(shape=("h", "h")), b=arg.array(shape=("h",)))
    f = checked(params=arg.mapping(fields=rules), x=arg.array(shape=("h",)))(lambda params, x: params["W"] @ x)
    assert f({"W": np.eye(2), "b": np.zeros(2)}, [1.0, 2.0]).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"params must have the keys \['W', 'b'\], got \['W'\]"):
        f({"W": np.eye(2)}, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"params\['b'\] must have shape \(h,\) with h = 2, got shape \(3,\)"):
        f({"W": np.eye(2), "b": np.zeros(3)}, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"x must have shape \(h,\) with h = 2"):
        f({"W": np.eye(2), "b": np.zeros(2)}, [1.0, 2.0, 3.0])

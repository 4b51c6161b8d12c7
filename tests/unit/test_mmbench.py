"""Tests for mlnotes.mmbench: CircularEval invariants, closed forms, extraction, aggregation."""

import numpy as np
import pytest
from adversarial_examples import Example
from hypothesis import given, settings, strategies as st
from scipy import stats

from mlnotes.mmbench import (LETTERS, TAXONOMY, aggregate, always_a, biased_knower, circular_accuracy_biased,
                               circular_eval, circular_variants, extract_choice, l3_table, synthetic_bank,
                               uniform_guesser, verbose)

OPTIONS = {"A": "cat", "B": "dog", "C": "elephant", "D": "car"}
_Q = {"id": 0, "options": {"A": "cat", "B": "dog", "C": "car"}, "answer": "B", "L1": "a", "L2": "b", "L3": "c"}
_RNG = {"rng": lambda: np.random.default_rng(0)}
ADVERSARIAL = {
    "synthetic_bank": Example(6, option_probs={2: 0.5, 4: 0.5}, seed=0),
    "circular_variants": Example(_Q),
    "extract_choice": Example("The answer is B", OPTIONS, fallback="fuzzy",  # any free text is a response;
                              accepts={"response": "other-str", "fallback": "None"}),  # None: no fuzzy match
    "circular_eval": Example(always_a, [_Q, _Q], seed=0),
    "aggregate": Example([True, False], [_Q, _Q], weight="question"),
    "uniform_guesser": Example(_Q, fresh=lambda: {"rng": np.random.default_rng(0)}),
    "always_a": Example(_Q, fresh=lambda: {"rng": np.random.default_rng(0)}),
    "biased_knower": Example(0.5, bias=1.0, accepts={"p": "0", "bias": "0"}),  # p=0, b=0 are models too
    "verbose": Example(always_a, seed=0),
    "circular_accuracy_biased": Example(0.5, 1.0, [2, 3, 4], accepts={"p": "0", "bias": "0"}),  # valid rates
    "rank_stability": Example({"a": always_a}, [_Q, _Q], [0, 1]),
    "draw_circular_accuracy": Example(0.6, 1.0, [2, 3, 4], [0.7, 0.3],
                                      accepts={"p": "0", "bias": "0"}),  # valid rates
}
CANNED = [("B", "B"), ("(B)", "B"), ("Answer: c", "C"), ("The answer is B. cat", "B"),
          ("I think it's the cat", "A"), ("answer is a cat", "A"), ("A cat is sitting there", "A"),
          ("C.", "C"), ("Option D", "D"), ("It is a dog.", "B"), ("[D] car", "D"), ("My choice: b", "B"),
          ("The answer is (a)", "A"), ("D) car", "D"), ("None of these", None),
          ("It could be a cat or a dog", None), ("I cannot tell from the image", None),
          ("Probably the kar", None), ("the elefant", "C"), ("Definitely the elephnat!", "C")]


@pytest.fixture(scope="module")
def bank():
    return synthetic_bank(3000, seed=0)


def test_taxonomy_shape():
    assert len(TAXONOMY) == 2 and sum(len(g) for g in TAXONOMY.values()) == 6 and len(l3_table()) == 20


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 8), st.integers(0, 7), st.integers(0, 1000))
def test_circular_variants_permutation(N, key, seed):
    key = key % N
    q = {"options": {LETTERS[i]: f"t{i}" for i in range(N)}, "answer": LETTERS[key]}
    variants = circular_variants(q)
    assert len(variants) == N
    positions = np.array([[list(v["options"].values()).index(f"t{i}") for v in variants] for i in range(N)])
    assert all(sorted(row) == list(range(N)) for row in positions)  # each option visits each slot once
    assert sorted(v["answer"] for v in variants) == list(LETTERS[:N])
    assert all(v["options"][v["answer"]] == f"t{key}" for v in variants)


def test_extractor_canned():
    assert [extract_choice(r, OPTIONS) for r, _ in CANNED] == [label for _, label in CANNED]
    assert extract_choice("the elefant", OPTIONS, fallback=None) is None


def test_uniform_guesser_matches_closed_form(bank):
    n = np.array([len(q["options"]) for q in bank])
    v, c, per_q = circular_eval(uniform_guesser, bank, seed=1)
    # binomial test-style tolerance (4 standard errors)
    for observed, expected in ((v, np.mean(1 / n)), (c, np.mean((1 / n) ** n))):
        assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / len(n))
    assert per_q.shape == (len(bank), 2) and not np.any(per_q[:, 1] & ~per_q[:, 0])


def test_always_a(bank):
    v, c, _ = circular_eval(always_a, bank)
    assert v == np.mean([q["answer"] == "A" for q in bank]) and c == 0.0


def test_biased_knower_closed_form(bank):
    n = np.array([len(q["options"]) for q in bank])
    for p, b in ((0.6, 1.0), (0.3, 0.5), (0.9, 0.0)):
        v, c, _ = circular_eval(biased_knower(p, b), bank, seed=2)
        ev, ec = circular_accuracy_biased(p, b, n)
        assert abs(v - ev) < 4 * np.sqrt(ev * (1 - ev) / len(n))
        assert abs(c - ec) < 4 * np.sqrt(ec * (1 - ec) / len(n))
    assert np.isclose(circular_accuracy_biased(0.6, 1.0, n)[1], np.mean(0.6 ** (n - 1)))
    assert circular_accuracy_biased(1.0, 0.3, n) == (1.0, 1.0)
    # uniform guessing is the special case p = 0, bias = 0; compare with a binomial pmf
    assert np.isclose(circular_accuracy_biased(0.0, 0.0, [4])[1], stats.binom.pmf(4, 4, 0.25))


def test_verbose_model_is_extracted_faithfully(bank):
    model = biased_knower(1.0, 0.0)
    v, c, _ = circular_eval(verbose(model), bank[:300], seed=3)
    assert v == 1.0 and c == 1.0


def test_aggregate_against_bincount(bank):
    correct = np.random.default_rng(0).random(len(bank)) < 0.7
    names = [l3 for _, _, l3 in l3_table()]
    idx = np.array([names.index(q["L3"]) for q in bank])
    l3_mean = np.bincount(idx, weights=correct, minlength=20) / np.bincount(idx, minlength=20)
    by_q, by_a = aggregate(correct, bank, "question"), aggregate(correct, bank, "ability")
    assert np.allclose([by_q["L3"][n] for n in names], l3_mean, atol=1e-12)
    for l1, groups in TAXONOMY.items():
        l2_means = [np.mean([l3_mean[names.index(l3)] for l3 in leaves]) for leaves in groups.values()]
        assert abs(by_a["L1"][l1] - np.mean(l2_means)) < 1e-12
        mask = np.array([q["L1"] == l1 for q in bank])
        assert abs(by_q["L1"][l1] - correct[mask].mean()) < 1e-12
    assert by_q["overall"]["all"] == pytest.approx(correct.mean())


def test_bank_properties(bank):
    n = np.array([len(q["options"]) for q in bank])
    assert set(n) == {2, 3, 4} and abs(np.mean(n == 4) - 0.5) < 0.05
    assert all(len(set(q["options"].values())) == len(q["options"]) for q in bank)
    assert synthetic_bank(5, seed=1) == synthetic_bank(5, seed=1)


def test_bad_inputs(bank):
    with pytest.raises(ValueError, match="n must be >= 1"):
        synthetic_bank(0)
    with pytest.raises(ValueError, match="option_probs"):
        synthetic_bank(5, {1: 1.0})
    with pytest.raises(TypeError, match="question must be a Mapping, got list"):
        circular_variants(["A"])
    with pytest.raises(ValueError, match=r"number of question\[.options.\] must be >= 2, got 1"):
        circular_variants({"options": {"A": "x"}, "answer": "A"})
    with pytest.raises(ValueError, match="labelled A, B, C"):
        circular_variants({"options": {"B": "x", "A": "y"}, "answer": "A"})
    with pytest.raises(ValueError, match=r"question\[.answer.\] must be one of .A., .B., got .C."):
        circular_variants({"options": {"A": "x", "B": "y"}, "answer": "C"})
    with pytest.raises(TypeError, match="response must be a str"):
        extract_choice(None, OPTIONS)
    with pytest.raises(ValueError, match="options must hold at least 1 entries, got 0"):
        extract_choice("A", {})
    with pytest.raises(ValueError, match="fallback must be"):
        extract_choice("A", OPTIONS, fallback="gpt")
    with pytest.raises(TypeError, match="answer_fn must be callable"):
        circular_eval("A", bank)
    with pytest.raises(ValueError, match="questions must hold at least 1 items, got 0"):
        circular_eval(always_a, [])
    with pytest.raises(ValueError, match=r"correct must have shape \(len\(questions\),\) with len\(questions\) = 3000, got shape \(1,\)"):
        aggregate([True], bank)
    with pytest.raises(ValueError, match="weight must be"):
        aggregate(np.ones(len(bank)), bank, weight="l2")
    with pytest.raises(ValueError, match="p must be in"):
        biased_knower(1.5)
    with pytest.raises(ValueError, match="bias must be in"):
        biased_knower(0.5, bias=-0.1)
    with pytest.raises(TypeError, match="model must be callable"):
        verbose(3)
    with pytest.raises(ValueError, match="n_options"):
        circular_accuracy_biased(0.5, 0.5, [1])
    with pytest.raises(ValueError, match="p must be in"):
        circular_accuracy_biased(2.0, 0.5, [4])


def test_uniform_guesser_covers_options_and_rejects_bad_input(bank):
    from mlnotes.mmbench import uniform_guesser

    rng = np.random.default_rng(0)
    question = bank[0]
    answers = {uniform_guesser(question, rng) for _ in range(200)}
    assert answers == set("ABCD"[: len(question["options"])])
    with pytest.raises(TypeError, match="Generator"):
        uniform_guesser(question, 0)
    with pytest.raises(ValueError, match="options"):
        uniform_guesser({"options": {}, "answer": "A"}, rng)


def test_verbose_uses_common_random_numbers_and_rank_stability_shapes():
    from mlnotes.mmbench import biased_knower, circular_eval, rank_stability, synthetic_bank, verbose
    bank = synthetic_bank(60, seed=0)
    plain = circular_eval(biased_knower(0.7, bias=0.0), bank, seed=3)[2]
    wrapped = circular_eval(verbose(biased_knower(0.7, bias=0.0)), bank, seed=3)[2]
    assert (plain == wrapped).all()
    runs = rank_stability({"a": biased_knower(0.3), "b": biased_knower(0.9)}, bank, seeds=[0, 1, 2])
    assert runs["vanilla"].shape == (2, 3) and (runs["circular"][1] > runs["circular"][0]).all()


def test_draw_circular_accuracy_plots_the_closed_form_and_the_point():
    import matplotlib.pyplot as plt

    from mlnotes.mmbench import circular_accuracy_biased, draw_circular_accuracy

    fig = draw_circular_accuracy(0.6, 1.0, [2, 4], [0.7, 0.3])
    vanilla, circular, dots = fig.axes[0].get_lines()
    expected = circular_accuracy_biased(0.5, 1.0, [2, 4])  # grid point 25 of 51 is p = 0.5
    assert np.isclose(vanilla.get_ydata()[25], expected[0])
    assert np.isclose(circular.get_ydata()[25], expected[1])
    assert circular.get_ydata()[0] == 0.0  # b = 1, p = 0: never right in every pass
    assert list(dots.get_xdata()) == [0.6, 0.6] and list(dots.get_ydata()) == [0.7, 0.3]
    assert fig.axes[0].get_title() == "$p$ = 0.6, bias $b$ = 1.0: vanilla 0.700, circular 0.300"
    plt.close(fig)

"""Tests for mlnotes.word_discovery: counts vs scikit-learn, cohesion, coarse cut, backtracking, jieba."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.feature_extraction.text import CountVectorizer

from mlnotes.word_discovery import (_backtrack_filter, boundary_ngrams, char_ngrams, coarse_cut, cohesion,
                              discover_words, jieba_segment, lexicon_prf, load_jieba_dict,
                              segmentation_prf, solid_ngrams, synthetic_zh_corpus)


@pytest.fixture(scope="module")
def corpus():
    sentences = synthetic_zh_corpus(3000, seed=0)
    return sentences, ["".join(s) for s in sentences]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="abcde", min_size=1, max_size=12), min_size=1, max_size=8), st.integers(1, 4))
def test_char_ngrams_match_countvectorizer(texts, n):
    vec = CountVectorizer(analyzer="char", ngram_range=(1, n), lowercase=False)
    X = vec.fit_transform(texts)
    ref = dict(zip(vec.get_feature_names_out(), np.asarray(X.sum(axis=0)).ravel().tolist()))
    assert dict(char_ngrams(texts, n)) == ref


def test_cohesion_formula():
    counts = Counter({"a": 10, "b": 20, "c": 5, "ab": 8, "bc": 2, "abc": 2})
    total = 35
    assert cohesion("ab", counts) == pytest.approx(8 * total / (10 * 20))
    assert cohesion("abc", counts) == pytest.approx(min(2 * total / (10 * 2), 2 * total / (8 * 5)))
    assert cohesion("zz", counts) == 0.0


def test_cohesion_independent_is_near_one():
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcd"), 200_000))
    counts = char_ngrams([text], 2)
    assert all(abs(cohesion(a + b, counts) - 1) < 0.05 for a in "abcd" for b in "abcd")


def test_coarse_cut_glues_overlaps():
    assert coarse_cut("xabcy", {"ab", "bc"}) == ["x", "abc", "y"]
    assert coarse_cut("abc", set()) == ["a", "b", "c"]
    assert coarse_cut("", {"ab"}) == [] and coarse_cut("a", {"ab"}) == ["a"]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abc", max_size=15), st.sets(st.text(alphabet="abc", min_size=2, max_size=4), max_size=6))
def test_coarse_cut_is_a_partition(text, solid):
    pieces = coarse_cut(text, solid)
    assert "".join(pieces) == text and all(pieces)
    for s in solid:  # no solid occurrence is cut
        start = text.find(s)
        while start != -1:
            edges = np.cumsum([len(p) for p in pieces])[:-1]
            assert not any(start < e < start + len(s) for e in edges)
            start = text.find(s, start + 1)


def test_backtrack_rule():
    solid = {"ab", "bc", "abc", "cd"}
    assert _backtrack_filter(["abc", "abcd", "ab", "x"], solid) == {"abc", "ab", "x"}


def test_discovery_quality(corpus):
    sentences, texts = corpus
    found = discover_words(texts, min_count=8)
    vocabulary = {w for w, _ in load_jieba_dict(3000)}
    counts = Counter(w for s in sentences for w in s)
    gold = {w for w, c in counts.items() if len(w) > 1 and c >= 8}
    p, r, _ = lexicon_prf({w for w in found.words if len(w) > 1}, gold, vocabulary)
    assert p > 0.95 and r > 0.9
    assert list(found.words.values()) == sorted(found.words.values(), reverse=True)
    assert all(cohesion(s, found.counts) >= {2: 5, 3: 25, 4: 125}[len(s)] for s in found.solid)


def test_planted_backtracking():
    planted = ["各", "各项", "项目", "支撑", "撑着", "着"]
    texts = ["".join(s) for s in synthetic_zh_corpus(4000, seed=1, planted=planted)]
    with_bt = discover_words(texts, min_count=5)
    without = discover_words(texts, min_count=5, backtrack=False, counts=with_bt.counts)
    for glued in ("各项目", "支撑着"):
        assert glued in without.words and glued not in with_bt.words
    assert {"各项", "项目", "支撑", "撑着"} <= set(with_bt.words)


def test_boundary_ngrams():
    counts = boundary_ngrams([["ab", "c"], ["a", "bc"]], 2)
    assert counts == Counter({"bc": 1, "ab": 1})
    assert boundary_ngrams([["abc"]], 3) == Counter()


def test_prf_functions():
    assert lexicon_prf({"ab", "cd"}, {"ab", "ef"}) == (0.5, 0.5, 0.5)
    assert lexicon_prf(set(), {"ab"}) == (0.0, 0.0, 0.0)
    p, r, f = segmentation_prf([["ab", "c"]], [["ab", "c"]])
    assert (p, r, f) == (1.0, 1.0, 1.0)
    p, r, f = segmentation_prf([["a", "b", "c"]], [["ab", "c"]])
    assert p == pytest.approx(1 / 3) and r == pytest.approx(1 / 2)


def test_jieba_segment_uses_only_lexicon(corpus):
    sentences, texts = corpus
    lexicon = Counter(w for s in sentences[:500] for w in s)
    seg = jieba_segment(texts[:200], lexicon)
    assert all("".join(a) == b for a, b in zip(seg, texts[:200]))
    assert segmentation_prf(seg, sentences[:200])[2] > 0.9
    assert jieba_segment(["中国人"], {"国人": 5}) == [["中", "国人"]]


def test_synthetic_corpus_deterministic():
    assert synthetic_zh_corpus(50, seed=3) == synthetic_zh_corpus(50, seed=3)
    vocab = load_jieba_dict(10)
    assert len(vocab) == 10 and vocab[0][1] >= vocab[-1][1]


def test_bad_inputs():
    with pytest.raises(ValueError, match="top must be >= 1"):
        load_jieba_dict(0)
    with pytest.raises(ValueError, match="planted_prob"):
        synthetic_zh_corpus(5, planted=["a"] * 60, planted_prob=0.02)
    with pytest.raises(ValueError, match="words_per_sentence"):
        synthetic_zh_corpus(5, words_per_sentence=(3, 2))
    with pytest.raises(TypeError, match="texts must be a list or tuple, got str"):
        char_ngrams("abc")
    with pytest.raises(ValueError, match="texts must hold at least 1 items, got 0"):
        char_ngrams([])
    with pytest.raises(ValueError, match="s must be a str of at least 2 characters"):
        cohesion("a", {"a": 1})
    with pytest.raises(TypeError, match="counts must be a dict, got list"):
        cohesion("ab", [1, 2])
    with pytest.raises(ValueError, match="counts must hold the single characters"):
        cohesion("ab", {"ab": 3})
    with pytest.raises(ValueError, match="thresholds must give a value"):
        solid_ngrams({"ab": 3, "a": 3, "b": 3}, n=4, thresholds={2: 5})
    with pytest.raises(ValueError, match="counts must hold at least 1 entries, got 0"):
        solid_ngrams({})
    with pytest.raises(TypeError, match="solid must be a set or frozenset, got list"):
        coarse_cut("abc", ["ab"])
    with pytest.raises(TypeError, match="text must be a str"):
        coarse_cut(5, set())
    with pytest.raises(ValueError, match="n must be >= 2"):
        discover_words(["abc"], n=1)
    with pytest.raises(ValueError, match="gold lexicon is empty"):
        lexicon_prf({"a"}, set())
    with pytest.raises(ValueError, match="gold must hold at least 1 items, got 0"):
        segmentation_prf([["a"]], [])
    with pytest.raises(ValueError, match="equally many"):
        segmentation_prf([["a"]], [["a"], ["b"]])
    with pytest.raises(ValueError, match="does not spell"):
        segmentation_prf([["ab"]], [["ac"]])
    with pytest.raises(ValueError, match="k must be >= 2"):
        boundary_ngrams([["ab"]], 1)
    with pytest.raises(ValueError, match="lexicon must hold at least 1 entries, got 0"):
        jieba_segment(["中国"], {})


def test_collocations_make_pmi_glue_false_words_and_sweep_trades_off():
    from collections import Counter

    from mlnotes.word_discovery import (load_jieba_dict, synthetic_zh_corpus,
                                        threshold_sweep)

    vocabulary = {w for w, _ in load_jieba_dict(3000)}
    s = synthetic_zh_corpus(1500, seed=0, collocations=100, colloc_prob=0.3)
    texts = ["".join(x) for x in s]
    gold = {w for w, c in Counter(w for x in s for w in x).items() if len(w) > 1 and c >= 8}
    rows = threshold_sweep(texts, gold, vocabulary, [2, 20])
    assert rows[0, 1] < 0.9                       # glued pairs are false words
    assert rows[1, 1] > rows[0, 1] and rows[1, 2] < rows[0, 2]


def test_draw_pr_highlights_a_point():
    import matplotlib.pyplot as plt
    import numpy as np

    from mlnotes.word_discovery import draw_pr

    fig, ax = plt.subplots()
    draw_pr(ax, {"a": np.array([[2, 0.5, 0.9], [5, 0.7, 0.6]])}, highlight=("a", 5))
    assert len(ax.collections) == 1
    plt.close(fig)


from collections import Counter as _Counter  # noqa: E402

from adversarial_examples import Example  # noqa: E402

_TEXTS = ["我们在中国", "中国人民在我们"]
_COUNTS = _Counter({"中": 3, "国": 3, "中国": 3, "我": 2, "们": 2, "我们": 2})

ADVERSARIAL = {
    "load_jieba_dict": Example(50, accepts={"top": "10**9"}),          # capped at the dict
    "synthetic_zh_corpus": Example(3, top=50, timeout=10, accepts={"top": "10**9"}),
    "char_ngrams": Example(_TEXTS),
    "cohesion": Example("中国", _COUNTS, accepts={"s": "other-str"}),   # any string
    "solid_ngrams": Example(_COUNTS, min_count=1, accepts={"min_count": "10**9"}),
    "coarse_cut": Example("我们在中国", {"中国", "我们"}, accepts={"text": "other-str"}),
    "discover_words": Example(_TEXTS, min_count=1, accepts={"min_count": "10**9"}),
    "lexicon_prf": Example(["中国"], ["中国", "我们"], accepts={"found": "empty"}),
    "boundary_ngrams": Example([["我们", "在"], ["中国"]]),
    "segmentation_prf": Example([["我们", "在"]], [["我们", "在"]]),
    "jieba_segment": Example(["我们在中国"], {"我们": 5, "中国": 5}, timeout=10),
    "threshold_sweep": Example(_TEXTS, ["中国"], ["中国"], [5.0], min_count=1,
                               accepts={"gold": "empty", "min_count": "10**9"}),
    "draw_pr": Example(curves={"a": __import__("numpy").array([[2.0, 0.5, 0.9]])},
                       fresh=lambda: {"ax": __import__("matplotlib.pyplot").pyplot
                                      .subplots()[1]}),
}
ADVERSARIAL_EXEMPT = {"Discovery": "a plain dataclass record returned by discover_words"}

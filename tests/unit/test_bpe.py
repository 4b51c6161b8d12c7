"""Tests for mlnotes.bpe: against Sennrich's reference rule and Hugging Face tokenizers."""

from collections import Counter

import matplotlib
import pytest
from hypothesis import given, settings, strategies as st

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mlnotes.data import lee_corpus  # noqa: E402
from mlnotes.bpe import (BPE, ByteLevelBPE, _display_token, bytes_to_unicode,  # noqa: E402
                         gpt2_like_pretokenize, naive_bpe_merges, show_token_spans,
                         to_hf_bpe, word_tokenize)

TOY = {"low": 5, "lower": 2, "newest": 6, "widest": 3}


@pytest.fixture(scope="module")
def lee_split():
    words = word_tokenize(lee_corpus())
    cut = int(0.8 * len(words))
    return Counter(words[:cut]), Counter(words[cut:])


@pytest.fixture(scope="module")
def lee_bpe(lee_split):
    return BPE(pretokenizer="words").train(lee_split[0], 300)


def test_toy_first_occurrence_merges():
    expected = [("e", "s"), ("es", "t"), ("est", "</w>"), ("l", "o"), ("lo", "w"), ("n", "e"),
                ("ne", "w"), ("new", "est</w>"), ("low", "</w>"), ("w", "i")]
    assert naive_bpe_merges(TOY, 10) == expected
    assert BPE(end_of_word="</w>").train(TOY, 10).merges == expected


def test_toy_lexicographic_merges_differ():
    lex = BPE(end_of_word="</w>").train(TOY, 10, tie_break="lexicographic").merges
    assert lex[5:8] == [("e", "w"), ("ew", "est</w>"), ("n", "ewest</w>")]
    assert lex == naive_bpe_merges(TOY, 10, tie_break="lexicographic")


def test_stops_when_no_pair_left():
    bpe = BPE().train({"ab": 3}, 10)
    assert bpe.merges == [("a", "b")] and bpe.encode_word("ab") == ["ab"]
    assert BPE().train({"a": 1}, 5).merges == []


def test_incremental_equals_naive_on_lee(lee_split):
    sub = dict(list(lee_split[0].items())[:800])
    for tie in ("first", "lexicographic"):
        assert BPE().train(sub, 120, tie_break=tie).merges == naive_bpe_merges(sub, 120, None, tie)


words_strategy = st.dictionaries(st.text(alphabet="abcd", min_size=1, max_size=7),
                                 st.integers(1, 5), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(words_strategy, st.integers(0, 15), st.sampled_from(["first", "lexicographic"]))
def test_incremental_equals_naive_property(words, n, tie):
    bpe = BPE(end_of_word="</w>").train(words, n, tie_break=tie)
    assert bpe.merges == naive_bpe_merges(words, n, "</w>", tie)
    # rank-based re-encoding reproduces the trainer's final segmentation
    for w, seg in bpe.final_segmentation.items():
        assert bpe.encode_word(w) == seg


def test_reencoding_and_vocab_size(lee_bpe):
    assert all(lee_bpe.encode_word(w) == s for w, s in lee_bpe.final_segmentation.items())
    assert len(lee_bpe.vocab) == len(lee_bpe.alphabet) + len(lee_bpe.merges)


def test_matches_huggingface_bpe(lee_bpe, lee_split):
    hf = to_hf_bpe(lee_bpe)
    held_out = [w for w in lee_split[1] if set(w) <= set(lee_bpe.alphabet)]
    assert len(held_out) > 2000
    assert all([t.value for t in hf.tokenize(w)] == lee_bpe.encode_word(w) for w in held_out)


def test_truncated_keeps_prefix(lee_bpe):
    small = lee_bpe.truncated(50)
    assert small.merges == lee_bpe.merges[:50] and len(small.vocab) == len(lee_bpe.alphabet) + 50
    assert len(small.encode_word("government")) >= len(lee_bpe.encode_word("government"))
    assert lee_bpe.truncated(0).encode_word("abc") == ["a", "b", "c"]


def test_encode_decode_char_level():
    bpe = BPE().train(Counter(gpt2_like_pretokenize("the cat sat on the mat. the end")), 20)
    text = "the mat sat"
    assert bpe.decode(bpe.encode(text)) == text
    eow = BPE(end_of_word="</w>", pretokenizer="words").train(TOY, 10)
    assert eow.decode(eow.encode("low newest")) == "low newest"


def test_gpt2_like_pretokenize_examples():
    assert gpt2_like_pretokenize("Hello world!!") == ["Hello", " world", "!!"]
    assert gpt2_like_pretokenize("I'm 42") == ["I", "'m", " 42"]
    assert word_tokenize("Hello, world") == ["Hello", ",", "world"]


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=40))
def test_pretokenize_is_lossless(text):
    assert "".join(gpt2_like_pretokenize(text)) == text


@pytest.fixture(scope="module")
def byte_bpe():
    return ByteLevelBPE().train(Counter(gpt2_like_pretokenize(lee_corpus(lower=False)[:60000])), 200)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc XYZ,.éüñ中文字😀🙂\n")), max_size=30))
def test_byte_level_round_trip(byte_bpe, text):
    assert byte_bpe.decode(byte_bpe.encode(text)) == text


def test_byte_level_cjk_three_tokens(byte_bpe):
    assert len(byte_bpe.encode("中")) == 3 and len(byte_bpe.encode("中文字")) == 9
    assert len(byte_bpe.vocab) == 256 + 200


def test_bytes_to_unicode():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[ord("A")] == "A"
    assert all(c.isprintable() and not c.isspace() for c in table.values())


def test_display_and_spans():
    assert _display_token(" 中") == "␣U+4E2D" and _display_token("Ġthe") == "␣the"
    fig, ax = plt.subplots()
    show_token_spans(["Hel", "lo", " wor", "ld"], ax, width=10)
    assert len(ax.patches) == 4 and len(ax.lines) == 0
    plt.close(fig)
    fig, ax = plt.subplots()
    show_token_spans(["Hel", "lo", " wor", "ld"], ax, width=40,
                     word_starts=[True, False, True, False])
    assert len(ax.lines) == 1                      # one bar before the second word
    with pytest.raises(ValueError, match="word_starts"):
        show_token_spans(["a", "b"], ax, word_starts=[True])
    plt.close(fig)


def test_bad_inputs():
    with pytest.raises(TypeError, match="text must be a str"):
        word_tokenize(3)
    with pytest.raises(TypeError, match="text must be a str"):
        gpt2_like_pretokenize(None)
    with pytest.raises(ValueError, match="word_counts must hold at least 1 entries, got 0"):
        naive_bpe_merges({}, 3)
    with pytest.raises(ValueError, match=r"word_counts\['ab'\] must be >= 1, got 0"):
        naive_bpe_merges({"ab": 0}, 3)
    with pytest.raises(ValueError, match="tie_break must be one of"):
        naive_bpe_merges(TOY, 3, tie_break="random")
    with pytest.raises(TypeError, match="word_counts must be a dict, got list"):
        BPE().train(["low"], 3)
    with pytest.raises(ValueError, match="num_merges must be >= 0"):
        BPE().train(TOY, -1)
    with pytest.raises(ValueError, match="pretokenizer must be one of"):
        BPE(pretokenizer="spaces")
    with pytest.raises(ValueError, match="end_of_word must be a str of at least 1 characters"):
        BPE(end_of_word="")
    with pytest.raises(ValueError, match="pretokenizer must be one of"):
        ByteLevelBPE(pretokenizer="x")
    bpe = BPE().train(TOY, 3)
    with pytest.raises(ValueError, match="num_merges must be <= 3, got 4"):
        bpe.truncated(4)
    with pytest.raises(ValueError, match="word must be a str of at least 1 characters"):
        bpe.encode_word("")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        bpe.encode("zebra")
    with pytest.raises(ValueError, match="not trained"):
        BPE().encode("low")
    with pytest.raises(ValueError, match=r"ids\[1\] must be <= \d+, got 10000"):
        bpe.decode([0, 10_000])
    with pytest.raises(TypeError, match="ids must be a list or tuple, got str"):
        bpe.decode("abc")
    with pytest.raises(TypeError, match="text must be a str"):
        bpe.tokenize(5)
    with pytest.raises(TypeError, match="bpe must be a BPE, got dict"):
        to_hf_bpe({"a": 0})
    with pytest.raises(ValueError, match="end_of_word=None only"):
        to_hf_bpe(BPE(end_of_word="</w>").train(TOY, 2))
    with pytest.raises(TypeError, match="tokens must be a list or tuple, got str"):
        show_token_spans("abc", plt.subplots()[1])


from adversarial_examples import Example  # noqa: E402

ADVERSARIAL = {
    "word_tokenize": Example("Hello world.", accepts={"text": "other-str empty"}),
    "gpt2_like_pretokenize": Example("Hello world.", accepts={"text": "other-str empty"}),
    # 0 merges is the character tokenizer; asking for more merges than pairs stops early
    "naive_bpe_merges": Example({"low": 5, "lower": 2}, 3, accepts={"num_merges": "0 10**9"}),
    "BPE": Example(end_of_word=None, pretokenizer="gpt2",
                   accepts={"end_of_word": "str"}),                  # any marker string
    "ByteLevelBPE": Example(pretokenizer="gpt2"),
    "to_hf_bpe": Example(fresh=lambda: {"bpe": BPE(pretokenizer="words").train({"ab": 3}, 1)}),
    "show_token_spans": Example(["a", "b"], width=10,
                               accepts={"tokens": "empty", "width": "10**9"},  # nothing / wide
                               fresh=lambda: {"ax": plt.subplots()[1]}),
}

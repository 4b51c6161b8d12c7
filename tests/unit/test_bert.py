"""Tests for mlnotes.bert: toy language, BERT masking, masked loss, span decoding."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from adversarial_examples import Example
from hypothesis import given, settings, strategies as st

from mlnotes.bert import (CLS, IGNORE, MASK, PAD, SEP, best_span, best_span_brute, draw_top_fillers,
                         encode, mask_tokens,
                         masked_cross_entropy, synthetic_topic_sentences, topic_vocab)

torch.set_num_threads(1)

_VOCAB = topic_vocab()
ADVERSARIAL = {
    "draw_masking_grid": Example(p=0.15, recipe="80/10/10", rows=4, cols=6, seed=0,
                                 fresh=lambda: {"ax": __import__("matplotlib.pyplot").pyplot.subplots()[1]},
                                 accepts={"p": "0"}),
    "topic_vocab": Example("apple", accepts={"ambiguous": "other-str"}),  # any new word is allowed
    "synthetic_topic_sentences": Example(4, fresh=lambda: {"rng": np.random.default_rng(0)}, ambiguous="apple",
                                         p_adj=0.5, accepts={"ambiguous": "other-str", "p_adj": "0"}),  # any word; p_adj=0: no adjectives
    "encode": Example([["the", "apple"]], _VOCAB, 6),
    "mask_tokens": Example(torch.tensor([[1, 5, 6, 2]]), len(_VOCAB), special_ids=[0, 1, 2, 3], p=0.5,
                           split=[0.8, 0.1, 0.1], mask_id=3, gen=None,
                           accepts={"p": "0", "mask_id": "0"}),  # p=0 masks nothing; 0 is a token id
    "masked_cross_entropy": Example(torch.zeros(2, 3), torch.tensor([1, IGNORE]), ignore_index=IGNORE,
                                    accepts={"ignore_index": "-1 0 10**9"}),  # any int can mark "no label"
    # max_len only bounds a window: a huge one means "no limit" and costs nothing
    "best_span": Example([0.0, 1.0, 2.0], [1.0, 0.0, 3.0], 2, accepts={"max_len": "10**9"}),
    "best_span_brute": Example([0.0, 1.0, 2.0], [1.0, 0.0, 3.0], 2, accepts={"max_len": "10**9"}),
    "two_clause_qa": Example(2, fresh=lambda: {"rng": np.random.default_rng(0)}, vocab=_VOCAB, max_len=24),
    "draw_top_fillers": Example(["the", "apple", "falls"], 1, ["apple", "pear"], np.array([0.7, 0.2]),
                                accepts={"position": "0"}),  # the first word may be hidden
}


def test_sentences_and_encode():
    vocab = topic_vocab()
    s, t = synthetic_topic_sentences(200, np.random.default_rng(0))
    assert len(s) == 200 and t.shape == (200,) and set(t) <= {0, 1}
    assert all("apple" in words and 7 <= len(words) <= 8 for words in s)
    ids = encode(s, vocab, 11)
    assert ids.shape == (200, 11) and (ids[:, 0] == CLS).all()
    assert ((ids == SEP).sum(1) == 1).all()
    with pytest.raises(ValueError, match="max_len"):
        encode(s, vocab, 8)
    with pytest.raises(ValueError, match="unknown"):
        encode([["zebra"]], vocab, 5)
    with pytest.raises(ValueError, match="sentences must hold at least 1 items"):
        encode([], vocab, 5)
    with pytest.raises(ValueError, match="n must be"):
        synthetic_topic_sentences(0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        synthetic_topic_sentences(3, 0)
    with pytest.raises(ValueError, match="p_adj"):
        synthetic_topic_sentences(3, np.random.default_rng(0), p_adj=2.0)
    with pytest.raises(ValueError, match="collides"):
        topic_vocab("farmer")


def test_mask_statistics():
    vocab = topic_vocab()
    V = len(vocab)
    s, _ = synthetic_topic_sentences(20000, np.random.default_rng(1))
    ids = encode(s, vocab, 11)
    inputs, labels, selected = mask_tokens(ids, V, gen=torch.Generator().manual_seed(0))
    ordinary = ids > MASK
    n = selected.sum().item()
    assert abs(n / ordinary.sum().item() - 0.15) < 0.01
    assert not (selected & ~ordinary).any()
    assert abs((inputs[selected] == MASK).sum().item() / n - 0.8) < 0.01
    assert abs((inputs == ids)[selected].sum().item() / n - (0.1 + 0.1 / (V - 4))) < 0.01
    assert torch.equal(inputs[~selected], ids[~selected])
    assert torch.equal(labels[selected], ids[selected]) and (labels[~selected] == IGNORE).all()
    assert (inputs[selected] != PAD).all()


def test_mask_edges():
    ids = torch.tensor([[CLS, 5, 6, SEP, PAD]])
    inputs, labels, sel = mask_tokens(ids, 8, p=0.0)
    assert torch.equal(inputs, ids) and not sel.any()
    inputs, labels, sel = mask_tokens(ids, 8, p=1.0, split=(1.0, 0.0, 0.0))
    assert inputs.tolist() == [[CLS, MASK, MASK, SEP, PAD]]
    inputs, _, _ = mask_tokens(ids, 8, p=1.0, split=(0.0, 0.0, 1.0))
    assert torch.equal(inputs, ids)


def test_mask_bad_inputs():
    ids = torch.tensor([[1, 5]])
    with pytest.raises(TypeError, match="ids must be an integer tensor"):
        mask_tokens(ids.float(), 8)
    with pytest.raises(ValueError, match="ids must be a non-empty 2-D"):
        mask_tokens(torch.zeros(0, dtype=torch.long), 8)
    with pytest.raises(ValueError, match="p must"):
        mask_tokens(ids, 8, p=1.5)
    with pytest.raises(ValueError, match="split"):
        mask_tokens(ids, 8, split=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="ids must have values in"):
        mask_tokens(ids, 4)
    with pytest.raises(ValueError, match="special"):
        mask_tokens(torch.tensor([[1, 2]]), 4)


@settings(max_examples=50, deadline=None)
@given(b=st.integers(1, 4), n=st.integers(1, 6), v=st.integers(2, 9), seed=st.integers(0, 10_000))
def test_masked_ce_matches_torch(b, n, v, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, n, v, generator=g, dtype=torch.float64) * 5
    labels = torch.randint(v, (b, n), generator=g)
    labels[torch.rand(b, n, generator=g) < 0.5] = IGNORE
    labels[0, 0] = 0
    ref = F.cross_entropy(logits.reshape(-1, v), labels.reshape(-1), ignore_index=IGNORE)
    assert torch.allclose(masked_cross_entropy(logits, labels), ref, atol=1e-12)


def test_masked_ce_bad_inputs():
    with pytest.raises(ValueError, match="no position"):
        masked_cross_entropy(torch.zeros(2, 3), torch.full((2,), IGNORE))
    with pytest.raises(ValueError, match="vocabulary axis"):
        masked_cross_entropy(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="logits must be a torch tensor"):
        masked_cross_entropy(np.zeros((2, 3)), torch.zeros(2, dtype=torch.long))


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 25), max_len=st.integers(1, 10), seed=st.integers(0, 10_000))
def test_best_span_equals_brute_force(n, max_len, seed):
    rng = np.random.default_rng(seed)
    s, e = rng.integers(-3, 4, size=n).astype(float), rng.integers(-3, 4, size=n).astype(float)  # many ties
    i, j, score = best_span(s, e, max_len)
    assert (i, j, score) == best_span_brute(s, e, max_len)
    assert i <= j < i + max_len


def test_best_span_edges_and_bad_inputs():
    assert best_span([1.0], [2.0], 1) == (0, 0, 3.0)
    assert best_span([0.0, 5.0], [9.0, 0.0], 5) == (0, 0, 9.0)  # end before start is not allowed
    with pytest.raises(ValueError, match=r"end_logits must have shape \(n,\) with n = 2"):
        best_span([1.0, 2.0], [1.0], 2)
    with pytest.raises(ValueError, match="start_logits must be a non-empty"):
        best_span([], [], 2)
    with pytest.raises(ValueError, match="max_len"):
        best_span([1.0], [1.0], 0)
    with pytest.raises(ValueError, match="finite"):
        best_span([np.nan], [1.0], 1)
    with pytest.raises(ValueError, match="non-empty"):
        best_span_brute([], [], 1)


def test_two_clause_qa_answer_is_the_asked_sentences_place_phrase():
    import numpy as np
    from mlnotes.bert import PAD, two_clause_qa, topic_vocab
    vocab = topic_vocab()
    ids, start, end, asked = two_clause_qa(50, np.random.default_rng(0), vocab)
    assert ids.shape == (50, 24) and (end - start == 2).all() and 0 < asked.mean() < 1
    for row in range(50):
        words = [vocab[t] for t in ids[row].tolist() if t != PAD]
        sep = words.index("[SEP]")
        first_len = words[sep + 1:].index("a") + 2            # 'prep a place' closes clause 1
        answer = words[start[row]:end[row] + 1]
        assert answer[1] == "a" and len(answer) == 3
        # the asked subject opens the clause whose place phrase is the answer
        clause_start = sep + 1 if end[row] == sep + first_len else sep + 1 + first_len
        assert words[clause_start] == words[1]


def test_draw_masking_grid_fractions_follow_the_recipe():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mlnotes.bert import draw_masking_grid
    fig, ax = plt.subplots()
    f = draw_masking_grid(ax, p=0.3, recipe="80/10/10", rows=100, cols=100)
    selected = 1 - f["kept"]
    assert abs(selected - 0.3) < 0.02 and abs(f["[MASK]"] / selected - 0.8) < 0.03
    assert "[MASK]" in ax.get_title() and "$p$ = 0.30" in ax.get_title()
    g = draw_masking_grid(ax, p=0.3, recipe="0/0/100", rows=100, cols=100)
    assert g["[MASK]"] == 0 and g["random"] == 0 and g["kept"] == f["kept"]  # common random numbers
    h = draw_masking_grid(ax, p=0.05, recipe="100/0/0", rows=100, cols=100)
    assert h["kept"] > f["kept"] and h["random"] == h["unchanged"] == 0
    with pytest.raises(ValueError, match="recipe"):
        draw_masking_grid(ax, recipe="50/50")
    plt.close(fig)


def test_draw_top_fillers_masks_the_word_and_ranks_the_bars():
    import matplotlib.pyplot as plt

    fig = draw_top_fillers(["chef", "eats", "the", "apple"], 0, ["chef", "baker", "child"],
                           np.array([0.5, 0.3, 0.2]))
    ax = fig.axes[0]
    assert ax.get_title() == "[MASK] eats the apple"
    widths = [bar.get_width() for bar in ax.patches]
    ys = [bar.get_y() for bar in ax.patches]
    assert np.allclose(widths, [0.5, 0.3, 0.2]) and ys[0] > ys[1] > ys[2]  # best on top
    labels = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
    assert labels == {2: "chef", 1: "baker", 0: "child"}  # the best filler on the top row
    plt.close(fig)

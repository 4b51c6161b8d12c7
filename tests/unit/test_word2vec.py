"""Tests for mlnotes.word2vec: SGNS gradients against torch autograd, pairs, frequency tricks, gensim."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from mlnotes.word2vec import (DEVICES, SGNS, _scatter_sum, build_vocab, corpus_pairs, log_sigmoid,
                              noise_distribution, one_hot, skipgram_pairs,
                              subsample_keep_prob, synthetic_animal_corpus)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 20), st.integers(1, 6))
def test_pair_count_formula(T, c):
    pairs = skipgram_pairs(np.arange(T), c)
    assert pairs.shape == (sum(min(c, t) + min(c, T - 1 - t) for t in range(T)), 2)
    assert np.all(np.abs(pairs[:, 0] - pairs[:, 1]) <= c) and np.all(pairs[:, 0] != pairs[:, 1])


def test_pairs_small_cases():
    assert skipgram_pairs([7], 3).shape == (0, 2)
    assert skipgram_pairs([1, 2], 1).tolist() == [[1, 2], [2, 1]]
    assert corpus_pairs([["a", "b", "zzz"]], ["a", "b"], 2).tolist() == [[0, 1], [1, 0]]


def test_build_vocab_sorted_by_count():
    words, counts = build_vocab([["b", "a", "b"], ["c", "a", "b"]])
    assert words == ["b", "a", "c"] and counts.tolist() == [3, 2, 1]
    assert build_vocab([["b", "a", "b"]], min_count=2)[0] == ["b"]


def test_corpus_is_deterministic_and_structured():
    a, b = synthetic_animal_corpus(200, seed=1), synthetic_animal_corpus(200, seed=1)
    assert a == b and all(len(s) == 5 for s in a)
    assert any(w in s for s in a for w in DEVICES)


def test_log_sigmoid_matches_torch_and_extremes():
    x = np.array([-800.0, -5.0, 0.0, 3.0, 800.0])
    assert np.allclose(log_sigmoid(x), F.logsigmoid(torch.tensor(x)).numpy())
    assert np.all(np.isfinite(log_sigmoid(x)))


def test_gradients_match_torch_autograd():
    model = SGNS([f"w{i}" for i in range(12)], dim=6, seed=0)
    model.W_out = np.random.default_rng(1).normal(size=model.W_out.shape)
    c, o, negs = 3, 5, [1, 8, 8]  # a repeated negative counts twice
    loss, d_v, d_uo, d_un = model.loss_and_grads(c, o, negs)
    W_in = torch.tensor(model.W_in, requires_grad=True)
    W_out = torch.tensor(model.W_out, requires_grad=True)
    v = W_in[c]
    ref = -F.logsigmoid(W_out[o] @ v) - F.logsigmoid(-(W_out[negs] @ v)).sum()
    ref.backward()
    assert np.isclose(loss, ref.item())
    assert np.allclose(d_v, W_in.grad[c].numpy())
    assert np.allclose(d_uo, W_out.grad[o].numpy())
    assert np.allclose(d_un[0], W_out.grad[1].numpy()) and np.allclose(d_un[1] + d_un[2], W_out.grad[8].numpy())


def test_scatter_sum_equals_add_at():
    rng = np.random.default_rng(0)
    rows, vals = rng.integers(0, 7, 50), rng.normal(size=(50, 3))
    ref = np.zeros((7, 3))
    np.add.at(ref, rows, vals)
    assert np.allclose(_scatter_sum(rows, vals, 7), ref)


def test_one_hot_selects_row():
    W = np.random.default_rng(0).normal(size=(5, 3))
    assert all(np.array_equal(one_hot(i, 5) @ W, W[i]) for i in range(5))


def test_keep_prob_values():
    keep = subsample_keep_prob([1e-4, 1e-3, 1e-2, 1e-1])
    assert np.allclose(keep, [1, 1, 0.41623, 0.11], atol=1e-5)
    assert np.allclose(subsample_keep_prob([0.01], variant="paper"), [np.sqrt(0.1)])


def test_noise_distribution():
    counts = np.array([100, 10, 1, 0])
    p = noise_distribution(counts)
    assert np.isclose(p.sum(), 1) and p[3] == 0
    assert np.allclose(noise_distribution(counts, power=1.0), counts / counts.sum())
    assert np.allclose(noise_distribution(counts[:3], power=0.0), 1 / 3)
    uni = counts[:3] / counts[:3].sum()
    ent = lambda q: -(q * np.log(q)).sum()  # noqa: E731
    assert ent(noise_distribution(counts[:3])) > ent(uni)


@pytest.fixture(scope="module")
def trained():
    sents = synthetic_animal_corpus(1500, seed=0)
    vocab, counts = build_vocab(sents)
    model = SGNS(vocab, dim=16, seed=0)
    history = model.fit(corpus_pairs(sents, vocab, 4), noise_distribution(counts), epochs=4)
    return model, history, sents


def test_training_learns_structure(trained):
    model, history, _ = trained
    assert history[-1] < history[0] and np.all(np.isfinite(history))
    assert model.analogy("kitten", "cat", "dog", topn=1)[0][0] == "puppy"
    assert model.similarity("cat", "kitten") > max(model.similarity("cat", d) for d in DEVICES)


def test_agrees_with_gensim(trained):
    from gensim.models import Word2Vec

    _, _, sents = trained
    g = Word2Vec(sents, vector_size=16, window=4, sg=1, negative=5, min_count=1, sample=0,
                 workers=1, seed=1, epochs=5)
    assert g.wv.most_similar(positive=["kitten", "dog"], negative=["cat"], topn=1)[0][0] == "puppy"


def test_bad_inputs(trained):
    model = trained[0]
    with pytest.raises(ValueError, match="n_sent must be >= 1"):
        synthetic_animal_corpus(0)
    with pytest.raises(ValueError, match="sentences must hold at least 1 items, got 0"):
        build_vocab([])
    with pytest.raises(TypeError, match=r"sentences\[0\] must be a list or tuple, got str"):
        build_vocab(["a b c"])
    with pytest.raises(ValueError, match="no word occurs"):
        build_vocab([["a"]], min_count=3)
    with pytest.raises(ValueError, match="window must be >= 1"):
        skipgram_pairs([1, 2, 3], 0)
    with pytest.raises(ValueError, match="ids must be a 1-D array"):
        skipgram_pairs([[1, 2]], 1)
    with pytest.raises(TypeError, match="ids must be an integer array"):
        skipgram_pairs([1.5, 2.0], 1)
    with pytest.raises(ValueError, match="vocab must hold at least 1 items, got 0"):
        corpus_pairs([["a"]], [], 1)
    with pytest.raises(ValueError, match=r"each must be in \(0, 1\]"):
        subsample_keep_prob([0.0, 0.5])
    with pytest.raises(ValueError, match="variant must be"):
        subsample_keep_prob([0.5], variant="x")
    with pytest.raises(ValueError, match="t must be in"):
        subsample_keep_prob([0.5], t=2.0)
    with pytest.raises(ValueError, match=r"counts must have values in \[0, inf\]"):
        noise_distribution([1, -1])
    with pytest.raises(ValueError, match="power must be in"):
        noise_distribution([1, 2], power=2)
    with pytest.raises(ValueError, match="not all be zero"):
        noise_distribution([0, 0])
    with pytest.raises(ValueError, match="i must be <= 4, got 5"):
        one_hot(5, 5)
    with pytest.raises(TypeError, match="V must be an int"):
        one_hot(0, 2.5)
    with pytest.raises(TypeError, match="x must be a numeric array"):
        log_sigmoid(["a", "b"])
    with pytest.raises(ValueError, match="vocab must not repeat a token"):
        SGNS(["a", "a"])
    with pytest.raises(ValueError, match="dim must be >= 1"):
        SGNS(["a", "b"], dim=0)
    with pytest.raises(ValueError, match=r"o must be <= \d+, got 999"):
        model.loss_and_grads(0, 999, [1])
    with pytest.raises(ValueError, match=r"pairs must have shape \(any, 2\)"):
        model.fit(np.zeros((3, 3), dtype=int), np.full(len(model.vocab), 1 / len(model.vocab)))
    with pytest.raises(ValueError, match="noise must sum to 1"):
        model.fit(np.zeros((3, 2), dtype=int), np.ones(len(model.vocab)))
    with pytest.raises(ValueError, match="lr must be in"):
        model.fit(np.zeros((3, 2), dtype=int), np.full(len(model.vocab), 1 / len(model.vocab)), lr=5)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.vector("unicorn")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.similarity("cat", "unicorn")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        model.analogy("cat", "dog", "unicorn")
    with pytest.raises(ValueError, match="topn must be >= 1"):
        model.most_similar("cat", topn=0)


def test_species_dominant_corpus_and_draw_embedding():
    import matplotlib.pyplot as plt
    import numpy as np
    from mlnotes.word2vec import draw_embedding, synthetic_animal_corpus

    s = synthetic_animal_corpus(50, seed=0, n_species=3, n_age=1)
    animal = [x for x in s if len(x) == 5 and {"cat", "dog", "kitten", "puppy"} & set(x)]
    assert animal and all(len(x) == 5 for x in s)
    fig, ax = plt.subplots()
    draw_embedding(ax, np.arange(14.0).reshape(7, 2), ["a"] * 7, "t")
    assert len(ax.collections) == 2
    plt.close(fig)


import numpy as _np  # noqa: E402
from adversarial_examples import Example  # noqa: E402

_SENTS = [["a", "b", "c"], ["b", "c", "d"]]

ADVERSARIAL = {
    "synthetic_animal_corpus": Example(5),
    "build_vocab": Example(_SENTS),
    "skipgram_pairs": Example([0, 1, 2, 3], 2, accepts={"ids": "empty"}),  # no pairs
    "corpus_pairs": Example(_SENTS, ["a", "b", "c", "d"], 1),
    "subsample_keep_prob": Example(_np.array([1e-4, 0.1])),
    "noise_distribution": Example(_np.array([3.0, 1.0, 2.0])),
    "one_hot": Example(1, 4, accepts={"i": "0"}),                     # e_0 is valid
    "log_sigmoid": Example(_np.array([-1.0, 0.0, 2.0]),
                           accepts={"x": "inf inf-array ndim empty"}),  # elementwise
    "SGNS": Example(["a", "b", "c"], dim=4),
    "draw_embedding": Example(xy=_np.arange(14.0).reshape(7, 2), words=list("abcdefg"),
                              title="t", accepts={"title": "other-str"},
                              fresh=lambda: {"ax": __import__("matplotlib.pyplot")
                                             .pyplot.subplots()[1]}),
}
ADVERSARIAL_EXEMPT = {n: "a constant of the synthetic corpus, not a function"
                      for n in ("DEVICES", "SPECIES_CONTEXT", "AGE_CONTEXT", "ANIMALS")}

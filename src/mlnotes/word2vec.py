"""Word2Vec skip-gram with negative sampling (SGNS) in numpy, and the pieces around it.

Holds

- ``synthetic_animal_corpus``: a factorial toy corpus (species x age, plus devices) whose
  structure the embeddings should recover;
- ``build_vocab``, ``skipgram_pairs``, ``corpus_pairs``: from sentences to (centre, context) ids;
- ``subsample_keep_prob`` and ``noise_distribution``: word2vec's two frequency tricks;
- ``one_hot``, ``log_sigmoid``: small helpers the derivation uses (gradient checks use
  ``mlnotes.core.numerical_grad``);
- ``SGNS``: input/output embedding matrices, per-pair loss and gradients, mini-batch SGD,
  cosine neighbours and analogies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from mlnotes.validate import checked, arg

__all__ = ["synthetic_animal_corpus", "build_vocab", "skipgram_pairs", "corpus_pairs",
           "subsample_keep_prob", "noise_distribution", "one_hot", "log_sigmoid", "SGNS",
           "draw_embedding", "DEVICES", "SPECIES_CONTEXT", "AGE_CONTEXT", "ANIMALS"]

SPECIES_CONTEXT = {"cat": ["meows", "purrs", "whiskers", "mouse", "climbs"],
                   "dog": ["barks", "wags", "fetch", "bone", "leash"]}
AGE_CONTEXT = {"adult": ["grown", "old", "calm", "large"],
               "young": ["tiny", "newborn", "playful", "small"]}
ANIMALS = {("cat", "adult"): "cat", ("cat", "young"): "kitten",
           ("dog", "adult"): "dog", ("dog", "young"): "puppy"}
DEVICES = ["iphone", "laptop", "tablet"]
DEVICE_CONTEXT = ["screen", "battery", "charger", "app", "wifi", "keyboard"]


@checked(n_sent=arg.int(1, 10**6), n_species=arg.int(1, 5), n_age=arg.int(1, 4), seed=arg.seed())
def synthetic_animal_corpus(n_sent: int, seed: int = 0, n_species: int = 3,
                            n_age: int = 1) -> list[list[str]]:
    """``n_sent`` shuffled sentences: an animal word with ``n_species`` species context words
    and ``n_age`` age context words, or a device with 4 device context words (one sentence
    in five is about a device).

    cat/kitten share species contexts, kitten/puppy share age contexts, so
    kitten - cat + dog should land on puppy. With more species than age words per sentence
    (the default 3 and 1), species dominates, as in real text: kitten is closer to cat than
    dog is. No stop word is shared by all sentences.
    """
    rng = np.random.default_rng(seed)
    animals = list(ANIMALS.items())
    sentences = []
    for _ in range(n_sent):
        if rng.random() < 0.2:
            words = [DEVICES[rng.integers(len(DEVICES))]] + list(rng.choice(DEVICE_CONTEXT, 4, replace=False))
        else:
            (species, age), word = animals[rng.integers(len(animals))]
            words = ([word] + list(rng.choice(SPECIES_CONTEXT[species], n_species, replace=False))
                     + list(rng.choice(AGE_CONTEXT[age], n_age, replace=False)))
        sentences.append([str(w) for w in rng.permutation(words)])
    return sentences


# A corpus: a non-empty list of sentences, each a list of word strings.
_SENTENCES = arg.sequence(arg.sequence(arg.text(min_len=0), min_len=0))


@checked(sentences=_SENTENCES, min_count=arg.int(1))
def build_vocab(sentences: Sequence[Sequence[str]], min_count: int = 1) -> tuple[list[str], np.ndarray]:
    """Vocabulary sorted by frequency (ties alphabetically) and counts: ``(words, counts (V,))``."""
    counts = Counter(w for s in sentences for w in s)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if not words:
        raise ValueError(f"no word occurs at least min_count={min_count} times")
    return words, np.array([counts[w] for w in words], dtype=np.int64)


@checked(ids=arg.array(ndim=1, integer=True, allow_empty=True), window=arg.int(1, 10**4))
def skipgram_pairs(ids: Sequence[int], window: int) -> np.ndarray:
    """All (centre, context) pairs of one sentence: ``(ids[t], ids[t+j])`` for ``0 < |j| <= window``.

    Returns an int array of shape (P, 2), P = sum_t min(window, t) + min(window, T-1-t).
    """
    return _pairs(ids, window)


def _pairs(ids: Sequence[int], window: int) -> np.ndarray:
    T = len(ids)
    pairs = [(ids[t], ids[t + j]) for t in range(T) for j in range(-window, window + 1)
             if j != 0 and 0 <= t + j < T]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


@checked(sentences=_SENTENCES, vocab=arg.sequence(arg.text()), window=arg.int(1, 10**4))
def corpus_pairs(sentences: Sequence[Sequence[str]], vocab: Sequence[str], window: int) -> np.ndarray:
    """Skip-gram pairs of every sentence, words mapped to their index in ``vocab``: (P, 2).

    Words outside ``vocab`` are dropped before pairing (as word2vec does).
    """
    index = {w: i for i, w in enumerate(vocab)}
    chunks = [_pairs([index[w] for w in s if w in index], window) for s in sentences]
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.int64)


@checked(freq=arg.array(ndim=1, low=0, high=1), t=arg.probability(low_open=True, high_open=True),
         variant=arg.choice(("c", "paper")))
def subsample_keep_prob(freq: object, t: float = 1e-3, variant: str = "c") -> np.ndarray:
    """Probability of keeping each occurrence of a word of relative frequency ``z``.

    ``variant="c"`` (word2vec's C code): ``(sqrt(z / t) + 1) * t / z``; ``"paper"``:
    ``sqrt(t / z)`` (the paper discards with ``1 - sqrt(t / z)``). Both clipped to [0, 1].
    """
    z = freq
    if np.any(z == 0):
        raise ValueError("freq holds relative frequencies: each must be in (0, 1]")
    keep = (np.sqrt(z / t) + 1) * t / z if variant == "c" else np.sqrt(t / z)
    return np.minimum(keep, 1.0)


@checked(counts=arg.array(ndim=1, low=0), power=arg.probability())
def noise_distribution(counts: object, power: float = 0.75) -> np.ndarray:
    """Negative-sampling distribution ``counts**power / sum(counts**power)``, shape (V,)."""
    c = counts
    if not c.sum() > 0:
        raise ValueError("counts must not all be zero")
    p = np.where(c > 0, c ** power, 0.0)
    return p / p.sum()


@checked(V=arg.int(1, 10**7), i=arg.int(low=0, high="V - 1"))
def one_hot(i: int, V: int) -> np.ndarray:
    """The ``V``-dimensional unit vector e_i (float64)."""
    e = np.zeros(V)
    e[i] = 1.0
    return e


@checked(x=arg.array(finite=False))
def log_sigmoid(x: object) -> np.ndarray:
    """``log sigma(x) = -log(1 + exp(-x))``, computed as ``-logaddexp(0, -x)`` (no overflow)."""
    a = x                   # real numbers, +-inf allowed
    if np.isnan(a).any():
        raise ValueError("x contains NaN")
    return -np.logaddexp(0.0, -a)


def _scatter_sum(rows: np.ndarray, values: np.ndarray, V: int) -> np.ndarray:
    """``out[r] = sum of values[i] with rows[i] == r``, shape (V, d): ``np.add.at`` with one bincount."""
    d = values.shape[1]
    flat = (rows[:, None] * d + np.arange(d)).ravel()
    return np.bincount(flat, weights=values.ravel(), minlength=V * d).reshape(V, d)


class SGNS:
    """Skip-gram with negative sampling: input vectors ``W_in`` (V, dim), output vectors ``W_out``.

    For a centre word c, a true context o and negatives n_1..n_K the loss is
    ``-log sigma(u_o . v_c) - sum_k log sigma(-u_{n_k} . v_c)`` with ``v = W_in[c]``, ``u = W_out[.]``.
    ``W_in`` starts uniform in +-0.5/dim and ``W_out`` at zero, as in word2vec.
    """

    @checked(vocab=arg.vocab(), dim=arg.int(1, 4096), seed=arg.seed())
    def __init__(self, vocab: Sequence[str], dim: int = 16, seed: int = 0):
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        V = len(self.vocab)
        self.W_in = self.rng.uniform(-0.5 / dim, 0.5 / dim, size=(V, dim))
        self.W_out = np.zeros((V, dim))

    @checked(c=arg.int(low=0, high="len(self.vocab) - 1"), o=arg.int(low=0, high="len(self.vocab) - 1"),
             negs=arg.array(integer=True, low=0, high="len(self.vocab) - 1"))
    def loss_and_grads(self, c: int, o: int, negs: Sequence[int]) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Loss of one (c, o, negatives) example and its gradients.

        Returns ``(loss, d v_c (dim,), d u_o (dim,), d u_negs (K, dim))`` with
        ``d v_c = (sigma(s_o) - 1) u_o + sum_k sigma(s_k) u_k``, ``d u_o = (sigma(s_o) - 1) v_c``,
        ``d u_k = sigma(s_k) v_c`` where ``s = u . v_c``.
        """
        negs = negs.reshape(-1)
        # region: loss-and-grads
        v, u_o, u_n = self.W_in[c], self.W_out[o], self.W_out[negs]
        s_o, s_n = u_o @ v, u_n @ v
        loss = -log_sigmoid(s_o) - log_sigmoid(-s_n).sum()
        g_o = 1.0 / (1.0 + np.exp(-s_o)) - 1.0
        g_n = 1.0 / (1.0 + np.exp(-s_n))
        return float(loss), g_o * u_o + g_n @ u_n, g_o * v, g_n[:, None] * v[None, :]
        # endregion

    @checked(pairs=arg.array(shape=(None, 2), integer=True, low=0, high="len(self.vocab) - 1"),
             noise=arg.array(shape=("len(self.vocab)",), low=0, sums_to=1), lr=arg.real(0, 1, low_open=True),
             epochs=arg.int(1), batch=arg.int(1), K=arg.int(1))
    def fit(self, pairs: np.ndarray, noise: np.ndarray, epochs: int = 5, lr: float = 0.02,
            batch: int = 128, K: int = 5) -> list[float]:
        """Mini-batch SGD over shuffled ``pairs`` (P, 2); returns the mean loss of each epoch.

        Negatives are drawn from ``noise`` (V,) (they may occasionally equal the true context).
        Per-pair gradients are summed into the rows they touch (a scatter-add, like ``np.add.at``).
        Calling ``fit`` again continues training with the model's own random stream.
        """
        V, cdf = len(self.vocab), np.cumsum(noise)
        history = []
        for _ in range(epochs):
            order = self.rng.permutation(len(pairs))
            total = 0.0
            for start in range(0, len(pairs), batch):
                c, o = pairs[order[start:start + batch]].T
                negs = np.minimum(np.searchsorted(cdf, self.rng.random((len(c), K))), V - 1)
                total += self._step(c, o, negs, lr)
            history.append(total / len(pairs))
        return history

    def _step(self, c: np.ndarray, o: np.ndarray, negs: np.ndarray, lr: float) -> float:
        v, u_o, u_n = self.W_in[c], self.W_out[o], self.W_out[negs]
        s_o = np.einsum("bd,bd->b", u_o, v)
        s_n = np.einsum("bkd,bd->bk", u_n, v)
        loss = -(log_sigmoid(s_o).sum() + log_sigmoid(-s_n).sum())
        g_o = 1.0 / (1.0 + np.exp(-s_o)) - 1.0
        g_n = 1.0 / (1.0 + np.exp(-s_n))
        d_v = g_o[:, None] * u_o + np.einsum("bk,bkd->bd", g_n, u_n)
        rows = np.concatenate([o, negs.ravel()])
        grads = np.concatenate([g_o[:, None] * v, (g_n[:, :, None] * v[:, None, :]).reshape(-1, self.dim)])
        self.W_out -= lr * _scatter_sum(rows, grads, len(self.vocab))
        self.W_in -= lr * _scatter_sum(c, d_v, len(self.vocab))
        return float(loss)

    def vector(self, word: str) -> np.ndarray:
        """The input (embedding) vector of ``word``, shape (dim,)."""
        if word not in self.index:
            raise ValueError(f"{word!r} is not in the vocabulary")
        return self.W_in[self.index[word]]

    def _normed(self) -> np.ndarray:
        return self.W_in / np.maximum(np.linalg.norm(self.W_in, axis=1, keepdims=True), 1e-12)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of the input vectors of two words."""
        va, vb = self.vector(a), self.vector(b)
        return float(va @ vb / max(np.linalg.norm(va) * np.linalg.norm(vb), 1e-12))

    @checked(topn=arg.int(1))
    def most_similar(self, word: str, topn: int = 5) -> list[tuple[str, float]]:
        """The ``topn`` words with the largest cosine to ``word`` (the word itself excluded)."""
        return self._nearest(self.vector(word), {word}, topn)

    @checked(topn=arg.int(1))
    def analogy(self, a: str, b: str, c: str, topn: int = 5) -> list[tuple[str, float]]:
        """Words closest (cosine) to ``a - b + c`` on unit vectors, excluding a, b, c.

        ``analogy("kitten", "cat", "dog")`` asks: kitten is to cat as ? is to dog.
        """
        for w in (a, b, c):
            self.vector(w)  # raises on a word outside the vocabulary
        n = self._normed()
        target = n[self.index[a]] - n[self.index[b]] + n[self.index[c]]
        return self._nearest(target, {a, b, c}, topn)

    def _nearest(self, target: np.ndarray, exclude: set[str], topn: int) -> list[tuple[str, float]]:
        sims = self._normed() @ (target / max(np.linalg.norm(target), 1e-12))
        order = [i for i in np.argsort(-sims, kind="stable") if self.vocab[i] not in exclude]
        return [(self.vocab[i], float(sims[i])) for i in order[:topn]]


@checked(ax=arg.axes(), xy=arg.array(shape=(7, 2)), words=arg.sequence(arg.text(), min_len=7, max_len=7),
         title=arg.text(min_len=0))
def draw_embedding(ax, xy: np.ndarray, words: Sequence[str], title: str) -> None:
    """Scatter of the 2-D coordinates ``xy`` (7, 2) of the four animals then three devices,
    labelled, with the cat-kitten-puppy-dog loop dashed."""
    from mlnotes.plotting import PALETTE

    ax.scatter(xy[:4, 0], xy[:4, 1], color=PALETTE["orange"], label="animals")
    ax.scatter(xy[4:, 0], xy[4:, 1], color=PALETTE["green"], marker="s", label="devices")
    for i, ((x, y), w) in enumerate(zip(xy, words)):
        ax.annotate(w, (x, y), textcoords="offset points", fontsize=9,
                    xytext=(4, 4 if i < 4 else 12 * (i - 5) - 3))
    ax.plot(*xy[[0, 1, 3, 2, 0]].T, color="black", lw=0.8, ls="--")
    ax.set(xlabel="principal component 1", ylabel="principal component 2", title=title)
    ax.legend(loc="best")

"""Unsupervised word discovery for Chinese: n-gram cohesion, coarse cutting, backtracking.

Holds

- ``load_jieba_dict`` and ``synthetic_zh_corpus``: a corpus with a known (gold) segmentation,
  sampled from the word frequencies of jieba's bundled ``dict.txt``, optionally with planted words;
- ``char_ngrams`` and ``cohesion``: n-gram counts and the minimum-PMI "solidity" of a string;
- ``solid_ngrams``, ``coarse_cut``, ``backtrack_filter`` and ``discover_words``: the algorithm of
  Su Jianlin's "better new-word discovery" (count, keep solid n-grams, cut only where no solid
  n-gram covers the boundary, count the pieces, drop pieces with a non-solid window);
- ``lexicon_prf``, ``segmentation_prf`` and ``jieba_segment``: evaluation.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlnotes.core import check_seed
from mlnotes.validate import checked, arg

__all__ = ["DEFAULT_THRESHOLDS", "jieba_dict_path", "load_jieba_dict", "synthetic_zh_corpus",
           "char_ngrams", "cohesion", "solid_ngrams", "coarse_cut", "backtrack_filter",
           "Discovery", "discover_words", "lexicon_prf", "boundary_ngrams",
           "segmentation_prf", "jieba_segment", "threshold_sweep", "draw_pr"]

DEFAULT_THRESHOLDS = {2: 5.0, 3: 25.0, 4: 125.0}


def _check_words(name: str, words: object) -> set[str]:
    if isinstance(words, (str, bytes)) or not hasattr(words, "__iter__"):
        raise TypeError(f"{name} must be a collection of words (str), got {type(words).__name__}")
    words = set(words)
    if not all(isinstance(w, str) for w in words):
        raise TypeError(f"{name} must be str words (a collection of str)")
    return words


def _check_sentence_list(name: str, sentences: object) -> list:
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Sequence):
        raise TypeError(f"{name} must be a list of word lists, got {type(sentences).__name__}")
    if not sentences:
        raise ValueError(f"{name} must be a non-empty list of word lists")
    return list(sentences)


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a list of str, got {type(texts).__name__}")
    if not texts:
        raise ValueError("texts is empty")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must all be str")
    return list(texts)


def jieba_dict_path() -> str:
    """Path of ``dict.txt`` inside the installed jieba package (349k words with frequencies)."""
    import jieba

    return os.path.join(os.path.dirname(jieba.__file__), "dict.txt")


@checked(top=arg.int(1))
def load_jieba_dict(top: int = 3000) -> list[tuple[str, int]]:
    """The ``top`` most frequent words of jieba's dictionary as ``(word, frequency)``, most frequent first.

    Ties in frequency keep the dictionary's order. Only words made of CJK ideographs are kept.
    """
    return _sorted_dict()[:top]


@functools.lru_cache(maxsize=1)
def _sorted_dict() -> list[tuple[str, int]]:
    rows = []
    with open(jieba_dict_path(), encoding="utf-8") as handle:
        for line in handle:
            word, freq = line.split()[:2]
            if all("\u4e00" <= ch <= "\u9fff" for ch in word):
                rows.append((word, int(freq)))
    rows.sort(key=lambda r: -r[1])
    return rows


@checked(n_sent=arg.int(1, 10**6), seed=arg.seed(), collocations=arg.int(0, 10_000))
def synthetic_zh_corpus(n_sent: int, top: int = 3000, seed: int = 0, planted: Sequence[str] = (),
                        planted_prob: float = 0.02, words_per_sentence: tuple[int, int] = (4, 12),
                        collocations: int = 0, colloc_prob: float = 0.3) -> list[list[str]]:
    """Sentences drawn from jieba's ``top`` words; each is a list of gold words.

    Each word slot is one of the ``planted`` words with probability ``planted_prob`` each, otherwise a
    dictionary word drawn with probability proportional to its frequency. The sentence length in words
    is uniform on ``words_per_sentence`` (inclusive). ``"".join(sentence)`` is the raw text.

    With ``collocations > 0`` words are no longer independent: that many fixed pairs of words
    (both drawn from the 300 most frequent words) are chosen once, and each slot is, with
    probability ``colloc_prob``, one of these pairs (uniformly) written as two gold words, like
    the set phrases of real text (中国 人民, 经济 发展). PMI then sees the pair as one solid string.
    """
    planted = list(planted)
    if not all(isinstance(w, str) and w for w in planted):
        raise TypeError("planted must be a list of non-empty str")
    if not 0 <= planted_prob * len(planted) < 1:
        raise ValueError(f"planted_prob * len(planted) must be in [0, 1), got {planted_prob * len(planted)}")
    lo, hi = words_per_sentence
    if not 1 <= lo <= hi:
        raise ValueError(f"words_per_sentence must be (lo, hi) with 1 <= lo <= hi, got {words_per_sentence}")
    rng = np.random.default_rng(seed)
    vocab = load_jieba_dict(top)
    words = [w for w, _ in vocab] + planted
    freq = np.array([f for _, f in vocab], dtype=np.float64)
    p = np.concatenate([freq / freq.sum() * (1 - planted_prob * len(planted)),
                        np.full(len(planted), planted_prob)])
    lengths = rng.integers(lo, hi + 1, size=n_sent)
    draws = rng.choice(len(words), size=int(lengths.sum()), p=p)
    pairs = [tuple(rng.choice(300, 2, replace=False)) for _ in range(collocations)]
    use_pair = rng.random(len(draws)) < (colloc_prob if collocations else 0.0)
    which = rng.integers(max(collocations, 1), size=len(draws))
    out, start = [], 0
    for n in lengths:
        sentence = []
        for j in range(start, start + n):
            if use_pair[j]:
                a, b = pairs[which[j]]
                sentence += [vocab[a][0], vocab[b][0]]
            else:
                sentence.append(words[draws[j]])
        out.append(sentence)
        start += n
    return out


@checked(n=arg.int(1))
def char_ngrams(texts: Sequence[str], n: int = 4) -> Counter:
    """Counts of every substring of length 1..n inside each text (never across texts)."""
    texts = _check_texts(texts)
    counts: Counter = Counter()
    for t in texts:
        for k in range(1, n + 1):
            counts.update(t[i:i + k] for i in range(len(t) - k + 1))
    return counts


def _total(counts: Mapping[str, int]) -> int:
    return sum(c for s, c in counts.items() if len(s) == 1)


def cohesion(s: str, counts: Mapping[str, int], total: int | None = None) -> float:
    """Internal solidity of ``s``: ``min over cuts s = l + r of P(s) / (P(l) P(r))``.

    ``P(x) = count(x) / total`` with ONE normaliser for all lengths, ``total`` = number of
    characters (the unigram tokens). The log of this is the minimum PMI over cuts.
    """
    if not isinstance(s, str) or len(s) < 2:
        raise ValueError(f"s must be a str of length >= 2, got {s!r}")
    if not isinstance(counts, Mapping):
        raise TypeError(f"counts must be a mapping n-gram -> count, got {type(counts).__name__}")
    if total is None:
        total = _total(counts)
    if not total > 0:
        raise ValueError("total must be > 0 (counts needs the single characters)")
    c = counts.get(s, 0)
    if c == 0:
        return 0.0
    return min(c * total / (counts[s[:i]] * counts[s[i:]]) for i in range(1, len(s)))


def _check_thresholds(thresholds: Mapping[int, float], n: int) -> dict[int, float]:
    if not isinstance(thresholds, Mapping) or any(k not in thresholds for k in range(2, n + 1)):
        raise ValueError(f"thresholds must give a value for every length 2..{n}, got {thresholds!r}")
    return {k: float(thresholds[k]) for k in range(2, n + 1)}


@checked(n=arg.int(2), min_count=arg.int(1))
def solid_ngrams(counts: Mapping[str, int], n: int = 4, min_count: int = 8,
                 thresholds: Mapping[int, float] = DEFAULT_THRESHOLDS) -> set[str]:
    """The set G of n-grams (length 2..n) with count >= ``min_count`` and cohesion >= thresholds[length]."""
    if not isinstance(counts, Mapping) or not counts:
        raise ValueError("counts must be a non-empty mapping n-gram -> count")
    thr = _check_thresholds(thresholds, n)
    total = _total(counts)
    return {s for s, c in counts.items()
            if 2 <= len(s) <= n and c >= min_count and cohesion(s, counts, total) >= thr[len(s)]}


@checked(n=arg.int(2))
def coarse_cut(text: str, solid: set[str], n: int = 4) -> list[str]:
    """Cut ``text`` at every boundary that no solid n-gram covers ("rather miss a cut than cut wrong").

    Overlapping solid n-grams glue together, so pieces longer than n can appear.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(solid, (set, frozenset)):
        raise TypeError(f"solid must be a set of str, got {type(solid).__name__}")
    if not text:
        return []
    glued = [False] * (len(text) - 1)  # glued[i]: no cut between text[i] and text[i+1]
    for k in range(2, n + 1):
        for i in range(len(text) - k + 1):
            if text[i:i + k] in solid:
                for j in range(i, i + k - 1):
                    glued[j] = True
    pieces, start = [], 0
    for i, g in enumerate(glued):
        if not g:
            pieces.append(text[start:i + 1])
            start = i + 1
    pieces.append(text[start:])
    return pieces


@checked(n=arg.int(2))
def backtrack_filter(candidates: Iterable[str], solid: set[str], n: int = 4) -> set[str]:  # noqa: D401
    """Keep a candidate when every window of length 3..n inside it is solid (Su's rule).

    Candidates of length 1 or 2 are kept (a 2-character piece only exists if it is solid).
    Removes glued overlaps such as AB + BC -> ABC whose 3-gram ABC is not itself solid.
    """
    candidates = _check_words("candidates", candidates)
    if not isinstance(solid, (set, frozenset)):
        raise TypeError(f"solid must be a set of str, got {type(solid).__name__}")
    kept = set()
    for s in candidates:
        if not isinstance(s, str):
            raise TypeError(f"candidates must be str, got {type(s).__name__}")
        if all(s[j:j + k] in solid for k in range(3, n + 1) for j in range(len(s) - k + 1)):
            kept.add(s)
    return kept


@dataclass
class Discovery:
    """Result of :func:`discover_words`: the lexicon and every intermediate step."""
    words: dict[str, int]
    candidates: Counter
    solid: set[str]
    counts: Counter = field(repr=False)


@checked(n=arg.int(2))
def discover_words(texts: Sequence[str], n: int = 4, min_count: int = 8,
                   thresholds: Mapping[int, float] = DEFAULT_THRESHOLDS, backtrack: bool = True,
                   counts: Counter | None = None) -> Discovery:
    """The whole pipeline: count n-grams, keep solid ones, coarse-cut, count pieces, backtrack.

    ``words`` maps each discovered word (count >= ``min_count``) to its count, most frequent first.
    Pass precomputed ``counts = char_ngrams(texts, n)`` to reuse them across settings.
    """
    texts = _check_texts(texts)
    if counts is None:
        counts = char_ngrams(texts, n)
    solid = solid_ngrams(counts, n, min_count, thresholds)
    candidates = Counter(piece for t in texts for piece in coarse_cut(t, solid, n))
    frequent = {s: c for s, c in candidates.items() if c >= min_count}
    keep = backtrack_filter(frequent, solid, n) if backtrack else set(frequent)
    words = dict(sorted(((s, c) for s, c in frequent.items() if s in keep), key=lambda x: (-x[1], x[0])))
    return Discovery(words=words, candidates=candidates, solid=solid, counts=counts)


def lexicon_prf(found: Iterable[str], gold: Iterable[str],
                vocabulary: Iterable[str] | None = None) -> tuple[float, float, float]:
    """Precision, recall and F1 of a set of words against a gold set (exact string match).

    Recall is ``|found & gold| / |gold|``. Precision is ``|found & vocabulary| / |found|``, where
    ``vocabulary`` (default: ``gold``) is the set of strings that count as real words; pass the whole
    generating vocabulary when ``gold`` only holds the words frequent enough to be discoverable.
    """
    found, gold = _check_words("found", found), _check_words("gold", gold)
    vocabulary = gold if vocabulary is None else _check_words("vocabulary", vocabulary)
    if not gold:
        raise ValueError("gold lexicon is empty")
    p = len(found & vocabulary) / len(found) if found else 0.0
    r = len(found & gold) / len(gold)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@checked(k=arg.int(2))
def boundary_ngrams(sentences: Sequence[Sequence[str]], k: int = 2) -> Counter:
    """Counts of the k-grams whose occurrence spans a gold word boundary (sentences as word lists)."""
    if isinstance(sentences, str) or not isinstance(sentences, Sequence) or not sentences:
        raise ValueError("sentences must be a non-empty list of word lists")
    counts: Counter = Counter()
    for words in sentences:
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise TypeError("each sentence must be a list of str words")
        text = "".join(words)
        cuts = np.cumsum([len(w) for w in words])[:-1]
        inside = np.zeros(len(text) + 1, dtype=bool)
        inside[cuts] = True  # a boundary sits before position c
        for i in range(len(text) - k + 1):
            if inside[i + 1:i + k].any():
                counts[text[i:i + k]] += 1
    return counts


def _spans(words: Sequence[str]) -> set[tuple[int, int]]:
    spans, pos = set(), 0
    for w in words:
        spans.add((pos, pos + len(w)))
        pos += len(w)
    return spans


def segmentation_prf(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> tuple[float, float, float]:
    """Word-level precision, recall, F1 of segmentations: a word counts when its span matches exactly."""
    predicted = _check_sentence_list("predicted", predicted)
    gold = _check_sentence_list("gold", gold)
    if len(predicted) != len(gold) or not gold:
        raise ValueError(f"need equally many non-zero sentences, got {len(predicted)} and {len(gold)}")
    hits = n_pred = n_gold = 0
    for p, g in zip(predicted, gold):
        if "".join(p) != "".join(g):
            raise ValueError(f"a predicted sentence does not spell its gold sentence: {''.join(p)!r:.40}")
        sp, sg = _spans(p), _spans(g)
        hits += len(sp & sg)
        n_pred += len(sp)
        n_gold += len(sg)
    precision, recall = hits / n_pred, hits / n_gold
    return precision, recall, 2 * precision * recall / (precision + recall) if hits else 0.0


def jieba_segment(texts: Sequence[str], lexicon: Mapping[str, int]) -> list[list[str]]:
    """Segment ``texts`` with jieba using ONLY ``lexicon`` (word -> count) as its dictionary, HMM off.

    The dictionary and jieba's cache live in a temporary directory that is removed afterwards;
    jieba's log messages are silenced during the call.
    """
    import jieba

    texts = _check_texts(texts)
    if not isinstance(lexicon, Mapping) or not lexicon:
        raise ValueError("lexicon must be a non-empty mapping word -> count")
    logger = logging.getLogger("jieba")
    level = jieba.default_logger.level
    jieba.setLogLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "lexicon.txt")
            with open(path, "w", encoding="utf-8") as handle:
                for word, count in lexicon.items():
                    handle.write(f"{word} {max(int(count), 1)}\n")
            tokenizer = jieba.Tokenizer(dictionary=path)
            tokenizer.tmp_dir = tmp
            tokenizer.cache_file = os.path.join(tmp, "jieba.cache")
            return [tokenizer.lcut(t, HMM=False) for t in texts]
    finally:
        jieba.setLogLevel(level)
        logger.setLevel(level)


@checked(bases=arg.array(ndim=1))
def threshold_sweep(texts: Sequence[str], gold: Iterable[str], vocabulary: Iterable[str],
                    bases: Sequence[float], n: int = 4, min_count: int = 8,
                    counts: Counter | None = None) -> np.ndarray:
    """Precision and recall of the multi-character lexicon for thresholds ``{2: b, 3: b^2,
    4: b^3}``, one row ``(b, precision, recall)`` per base ``b``."""
    texts = _check_texts(texts)
    gold, vocabulary = _check_words("gold", gold), _check_words("vocabulary", vocabulary)
    if not vocabulary:
        raise ValueError("vocabulary must not be empty")
    counts = char_ngrams(texts, n) if counts is None else counts
    rows = []
    for b in bases:
        found = discover_words(texts, n, min_count, {2: b, 3: b ** 2, 4: b ** 3}, counts=counts)
        p, r, _ = lexicon_prf({w for w in found.words if len(w) > 1}, gold, vocabulary)
        rows.append((b, p, r))
    return np.array(rows)


@checked(ax=arg.axes())
def draw_pr(ax, curves: Mapping[str, np.ndarray], highlight: tuple[str, float] | None = None) -> None:
    """Precision against recall, one line per corpus (rows ``(base, p, r)``), thresholds
    annotated; ``highlight = (corpus, base)`` rings one point."""
    from mlnotes.plotting import style_cycle

    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty dict name -> rows (base, precision, recall)")
    for (name, rows), style in zip(curves.items(), style_cycle(len(curves))):
        ax.plot(rows[:, 2], rows[:, 1], marker="o", label=name, **style)
        for b, p, r in rows:
            ax.annotate(f"{b:g}", (r, p), textcoords="offset points", xytext=(3, 3), fontsize=7)
    if highlight is not None:
        rows = curves[highlight[0]]
        b, p, r = rows[np.argmin(np.abs(rows[:, 0] - highlight[1]))]
        ax.scatter([r], [p], s=160, facecolors="none", edgecolors="black", zorder=3,
                   label=f"base {b:g}: P {p:.3f}, R {r:.3f}")
    ax.set(xlabel="recall (multi-character words)", ylabel="precision")
    ax.legend(loc="lower left", fontsize=8)

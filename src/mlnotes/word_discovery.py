"""Unsupervised word discovery for Chinese: n-gram cohesion, coarse cutting, backtracking.

Holds

- ``load_jieba_dict`` and ``synthetic_zh_corpus``: a corpus with a known (gold) segmentation,
  sampled from the word frequencies of jieba's bundled ``dict.txt``, optionally with planted words;
- ``char_ngrams`` and ``cohesion``: n-gram counts and the minimum-PMI "solidity" of a string;
- ``solid_ngrams``, ``coarse_cut`` and ``discover_words`` (with its backtracking filter): the algorithm of
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

from mlnotes.validate import checked, arg

__all__ = ["DEFAULT_THRESHOLDS", "load_jieba_dict", "synthetic_zh_corpus",
           "char_ngrams", "cohesion", "solid_ngrams", "coarse_cut", "Discovery", "discover_words", "lexicon_prf", "boundary_ngrams",
           "segmentation_prf", "jieba_segment", "threshold_sweep", "draw_pr"]

DEFAULT_THRESHOLDS = {2: 5.0, 3: 25.0, 4: 125.0}

# Argument rules shared by several functions.
_TEXTS = arg.sequence(arg.text(min_len=0))                                  # raw texts, at least one
_WORDS = arg.sequence(arg.text(min_len=0), min_len=0, unordered=True)       # a lexicon: any collection of str
_SENTENCES = arg.sequence(arg.sequence(arg.text(), min_len=0))              # gold-segmented sentences


def _jieba_dict_path() -> str:
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
    with open(_jieba_dict_path(), encoding="utf-8") as handle:
        for line in handle:
            word, freq = line.split()[:2]
            if all("\u4e00" <= ch <= "\u9fff" for ch in word):
                rows.append((word, int(freq)))
    rows.sort(key=lambda r: -r[1])
    return rows


@checked(n_sent=arg.int(1, 10**6), seed=arg.seed(), collocations=arg.int(0, 10_000),
         planted=arg.sequence(arg.text(), min_len=0), planted_prob=arg.probability(),
         words_per_sentence=arg.array(shape=(2,), integer=True, low=1), colloc_prob=arg.probability())
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
    if not planted_prob * len(planted) < 1:
        raise ValueError(f"planted_prob * len(planted) must be in [0, 1), got {planted_prob * len(planted)}")
    lo, hi = words_per_sentence.tolist()
    if not lo <= hi:
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


@checked(texts=_TEXTS, n=arg.int(1, 64))
def char_ngrams(texts: Sequence[str], n: int = 4) -> Counter:
    """Counts of every substring of length 1..n (at most 64) inside each text (never across texts)."""
    counts: Counter = Counter()
    for t in texts:
        for k in range(1, n + 1):
            counts.update(t[i:i + k] for i in range(len(t) - k + 1))
    return counts


def _total(counts: Mapping[str, int]) -> int:
    return sum(c for s, c in counts.items() if len(s) == 1)


@checked(s=arg.text(min_len=2), counts=arg.mapping(min_len=0), total=arg.optional(arg.positive()))
def cohesion(s: str, counts: Mapping[str, int], total: int | None = None) -> float:
    """Internal solidity of ``s``: ``min over cuts s = l + r of P(s) / (P(l) P(r))``.

    ``P(x) = count(x) / total`` with ONE normaliser for all lengths, ``total`` = number of
    characters (the unigram tokens). The log of this is the minimum PMI over cuts.
    """
    total = _total(counts) if total is None else total
    if not total > 0:
        raise ValueError("counts must hold the single characters (their total is the normaliser)")
    return _cohesion(s, counts, total)


def _cohesion(s: str, counts: Mapping[str, int], total: float) -> float:
    c = counts.get(s, 0)
    if c == 0:
        return 0.0
    return min(c * total / (counts[s[:i]] * counts[s[i:]]) for i in range(1, len(s)))


@checked(counts=arg.mapping(), n=arg.int(2, 64), min_count=arg.int(1), thresholds=arg.mapping(arg.int(), arg.real()))
def solid_ngrams(counts: Mapping[str, int], n: int = 4, min_count: int = 8,
                 thresholds: Mapping[int, float] = DEFAULT_THRESHOLDS) -> set[str]:
    """The set G of n-grams (length 2..n) with count >= ``min_count`` and cohesion >= thresholds[length]."""
    if any(k not in thresholds for k in range(2, n + 1)):
        raise ValueError(f"thresholds must give a value for every length 2..{n}, got {thresholds!r}")
    total = _total(counts)
    return {s for s, c in counts.items()
            if 2 <= len(s) <= n and c >= min_count and _cohesion(s, counts, total) >= thresholds[len(s)]}


@checked(text=arg.text(min_len=0), solid=arg.instance((set, frozenset)), n=arg.int(2, 64))
def coarse_cut(text: str, solid: set[str], n: int = 4) -> list[str]:
    """Cut ``text`` at every boundary that no solid n-gram covers ("rather miss a cut than cut wrong").

    Overlapping solid n-grams glue together, so pieces longer than n can appear.
    """
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


def _backtrack_filter(candidates: Iterable[str], solid: set[str], n: int = 4) -> set[str]:
    """Keep a candidate when every window of length 3..n inside it is solid (Su's rule).

    Candidates of length 1 or 2 are kept (a 2-character piece only exists if it is solid).
    Removes glued overlaps such as AB + BC -> ABC whose 3-gram ABC is not itself solid.
    """
    kept = set()
    for s in candidates:
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


@checked(texts=_TEXTS, n=arg.int(2, 64), min_count=arg.int(1))
def discover_words(texts: Sequence[str], n: int = 4, min_count: int = 8,
                   thresholds: Mapping[int, float] = DEFAULT_THRESHOLDS, backtrack: bool = True,
                   counts: Counter | None = None) -> Discovery:
    """The whole pipeline: count n-grams, keep solid ones, coarse-cut, count pieces, backtrack.

    ``words`` maps each discovered word (count >= ``min_count``) to its count, most frequent first.
    Pass precomputed ``counts = char_ngrams(texts, n)`` to reuse them across settings.
    """
    if counts is None:
        counts = char_ngrams(texts, n)
    solid = solid_ngrams(counts, n, min_count, thresholds)
    candidates = Counter(piece for t in texts for piece in coarse_cut(t, solid, n))
    frequent = {s: c for s, c in candidates.items() if c >= min_count}
    keep = _backtrack_filter(frequent, solid, n) if backtrack else set(frequent)
    words = dict(sorted(((s, c) for s, c in frequent.items() if s in keep), key=lambda x: (-x[1], x[0])))
    return Discovery(words=words, candidates=candidates, solid=solid, counts=counts)


@checked(found=_WORDS, gold=_WORDS, vocabulary=arg.optional(_WORDS))
def lexicon_prf(found: Iterable[str], gold: Iterable[str],
                vocabulary: Iterable[str] | None = None) -> tuple[float, float, float]:
    """Precision, recall and F1 of a set of words against a gold set (exact string match).

    Recall is ``|found & gold| / |gold|``. Precision is ``|found & vocabulary| / |found|``, where
    ``vocabulary`` (default: ``gold``) is the set of strings that count as real words; pass the whole
    generating vocabulary when ``gold`` only holds the words frequent enough to be discoverable.
    """
    found, gold = set(found), set(gold)
    vocabulary = gold if vocabulary is None else set(vocabulary)
    if not gold:
        raise ValueError("gold lexicon is empty")
    p = len(found & vocabulary) / len(found) if found else 0.0
    r = len(found & gold) / len(gold)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@checked(sentences=_SENTENCES, k=arg.int(2, 64))
def boundary_ngrams(sentences: Sequence[Sequence[str]], k: int = 2) -> Counter:
    """Counts of the k-grams whose occurrence spans a gold word boundary (sentences as word lists)."""
    counts: Counter = Counter()
    for words in sentences:
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


@checked(predicted=_SENTENCES, gold=_SENTENCES)
def segmentation_prf(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> tuple[float, float, float]:
    """Word-level precision, recall, F1 of segmentations: a word counts when its span matches exactly."""
    if len(predicted) != len(gold):
        raise ValueError(f"predicted and gold must hold equally many sentences, got {len(predicted)} and {len(gold)}")
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


@checked(texts=_TEXTS, lexicon=arg.mapping())
def jieba_segment(texts: Sequence[str], lexicon: Mapping[str, int]) -> list[list[str]]:
    """Segment ``texts`` with jieba using ONLY ``lexicon`` (word -> count) as its dictionary, HMM off.

    The dictionary and jieba's cache live in a temporary directory that is removed afterwards;
    jieba's log messages are silenced during the call.
    """
    import jieba

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


@checked(texts=_TEXTS, gold=_WORDS, vocabulary=arg.sequence(arg.text(min_len=0), unordered=True),
         bases=arg.array(ndim=1))
def threshold_sweep(texts: Sequence[str], gold: Iterable[str], vocabulary: Iterable[str],
                    bases: Sequence[float], n: int = 4, min_count: int = 8,
                    counts: Counter | None = None) -> np.ndarray:
    """Precision and recall of the multi-character lexicon for thresholds ``{2: b, 3: b^2,
    4: b^3}``, one row ``(b, precision, recall)`` per base ``b``."""
    counts = char_ngrams(texts, n) if counts is None else counts
    rows = []
    for b in bases:
        found = discover_words(texts, n, min_count, {2: b, 3: b ** 2, 4: b ** 3}, counts=counts)
        p, r, _ = lexicon_prf({w for w in found.words if len(w) > 1}, gold, vocabulary)
        rows.append((b, p, r))
    return np.array(rows)


@checked(ax=arg.axes(), curves=arg.mapping(item=arg.array(shape=(None, 3))))
def draw_pr(ax, curves: Mapping[str, np.ndarray], highlight: tuple[str, float] | None = None) -> None:
    """Precision against recall, one line per corpus (rows ``(base, p, r)``), thresholds
    annotated; ``highlight = (corpus, base)`` rings one point."""
    from mlnotes.plotting import style_cycle

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

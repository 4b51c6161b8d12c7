"""Masked language modelling: a toy two-topic language, BERT masking, the MLM loss, span decoding.

The encoder itself lives in :mod:`mlnotes.transformer`.

- :func:`synthetic_topic_sentences` writes sentences from two topics (fruit, tech) that share
  the ambiguous noun "apple"; :func:`encode` turns them into padded id tensors.
- :func:`mask_tokens` is BERT's corruption: select a fraction ``p`` of ordinary tokens; of the
  selected, ``split[0]`` become ``[MASK]``, ``split[1]`` a random ordinary token, ``split[2]``
  stay; labels are the original ids at selected positions and -100 elsewhere.
- :func:`masked_cross_entropy` is the loss on selected positions only.
- :func:`best_span` decodes extractive QA: argmax of ``s_i + e_j`` over ``i <= j < i + max_len``.
- :func:`draw_masking_grid` and :func:`draw_top_fillers` draw the chapter's two explorers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mlnotes.validate import check_tensor, checked, arg

__all__ = ["CLS", "IGNORE", "MASK", "PAD", "SEP", "SPECIALS", "best_span", "best_span_brute", "encode",
           "draw_masking_grid", "draw_top_fillers", "mask_tokens", "masked_cross_entropy", "synthetic_topic_sentences", "topic_vocab", "two_clause_qa"]

Tensor = torch.Tensor

SPECIALS: list[str] = ["[PAD]", "[CLS]", "[SEP]", "[MASK]"]
PAD, CLS, SEP, MASK = range(4)
IGNORE = -100

#: Slot fillers per topic. A sentence reads: subject verb the [adjective] apple preposition a place.
TOPICS: dict[str, dict[str, list[str]]] = {
    "fruit": {"subj": ["farmer", "child", "chef", "baker"], "verb": ["peels", "eats", "slices", "picks"],
              "adj": ["ripe", "red", "juicy", "sweet"], "prep": ["from", "in", "near", "under"],
              "place": ["basket", "orchard", "kitchen", "garden"]},
    "tech": {"subj": ["engineer", "investor", "analyst", "designer"], "verb": ["buys", "sells", "reviews", "praises"],
             "adj": ["new", "latest", "thin", "fast"], "prep": ["at", "during", "after", "before"],
             "place": ["keynote", "launch", "meeting", "conference"]},
}
SLOTS = ["subj", "verb", "the", "adj", "apple", "prep", "a", "place"]


@checked(ambiguous=arg.text())
def topic_vocab(ambiguous: str = "apple") -> list[str]:
    """Token strings: the 4 specials, then ``the``, ``a``, the ambiguous noun and every topic word."""
    words = ["the", "a", ambiguous] + [w for t in TOPICS.values() for slot in t.values() for w in slot]
    if len(set(words)) != len(words):
        raise ValueError(f"ambiguous word {ambiguous!r} collides with a topic word")
    return SPECIALS + words


@checked(n=arg.count(high=10**6), p_adj=arg.probability(), rng=arg.generator())
def synthetic_topic_sentences(n: int, rng: np.random.Generator, ambiguous: str = "apple",
                              p_adj: float = 0.5) -> tuple[list[list[str]], np.ndarray]:
    """``n`` sentences ``subj verb the [adj] <ambiguous> prep a place`` and their topics (0 fruit, 1 tech).

    Every slot filler is drawn uniformly from the sentence's topic; the adjective appears with
    probability ``p_adj``, so the noun sits at word 3 or 4. Returns (tokens, topics of shape (n,)).
    """
    topic_vocab(ambiguous)  # checks the ambiguous word
    names = list(TOPICS)
    topics = rng.integers(0, 2, size=n)
    has_adj = rng.random(n) < p_adj
    sentences = []
    for t, adj in zip(topics, has_adj):
        fillers = TOPICS[names[t]]
        words = []
        for slot in SLOTS:
            if slot in fillers:
                if slot == "adj" and not adj:
                    continue
                words.append(fillers[slot][rng.integers(4)])
            else:
                words.append(ambiguous if slot == "apple" else slot)
        sentences.append(words)
    return sentences, topics

@checked(sentences=arg.sequence(arg.tokens(allow_empty=True)), vocab=arg.vocab(),
         max_len=arg.count(low=3, high=10**5))
def encode(sentences: Sequence[Sequence[str]], vocab: Sequence[str], max_len: int) -> Tensor:
    """Ids (n, max_len): ``[CLS] words [SEP]`` then ``[PAD]``; raises on unknown words or overflow."""
    index = {w: i for i, w in enumerate(vocab)}
    ids = torch.full((len(sentences), max_len), PAD, dtype=torch.long)
    for row, words in enumerate(sentences):
        if len(words) + 2 > max_len:
            raise ValueError(f"sentence {row} has {len(words)} words; with [CLS]/[SEP] it exceeds max_len={max_len}")
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(f"unknown words {unknown} in sentence {row}")
        ids[row, : len(words) + 2] = torch.tensor([CLS] + [index[w] for w in words] + [SEP])
    return ids


@checked(vocab_size=arg.count(high=10**7), ids=arg.tensor(ndim=2, integer=True, low=0, high="vocab_size - 1"),
         special_ids=arg.array(ndim=1, integer=True, low=0, high="vocab_size - 1"), p=arg.probability(),
         split=arg.array(shape=(3,), low=0.0, sums_to=1), mask_id=arg.int(low=0, high="vocab_size - 1"),
         gen=arg.optional(arg.instance(torch.Generator)))
def mask_tokens(ids: Tensor, vocab_size: int, special_ids: Sequence[int] = (PAD, CLS, SEP, MASK),
                p: float = 0.15, split: Sequence[float] = (0.8, 0.1, 0.1), mask_id: int = MASK,
                gen: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """BERT corruption of ``ids`` (B, L). Returns ``(inputs, labels, selected)``, all (B, L).

    Each non-special position is selected with probability ``p``. A selected position becomes
    ``mask_id`` with prob. ``split[0]``, a uniform random *ordinary* token with prob. ``split[1]``
    and stays with prob. ``split[2]``. ``labels`` = original id where selected, -100 elsewhere.
    """
    special = torch.zeros(vocab_size, dtype=torch.bool)
    special[special_ids.tolist()] = True
    ordinary = torch.nonzero(~special).flatten()
    if len(ordinary) == 0:
        raise ValueError("every token is special: nothing can be masked")
    selected = (torch.rand(ids.shape, generator=gen) < p) & ~special[ids]
    u = torch.rand(ids.shape, generator=gen)
    to_mask = selected & (u < split[0])
    to_random = selected & (u >= split[0]) & (u < split[0] + split[1])
    random_ids = ordinary[torch.randint(len(ordinary), ids.shape, generator=gen)]
    inputs = torch.where(to_mask, torch.full_like(ids, mask_id), ids)
    inputs = torch.where(to_random, random_ids, inputs)
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE))
    return inputs, labels, selected


@checked(logits=arg.tensor(min_ndim=1), ignore_index=arg.int(), labels=arg.tensor(integer=True, allow_empty=True))
def masked_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE) -> Tensor:
    """Mean of ``-log softmax(logits)[label]`` over positions whose label is not ``ignore_index``.

    ``logits`` (..., V), ``labels`` (...) long. Written out with log-softmax and gather.
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} must be labels {tuple(labels.shape)} plus a vocabulary axis")
    keep = labels != ignore_index
    if not keep.any():
        raise ValueError("no position has a label: the masked loss is undefined")
    check_tensor("labels (positions other than ignore_index)", labels[keep], low=0, high=logits.shape[-1] - 1)  # ids outside ignore_index
    log_p = torch.log_softmax(logits[keep], dim=-1)
    return -log_p.gather(1, labels[keep][:, None]).mean()


@checked(start_logits=arg.array(shape=("n",)), end_logits=arg.array(shape=("n",)), max_len=arg.count())
def best_span(start_logits: object, end_logits: object, max_len: int) -> tuple[int, int, float]:
    """Best answer span ``(i, j, s_i + e_j)`` with ``i <= j < i + max_len``, in O(n * max_len).

    Ties go to the smallest ``i`` then the smallest ``j``.
    """
    s, e = start_logits, end_logits                       # (n,) each
    best = (0, 0, -np.inf)
    for i in range(s.size):
        window = e[i: i + max_len]
        j = int(np.argmax(window))
        if s[i] + window[j] > best[2]:
            best = (i, i + j, float(s[i] + window[j]))
    return best


@checked(start_logits=arg.array(shape=("n",)), end_logits=arg.array(shape=("n",)), max_len=arg.count())
def best_span_brute(start_logits: object, end_logits: object, max_len: int) -> tuple[int, int, float]:
    """Reference for :func:`best_span`: score every pair, O(n^2)."""
    s, e = start_logits, end_logits
    pairs = [(s[i] + e[j], -i, -j) for i in range(s.size) for j in range(i, min(s.size, i + max_len))]
    score, i, j = max(pairs)
    return -i, -j, float(score)


@checked(n=arg.count(high=10**6), rng=arg.generator(), vocab=arg.vocab(), max_len=arg.count(high=10**4))
def two_clause_qa(n: int, rng: np.random.Generator, vocab: Sequence[str], max_len: int = 24
                  ) -> tuple[Tensor, Tensor, Tensor, np.ndarray]:
    """Extractive QA whose answer position depends on content: ``[CLS] q [SEP] c1 c2 [SEP]``.

    ``c1`` and ``c2`` are two toy sentences with different subjects; the question ``q`` is the
    subject of one of them (drawn at random) and the answer is that clause's place phrase
    ``prep a place``. Returns ids (n, max_len), answer start and end positions (n,) and which
    clause was asked (n,): a reader that ignores the question is right half the time.
    """
    index = {w: i for i, w in enumerate(vocab)}
    ids = torch.full((n, max_len), PAD, dtype=torch.long)
    start, end = torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
    asked = rng.integers(0, 2, size=n)
    for row in range(n):
        while True:
            clauses, _ = synthetic_topic_sentences(2, rng)
            if clauses[0][0] != clauses[1][0]:
                break
        words = ["[CLS]", clauses[asked[row]][0], "[SEP]"] + clauses[0] + clauses[1] + ["[SEP]"]
        if len(words) > max_len:
            raise ValueError(f"max_len={max_len} is too short for {len(words)} tokens")
        ids[row, :len(words)] = torch.tensor([index[w] for w in words])
        end_of_clause = 3 + len(clauses[0]) + (len(clauses[1]) if asked[row] else 0) - 1
        start[row], end[row] = end_of_clause - 2, end_of_clause
    return ids, start, end, asked


MASKING_RECIPES = {"80/10/10": (0.8, 0.1, 0.1), "100/0/0": (1.0, 0.0, 0.0),
                   "0/100/0": (0.0, 1.0, 0.0), "0/0/100": (0.0, 0.0, 1.0)}


@checked(ax=arg.axes(), p=arg.probability(), recipe=arg.choice(list(MASKING_RECIPES)), rows=arg.count(high=200),
         cols=arg.count(high=200), seed=arg.int(0, 2**63 - 1))
def draw_masking_grid(ax, p: float = 0.15, recipe: str = "80/10/10", rows: int = 12, cols: int = 40,
                      seed: int = 0) -> dict[str, float]:
    """Colour-code one :func:`mask_tokens` draw on a (rows, cols) grid of ordinary tokens.

    Each cell is *kept* (not selected), *[MASK]*, *random* (replaced by a random ordinary token)
    or *unchanged* (selected but left as is; still predicted). The random numbers are common to
    every ``p`` and ``recipe`` (same ``seed``), so raising ``p`` only adds selected cells. Returns
    the four fractions, which the title also shows.
    """
    import matplotlib.colors as mcolors

    split = MASKING_RECIPES[recipe]
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 54, (rows, cols), generator=gen)  # (rows, cols) ordinary ids
    inputs, _, selected = mask_tokens(ids, 54, p=p, split=split, gen=gen)
    kind = torch.zeros(rows, cols, dtype=torch.long)  # 0 kept
    kind[selected & (inputs == MASK)] = 1
    kind[selected & (inputs != MASK) & (inputs != ids)] = 2
    kind[selected & (inputs == ids)] = 3  # includes a random draw that hit the original token
    names = ["kept", "[MASK]", "random", "unchanged"]
    cmap = mcolors.ListedColormap(["#e8e8e8", "#1f77b4", "#d62728", "#ff9f1c"])
    ax.imshow(kind.numpy(), cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
    fractions = {n: float((kind == i).float().mean()) for i, n in enumerate(names)}
    ax.set_title(f"$p$ = {p:.2f}, recipe {recipe}: " + ", ".join(
        f"{n} {100 * f:.1f}%" for n, f in fractions.items()), fontsize=10)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_xlabel(f"{cols} token positions"), ax.set_ylabel(f"{rows} sequences")
    handles = [ax.scatter([], [], marker="s", color=cmap(i), label=n) for i, n in enumerate(names)]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, frameon=False)
    return fractions


@checked(words=arg.tokens(), position=arg.int(low=0, high="len(words) - 1"), tokens=arg.tokens(),
         probs=arg.array(shape=("len(tokens)",), low=0.0, high=1.0))
def draw_top_fillers(words: Sequence[str], position: int, tokens: Sequence[str], probs: object):
    """The candidate fillers of one hidden word as horizontal bars, best on top, as a figure.

    ``words`` is the sentence and ``position`` the index of the hidden word (shown as ``[MASK]``
    in the title); ``tokens`` are the k candidate fillers, best first, and ``probs`` (k,) their
    predicted probabilities.
    """
    from mlnotes.plotting import COLORS, new_figure

    shown = " ".join("[MASK]" if i == position else str(w) for i, w in enumerate(words))
    rows = np.arange(len(tokens))[::-1]                                               # best on top
    fig, ax = new_figure(width=6, height=2.8)
    ax.barh(rows, probs, color=COLORS[0])
    ax.set(yticks=rows, yticklabels=tokens, xlim=(0, 1), xlabel="predicted probability")
    ax.set_title(shown, fontsize=9)
    return fig

"""Byte-pair encoding from scratch: pre-tokenizers, a BPE trainer/encoder, byte-level BPE.

Holds

- ``word_tokenize``, ``gpt2_like_pretokenize``: pre-tokenization (the text: ``mlnotes.data.lee_corpus``);
- ``naive_bpe_merges``: the reference trainer of Sennrich et al. (recount every pair after
  every merge), kept short so it can be read next to the paper;
- ``BPE``: an incremental trainer (pair counts updated only in the words a merge touches)
  and a rank-based encoder; ``ByteLevelBPE``: the same on UTF-8 bytes (GPT-2 style);
- ``bytes_to_unicode``: GPT-2's printable stand-ins for the 256 byte values;
- ``to_hf_bpe``: export to the Hugging Face ``tokenizers`` model, the independent reference;
- ``show_token_spans``: draw a segmentation as coloured boxes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from mlnotes.plotting import COLORS
from mlnotes.validate import checked, arg

Pair = tuple[str, str]
TIE_BREAKS = ("first", "lexicographic")
PRETOKENIZERS = ("gpt2", "words", "none")

# GPT-2 splits with \p{L} / \p{N} (the third-party ``regex`` package); Python's ``re`` has
# neither, so letters are spelled [^\W\d_] (word characters that are not digits or "_").
_GPT2_LIKE = re.compile(r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")
_WORDS = re.compile(r"\w+|[^\w\s]")




__all__ = ["word_tokenize", "gpt2_like_pretokenize", "bytes_to_unicode",
           "naive_bpe_merges", "BPE", "ByteLevelBPE", "to_hf_bpe", "show_token_spans"]

# Argument rules: training counts (non-empty words -> counts >= 1) and merge settings.
_TRAIN = dict(word_counts=arg.mapping(arg.text(), arg.count()), num_merges=arg.int(0), tie_break=arg.choice(TIE_BREAKS))
_IDS = dict(ids=arg.sequence(arg.int(low=0, high="len(self.vocab) - 1"), min_len=0))


@checked(text=arg.text(min_len=0))
def word_tokenize(text: str) -> list[str]:
    """Words and single punctuation marks: ``re.findall(r"\\w+|[^\\w\\s]", text)``; spaces dropped."""
    return _WORDS.findall(text)


@checked(text=arg.text(min_len=0))
def gpt2_like_pretokenize(text: str) -> list[str]:
    """Chunks in the manner of GPT-2: a leading space stays with the word, number or punctuation run.

    Concatenating the chunks gives back ``text`` exactly (no character is dropped).
    """
    return _GPT2_LIKE.findall(text)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte 0..255 to a printable character (space -> 'Ġ', newline -> 'Ċ').

    Printable Latin-1 bytes map to themselves; the other 68 are shifted to U+0100 and above.
    """
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def _merge_symbols(symbols: Sequence[str], pair: Pair) -> list[str]:
    """Replace every non-overlapping occurrence of ``pair``, left to right, by one symbol."""
    a, b = pair
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


@checked(**_TRAIN, end_of_word=arg.optional(arg.text()))
def naive_bpe_merges(word_counts: Mapping[str, int], num_merges: int, end_of_word: str | None = "</w>",
                     tie_break: str = "first") -> list[Pair]:
    """Sennrich et al.'s reference BPE: recount all pairs, merge the most frequent, repeat.

    Pair counts are weighted by word frequency. ``tie_break="first"`` keeps the pair met first
    when scanning words in the mapping's order (what ``max(stats, key=stats.get)`` does);
    ``"lexicographic"`` keeps the smallest pair. Stops early when no pair is left.
    O(num_merges x corpus size): the clear version, not the fast one.
    """
    counts = word_counts
    words = [(list(w) + ([end_of_word] if end_of_word else []), c) for w, c in counts.items()]
    merges: list[Pair] = []
    for _ in range(num_merges):
        stats: dict[Pair, int] = {}
        for symbols, c in words:
            for pair in zip(symbols, symbols[1:]):
                stats[pair] = stats.get(pair, 0) + c
        if not stats:
            break
        if tie_break == "first":
            best = max(stats, key=stats.get)
        else:
            best = min(stats, key=lambda p: (-stats[p], p))
        merges.append(best)
        words = [(_merge_symbols(s, best), c) for s, c in words]
    return merges


class BPE:
    """Character-level byte-pair encoding: incremental trainer and rank-based encoder.

    ``end_of_word`` (e.g. ``"</w>"``) is appended to every word as its own symbol, as in
    Sennrich et al.; ``None`` (GPT-2 style) relies on the pre-tokenizer's leading spaces.
    ``pretokenizer`` ("gpt2", "words" or "none") splits text into the chunks that merges may
    not cross. After ``train``: ``merges`` (list of pairs, in learned order), ``vocab``
    (symbol -> id: base alphabet first, then one id per new merged symbol) and
    ``final_segmentation`` (training word -> its symbols when training stopped).
    """

    @checked(end_of_word=arg.optional(arg.text()), pretokenizer=arg.choice(PRETOKENIZERS))
    def __init__(self, end_of_word: str | None = None, pretokenizer: str = "gpt2"):
        self.end_of_word = end_of_word
        self.pretokenizer = pretokenizer
        self.merges: list[Pair] = []
        self.vocab: dict[str, int] = {}
        self.alphabet: list[str] = []
        self.final_segmentation: dict[str, list[str]] = {}
        self._ranks: dict[Pair, int] = {}
        self._cache: dict[str, list[str]] = {}

    # -- pieces a subclass changes -------------------------------------------------------
    def symbols(self, word: str) -> list[str]:
        """Initial symbols of one word: its characters (plus the end-of-word marker)."""
        return list(word) + ([self.end_of_word] if self.end_of_word else [])

    def _base_alphabet(self, words: Sequence[str]) -> list[str]:
        chars = sorted({ch for w in words for ch in w})
        return chars + ([self.end_of_word] if self.end_of_word else [])

    @checked(text=arg.text(min_len=0))
    def pretokenize(self, text: str) -> list[str]:
        """Split text into chunks with the configured pre-tokenizer ("none": one chunk)."""
        if self.pretokenizer == "gpt2":
            return gpt2_like_pretokenize(text)
        if self.pretokenizer == "words":
            return word_tokenize(text)
        return [text] if text else []

    # -- training ------------------------------------------------------------------------
    @checked(**_TRAIN)
    def train(self, word_counts: Mapping[str, int], num_merges: int, tie_break: str = "first") -> BPE:
        """Learn up to ``num_merges`` merges from ``word_counts`` (chunk -> frequency); returns self.

        Same rule as :func:`naive_bpe_merges`, but each merge only updates the pair counts
        of the words that contain the merged pair (an index pair -> set of word ids).
        """
        counts = word_counts
        words = list(counts)
        freqs = [counts[w] for w in words]
        segs = [self.symbols(w) for w in words]
        pair_count: Counter[Pair] = Counter()
        where: dict[Pair, set[int]] = {}
        for i, s in enumerate(segs):
            for pair in zip(s, s[1:]):
                pair_count[pair] += freqs[i]
                where.setdefault(pair, set()).add(i)
        merges: list[Pair] = []
        for _ in range(num_merges):
            if not pair_count:
                break
            top = max(pair_count.values())
            tied = [p for p, c in pair_count.items() if c == top]
            if len(tied) == 1:
                best = tied[0]
            elif tie_break == "lexicographic":
                best = min(tied)
            else:
                best = min(tied, key=lambda p: self._first_position(p, where[p], segs))
            merges.append(best)
            for i in sorted(where[best]):
                old = segs[i]
                new = _merge_symbols(old, best)
                old_pairs, new_pairs = Counter(zip(old, old[1:])), Counter(zip(new, new[1:]))
                for pair, n in old_pairs.items():
                    pair_count[pair] -= n * freqs[i]
                    if pair_count[pair] == 0:
                        del pair_count[pair]
                    if pair not in new_pairs:
                        where[pair].discard(i)
                for pair, n in new_pairs.items():
                    pair_count[pair] += n * freqs[i]
                    where.setdefault(pair, set()).add(i)
                segs[i] = new
        self.alphabet = self._base_alphabet(words)
        self.merges = merges
        self.vocab = {}
        for symbol in self.alphabet + [a + b for a, b in merges]:
            self.vocab.setdefault(symbol, len(self.vocab))
        self.final_segmentation = dict(zip(words, segs))
        self._ranks = {pair: r for r, pair in enumerate(merges)}
        self._cache = {}
        return self

    @staticmethod
    def _first_position(pair: Pair, word_ids: set[int], segs: list[list[str]]) -> tuple[int, int]:
        i = min(word_ids)
        s = segs[i]
        j = next(j for j in range(len(s) - 1) if (s[j], s[j + 1]) == pair)
        return i, sum(len(x) for x in s[:j])

    @checked(num_merges=arg.int(low=0, high="len(self.merges)"))
    def truncated(self, num_merges: int) -> BPE:
        """A copy that keeps only the first ``num_merges`` merges (a smaller vocabulary)."""
        copy = self.__class__.__new__(self.__class__)
        copy.__dict__.update(self.__dict__)
        copy.merges = self.merges[:num_merges]
        copy._ranks = {pair: r for r, pair in enumerate(copy.merges)}
        copy.vocab = {}
        for symbol in self.alphabet + [a + b for a, b in copy.merges]:
            copy.vocab.setdefault(symbol, len(copy.vocab))
        copy.final_segmentation, copy._cache = {}, {}
        return copy

    # -- encoding ------------------------------------------------------------------------
    @checked(word=arg.text())
    def encode_word(self, word: str) -> list[str]:
        """Segment one chunk by replaying merges in rank order (lowest rank first), not greedily."""
        if word in self._cache:
            return list(self._cache[word])
        symbols = self.symbols(word)
        while len(symbols) > 1:
            ranked = [(self._ranks.get(p, -1), p) for p in zip(symbols, symbols[1:])]
            ranked = [(r, p) for r, p in ranked if r >= 0]
            if not ranked:
                break
            symbols = _merge_symbols(symbols, min(ranked)[1])
        self._cache[word] = symbols
        return list(symbols)

    def tokenize(self, text: str) -> list[str]:
        """Token strings of ``text``: pre-tokenize, then :meth:`encode_word` on every chunk."""
        return [tok for chunk in self.pretokenize(text) for tok in self.encode_word(chunk)]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; raises ValueError on a symbol outside the vocabulary."""
        if not self.vocab:
            raise ValueError("the tokenizer is not trained; call train(...) first")
        tokens = self.tokenize(text)
        missing = sorted({t for t in tokens if t not in self.vocab})
        if missing:
            raise ValueError(f"symbols {missing[:5]} are not in the vocabulary; a character-level BPE "
                             "cannot encode characters it never saw (use ByteLevelBPE)")
        return [self.vocab[t] for t in tokens]

    @checked(**_IDS)
    def decode(self, ids: Sequence[int]) -> str:
        """Text of a list of ids (the end-of-word marker, if any, becomes a space)."""
        pieces = self._pieces(ids)
        text = "".join(pieces)
        if self.end_of_word:
            text = text.replace(self.end_of_word, " ").rstrip(" ")
        return text

    def _pieces(self, ids: Sequence[int]) -> list[str]:
        inverse = {i: s for s, i in self.vocab.items()}       # ids run 0 .. len(vocab) - 1
        return [inverse[i] for i in ids]


class ByteLevelBPE(BPE):
    """BPE over the UTF-8 bytes of each chunk (GPT-2): 256 base symbols, so nothing is unknown.

    Bytes are shown through :func:`bytes_to_unicode` (a leading space is 'Ġ'), so tokens are
    ordinary strings; ``decode`` maps them back to bytes and decodes UTF-8 losslessly.
    """

    @checked(pretokenizer=arg.choice(PRETOKENIZERS))
    def __init__(self, pretokenizer: str = "gpt2"):
        super().__init__(end_of_word=None, pretokenizer=pretokenizer)
        self._byte_char = bytes_to_unicode()
        self._char_byte = {c: b for b, c in self._byte_char.items()}

    def symbols(self, word: str) -> list[str]:
        return [self._byte_char[b] for b in word.encode("utf-8")]

    def _base_alphabet(self, words: Sequence[str]) -> list[str]:
        return [self._byte_char[b] for b in range(256)]

    @checked(**_IDS)
    def decode(self, ids: Sequence[int]) -> str:
        data = bytes(self._char_byte[c] for piece in self._pieces(ids) for c in piece)
        return data.decode("utf-8")


@checked(bpe=arg.instance(BPE))
def to_hf_bpe(bpe: BPE):
    """The same vocabulary and merges as a Hugging Face ``tokenizers.models.BPE`` model.

    Only for character-level BPE without an end-of-word marker (the HF model handles
    markers differently); ``model.tokenize(word)`` then segments like ``bpe.encode_word``.
    """
    from tokenizers.models import BPE as HFBPE

    if not bpe.vocab:
        raise ValueError("the tokenizer is not trained; call train(...) first")
    if bpe.end_of_word is not None:
        raise ValueError("to_hf_bpe supports end_of_word=None only")
    return HFBPE(vocab=dict(bpe.vocab), merges=list(bpe.merges))


def _display_token(token: str) -> str:
    """A token as plotted: a space (or GPT-2's stand-in 'Ġ' for the space byte) as the
    open-box sign '␣', a newline as 'Ċ', characters outside Latin/Greek as U+XXXX escapes."""
    out = []
    for ch in token:
        if ch in (" ", "Ġ"):
            out.append("␣")
        elif ch == "\n":
            out.append("Ċ")
        elif ord(ch) > 0x3FF:
            out.append(f"U+{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


@checked(tokens=arg.sequence(arg.text(min_len=0), min_len=0), ax=arg.axes(), width=arg.count(),
         word_starts=arg.optional(arg.sequence(min_len="len(tokens)", max_len="len(tokens)")))
def show_token_spans(tokens: Sequence[str], ax, width: int = 60, fontsize: float = 9,
                     word_starts: Sequence[bool] | None = None) -> None:
    """Draw ``tokens`` left to right as boxes of alternating colour, wrapping at ``width`` chars.

    Tokens are drawn with spaces as '␣' and characters outside Latin/Greek as U+XXXX escapes
    (no CJK glyphs reach matplotlib). With
    ``word_starts`` (one bool per token), a token that starts a new word is preceded by a
    wider gap and a thin vertical bar, so word boundaries stay visible.
    """
    starts = [False] * len(tokens) if word_starts is None else [bool(b) for b in word_starts]
    shown = [_display_token(t) for t in tokens]
    x, row = 0.0, 0
    for k, text in enumerate(shown):
        n = max(len(text), 1)
        if k > 0 and starts[k]:
            x += 0.7
        if x > 0 and x + n > width:
            x, row = 0.0, row + 1
        if k > 0 and starts[k] and x > 0:
            ax.plot([x - 0.5, x - 0.5], [-row + 0.05, -row + 0.95], color="black", lw=1.2)
        color = COLORS[k % 4]
        ax.add_patch(_box(x, -row, n, color))
        ax.text(x + n / 2, -row + 0.5, text, ha="center", va="center", fontsize=fontsize,
                family="monospace")
        x += n + 0.3
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(-row - 0.2, 1.2)
    ax.set_axis_off()


def _box(x: float, y: float, n: int, color: str):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y + 0.1), n, 0.8, boxstyle="round,pad=0.02,rounding_size=0.15",
                          facecolor=color, alpha=0.35, edgecolor=color, linewidth=0.8)

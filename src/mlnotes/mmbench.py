"""Multiple-choice benchmark machinery in the style of MMBench: CircularEval, answer extraction,
hierarchical aggregation, and synthetic question banks and "models" to exercise them.

Holds

- ``TAXONOMY``: MMBench's L1 -> L2 -> L3 ability tree (2 / 6 / 20 abilities);
- ``synthetic_bank``: single-choice questions with 2-4 options, tagged with L3/L2/L1;
- ``circular_variants`` and ``circular_eval``: ask each question once per cyclic shift of its
  options; a question counts only if every pass is right;
- ``extract_choice``: free-form response -> option letter (rules first, fuzzy fallback);
- ``aggregate``: per-ability scores averaged up the tree, by question or by ability;
- ``uniform_guesser``, ``always_a``, ``biased_knower``, ``verbose``: synthetic models, and
  ``circular_accuracy_biased``: the closed form for the biased knower;
- ``draw_circular_accuracy``: that closed form against the knowledge p, with a simulated point.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from mlnotes.validate import check_choice, check_instance, check_count, check_probability, checked, arg

__all__ = ["LETTERS", "TAXONOMY", "aggregate", "always_a", "biased_knower", "circular_accuracy_biased",
           "circular_eval", "draw_circular_accuracy", "circular_variants", "extract_choice", "l3_table", "rank_stability",
           "synthetic_bank", "uniform_guesser", "verbose"]

TAXONOMY: dict[str, dict[str, list[str]]] = {
    "Perception": {
        "Coarse Perception": ["image style", "image scene", "image emotion", "image quality", "image topic"],
        "Fine-grained Single-instance": ["object localization", "attribute recognition",
                                         "celebrity recognition", "OCR"],
        "Fine-grained Cross-instance": ["spatial relationship", "attribute comparison", "action recognition"],
    },
    "Reasoning": {
        "Attribute Reasoning": ["physical property", "function reasoning", "identity reasoning"],
        "Relation Reasoning": ["social relation", "physical relation", "nature relation"],
        "Logic Reasoning": ["future prediction", "structured image-text"],
    },
}
LETTERS = string.ascii_uppercase
_NOUNS = ["cat", "dog", "car", "tree", "river", "bridge", "piano", "clock", "apple", "lamp", "boat",
          "chair", "horse", "cloud", "train", "candle", "mirror", "guitar", "window", "castle",
          "elephant", "bicycle", "umbrella", "penguin", "volcano", "library", "rainbow", "lighthouse"]

Question = dict
AnswerFn = Callable[[Question, np.random.Generator], str]


def l3_table() -> list[tuple[str, str, str]]:
    """All 20 (L1, L2, L3) triples of ``TAXONOMY`` in tree order."""
    return [(l1, l2, l3) for l1, groups in TAXONOMY.items() for l2, leaves in groups.items() for l3 in leaves]


@checked(n=arg.count(high=10**6), seed=arg.seed())
def synthetic_bank(n: int, option_probs: Mapping[int, float] | None = None, seed: int = 0) -> list[Question]:
    """``n`` single-choice questions: ``{"id", "options": {letter: text}, "answer", "L1", "L2", "L3"}``.

    The number of options is drawn from ``option_probs`` (default {2: 0.2, 3: 0.3, 4: 0.5}), the key
    uniformly among the options, the ability uniformly among the 20 L3 leaves.
    """
    if option_probs is not None and not isinstance(option_probs, Mapping):
        raise TypeError(f"option_probs must be a dict option count -> probability, got {type(option_probs).__name__}")
    option_probs = dict(option_probs or {2: 0.2, 3: 0.3, 4: 0.5})
    sizes = np.array(list(option_probs), dtype=int)
    probs = np.array(list(option_probs.values()), dtype=float)
    if np.any(sizes < 2) or np.any(sizes > 26) or np.any(probs < 0) or not np.isclose(probs.sum(), 1):
        raise ValueError(f"option_probs must map option counts in [2, 26] to probabilities summing to 1, "
                         f"got {option_probs}")
    rng = np.random.default_rng(seed)
    leaves = l3_table()
    n_opts = rng.choice(sizes, size=n, p=probs)
    keys = rng.integers(0, n_opts)
    abilities = rng.integers(0, len(leaves), size=n)
    picks = np.argsort(rng.random((n, len(_NOUNS))), axis=1)  # a random order of the nouns per question
    bank = []
    for i in range(n):
        k = int(n_opts[i])
        texts = [_NOUNS[j] for j in picks[i, :k]] if k <= len(_NOUNS) else [f"option {j}" for j in range(k)]
        l1, l2, l3 = leaves[abilities[i]]
        bank.append({"id": i, "options": dict(zip(LETTERS[:k], texts)), "answer": LETTERS[keys[i]],
                     "L1": l1, "L2": l2, "L3": l3})
    return bank


def _check_question(q: object, name: str = "question") -> None:
    # domain check of one question record, built from validate calls
    options = check_instance(f"{name}['options']", check_instance(name, q, Mapping).get("options"), Mapping)
    check_count(f"number of {name}['options']", len(options), low=2, high=len(LETTERS))
    if list(options) != list(LETTERS[:len(options)]):
        raise ValueError(f"{name}['options'] must be labelled A, B, C... in order, got {list(options)}")
    check_choice(f"{name}['answer']", q.get("answer"), list(options))


def circular_variants(question: Question) -> list[Question]:
    """The N cyclic shifts of a question's N options, answer letters remapped.

    Pass k puts the original option (j + k) mod N at letter j, so the key moves from index a to
    (a - k) mod N: across the N passes every option sits at every letter exactly once.
    """
    _check_question(question)
    texts = list(question["options"].values())
    N = len(texts)
    a = LETTERS.index(question["answer"])
    variants = []
    for k in range(N):
        shifted = texts[k:] + texts[:k]
        variants.append({**question, "options": dict(zip(LETTERS[:N], shifted)),
                         "answer": LETTERS[(a - k) % N], "shift": k})
    return variants


_EXPLICIT = [
    # "answer is B", "Answer: (c)", "option b." -- but not "the answer is a cat"
    re.compile(r"\b(?:answer|option|choice)\s*(?:is|:|=)?\s*(?:[\(\[]([A-Za-z])[\)\]]|([A-Z])\b"
               r"|([a-z])(?=\s*(?:$|[.,;:!)])))", re.I),
    # a reply that starts with "B", "B.", "(B)" or "B)" -- but not "A cat ..."
    re.compile(r"^\s*[\(\[]?([A-Z])(?:[\)\]]|[.:,](?:\s|$)|$)"),
    # "(B)" anywhere
    re.compile(r"[\(\[]([A-Z])[\)\]]"),
]
_NONE = re.compile(r"\b(?:none of (?:these|them|the above)|cannot (?:tell|determine)|no answer)\b", re.I)


@checked(response=arg.text(min_len=0), options=arg.mapping(), fallback=arg.optional(arg.choice(("fuzzy",))))
def extract_choice(response: str, options: Mapping[str, str], fallback: str | None = "fuzzy") -> str | None:
    """Map a free-form ``response`` to one option letter, or None when it picks none.

    1. an explicit letter: "B", "(B)", "B.", "Answer: c", "The answer is B"; a lone lowercase "a"
       is an article, not a choice;
    2. "none of these" and similar -> None;
    3. exactly one option text appears as a word -> that option;
    4. ``fallback="fuzzy"`` (stand-in for MMBench's ChatGPT matcher): the option whose text best
       matches a word of the response by ``difflib`` ratio, if the ratio is >= 0.75 and unique.
    """
    for pattern in _EXPLICIT:
        match = pattern.search(response)
        letter = next((g for g in match.groups() if g), None) if match else None
        if letter and letter.upper() in options:
            return letter.upper()
    if _NONE.search(response):
        return None
    lowered = response.lower()
    hits = [k for k, text in options.items() if re.search(rf"\b{re.escape(text.lower())}\b", lowered)]
    if len(hits) == 1:
        return hits[0]
    if fallback == "fuzzy":
        words = re.findall(r"[a-z]+", lowered)
        scores = {k: max((difflib.SequenceMatcher(None, w, text.lower()).ratio() for w in words), default=0.0)
                  for k, text in options.items()}
        best = max(scores.values(), default=0.0)
        winners = [k for k, s in scores.items() if s == best]
        if best >= 0.75 and len(winners) == 1:
            return winners[0]
    return None


@checked(answer_fn=arg.callable(), questions=arg.sequence(), seed=arg.seed(),
         fallback=arg.optional(arg.choice(("fuzzy",))))
def circular_eval(answer_fn: AnswerFn, questions: Sequence[Question], seed: int = 0,
                  fallback: str | None = "fuzzy") -> tuple[float, float, np.ndarray]:
    """Vanilla and circular accuracy of ``answer_fn(question, rng) -> response``.

    Vanilla: pass 0 (the original order) only. Circular: all N passes must be right. Responses
    go through :func:`extract_choice`; a failed extraction counts as wrong. Returns
    ``(vanilla_acc, circular_acc, per_question)`` with ``per_question`` a (Q, 2) bool array.
    """
    rng = np.random.default_rng(seed)
    results = np.zeros((len(questions), 2), dtype=bool)
    for i, q in enumerate(questions):
        passes = []
        for variant in circular_variants(q):
            choice = extract_choice(answer_fn(variant, rng), variant["options"], fallback)
            passes.append(choice == variant["answer"])
        results[i] = passes[0], all(passes)
    return float(results[:, 0].mean()), float(results[:, 1].mean()), results


@checked(questions=arg.sequence(), correct=arg.array(shape=("len(questions)",), bool_ok=True),
         weight=arg.choice(("question", "ability")))
def aggregate(correct: Sequence[bool], questions: Sequence[Question], weight: str = "question"
              ) -> dict[str, dict[str, float]]:
    """Scores per L3, L2, L1 and overall from per-question correctness.

    ``weight="question"``: every level is the mean over its questions. ``"ability"``: L3 is the
    mean over its questions, each higher level the unweighted mean of its children's scores.
    Returns ``{"L3": {...}, "L2": {...}, "L1": {...}, "overall": {"all": score}}``.
    """
    correct = correct.astype(float)
    labels = {lvl: np.array([q[lvl] for q in questions]) for lvl in ("L1", "L2", "L3")}
    out: dict[str, dict[str, float]] = {"L3": {}, "L2": {}, "L1": {}}
    for l1, l2, l3 in l3_table():
        mask = labels["L3"] == l3
        if mask.any():
            out["L3"][l3] = float(correct[mask].mean())
    for level, parent_of in (("L2", "L3"), ("L1", "L2")):
        for l1, groups in TAXONOMY.items():
            names = list(groups) if level == "L2" else [l1]
            for name in names:
                mask = labels[level] == name
                if not mask.any():
                    continue
                if weight == "question":
                    out[level][name] = float(correct[mask].mean())
                else:
                    children = sorted(set(labels[parent_of][mask]))
                    out[level][name] = float(np.mean([out[parent_of][c] for c in children]))
    out["overall"] = {"all": float(correct.mean()) if weight == "question" else float(np.mean(list(out["L1"].values())))}
    return out


# -- synthetic models -------------------------------------------------------------------------
@checked(rng=arg.generator())
def uniform_guesser(question: Question, rng: np.random.Generator) -> str:
    """Answers a uniformly random letter."""
    _check_question(question), rng
    return LETTERS[rng.integers(len(question["options"]))]


@checked(rng=arg.generator())
def always_a(question: Question, rng: np.random.Generator) -> str:
    """Always answers "A" (the extreme position bias)."""
    _check_question(question), rng
    return "A"


@checked(bias=arg.probability())
def biased_knower(p: float | Mapping[str, float], bias: float = 1.0) -> AnswerFn:
    """A model that recalls the key with probability ``p`` on each pass, independently.

    ``p`` is a number or a dict L2 ability -> probability. When it does not recall, it answers "A"
    with probability ``bias`` and a uniform letter otherwise.
    """
    p = {k: check_probability(f"p[{k!r}]", v) for k, v in p.items()} if isinstance(p, Mapping) else check_probability("p", p)

    def answer(question: Question, rng: np.random.Generator) -> str:
        p_q = p[question["L2"]] if isinstance(p, Mapping) else p
        if rng.random() < p_q:
            return question["answer"]
        if rng.random() < bias:
            return "A"
        return LETTERS[rng.integers(len(question["options"]))]
    return answer


_TEMPLATES = ["{letter}", "({letter})", "Answer: {lower}", "The answer is {letter}. {text}",
              "I think it's the {text}.", "It looks like a {text} to me.", "Definitely the {typo}!"]


@checked(model=arg.callable(), seed=arg.seed())
def verbose(model: AnswerFn, seed: int = 0) -> AnswerFn:
    """Wrap ``model`` so it answers in free text (letters, option texts, sometimes misspelled).

    The template is drawn from a generator of its own (``seed``), so the wrapped model sees
    exactly the random numbers it would see unwrapped (common random numbers).
    """
    template_rng = np.random.default_rng(seed)

    def answer(question: Question, rng: np.random.Generator) -> str:
        letter = extract_choice(model(question, rng), question["options"], fallback=None) or "A"
        text = question["options"][letter]
        typo = text[:-2] + text[-1] + text[-2] if len(text) > 3 else text
        template = _TEMPLATES[template_rng.integers(len(_TEMPLATES))]
        return template.format(letter=letter, lower=letter.lower(), text=text, typo=typo)
    return answer


@checked(p=arg.probability(), bias=arg.probability(), n_options=arg.array(ndim=1, integer=True, low=2))
def circular_accuracy_biased(p: float, bias: float, n_options: Sequence[int]) -> tuple[float, float]:
    """Expected (vanilla, circular) accuracy of :func:`biased_knower` over questions with ``n_options``.

    Per pass the model is right with probability ``p + (1-p)((1-bias)/n + bias [key at A])``.
    Vanilla averages over a uniformly placed key; circular multiplies the N passes, in exactly one
    of which the key sits at A:
    ``(p + (1-p)(bias + (1-bias)/n)) * (p + (1-p)(1-bias)/n)^(n-1)``.
    """
    n = n_options.astype(float)
    at_a = p + (1 - p) * (bias + (1 - bias) / n)
    elsewhere = p + (1 - p) * (1 - bias) / n
    vanilla = at_a / n + elsewhere * (n - 1) / n
    circular = at_a * elsewhere ** (n - 1)
    return float(vanilla.mean()), float(circular.mean())


@checked(models=arg.mapping(item=arg.callable()), seeds=arg.array(ndim=1, integer=True, low=0))
def rank_stability(models: Mapping[str, AnswerFn], questions: Sequence[Question],
                   seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Vanilla and circular accuracy of every model under every seed: {"vanilla", "circular"}
    each an array (len(models), len(seeds)), rows in the order of ``models``."""
    seeds = seeds.tolist()
    out = {"vanilla": np.zeros((len(models), len(seeds))),
           "circular": np.zeros((len(models), len(seeds)))}
    for i, model in enumerate(models.values()):
        for j, seed in enumerate(seeds):
            out["vanilla"][i, j], out["circular"][i, j], _ = circular_eval(model, questions,
                                                                          seed=seed)
    return out


@checked(p=arg.probability(), bias=arg.probability(), n_options=arg.array(ndim=1, integer=True, low=2),
         simulated=arg.array(shape=(2,), low=0.0, high=1.0))
def draw_circular_accuracy(p: float, bias: float, n_options: Sequence[int],
                           simulated: Sequence[float]):
    """Vanilla and circular accuracy of :func:`biased_knower` against its knowledge, as a figure.

    Lines: :func:`circular_accuracy_biased` at ``bias`` on 51 values of the knowledge in [0, 1],
    for a bank whose questions have ``n_options`` (n,) options. Black dots: the ``simulated``
    (vanilla, circular) accuracies at knowledge ``p``.
    """
    from mlnotes.plotting import new_figure, style_cycle

    n = n_options                 # (n,)
    v, c = simulated
    p_grid = np.linspace(0, 1, 51)
    curves = np.array([circular_accuracy_biased(q, bias, n) for q in p_grid])           # (51, 2)
    fig, ax = new_figure(width=5.6, height=3.3)
    styles = style_cycle(2)
    ax.plot(p_grid, curves[:, 0], label="vanilla (closed form)", **styles[0])
    ax.plot(p_grid, curves[:, 1], label="circular (closed form)", **styles[1])
    ax.plot([p, p], [v, c], "o", color="black", label="simulated")
    ax.set(xlabel="knowledge $p$", ylabel="accuracy", ylim=(0, 1),
           title=f"$p$ = {p}, bias $b$ = {bias}: vanilla {v:.3f}, circular {c:.3f}")
    ax.legend(fontsize=8, loc="upper left")
    return fig

"""The adversarial bad-input harness's registry format (see tests/unit/test_adversarial.py).

Each ``tests/unit/test_<module>.py`` registers ONE VALID, FAST call (well under a second)
of every callable in ``mlnotes.<module>.__all__``, in a module-level dict::

    from adversarial_examples import Example

    ADVERSARIAL = {
        "noisy_sine": Example(n=20, noise=0.1, seed=0),
        "plot_fit": Example(x=np.linspace(0, 1, 5), fresh=lambda: {"ax": plt.subplots()[1]}),
        "shift": Example(x=np.ones(3), offset=2.0, accepts={"offset": "-1 0"}),  # any real offset
    }
    ADVERSARIAL_EXEMPT = {"FORMATS": "a constant dict, not a callable"}

The harness replaces one argument at a time by bad values and requires ``ValueError`` or
``TypeError`` whose message names the argument. Options of :class:`Example`:

- positional and keyword arguments: the valid call (they are bound to the signature, so
  every argument has a name; deep-copied before each call).
- ``fresh``: a function returning keyword arguments built anew for each call (axes, models
  that the call mutates, generators).
- ``accepts``: ``{argument: "labels"}``, bad values this argument legitimately takes (for
  example ``"-1 0"`` for a bias, ``"other-str"`` for free text, ``"10**9"`` for a step count:
  an accepted ``10**9`` is not run). ``"*"`` accepts every bad value (say why in a comment).
- ``timeout``: seconds allowed per call (default 2; a call that takes longer is a hang).

Bad-value labels: ``None str bool int -1 0 10**9 nan inf other-str empty ndim nan-array
inf-array complex torch numpy``. NaN and inf (scalars or arrays) count as accepted when the
function's docstring says it propagates them (the word "propagate").
"""

from __future__ import annotations

from typing import Any, Callable

LABELS = frozenset("None str bool int -1 0 10**9 nan inf other-str empty ndim nan-array inf-array complex "
                   "torch numpy".split())


class Example:
    """One valid call of a reader-facing function, and what it legitimately accepts."""

    def __init__(self, *args: Any, fresh: Callable[[], dict] | None = None,
                 accepts: dict[str, str] | None = None, timeout: float = 2.0, **kwargs: Any):
        self.args, self.kwargs, self.fresh, self.timeout = args, kwargs, fresh, timeout
        self.accepts: dict[str, frozenset[str]] = {}
        for name, labels in (accepts or {}).items():
            labels = LABELS if labels == "*" else frozenset(labels.split())
            unknown = labels - LABELS
            assert not unknown, f"unknown bad-value labels {sorted(unknown)}; known: {sorted(LABELS)}"
            self.accepts[name] = labels

    def __repr__(self) -> str:
        return f"Example(args={self.args!r:.60}, kwargs={sorted(self.kwargs)})"

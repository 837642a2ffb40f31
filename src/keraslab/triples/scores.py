"""Precision, recall and F1 over exact (subject, predicate, object) sets, summed over sentences.

With ``R`` the predicted set and ``T`` the gold set of each sentence (duplicates count once),
``X = sum |R & T|``, ``Y = sum |R|``, ``Z = sum |T|``: precision ``X / Y``, recall ``X / Z``,
F1 ``2X / (Y + Z)`` (bert4keras's definition). A ratio whose denominator is 0 is 1.0 when
nothing was there to be found or predicted (``Y + Z = 0``) and 0.0 otherwise.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

Triple = tuple[str, str, str]


@dataclass(frozen=True)
class Counts:
    """``correct`` (X), ``predicted`` (Y) and ``gold`` (Z) triples."""

    correct: int = 0
    predicted: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return _ratio(self.correct, self.predicted, self)

    @property
    def recall(self) -> float:
        return _ratio(self.correct, self.gold, self)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.correct, self.predicted + self.gold, self)

    def scores(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _ratio(numerator: int, denominator: int, counts: Counts) -> float:
    if denominator:
        return numerator / denominator
    return 1.0 if counts.predicted + counts.gold == 0 else 0.0


def count(predicted: Iterable[Iterable[Triple]], gold: Iterable[Iterable[Triple]]) -> Counts:
    """Counts over sentences: ``predicted[i]`` and ``gold[i]`` are sentence i's triples."""
    correct = guessed = expected = 0
    for guess, truth in zip(predicted, gold, strict=True):
        guess, truth = set(guess), set(truth)
        correct, guessed, expected = (
            correct + len(guess & truth),
            guessed + len(guess),
            expected + len(truth),
        )
    return Counts(correct, guessed, expected)


def count_by_predicate(
    predicted: Iterable[Iterable[Triple]], gold: Iterable[Iterable[Triple]]
) -> dict[str, Counts]:
    """:func:`count` restricted to each predicate that is predicted or gold somewhere."""
    correct, guessed, expected = Counter(), Counter(), Counter()
    for guess, truth in zip(predicted, gold, strict=True):
        guess, truth = set(guess), set(truth)
        correct.update(t[1] for t in guess & truth)
        guessed.update(t[1] for t in guess)
        expected.update(t[1] for t in truth)
    return {
        name: Counts(correct[name], guessed[name], expected[name])
        for name in sorted(guessed.keys() | expected.keys())
    }

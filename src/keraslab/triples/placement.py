"""Placing a sentence's gold triples on token positions, and counting the ones that cannot be.

An entity string may occur more than once in a sentence ("明月" inside "《明月时光》" and again as
"《明月》"). bert4keras takes the first occurrence, which can make two subjects share a start
token although the text has a clean occurrence: decoding perfect marks would then lose a triple
that a model can in fact find. Here every subject string and every object string starts at its
first occurrence, and then each string with other occurrences moves to the one that lets the
most triples be decoded (:func:`~keraslab.triples.pointers.reachable`), string by string, until
no move helps. What is still lost is a true limit of the pointer scheme.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from keraslab.triples.pointers import reachable
from keraslab.triples.spans import token_spans

# Why a gold triple cannot be reached, in the order they are checked.
UNREACHABLE = ("not_found", "cut_by_maxlen", "overlapping")
SUBJECT, OBJECT = 0, 1


def place_triples(
    text: str,
    triples: Iterable[tuple[str, str, str]],
    offsets: Sequence[tuple[int, int]],
    stop: int,
    predicate_ids: Mapping[str, int],
) -> tuple[set[tuple[int, ...]], Counter]:
    """The distinct triples ``(s_first, s_last, predicate, o_first, o_last)`` with both spans
    before token ``stop``, and the count of the others by reason (:data:`UNREACHABLE`):
    ``not_found`` (no occurrence on token boundaries), ``cut_by_maxlen`` (every occurrence at or
    past ``stop``) and ``overlapping`` (placed, but lost when perfect marks are decoded)."""
    reasons, kept = Counter(), []
    occurrences: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for triple in set(triples):
        spans = {}
        for role, string in ((SUBJECT, triple[0]), (OBJECT, triple[2])):
            found = token_spans(text, string, offsets)
            spans[role] = (found, [span for span in found if span[1] < stop])
        if not spans[SUBJECT][0] or not spans[OBJECT][0]:
            reasons["not_found"] += 1
        elif not spans[SUBJECT][1] or not spans[OBJECT][1]:
            reasons["cut_by_maxlen"] += 1
        else:
            kept.append(triple)
            occurrences[(SUBJECT, triple[0])] = spans[SUBJECT][1]
            occurrences[(OBJECT, triple[2])] = spans[OBJECT][1]

    def placed(choice: Mapping[tuple[int, str], int]) -> set[tuple[int, ...]]:
        return {
            (
                *occurrences[(SUBJECT, s)][choice[(SUBJECT, s)]],
                predicate_ids[p],
                *occurrences[(OBJECT, o)][choice[(OBJECT, o)]],
            )
            for s, p, o in kept
        }

    choice = dict.fromkeys(occurrences, 0)
    best = len(reachable(placed(choice)))
    improved = best < len(kept)
    while improved:
        improved = False
        for key, spans in occurrences.items():
            for index in range(len(spans)):
                trial = {**choice, key: index}
                score = len(reachable(placed(trial)))
                if score > best:
                    choice, best, improved = trial, score, True
    triples_on_tokens = placed(choice)
    reasons["overlapping"] = len(triples_on_tokens) - best
    return triples_on_tokens, reasons

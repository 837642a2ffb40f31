"""Half-pointer decoding: start and end marks -> spans, as bert4keras's triple extraction pairs them.

A span starts at every position whose start score passes its threshold and ends at the nearest
position at or after it whose end score passes the end threshold. Starts with no end after them
give nothing, and two spans that share a start cannot both be expressed (the shorter wins): that
is what makes some gold spans unreachable for this scheme (see :func:`reachable`).
"""

from collections.abc import Iterable

import numpy as np


def pair_starts_with_ends(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """``(s, e)`` for each start ``s`` (ascending) with ``e`` the smallest end ``>= s``."""
    starts, ends = np.sort(np.asarray(starts)), np.sort(np.asarray(ends))
    nearest = np.searchsorted(ends, starts, side="left")
    return [(int(s), int(ends[i])) for s, i in zip(starts, nearest, strict=True) if i < len(ends)]


def pointer_spans(
    start_scores: np.ndarray,
    end_scores: np.ndarray,
    start_threshold: float,
    end_threshold: float,
    first: int = 0,
    stop: int | None = None,
) -> list[tuple[int, int]]:
    """The spans in positions ``[first, stop)`` of one (L,) pair of start and end scores."""
    stop = len(start_scores) if stop is None else stop
    starts = np.flatnonzero(start_scores[first:stop] > start_threshold) + first
    ends = np.flatnonzero(end_scores[first:stop] > end_threshold) + first
    return pair_starts_with_ends(starts, ends)


def reachable(triples: Iterable[tuple[int, int, int, int, int]]) -> set[tuple[int, ...]]:
    """The triples ``(s_start, s_end, predicate, o_start, o_end)`` that decoding perfect marks
    gives back: the subject must survive pairing among all subjects of the sentence, and the
    object among the objects of its subject and predicate."""
    triples = set(triples)
    subject_spans = {(t[0], t[1]) for t in triples}
    subjects = set(
        pair_starts_with_ends([s for s, _ in subject_spans], [e for _, e in subject_spans])
    )
    found = set()
    for s_start, s_end in subjects:
        for predicate in {t[2] for t in triples if t[:2] == (s_start, s_end)}:
            objects = [(t[3], t[4]) for t in triples if t[:3] == (s_start, s_end, predicate)]
            decoded = pair_starts_with_ends([o[0] for o in objects], [o[1] for o in objects])
            found |= {(s_start, s_end, predicate, *o) for o in decoded if o in objects}
    return found & triples

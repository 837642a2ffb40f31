"""Batched decoding of the pointer network: sentences -> (subject, predicate, object) triples.

bert4keras decodes one sentence at a time and calls the object model once per subject. Here a
batch of sentences goes through ``subject_model`` in one call, and every subject found in the
batch goes through ``object_model`` in one more call (each row the subject's sentence residual
and its token span), padded to a multiple of ``ROW_MULTIPLE`` rows so that the compiled function
sees few shapes. The marks are read as :mod:`keraslab.triples.pointers` pairs them, between the
[CLS] and [SEP] of each sentence; spans come back as characters through the token offsets.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keraslab.triples.pointers import pointer_spans
from keraslab.triples.scores import Triple
from keraslab.triples.spans import span_text

ROW_MULTIPLE = 32


@dataclass(frozen=True)
class Thresholds:
    """Marks above these count (bert4keras: starts 0.6, ends 0.5), on the powered probabilities."""

    subject_start: float = 0.6
    subject_end: float = 0.5
    object_start: float = 0.6
    object_end: float = 0.5


@dataclass(frozen=True)
class Sentences:
    """What decoding reads: encoder ``inputs`` (N, L) arrays, each sentence's ``texts`` and the
    token ``offsets`` into it."""

    inputs: Mapping[str, np.ndarray]
    texts: Sequence[str]
    offsets: Sequence[Sequence[tuple[int, int]]]

    def __len__(self) -> int:
        return len(self.texts)


def extract_triples(
    model,
    sentences: Sentences,
    predicates: Sequence[str],
    thresholds: Thresholds = Thresholds(),
    batch_size: int = 64,
) -> list[set[Triple]]:
    """Each sentence's decoded triples, with ``model`` a
    :class:`~keraslab.models.triples.TripleExtractor`."""
    return _extract(model, sentences, predicates, thresholds, batch_size, _objects_at_once)


def extract_triples_one_by_one(
    model, sentences: Sentences, predicates: Sequence[str], thresholds: Thresholds = Thresholds()
) -> list[set[Triple]]:
    """As bert4keras decodes: one sentence per subject-model call and one subject per
    object-model call. The same triples as :func:`extract_triples`; kept as the reference that
    the batched decoder is tested and benchmarked against."""
    return _extract(model, sentences, predicates, thresholds, 1, _objects_one_by_one)


def _extract(model, sentences, predicates, thresholds, batch_size, object_marks):
    found = []
    for first in range(0, len(sentences), batch_size):
        rows = slice(first, first + batch_size)
        inputs = {
            name: np.asarray(sentences.inputs[name][rows])
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        found += _decode_batch(
            model,
            inputs,
            sentences.texts[rows],
            sentences.offsets[rows],
            predicates,
            thresholds,
            object_marks,
        )
    return found


def _decode_batch(
    model, inputs, texts, offsets, predicates, thresholds, object_marks
) -> list[set[Triple]]:
    halves = model.subject_model.predict_on_batch(inputs)
    residual, subject_marks = np.asarray(halves["residual"]), np.asarray(halves["subject"])
    lengths = inputs["padding_mask"].sum(axis=1)
    owners, spans = [], []
    for row, length in enumerate(lengths):
        for span in pointer_spans(
            subject_marks[row, :, 0],
            subject_marks[row, :, 1],
            thresholds.subject_start,
            thresholds.subject_end,
            first=1,
            stop=int(length) - 1,
        ):
            owners.append(row)
            spans.append(span)
    triples = [set() for _ in texts]
    if not spans:
        return triples
    marks_of = object_marks(model, residual, np.asarray(owners), np.asarray(spans, np.int32))
    for owner, (s_first, s_last), marks in zip(owners, spans, marks_of, strict=True):
        text, token_offsets, stop = texts[owner], offsets[owner], int(lengths[owner]) - 1
        subject = span_text(text, token_offsets, s_first, s_last)
        started = np.flatnonzero((marks[1:stop, :, 0] > thresholds.object_start).any(axis=0))
        for predicate_id in started:
            for o_first, o_last in pointer_spans(
                marks[:, predicate_id, 0],
                marks[:, predicate_id, 1],
                thresholds.object_start,
                thresholds.object_end,
                first=1,
                stop=stop,
            ):
                triples[owner].add(
                    (
                        subject,
                        predicates[predicate_id],
                        span_text(text, token_offsets, o_first, o_last),
                    )
                )
    return triples


def _objects_at_once(model, residual, owners: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Object marks (S, L, P, 2) of every subject, in one call of ``model.object_model``."""
    count = len(owners)
    padded = -(-count // ROW_MULTIPLE) * ROW_MULTIPLE
    owners = np.concatenate([owners, np.repeat(owners[-1:], padded - count)])
    spans = np.concatenate([spans, np.repeat(spans[-1:], padded - count, axis=0)])
    marks = model.object_model.predict_on_batch(
        {"residual": residual[owners], "subject_ids": spans}
    )
    return np.asarray(marks)[:count]


def _objects_one_by_one(model, residual, owners: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Object marks of each subject from its own call of ``model.object_model``."""
    return np.concatenate(
        [
            np.asarray(
                model.object_model.predict_on_batch(
                    {
                        "residual": residual[owner : owner + 1],
                        "subject_ids": spans[index : index + 1],
                    }
                )
            )
            for index, owner in enumerate(owners)
        ]
    )

"""Training targets of the pointer network, built per batch from each sentence's token triples.

A split's labels are ``triples`` (N, T, 5): ``(s_start, s_end, predicate, o_start, o_end)`` token
positions, rows of -1 after the last. :class:`PointerTargets` turns a batch of them into the
model's inputs and targets: the marks of every subject, one subject per sentence (its first and
last token as ``subject_ids``) and the marks of that subject's objects per predicate. Positions
past the padding mask are -1, which the loss leaves out.
"""

from dataclasses import dataclass

import numpy as np

NO_TRIPLE = -1


@dataclass(frozen=True)
class PointerTargets:
    """``(inputs, {"triples"}, rng) -> (inputs + subject_ids, {"subject", "object"})``.

    With ``sample`` (training) each sentence's subject is drawn uniformly from its distinct subject
    spans with ``rng`` (seeded by seed, epoch and batch, so every loader draws the same); without
    (validation) it is the first span in text order, so every epoch scores the same targets. A
    sentence without triples gets ``subject_ids = (0, 0)`` ([CLS]) and no object marks.
    """

    num_predicates: int
    sample: bool

    def __call__(self, inputs: dict, labels: dict, rng: np.random.Generator) -> tuple[dict, dict]:
        triples, padding = labels["triples"], inputs["padding_mask"] == 0
        batch, length = padding.shape
        subject = np.zeros((batch, length, 2), np.float32)
        objects = np.zeros((batch, length, self.num_predicates, 2), np.float32)
        subject_ids = np.zeros((batch, 2), np.int32)
        for row in range(batch):
            known = triples[row][triples[row, :, 0] != NO_TRIPLE]
            if not len(known):
                continue
            subject[row, known[:, 0], 0] = 1
            subject[row, known[:, 1], 1] = 1
            spans = np.unique(known[:, :2], axis=0)
            chosen = spans[rng.integers(len(spans))] if self.sample else spans[0]
            subject_ids[row] = chosen
            own = known[(known[:, 0] == chosen[0]) & (known[:, 1] == chosen[1])]
            objects[row, own[:, 3], own[:, 2], 0] = 1
            objects[row, own[:, 4], own[:, 2], 1] = 1
        subject[padding], objects[padding] = -1, -1
        return {**inputs, "subject_ids": subject_ids}, {"subject": subject, "object": objects}

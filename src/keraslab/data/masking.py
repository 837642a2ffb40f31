"""BERT's masked-LM targets: pick 15% of the tokens, then replace 80/10/10.

As Google's ``create_pretraining_data.py``: each sequence of ``n`` tokens (with [CLS] / [SEP])
gets ``k = min(max_predictions, max(1, round(n * rate)))`` positions, drawn uniformly without
replacement among its ordinary tokens (never [CLS], [SEP], [PAD] or other special tokens). Each
chosen token becomes [MASK] with probability 0.8, a random ordinary token with probability 0.1,
and stays itself with probability 0.1. The model predicts the original token at each position.
"""

from dataclasses import dataclass

import numpy as np

MASK_SHARE, RANDOM_SHARE = 0.8, 0.1


@dataclass(frozen=True)
class MaskTokens:
    """A batch transform: ``(inputs, labels, rng) -> (inputs, labels, sample_weights)``.

    ``inputs`` gains ``masked_positions`` (B, max_predictions) and its ``token_ids`` are masked;
    ``labels`` (B, max_predictions) are the original tokens there, and ``sample_weights`` are 1
    for real predictions, 0 for the padding of sequences with fewer than ``max_predictions``.
    The incoming ``labels`` are ignored. It holds only numbers, so it pickles to any worker.
    """

    mask_id: int
    special_ids: tuple[int, ...]
    vocab_size: int
    rate: float = 0.15
    max_predictions: int = 20

    def __call__(self, inputs: dict[str, np.ndarray], labels, rng: np.random.Generator):
        token_ids = inputs["token_ids"]
        rows, width = len(token_ids), self.max_predictions
        positions = np.zeros((rows, width), np.int32)
        weights = np.zeros((rows, width), np.float32)
        lengths = inputs["padding_mask"].sum(axis=1)
        ordinary = (inputs["padding_mask"] == 1) & ~np.isin(token_ids, self.special_ids)
        for row in range(rows):
            candidates = np.flatnonzero(ordinary[row])
            count = min(width, max(1, round(lengths[row] * self.rate)), len(candidates))
            positions[row, :count] = np.sort(rng.choice(candidates, count, replace=False))
            weights[row, :count] = 1.0
        targets = np.take_along_axis(token_ids, positions, axis=1)
        masked = token_ids.copy()
        draw = rng.random((rows, width))
        chosen = weights == 1.0
        as_mask = chosen & (draw < MASK_SHARE)
        as_random = chosen & (draw >= MASK_SHARE) & (draw < MASK_SHARE + RANDOM_SHARE)
        row_index = np.broadcast_to(np.arange(rows)[:, None], positions.shape)
        masked[row_index[as_mask], positions[as_mask]] = self.mask_id
        masked[row_index[as_random], positions[as_random]] = rng.choice(
            self.ordinary_ids, int(as_random.sum())
        )
        return (
            {**inputs, "token_ids": masked, "masked_positions": positions},
            np.where(chosen, targets, 0).astype(np.int32),
            weights,
        )

    @property
    def ordinary_ids(self) -> np.ndarray:
        return np.setdiff1d(np.arange(self.vocab_size), self.special_ids)

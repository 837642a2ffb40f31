"""A data split as arrays ready for a model, and what turns each batch of it into model input."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# An array (N, ...), a dict of such arrays (one per model output), or None (no targets).
Labels = np.ndarray | dict[str, np.ndarray] | None
# (inputs, labels, rng) -> (inputs,), (inputs, labels) or (inputs, labels, sample_weights).
BatchTransform = Callable[[dict[str, np.ndarray], Labels, np.random.Generator], tuple]


# The inputs of a text split that hold one entry per token (N, maxlen), padded at the end.
TOKEN_INPUTS = ("token_ids", "segment_ids", "padding_mask")


@dataclass
class EncodedSplit:
    """One split: ``inputs`` (name -> (N, ...) arrays), ``labels`` (an (N, ...) array, a dict of
    them, or None for models that train on their inputs alone), optional ``sample_weights``
    (N, ...), and an optional ``transform`` applied to every batch with a generator seeded by
    (seed, epoch, batch index), such as dynamic masking for a masked LM.

    With ``pad_to_multiple`` m (a text split, with a ``padding_mask``), a batch's token inputs
    are cut to ``min(maxlen, m * ceil(longest / m))`` columns, ``longest`` the batch's longest
    text: what was cut is padding, which the model masks out anyway.
    """

    inputs: dict[str, np.ndarray]
    labels: Labels = None
    sample_weights: np.ndarray | None = None
    transform: BatchTransform | None = None
    pad_to_multiple: int | None = None

    def __post_init__(self):
        if self.sample_weights is not None and self.labels is None:
            raise ValueError("a split with sample_weights needs labels for them to weigh")
        if self.pad_to_multiple is not None and "padding_mask" not in self.inputs:
            raise ValueError("pad_to_multiple cuts padding, so it needs a padding_mask input")

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def lengths(self) -> np.ndarray | None:
        """Each row's tokens (its padding mask's sum); None for a split without one."""
        mask = self.inputs.get("padding_mask")
        return None if mask is None else mask.sum(axis=1)

    def width(self, rows: np.ndarray) -> int | None:
        """The columns the token inputs of ``rows`` keep (None: all of them)."""
        if self.pad_to_multiple is None:
            return None
        multiple, maxlen = self.pad_to_multiple, self.inputs["padding_mask"].shape[1]
        longest = int(self.inputs["padding_mask"][rows].sum(axis=1).max(initial=1))
        return min(maxlen, -(-longest // multiple) * multiple)

    def take(self, rows: np.ndarray, width_of: np.ndarray | None = None) -> tuple:
        """The batch of ``rows`` as Keras reads it: ``(inputs,)``, ``(inputs, labels)`` or
        ``(inputs, labels, sample_weights)``; labels keep their form (array or dict). The token
        inputs are cut to the width of ``width_of`` (default: ``rows``), rows that include
        ``rows``: a data-parallel worker's share of a batch is as wide as the whole batch."""
        width = self.width(rows if width_of is None else width_of)
        inputs = {
            name: array[rows, :width] if name in TOKEN_INPUTS else array[rows]
            for name, array in self.inputs.items()
        }
        if self.labels is None:
            return (inputs,)
        if isinstance(self.labels, dict):
            labels = {name: array[rows] for name, array in self.labels.items()}
        else:
            labels = self.labels[rows]
        if self.sample_weights is None:
            return inputs, labels
        return inputs, labels, self.sample_weights[rows]

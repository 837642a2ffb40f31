"""A data split as arrays ready for a model, and what turns each batch of it into model input."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# An array (N, ...), a dict of such arrays (one per model output), or None (no targets).
Labels = np.ndarray | dict[str, np.ndarray] | None
# (inputs, labels, rng) -> (inputs,), (inputs, labels) or (inputs, labels, sample_weights).
BatchTransform = Callable[[dict[str, np.ndarray], Labels, np.random.Generator], tuple]


@dataclass
class EncodedSplit:
    """One split: ``inputs`` (name -> (N, ...) arrays), ``labels`` (an (N, ...) array, a dict of
    them, or None for models that train on their inputs alone), optional ``sample_weights``
    (N, ...), and an optional ``transform`` applied to every batch with a generator seeded by
    (seed, epoch, batch index), such as dynamic masking for a masked LM."""

    inputs: dict[str, np.ndarray]
    labels: Labels = None
    sample_weights: np.ndarray | None = None
    transform: BatchTransform | None = None

    def __post_init__(self):
        if self.sample_weights is not None and self.labels is None:
            raise ValueError("a split with sample_weights needs labels for them to weigh")

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def take(self, rows: np.ndarray) -> tuple:
        """The batch of ``rows`` as Keras reads it: ``(inputs,)``, ``(inputs, labels)`` or
        ``(inputs, labels, sample_weights)``; labels keep their form (array or dict)."""
        inputs = {name: array[rows] for name, array in self.inputs.items()}
        if self.labels is None:
            return (inputs,)
        if isinstance(self.labels, dict):
            labels = {name: array[rows] for name, array in self.labels.items()}
        else:
            labels = self.labels[rows]
        if self.sample_weights is None:
            return inputs, labels
        return inputs, labels, self.sample_weights[rows]

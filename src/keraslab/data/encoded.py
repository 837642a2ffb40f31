"""A data split as arrays ready for a model, and what turns each batch of it into model input."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# (inputs, labels, rng) -> (inputs, labels) or (inputs, labels, sample_weights), per batch.
BatchTransform = Callable[[dict[str, np.ndarray], np.ndarray | None, np.random.Generator], tuple]


@dataclass
class EncodedSplit:
    """One split: ``inputs`` (name -> (N, ...) arrays), ``labels`` (N, ...) or None, optional
    ``sample_weights`` (N, ...), and an optional ``transform`` applied to every batch with a
    generator seeded by (seed, epoch, batch index), such as dynamic masking for a masked LM."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    sample_weights: np.ndarray | None = None
    transform: BatchTransform | None = None

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

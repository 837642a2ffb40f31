"""Batches and the loaders that bring them to the model (the ``loader`` config group)."""

from keraslab.loaders.batches import SplitBatches
from keraslab.loaders.fetchers import InlineLoader, ThreadLoader
from keraslab.loaders.keras_input import Schedule, keras_input

__all__ = ["InlineLoader", "Schedule", "SplitBatches", "ThreadLoader", "keras_input"]

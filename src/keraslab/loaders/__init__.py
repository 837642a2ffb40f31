"""Batches and the loaders that bring them to the model (the ``loader`` config group).

This package imports no Keras, so loader worker processes start light; the feed into
``model.fit`` is :func:`keraslab.loaders.keras_input.keras_input`.
"""

from keraslab.loaders.batches import Schedule, SplitBatches
from keraslab.loaders.fetchers import InlineLoader, ProcessLoader, ThreadLoader

__all__ = [
    "InlineLoader",
    "ProcessLoader",
    "Schedule",
    "SplitBatches",
    "ThreadLoader",
]

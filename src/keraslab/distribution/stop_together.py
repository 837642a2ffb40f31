"""Ctrl-C in a data-parallel run: every worker stops after the same step.

Workers interrupted at different points wait for each other in different collectives (one in
the next step's all-reduce, the other saving a checkpoint) and never return. So while workers
train, SIGINT only records a request; after every training step the workers gather their
requests (one small all-gather) and, if any worker has one, all raise ``KeyboardInterrupt``
there together: the run is KILLED and resumable, as a single process's is after Ctrl-C.
"""

import signal
from contextlib import contextmanager

import keras
import numpy as np


class StopTogether(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.requested = False

    @contextmanager
    def listening(self):
        """SIGINT records a request instead of raising, for the block's duration."""

        def request(signum, frame):
            self.requested = True

        previous = signal.signal(signal.SIGINT, request)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def on_train_batch_end(self, batch, logs=None):
        from jax.experimental import multihost_utils

        flags = multihost_utils.process_allgather(np.array([self.requested], dtype=np.int32))
        if np.asarray(flags).any():
            raise KeyboardInterrupt(f"Ctrl-C: every worker stopped after batch {batch + 1}")

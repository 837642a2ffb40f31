"""Ctrl-C in a data-parallel run: every worker stops after the same step.

Workers interrupted at different points wait for each other in different collectives (one in
the next step's all-reduce, the other saving a checkpoint) and never return. So while workers
train, SIGINT only records a request (:class:`~keraslab.training.step_interrupts.DeferredInterrupts`);
after every training step the workers gather their requests (one small all-gather) and, if any
worker has one, all raise ``KeyboardInterrupt`` there together: the run is KILLED and
resumable, as a single process's is after Ctrl-C.
"""

import numpy as np

from keraslab.training.step_interrupts import DeferredInterrupts


class StopTogether(DeferredInterrupts):
    def on_train_batch_end(self, batch, logs=None):
        from jax.experimental import multihost_utils

        flags = multihost_utils.process_allgather(np.array([self.requested], dtype=np.int32))
        if np.asarray(flags).any():
            self.stop(f"on every worker after batch {batch + 1}")

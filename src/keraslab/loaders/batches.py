"""Index-addressable batches over an encoded split, and the schedule that walks them epoch by epoch.

Nothing here imports Keras: worker processes unpickle these objects and stay light.
"""

import math
from dataclasses import dataclass

import numpy as np

from keraslab.data.encoded import EncodedSplit


class SplitBatches:
    """``batch(epoch, index)``: ``(inputs,)``, ``(inputs, labels)`` or ``(inputs, labels,
    sample_weights)``, labels an array or a dict of arrays (:meth:`EncodedSplit.take`).

    With ``shuffle`` the rows of epoch ``e`` follow ``numpy.random.default_rng((seed, e))
    .permutation(n)``; without, their stored order. With ``group_by_length`` g as well (a split
    with lengths), that permutation is cut into chunks of g batches, each chunk sorted by length
    (stable) and cut into batches, and the full batches are shuffled by the same generator (the
    short one stays last): similar lengths share a batch, which :class:`EncodedSplit` then pads
    less. Without ``shuffle``, ``group_by_length`` sorts the whole split by length (stable), the
    same order every epoch: validation and test batches pad little, and :meth:`in_split_order`
    puts per-row outputs back in the split's order. A split's ``transform`` gets
    ``default_rng((seed, e, index))``. So a batch depends only on (seed, epoch, index), never on
    which worker builds it or when, and every sample appears once an epoch (the last batch may be
    short). Holds only arrays and picklable callables, so it can be sent to worker processes.

    ``share=(w, W)``: data-parallel worker ``w`` of ``W`` builds only the ``w``-th of ``W`` equal
    parts of every batch (the rows above a multiple of ``W`` in a short last batch are left out,
    fewer than ``W`` samples an epoch; a last batch under ``W`` rows is dropped), so the workers
    together hold each batch once, every part as wide as the whole batch (cut to the whole
    batch's longest text), so that the workers' inputs, and the steps they run in lock-step, have
    one shape; its transform draws from ``default_rng((seed, e, index, w))``.
    """

    def __init__(
        self,
        split: EncodedSplit,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        group_by_length: int | None = None,
        share: tuple[int, int] = (0, 1),
    ):
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.group_by_length = group_by_length
        self.worker, self.workers = share
        self.lengths = split.lengths() if group_by_length else None
        if group_by_length and self.lengths is None:
            raise ValueError("group_by_length needs a split with lengths (a padding_mask)")
        self._last_order: tuple[int, np.ndarray] | None = None  # (epoch, order): once an epoch

    def __len__(self) -> int:
        batches = math.ceil(len(self.split) / self.batch_size)
        left = len(self.split) % self.batch_size
        return batches - 1 if 0 < left < self.workers else batches

    def rows(self, index: int) -> int:
        """How many samples batch ``index`` holds over all workers (the last may be short)."""
        rows = min(self.batch_size, len(self.split) - index * self.batch_size)
        return rows - rows % self.workers

    def order(self, epoch: int) -> np.ndarray:
        last = self._last_order  # one read: loader threads may replace it meanwhile
        if last is None or last[0] != epoch:
            last = self._last_order = (epoch, self._order(epoch))
        return last[1]

    def in_split_order(self, outputs: np.ndarray) -> np.ndarray:
        """Per-row ``outputs`` of one unshuffled epoch, in batch order, put in the split's
        order: ``result[order[i]] = outputs[i]``."""
        order = self.order(0)
        result = np.empty_like(outputs)
        result[order] = outputs
        return result

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            if self.group_by_length:
                return np.argsort(self.lengths, kind="stable")
            return np.arange(len(self.split))
        generator = np.random.default_rng((self.seed, epoch))
        order = generator.permutation(len(self.split))
        if self.group_by_length:
            order = self._grouped(order, generator)
        return order

    def _grouped(self, order: np.ndarray, generator: np.random.Generator) -> np.ndarray:
        chunk = self.group_by_length * self.batch_size
        pieces = [order[start : start + chunk] for start in range(0, len(order), chunk)]
        order = np.concatenate([p[np.argsort(self.lengths[p], kind="stable")] for p in pieces])
        full = len(order) // self.batch_size * self.batch_size
        batches = order[:full].reshape(-1, self.batch_size)[
            generator.permutation(len(order) // self.batch_size)
        ]
        return np.concatenate([batches.reshape(-1), order[full:]])

    def batch(self, epoch: int, index: int) -> tuple:
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} is outside [0, {len(self)})")
        first = index * self.batch_size
        whole = self.order(epoch)[first : first + self.rows(index)]
        part = len(whole) // self.workers
        rows = whole[self.worker * part : (self.worker + 1) * part]
        batch = self.split.take(rows, width_of=whole)
        if self.split.transform is not None:
            inputs, labels = batch[0], batch[1] if len(batch) > 1 else None
            key = (self.seed, epoch, index) + ((self.worker,) if self.workers > 1 else ())
            return self.split.transform(inputs, labels, np.random.default_rng(key))
        return batch


@dataclass(frozen=True)
class Schedule:
    """``position -> batch``: batch ``k % per_epoch`` of epoch ``first_epoch + k // per_epoch``.

    ``per_epoch`` may be below ``len(batches)`` (a capped epoch: the first batches of each
    epoch's order). Picklable, so process workers can run it.
    """

    batches: SplitBatches
    first_epoch: int
    per_epoch: int

    def __call__(self, position: int) -> tuple:
        epoch, index = divmod(position, self.per_epoch)
        return self.batches.batch(self.first_epoch + epoch, index)

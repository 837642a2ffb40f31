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
    less. A split's ``transform`` gets
    ``default_rng((seed, e, index))``. So a batch depends only on (seed, epoch, index), never on
    which worker builds it or when, and every sample appears once an epoch (the last batch may be
    short). Holds only arrays and picklable callables, so it can be sent to worker processes.
    """

    def __init__(
        self,
        split: EncodedSplit,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        group_by_length: int | None = None,
    ):
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.group_by_length = group_by_length
        self.lengths = split.lengths() if group_by_length else None
        if group_by_length and self.lengths is None:
            raise ValueError("group_by_length needs a split with lengths (a padding_mask)")
        self._last_order: tuple[int, np.ndarray] | None = None  # (epoch, order): once an epoch

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)

    def rows(self, index: int) -> int:
        """How many samples batch ``index`` holds (the last one may be short)."""
        return min(self.batch_size, len(self.split) - index * self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        last = self._last_order  # one read: loader threads may replace it meanwhile
        if last is None or last[0] != epoch:
            last = self._last_order = (epoch, self._order(epoch))
        return last[1]

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
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
        rows = self.order(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.split.take(rows)
        if self.split.transform is not None:
            inputs, labels = batch[0], batch[1] if len(batch) > 1 else None
            return self.split.transform(
                inputs, labels, np.random.default_rng((self.seed, epoch, index))
            )
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

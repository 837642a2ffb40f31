"""Index-addressable batches over in-memory arrays (a ``keras.utils.PyDataset``)."""

import math

import keras
import numpy as np


class ArrayBatches(keras.utils.PyDataset):
    """Batches of ``(inputs, labels)``; with ``shuffle`` the order is a seeded permutation per epoch.

    Epoch ``e`` uses ``numpy.random.default_rng((seed, e)).permutation(n)``, so the order depends
    only on the seed and the epoch, never on the loader's workers. Every sample appears once an epoch.
    ``epoch`` is the first epoch's number (non-zero when a run resumes).
    """

    def __init__(
        self,
        inputs: dict[str, np.ndarray],
        labels: np.ndarray,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
        epoch: int = 0,
    ):
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        self.inputs = inputs
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.order = self._order_for(epoch)

    def _order_for(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.labels))
        return np.random.default_rng((self.seed, epoch)).permutation(len(self.labels))

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return {name: array[rows] for name, array in self.inputs.items()}, self.labels[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order_for(self.epoch)

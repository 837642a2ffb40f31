"""Index-addressable batches over an encoded split (a ``keras.utils.PyDataset``)."""

import math

import keras
import numpy as np

from keraslab.data.encoded import EncodedSplit


class ArrayBatches(keras.utils.PyDataset):
    """Batches of ``(inputs, labels)``, or ``(inputs, labels, sample_weights)``, from ``split``.

    With ``shuffle`` the order is ``numpy.random.default_rng((seed, e)).permutation(n)`` in epoch
    ``e``, so it depends only on the seed and the epoch, never on the loader's workers; every
    sample appears once an epoch. A split's ``transform`` gets ``default_rng((seed, e, index))``
    for batch ``index``, so it too gives the same batch whichever worker builds it.
    ``epoch`` is the first epoch's number (non-zero when a run resumes).
    """

    def __init__(
        self,
        split: EncodedSplit,
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
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.order = self._order_for(epoch)

    def _order_for(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.split))
        return np.random.default_rng((self.seed, epoch)).permutation(len(self.split))

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        split = self.split
        inputs = {name: array[rows] for name, array in split.inputs.items()}
        labels = None if split.labels is None else split.labels[rows]
        if split.transform is not None:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            return split.transform(inputs, labels, rng)
        if split.sample_weights is None:
            return inputs, labels
        return inputs, labels, split.sample_weights[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order_for(self.epoch)

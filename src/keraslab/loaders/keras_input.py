"""Hand batches to ``model.fit`` / ``evaluate`` in the form each Keras backend reads fastest.

Batches form a stream of positions: position ``k`` is batch ``k % per_epoch`` of epoch
``first_epoch + k // per_epoch`` (:class:`~keraslab.loaders.batches.Schedule`). On TensorFlow
the stream is a ``tf.data`` pipeline, ``range -> numpy_function(fetcher.get)``, with tf.data's
own prefetching off, so that the loader alone decides what is built ahead (``inline``: nothing);
Keras's own route for Python batches, ``Dataset.from_generator``, keeps a thread busy that
halved the training speed of the sentiment classifier on 2 cores (0.85 s against 0.38 s a
step). Other backends read a ``PyDataset``.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import keras
import numpy as np

from keraslab.loaders.batches import Schedule, SplitBatches


@contextmanager
def keras_input(
    batches: SplitBatches,
    loader,
    first_epoch: int = 0,
    steps: int | None = None,
    endless: bool = False,
) -> Iterator:
    """What ``model.fit`` / ``evaluate`` take for ``batches`` read through ``loader``.

    ``steps`` caps each epoch (None: all batches). ``endless`` (training) streams one epoch after
    another, for ``fit(steps_per_epoch=steps)``; otherwise each pass is the same single epoch
    (validation, test). The loader's workers stop when the context ends.

    An exception raised while building a batch leaves the context as itself, with its own type
    and its worker's traceback as ``__cause__``: on its way out of ``fit`` TensorFlow wraps it
    in an ``InvalidArgumentError`` or ``UnknownError``, and Keras drops its cause.
    """
    per_epoch = min(steps or len(batches), len(batches))
    schedule = Schedule(batches, first_epoch, per_epoch)
    limit = None if endless else per_epoch
    with loader.open(schedule, limit) as opened:
        fetcher = _FirstError(opened)
        try:
            if keras.backend.backend() == "tensorflow":
                varying = batches.split.pad_to_multiple is not None
                yield _tf_dataset(fetcher, schedule(0), limit, varying)
            else:
                yield _EpochBatches(fetcher, per_epoch, endless)
        except Exception:
            if fetcher.error is None:
                raise
            raise fetcher.error from fetcher.cause


class _FirstError:
    """A fetcher that remembers the first exception a batch raised, and its cause."""

    def __init__(self, fetcher):
        self.fetcher = fetcher
        self.error: Exception | None = None
        self.cause: BaseException | None = None

    def get(self, position: int) -> tuple:
        try:
            return self.fetcher.get(position)
        except Exception as error:
            if self.error is None:
                self.error, self.cause = error, error.__cause__
            raise


def _tf_dataset(fetcher, example: tuple, limit: int | None, varying_width: bool):
    import tensorflow as tf

    flat_example = tf.nest.flatten(example)
    dtypes = [tf.as_dtype(np.asarray(part).dtype) for part in flat_example]
    # Batches and (with pad_to_multiple) token columns vary; the rest is as the first batch's
    shapes = [tf.TensorShape([None, *np.shape(part)[1:]]) for part in flat_example]
    if varying_width:
        shapes = [tf.TensorShape([None, None, *s[2:]]) if s.rank > 1 else s for s in shapes]

    def produce(position):
        return [np.asarray(part) for part in tf.nest.flatten(fetcher.get(int(position)))]

    def pack(*parts):
        fixed = [tf.ensure_shape(part, shape) for part, shape in zip(parts, shapes, strict=True)]
        return tf.nest.pack_sequence_as(example, fixed)

    positions = tf.data.Dataset.counter() if limit is None else tf.data.Dataset.range(limit)
    fetched = positions.map(
        lambda position: tuple(tf.numpy_function(produce, [position], dtypes, stateful=True))
    )
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    options.autotune.enabled = False
    return fetched.map(pack).with_options(options)


class _EpochBatches(keras.utils.PyDataset):
    """The stream as a ``PyDataset``: item ``i`` of the ``e``-th epoch Keras begins is position
    ``e * per_epoch + i`` (always ``i`` unless ``endless``). Epochs are counted at their start,
    because Keras also ends an epoch when it resets an iterator before training."""

    def __init__(self, fetcher, per_epoch: int, endless: bool):
        super().__init__()
        self.fetcher = fetcher
        self.per_epoch = per_epoch
        self.endless = endless
        self.epochs_begun = 0

    def __len__(self) -> int:
        return self.per_epoch

    def on_epoch_begin(self) -> None:
        self.epochs_begun += 1

    def __getitem__(self, index: int) -> tuple:
        epoch = max(self.epochs_begun - 1, 0) if self.endless else 0
        return self.fetcher.get(epoch * self.per_epoch + index)

"""Batches over an encoded split: every sample once an epoch, in a seeded order."""

import numpy as np

from keraslab.data import EncodedSplit
from keraslab.training import ArrayBatches


def epoch_rows(batches: ArrayBatches) -> np.ndarray:
    return np.concatenate([batches[i][0]["x"][:, 0] for i in range(len(batches))])


def test_every_sample_once_per_epoch_with_short_last_batch():
    x = np.arange(10)[:, None]
    batches = ArrayBatches(
        EncodedSplit({"x": x}, np.arange(10)), batch_size=4, shuffle=True, seed=3
    )
    assert len(batches) == 3 and len(batches[2][1]) == 2
    first = epoch_rows(batches)
    batches.on_epoch_end()
    second = epoch_rows(batches)
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)


def test_order_depends_only_on_seed_and_epoch():
    x = np.arange(50)[:, None]
    one = ArrayBatches(EncodedSplit({"x": x}, np.arange(50)), batch_size=7, shuffle=True, seed=1)
    two = ArrayBatches(
        EncodedSplit({"x": x}, np.arange(50)), batch_size=7, shuffle=True, seed=1, workers=2
    )
    other = ArrayBatches(EncodedSplit({"x": x}, np.arange(50)), batch_size=7, shuffle=True, seed=2)
    np.testing.assert_array_equal(epoch_rows(one), epoch_rows(two))
    np.testing.assert_array_equal(epoch_rows(one), np.random.default_rng((1, 0)).permutation(50))
    assert not np.array_equal(epoch_rows(one), epoch_rows(other))
    unshuffled = ArrayBatches(EncodedSplit({"x": x}, np.arange(50)), batch_size=7)
    np.testing.assert_array_equal(epoch_rows(unshuffled), np.arange(50))


def test_weights_ride_along_and_transforms_get_a_generator_per_seed_epoch_and_batch():
    x = np.arange(6)[:, None]
    weighted = ArrayBatches(EncodedSplit({"x": x}, np.arange(6), np.arange(6) / 10), batch_size=4)
    inputs, labels, weights = weighted[1]
    np.testing.assert_array_equal(inputs["x"][:, 0], [4, 5])
    np.testing.assert_array_equal(labels, [4, 5])
    np.testing.assert_array_equal(weights, [0.4, 0.5])

    def draw(inputs, labels, rng):
        return inputs, rng.integers(0, 1 << 30, len(labels))

    split = EncodedSplit({"x": x}, np.arange(6), transform=draw)
    batches = ArrayBatches(split, batch_size=4, shuffle=True, seed=5)
    np.testing.assert_array_equal(
        batches[1][1], np.random.default_rng((5, 0, 1)).integers(0, 1 << 30, 2)
    )
    repeat = ArrayBatches(split, batch_size=4, shuffle=True, seed=5)
    np.testing.assert_array_equal(batches[0][1], repeat[0][1])
    batches.on_epoch_end()
    assert not np.array_equal(batches[0][1], repeat[0][1])

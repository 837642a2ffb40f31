"""Batches and loaders: every sample once an epoch in a seeded order, the same batches through
every loader, and the stream that Keras reads (tf.data on TensorFlow, a PyDataset elsewhere)."""

import keras
import numpy as np
import pytest

from keraslab.data import EncodedSplit
from keraslab.loaders import InlineLoader, ProcessLoader, Schedule, SplitBatches, ThreadLoader
from keraslab.loaders.keras_input import keras_input

LOADERS = {"inline": InlineLoader(), "threads": ThreadLoader(workers=2, max_queue_size=3)}


def numbered(n: int) -> EncodedSplit:
    return EncodedSplit({"x": np.arange(n)[:, None]}, np.arange(n))


def epoch_rows(batches: SplitBatches, epoch: int) -> np.ndarray:
    return np.concatenate([batches.batch(epoch, i)[0]["x"][:, 0] for i in range(len(batches))])


def test_every_sample_once_per_epoch_with_short_last_batch():
    batches = SplitBatches(numbered(10), batch_size=4, shuffle=True, seed=3)
    assert len(batches) == 3 and len(batches.batch(0, 2)[1]) == 2
    first, second = epoch_rows(batches, 0), epoch_rows(batches, 1)
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)
    with pytest.raises(IndexError, match=r"batch index 3 is outside \[0, 3\)"):
        batches.batch(0, 3)


def test_order_depends_only_on_seed_and_epoch():
    one = SplitBatches(numbered(50), batch_size=7, shuffle=True, seed=1)
    other = SplitBatches(numbered(50), batch_size=7, shuffle=True, seed=2)
    np.testing.assert_array_equal(epoch_rows(one, 4), np.random.default_rng((1, 4)).permutation(50))
    assert not np.array_equal(epoch_rows(one, 0), epoch_rows(other, 0))
    np.testing.assert_array_equal(epoch_rows(SplitBatches(numbered(50), 7), 5), np.arange(50))


def test_weights_ride_along_and_transforms_get_a_generator_per_seed_epoch_and_batch():
    split = EncodedSplit({"x": np.arange(6)[:, None]}, np.arange(6), np.arange(6) / 10)
    inputs, labels, weights = SplitBatches(split, batch_size=4).batch(0, 1)
    np.testing.assert_array_equal(inputs["x"][:, 0], [4, 5])
    np.testing.assert_array_equal(labels, [4, 5])
    np.testing.assert_array_equal(weights, [0.4, 0.5])

    def draw(inputs, labels, rng):
        return inputs, rng.integers(0, 1 << 30, len(labels))

    batches = SplitBatches(EncodedSplit(split.inputs, split.labels, transform=draw), 4, True, 5)
    expected = np.random.default_rng((5, 2, 1)).integers(0, 1 << 30, 2)
    np.testing.assert_array_equal(batches.batch(2, 1)[1], expected)


def test_schedule_walks_epochs_of_capped_length():
    batches = SplitBatches(numbered(10), batch_size=2, shuffle=True, seed=0)
    schedule = Schedule(batches, first_epoch=3, per_epoch=2)
    for position, (epoch, index) in enumerate([(3, 0), (3, 1), (4, 0), (4, 1), (5, 0)]):
        np.testing.assert_array_equal(schedule(position)[1], batches.batch(epoch, index)[1])


@pytest.mark.parametrize("name", LOADERS)
def test_every_loader_gives_exactly_the_scheduled_batches(name):
    schedule = Schedule(SplitBatches(numbered(30), 4, shuffle=True, seed=9), 0, 8)
    with LOADERS[name].open(schedule) as fetcher:
        got = [fetcher.get(k)[1] for k in range(20)]
        again = [fetcher.get(k)[1] for k in (0, 1, 2)]  # a new pass starts over
    for position, labels in [*enumerate(got), *enumerate(again)]:
        np.testing.assert_array_equal(labels, schedule(position)[1])


def test_a_worker_exception_reaches_the_caller_with_its_message():
    def produce(position):
        if position == 3:
            raise ValueError("bad line 3 in the corpus")
        return position

    with LOADERS["threads"].open(produce) as fetcher:
        assert [fetcher.get(k) for k in range(3)] == [0, 1, 2]
        with pytest.raises(ValueError, match="bad line 3 in the corpus"):
            fetcher.get(3)


def test_prefetching_stays_within_the_limit_and_the_queue_size():
    asked = []

    def produce(position):
        asked.append(position)
        return position

    with ThreadLoader(workers=1, max_queue_size=2).open(produce, limit=4) as fetcher:
        assert [fetcher.get(k) for k in range(4)] == [0, 1, 2, 3]
    assert sorted(asked) == [0, 1, 2, 3]


def keras_stream(data, count: int) -> list[np.ndarray]:
    """The labels of the first ``count`` batches Keras would read, epoch by epoch."""
    if keras.backend.backend() == "tensorflow":
        return [labels.numpy() for _, labels in data.take(count)]
    labels = []
    while len(labels) < count:
        data.on_epoch_begin()
        labels += [data[i][1] for i in range(len(data))]
        data.on_epoch_end()
    return labels[:count]


@pytest.mark.parametrize("name", LOADERS)
def test_keras_reads_the_schedule_across_epochs(name):
    batches = SplitBatches(numbered(12), 4, shuffle=True, seed=1)
    with keras_input(batches, LOADERS[name], first_epoch=2, steps=2, endless=True) as data:
        stream = keras_stream(data, 6)
    expected = [batches.batch(epoch, index)[1] for epoch in (2, 3, 4) for index in (0, 1)]
    for got, want in zip(stream, expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["threads", "processes"])
def test_fit_through_inline_and_workers_gives_identical_weights(name):
    rng = np.random.default_rng(0)
    split = EncodedSplit({"x": rng.normal(size=(40, 3)).astype("float32")}, rng.normal(size=40))
    batches = SplitBatches(split, 8, shuffle=True, seed=0)
    workers = {
        "threads": LOADERS["threads"],
        "processes": ProcessLoader(workers=2, max_queue_size=4),
    }
    weights = []
    for loader in (LOADERS["inline"], workers[name]):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((3,), name="x")
        model = keras.Model({"x": inputs}, keras.layers.Dense(1)(inputs))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        with keras_input(batches, loader, endless=True) as data:
            model.fit(data, epochs=3, steps_per_epoch=len(batches), shuffle=False, verbose=0)
        weights.append(keras.ops.convert_to_numpy(model.layers[-1].kernel))
    np.testing.assert_array_equal(weights[0], weights[1])


def test_inline_builds_nothing_ahead_of_the_model():
    """No hidden prefetching (tf.data injects one by default): after batch k is handed over,
    only batches 0..k have been built. A slow machine can only hide a prefetch, not fake one."""
    import time

    built = []
    batches = SplitBatches(numbered(12), 2)

    class Recording(InlineLoader):
        def open(self, produce, limit=None):
            def record(position):
                built.append(position)
                return produce(position)

            return super().open(record, limit)

    with keras_input(batches, Recording(), endless=True) as data:
        if keras.backend.backend() == "tensorflow":
            iterator = iter(data)
            for k in range(3):
                next(iterator)
                time.sleep(0.3)  # room for a prefetch to happen, if there were one
                assert built == list(range(k + 1))
        else:
            data.on_epoch_begin()
            for k in range(3):
                data[k]
                assert built == list(range(k + 1))


def test_labels_may_be_a_dict_of_arrays_one_per_output():
    x = np.random.default_rng(0).normal(size=(24, 2)).astype("float32")
    targets = {"total": x.sum(1, keepdims=True), "gap": x[:, :1] - x[:, 1:]}
    batches = SplitBatches(EncodedSplit({"x": x}, targets), batch_size=8)
    _, labels = batches.batch(0, 2)
    assert set(labels) == {"total", "gap"}
    np.testing.assert_array_equal(labels["gap"], targets["gap"][16:])

    features = keras.Input((2,), name="x")
    outputs = {
        name: keras.layers.Dense(1, kernel_initializer="zeros", name=name)(features)
        for name in targets
    }
    model = keras.Model({"x": features}, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss={"total": "mse", "gap": "mse"})
    with keras_input(batches, InlineLoader(), endless=True) as stream:
        model.fit(stream, epochs=40, steps_per_epoch=len(batches), verbose=0)
    kernels = {name: keras.ops.convert_to_numpy(model.get_layer(name).kernel) for name in targets}
    np.testing.assert_allclose(kernels["total"][:, 0], [1.0, 1.0], atol=1e-2)
    np.testing.assert_allclose(kernels["gap"][:, 0], [1.0, -1.0], atol=1e-2)


class PullsTowardThree(keras.layers.Layer):
    """Adds ``mean((x - 3)^2)`` as a loss: a model with no targets to fit."""

    def call(self, x):
        self.add_loss(keras.ops.mean(keras.ops.square(x - 3.0)))
        return x


def test_a_split_without_labels_trains_on_the_models_own_losses():
    split = EncodedSplit({"x": np.ones((12, 1), "float32")})
    assert len(SplitBatches(split, batch_size=5).batch(0, 0)) == 1
    with pytest.raises(ValueError, match="sample_weights needs labels"):
        EncodedSplit({"x": np.ones((2, 1))}, sample_weights=np.ones(2))

    features = keras.Input((1,), name="x")
    dense = keras.layers.Dense(1, kernel_initializer="zeros", name="dense")
    model = keras.Model({"x": features}, PullsTowardThree()(dense(features)))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    batches = SplitBatches(split, batch_size=4)
    with keras_input(batches, InlineLoader(), endless=True) as stream:
        model.fit(stream, epochs=30, steps_per_epoch=len(batches), verbose=0)
    prediction = keras.ops.convert_to_numpy(model({"x": np.ones((1, 1), "float32")}))
    np.testing.assert_allclose(prediction, [[3.0]], atol=1e-3)


def test_an_error_while_building_a_batch_leaves_fit_with_its_own_type():
    """On TensorFlow it would reach ``fit`` as an ``InvalidArgumentError``: the data error
    would escape the exit-2 path."""
    from keraslab.errors import DataError

    def refuse_row_eight(inputs, labels, rng):
        if inputs["x"].max() >= 8:
            raise DataError("data.txt:9: not a number")
        return {"x": inputs["x"].astype("float32")}, labels

    split = EncodedSplit({"x": np.arange(12)[:, None]}, np.arange(12, dtype="float32"))
    batches = SplitBatches(EncodedSplit(split.inputs, split.labels, transform=refuse_row_eight), 4)
    model = keras.Sequential([keras.Input((1,), name="x"), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with (
        pytest.raises(DataError, match=r"data\.txt:9: not a number"),
        keras_input(batches, InlineLoader(), endless=True) as stream,
    ):
        model.fit(stream, epochs=1, steps_per_epoch=3, verbose=0)

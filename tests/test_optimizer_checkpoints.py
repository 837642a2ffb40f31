"""The whole optimizer stack through Keras's serialization: every wrapper round-trips through
its config, and a ``.keras`` checkpoint restores the raw and averaged weights and the optimizer
state, so training resumes exactly where it stopped."""

import json

import keras
import numpy as np
from keras import ops

import keraslab.optimizers as wrappers


def full_stack():
    return wrappers.ExponentialMovingAverage(
        wrappers.Lookahead(
            wrappers.GradientAccumulation(
                wrappers.LazyUpdates(
                    wrappers.LayerAdaptation(
                        wrappers.WeightDecay(keras.optimizers.Adam(0.05), 0.1)
                    ),
                    ["word_embeddings"],
                ),
                2,
            ),
            k=3,
        ),
        0.9,
        warmup=True,
    )


def test_every_wrapper_round_trips_through_its_config():
    def text(optimizer):  # Keras spells Adam's class_name "adam" or "Adam" by turns
        return json.dumps(keras.optimizers.serialize(optimizer), sort_keys=True).lower()

    optimizer = full_stack()
    rebuilt = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert text(rebuilt) == text(optimizer)
    chain = []
    while hasattr(rebuilt, "inner"):
        chain.append(type(rebuilt).__name__)
        rebuilt = rebuilt.inner
    assert chain == [
        "ExponentialMovingAverage",
        "Lookahead",
        "GradientAccumulation",
        "LazyUpdates",
        "LayerAdaptation",
        "WeightDecay",
    ]
    assert isinstance(rebuilt, keras.optimizers.Adam)
    assert ours_schedule_round_trips()


def ours_schedule_round_trips() -> bool:
    schedule = wrappers.PiecewiseLinear(0.1, {10: 1.0, 20: 0.5})
    rebuilt = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    return rebuilt.points == schedule.points and rebuilt.learning_rate == 0.1


def small_classifier(optimizer):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), dtype="int32")
    hidden = keras.layers.Embedding(20, 4, name="word_embeddings")(inputs)
    pooled = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(pooled))
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def test_a_checkpoint_restores_raw_and_averaged_weights_and_training_resumes_identically(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, (32, 6)), rng.integers(0, 2, 32)
    model = small_classifier(full_stack())
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")

    for name in ("raw", "averaged"):
        weights = []
        for m in (model, restored):
            if name == "averaged":
                with m.optimizer.averaged_weights():
                    weights.append([ops.convert_to_numpy(w) for w in m.weights])
            else:
                weights.append([ops.convert_to_numpy(w) for w in m.weights])
        for a, b in zip(*weights, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))

    for m in (model, restored):
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    # 32 rows in micro-batches of 8 for 3 epochs, 2 micro-batches an update: 6 updates.
    assert wrappers.update_count(restored.optimizer) == wrappers.update_count(model.optimizer) == 6


def test_accumulation_weighs_a_short_batch_the_same_after_a_reload(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 20, (26, 6)), rng.integers(0, 2, 26)  # batches of 8, 8, 8 and 2
    model = small_classifier(wrappers.GradientAccumulation(keras.optimizers.SGD(0.5), 2))
    model.optimizer.set_micro_batch_sizes([8, 8, 8, 2])
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(restored.optimizer.micro_batch_sizes, [8, 8, 8, 2])
    for m in (model, restored):
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))

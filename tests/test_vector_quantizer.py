"""Vector quantizers on any backend: nearest codes, the straight-through gradient, the loss
terms and the EMA codebook against numpy, no codebook change outside training, dead-code
restarts, and a save / load / continue that equals an uninterrupted run."""

import keras
import numpy as np
import pytest
from keras import ops

from keraslab.models.vector_quantizer import VectorQuantizer, VectorQuantizerEMA


def built(layer, shape=(4, 3, 2)):
    layer.build(shape)
    return layer


def numpy_of(x):
    return ops.convert_to_numpy(x)


def nearest_numpy(flat, codebook):
    return np.argmin(((flat[:, None, :] - codebook[None]) ** 2).sum(-1), axis=1)


@pytest.mark.parametrize("kind", [VectorQuantizer, VectorQuantizerEMA])
def test_codes_are_the_nearest_and_the_output_is_their_vectors(kind):
    rng = np.random.default_rng(0)
    quantizer = built(kind(16, seed=1), (5, 7, 3))
    z = rng.normal(size=(5, 7, 3)).astype("float32")
    quantized, codes = quantizer(z)
    codebook = numpy_of(quantizer.codebook_vectors())
    expected = nearest_numpy(z.reshape(-1, 3), codebook)
    np.testing.assert_array_equal(numpy_of(codes).reshape(-1), expected)
    assert tuple(codes.shape) == (5, 7)
    np.testing.assert_allclose(numpy_of(quantized).reshape(-1, 3), codebook[expected], atol=1e-6)


def gradient(function, z):
    """d sum(function(z)) / dz on the current backend."""
    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: ops.sum(function(x)))(z))
    import tensorflow as tf

    z = tf.convert_to_tensor(z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        total = tf.reduce_sum(function(z))
    return tape.gradient(total, z).numpy()


def test_the_encoder_gets_the_gradient_at_the_decoder_input_unchanged():
    """Straight-through: with a decoder ``w * q``, d/dz of the reconstruction term is ``w``, the
    gradient at the quantizer's output, although the forward pass used the code vectors."""
    rng = np.random.default_rng(1)
    quantizer = built(VectorQuantizer(8, seed=2), (6, 4))
    z = rng.normal(size=(6, 4)).astype("float32")
    w = rng.normal(size=(6, 4)).astype("float32")
    got = gradient(lambda x: w * quantizer(x)[0], z)
    np.testing.assert_allclose(got, w, atol=1e-6)


def test_losses_are_the_codebook_and_commitment_terms():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(10, 3)).astype("float32")
    plain = built(VectorQuantizer(6, beta=0.25, seed=3), z.shape)
    plain(z)
    codebook = numpy_of(plain.codebook_vectors())
    error = ((z - codebook[nearest_numpy(z, codebook)]) ** 2).mean()
    assert numpy_of(plain.losses[0]) == pytest.approx(1.25 * error, rel=1e-5)
    ema = built(VectorQuantizerEMA(6, beta=0.25, seed=3), z.shape)
    ema(z)
    codebook = numpy_of(ema.codebook)
    error = ((z - codebook[nearest_numpy(z, codebook)]) ** 2).mean()
    assert numpy_of(ema.losses[0]) == pytest.approx(0.25 * error, rel=1e-5)


def test_ema_codebook_follows_counts_and_sums_over_several_steps_and_only_in_training():
    rng = np.random.default_rng(3)
    decay, eps, k = 0.9, 1e-5, 5
    quantizer = built(VectorQuantizerEMA(k, decay=decay, epsilon=eps, seed=4), (12, 2))
    codebook = numpy_of(quantizer.codebook).copy()
    counts, sums = np.ones(k), codebook.copy()
    np.testing.assert_allclose(numpy_of(quantizer.sums), sums)
    for step in range(4):
        z = rng.normal(size=(12, 2)).astype("float32") + step
        codes = nearest_numpy(z, codebook)
        one_hot = np.eye(k)[codes]
        counts = decay * counts + (1 - decay) * one_hot.sum(0)
        sums = decay * sums + (1 - decay) * one_hot.T @ z
        smoothed = (counts + eps) / (counts.sum() + k * eps) * counts.sum()
        codebook = sums / smoothed[:, None]
        _, got = quantizer(z, training=True)
        np.testing.assert_array_equal(numpy_of(got), codes)
        np.testing.assert_allclose(numpy_of(quantizer.codebook), codebook, rtol=1e-5, atol=1e-6)
    before = numpy_of(quantizer.codebook).copy()
    quantizer(rng.normal(size=(12, 2)).astype("float32"), training=False)
    quantizer(rng.normal(size=(12, 2)).astype("float32"))
    np.testing.assert_array_equal(numpy_of(quantizer.codebook), before)


@pytest.mark.parametrize("kind", [VectorQuantizer, VectorQuantizerEMA])
def test_codes_unused_for_the_window_restart_at_batch_vectors(kind):
    """Two clusters far from codes 2 and 3: those are never chosen, and after ``restart_after``
    training steps they sit on vectors of the batch; codes in use do not move by a restart."""
    quantizer = built(kind(4, restart_after=3, seed=5), (8, 2))
    codebook = np.array([[0, 0], [10, 10], [100, -100], [-100, 100]], "float32")
    if kind is VectorQuantizer:
        quantizer.codebook.assign(codebook)
    else:
        quantizer.codebook.assign(codebook)
        quantizer.sums.assign(codebook)
    z = np.array([[0, 0.1], [0.1, 0], [10, 10.1], [9.9, 10]] * 2, "float32")
    for step in range(3):
        quantizer(z, training=True)
        unused = numpy_of(quantizer.steps_unused)
        if step < 2:
            np.testing.assert_array_equal(unused, [0, 0, step + 1, step + 1])
    vectors = numpy_of(quantizer.codebook_vectors())
    np.testing.assert_array_equal(numpy_of(quantizer.steps_unused), [0, 0, 0, 0])
    for code in (2, 3):
        assert any(np.allclose(vectors[code], row, atol=1e-5) for row in z), code
    assert np.abs(vectors[:2] - codebook[:2]).max() < 1.0


@pytest.mark.parametrize("kind", [VectorQuantizer, VectorQuantizerEMA])
def test_save_load_and_continue_equals_an_uninterrupted_run(kind, tmp_path):
    from keraslab.training.random_state import random_states, set_random_states

    def model():
        keras.utils.set_random_seed(7)
        inputs = keras.Input((4, 3))
        quantized, _ = kind(8, restart_after=2, seed=6, name="vq")(keras.layers.Dense(3)(inputs))
        outputs = keras.layers.Dense(3)(quantized)
        built_model = keras.Model(inputs, outputs)
        built_model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return built_model

    rng = np.random.default_rng(8)
    x = rng.normal(size=(16, 4, 3)).astype("float32")
    straight = model()
    straight.fit(x, x, batch_size=8, epochs=4, shuffle=False, verbose=0)
    statistics = [
        v for v in straight.get_layer("vq").non_trainable_weights if "unused" not in v.name
    ]
    assert all(np.ptp(numpy_of(v)) > 0 for v in statistics), "fit's steps update the quantizer"
    interrupted = model()
    interrupted.fit(x, x, batch_size=8, epochs=2, shuffle=False, verbose=0)
    interrupted.save(tmp_path / "model.keras")
    states = random_states(interrupted)
    resumed = keras.saving.load_model(tmp_path / "model.keras")
    set_random_states(resumed, states)
    resumed.fit(x, x, batch_size=8, epochs=4, initial_epoch=2, shuffle=False, verbose=0)
    for got, want in zip(resumed.weights, straight.weights, strict=True):
        np.testing.assert_allclose(numpy_of(got), numpy_of(want), rtol=1e-5, atol=1e-6)

"""Probes: attention probabilities captured eagerly and in compiled predict, checked by hand."""

import keras
import numpy as np
import pytest

from keraslab.models import BertBackbone
from keraslab.probes import ProbeCapture

CONFIG = dict(
    vocab_size=30, num_layers=2, hidden_size=8, num_heads=2, intermediate_size=16, max_positions=12
)


def inputs():
    rng = np.random.default_rng(0)
    mask = np.ones((5, 7), "int32")
    mask[1, 4:] = 0
    mask[3, 2:] = 0
    return {
        "token_ids": rng.integers(1, 30, (5, 7)).astype("int32") * mask,
        "segment_ids": np.zeros((5, 7), "int32"),
        "padding_mask": mask,
    }


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(1)
    return BertBackbone(**CONFIG)


def test_attention_probabilities_are_distributions_that_ignore_padding(model):
    batch = inputs()
    with ProbeCapture(model) as capture:
        model(batch)
    results = capture.results
    assert set(results) == {
        "layer_0/attention/attention_probs",
        "layer_1/attention/attention_probs",
    }
    for probs in results.values():
        assert probs.shape == (5, 2, 7, 7)
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-6)
        padded_keys = np.broadcast_to(batch["padding_mask"][:, None, None, :] == 0, probs.shape)
        assert probs[padded_keys].max() < 1e-6


def test_captured_probabilities_equal_a_manual_recomputation(model):
    batch = inputs()
    embeddings = keras.Model(model.inputs, model.get_layer("embeddings").output)
    hidden = keras.ops.convert_to_numpy(embeddings(batch)).astype("float64")
    attention = model.get_layer("layer_0").attention

    def project(dense):
        kernel, bias = (
            keras.ops.convert_to_numpy(w).astype("float64") for w in (dense.kernel, dense.bias)
        )
        return (hidden @ kernel + bias).reshape(5, 7, 2, 4).transpose(0, 2, 1, 3)

    q, k = project(attention.query), project(attention.key)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(4) - 1e9 * (
        1 - batch["padding_mask"][:, None, None, :]
    )
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    with ProbeCapture(model) as capture:
        model(batch)
    np.testing.assert_allclose(
        capture.results["layer_0/attention/attention_probs"], expected, atol=1e-5
    )


def test_batched_predict_captures_the_same_values_as_eager(model):
    batch = inputs()
    with ProbeCapture(model) as eager:
        reference = model(batch)
    with ProbeCapture(model) as compiled:
        outputs = compiled.predict(batch, batch_size=2)  # 3 batches, the last one short
    for key, value in eager.results.items():
        np.testing.assert_allclose(compiled.results[key], value, atol=1e-6)
    np.testing.assert_allclose(
        outputs["sequence_output"],
        keras.ops.convert_to_numpy(reference["sequence_output"]),
        atol=1e-5,
    )


def test_outputs_are_unchanged_and_nothing_is_kept_without_a_capture(model):
    batch = inputs()
    before = keras.ops.convert_to_numpy(model(batch)["pooled_output"])
    with ProbeCapture(model):
        during = keras.ops.convert_to_numpy(model(batch)["pooled_output"])
    after = keras.ops.convert_to_numpy(model(batch)["pooled_output"])
    np.testing.assert_array_equal(before, during)
    np.testing.assert_array_equal(before, after)
    with ProbeCapture(model) as capture:
        pass
    assert capture.results == {}


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="counts TensorFlow graph operations"
)
def test_no_operation_is_added_to_the_graph_when_nothing_captures(monkeypatch):
    import tensorflow as tf

    import keraslab.models.layers as layers_module

    def graph_size():
        keras.utils.set_random_seed(1)
        model = BertBackbone(**CONFIG)
        batch = {k: tf.constant(v) for k, v in inputs().items()}
        return len(tf.function(model).get_concrete_function(batch).graph.get_operations())

    with_probes = graph_size()
    monkeypatch.setattr(layers_module, "record_probe", lambda *args: None)
    assert graph_size() == with_probes

"""The BERT encoder: config keys, shapes, padding, and the HF safetensors round trip and errors."""

import math

import keras
import numpy as np
import pytest

from keraslab.checkpoints import CheckpointMismatch, hf_name, load_hf_weights, save_hf_weights
from keraslab.errors import ConfigError
from keraslab.models import BertBackbone, bert_options

SMALL = dict(
    vocab_size=50, num_layers=2, hidden_size=16, num_heads=2, intermediate_size=32, max_positions=20
)


def inputs(batch=2, length=7, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, length), "int32")
    mask[1, 4:] = 0
    return {
        "token_ids": rng.integers(1, 50, (batch, length)).astype("int32") * mask,
        "segment_ids": (np.arange(length)[None] >= 3).astype("int32").repeat(batch, 0),
        "padding_mask": mask,
    }


def test_google_and_hf_config_keys_map_to_arguments():
    google = {
        "vocab_size": 21128,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
    }
    assert bert_options(google) == {
        "vocab_size": 21128,
        "num_layers": 12,
        "num_heads": 12,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "activation": "gelu",
        "dropout": 0.1,
        "attention_dropout": 0.0,
        "max_positions": 512,
        "type_vocab_size": 2,
        "layer_norm_epsilon": 1e-12,
    }
    assert bert_options({"hidden_act": "gelu_new"})["activation"] == "gelu_approximate"
    with pytest.raises(ConfigError, match="got 'swish'"):
        bert_options({"hidden_act": "swish"})


def test_outputs_shapes_and_padding_independence():
    model = BertBackbone(**SMALL)
    batch = inputs()
    out = model(batch)
    assert out["sequence_output"].shape == (2, 7, 16) and out["pooled_output"].shape == (2, 16)
    # Changing padded tokens must not change the real positions' outputs.
    changed = {**batch, "token_ids": batch["token_ids"].copy()}
    changed["token_ids"][1, 4:] = 33
    again = model(changed)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again["sequence_output"])[1, :4],
        keras.ops.convert_to_numpy(out["sequence_output"])[1, :4],
        atol=1e-6,
    )


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="reads a TensorFlow graph")
def test_every_dense_product_is_a_matrix_product_feeding_its_bias_add():
    # TensorFlow's oneDNN rewrite fuses MatMul -> bias add (-> GELU) into one kernel only when
    # the product is 2-D and its result goes straight to the bias; a 3-D Dense (reshape between
    # product and bias) ran as three kernels. 6 products a block: query, key, value, output,
    # intermediate, output.
    import tensorflow as tf

    model = BertBackbone(**SMALL)
    batch = {k: tf.constant(v) for k, v in inputs().items()}
    graph = tf.function(model).get_concrete_function(batch).graph
    products = [op for op in graph.get_operations() if op.type == "MatMul"]
    assert len(products) == 6 * SMALL["num_layers"] + 1  # and the pooler's
    for product in products:
        assert product.inputs[0].shape.rank == 2, product.name
        consumers = [c.type for c in product.outputs[0].consumers()]
        assert consumers == ["AddV2"] or consumers == ["BiasAdd"], (product.name, consumers)


def test_gelu_variants_differ_as_expected():
    from keraslab.models.layers import ACTIVATIONS

    x = np.array([-2.0, -0.5, 0.0, 1.0, 3.0], "float32")
    exact = x * 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    tanh = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ACTIVATIONS["gelu"](x)), exact, atol=1e-6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ACTIVATIONS["gelu_approximate"](x)), tanh, atol=1e-6
    )


def test_hf_names_follow_transformers():
    assert (
        hf_name("bert/encoder/layer_3/attention/self/query/kernel")
        == "encoder.layer.3.attention.self.query.weight"
    )
    assert (
        hf_name("bert/encoder/layer_0/output/LayerNorm/gamma")
        == "encoder.layer.0.output.LayerNorm.weight"
    )
    assert hf_name("bert/embeddings/LayerNorm/beta") == "embeddings.LayerNorm.bias"
    assert hf_name("bert/embeddings/word_embeddings") == "embeddings.word_embeddings.weight"
    assert hf_name("bert/pooler/dense/bias") == "pooler.dense.bias"


def test_hf_round_trip_gives_identical_outputs(tmp_path):
    source, target = BertBackbone(**SMALL), BertBackbone(**SMALL)
    save_hf_weights(source, tmp_path)
    load_hf_weights(target, tmp_path)
    batch = inputs()
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(source(batch)[key]),
            keras.ops.convert_to_numpy(target(batch)[key]),
        )


def test_hf_mismatches_are_listed_together(tmp_path):
    from safetensors.numpy import load_file, save_file

    save_hf_weights(BertBackbone(**SMALL), tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    del tensors["pooler.dense.bias"]
    tensors["cls.predictions.bias"] = np.zeros(50, "float32")  # a head: skipped by an encoder
    tensors["encoder.layer.9.output.dense.bias"] = np.zeros(16, "float32")
    tensors["embeddings.word_embeddings.weight"] = np.zeros((51, 16), "float32")
    save_file(tensors, tmp_path / "model.safetensors")
    model = BertBackbone(**SMALL)
    with pytest.raises(CheckpointMismatch) as raised:
        load_hf_weights(model, tmp_path)
    message = str(raised.value)
    assert "missing from the checkpoint: pooler.dense.bias" in message
    assert "not in the model: encoder.layer.9.output.dense.bias;" in message
    assert "embeddings.word_embeddings.weight (51, 16) != (50, 16)" in message

    del tensors["embeddings.word_embeddings.weight"]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(
        CheckpointMismatch, match=r"missing from the checkpoint: embeddings\.word_embeddings"
    ):
        load_hf_weights(model, tmp_path, ignore_unexpected=True)
    load_hf_weights(model, tmp_path, ignore_missing=True, ignore_unexpected=True)


def test_keep_and_compound_tokens_reshape_the_vocab_by_hand():
    from keraslab.checkpoints.vocab_surgery import adapt_vocab_rows
    from keraslab.errors import InputError

    table = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 8.0]], "float32")
    np.testing.assert_array_equal(adapt_vocab_rows(table, keep_tokens=[3, 1]), [[5, 8], [1, 2]])
    np.testing.assert_array_equal(
        adapt_vocab_rows(table, keep_tokens=[0, 2, 3], compound_tokens=[[1, 2], [0]]),
        [[0, 0], [3, 4], [5, 8], [4, 6], [0, 0]],
    )
    with pytest.raises(InputError, match=r"keep_tokens must be ids in \[0, 4\), got \[9\]"):
        adapt_vocab_rows(table, keep_tokens=[0, 9])
    with pytest.raises(InputError, match="got \\[\\]"):
        adapt_vocab_rows(table, compound_tokens=[[]])


def test_loading_with_keep_tokens_selects_embedding_rows(tmp_path):
    source = BertBackbone(**SMALL)
    save_hf_weights(source, tmp_path)
    keep, compound = [0, 5, 7, 9], [[1, 2]]  # compound ids index the kept rows: 5 and 7
    target = BertBackbone(**{**SMALL, "vocab_size": len(keep) + len(compound)})
    load_hf_weights(target, tmp_path, keep_tokens=keep, compound_tokens=compound)
    full = keras.ops.convert_to_numpy(source.embeddings.word_embeddings.embeddings)
    rows = keras.ops.convert_to_numpy(target.embeddings.word_embeddings.embeddings)
    np.testing.assert_array_equal(rows[:4], full[keep])
    np.testing.assert_allclose(rows[4], (full[5] + full[7]) / 2, rtol=1e-6)

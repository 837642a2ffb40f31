"""Google-format checkpoints: exact names and shapes for BERT-base, round trip, and mismatch errors."""

import keras
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from keraslab.checkpoints import CheckpointMismatch  # noqa: E402
from keraslab.checkpoints.google import load_google_checkpoint, save_google_checkpoint  # noqa: E402
from keraslab.models import BertBackbone  # noqa: E402


def google_bert_base_shapes(vocab_size: int = 21128, layers: int = 12) -> dict[str, list[int]]:
    """The encoder variables of Google's chinese_L-12_H-768_A-12 bert_model.ckpt, written out by hand."""
    shapes = {
        "bert/embeddings/LayerNorm/beta": [768],
        "bert/embeddings/LayerNorm/gamma": [768],
        "bert/embeddings/position_embeddings": [512, 768],
        "bert/embeddings/token_type_embeddings": [2, 768],
        "bert/embeddings/word_embeddings": [vocab_size, 768],
        "bert/pooler/dense/bias": [768],
        "bert/pooler/dense/kernel": [768, 768],
    }
    for i in range(layers):
        prefix = f"bert/encoder/layer_{i}"
        for part in ("query", "key", "value"):
            shapes[f"{prefix}/attention/self/{part}/kernel"] = [768, 768]
            shapes[f"{prefix}/attention/self/{part}/bias"] = [768]
        shapes[f"{prefix}/attention/output/dense/kernel"] = [768, 768]
        shapes[f"{prefix}/attention/output/dense/bias"] = [768]
        shapes[f"{prefix}/attention/output/LayerNorm/beta"] = [768]
        shapes[f"{prefix}/attention/output/LayerNorm/gamma"] = [768]
        shapes[f"{prefix}/intermediate/dense/kernel"] = [768, 3072]
        shapes[f"{prefix}/intermediate/dense/bias"] = [3072]
        shapes[f"{prefix}/output/dense/kernel"] = [3072, 768]
        shapes[f"{prefix}/output/dense/bias"] = [768]
        shapes[f"{prefix}/output/LayerNorm/beta"] = [768]
        shapes[f"{prefix}/output/LayerNorm/gamma"] = [768]
    return shapes


def small_bert():
    return BertBackbone(
        vocab_size=40,
        num_layers=2,
        hidden_size=16,
        num_heads=2,
        intermediate_size=32,
        max_positions=16,
    )


def batch():
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3], "int32")
    return {
        "token_ids": np.arange(12, dtype="int32").reshape(2, 6) * mask,
        "segment_ids": np.array([[0, 0, 0, 1, 1, 1]] * 2, "int32"),
        "padding_mask": mask,
    }


def test_bert_base_checkpoint_has_exactly_googles_names_and_shapes(tmp_path):
    model = BertBackbone(vocab_size=21128)
    prefix = save_google_checkpoint(model, tmp_path / "bert_model.ckpt")
    assert dict(tf.train.list_variables(str(prefix))) == google_bert_base_shapes()
    reloaded = BertBackbone(vocab_size=21128)
    load_google_checkpoint(reloaded, prefix)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(model(batch())[key]),
            keras.ops.convert_to_numpy(reloaded(batch())[key]),
        )


def test_round_trip_gives_identical_outputs(tmp_path):
    source, target = small_bert(), small_bert()
    prefix = save_google_checkpoint(source, tmp_path / "bert_model.ckpt")
    load_google_checkpoint(target, prefix)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(source(batch())[key]),
            keras.ops.convert_to_numpy(target(batch())[key]),
        )


def write_checkpoint(prefix, tensors: dict[str, np.ndarray]) -> None:
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=list(tensors),
        shape_and_slices=[""] * len(tensors),
        tensors=[tf.constant(v) for v in tensors.values()],
    )


def test_optimizer_slots_and_heads_are_skipped_but_other_extras_are_listed(tmp_path):
    source = small_bert()
    prefix = save_google_checkpoint(source, tmp_path / "a" / "bert_model.ckpt")
    reader = tf.train.load_checkpoint(str(prefix))
    tensors = {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))}
    tensors.update(
        {
            "global_step": np.array(7, "int64"),
            "bert/pooler/dense/bias/adam_m": np.zeros(16, "float32"),
            "cls/predictions/output_bias": np.zeros(40, "float32"),
        }
    )
    write_checkpoint(tmp_path / "b" / "bert_model.ckpt", tensors)
    target = small_bert()
    load_google_checkpoint(target, tmp_path / "b" / "bert_model.ckpt")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(target(batch())["pooled_output"]),
        keras.ops.convert_to_numpy(source(batch())["pooled_output"]),
    )

    del tensors["bert/pooler/dense/kernel"]
    tensors["bert/encoder/layer_9/output/dense/bias"] = np.zeros(16, "float32")
    tensors["bert/embeddings/word_embeddings"] = np.zeros((41, 16), "float32")
    write_checkpoint(tmp_path / "c" / "bert_model.ckpt", tensors)
    with pytest.raises(CheckpointMismatch) as raised:
        load_google_checkpoint(small_bert(), tmp_path / "c" / "bert_model.ckpt")
    message = str(raised.value)
    assert "missing from the checkpoint: bert/pooler/dense/kernel" in message
    assert "not in the model: bert/encoder/layer_9/output/dense/bias" in message
    assert "bert/embeddings/word_embeddings (41, 16) != (40, 16)" in message


def test_unreadable_checkpoint_names_the_path(tmp_path):
    from keraslab.errors import InputError

    with pytest.raises(InputError, match=r"cannot read a TF checkpoint at '.*nothing'"):
        load_google_checkpoint(small_bert(), tmp_path / "nothing")

"""The classifier's [CLS]-only last block: the same logits and updates as the whole backbone,
and classifiers saved before it load as they were saved."""

import json
import zipfile

import keras
import numpy as np
import pytest

from keraslab.models import BertBackbone
from keraslab.models.classifier import BertClassifier
from keraslab.models.layers import TransformerBlock

SMALL = dict(vocab_size=50, num_layers=2, hidden_size=16, num_heads=2, intermediate_size=32)


def batch():
    rng = np.random.default_rng(0)
    mask = np.ones((3, 7), "int32")
    mask[1, 4:] = 0
    return {
        "token_ids": rng.integers(1, 50, (3, 7)).astype("int32") * mask,
        "segment_ids": np.zeros((3, 7), "int32"),
        "padding_mask": mask,
    }


def twin_classifiers(dropout=0.1):
    """A [CLS]-only classifier and a whole-backbone one with equal weights, not shared."""
    first = BertBackbone(**SMALL, dropout=dropout)
    second = BertBackbone.from_config(first.get_config())
    second.set_weights(first.get_weights())
    cls_only = BertClassifier(first, 2, head_dropout=dropout, cls_only_last_block=True)
    whole = BertClassifier(second, 2, head_dropout=dropout)
    whole.get_layer("logits").set_weights(cls_only.get_layer("logits").get_weights())
    return cls_only, whole


@pytest.mark.parametrize("causal", [False, True])
def test_a_block_asked_at_its_first_rows_gives_those_rows_of_the_whole_block(causal):
    block = TransformerBlock(16, 2, 32, causal=causal)
    hidden = keras.random.normal((3, 7, 16), seed=1)
    mask = batch()["padding_mask"]
    whole = keras.ops.convert_to_numpy(block(hidden, mask))
    first = keras.ops.convert_to_numpy(block(hidden, mask, rows=3))
    assert first.shape == (3, 3, 16)
    np.testing.assert_allclose(first, whole[:, :3], atol=1e-5)


def test_the_cls_only_classifier_gives_the_whole_backbones_logits_and_updates():
    cls_only, whole = twin_classifiers(dropout=0.0)
    data = batch()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(cls_only(data)),
        keras.ops.convert_to_numpy(whole(data)),
        atol=1e-5,
    )
    labels = np.array([0, 1, 1])
    before = [np.asarray(w) for w in whole.trainable_weights]
    for model in (cls_only, whole):
        model.compile(
            optimizer=keras.optimizers.SGD(1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.train_on_batch(data, labels)
    pairs = list(zip(cls_only.trainable_weights, whole.trainable_weights, before, strict=True))
    for ours, theirs, _ in pairs:
        np.testing.assert_allclose(
            np.asarray(ours), np.asarray(theirs), atol=1e-5, err_msg=ours.path
        )
    # every trained weight moved, the last block's included (its query and feed-forward too),
    # but the key biases: q . (k + b) shifts a query's scores alike, which softmax ignores
    still = [w.path for w, _, start in pairs if np.allclose(np.asarray(w), start)]
    assert still == ["layer_0/attention/key/bias", "layer_1/attention/key/bias"]


def test_a_classifier_saved_before_the_option_loads_as_the_whole_backbone(tmp_path):
    # its weights are stored under the backbone, which the [CLS]-only graph does not hold
    _, whole = twin_classifiers()
    saved, old = tmp_path / "saved.keras", tmp_path / "old.keras"
    whole.save(saved)
    # what a classifier saved before the option holds: its config lacks the key
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(old, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "config.json":
                config = json.loads(content)
                del config["config"]["cls_only_last_block"]
                content = json.dumps(config)
            target.writestr(item, content)
    loaded = keras.saving.load_model(old)
    assert loaded.cls_only_last_block is False
    data = batch()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(data)), keras.ops.convert_to_numpy(whole(data)), atol=0
    )


def test_a_cls_only_classifier_saves_and_loads_as_one(tmp_path):
    cls_only, _ = twin_classifiers()
    cls_only.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.cls_only_last_block is True
    data = batch()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(data)), keras.ops.convert_to_numpy(cls_only(data)), atol=0
    )

"""The triple extractor's Keras parts, on any backend: conditional LayerNorm, the object branch's
start from the encoder's output, the masked loss against a hand computation, the two halves
against the whole model, batched decoding against one subject at a time, and a checkpoint
round trip."""

import keras
import numpy as np
import pytest
from keras import layers

from keraslab.models.conditional_layer_norm import ConditionalLayerNorm
from keraslab.models.triples import TripleExtractor, build_triple_extractor, masked_pointer_loss
from keraslab.triples.decoding import (
    Sentences,
    Thresholds,
    extract_triples,
    extract_triples_one_by_one,
)

ENCODER = {
    "num_layers": 2,
    "hidden_size": 16,
    "num_heads": 2,
    "intermediate_size": 32,
    "max_positions": 16,
    "dropout": 0.0,
}


def test_conditional_layer_norm_with_zero_shifts_is_the_plain_layer_norm():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(3, 5, 8)).astype("float32") * 3 + 1
    condition = rng.normal(size=(3, 6)).astype("float32")
    plain = layers.LayerNormalization(epsilon=1e-12)
    plain.build(hidden.shape)
    plain.gamma.assign(rng.normal(size=8).astype("float32"))
    plain.beta.assign(rng.normal(size=8).astype("float32"))
    conditional = ConditionalLayerNorm(1e-12)
    conditional.build(hidden.shape, condition.shape)
    conditional.copy_norm(plain)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(conditional(hidden, condition)),
        keras.ops.convert_to_numpy(plain(hidden)),
        atol=2e-6,
    )


def test_conditional_layer_norm_shifts_scale_and_bias_by_the_condition():
    rng = np.random.default_rng(1)
    hidden = rng.normal(size=(2, 4, 3)).astype("float32")
    condition = rng.normal(size=(2, 5)).astype("float32")
    norm = ConditionalLayerNorm(1e-6)
    norm.build(hidden.shape, condition.shape)
    w_gamma, w_beta = (rng.normal(size=(5, 3)).astype("float32") for _ in range(2))
    norm.gamma_shift.kernel.assign(w_gamma)
    norm.beta_shift.kernel.assign(w_beta)
    centred = hidden - hidden.mean(-1, keepdims=True)
    normalized = centred / np.sqrt((centred**2).mean(-1, keepdims=True) + 1e-6)
    expected = normalized * (1 + condition @ w_gamma)[:, None] + (condition @ w_beta)[:, None]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(norm(hidden, condition)), expected, rtol=1e-5, atol=1e-5
    )


def inputs(batch: int = 2, length: int = 7, subjects=((1, 2), (3, 3))):
    rng = np.random.default_rng(2)
    mask = np.ones((batch, length), "int32")
    mask[1, 5:] = 0
    return {
        "token_ids": rng.integers(5, 30, size=(batch, length)).astype("int32") * mask,
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": mask,
        "subject_ids": np.asarray(subjects, "int32"),
    }


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_triple_extractor(30, 3, ENCODER)


def test_the_object_branch_starts_from_the_encoders_own_output(model):
    """With zero shifts and the last LayerNorm's gamma and beta, the conditional LayerNorm gives
    back exactly the encoder's output: the subject changes nothing until training moves it."""
    batch = inputs()
    last_norm = model.backbone.transformer_layers[-1].output_layer_norm
    rng = np.random.default_rng(3)
    last_norm.gamma.assign(rng.normal(size=16).astype("float32"))  # as if pre-trained
    last_norm.beta.assign(rng.normal(size=16).astype("float32"))
    model.object_norm.copy_norm(last_norm)
    encoder = {k: v for k, v in batch.items() if k != "subject_ids"}
    sequence = keras.ops.convert_to_numpy(model.backbone(encoder)["sequence_output"])
    residual = model.subject_model(encoder)["residual"]
    condition = np.zeros((2, 32), "float32") + 5.0  # any subject
    conditioned = keras.ops.convert_to_numpy(model.object_norm(residual, condition))
    np.testing.assert_allclose(conditioned, sequence, atol=1e-5)


def test_halves_give_the_whole_models_outputs(model):
    batch = inputs()
    whole = model(batch)
    encoder = {k: v for k, v in batch.items() if k != "subject_ids"}
    halves = model.subject_model(encoder)
    objects = model.object_model(
        {
            "residual": keras.ops.convert_to_numpy(halves["residual"]),
            "subject_ids": batch["subject_ids"],
        }
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(whole["subject"]),
        keras.ops.convert_to_numpy(halves["subject"]),
        atol=1e-6,
    )
    assert tuple(whole["object"].shape) == (2, 7, 3, 2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(whole["object"]), keras.ops.convert_to_numpy(objects), atol=1e-6
    )
    assert not model.backbone.pooler.trainable
    assert len({id(w) for w in model.trainable_weights}) == len(model.trainable_weights)


def bce(target, prediction):
    prediction = np.clip(prediction, 1e-7, 1 - 1e-7)
    return -(target * np.log(prediction) + (1 - target) * np.log(1 - prediction))


def test_masked_pointer_loss_is_the_mean_over_known_tokens():
    rng = np.random.default_rng(4)
    prediction = rng.uniform(0.01, 0.99, size=(2, 4, 3, 2)).astype("float32")
    target = (rng.uniform(size=(2, 4, 3, 2)) > 0.7).astype("float32")
    target[0, 3], target[1, 2:] = -1, -1  # padding
    known = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    per_token = [bce(target[b, t], prediction[b, t]).mean(-1).sum() for b, t in known]
    got = keras.ops.convert_to_numpy(masked_pointer_loss(target, prediction))
    assert got == pytest.approx(np.mean(per_token), rel=1e-5)
    subject_target, subject_prediction = target[:, :, 0], prediction[:, :, 0]
    per_token = [bce(subject_target[b, t], subject_prediction[b, t]).mean() for b, t in known]
    got = keras.ops.convert_to_numpy(masked_pointer_loss(subject_target, subject_prediction))
    assert got == pytest.approx(np.mean(per_token), rel=1e-5)


def test_a_trained_step_survives_a_checkpoint(tmp_path, model):
    batch = inputs()
    targets = {
        "subject": np.zeros((2, 7, 2), "float32"),
        "object": np.zeros((2, 7, 3, 2), "float32"),
    }
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss={"subject": masked_pointer_loss, "object": masked_pointer_loss},
    )
    model.fit(batch, targets, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, TripleExtractor) and loaded.num_predicates == 3
    for name in ("subject", "object"):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded(batch)[name]),
            keras.ops.convert_to_numpy(model(batch)[name]),
            atol=1e-6,
        )
    assert loaded.evaluate(batch, targets, verbose=0) == pytest.approx(
        model.evaluate(batch, targets, verbose=0)
    )


def test_batched_decoding_finds_what_decoding_one_subject_at_a_time_finds():
    """Thresholds low enough that the untrained model marks many spans: the batched decoder (one
    call per half) and bert4keras's loop (one call per sentence and per subject) agree."""
    rng = np.random.default_rng(5)
    texts = ["".join(rng.choice(list("甲乙丙丁戊己庚辛"), size=n)) for n in (5, 9, 3, 12)]
    batch = 4
    mask = np.zeros((batch, 14), "int32")
    offsets = []
    for row, text in enumerate(texts):
        mask[row, : len(text) + 2] = 1
        offsets.append([(0, 0), *[(i, i + 1) for i in range(len(text))], (0, 0)])
    sentences = Sentences(
        {
            "token_ids": rng.integers(5, 30, size=(batch, 14)).astype("int32") * mask,
            "segment_ids": np.zeros((batch, 14), "int32"),
            "padding_mask": mask,
        },
        texts,
        offsets,
    )
    thresholds = Thresholds(0.2, 0.2, 0.05, 0.05)
    keras.utils.set_random_seed(1)
    model = build_triple_extractor(30, 3, ENCODER)  # untrained: its marks sit near 0.25 / 0.06
    batched = extract_triples(model, sentences, ["p", "q", "r"], thresholds, batch_size=3)
    assert sum(map(len, batched)) > 10, "the thresholds let many triples through"
    assert batched == extract_triples_one_by_one(model, sentences, ["p", "q", "r"], thresholds)

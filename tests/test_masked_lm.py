"""Masked-LM pre-training: Google's masking recipe, the tied head against transformers, and the
head's place in both checkpoint formats and in .keras checkpoints."""

import keras
import numpy as np
import pytest

from keraslab.checkpoints import CheckpointMismatch, load_hf_weights, save_hf_weights
from keraslab.data.masking import MaskTokens
from keraslab.models import BertBackbone, MaskedLanguageModel, build_masked_lm

SPECIALS = (0, 1, 2, 3, 4)  # [PAD] [UNK] [CLS] [SEP] [MASK]
MASK_ID = 4
SMALL = dict(num_layers=2, hidden_size=16, num_heads=2, intermediate_size=32, max_positions=32)


def sentences(rows: int, length: int, vocab_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """[CLS] ordinary tokens [SEP] [PAD]..., of random lengths (2 up to ``length``)."""
    rng = np.random.default_rng(seed)
    token_ids = np.zeros((rows, length), np.int32)
    for row, n in enumerate(rng.integers(0, length - 1, rows)):
        token_ids[row, : n + 2] = [2, *rng.integers(5, vocab_size, n), 3]
    return {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": (token_ids != 0).astype(np.int32),
    }


def test_masking_follows_googles_recipe():
    vocab_size, width = 300, 20
    inputs = sentences(4000, 64, vocab_size)
    masker = MaskTokens(MASK_ID, SPECIALS, vocab_size, rate=0.15, max_predictions=width)
    masked, labels, weights = masker(inputs, None, np.random.default_rng(0))
    positions, original = masked["masked_positions"], inputs["token_ids"]

    lengths = inputs["padding_mask"].sum(axis=1)
    ordinary = lengths - 2
    expected = np.minimum(np.minimum(width, np.maximum(1, np.round(lengths * 0.15))), ordinary)
    np.testing.assert_array_equal(weights.sum(axis=1), expected)
    rows, slots = np.nonzero(weights)
    chosen = positions[rows, slots]
    assert np.all((chosen >= 1) & (chosen <= lengths[rows] - 2)), "only ordinary tokens"
    for row in range(100):
        picked = positions[row, weights[row] == 1]
        assert np.all(np.diff(picked) > 0), "sorted, without repeats"
    np.testing.assert_array_equal(labels[rows, slots], original[rows, chosen])
    assert np.all(labels[weights == 0] == 0) and np.all(positions[weights == 0] == 0)

    untouched = np.ones(original.shape, bool)
    untouched[rows, chosen] = False
    np.testing.assert_array_equal(masked["token_ids"][untouched], original[untouched])
    now = masked["token_ids"][rows, chosen]
    was = original[rows, chosen]
    shares = {
        "mask": np.mean(now == MASK_ID),
        "kept": np.mean(now == was),
        "random": np.mean((now != MASK_ID) & (now != was)),
    }
    # About 24,000 predictions: a binomial share's standard deviation is at most 0.003.
    assert shares["mask"] == pytest.approx(0.8, abs=0.015)
    # A random replacement equals the original with probability 1/295, so "kept" gains 0.03%.
    assert shares["kept"] == pytest.approx(0.1, abs=0.015)
    assert shares["random"] == pytest.approx(0.1, abs=0.015)
    assert not np.isin(now[(now != MASK_ID) & (now != was)], SPECIALS).any()
    for key in ("segment_ids", "padding_mask"):
        np.testing.assert_array_equal(masked[key], inputs[key])


def test_masking_is_a_function_of_the_generator():
    inputs = sentences(8, 16, 50)
    masker = MaskTokens(MASK_ID, SPECIALS, 50, max_predictions=3)
    one, two = (masker(inputs, None, np.random.default_rng(7)) for _ in range(2))
    other = masker(inputs, None, np.random.default_rng(8))
    for a, b in zip(one[0].values(), two[0].values(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(one[0]["masked_positions"], other[0]["masked_positions"])


def mlm_batch(vocab_size: int = 40, seed: int = 0):
    inputs = sentences(3, 12, vocab_size, seed)
    masker = MaskTokens(MASK_ID, SPECIALS, vocab_size, max_predictions=3)
    return masker(inputs, None, np.random.default_rng(seed))


def logits_of(model, inputs) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def test_head_is_tied_to_the_word_embeddings_and_leaves_the_pooler_alone():
    model = build_masked_lm(40, SMALL)
    table = model.backbone.embeddings.word_embeddings.embeddings
    assert model.head.word_embeddings.embeddings is table
    assert sum(v is table for v in model.trainable_variables) == 1
    assert not model.backbone.pooler.trainable

    inputs, _, _ = mlm_batch()
    encoder_inputs = {k: v for k, v in inputs.items() if k != "masked_positions"}
    gathered = np.take_along_axis(
        keras.ops.convert_to_numpy(model.backbone(encoder_inputs)["sequence_output"]),
        inputs["masked_positions"][:, :, None],
        axis=1,
    )
    head = model.head
    hidden = keras.ops.convert_to_numpy(head.layer_norm(head.activation(head.dense(gathered))))
    expected = hidden @ keras.ops.convert_to_numpy(table).T + keras.ops.convert_to_numpy(
        head.output_bias
    )
    np.testing.assert_allclose(logits_of(model, inputs), expected, atol=1e-5)


def test_head_matches_transformers_bert_for_pre_training(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    reference = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():  # a non-zero output bias, so that its place is checked too
        reference.cls.predictions.bias.normal_()
    reference.save_pretrained(tmp_path)
    ours = build_masked_lm(40, SMALL)
    load_hf_weights(ours, tmp_path)

    inputs, _, _ = mlm_batch()
    with torch.no_grad():
        expected = reference(
            input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(inputs["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(inputs["padding_mask"], dtype=torch.long),
        ).prediction_logits.numpy()
    expected = np.take_along_axis(expected, inputs["masked_positions"][:, :, None], axis=1)
    np.testing.assert_allclose(logits_of(ours, inputs), expected, atol=1e-4)


def test_hf_round_trip_keeps_the_head(tmp_path):
    source = build_masked_lm(40, SMALL)
    source.head.output_bias.assign(np.linspace(-1, 1, 40).astype("float32"))
    save_hf_weights(source, tmp_path)
    target = build_masked_lm(40, SMALL)
    load_hf_weights(target, tmp_path)
    inputs, _, _ = mlm_batch()
    np.testing.assert_array_equal(logits_of(target, inputs), logits_of(source, inputs))


def test_google_checkpoint_holds_the_head_under_googles_names(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from keraslab.checkpoints.google import load_google_checkpoint, save_google_checkpoint

    source = build_masked_lm(40, SMALL)
    source.head.output_bias.assign(np.linspace(-1, 1, 40).astype("float32"))
    prefix = save_google_checkpoint(source, tmp_path / "mlm" / "bert_model.ckpt")
    head = {
        name: shape
        for name, shape in tf.train.list_variables(str(prefix))
        if name.startswith("cls/")
    }
    assert head == {
        "cls/predictions/output_bias": [40],
        "cls/predictions/transform/LayerNorm/beta": [16],
        "cls/predictions/transform/LayerNorm/gamma": [16],
        "cls/predictions/transform/dense/bias": [16],
        "cls/predictions/transform/dense/kernel": [16, 16],
    }
    target = build_masked_lm(40, SMALL)
    load_google_checkpoint(target, prefix)
    inputs, _, _ = mlm_batch()
    np.testing.assert_array_equal(logits_of(target, inputs), logits_of(source, inputs))

    encoder = BertBackbone(40, **SMALL)  # has no head: the checkpoint's is skipped
    load_google_checkpoint(encoder, prefix)
    encoder_inputs = {k: v for k, v in inputs.items() if k != "masked_positions"}
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(encoder(encoder_inputs)["sequence_output"]),
        keras.ops.convert_to_numpy(source.backbone(encoder_inputs)["sequence_output"]),
    )

    headless = save_google_checkpoint(encoder, tmp_path / "encoder" / "bert_model.ckpt")
    fresh = build_masked_lm(40, SMALL)
    initial_bias = keras.ops.convert_to_numpy(fresh.head.output_bias)
    load_google_checkpoint(fresh, headless)  # a head the checkpoint lacks keeps its start values
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fresh.head.output_bias), initial_bias)


def test_partly_present_head_is_listed(tmp_path):
    source = build_masked_lm(40, SMALL)
    save_hf_weights(source, tmp_path)
    from safetensors.numpy import load_file, save_file

    tensors = load_file(tmp_path / "model.safetensors")
    del tensors["cls.predictions.bias"]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(
        CheckpointMismatch, match=r"missing from the checkpoint: cls.predictions.bias"
    ):
        load_hf_weights(build_masked_lm(40, SMALL), tmp_path)


def test_keras_checkpoint_keeps_the_tie_and_training_goes_on_identically(tmp_path):
    model = build_masked_lm(40, {**SMALL, "dropout": 0.0})  # no dropout: steps are comparable
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    batch = mlm_batch()
    model.train_on_batch(*batch)
    model.save(tmp_path / "mlm.keras")
    restored = keras.saving.load_model(tmp_path / "mlm.keras")
    assert isinstance(restored, MaskedLanguageModel)
    embeddings = restored.backbone.embeddings.word_embeddings
    assert restored.head.word_embeddings is embeddings
    second = mlm_batch(seed=1)
    losses = [float(m.train_on_batch(*second)) for m in (model, restored)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    np.testing.assert_allclose(
        logits_of(restored, second[0]), logits_of(model, second[0]), atol=1e-6
    )

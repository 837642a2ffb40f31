"""Triple extraction without training: pointer pairing and decoding on hand-made marks, spans on
tokens, targets and their sampling, exact-set scores, and reading DuIE files."""

import re
from types import SimpleNamespace

import numpy as np
import pytest
from spo_fixture import write_lines, write_spo

from keraslab.data import SpoData
from keraslab.data.duie import read_schema, read_triples
from keraslab.errors import DataError
from keraslab.loaders import InlineLoader, ProcessLoader, Schedule, ThreadLoader
from keraslab.tokenizers import WordPieceTokenizer, char_vocab
from keraslab.triples.decoding import Sentences, Thresholds, extract_triples
from keraslab.triples.placement import place_triples
from keraslab.triples.pointers import pair_starts_with_ends, pointer_spans, reachable
from keraslab.triples.scores import Counts, count, count_by_predicate
from keraslab.triples.spans import span_text, token_spans
from keraslab.triples.targets import PointerTargets


def test_each_start_pairs_with_the_nearest_end_at_or_after_it():
    assert pair_starts_with_ends([6, 1, 4, 9], [2, 6]) == [(1, 2), (4, 6), (6, 6)]
    scores = np.array([0.0, 0.9, 0.1, 0.7, 0.2])
    ends = np.array([0.0, 0.2, 0.6, 0.1, 0.9])
    assert pointer_spans(scores, ends, 0.6, 0.5) == [(1, 2), (3, 4)]
    assert pointer_spans(scores, ends, 0.6, 0.5, first=2, stop=4) == []  # no end inside


def test_spans_that_share_a_start_or_nest_under_one_predicate_cannot_be_reached():
    # subjects (1, 2) and (1, 4) share a start: decoding gives the shorter only.
    shared_start = {(1, 2, 0, 6, 7), (1, 4, 0, 6, 7)}
    assert reachable(shared_start) == {(1, 2, 0, 6, 7)}
    # objects (6, 9) and (7, 8) of one subject and predicate: the start 6 pairs with end 8.
    nested = {(1, 2, 0, 6, 9), (1, 2, 0, 7, 8)}
    assert reachable(nested) == {(1, 2, 0, 7, 8)}
    # the same spans under different predicates, or overlapping with different starts, are fine.
    fine = {(1, 2, 0, 6, 9), (1, 2, 1, 7, 8), (3, 5, 0, 4, 6), (1, 2, 2, 1, 2)}
    assert reachable(fine) == fine


class FakeHalves:
    """The model's two halves, returning hand-made marks and recording each call's batch size.

    Token ids hold each sentence's index, and so does its residual, so the object half knows
    each row's sentence; ``objects[(sentence, first, last)]`` are the object marks of that subject."""

    def __init__(self, subjects: np.ndarray, objects: dict, width: int):
        self.calls = []
        self.subject_model = SimpleNamespace(predict_on_batch=self._subjects)
        self.object_model = SimpleNamespace(predict_on_batch=self._objects)
        self.subjects, self.objects, self.width = subjects, objects, width

    def _subjects(self, inputs):
        sentence = inputs["token_ids"][:, 0]  # the test writes each sentence's index there
        self.calls.append(("subject", len(sentence)))
        residual = sentence[:, None, None] * np.ones((1, inputs["token_ids"].shape[1], 4))
        return {"residual": residual, "subject": self.subjects[sentence]}

    def _objects(self, inputs):
        self.calls.append(("object", len(inputs["subject_ids"])))
        length = inputs["residual"].shape[1]
        return np.stack(
            [
                self.objects.get((int(r[0, 0]), *map(int, ids)), np.zeros((length, self.width, 2)))
                for r, ids in zip(inputs["residual"], inputs["subject_ids"], strict=True)
            ]
        )


def marks(length: int, starts, ends, width: int | None = None) -> np.ndarray:
    """(L, 2) marks of 0.9 at ``starts`` / ``ends``; with ``width`` (L, P, 2), positions given
    as (position, predicate)."""
    array = np.zeros((length, 2) if width is None else (length, width, 2))
    for column, positions in ((0, starts), (1, ends)):
        for position in positions:
            array[(position, column) if width is None else (*position, column)] = 0.9
    return array


def test_batched_decoding_on_hand_made_marks():
    predicates = ["作者", "出生地", "国籍"]
    # One character a token, so token i + 1 is character i ([CLS] is token 0).
    texts = ["《长河》是李华写的，李华出生于北京。", "北京大学在北京。", "今天天气很好。"]
    offsets = [[(0, 0), *[(i, i + 1) for i in range(len(t))], (0, 0)] for t in texts]
    length = 24
    mask = np.zeros((3, length), np.int32)
    for row, token_offsets in enumerate(offsets):
        mask[row, : len(token_offsets)] = 1
    subjects = np.stack(
        [
            marks(length, [2, 6], [3, 7]),  # 长河, 李华 (李华 is also an object of 长河)
            marks(length, [1, 6], [4, 7]),  # 北京大学 and 北京, one nested in the other's text
            marks(length, [0, 20], [0, 21]),  # no triples: marks on [CLS] and padding only
        ]
    )
    objects = {
        (0, 2, 3): marks(length, [(6, 0)], [(7, 0)], 3),  # 长河 -作者-> 李华
        # 李华 has two objects (出生地 北京, 国籍 长河) and a start (作者) with no end after it.
        (0, 6, 7): marks(length, [(16, 1), (2, 2), (18, 0)], [(17, 1), (3, 2), (5, 0)], 3),
        (1, 1, 4): marks(length, [(1, 1)], [(2, 1)], 3),  # object inside its subject's span
        (1, 6, 7): marks(length, [(1, 0)], [(4, 0)], 3),  # 北京 -作者-> 北京大学
    }
    model = FakeHalves(subjects, objects, len(predicates))
    ids = np.arange(3)[:, None] * np.ones((1, length), np.int32)
    sentences = Sentences(
        {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": mask}, texts, offsets
    )
    found = extract_triples(model, sentences, predicates, Thresholds(), batch_size=8)
    assert found == [
        {("长河", "作者", "李华"), ("李华", "出生地", "北京"), ("李华", "国籍", "长河")},
        {("北京大学", "出生地", "北京"), ("北京", "作者", "北京大学")},
        set(),
    ]
    assert model.calls == [("subject", 3), ("object", 32)], "one call per half, rows padded"
    model.calls.clear()
    assert extract_triples(model, sentences, predicates, Thresholds(), batch_size=2) == found
    assert model.calls == [("subject", 2), ("object", 32), ("subject", 1)]


def test_spans_map_to_tokens_and_back_on_mixed_chinese_latin_and_digit_text():
    text = "iPhone 12于2020年9月发布，售价5999元。"
    chars = WordPieceTokenizer(char_vocab([text]), lowercase=False)
    words = WordPieceTokenizer(
        [
            "[PAD]",
            "[UNK]",
            "[CLS]",
            "[SEP]",
            "[MASK]",
            "iphone",
            "12",
            "2020",
            "##0",
            "59",
            "##99",
            "于",
            "年",
            "9",
            "月",
            "发",
            "布",
            "，",
            "售",
            "价",
            "元",
            "。",
        ],
        lowercase=True,
    )
    for tokenizer in (chars, words):
        _, _, offsets = tokenizer.encode_with_offsets(text)
        for span in ("iPhone 12", "2020年9月", "5999元", "售价"):
            ((first, last),) = token_spans(text, span, offsets)
            assert span_text(text, offsets, first, last) == span
        assert token_spans(text, "不在", offsets) == []
    _, _, offsets = words.encode_with_offsets(text)
    # "599" ends inside the word piece "##99": not on a token boundary, so it cannot be placed.
    assert token_spans(text, "599", offsets) == []
    ((first, last),) = token_spans(text, "iPhone", offsets)
    assert offsets[first] == offsets[last] == (0, 6)


def test_every_occurrence_on_token_boundaries_is_found_in_text_order():
    text = "ab北京北京"
    _, _, offsets = WordPieceTokenizer(char_vocab([text]), lowercase=False).encode_with_offsets(
        text
    )
    assert token_spans(text, "北京", offsets) == [(3, 4), (5, 6)]
    assert token_spans(text, "b", offsets) == [(2, 2)]


def test_a_string_moves_to_another_occurrence_when_the_first_would_lose_triples():
    """bert4keras places "明月" inside "《明月时光》", where it shares a start with that subject;
    its other occurrence lets all five triples be decoded."""
    text = "《明月时光》是雷娜一创作的小说，由昌平出版社出版。电影《明月》由尹轩天执导，段梅主演。"
    gold = [
        ("明月时光", "作者", "雷娜一"),
        ("明月时光", "出版社", "昌平出版社"),
        ("明月", "导演", "尹轩天"),
        ("明月", "主演", "段梅"),
    ]
    ids = {"作者": 0, "出版社": 1, "导演": 2, "主演": 3}
    _, _, offsets = WordPieceTokenizer(char_vocab([text]), lowercase=False).encode_with_offsets(
        text
    )
    placed, lost = place_triples(text, gold, offsets, len(offsets) - 1, ids)
    assert sum(lost.values()) == 0 and len(placed) == 4
    second = text.index("明月》") + 1  # token position of that occurrence ([CLS] is 0)
    assert {t[:2] for t in placed if t[2] >= 2} == {(second, second + 1)}
    # Cut before the second occurrence, the 明月 triples are counted as cut off, not overlapping.
    placed, lost = place_triples(text, gold, offsets, second, ids)
    assert lost == {"cut_by_maxlen": 2, "overlapping": 0} and len(placed) == 2


def test_targets_mark_every_subject_and_the_chosen_subjects_objects():
    padding_mask = np.array([[1] * 8 + [0] * 2, [1] * 5 + [0] * 5])
    triples = np.full((2, 3, 5), -1)
    triples[0, :3] = [(1, 2, 0, 5, 6), (1, 2, 1, 4, 4), (4, 4, 1, 6, 6)]
    inputs, targets = PointerTargets(2, sample=False)(
        {"padding_mask": padding_mask}, {"triples": triples}, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(inputs["subject_ids"], [[1, 2], [0, 0]])
    subject = targets["subject"]
    assert subject.shape == (2, 10, 2) and (subject[0, 8:] == -1).all()
    assert (subject[1, 5:] == -1).all() and (subject[1, :5] == 0).all()
    np.testing.assert_array_equal(np.argwhere(subject[0] == 1), [[1, 0], [2, 1], [4, 0], [4, 1]])
    objects = targets["object"]
    assert objects.shape == (2, 10, 2, 2) and (objects[0, 8:] == -1).all()
    # objects of (1, 2) only: (5, 6) under predicate 0, (4, 4) under 1; not (6, 6) of subject (4, 4)
    np.testing.assert_array_equal(
        np.argwhere(objects[0] == 1), [[4, 1, 0], [4, 1, 1], [5, 0, 0], [6, 0, 1]]
    )
    assert (objects[1, :5] == 0).all()


def sampling_split(tmp_path):
    data = SpoData(str(write_spo(tmp_path / "spo", {"train": 60, "valid": 8})), batch_size=8)
    return data.setup()


LOADERS = {
    "inline": InlineLoader(),
    "threads": ThreadLoader(workers=2),
    "processes": ProcessLoader(workers=2),
}


def test_subject_sampling_is_reproducible_through_every_loader(tmp_path):
    data = sampling_split(tmp_path)
    batches = data.batches("train", seed=3)
    schedule = Schedule(batches, 0, len(batches))
    reference = [schedule(k) for k in range(2 * len(batches))]
    for name, loader in LOADERS.items():
        with loader.open(schedule) as fetcher:
            got = [fetcher.get(k) for k in range(2 * len(batches))]
        for (inputs, labels), (want_inputs, want_labels) in zip(got, reference, strict=True):
            np.testing.assert_array_equal(inputs["subject_ids"], want_inputs["subject_ids"], name)
            np.testing.assert_array_equal(labels["object"], want_labels["object"], name)
    # Across epochs a sentence with two subjects gets each of them; one with one always it.
    chosen = {}
    for epoch in range(12):
        order = batches.order(epoch)
        for index in range(len(batches)):
            rows = order[index * batches.batch_size : (index + 1) * batches.batch_size]
            for row, pair in zip(rows, batches.batch(epoch, index)[0]["subject_ids"], strict=True):
                chosen.setdefault(int(row), set()).add(tuple(pair))
    subjects = [len({s for s, _, _ in sentence.triples}) for sentence in data.gold("train")]
    assert 2 in subjects
    assert all(len(chosen[row]) == max(count, 1) for row, count in enumerate(subjects))


def test_scores_on_known_sets():
    gold = [{("a", "p", "b"), ("a", "q", "c")}, {("d", "p", "e")}, set()]
    assert count(gold, gold).scores() == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    empty = count([set(), set(), set()], gold)
    assert (empty.correct, empty.predicted, empty.gold) == (0, 0, 3)
    assert empty.scores() == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # duplicates count once; one right, one wrong, one missed: X=1, Y=2, Z=3
    guess = [[("a", "p", "b"), ("a", "p", "b"), ("a", "p", "x")], [], [("z", "q", "z")]]
    counts = count(guess, gold)
    assert (counts.correct, counts.predicted, counts.gold) == (1, 3, 3)
    assert counts.precision == pytest.approx(1 / 3) and counts.recall == pytest.approx(1 / 3)
    assert counts.f1 == pytest.approx(2 * 1 / (3 + 3))
    assert Counts().scores() == {"precision": 1.0, "recall": 1.0, "f1": 1.0}, "nothing to find"
    by_predicate = count_by_predicate(guess, gold)
    assert by_predicate["p"] == Counts(correct=1, predicted=2, gold=2)
    assert by_predicate["q"] == Counts(correct=0, predicted=1, gold=1)


def test_duie_lines_read_with_extra_fields_empty_lists_and_duie2_objects(tmp_path):
    write_lines(tmp_path / "schema.json", [{"predicate": "作者"}, {"predicate": "国籍"}])
    write_lines(
        tmp_path / "data.json",
        [
            {
                "text": "《远山》是李华写的。",
                "postag": [{"word": "远山"}],
                "spo_list": [{"subject": "远山", "predicate": "作者", "object": "李华"}],
            },
            {"text": "没有三元组。", "spo_list": []},
            {
                "text": "李华是中国人。",
                "spo_list": [
                    {"subject": "李华", "predicate": "国籍", "object": {"@value": "中国"}}
                ],
            },
        ],
    )
    predicates = read_schema(tmp_path / "schema.json")
    assert predicates == ["作者", "国籍"]
    sentences = read_triples(tmp_path / "data.json", predicates)
    assert [s.triples for s in sentences] == [
        (("远山", "作者", "李华"),),
        (),
        (("李华", "国籍", "中国"),),
    ]


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"text": "a", "spo_list": [', "not JSON"),
        ('{"spo_list": []}', '{"text": str, "spo_list"'),
        ('{"text": "ab", "spo_list": [{"subject": "a", "object": "b"}]}', "non-empty strings"),
        (
            '{"text": "ab", "spo_list": [{"subject": "a", "predicate": "朋友", "object": "b"}]}',
            "predicate '朋友' is not in the schema; expected one of 作者",
        ),
    ],
)
def test_a_bad_line_names_file_line_and_what_was_expected(tmp_path, line, expected):
    path = tmp_path / "data.json"
    path.write_text('{"text": "fine", "spo_list": []}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: ")) as error:
        read_triples(path, ["作者"])
    assert expected in str(error.value)


def test_unreachable_triples_are_counted_by_reason_and_the_rest_placed(tmp_path, capsys):
    folder = write_spo(tmp_path / "spo", {"train": 20})
    write_lines(
        folder / "valid.json",
        [
            # 北京 and 北京大学 both subjects from token 1: the longer cannot be decoded.
            {
                "text": "北京大学出生于上海。",
                "spo_list": [
                    {"subject": "北京大学", "predicate": "出生地", "object": "上海"},
                    {"subject": "北京", "predicate": "出生地", "object": "上海"},
                ],
            },
            {
                "text": "李华出生于杭州。",
                "spo_list": [{"subject": "李华", "predicate": "出生地", "object": "南京"}],
            },  # not in text
            {
                "text": "王小明毕业于复旦大学" + "很" * 40 + "，孙丽出生于成都。",
                "spo_list": [
                    {"subject": "孙丽", "predicate": "出生地", "object": "成都"},  # past maxlen
                    {"subject": "王小明", "predicate": "毕业院校", "object": "复旦大学"},
                ],
            },
        ],
    )
    data = SpoData(str(folder), maxlen=32, batch_size=4).setup()
    assert data.unreachable["valid"] == {
        "gold": 5,
        "not_found": 1,
        "cut_by_maxlen": 1,
        "overlapping": 1,
    }
    assert "data valid: 3 of 5 gold triples cannot be reached" in capsys.readouterr().out
    labels = data.splits["valid"].labels["triples"]
    placed = [sorted(tuple(t) for t in rows if t[0] >= 0) for rows in labels]
    school = data.predicates.index("毕业院校")
    assert placed[1] == [] and placed[2] == [(1, 3, school, 7, 10)]
    assert len(placed[0]) == 2, "an overlapping triple is still trained on"
    assert len(data.offsets["valid"][2]) == 32 and data.offsets["valid"][2][-1] == (0, 0)


def test_missing_schema_or_data_says_what_was_expected(tmp_path):
    folder = write_spo(tmp_path / "spo", {"train": 4, "valid": 4})
    (folder / "all_schemas.json").unlink()
    with pytest.raises(DataError, match=r"lacks the schema all_schemas\.json"):
        SpoData(str(folder)).setup()
    with pytest.raises(DataError, match="does not exist"):
        SpoData(str(tmp_path / "nowhere")).setup()

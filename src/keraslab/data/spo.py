"""Triple extraction data: DuIE files, encoded as token ids plus each sentence's token triples."""

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, string
from keraslab.data.duie import TripleSentence, read_schema, read_triples
from keraslab.data.encoded import EncodedSplit
from keraslab.data.text_module import TextDataModule
from keraslab.errors import DataError
from keraslab.triples.placement import UNREACHABLE, place_triples
from keraslab.triples.targets import NO_TRIPLE, PointerTargets

FILES = {"train": "train.json", "valid": "valid.json", "test": "test.json"}
PREDICATES_FILE = "predicates.json"


class SpoData(TextDataModule):
    """Sentences with ``(subject, predicate, object)`` triples for
    :class:`~keraslab.tasks.TripleExtractionTask`, in the LIC2019 / DuIE format (see
    :mod:`keraslab.data.duie`); ``schema_file`` lists the predicates.

    Each gold triple is placed on tokens through the tokenizer's offsets
    (:func:`~keraslab.triples.placement.place_triples`: occurrences on token boundaries, the
    first unless another lets more triples be decoded). A triple cannot be reached when a span is
    not found that way, when a span's tokens are cut off by ``maxlen``, or when it overlaps
    another so that pointer decoding of perfect marks would not give it back (two subjects that
    start on the same token, ...). Those counts are printed once per split and
    kept in ``unreachable[split]``; every triple that has token positions is trained on, and every
    gold triple is scored.
    """

    file_format = "DuIE lines " + '{"text": ..., "spo_list": [...]}'
    config_checks: ClassVar[dict[str, Check]] = {
        **TextDataModule.config_checks,
        "schema_file": string,
    }

    def __init__(
        self,
        data_dir: str,
        files: Mapping[str, str] = FILES,
        schema_file: str = "all_schemas.json",
        maxlen: int = 128,
        batch_size: int = 64,
        min_char_count: int = 1,
        max_train_samples: int | None = None,
    ):
        super().__init__(data_dir, files, maxlen, batch_size, min_char_count, max_train_samples)
        self.schema_file = schema_file
        self.predicates: list[str] = []
        self.offsets: dict[str, list[list[tuple[int, int]]]] = {}
        self.unreachable: dict[str, dict[str, int]] = {}

    @property
    def model_arguments(self) -> dict:
        """``vocab_size`` and ``num_predicates``."""
        return {**super().model_arguments, "num_predicates": len(self.predicates)}

    def setup(self, tokenizer=None) -> "SpoData":
        self._paths()  # the data folder and its train and valid files come first
        schema = self.data_dir / self.schema_file
        if not schema.is_file():
            raise DataError(
                f"data.data_dir {str(self.data_dir)!r} lacks the schema {schema.name} "
                "(data.schema_file); expected one JSON line per predicate, "
                '{"predicate": ..., "subject_type": ..., "object_type": ...}.'
            )
        self.predicates = read_schema(schema)
        return super().setup(tokenizer)

    def read(self, path: Path) -> list[TripleSentence]:
        return read_triples(path, self.predicates)

    def text_of(self, example: TripleSentence) -> str:
        return example.text

    def artifacts(self) -> dict[str, str]:
        return {
            **super().artifacts(),
            PREDICATES_FILE: json.dumps(self.predicates, ensure_ascii=False),
        }

    def restore(self, folder: Path) -> "SpoData":
        super().restore(folder)
        self.predicates = json.loads((Path(folder) / PREDICATES_FILE).read_text(encoding="utf-8"))
        return self

    def encode(self, examples: Sequence[TripleSentence], split: str) -> EncodedSplit:
        """Token inputs (N, maxlen), and ``triples`` (N, T, 5) token positions as labels."""
        count = len(examples)
        inputs = {
            name: np.zeros((count, self.maxlen), np.int32)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        placed, reasons, offsets = [], Counter(), []
        predicate_ids = {name: index for index, name in enumerate(self.predicates)}
        for row, sentence in enumerate(examples):
            token_ids, _, token_offsets = self.tokenizer.encode_with_offsets(sentence.text)
            kept = self._truncate(token_ids)
            inputs["token_ids"][row, : len(kept)] = kept
            inputs["padding_mask"][row, : len(kept)] = 1
            offsets.append([*token_offsets[: len(kept) - 1], (0, 0)])
            triples, lost = place_triples(
                sentence.text, sentence.triples, token_offsets, len(kept) - 1, predicate_ids
            )
            reasons.update(lost)
            placed.append(sorted(triples))
        self.offsets[split] = offsets
        gold = sum(len(set(sentence.triples)) for sentence in examples)
        self.unreachable[split] = {"gold": gold, **{name: reasons[name] for name in UNREACHABLE}}
        print(self.describe_unreachable(split), flush=True)
        width = max(1, max(map(len, placed)))
        labels = np.full((count, width, 5), NO_TRIPLE, np.int32)
        for row, triples in enumerate(placed):
            labels[row, : len(triples)] = np.reshape(triples, (-1, 5))
        targets = PointerTargets(len(self.predicates), sample=split == "train")
        return EncodedSplit(inputs, {"triples": labels}, transform=targets)

    def describe_unreachable(self, split: str) -> str:
        counts = self.unreachable[split]
        lost = sum(counts[name] for name in UNREACHABLE)
        details = ", ".join(f"{counts[name]} {name.replace('_', ' ')}" for name in UNREACHABLE)
        return (
            f"data {split}: {lost} of {counts['gold']} gold triples cannot be reached ({details})"
        )

    def _truncate(self, token_ids: list[int]) -> list[int]:
        """[CLS] ... [SEP] within ``maxlen`` tokens."""
        if len(token_ids) <= self.maxlen:
            return token_ids
        return [*token_ids[: self.maxlen - 1], self.tokenizer.sep_id]

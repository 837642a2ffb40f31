"""The Chinese sentiment corpus: ``sentiment.{train,valid,test}.data``, one ``TEXT<TAB>LABEL`` a line."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, integer, optional
from keraslab.data.encoded import EncodedSplit
from keraslab.data.labelled_text import read_labelled_text
from keraslab.data.text_module import TextDataModule

FILES = {split: f"sentiment.{split}.data" for split in ("train", "valid", "test")}


class SentimentData(TextDataModule):
    """Labelled sentences for :class:`~keraslab.tasks.ClassificationTask`: each example is
    ``(text, class index)``, the index of its label in ``classes``.

    Encoded splits hold the tokenizer's ``token_ids``, ``segment_ids``, ``padding_mask`` and the
    class indices as labels. ``train`` and ``valid`` are required; ``test`` is used when its file
    exists. ``pad_to_multiple`` pads each batch only to its longest text, rounded up to that
    multiple (None: to ``maxlen``); ``length_grouping`` batches training texts of similar length
    together, sorted within chunks of that many batches (see
    :class:`~keraslab.loaders.SplitBatches`).
    """

    file_format = "TEXT<TAB>LABEL lines"
    config_checks: ClassVar[dict[str, Check]] = {
        **TextDataModule.config_checks,
        "pad_to_multiple": optional(integer(1)),
        "length_grouping": optional(integer(1)),
    }

    def __init__(
        self,
        data_dir: str,
        maxlen: int = 128,
        batch_size: int = 64,
        classes: Sequence[int] = (0, 1),
        min_char_count: int = 1,
        max_train_samples: int | None = None,
        files: Mapping[str, str] = FILES,
        pad_to_multiple: int | None = None,
        length_grouping: int | None = None,
    ):
        super().__init__(data_dir, files, maxlen, batch_size, min_char_count, max_train_samples)
        self.classes = tuple(classes)
        self.pad_to_multiple = pad_to_multiple
        self.length_grouping = length_grouping

    @property
    def model_arguments(self) -> dict:
        """``vocab_size`` and ``num_classes``."""
        return {**super().model_arguments, "num_classes": len(self.classes)}

    def read(self, path: Path) -> list[tuple[str, int]]:
        return list(zip(*read_labelled_text(path, self.classes), strict=True))

    def text_of(self, example: tuple[str, int]) -> str:
        return example[0]

    def encode(self, examples: Sequence[tuple[str, int]], split: str) -> EncodedSplit:
        texts = [text for text, _ in examples]
        labels = np.asarray([label for _, label in examples], np.int32)
        encoded = self.tokenizer.encode_batch(texts, maxlen=self.maxlen)
        return EncodedSplit(encoded, labels, pad_to_multiple=self.pad_to_multiple)

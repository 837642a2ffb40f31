"""The Chinese sentiment corpus: ``sentiment.{train,valid,test}.data``, one ``TEXT<TAB>LABEL`` a line."""

from pathlib import Path

import numpy as np

from keraslab.data.encoded import EncodedSplit
from keraslab.data.labelled_text import read_labelled_text
from keraslab.errors import DataError
from keraslab.tokenizers import WordPieceTokenizer, char_vocab

SPLITS = ("train", "valid", "test")


class SentimentData:
    """Reads the corpus and encodes every split with a tokenizer: the one given to :meth:`setup`
    (a pre-trained encoder's), or else a character vocab built from the training split.

    ``train`` and ``valid`` are required; ``test`` is used when its file exists.
    ``max_train_samples`` keeps only the first n training lines (for quick runs).
    """

    def __init__(
        self,
        data_dir: str,
        maxlen: int = 128,
        batch_size: int = 64,
        classes: tuple[int, ...] = (0, 1),
        min_char_count: int = 1,
        max_train_samples: int | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.classes = tuple(classes)
        self.min_char_count = min_char_count
        self.max_train_samples = max_train_samples
        self.tokenizer = None
        self.splits: dict[str, EncodedSplit] = {}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def model_arguments(self) -> dict:
        """What the model builder needs from the data: ``vocab_size`` and ``num_classes``."""
        return {"vocab_size": self.tokenizer.vocab_size, "num_classes": self.num_classes}

    def split_path(self, split: str) -> Path:
        return self.data_dir / f"sentiment.{split}.data"

    def setup(self, tokenizer=None) -> "SentimentData":
        """Read and check every file first, so a bad line fails before any encoding or training."""
        self._check_files()
        texts = {
            split: read_labelled_text(self.split_path(split), self.classes)
            for split in SPLITS
            if self.split_path(split).exists()
        }
        if self.max_train_samples:
            texts["train"] = tuple(part[: self.max_train_samples] for part in texts["train"])
        self.tokenizer = tokenizer or WordPieceTokenizer(
            char_vocab(texts["train"][0], self.min_char_count), lowercase=False
        )
        for split, (split_texts, labels) in texts.items():
            inputs = self.tokenizer.encode_batch(split_texts, maxlen=self.maxlen)
            self.splits[split] = EncodedSplit(inputs, np.asarray(labels, np.int32))
        return self

    def _check_files(self) -> None:
        if not self.data_dir.is_dir():
            raise DataError(
                f"data.data_dir {str(self.data_dir)!r} does not exist; expected a folder holding "
                "sentiment.train.data and sentiment.valid.data. Run `make data` to prepare it, "
                "or point data.data_dir at a copy of the corpus."
            )
        missing = [
            str(self.split_path(s)) for s in ("train", "valid") if not self.split_path(s).is_file()
        ]
        if missing:
            raise DataError(
                f"data.data_dir {str(self.data_dir)!r} lacks {', '.join(missing)}; expected "
                "sentiment.train.data and sentiment.valid.data (TEXT<TAB>LABEL lines)."
            )

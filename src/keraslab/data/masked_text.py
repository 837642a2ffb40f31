"""Raw text for masked-LM pre-training, such as the sentiment corpus with its labels dropped."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, integer, number, one_of
from keraslab.data.encoded import EncodedSplit
from keraslab.data.masking import MaskTokens
from keraslab.data.text_module import TextDataModule
from keraslab.data.texts import read_texts

DEFAULT_FILES = {"train": "sentiment.train.data", "valid": "sentiment.valid.data"}


class MaskedTextData(TextDataModule):
    """Texts for :class:`~keraslab.tasks.MaskedLMTask`, one a line (``drop_label``: the text
    before each line's last tab).

    Training batches are masked afresh every epoch (:class:`~keraslab.data.masking.MaskTokens`,
    seeded by seed, epoch and batch); every other split is masked once, with
    ``valid_mask_seed``, so every epoch and every run is scored on the same predictions.
    """

    file_format = "text lines"
    config_checks: ClassVar[dict[str, Check]] = {
        **TextDataModule.config_checks,
        "mask_rate": number(0.0, 1.0, low_inclusive=False, high_inclusive=False),
        "max_predictions": integer(1),
        "drop_label": one_of(True, False),
    }

    def __init__(
        self,
        data_dir: str,
        files: Mapping[str, str] = DEFAULT_FILES,
        drop_label: bool = True,
        maxlen: int = 128,
        batch_size: int = 64,
        min_char_count: int = 1,
        mask_rate: float = 0.15,
        max_predictions: int = 20,
        max_train_samples: int | None = None,
        valid_mask_seed: int = 0,
    ):
        super().__init__(data_dir, files, maxlen, batch_size, min_char_count, max_train_samples)
        self.drop_label = drop_label
        self.mask_rate = mask_rate
        self.max_predictions = max_predictions
        self.valid_mask_seed = valid_mask_seed
        if drop_label:
            self.file_format = "TEXT<TAB>LABEL lines (data.drop_label is true)"

    def read(self, path: Path) -> list[str]:
        return read_texts(path, self.drop_label)

    def encode(self, examples: Sequence[str], split: str) -> EncodedSplit:
        masker = MaskTokens(
            self.tokenizer.mask_id,
            self.tokenizer.special_ids,
            self.tokenizer.vocab_size,
            self.mask_rate,
            self.max_predictions,
        )
        encoded = self.tokenizer.encode_batch(examples, maxlen=self.maxlen)
        if split == "train":
            return EncodedSplit(encoded, transform=masker)
        return EncodedSplit(*masker(encoded, None, np.random.default_rng(self.valid_mask_seed)))

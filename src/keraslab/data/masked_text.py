"""Raw text for masked-LM pre-training, such as the sentiment corpus with its labels dropped."""

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keraslab.data.encoded import EncodedSplit
from keraslab.data.masking import MaskTokens
from keraslab.data.texts import read_texts
from keraslab.errors import DataError
from keraslab.tokenizers import WordPieceTokenizer, char_vocab

DEFAULT_FILES = {"train": "sentiment.train.data", "valid": "sentiment.valid.data"}


class MaskedTextData:
    """Encodes ``files`` (split -> file in ``data_dir``) for :class:`~keraslab.models.MaskedLanguageModel`.

    The tokenizer is the one given to :meth:`setup` (a pre-trained encoder's) or else a character
    vocab built from the training split. Training batches are masked afresh every epoch
    (:class:`~keraslab.data.masking.MaskTokens`, seeded by seed, epoch and batch); the validation
    split is masked once, with ``valid_mask_seed``, so every epoch and every run is scored on the
    same predictions.
    """

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
        self.data_dir = Path(data_dir)
        self.files = dict(files)
        self.drop_label = drop_label
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.min_char_count = min_char_count
        self.mask_rate = mask_rate
        self.max_predictions = max_predictions
        self.max_train_samples = max_train_samples
        self.valid_mask_seed = valid_mask_seed
        self.tokenizer: WordPieceTokenizer | None = None
        self.splits: dict[str, EncodedSplit] = {}

    @property
    def model_arguments(self) -> dict:
        return {"vocab_size": self.tokenizer.vocab_size}

    def setup(self, tokenizer: WordPieceTokenizer | None = None) -> "MaskedTextData":
        texts = {split: read_texts(path, self.drop_label) for split, path in self._paths().items()}
        texts["train"] = texts["train"][: self.max_train_samples]
        self.tokenizer = tokenizer or WordPieceTokenizer(
            char_vocab(texts["train"], self.min_char_count), lowercase=False
        )
        masker = MaskTokens(
            self.tokenizer.mask_id,
            self.tokenizer.special_ids,
            self.tokenizer.vocab_size,
            self.mask_rate,
            self.max_predictions,
        )
        for split, split_texts in texts.items():
            encoded = self.tokenizer.encode_batch(split_texts, maxlen=self.maxlen)
            if split == "train":
                self.splits[split] = EncodedSplit(encoded, transform=masker)
            else:
                rng = np.random.default_rng(self.valid_mask_seed)
                self.splits[split] = EncodedSplit(*masker(encoded, None, rng))
        return self

    def _paths(self) -> dict[str, Path]:
        paths = {split: self.data_dir / name for split, name in self.files.items()}
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if "train" not in paths or "valid" not in paths or missing:
            raise DataError(
                f"data.files {self.files} in data.data_dir {str(self.data_dir)!r} must name a "
                f"train and a valid file that exist; missing: {', '.join(missing) or 'none'}. "
                "Run `make data` to prepare the corpus, or point data.data_dir at a copy."
            )
        return paths

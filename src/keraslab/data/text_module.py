"""The text base of data modules: files per split, a tokenizer, encoding, and the vocab artifact."""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from keraslab.config_checks import Check, integer, optional, string
from keraslab.data.encoded import EncodedSplit
from keraslab.data.module import DataModule
from keraslab.errors import DataError
from keraslab.tokenizers import WordPieceTokenizer, char_vocab

VOCAB_FILE, TOKENIZER_FILE = "vocab.txt", "tokenizer.json"


class TextDataModule(DataModule):
    """Text files, one split a file (``files``: split -> name in ``data_dir``; ``train`` and
    ``valid`` required, the others read when they exist), encoded with one tokenizer.

    The tokenizer is the one given to :meth:`setup` (a pre-trained encoder's) or else a cased
    character vocab built from the training texts (characters seen ``min_char_count`` times).
    ``max_train_samples`` keeps the first n training examples. Every file is read and checked
    before anything is encoded, so a bad line fails fast. Subclasses say how a file reads
    (:meth:`read`), which text of an example feeds the vocab (:meth:`text_of`), and how examples
    become model input (:meth:`encode`); ``file_format`` says what a file holds.
    """

    file_format = "text, one example a line"
    config_checks: ClassVar[dict[str, Check]] = {
        "data_dir": string,
        "maxlen": integer(3),
        "batch_size": integer(1),
        "min_char_count": integer(1),
        "max_train_samples": optional(integer(1)),
    }

    def __init__(
        self,
        data_dir: str,
        files: Mapping[str, str],
        maxlen: int = 128,
        batch_size: int = 64,
        min_char_count: int = 1,
        max_train_samples: int | None = None,
    ):
        super().__init__(batch_size)
        self.data_dir = Path(data_dir)
        self.files = dict(files)
        self.maxlen = maxlen
        self.min_char_count = min_char_count
        self.max_train_samples = max_train_samples
        self.tokenizer: WordPieceTokenizer | None = None

    def read(self, path: Path) -> list:
        """The examples of one file; errors name ``FILE:LINE``."""
        raise NotImplementedError

    def text_of(self, example) -> str:
        return example

    def encode(self, examples: Sequence, split: str) -> EncodedSplit:
        raise NotImplementedError

    @property
    def model_arguments(self) -> dict:
        return {"vocab_size": self.tokenizer.vocab_size}

    def setup(self, tokenizer: WordPieceTokenizer | None = None) -> "TextDataModule":
        examples = {split: self._read_examples(path) for split, path in self._paths().items()}
        examples["train"] = examples["train"][: self.max_train_samples]
        self.tokenizer = tokenizer or WordPieceTokenizer(
            char_vocab(map(self.text_of, examples["train"]), self.min_char_count),
            lowercase=False,
        )
        for split, split_examples in examples.items():
            self.examples[split] = split_examples
            self.splits[split] = self.encode(split_examples, split)
        return self

    def artifacts(self) -> dict[str, str]:
        return {
            VOCAB_FILE: "\n".join(self.tokenizer.tokens) + "\n",
            TOKENIZER_FILE: json.dumps({"lowercase": self.tokenizer.lowercase}),
        }

    def restore(self, folder: Path) -> "TextDataModule":
        settings = json.loads((Path(folder) / TOKENIZER_FILE).read_text())
        self.tokenizer = WordPieceTokenizer(
            Path(folder) / VOCAB_FILE, lowercase=settings["lowercase"]
        )
        return self

    def read_split(self, path: Path, name: str) -> EncodedSplit:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{str(path)!r} is not a file; expected a file of {self.file_format}.")
        self.examples[name] = self._read_examples(path)
        self.splits[name] = self.encode(self.examples[name], name)
        return self.splits[name]

    def _read_examples(self, path: Path) -> list:
        examples = self.read(path)
        if not examples:
            raise DataError(f"{path} holds no examples; expected {self.file_format}.")
        return examples

    def _paths(self) -> dict[str, Path]:
        if not self.data_dir.is_dir():
            raise DataError(
                f"data.data_dir {str(self.data_dir)!r} does not exist; expected a folder holding "
                f"{self._required()}. Run `make data` to prepare it, or point data.data_dir at a "
                "copy of the corpus."
            )
        paths = {split: self.data_dir / name for split, name in self.files.items()}
        missing = [
            str(paths[s]) for s in ("train", "valid") if s in paths and not paths[s].is_file()
        ]
        if "train" not in paths or "valid" not in paths or missing:
            raise DataError(
                f"data.data_dir {str(self.data_dir)!r} lacks {', '.join(missing) or 'a file'}; "
                f"expected {self._required()} (data.files names them: {self.files})."
            )
        return {split: path for split, path in paths.items() if path.is_file()}

    def _required(self) -> str:
        return " and ".join(
            self.files.get(split, f"a {split} file") for split in ("train", "valid")
        )

"""A character-level tokenizer whose vocab is built from a training corpus.

The vocab is saved as a BERT-style ``vocab.txt`` (one token a line, the line number is the id),
so a run's vocab can be read back like any other vocab file.
"""

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)


class CharTokenizer:
    """Maps each character to an id; unknown characters map to ``[UNK]``.

    A text encodes as ``[CLS] c_1 ... c_n [SEP]``, truncated so the whole fits in ``maxlen``,
    and padded with ``[PAD]`` (id 0).
    """

    def __init__(self, tokens: list[str]):
        missing = [token for token in SPECIAL_TOKENS if token not in tokens]
        if missing:
            raise ValueError(f"vocab lacks the special tokens {missing}")
        self.tokens = list(tokens)
        self.token_to_id = {token: index for index, token in enumerate(self.tokens)}
        self.pad_id = self.token_to_id[PAD]
        self.unk_id = self.token_to_id[UNK]
        self.cls_id = self.token_to_id[CLS]
        self.sep_id = self.token_to_id[SEP]

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 1) -> "CharTokenizer":
        """Build the vocab: special tokens, then characters seen ``>= min_count`` times,
        most frequent first (ties broken by code point, so the vocab is deterministic)."""
        counts = Counter(char for text in texts for char in text if not char.isspace())
        chars = sorted(
            (c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c)
        )
        return cls([*SPECIAL_TOKENS, *chars])

    @classmethod
    def load(cls, path: str | Path) -> "CharTokenizer":
        return cls(Path(path).read_text(encoding="utf-8").splitlines())

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text("\n".join(self.tokens) + "\n", encoding="utf-8")
        return path

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, maxlen: int) -> list[int]:
        body = [self.token_to_id.get(char, self.unk_id) for char in text if not char.isspace()]
        return [self.cls_id, *body[: maxlen - 2], self.sep_id]

    def encode_batch(self, texts: list[str], maxlen: int) -> dict[str, np.ndarray]:
        """``token_ids`` (int32, padded to ``maxlen``), ``segment_ids`` (all 0) and ``padding_mask``
        (1 = real token), each (N, maxlen)."""
        token_ids = np.full((len(texts), maxlen), self.pad_id, dtype=np.int32)
        for row, text in enumerate(texts):
            ids = self.encode(text, maxlen)
            token_ids[row, : len(ids)] = ids
        return {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": (token_ids != self.pad_id).astype(np.int32),
        }

"""BERT's WordPiece tokenizer over a vocab file, with character offsets into the original text.

Pipeline (as in Google's BERT): clean text (drop control characters, normalise whitespace),
surround every CJK character with spaces, lower-case and strip accents for uncased vocabs, split on
whitespace and punctuation, then greedy longest-match-first WordPiece (``##`` continuations; a
word longer than ``max_input_chars_per_word`` or with no match becomes ``[UNK]``).
The engine is Hugging Face ``tokenizers`` (Rust); offsets (bert4keras's ``rematch``) come from its
alignment tracking, so ``text[start:end]`` is the span each token came from.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keraslab.errors import InputError

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class WordPieceTokenizer:
    """``encode(first, second=None, maxlen=None)`` -> ``(token_ids, segment_ids)``.

    ``vocab`` is a ``vocab.txt`` path (one token a line, the line number is the id) or the tokens.

    A pair encodes as ``[CLS] first [SEP] second [SEP]`` with segment ids 0 then 1; ``maxlen``
    truncates the texts as :func:`truncated_lengths` says.
    ``lowercase`` and ``strip_accents`` (default: same as ``lowercase``) suit uncased vocabs.
    """

    def __init__(
        self,
        vocab: str | Path | Sequence[str],
        lowercase: bool = True,
        strip_accents: bool | None = None,
        max_input_chars_per_word: int = 100,
    ):
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

        self.tokens = _read_vocab(vocab) if isinstance(vocab, str | Path) else list(vocab)
        self.lowercase = lowercase
        source = f"vocab file {str(vocab)!r}" if isinstance(vocab, str | Path) else "the vocab"
        self.token_to_id = _token_ids(self.tokens, source)
        missing = [token for token in SPECIALS if token not in self.token_to_id]
        if missing:
            raise InputError(f"{source} lacks the special tokens {', '.join(missing)}.")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self.token_to_id[token] for token in SPECIALS
        )
        engine = Tokenizer(
            models.WordPiece(
                self.token_to_id,
                unk_token="[UNK]",
                max_input_chars_per_word=max_input_chars_per_word,
            )
        )
        engine.normalizer = normalizers.BertNormalizer(
            clean_text=True,
            handle_chinese_chars=True,
            strip_accents=strip_accents,
            lowercase=lowercase,
        )
        engine.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        engine.decoder = decoders.WordPiece()
        self._engine = engine

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def special_ids(self) -> tuple[int, ...]:
        """The ids of [PAD], [UNK], [CLS], [SEP] and [MASK]."""
        return (self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id)

    def save(self, path: str | Path) -> Path:
        """Write the vocab, one token a line."""
        path = Path(path)
        path.write_text("\n".join(self.tokens) + "\n", encoding="utf-8")
        return path

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of ``text``, without [CLS] / [SEP]."""
        return self._engine.encode(text, add_special_tokens=False).tokens

    def rematch(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` in ``text`` for each word piece of :meth:`tokenize`."""
        return self._engine.encode(text, add_special_tokens=False).offsets

    def encode(
        self, first: str, second: str | None = None, maxlen: int | None = None
    ) -> tuple[list[int], list[int]]:
        token_ids, segment_ids, _ = self.encode_with_offsets(first, second, maxlen)
        return token_ids, segment_ids

    def encode_with_offsets(
        self, first: str, second: str | None = None, maxlen: int | None = None
    ) -> tuple[list[int], list[int], list[tuple[int, int]]]:
        """As :meth:`encode`, plus each token's ``(start, end)`` in its own text; (0, 0) for specials."""
        first_ids, first_offsets = self._pieces(first)
        second_ids, second_offsets = self._pieces(second) if second is not None else ([], [])
        if maxlen is not None:
            budget = max(maxlen - (3 if second is not None else 2), 0)
            keep_first, keep_second = truncated_lengths(len(first_ids), len(second_ids), budget)
            first_ids, first_offsets = first_ids[:keep_first], first_offsets[:keep_first]
            second_ids, second_offsets = second_ids[:keep_second], second_offsets[:keep_second]
        token_ids = [self.cls_id, *first_ids, self.sep_id]
        offsets = [(0, 0), *first_offsets, (0, 0)]
        segment_ids = [0] * len(token_ids)
        if second is not None:
            token_ids += [*second_ids, self.sep_id]
            offsets += [*second_offsets, (0, 0)]
            segment_ids += [1] * (len(second_ids) + 1)
        return token_ids, segment_ids, offsets

    def _pieces(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        encoding = self._engine.encode(text, add_special_tokens=False)
        return list(encoding.ids), list(encoding.offsets)

    def encode_batch(
        self,
        firsts: Sequence[str],
        seconds: Sequence[str] | None = None,
        maxlen: int = 512,
    ) -> dict[str, np.ndarray]:
        """``token_ids``, ``segment_ids`` and ``padding_mask`` (N, maxlen), padded with [PAD]."""
        pairs = zip(firsts, seconds if seconds is not None else [None] * len(firsts), strict=True)
        token_ids = np.full((len(firsts), maxlen), self.pad_id, dtype=np.int32)
        segment_ids = np.zeros((len(firsts), maxlen), dtype=np.int32)
        padding_mask = np.zeros((len(firsts), maxlen), dtype=np.int32)
        for row, (first, second) in enumerate(pairs):
            ids, segments = self.encode(first, second, maxlen)
            token_ids[row, : len(ids)] = ids
            segment_ids[row, : len(ids)] = segments
            padding_mask[row, : len(ids)] = 1
        return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}

    def decode(self, token_ids: Sequence[int]) -> str:
        """Text from ids, special tokens dropped and ``##`` pieces joined (lossy: [UNK] stays)."""
        specials = {self.pad_id, self.cls_id, self.sep_id}
        return self._engine.decoder.decode([self.tokens[i] for i in token_ids if i not in specials])


def _token_ids(tokens: Sequence[str], source: str) -> dict[str, int]:
    """token -> id (its line, from 0); a token on two lines is an error naming both."""
    ids: dict[str, int] = {}
    repeated = []
    for index, token in enumerate(tokens):
        if token in ids:
            repeated.append(f"{token!r} on lines {ids[token] + 1} and {index + 1}")
        else:
            ids[token] = index
    if repeated:
        raise InputError(
            f"{source} repeats tokens: {'; '.join(repeated[:5])}"
            f"{f' and {len(repeated) - 5} more' if len(repeated) > 5 else ''}; expected each "
            "token once (its line number is its id)."
        )
    return ids


def _read_vocab(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"vocab file {str(path)!r} does not exist; expected one token a line.")
    return path.read_text(encoding="utf-8").splitlines()


def truncated_lengths(first: int, second: int, budget: int) -> tuple[int, int]:
    """How many pieces of each text fit in ``budget`` (HF's ``longest_first``).

    Nothing is cut when both fit. Otherwise the shorter text keeps all it has up to half the
    budget and the longer one takes the rest; when both exceed half, the budget is split evenly
    and an odd spare piece goes to the longer text (to the second on a tie).
    """
    if first + second <= budget:
        return first, second
    shorter, longer = sorted((first, second))
    longer = max(shorter, budget - shorter)
    if shorter + longer > budget:
        shorter, longer = budget // 2, budget // 2 + budget % 2
    return (longer, shorter) if first > second else (shorter, longer)

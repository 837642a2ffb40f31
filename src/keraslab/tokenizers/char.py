"""A character vocab built from a training corpus, for encoders trained from scratch.

The vocab is an ordinary BERT ``vocab.txt`` that :class:`~keraslab.tokenizers.WordPieceTokenizer`
reads (cased: ``lowercase=False``), so a model pre-trained on it and one fine-tuned from that
checkpoint tokenize text the same way. CJK characters are tokens on their own; a run of other
characters (``abc``, ``2008``) splits into its first character and ``##`` continuations
(``a ##b ##c``), which is why every non-CJK character also gets its ``##`` form.
"""

from collections import Counter
from collections.abc import Iterable

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
# BERT's "CJK character" ranges: these are split one per token before WordPiece.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in CJK_RANGES)


def char_vocab(texts: Iterable[str], min_count: int = 1) -> list[str]:
    """Special tokens, then characters seen ``>= min_count`` times (most frequent first, ties by
    code point, so the vocab is deterministic), then ``##c`` for each of those that is not CJK."""
    counts = Counter(char for text in texts for char in text if not char.isspace())
    chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
    return [*SPECIAL_TOKENS, *chars, *(f"##{c}" for c in chars if not is_cjk(c))]

"""Character spans <-> token positions, through the tokenizer's offsets (bert4keras's ``rematch``).

Token positions count the leading [CLS] as 0, as the model's inputs do. Text is never rebuilt from
tokens (characters outside the vocab come back as [UNK]): a decoded span is sliced out of the
original text by the offsets of its first and last token.
"""

from collections.abc import Sequence

Offsets = Sequence[tuple[int, int]]


def token_spans(text: str, span: str, offsets: Offsets) -> list[tuple[int, int]]:
    """``(first, last)`` token positions of every occurrence of ``span`` in ``text`` whose ends
    fall on token boundaries, in text order; empty when there is none (or ``span`` is empty).

    ``offsets`` are the ``(start, end)`` characters of every token, [CLS] and [SEP] included as
    ``(0, 0)`` (:meth:`~keraslab.tokenizers.WordPieceTokenizer.encode_with_offsets`)."""
    if not span:
        return []
    starts = {start: position for position, (start, end) in enumerate(offsets) if end > start}
    ends = {end: position for position, (start, end) in enumerate(offsets) if end > start}
    found, at = [], text.find(span)
    while at >= 0:
        first, last = starts.get(at), ends.get(at + len(span))
        if first is not None and last is not None and first <= last:
            found.append((first, last))
        at = text.find(span, at + 1)
    return found


def span_text(text: str, offsets: Offsets, first: int, last: int) -> str:
    """The characters of ``text`` that tokens ``first..last`` (inclusive) came from."""
    return text[offsets[first][0] : offsets[last][1]]

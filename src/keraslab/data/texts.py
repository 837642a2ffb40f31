"""Reading text files line by line, with errors that point at the file and line."""

from collections.abc import Iterator
from pathlib import Path

from keraslab.errors import DataError


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` for each line of a UTF-8 file, without its line break; bytes that
    are not UTF-8 stop with a :class:`DataError` naming the file, line and column."""
    with open(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}:{number}: byte {raw[error.start]:#04x} at column {error.start + 1} "
                    "is not UTF-8; expected a UTF-8 text file."
                ) from None
            yield number, line.rstrip("\r\n")


def read_texts(path: Path, drop_label: bool = False) -> list[str]:
    """The non-blank lines of ``path``; with ``drop_label``, the text before each line's last tab
    (a ``TEXT<TAB>LABEL`` corpus used as raw text)."""
    texts = []
    for number, line in text_lines(path):
        if not line.strip():
            continue
        if drop_label:
            text, tab, _ = line.rpartition("\t")
            if not tab:
                raise DataError(
                    f"{path}:{number}: expected TEXT<TAB>LABEL (data.drop_label is true), "
                    f"got a line without a tab: {line[:80]!r}."
                )
            line = text
        texts.append(line)
    return texts


def shorten(text: str, limit: int = 80) -> str:
    """``text``, cut to ``limit`` characters with ``...`` when longer (for error messages)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""Reading ``TEXT<TAB>LABEL`` files with errors that point at the file and line."""

from collections.abc import Sequence
from pathlib import Path

from keraslab.data.texts import shorten, text_lines
from keraslab.errors import DataError


def read_labelled_text(path: Path, classes: Sequence[int]) -> tuple[list[str], list[int]]:
    """Read one example a line, ``TEXT<TAB>LABEL``, and check every label is in ``classes``.

    The text is everything before the last tab, so a text may itself contain tabs.
    Blank lines are skipped. Returns the texts and the labels as class indices
    (the position of the label in ``classes``).
    """
    index_of = {str(label): index for index, label in enumerate(classes)}
    texts, labels = [], []
    for number, line in text_lines(path):
        if not line.strip():
            continue
        text, tab, label = line.rpartition("\t")
        if not tab or not text:
            raise DataError(
                f"{path}:{number}: expected a line of the form TEXT<TAB>LABEL, "
                f"got {shorten(line)!r}."
            )
        label = label.strip()
        if label not in index_of:
            raise DataError(
                f"{path}:{number}: label {label!r} is not one of the classes "
                f"{', '.join(index_of)} (data.classes)."
            )
        texts.append(text)
        labels.append(index_of[label])
    return texts, labels

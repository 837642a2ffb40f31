"""Reading raw text, one example a line, for pre-training."""

from pathlib import Path

from keraslab.errors import DataError


def read_texts(path: Path, drop_label: bool = False) -> list[str]:
    """The non-blank lines of ``path``; with ``drop_label``, the text before each line's last tab
    (a ``TEXT<TAB>LABEL`` corpus used as raw text)."""
    texts = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
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

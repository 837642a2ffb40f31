"""A synthetic Chinese corpus sampled from a real word-frequency list (jieba's ``dict.txt``).

Each line is one text: words drawn independently in proportion to their frequency, joined by
``SEPARATOR`` so that the trivial tokenizer can split them back without any dictionary work.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from keraslab.errors import DataError
from keraslab.wordcount.tokenizers import SEPARATOR

MB = 1_000_000
TEXTS_PER_CHUNK = 10_000  # texts drawn at a time; part of the stream: changing it changes corpora


def jieba_dictionary() -> Path:
    """jieba's bundled ``dict.txt``: about 349k words, ``WORD FREQUENCY TAG`` a line."""
    import jieba

    return Path(jieba.__file__).parent / "dict.txt"


def read_frequency_list(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Words and their frequencies from ``WORD FREQUENCY [TAG]`` lines; a malformed line raises
    ``DataError`` naming ``FILE:LINE``. Words keep the file's order."""
    words, frequencies = [], []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2 or not parts[1].isdigit():
                raise DataError(
                    f"{path}:{number}: expected WORD FREQUENCY [TAG] with an integer frequency, "
                    f"got {line.rstrip()!r}"
                )
            words.append(parts[0])
            frequencies.append(int(parts[1]))
    if not words:
        raise DataError(f"{path}: no words in the frequency list")
    return words, np.asarray(frequencies, dtype=np.float64)


def sample_texts(
    words: list[str], frequencies: np.ndarray, seed: int, words_per_text: tuple[int, int]
) -> Iterator[str]:
    """An endless stream of texts: lengths uniform in ``words_per_text`` (inclusive), words drawn
    with probability proportional to frequency. The same arguments give the same stream."""
    low, high = words_per_text
    if not 1 <= low <= high:
        raise ValueError(
            f"words_per_text must be [low, high] with 1 <= low <= high, got {low, high}"
        )
    vocabulary = np.asarray(words, dtype=object)
    cumulative = np.cumsum(frequencies) / frequencies.sum()
    rng = np.random.default_rng(seed)
    while True:
        lengths = rng.integers(low, high + 1, TEXTS_PER_CHUNK)
        ids = np.searchsorted(cumulative, rng.random(int(lengths.sum())), side="right")
        drawn = vocabulary[np.minimum(ids, len(words) - 1)]
        ends = np.cumsum(lengths)
        for start, end in zip(ends - lengths, ends, strict=True):
            yield SEPARATOR.join(drawn[start:end])


def corpus_name(
    size_mb: float,
    seed: int,
    frequency_list: str | Path | None,
    words_per_text: tuple[int, int],
) -> str:
    """A file name that tells corpora of different options apart, for reuse by :func:`build_corpus`."""
    low, high = words_per_text
    source = Path(frequency_list).stem if frequency_list else "jieba"
    return f"corpus-{size_mb}MB-seed{seed}-{low}to{high}words-{source}.txt"


def build_corpus(
    path: str | Path,
    size_mb: float,
    seed: int = 0,
    frequency_list: str | Path | None = None,
    words_per_text: tuple[int, int] = (5, 40),
) -> Path:
    """Write (or reuse) the corpus at ``path``: the shortest prefix of :func:`sample_texts` that
    holds at least ``size_mb`` MB (10^6 bytes) of UTF-8, one text a line.

    So the file is at least the requested size and less than one line more; the same seed gives
    the same bytes, and a smaller corpus is a prefix of a larger one. An existing file is reused
    as is (:func:`corpus_name` gives each set of options its own name); a new one appears only
    when complete.
    """
    path = Path(path)
    if path.is_file():
        return path
    if size_mb <= 0:
        raise ValueError(f"corpus size_mb must be > 0, got {size_mb!r}")
    words, frequencies = read_frequency_list(frequency_list or jieba_dictionary())
    target = int(size_mb * MB)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    written = 0
    try:
        with open(partial, "wb") as out:
            for text in sample_texts(words, frequencies, seed, tuple(words_per_text)):
                line = (text + "\n").encode("utf-8")
                out.write(line)
                written += len(line)
                if written >= target:
                    break
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path

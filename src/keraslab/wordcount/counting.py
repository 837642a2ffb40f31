"""The word-count variants: the same lines of a corpus file, the same counts, different work.

- ``naive``: one dict for the whole corpus, ``counts[w] = counts.get(w, 0) + 1`` per token.
- ``batched``: the same loop into a fresh ``Counter`` per batch of lines, each merged into the
  total with ``Counter.update``; one process. It differs from naive only in the size of the dict
  the loop writes to, and in the merges.
- ``parallel_per_batch``: ``batched`` with the batches counted by ``parallel_apply`` workers;
  the parent reads and sends every batch and merges every batch's ``Counter`` (the post's design).
- ``parallel_sharded``: each worker reads its own byte range of the file and counts all of it
  into one ``Counter`` (the naive loop over its shard: no per-batch merges), which it returns
  once; the parent merges one per worker. Only the shard bounds and the final counts cross a pipe.
- ``parallel_balanced``: ``parallel_sharded`` with the file cut into ranges of about
  ``range_bytes`` handed out by :func:`~keraslab.parallel.parallel_fold` as workers free up:
  each worker counts every range it gets into its one ``Counter`` and returns it once, and a
  worker on a slower core gets fewer ranges instead of holding the others up at the end.

Each counts the lines that begin in bytes ``[0, end)`` of the file (``end=None``: all of it).
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from keraslab.parallel import parallel_apply, parallel_fold

Tokenize = Callable[[str], list[str]]
VARIANTS = ("naive", "batched", "parallel_per_batch", "parallel_sharded", "parallel_balanced")
RANGE_BYTES = 2**19  # parallel_balanced's byte ranges: about a second of jieba on one core


@dataclass
class Counts:
    """A variant's word counts and the seconds it spent merging partial counts."""

    counts: dict[str, int]
    merge_seconds: float = 0.0


def read_batches(
    path: str | Path, batch_size: int, start: int = 0, end: int | None = None
) -> Iterator[list[str]]:
    """The lines (without newline) that begin in bytes ``[start, end)`` of ``path``, in batches
    of ``batch_size`` (the last may be short). ``start`` must be 0 or just after a newline."""
    with open(path, "rb") as lines:
        lines.seek(start)
        position, batch = start, []
        for line in lines:
            if end is not None and position >= end:
                break
            position += len(line)
            batch.append(line.rstrip(b"\n").decode("utf-8"))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def shard_bounds(path: str | Path, shards: int, end: int | None = None) -> list[tuple[int, int]]:
    """``shards`` byte ranges that split ``[0, end)`` (default: the whole file), each starting
    at the beginning of a line; :func:`read_batches` over them reads each line once."""
    end = Path(path).stat().st_size if end is None else end
    starts = [0]
    with open(path, "rb") as lines:
        for shard in range(1, shards):
            lines.seek(max(end * shard // shards - 1, starts[-1]))
            lines.readline()  # on to the start of the next line
            starts.append(min(lines.tell(), end))
    return list(zip(starts, [*starts[1:], end], strict=True))


def add_tokens(counts: dict, texts: Iterable[str], tokenize: Tokenize) -> dict:
    """``counts[w] = counts.get(w, 0) + 1`` for every token of every text; returns ``counts``."""
    get = counts.get
    for text in texts:
        for word in tokenize(text):
            counts[word] = get(word, 0) + 1
    return counts


def count_lines(
    counts: dict, path, tokenize: Tokenize, batch_size: int, start: int = 0, end: int | None = None
) -> dict:
    """:func:`add_tokens` into ``counts`` for the lines that begin in ``[start, end)``."""
    for batch in read_batches(path, batch_size, start, end):
        add_tokens(counts, batch, tokenize)
    return counts


@dataclass(frozen=True)
class BatchCounter:
    """One batch of texts -> its own ``Counter``. Picklable: sent to ``parallel_apply`` workers."""

    tokenize: Tokenize

    def __call__(self, texts: list[str]) -> Counter:
        return add_tokens(Counter(), texts, self.tokenize)


@dataclass(frozen=True)
class ShardCounter:
    """One byte range of a corpus file -> one ``Counter``, all its batches counted into it."""

    path: str
    batch_size: int
    tokenize: Tokenize

    def __call__(self, bounds: tuple[int, int]) -> Counter:
        return count_lines(Counter(), self.path, self.tokenize, self.batch_size, *bounds)


@dataclass(frozen=True)
class RangeCounter:
    """``parallel_fold``'s step: add the words of the lines that begin in a byte range."""

    path: str
    batch_size: int
    tokenize: Tokenize

    def __call__(self, counts: Counter, bounds: tuple[int, int]) -> Counter:
        return count_lines(counts, self.path, self.tokenize, self.batch_size, *bounds)


class _Merge:
    """``total.update(counts)``, adding the seconds it takes to ``seconds``."""

    def __init__(self):
        self.total = Counter()
        self.seconds = 0.0

    def __call__(self, counts: Counter) -> None:
        started = time.perf_counter()
        self.total.update(counts)
        self.seconds += time.perf_counter() - started


def naive(path, tokenize: Tokenize, batch_size: int, end: int | None = None) -> Counts:
    return Counts(count_lines({}, path, tokenize, batch_size, 0, end))


def batched(path, tokenize: Tokenize, batch_size: int, end: int | None = None) -> Counts:
    merge, count_batch = _Merge(), BatchCounter(tokenize)
    for batch in read_batches(path, batch_size, 0, end):
        merge(count_batch(batch))
    return Counts(merge.total, merge.seconds)


def parallel_per_batch(
    path, tokenize: Tokenize, batch_size: int, workers: int, max_queue_size: int, end=None
) -> Counts:
    merge = _Merge()
    batches = read_batches(path, batch_size, 0, end)
    parallel_apply(BatchCounter(tokenize), batches, workers, max_queue_size, False, merge)
    return Counts(merge.total, merge.seconds)


def parallel_sharded(path, tokenize: Tokenize, batch_size: int, workers: int, end=None) -> Counts:
    merge = _Merge()
    shards = shard_bounds(path, workers, end)
    count_shard = ShardCounter(str(path), batch_size, tokenize)
    parallel_apply(count_shard, shards, workers, len(shards), False, merge)
    return Counts(merge.total, merge.seconds)


def parallel_balanced(
    path, tokenize: Tokenize, batch_size: int, workers: int, end=None, range_bytes=RANGE_BYTES
) -> Counts:
    merge = _Merge()
    size = Path(path).stat().st_size if end is None else end
    ranges = shard_bounds(path, max(workers, -(-size // range_bytes)), end)
    count_range = RangeCounter(str(path), batch_size, tokenize)
    for counts in parallel_fold(count_range, Counter, ranges, workers, 2 * workers):
        merge(counts)
    return Counts(merge.total, merge.seconds)


def count_words(
    variant: str,
    path: str | Path,
    tokenize: Tokenize,
    batch_size: int = 1000,
    workers: int = 2,
    max_queue_size: int = 8,
    end: int | None = None,
) -> Counts:
    """Count the words of the lines that begin in ``[0, end)`` of ``path`` with ``variant``."""
    if variant == "naive":
        return naive(path, tokenize, batch_size, end)
    if variant == "batched":
        return batched(path, tokenize, batch_size, end)
    if variant == "parallel_per_batch":
        return parallel_per_batch(path, tokenize, batch_size, workers, max_queue_size, end)
    if variant == "parallel_sharded":
        return parallel_sharded(path, tokenize, batch_size, workers, end)
    if variant == "parallel_balanced":
        return parallel_balanced(path, tokenize, batch_size, workers, end)
    raise ValueError(f"unknown word-count variant {variant!r}; expected one of {VARIANTS}")

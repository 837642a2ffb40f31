"""Time the word-count variants on a corpus, interleaved, and check that they agree."""

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from keraslab.errors import ConfigError
from keraslab.parallel import parallel_apply
from keraslab.wordcount.counting import VARIANTS, count_words
from keraslab.wordcount.tokenizers import TOKENIZERS, tokenizer

# (tokenizer, variant, repeat, seconds, merge seconds), called after each timed count
OnTiming = Callable[[str, str, int, float, float], None]


@dataclass
class Timings:
    """Seconds of each repeat of one variant, and of its merging."""

    seconds: list[float] = field(default_factory=list)
    merge_seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class TokenizerResult:
    """What one tokenizer's runs measured: the counted bytes, tokens and distinct words, the
    timings of each variant, and of starting and stopping a pool that does no work."""

    tokenizer: str
    counted_bytes: int
    tokens: int
    distinct_words: int
    variants: dict[str, Timings]
    pool_seconds: list[float]

    def speedup(self, variant: str, over: str) -> float:
        """How many times faster ``variant`` ran than ``over`` (ratio of medians)."""
        return self.variants[over].median / self.variants[variant].median


def pool_start_and_stop(workers: int) -> float:
    """Seconds to start ``workers`` processes, give each a trivial task, and stop them."""
    started = time.perf_counter()
    list(parallel_apply(len, [[]] * workers, workers, workers))
    return time.perf_counter() - started


def time_variants(
    path: str | Path,
    tokenizer_name: str,
    variants: Sequence[str],
    repeats: int,
    batch_size: int = 1000,
    workers: int = 2,
    max_queue_size: int = 8,
    end: int | None = None,
    on_timing: OnTiming | None = None,
) -> TokenizerResult:
    """Count the lines that begin in ``[0, end)`` of ``path`` with each variant, ``repeats``
    rounds of all variants in turn (so drift in the machine's load spreads over all of them).

    Each time covers the whole count: reading, tokenizing, counting, merging, and for the
    parallel variants starting and stopping the workers (jieba loads its dictionary in each
    worker; in this process it is loaded before the clock starts). Raises ``RuntimeError``
    naming a word if any count differs from the first variant's.
    """
    if repeats < 1 or not variants:
        raise ValueError(f"need repeats >= 1 and a variant, got {repeats} and {list(variants)}")
    tokenize = tokenizer(tokenizer_name)
    tokenize.prepare()
    timings = {variant: Timings() for variant in variants}
    reference, pool_seconds = None, []
    for repeat in range(repeats):
        pool_seconds.append(pool_start_and_stop(workers))
        for variant in variants:
            started = time.perf_counter()
            counted = count_words(variant, path, tokenize, batch_size, workers, max_queue_size, end)
            seconds = time.perf_counter() - started
            timings[variant].seconds.append(seconds)
            timings[variant].merge_seconds.append(counted.merge_seconds)
            if reference is None:
                reference = (variant, counted.counts)
            else:
                check_same_counts(*reference, variant, counted.counts)
            if on_timing is not None:
                on_timing(tokenizer_name, variant, repeat, seconds, counted.merge_seconds)
    counts = reference[1]
    size = Path(path).stat().st_size
    return TokenizerResult(
        tokenizer_name,
        size if end is None else min(end, size),
        sum(counts.values()),
        len(counts),
        timings,
        pool_seconds,
    )


def check_same_counts(name: str, counts: dict, other_name: str, other: dict) -> None:
    """``RuntimeError`` naming the first word (in ``counts``'s order) whose counts differ."""
    if dict(counts) == dict(other):
        return
    for word in [*counts, *other]:
        if counts.get(word, 0) != other.get(word, 0):
            raise RuntimeError(
                f"word counts differ: {name} counted {counts.get(word, 0)} x {word!r}, "
                f"{other_name} counted {other.get(word, 0)}"
            )


def check_options(
    size_mb, tokenizers: Mapping, variants: Sequence[str], **positive_integers
) -> None:
    """``ConfigError`` naming the first bad option of a word-count run: ``size_mb`` > 0,
    ``tokenizers`` maps known names to ``{mb: null or > 0, repeats: >= 1}``, ``variants`` are
    known, and each of ``positive_integers`` (workers, batch_size, ...) is an integer >= 1."""
    if not _is_number(size_mb) or size_mb <= 0:
        raise ConfigError(f"corpus.size_mb must be a number > 0, got {size_mb!r}")
    if not tokenizers or any(name not in TOKENIZERS for name in tokenizers):
        raise ConfigError(
            f"tokenizers must map some of {sorted(TOKENIZERS)} to their settings, "
            f"got {list(tokenizers)}"
        )
    for name, settings in tokenizers.items():
        mb, repeats = settings.get("mb"), settings.get("repeats")
        if mb is not None and (not _is_number(mb) or mb <= 0):
            raise ConfigError(f"tokenizers.{name}.mb must be null or a number > 0, got {mb!r}")
        positive_integers[f"tokenizers.{name}.repeats"] = repeats
    if not variants or any(variant not in VARIANTS for variant in variants):
        raise ConfigError(f"variants must be a list of some of {list(VARIANTS)}, got {variants}")
    for name, value in positive_integers.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

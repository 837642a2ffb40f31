"""The two tokenizers of the word count: jieba, and a trivial split on the corpus's separator.

Both are picklable (they hold only options), so they can be sent to worker processes; jieba
loads its dictionary on first use in each process.
"""

import functools
import logging
from dataclasses import dataclass

SEPARATOR = " "  # what the corpus generator puts between words


@dataclass(frozen=True)
class SeparatorTokenizer:
    """The words the corpus generator joined: ``text.split(SEPARATOR)``. No dictionary work, so
    counting with it measures the dict and the loop alone."""

    def __call__(self, text: str) -> list[str]:
        return text.split(SEPARATOR)

    def prepare(self) -> None:
        """Nothing to load."""


@dataclass(frozen=True)
class JiebaTokenizer:
    """jieba's default (accurate) mode, ``jieba.lcut(text, HMM=hmm)``, on the text with the
    separators removed, so jieba segments running Chinese text as it would any other."""

    hmm: bool = True

    def __call__(self, text: str) -> list[str]:
        return _jieba().lcut(text.replace(SEPARATOR, ""), HMM=self.hmm)

    def prepare(self) -> None:
        """Load jieba's dictionary now rather than inside the first timed call."""
        _jieba().initialize()


@functools.cache
def _jieba():
    """jieba, imported once per process, without its loading messages."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


TOKENIZERS = {"separator": SeparatorTokenizer, "jieba": JiebaTokenizer}


def tokenizer(name: str):
    """The tokenizer called ``name`` (``separator`` or ``jieba``)."""
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; expected one of {sorted(TOKENIZERS)}")
    return TOKENIZERS[name]()

"""Tokenizers that turn text into token ids over a vocab file."""

from keraslab.tokenizers.char import char_vocab
from keraslab.tokenizers.wordpiece import WordPieceTokenizer

__all__ = ["WordPieceTokenizer", "char_vocab"]

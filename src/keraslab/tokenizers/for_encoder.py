"""The tokenizer that goes with an encoder config: its checkpoint's vocab, if it has one."""

from collections.abc import Mapping

from keraslab.tokenizers.wordpiece import WordPieceTokenizer


def tokenizer_for_encoder(encoder: Mapping) -> WordPieceTokenizer | None:
    """A WordPiece tokenizer over ``encoder.checkpoint``'s vocab.txt; None without a checkpoint
    (the data module then builds a character vocab from its training split).

    ``encoder.lowercase`` (None: the checkpoint's own setting) picks cased or uncased handling.
    """
    if not encoder.get("checkpoint"):
        return None
    from keraslab.checkpoints.auto import find_checkpoint

    found = find_checkpoint(encoder["checkpoint"])
    lowercase = encoder.get("lowercase")
    return WordPieceTokenizer(
        found.vocab, lowercase=found.lowercase if lowercase is None else lowercase
    )

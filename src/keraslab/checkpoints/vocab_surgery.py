"""Reshape a checkpoint's vocabulary as it loads (bert4keras's ``keep_tokens`` / ``compound_tokens``).

``keep_tokens=[i_0, i_1, ...]``: row ``k`` of the new table is row ``i_k`` of the checkpoint's, so
a model can keep only the tokens its vocab uses. ``compound_tokens=[[j, ...], ...]``: one new row
per group, the mean of the rows ``j`` of the (kept) table, appended at the end.
"""

from collections.abc import Sequence

import numpy as np

from keraslab.errors import InputError

# Variables whose first axis runs over the vocabulary.
VOCAB_TABLES = ("bert/embeddings/word_embeddings",)


def adapt_vocab_rows(
    table: np.ndarray,
    keep_tokens: Sequence[int] | None = None,
    compound_tokens: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """``table[keep_tokens]`` followed by ``mean(table[group])`` for each compound group."""
    vocab_size = table.shape[0]
    if keep_tokens is not None:
        bad = [i for i in keep_tokens if not 0 <= i < vocab_size]
        if bad:
            raise InputError(f"keep_tokens must be ids in [0, {vocab_size}), got {bad[:10]}.")
        table = table[np.asarray(keep_tokens, dtype=np.int64)]
    if compound_tokens:
        for group in compound_tokens:
            if not group or any(not 0 <= i < table.shape[0] for i in group):
                raise InputError(
                    f"each compound_tokens group must be a non-empty list of ids in [0, {table.shape[0]}), "
                    f"got {list(group)}."
                )
        means = np.stack([table[np.asarray(group)].mean(axis=0) for group in compound_tokens])
        table = np.concatenate([table, means.astype(table.dtype)])
    return table

"""The word-count reproduction (techniques.md section 9): when does a multi-process speed-up
exceed 1? A corpus sampled from jieba's word frequencies (``corpus``), counted by a naive loop, by
batches in one process, and by ``parallel_apply`` workers (``counting``), with jieba and with a
trivial tokenizer (``tokenizers``), timed (``experiment``) and reported (``report``).

The package imports nothing itself: worker processes import only the modules they need.
"""

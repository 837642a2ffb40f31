"""Sentence classification: a Dense head on the [CLS] vector of a BERT encoder."""

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from keraslab.config_checks import Check, number, one_of
from keraslab.tasks.bert import BertTask

ERRORS_FILE = "valid_errors.tsv"


class ClassificationTask(BertTask):
    """Logits over ``num_classes`` from :class:`~keraslab.models.BertClassifier` (its last block
    at [CLS] alone with ``cls_only_last_block``); trained with cross-entropy, validated by
    accuracy (``val_accuracy`` picks the best checkpoint).

    The data's examples are ``(text, class index)`` and its ``classes`` name the labels (as
    :class:`~keraslab.data.SentimentData`). At the end of a run the best checkpoint's mistakes on
    the valid split are logged as ``predictions/valid_errors.tsv``.
    """

    config_checks: ClassVar[dict[str, Check]] = {
        **BertTask.config_checks,
        "head_dropout": number(0.0, 1.0, high_inclusive=False),
        "cls_only_last_block": one_of(True, False),
    }

    def __init__(
        self, encoder: Mapping, head_dropout: float = 0.1, cls_only_last_block: bool = False
    ):
        super().__init__(encoder)
        self.head_dropout = head_dropout
        self.cls_only_last_block = cls_only_last_block

    def build(self, vocab_size: int, num_classes: int):
        from keraslab.models import build_classifier

        return build_classifier(
            vocab_size, num_classes, self.encoder, self.head_dropout, self.cls_only_last_block
        )

    def log_artifacts(self, model, data, loader, tracker, folder: Path) -> None:
        """``valid_errors.tsv``: each valid text the model gets wrong, with the gold label, the
        predicted one and the probability the model gives it."""
        import numpy as np

        from keraslab.loaders.keras_input import keras_input

        batches = data.batches("valid", seed=0)
        with keras_input(batches, loader) as inputs:
            logits = batches.in_split_order(model.predict(inputs, steps=len(batches), verbose=0))
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        predicted = probabilities.argmax(axis=1)
        lines = ["text\tgold\tpredicted\tprobability"]
        for (text, gold), guess, row in zip(
            data.gold("valid"), predicted, probabilities, strict=True
        ):
            if guess != gold:
                lines.append(
                    f"{text}\t{data.classes[gold]}\t{data.classes[guess]}\t{row[guess]:.4f}"
                )
        path = Path(folder) / ERRORS_FILE
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tracker.log_artifact(path, "predictions")

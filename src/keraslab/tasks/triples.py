"""Triple extraction: every (subject, predicate, object) of a sentence, by a pointer network on
BERT (:class:`~keraslab.models.triples.TripleExtractor`) with :class:`~keraslab.data.SpoData`."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from keraslab.config_checks import Check, integer, number
from keraslab.tasks.bert import BertTask
from keraslab.triples.decoding import Sentences, Thresholds, extract_triples
from keraslab.triples.scores import count, count_by_predicate

PREDICATES_TABLE, ERRORS_FILE = "predicates.tsv", "valid_errors.jsonl"
SCORES = ("f1", "precision", "recall")
_probability = number(0.0, 1.0, low_inclusive=False, high_inclusive=False)


class TripleExtractionTask(BertTask):
    """Trained on masked binary cross-entropy of the subject and object marks (one sampled subject
    per sentence); validated by decoding the valid split and scoring exact (s, p, o) sets:
    ``val_f1`` (the monitor), ``val_precision``, ``val_recall``, on the EMA weights too
    (``val_ema_*``) when the optimizer keeps a moving average.

    ``thresholds``: the mark probabilities above which a start or end counts (see
    :class:`~keraslab.triples.decoding.Thresholds`); ``decode_batch_size`` sentences are decoded
    per model call. At the end of a run the best checkpoint (its averaged weights where there are
    some) writes ``predicates.tsv`` (precision, recall and F1 per predicate on valid) and
    ``valid_errors.jsonl`` (each valid sentence whose predicted set differs from the gold one),
    and the unreachable-triple counts are logged as ``unreachable_<split>_<reason>``.
    """

    monitor = "val_f1"
    metric_modes: ClassVar[dict[str, str]] = {
        "loss": "min",
        "f1": "max",
        "precision": "max",
        "recall": "max",
    }
    config_checks: ClassVar[dict[str, Check]] = {
        **BertTask.config_checks,
        **{f"thresholds.{name}": _probability for name in Thresholds.__dataclass_fields__},
        "decode_batch_size": integer(1),
    }

    def __init__(
        self,
        encoder: Mapping,
        thresholds: Mapping[str, float] | None = None,
        decode_batch_size: int = 64,
    ):
        super().__init__(encoder)
        self.thresholds = Thresholds(**dict(thresholds or {}))
        self.decode_batch_size = decode_batch_size

    def build(self, vocab_size: int, num_predicates: int):
        from keraslab.models.triples import build_triple_extractor

        return build_triple_extractor(vocab_size, num_predicates, self.encoder)

    def compile(self, model, optimizer, jit_compile: bool | str = "auto") -> None:
        from keraslab.models.triples import masked_pointer_loss

        model.compile(
            optimizer=optimizer,
            loss={"subject": masked_pointer_loss, "object": masked_pointer_loss},
            jit_compile=jit_compile,
        )

    def predict(self, model, data, split: str, limit: int | None = None) -> list[set]:
        """The decoded triples of the first ``limit`` sentences of ``split`` (all by default)."""
        stop = len(data.gold(split)) if limit is None else limit
        encoded = data.splits[split].inputs
        sentences = Sentences(
            {name: array[:stop] for name, array in encoded.items()},
            [sentence.text for sentence in data.gold(split)[:stop]],
            data.offsets[split][:stop],
        )
        return extract_triples(
            model, sentences, data.predicates, self.thresholds, self.decode_batch_size
        )

    def scores(self, model, data, split: str, limit: int | None = None) -> dict[str, float]:
        """``f1``, ``precision`` and ``recall`` on the first ``limit`` sentences of ``split``."""
        predicted = self.predict(model, data, split, limit)
        gold = [sentence.triples for sentence in data.gold(split)[: len(predicted)]]
        return count(predicted, gold).scores()

    data_parallel = False  # validates with predictions (decoded triples)

    def validation_callbacks(self, data, inputs, steps: int) -> list:
        from keraslab.training.validation_scores import ValidationScores

        limit = min(len(data.gold("valid")), steps * data.batch_size)
        return [ValidationScores(lambda model: self.scores(model, data, "valid", limit))]

    def evaluate(self, model, data, split: str, inputs, steps: int) -> dict[str, float]:
        losses = model.evaluate(inputs, steps=steps, verbose=0, return_dict=True)
        limit = min(len(data.gold(split)), steps * data.batch_size)
        return {**losses, **self.scores(model, data, split, limit)}

    def log_artifacts(self, model, data, loader, tracker, folder: Path) -> None:
        from contextlib import nullcontext

        from keraslab.evaluation import moving_average

        ema = moving_average(model)
        with ema.averaged_weights() if ema is not None else nullcontext():
            predicted = self.predict(model, data, "valid")
        gold = [set(sentence.triples) for sentence in data.gold("valid")]
        table = Path(folder) / PREDICATES_TABLE
        table.write_text(_predicate_table(predicted, gold, data.predicates), encoding="utf-8")
        errors = Path(folder) / ERRORS_FILE
        errors.write_text(_errors(data.gold("valid"), predicted), encoding="utf-8")
        for path in (table, errors):
            tracker.log_artifact(path, "predictions")
        tracker.log_metrics(
            {
                f"unreachable_{split}_{reason}": value
                for split, counts in data.unreachable.items()
                for reason, value in counts.items()
            },
            0,
        )


def _predicate_table(predicted, gold, predicates) -> str:
    """Tab-separated: each predicate's gold, predicted and correct counts and its scores, then
    all predicates together."""
    by_predicate = count_by_predicate(predicted, gold)
    lines = ["predicate\tgold\tpredicted\tcorrect\tprecision\trecall\tf1"]
    rows = [(name, by_predicate[name]) for name in predicates if name in by_predicate]
    for name, counts in [*rows, ("all", count(predicted, gold))]:
        lines.append(
            f"{name}\t{counts.gold}\t{counts.predicted}\t{counts.correct}\t"
            + "\t".join(f"{counts.scores()[score]:.4f}" for score in ("precision", "recall", "f1"))
        )
    return "\n".join(lines) + "\n"


def _errors(sentences, predicted) -> str:
    """One JSON line per sentence whose predicted set is not its gold set."""
    lines = []
    for sentence, guess in zip(sentences, predicted, strict=True):
        truth = set(sentence.triples)
        if guess != truth:
            record = {
                "text": sentence.text,
                "gold": sorted(truth),
                "predicted": sorted(guess),
                "missing": sorted(truth - guess),
                "extra": sorted(guess - truth),
            }
            lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)

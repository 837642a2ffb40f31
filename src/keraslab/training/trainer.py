"""The Trainer: compile, ``fit`` with validation each epoch, best and last checkpoints, evaluate."""

import math
import os
import shutil
from pathlib import Path

import keras

from keraslab.loaders import SplitBatches
from keraslab.loaders.keras_input import keras_input
from keraslab.optimizers import ExponentialMovingAverage, GradientAccumulation, find_wrapper
from keraslab.resume import BEST_CHECKPOINT, LAST_CHECKPOINT, TrainingState, write_atomically
from keraslab.training.ema_validation import EmaValidation


class Trainer:
    """Fits a model (classifier or masked LM) with ``model.fit`` and keeps two checkpoints in ``<run dir>/checkpoints``.

    ``last.keras`` is written after every epoch and ``best.keras`` when ``monitor`` improves;
    both hold the weights and the optimizer state. ``state.json`` records what a resumed run
    needs and is kept consistent with its checkpoint through crashes (see :mod:`keraslab.resume`).
    ``steps_per_epoch`` / ``validation_steps`` cap an epoch (None: the whole split).
    When the optimizer keeps a moving average of the weights and ``ema_validation`` is on, each
    epoch is validated on the average too (``val_ema_*`` metrics); under gradient accumulation
    the optimizer learns the epoch's batch sizes, so a short last batch counts for its size.
    """

    def __init__(
        self,
        epochs: int = 3,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        log_every_n_steps: int = 50,
        monitor: str = "val_accuracy",
        monitor_mode: str = "max",
        jit_compile: bool | str = "auto",
        verbose: int | str = "auto",
        ema_validation: bool = True,
    ):
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.validation_steps = validation_steps
        self.log_every_n_steps = log_every_n_steps
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        self.jit_compile = jit_compile
        self.verbose = verbose
        self.ema_validation = ema_validation

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
        """Cross-entropy on logits and accuracy, both weighted by the batches' sample weights
        when they have them: the loss is ``sum(w * ce) / sum(w)`` (for a masked LM, the mean
        over the masked positions), and the plain mean without weights."""
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            ),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=self.jit_compile,
        )

    def fit(
        self,
        model,
        train: SplitBatches,
        valid: SplitBatches,
        loader,
        run_dir: Path,
        callbacks=(),
        resume_state: TrainingState | None = None,
        mlflow_run_id: str | None = None,
    ) -> keras.callbacks.History:
        checkpoints = Path(run_dir) / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        best = AtomicModelCheckpoint(
            checkpoints / BEST_CHECKPOINT,
            monitor=self.monitor,
            mode=self.monitor_mode,
            save_best_only=True,
            initial_value_threshold=resume_state.best if resume_state else None,
        )
        first_epoch = resume_state.epochs_done if resume_state else 0
        steps_per_epoch = _steps(self.steps_per_epoch, train)
        accumulation = find_wrapper(model.optimizer, GradientAccumulation)
        if accumulation is not None:
            accumulation.set_micro_batch_sizes([train.rows(i) for i in range(steps_per_epoch)])
        ema = find_wrapper(model.optimizer, ExponentialMovingAverage)
        validation_steps = _steps(self.validation_steps, valid)
        with (
            keras_input(train, loader, first_epoch, self.steps_per_epoch, endless=True) as x,
            keras_input(valid, loader, steps=self.validation_steps) as validation_data,
        ):
            if ema is not None and self.ema_validation:
                callbacks = [EmaValidation(ema, validation_data, validation_steps), *callbacks]
            return model.fit(
                x,
                validation_data=validation_data,
                epochs=self.epochs,
                initial_epoch=first_epoch,
                steps_per_epoch=steps_per_epoch,
                shuffle=False,  # the batches' order is already seeded per epoch
                validation_steps=validation_steps,
                verbose=self.verbose,
                callbacks=[
                    best,
                    LastCheckpoint(checkpoints, best, mlflow_run_id),
                    *callbacks,
                ],
            )

    @staticmethod
    def restore(checkpoint: Path) -> keras.Model:
        """The compiled model of a checkpoint, with its optimizer state."""
        import keraslab.models  # noqa: F401  (registers the custom layers)

        return keras.saving.load_model(checkpoint)

    def evaluate(self, model, batches: SplitBatches, loader) -> dict[str, float]:
        with keras_input(batches, loader, steps=self.validation_steps) as x:
            return model.evaluate(
                x, steps=_steps(self.validation_steps, batches), verbose=0, return_dict=True
            )


def _steps(cap: int | None, batches: SplitBatches) -> int:
    return min(cap or len(batches), len(batches))


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` that writes ``x.partial.keras`` and renames it to ``x.keras``, so a
    crash or Ctrl-C in the middle of a save leaves the previous checkpoint whole."""

    def _save_model(self, epoch, batch, logs):
        final = Path(self._get_file_path(epoch, batch, logs))
        partial = final.with_name(f"{final.stem}.partial{final.suffix}")
        partial.unlink(missing_ok=True)
        self.filepath = str(partial)
        try:
            super()._save_model(epoch, batch, logs)
        finally:
            self.filepath = str(final)
        if partial.exists():
            os.replace(partial, final)


class LastCheckpoint(keras.callbacks.Callback):
    """After each epoch N: the model to ``epoch-N.keras``, then ``state.json`` naming it (epochs
    done, the best monitored value, the run id), then ``last.keras`` as a second name for it,
    and only then the previous epoch's file is deleted. Each step replaces its file atomically,
    so a crash between any two leaves ``state.json`` naming a whole checkpoint of its epoch."""

    def __init__(
        self, checkpoints: Path, best: keras.callbacks.ModelCheckpoint, mlflow_run_id: str | None
    ):
        super().__init__()
        self.checkpoints = checkpoints
        self.best = best
        self.mlflow_run_id = mlflow_run_id

    def on_epoch_end(self, epoch, logs=None):
        name = f"epoch-{epoch + 1}.keras"
        checkpoint = self.checkpoints / name
        write_atomically(checkpoint, self.model.save)
        best = float(self.best.best)
        TrainingState(
            epoch + 1, best if math.isfinite(best) else None, self.mlflow_run_id, name
        ).save(self.checkpoints)
        write_atomically(self.checkpoints / LAST_CHECKPOINT, lambda path: _link(checkpoint, path))
        for stale in self.checkpoints.glob("epoch-*.keras"):
            if stale != checkpoint:
                stale.unlink()


def _link(source: Path, name: Path) -> None:
    """Make ``name`` a hard link to ``source``, or a copy where links are not supported."""
    try:
        os.link(source, name)
    except OSError:
        shutil.copyfile(source, name)

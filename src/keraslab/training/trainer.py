"""The Trainer: compile, ``fit`` with validation each epoch, best and last checkpoints, evaluate."""

from pathlib import Path

import keras


class Trainer:
    """Fits a classifier with ``model.fit`` and keeps two checkpoints in ``<run dir>/checkpoints``.

    ``last.keras`` is written after every epoch and ``best.keras`` when ``monitor`` improves;
    both hold the weights and the optimizer state.
    ``steps_per_epoch`` / ``validation_steps`` cap an epoch (None: the whole split).
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
    ):
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.validation_steps = validation_steps
        self.log_every_n_steps = log_every_n_steps
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        self.jit_compile = jit_compile
        self.verbose = verbose

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=self.jit_compile,
        )

    def fit(self, model, train, valid, run_dir: Path, callbacks=()) -> keras.callbacks.History:
        checkpoints = Path(run_dir) / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        return model.fit(
            train,
            validation_data=valid,
            epochs=self.epochs,
            steps_per_epoch=self.steps_per_epoch,
            validation_steps=self.validation_steps,
            verbose=self.verbose,
            callbacks=[
                keras.callbacks.ModelCheckpoint(checkpoints / "last.keras"),
                keras.callbacks.ModelCheckpoint(
                    checkpoints / "best.keras",
                    monitor=self.monitor,
                    mode=self.monitor_mode,
                    save_best_only=True,
                ),
                *callbacks,
            ],
        )

    def evaluate(self, model, batches) -> dict[str, float]:
        return model.evaluate(batches, steps=self.validation_steps, verbose=0, return_dict=True)

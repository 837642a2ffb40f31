"""The Trainer: ``fit`` a task's model with validation each epoch, best and last checkpoints.

Importing this module loads no Keras (its config checks run before TensorFlow starts); Keras is
imported when a model is fitted or restored.
"""

from pathlib import Path
from typing import ClassVar

from keraslab.config_checks import Check, integer, one_of, optional, string
from keraslab.errors import InputError
from keraslab.loaders import SplitBatches
from keraslab.resume import BEST_CHECKPOINT, TrainingState

# Keras dtype policies: variables always float32; mixed_* computes in 16 bits, and Keras wraps
# the optimizer in a LossScaleOptimizer for float16 (its narrow range needs loss scaling).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


class Trainer:
    """Fits a task's model with ``model.fit`` and keeps two checkpoints in ``<run dir>/checkpoints``.

    ``last.keras`` is written after every epoch and ``best.keras`` when the monitored metric
    improves; both hold the weights and the optimizer state. ``state.json`` records what a
    resumed run needs and is kept consistent with its checkpoint through crashes (see
    :mod:`keraslab.resume`). ``monitor`` / ``monitor_mode`` (None: the task's) pick the best
    checkpoint. ``steps_per_epoch`` / ``validation_steps`` cap an epoch (None: the whole split).
    When the optimizer keeps a moving average of the weights and ``ema_validation`` is on, each
    epoch is validated on the average too (``val_ema_*`` metrics); under gradient accumulation
    the optimizer learns the epoch's batch sizes, so a short last batch counts for its size.
    ``precision`` (float32, mixed_bfloat16, mixed_float16) is the models' dtype policy.
    A non-finite loss or weight stops the run first (:class:`FiniteGuard`); then callbacks that
    compute metrics (the task's, EMA validation) run before the checkpoints, and the checkpoints
    before the caller's callbacks (tracking), so each sees the whole epoch's logs; Ctrl-C waits
    from the checkpoints to the end of the epoch's tracking (:class:`EpochEndHold`).
    """

    config_checks: ClassVar[dict[str, Check]] = {
        "epochs": integer(1),
        "steps_per_epoch": optional(integer(1)),
        "validation_steps": optional(integer(1)),
        "log_every_n_steps": integer(1),
        "monitor": optional(string),
        "monitor_mode": one_of(None, "min", "max"),
        "ema_validation": one_of(True, False),
        "precision": one_of(*PRECISIONS),
    }

    def __init__(
        self,
        epochs: int = 3,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        log_every_n_steps: int = 50,
        monitor: str | None = None,
        monitor_mode: str | None = None,
        jit_compile: bool | str = "auto",
        verbose: int | str = "auto",
        ema_validation: bool = True,
        precision: str = "float32",
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
        self.precision = precision

    def set_precision(self) -> None:
        """Make ``precision`` Keras's dtype policy for the models built or loaded from here on
        (a checkpoint keeps the policy each layer was built with)."""
        import keras

        keras.config.set_dtype_policy(self.precision)

    def validates_ema(self, model) -> bool:
        """Whether each epoch also validates ``model``'s moving-average weights."""
        from keraslab.optimizers import ExponentialMovingAverage, find_wrapper

        return (
            self.ema_validation
            and find_wrapper(model.optimizer, ExponentialMovingAverage) is not None
        )

    def fit(
        self,
        task,
        model,
        data,
        loader,
        run_dir: Path,
        monitor: tuple[str, str],
        seed: int = 0,
        callbacks=(),
        resume_state: TrainingState | None = None,
        mlflow_run_id: str | None = None,
        share: tuple[int, int] = (0, 1),
    ) -> TrainingState:
        """Train ``model`` on ``data``'s train split to ``epochs``; returns the final state.

        ``monitor`` is ``(metric, mode)``; ``resume_state`` goes on from an earlier run;
        ``share`` is a data-parallel worker's part of every batch (train and valid). Ctrl-C
        stops training at the next step (:func:`~keraslab.training.step_interrupts.stops_at_steps`)."""
        from keraslab.loaders.keras_input import keras_input
        from keraslab.optimizers import ExponentialMovingAverage, GradientAccumulation, find_wrapper
        from keraslab.training.callbacks import AtomicModelCheckpoint, EpochEndHold, LastCheckpoint
        from keraslab.training.ema_validation import EmaValidation
        from keraslab.training.finite_guard import FiniteGuard
        from keraslab.training.step_interrupts import stops_at_steps

        checkpoints = Path(run_dir) / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        name, mode = monitor
        best = AtomicModelCheckpoint(
            checkpoints / BEST_CHECKPOINT,
            monitor=name,
            mode=mode,
            save_best_only=True,
            initial_value_threshold=resume_state.best if resume_state else None,
        )
        last = LastCheckpoint(
            checkpoints,
            best,
            resume_state or TrainingState(0, None, mlflow_run_id, monitor=name, mode=mode),
        )
        first_epoch = resume_state.epochs_done if resume_state else 0
        train, valid = data.batches("train", seed, share), data.batches("valid", seed, share)
        steps_per_epoch = _steps(self.steps_per_epoch, train)
        accumulation = find_wrapper(model.optimizer, GradientAccumulation)
        if accumulation is not None:
            accumulation.set_micro_batch_sizes([train.rows(i) for i in range(steps_per_epoch)])
        validation_steps = _steps(self.validation_steps, valid)
        build_optimizer(model)
        with (
            keras_input(train, loader, first_epoch, self.steps_per_epoch, endless=True) as x,
            keras_input(valid, loader, steps=self.validation_steps) as validation_data,
        ):
            metrics = task.validation_callbacks(data, validation_data, validation_steps)
            if self.validates_ema(model):
                ema = find_wrapper(model.optimizer, ExponentialMovingAverage)
                metrics.append(
                    EmaValidation(
                        ema,
                        lambda: task.evaluate(
                            model, data, "valid", validation_data, validation_steps
                        ),
                    )
                )
            hold = EpochEndHold()
            with stops_at_steps(callbacks) as stops:
                try:
                    model.fit(
                        x,
                        validation_data=validation_data,
                        epochs=self.epochs,
                        initial_epoch=first_epoch,
                        steps_per_epoch=steps_per_epoch,
                        shuffle=False,  # the batches' order is already seeded per epoch
                        validation_steps=validation_steps,
                        verbose=self.verbose,
                        callbacks=[
                            *stops,
                            FiniteGuard(),
                            *metrics,
                            hold.begin,
                            best,
                            last,
                            *callbacks,
                            hold.end,
                        ],
                    )
                finally:
                    hold.release()
        return last.state

    @staticmethod
    def resume(resume):
        """The model of a :class:`~keraslab.resume.Resume`: its checkpoint, with the random
        state the trainer recorded beside it, so training goes on as if never stopped."""
        from keraslab.training.random_state import set_random_states

        model = Trainer.restore(resume.last_checkpoint)
        if resume.state.random_states:
            set_random_states(model, resume.state.random_states)
        return model

    @staticmethod
    def restore(checkpoint: Path, compile: bool = True):
        """The compiled model of a checkpoint, with its optimizer state; with ``compile=False``
        the model alone, for inference: the optimizer is not read, which also spares callers
        under another precision than the run's a rebuilt optimizer whose state Keras skips."""
        import keras

        import keraslab.models  # noqa: F401  (registers the custom layers)
        from keraslab.optimizers import register_all

        register_all()

        try:
            return keras.saving.load_model(checkpoint, compile=compile)
        except Exception as error:  # truncated or foreign: zipfile, h5py, JSON, Keras errors
            raise InputError(
                f"{checkpoint} is not a readable Keras checkpoint ({type(error).__name__}: "
                f"{error}); expected a whole .keras file as the trainer writes it."
            ) from error


def build_optimizer(model) -> None:
    """Create a built model's optimizer state before ``fit`` on TensorFlow.

    Keras on TensorFlow leaves it to the first trace of the training step, and a ``tf.function``
    whose first trace creates variables is traced a second time without them: building it here
    spares that second trace. The other backends build it before tracing, within their
    distribution's scope."""
    import keras

    optimizer = model.optimizer
    if keras.backend.backend() == "tensorflow" and model.built and not optimizer.built:
        optimizer.build(model.trainable_variables)


def _steps(cap: int | None, batches: SplitBatches) -> int:
    return min(cap or len(batches), len(batches))

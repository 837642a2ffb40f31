"""A task: everything that differs between problems, so that the run path names none of them.

keras-hub's Backbone/Task split meets lightning-hydra-template's LightningModule: a task builds its
model from what the data module provides, compiles it with its own loss and metrics, names the
metric that picks the best checkpoint, adds validation metrics that a training step cannot compute
(an F1 that needs decoding), evaluates a split, logs its own artifacts and exports when it can.
The ``model`` config group selects one (``_target_``); a new problem is a new task and data
module plus their configs.
"""

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from keraslab.errors import ConfigError

EMA_PREFIX, VALID_PREFIX = "val_ema_", "val_"


class Task:
    """The base: subclasses implement :meth:`build` and :meth:`compile`; the rest has defaults.

    ``metric_modes`` names every metric :meth:`evaluate` reports, with the direction that is
    better (``"min"`` / ``"max"``); the run validates them as ``val_<name>`` each epoch (and as
    ``val_ema_<name>`` on the averaged weights of an EMA optimizer). ``monitor`` is the one that
    picks ``best.keras`` unless ``trainer.monitor`` says otherwise. ``export_formats`` lists
    what :meth:`export` writes. ``config_checks`` (see :mod:`keraslab.config_checks`) checks the
    task's own keys of the ``model`` section. ``data_parallel``: whether several worker
    processes can train it, which needs validation through ``model.evaluate`` alone (predictions
    of a batch spread over workers do not come back to one process).
    """

    monitor: str = "val_loss"
    metric_modes: ClassVar[Mapping[str, str]] = {"loss": "min"}
    export_formats: ClassVar[tuple[str, ...]] = ()
    config_checks: ClassVar[Mapping] = {}
    data_parallel: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return type(self).__name__

    def data_options(self) -> dict:
        """What the data module's ``setup`` gets from the task (e.g. a pre-trained tokenizer)."""
        return {}

    def build(self, **provided):
        """The model, from the data module's ``model_arguments``."""
        raise NotImplementedError

    def compile(self, model, optimizer, jit_compile: bool | str = "auto") -> None:
        """``model.compile`` with the task's loss and metrics."""
        raise NotImplementedError

    def build_model(self, data):
        """:meth:`build` with what ``data`` provides, once both are known to fit together."""
        provided = data.model_arguments
        parameters = inspect.signature(self.build).parameters
        unexpected = sorted(set(provided) - set(parameters))
        lacking = sorted(
            name
            for name, parameter in parameters.items()
            if parameter.default is parameter.empty
            and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
            and name not in provided
        )
        if unexpected or lacking:
            raise ConfigError(
                f"model {self.name} does not fit data {type(data).__name__}: the data provides "
                f"{', '.join(sorted(provided)) or 'nothing'}, and the model "
                + (
                    f"takes no {', '.join(unexpected)}"
                    if unexpected
                    else f"also needs {', '.join(lacking)}"
                )
                + ". Pick a model and data that go together (conf/experiment/ holds examples)."
            )
        return self.build(**provided)

    def validation_metrics(self, ema: bool) -> list[str]:
        """The names the epoch logs give this task's validation metrics."""
        prefixes = (VALID_PREFIX, EMA_PREFIX) if ema else (VALID_PREFIX,)
        return [prefix + name for prefix in prefixes for name in self.metric_modes]

    def choose_monitor(
        self, monitor: str | None = None, mode: str | None = None, ema: bool = False
    ) -> tuple[str, str]:
        """``(monitor, mode)``: the given monitor or the task's, and the given mode or the one
        its metric has. ``ema``: the run also validates the averaged weights."""
        monitor = monitor or self.monitor
        allowed = self.validation_metrics(ema)
        if monitor not in allowed:
            raise ConfigError(
                f"trainer.monitor {monitor!r} is not a metric this run validates; expected one of "
                f"{', '.join(allowed)}"
                + ("" if ema else " (val_ema_* need an EMA optimizer and trainer.ema_validation)")
                + "."
            )
        return monitor, mode or self.metric_modes[base_metric(monitor)]

    def validation_callbacks(self, data, inputs, steps: int) -> list:
        """Keras callbacks that add ``val_*`` metrics to each epoch's logs, computed on
        ``inputs`` (the valid split, ``steps`` batches). They run before checkpoints and tracking."""
        return []

    def artifact_callbacks(self, data, tracker, folder: Path) -> list:
        """Keras callbacks that write files into ``folder`` during training and log them with
        ``tracker`` (an image each epoch); they run after the checkpoints. None by default."""
        return []

    def evaluate(self, model, data, split: str, inputs, steps: int) -> dict[str, float]:
        """Every metric of :attr:`metric_modes` on ``inputs``: ``steps`` batches of ``split``."""
        return model.evaluate(inputs, steps=steps, verbose=0, return_dict=True)

    def final_scores(self, model, data) -> dict[str, float]:
        """Scores of the finished run beyond each split's metrics (``model`` holds the best
        checkpoint's weights), logged and summarised with the test scores. None by default."""
        return {}

    def log_artifacts(self, model, data, loader, tracker, folder: Path) -> None:
        """Write the task's own artifacts (plots, predictions) of the finished run to ``folder``
        and log them; ``model`` holds the best checkpoint's weights. Nothing by default."""

    def check_export(self, format: str | None) -> None:
        if format is not None and format not in self.export_formats:
            formats = ", ".join(self.export_formats)
            raise ConfigError(
                f"export must be null{f' or one of {formats}' if formats else ''} for model "
                f"{self.name}, got {format!r}."
            )

    def export(self, model, data, folder: Path, format: str) -> Path:
        """Write ``model`` to ``folder`` in ``format`` (one of :attr:`export_formats`)."""
        raise ConfigError(f"model {self.name} cannot be exported; set export=null.")


def base_metric(name: str) -> str:
    """``val_ema_accuracy`` and ``val_accuracy`` -> ``accuracy``."""
    for prefix in (EMA_PREFIX, VALID_PREFIX):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name

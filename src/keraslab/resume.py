"""Resuming an interrupted run from its ``checkpoints/`` folder.

After every epoch the trainer writes ``checkpoints/epoch-N.keras`` (weights and optimizer state),
then ``checkpoints/state.json``: the epochs done, the best value of the monitored metric (and
which metric, which way), every epoch's metrics, the MLflow run id and the name of that checkpoint. ``state.json`` is the commit point: it is replaced atomically,
only once its checkpoint is whole, and the checkpoint it named before is deleted only after that,
so a crash anywhere leaves a state and a checkpoint of the same epoch. ``checkpoints/last.keras``
is a second name for the newest one. ``resume=<run dir>`` reads the state and the checkpoint it
names and goes on from there, in the same MLflow run.
"""

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from keraslab.errors import ConfigError, InputError
from keraslab.tracking.params import flatten

STATE_FILE = "state.json"
LAST_CHECKPOINT = "last.keras"
BEST_CHECKPOINT = "best.keras"
# Sections that must not change on resume: they define what the checkpoint is.
FIXED_SECTIONS = ("seed", "data", "model", "optimizer")


@dataclass
class TrainingState:
    """What a run has done so far: ``epochs_done``; ``best``, the best value of ``monitor``
    (better is ``mode``: ``min`` or ``max``); its MLflow run; ``checkpoint``, the file in
    ``checkpoints/`` that holds the model after ``epochs_done``; and ``history``, every
    epoch's logs (metric -> one value an epoch); and ``random_states``, the model's seed
    generators at that checkpoint (:mod:`keraslab.training.random_state`). A state written
    before ``monitor`` was recorded was monitoring ``val_accuracy``."""

    epochs_done: int
    best: float | None
    mlflow_run_id: str | None
    checkpoint: str = LAST_CHECKPOINT
    monitor: str = "val_accuracy"
    mode: str = "max"
    history: dict[str, list[float]] = field(default_factory=dict)
    random_states: list[list[int]] = field(default_factory=list)

    def save(self, checkpoints: Path) -> None:
        """Write atomically, so a crash mid-write leaves the previous state readable."""
        write_atomically(
            checkpoints / STATE_FILE, lambda path: path.write_text(json.dumps(asdict(self)))
        )


@dataclass
class Resume:
    run_dir: Path
    state: TrainingState

    @property
    def last_checkpoint(self) -> Path:
        return self.run_dir / "checkpoints" / self.state.checkpoint


def write_atomically(final: Path, write: Callable[[Path], object]) -> None:
    """``write(partial)``, then rename ``partial`` to ``final``: a crash midway leaves ``final``
    as it was, and a write that fails (a full disk) removes its partial file."""
    partial = final.with_name(f"{final.stem}.partial{final.suffix}")
    partial.unlink(missing_ok=True)
    try:
        write(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)


def read_resume(run_dir: str | Path, cfg: DictConfig) -> Resume:
    """Check ``run_dir`` holds a resumable run made with the same data, model and optimizer."""
    run_dir = Path(run_dir)
    checkpoints = run_dir / "checkpoints"
    needed = [checkpoints / STATE_FILE, run_dir / ".hydra" / "config.yaml"]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        raise InputError(
            f"resume {str(run_dir)!r} is not a resumable run folder: it lacks {', '.join(missing)}; "
            "expected the output folder of an earlier run that finished at least one epoch."
        )
    state = read_state(checkpoints / STATE_FILE)
    saved = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    changed = _changed_keys(saved, cfg)
    if changed:
        raise ConfigError(
            f"resume {str(run_dir)!r} was trained with other settings: {'; '.join(changed)}. "
            "Resume with the run's original overrides; only trainer.* and logger.* may change."
        )
    return Resume(run_dir, state)


def read_state(path: Path) -> TrainingState:
    """The state in ``path``, whose checkpoint must be a ``.keras`` file beside it."""
    try:
        state = TrainingState(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise InputError(
            f"{path} is not a training state ({error}); expected the JSON object the trainer "
            f"writes, with keys {', '.join(TrainingState.__dataclass_fields__)}."
        ) from error
    name = state.checkpoint
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".keras"):
        raise InputError(
            f"{path} names checkpoint {name!r}; expected the name of a .keras file in {path.parent}."
        )
    if not (path.parent / name).is_file():
        raise InputError(
            f"{path} names checkpoint {name!r}, which is not in {path.parent}; "
            "the run folder is incomplete (a checkpoint was moved or deleted)."
        )
    return state


def _changed_keys(saved: DictConfig, current: DictConfig) -> list[str]:
    def fixed(config):
        sections = {}
        for key in FIXED_SECTIONS:
            value = config.get(key)
            sections[key] = (
                OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            )
        return flatten(sections)

    before, after = fixed(saved), fixed(current)
    return [
        f"{key} was {before.get(key)}, now {after.get(key)}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def check_same_monitor(state: TrainingState, monitor: str, mode: str) -> None:
    """A resumed run must pick its best checkpoint as the run it goes on from did."""
    if (state.monitor, state.mode) != (monitor, mode):
        raise ConfigError(
            f"resume: the run's best checkpoint was chosen by {state.monitor} ({state.mode}), and "
            f"this run would monitor {monitor} ({mode}); resume with "
            f"trainer.monitor={state.monitor} trainer.monitor_mode={state.mode}."
        )

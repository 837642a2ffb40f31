"""The trainer's checkpoint callbacks: ``best.keras`` written whole, and the per-epoch commit of
``epoch-N.keras``, ``state.json`` and ``last.keras`` (see :mod:`keraslab.resume`)."""

import math
import os
import shutil
from dataclasses import replace
from pathlib import Path

import keras

from keraslab.resume import LAST_CHECKPOINT, TrainingState, write_atomically
from keraslab.training.random_state import random_states


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` that writes ``x.partial.keras`` and renames it to ``x.keras``, so a
    crash or Ctrl-C in the middle of a save leaves the previous checkpoint whole, and a save
    that fails (a full disk) leaves no partial file."""

    def _save_model(self, epoch, batch, logs):
        final = Path(self._get_file_path(epoch, batch, logs))
        partial = final.with_name(f"{final.stem}.partial{final.suffix}")
        partial.unlink(missing_ok=True)
        self.filepath = str(partial)
        try:
            super()._save_model(epoch, batch, logs)
        except OSError:  # a full disk: no partial file is left behind
            partial.unlink(missing_ok=True)
            raise
        finally:
            self.filepath = str(final)
        if partial.exists():
            os.replace(partial, final)


class LastCheckpoint(keras.callbacks.Callback):
    """After each epoch N: the model to ``epoch-N.keras``, then ``state.json`` naming it (epochs
    done, the best monitored value, the epoch's logs added to the history, the model's seed
    generators, the run id), then
    ``last.keras`` as a second name for it, and only then the previous epoch's file is deleted.
    Each step replaces its file atomically, so a crash between any two leaves ``state.json``
    naming a whole checkpoint of its epoch. ``state`` is the newest state, starting from ``state``."""

    def __init__(
        self, checkpoints: Path, best: keras.callbacks.ModelCheckpoint, state: TrainingState
    ):
        super().__init__()
        self.checkpoints = checkpoints
        self.best = best
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        name = f"epoch-{epoch + 1}.keras"
        checkpoint = self.checkpoints / name
        write_atomically(checkpoint, self.model.save)
        best = float(self.best.best)
        history = {key: list(values) for key, values in self.state.history.items()}
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(value))
        state = replace(
            self.state,
            epochs_done=epoch + 1,
            best=best if math.isfinite(best) else None,
            checkpoint=name,
            history=history,
            random_states=random_states(self.model),
        )
        state.save(self.checkpoints)
        self.state = state
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


class EpochEndHold:
    """Ctrl-C held back from an epoch's checkpoints until the callbacks after them (tracking)
    have sent the epoch: an interrupt between the two would leave a checkpoint whose epoch's
    step metrics were never sent, and the resumed run starts after that epoch. ``begin`` goes
    before the checkpoints, ``end`` after the last callback; :meth:`release` (in a ``finally``)
    hands back the handler if the epoch never reached ``end``."""

    def __init__(self) -> None:
        from contextlib import ExitStack

        self._held = ExitStack()
        self.begin = _OnEpochEnd(self._hold)
        self.end = _OnEpochEnd(self.release)

    def _hold(self) -> None:
        from keraslab.tracking.interrupts import interrupts_deferred

        self._held.enter_context(interrupts_deferred())

    def release(self) -> None:
        """Restore Ctrl-C; one that came while held is raised now."""
        self._held.close()


class _OnEpochEnd(keras.callbacks.Callback):
    def __init__(self, action) -> None:
        super().__init__()
        self._action = action

    def on_epoch_end(self, epoch, logs=None):
        self._action()

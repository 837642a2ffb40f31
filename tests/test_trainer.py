"""The Trainer's checkpoints: a save cut short leaves the previous checkpoint whole, and a crash
between a checkpoint and ``state.json`` leaves a state naming a whole checkpoint of its epoch."""

import json
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from keraslab.errors import InputError
from keraslab.resume import TrainingState, read_state
from keraslab.training.callbacks import AtomicModelCheckpoint, LastCheckpoint


def test_an_interrupted_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "last.keras"
    callback = AtomicModelCheckpoint(path)
    callback.set_model(model)
    callback.on_epoch_end(0, {})
    saved = path.read_bytes()
    assert not list(tmp_path.glob("*.partial.keras"))

    def cut_short(filepath, overwrite=True):
        Path(filepath).write_bytes(saved[: len(saved) // 2])
        raise KeyboardInterrupt

    model.layers[0].kernel.assign(np.ones((3, 2), "float32"))
    monkeypatch.setattr(model, "save", cut_short)
    with pytest.raises(KeyboardInterrupt):
        callback.on_epoch_end(1, {})
    assert path.read_bytes() == saved
    restored = keras.saving.load_model(path)
    assert not np.array_equal(
        keras.ops.convert_to_numpy(restored.layers[0].kernel), np.ones((3, 2))
    )


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def kernel_of(path: Path) -> np.ndarray:
    return keras.ops.convert_to_numpy(keras.saving.load_model(path).layers[0].kernel)


def test_a_crash_before_the_state_is_written_leaves_the_previous_epochs_pair(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    start = TrainingState(0, None, "run-id", monitor="val_loss", mode="min")
    callback = LastCheckpoint(tmp_path, SimpleNamespace(best=0.75), start)
    callback.set_model(model)
    callback.on_epoch_end(0, {"val_loss": 0.75, "loss": 0.5})
    assert read_state(tmp_path / "state.json") == TrainingState(
        1, 0.75, "run-id", "epoch-1.keras", "val_loss", "min", {"val_loss": [0.75], "loss": [0.5]}
    )
    assert files_in(tmp_path) == ["epoch-1.keras", "last.keras", "state.json"]
    assert (tmp_path / "last.keras").read_bytes() == (tmp_path / "epoch-1.keras").read_bytes()
    first = kernel_of(tmp_path / "epoch-1.keras")

    def crash(self, checkpoints):
        raise KeyboardInterrupt

    model.layers[0].kernel.assign(np.ones((3, 2), "float32"))
    with monkeypatch.context() as patch:
        patch.setattr(TrainingState, "save", crash)
        with pytest.raises(KeyboardInterrupt):
            callback.on_epoch_end(1, {})
    state = read_state(tmp_path / "state.json")
    assert state.epochs_done == 1
    np.testing.assert_array_equal(kernel_of(tmp_path / state.checkpoint), first)
    np.testing.assert_array_equal(kernel_of(tmp_path / "last.keras"), first)

    callback.on_epoch_end(1, {"val_loss": 0.5, "loss": 0.25})
    state = read_state(tmp_path / "state.json")
    assert (state.epochs_done, state.checkpoint) == (2, "epoch-2.keras")
    assert state.history == {"val_loss": [0.75, 0.5], "loss": [0.5, 0.25]}
    assert files_in(tmp_path) == ["epoch-2.keras", "last.keras", "state.json"]
    np.testing.assert_array_equal(kernel_of(tmp_path / "last.keras"), np.ones((3, 2)))


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("{not json", "is not a training state"),
        (json.dumps({"epochs_done": 1, "best": None}), "is not a training state"),
        (
            json.dumps(TrainingState(1, None, None, "../elsewhere.keras").__dict__),
            "names checkpoint '../elsewhere.keras'; expected the name of a .keras file",
        ),
        (
            json.dumps(TrainingState(1, None, None, "epoch-1.keras").__dict__),
            "names checkpoint 'epoch-1.keras', which is not in",
        ),
    ],
)
def test_a_bad_state_file_is_refused_with_what_was_expected(tmp_path, state, message):
    (tmp_path / "state.json").write_text(state)
    with pytest.raises(InputError, match=message):
        read_state(tmp_path / "state.json")


def test_a_full_disk_leaves_no_partial_file_and_the_last_pair_whole(tmp_path, monkeypatch):
    import errno

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    best = AtomicModelCheckpoint(tmp_path / "best.keras", monitor="loss")
    last = LastCheckpoint(tmp_path, SimpleNamespace(best=0.75), TrainingState(0, None, "run-id"))
    for callback in (best, last):
        callback.set_model(model)
    best.on_epoch_end(0, {"loss": 1.0})
    last.on_epoch_end(0, {"loss": 1.0})
    before = files_in(tmp_path)

    def disk_full(filepath, overwrite=True):
        Path(filepath).write_bytes(b"the first half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(model, "save", disk_full)
        for callback in (best, last):
            with pytest.raises(OSError, match="No space left"):
                callback.on_epoch_end(1, {"loss": 0.5})
    assert (
        files_in(tmp_path) == before == ["best.keras", "epoch-1.keras", "last.keras", "state.json"]
    )
    assert read_state(tmp_path / "state.json").epochs_done == 1

    last.on_epoch_end(1, {"loss": 0.5})  # space again: the run goes on where it stopped
    assert read_state(tmp_path / "state.json").checkpoint == "epoch-2.keras"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's tracing")
def test_the_training_step_is_traced_once(corpus, tmp_path):
    """TensorFlow traces a step that creates variables twice; the trainer builds the optimizer's
    state first, so Keras's ``train_step`` runs in Python once for the whole fit (its trace)."""
    from conftest import tiny_classifier

    from keraslab.config_checks import instantiate_section
    from keraslab.loaders import InlineLoader
    from keraslab.training import Trainer

    task, data, cfg = tiny_classifier(corpus)
    model = task.build_model(data)
    task.compile(model, instantiate_section(cfg, "optimizer"))
    traced = []
    train_step = model.train_step

    def counted(batch):
        traced.append(batch)
        return train_step(batch)

    model.train_step = counted
    Trainer(epochs=2, verbose=0).fit(
        task, model, data, InlineLoader(), tmp_path, monitor=("val_loss", "min")
    )
    assert model.optimizer.iterations.numpy() == 2 * len(data.batches("train", 0))
    assert len(traced) == 1

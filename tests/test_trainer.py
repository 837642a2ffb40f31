"""The Trainer's checkpoints: a save cut short leaves the previous checkpoint whole."""

from pathlib import Path

import keras
import numpy as np
import pytest

from keraslab.training.trainer import AtomicModelCheckpoint


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

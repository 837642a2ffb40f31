"""A callback that draws fixed images above the model's reconstructions at each epoch's end."""

from pathlib import Path

import keras
import numpy as np

from keraslab.image_files import save_grid


class ReconstructionGrid(keras.callbacks.Callback):
    """``folder/epoch_NNN.png`` (epochs from 1): ``images`` in the first row, the model's output
    (its ``reconstruct``) below; each file is logged to ``tracker`` under the folder's name."""

    def __init__(self, images: np.ndarray, folder: Path, tracker):
        super().__init__()
        self.images, self.folder, self.tracker = images, Path(folder), tracker

    def on_epoch_end(self, epoch, logs=None):
        reconstructed = self.model.reconstruct(self.images)
        path = save_grid(self.folder / f"epoch_{epoch + 1:03d}.png", [self.images, reconstructed])
        self.tracker.log_artifact(path, self.folder.name)

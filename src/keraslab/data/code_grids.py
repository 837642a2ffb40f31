"""The code grids of a trained VQ-VAE run, as sequences for an autoregressive prior."""

from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, integer, string
from keraslab.data.encoded import EncodedSplit
from keraslab.data.module import DataModule


class CodeGridData(DataModule):
    """Each image of the VQ-VAE run ``vqvae_run`` (its own data, every split) as the code grid its
    best checkpoint gives, read row by row: ``codes`` (N, L) inputs are ``[BOS] c_1 .. c_{L-1}``
    with ``BOS = K``, and the labels are ``c_1 .. c_L``. ``vqvae`` keeps the VQ-VAE, whose
    codebook and decoder turn sampled grids into images."""

    config_checks: ClassVar[dict[str, Check]] = {"vqvae_run": string, "batch_size": integer(1)}

    def __init__(self, vqvae_run: str, batch_size: int = 64):
        super().__init__(batch_size)
        self.vqvae_run = vqvae_run
        self.vqvae = None
        self.grid_shape: tuple[int, int] = (0, 0)

    def setup(self, **options) -> "CodeGridData":
        from keraslab.config_checks import instantiate_section
        from keraslab.evaluate_run import read_run
        from keraslab.training import Trainer

        folder, cfg, checkpoint = read_run(self.vqvae_run)
        images = instantiate_section(cfg, "data").setup()
        self.vqvae = Trainer.restore(checkpoint, compile=False)
        bos = self.num_codes
        for split in images.splits:
            grids = self.vqvae.encode(images.gold(split), self.batch_size)
            self.grid_shape = tuple(grids.shape[1:])
            codes = np.asarray(grids).reshape(len(grids), -1).astype(np.int32)
            shifted = np.concatenate([np.full((len(codes), 1), bos, np.int32), codes[:, :-1]], 1)
            self.examples[split] = codes
            self.splits[split] = EncodedSplit({"codes": shifted}, codes)
        print(
            f"data: code grids {self.grid_shape} of {Path(folder)} ({checkpoint.name}), "
            + ", ".join(f"{split} {len(codes)}" for split, codes in self.examples.items()),
            flush=True,
        )
        return self

    @property
    def num_codes(self) -> int:
        return self.vqvae.quantizer.num_codes

    @property
    def model_arguments(self) -> dict:
        return {"num_codes": self.num_codes, "length": int(np.prod(self.grid_shape))}

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Images from code sequences (N, L): their codebook vectors through the decoder."""
        import keras

        codebook = keras.ops.convert_to_numpy(self.vqvae.quantizer.codebook_vectors())
        grids = codebook[codes].reshape(len(codes), *self.grid_shape, codebook.shape[1])
        return np.asarray(self.vqvae.decoder_model.predict(grids, verbose=0))

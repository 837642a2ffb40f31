"""An autoregressive prior over a VQ-VAE's codes, which samples new images."""

import math
from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, integer, number
from keraslab.tasks.task import Task

SAMPLES_FILE = "samples.png"


class CodePriorTask(Task):
    """:class:`~keraslab.models.code_prior.CodePrior` on :class:`~keraslab.data.CodeGridData`,
    trained on the cross-entropy of each next code; validated by ``bits_per_code`` (the monitor).
    At the end of the run it samples ``samples`` grids code by code (softmax at ``temperature``,
    seeded by ``sample_seed``) and logs them decoded by the VQ-VAE as ``samples.png``."""

    monitor = "val_bits_per_code"
    metric_modes: ClassVar[dict[str, str]] = {"loss": "min", "bits_per_code": "min"}
    config_checks: ClassVar[dict[str, Check]] = {
        "hidden_size": integer(1),
        "num_layers": integer(1),
        "num_heads": integer(1),
        "intermediate_size": integer(1),
        "dropout": number(0.0, 1.0, high_inclusive=False),
        "samples": integer(1),
        "temperature": number(0.0, 10.0, low_inclusive=False),
        "sample_seed": integer(0),
    }

    def __init__(
        self,
        hidden_size: int = 128,
        num_layers: int = 4,
        num_heads: int = 4,
        intermediate_size: int = 256,
        dropout: float = 0.1,
        samples: int = 16,
        temperature: float = 1.0,
        sample_seed: int = 0,
    ):
        self.net = {
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "intermediate_size": intermediate_size,
            "dropout": dropout,
        }
        self.samples, self.temperature, self.sample_seed = samples, temperature, sample_seed

    def build(self, num_codes: int, length: int):
        from keraslab.models.code_prior import CodePrior

        return CodePrior(num_codes, length, name="code_prior", **self.net)

    def compile(self, model, optimizer, jit_compile: bool | str = "auto") -> None:
        import keras

        from keraslab.models.code_prior import bits_per_code

        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.MeanMetricWrapper(bits_per_code, name="bits_per_code")],
            jit_compile=jit_compile,
        )

    def sample(self, model, num_codes: int, length: int) -> np.ndarray:
        """``samples`` code sequences (N, L), each code drawn given the ones before it."""
        rng = np.random.default_rng(self.sample_seed)
        codes = np.full((self.samples, length), num_codes, np.int32)  # BOS, then the codes
        drawn = np.zeros((self.samples, length), np.int32)
        for position in range(length):
            logits = np.asarray(model.predict_on_batch(codes))[:, position] / self.temperature
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            drawn[:, position] = [rng.choice(num_codes, p=row) for row in p]
            if position + 1 < length:
                codes[:, position + 1] = drawn[:, position]
        return drawn

    def log_artifacts(self, model, data, loader, tracker, folder: Path) -> None:
        """``samples.png``: the decoded samples, two rows."""
        from keraslab.image_files import save_grid

        images = data.decode(self.sample(model, data.num_codes, data.model_arguments["length"]))
        half = math.ceil(len(images) / 2)
        rows = [images[:half], images[half:]] if len(images) > 1 else [images]
        if len(rows) == 2 and len(rows[1]) < half:
            rows[1] = np.concatenate([rows[1], np.ones_like(rows[0][: half - len(rows[1])])])
        tracker.log_artifact(save_grid(Path(folder) / SAMPLES_FILE, rows))

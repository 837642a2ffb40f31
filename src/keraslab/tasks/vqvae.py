"""Image reconstruction through a discrete bottleneck: a VQ-VAE on an image data module."""

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, integer, number, one_of, optional
from keraslab.tasks.task import Task

GRID_IMAGES = 8
NET_KEYS = ("width", "residual_hidden", "residual_blocks", "downsamples", "code_dim")


def code_counts(codes: np.ndarray, num_codes: int) -> np.ndarray:
    """How many times each of the ``num_codes`` codes occurs in ``codes`` (any shape)."""
    return np.bincount(np.asarray(codes).ravel(), minlength=num_codes)


def code_usage(codes: np.ndarray, num_codes: int) -> dict[str, float]:
    """``perplexity`` ``exp(−Σ p_k log p_k)`` of the codes' frequencies ``p``, ``codes_used`` (the
    share of the book chosen at least once) and ``dead_codes`` (how many never are)."""
    counts = code_counts(codes, num_codes)
    p = counts[counts > 0] / counts.sum()
    return {
        "perplexity": float(np.exp(-(p * np.log(p)).sum())),
        "codes_used": float((counts > 0).mean()),
        "dead_codes": float((counts == 0).sum()),
    }


def reconstruction_scores(mse: float, variance: float) -> dict[str, float]:
    """``mse_variance`` (MSE / the train pixel variance) and ``psnr`` ``10 log10(1 / MSE)`` (dB,
    pixels in [0, 1])."""
    return {"mse_variance": mse / variance, "psnr": float(10 * np.log10(1.0 / mse))}


class VQVAETask(Task):
    """A :class:`~keraslab.models.vqvae.VQVAE` trained on the mean squared error plus its
    quantizer's terms, on images from an :class:`~keraslab.data.images.ImageData`. Every epoch
    validates ``mse`` (the monitor), ``mse_variance``, ``psnr``, and the code statistics of
    :func:`code_usage`, on the EMA weights too when the optimizer keeps them.

    ``net``: the encoder / decoder sizes (``model/net``); ``num_codes``; ``quantizer``: ``kind``
    (``plain`` or ``ema``), ``beta``, and for ``ema`` ``decay`` and ``epsilon``; ``restart_after``
    (null: no dead-code restarts).
    """

    monitor = "val_mse"
    metric_modes: ClassVar[dict[str, str]] = {
        "loss": "min",
        "mse": "min",
        "mse_variance": "min",
        "psnr": "max",
        "perplexity": "max",
        "codes_used": "max",
        "dead_codes": "min",
    }
    config_checks: ClassVar[dict[str, Check]] = {
        **{f"net.{key}": integer(1) for key in NET_KEYS},
        "num_codes": integer(2),
        "quantizer.kind": one_of("plain", "ema"),
        "quantizer.beta": number(0.0, 10.0),
        "quantizer.decay": number(0.0, 1.0, low_inclusive=False, high_inclusive=False),
        "quantizer.restart_after": optional(integer(1)),
    }

    def __init__(self, net: Mapping, num_codes: int = 512, quantizer: Mapping | None = None):
        self.net = {key: net[key] for key in NET_KEYS}
        self.num_codes = num_codes
        self.quantizer = dict(quantizer or {"kind": "plain"})
        if self.quantizer.get("kind") != "ema":
            self.quantizer = {
                k: v for k, v in self.quantizer.items() if k not in ("decay", "epsilon")
            }

    def build(self, image_shape: tuple):
        from keraslab.models.vqvae import VQVAE

        return VQVAE(
            image_shape, self.num_codes, quantizer=self.quantizer, name="vqvae", **self.net
        )

    def compile(self, model, optimizer, jit_compile: bool | str = "auto") -> None:
        import keras

        model.compile(
            optimizer=optimizer,
            loss="mse",
            metrics=[keras.metrics.MeanSquaredError(name="mse")],
            jit_compile=jit_compile,
        )

    def scores(self, model, data, split: str, limit: int | None = None) -> dict[str, float]:
        """Reconstruction and code scores on the first ``limit`` images of ``split``."""
        images = data.gold(split)[:limit]
        reconstruction = model.reconstruct(images, data.batch_size)
        mse = float(np.mean((reconstruction - images) ** 2))
        codes = model.encode(images, data.batch_size)
        return {
            **reconstruction_scores(mse, data.variance),
            **code_usage(codes, model.quantizer.num_codes),
        }

    data_parallel = False  # validates with predictions (code usage, reconstructions)

    def validation_callbacks(self, data, inputs, steps: int) -> list:
        from keraslab.training.validation_scores import ValidationScores

        limit = steps * data.batch_size
        return [ValidationScores(lambda model: self.scores(model, data, "valid", limit))]

    def artifact_callbacks(self, data, tracker, folder: Path) -> list:
        """``reconstructions/epoch_NNN.png`` each epoch: fixed valid images above their
        reconstructions."""
        from keraslab.training.reconstruction_grid import ReconstructionGrid

        images = data.gold("valid")
        chosen = images[np.linspace(0, len(images) - 1, GRID_IMAGES).astype(int)]
        return [ReconstructionGrid(chosen, Path(folder) / "reconstructions", tracker)]

    def final_scores(self, model, data) -> dict[str, float]:
        """``train_pixel_variance`` (the denominator of ``mse_variance``) and
        ``train_perplexity``, ``train_codes_used``, ``train_dead_codes``: the code statistics of
        every training image, encoded once by the finished model (no codebook update). The book
        is fit to this split, so a code it never picks is dead; a held-out photograph needs only
        the codes of its own content, so its usage is lower by nature."""
        codes = model.encode(data.gold("train"), data.batch_size)
        usage = code_usage(codes, model.quantizer.num_codes)
        return {
            "train_pixel_variance": data.variance,
            **{f"train_{name}": value for name, value in usage.items()},
        }

    def log_artifacts(self, model, data, loader, tracker, folder: Path) -> None:
        """``codebook_usage.png``: how often each code is chosen on the train and valid splits."""
        from keraslab.image_files import save_usage_histogram

        num_codes = model.quantizer.num_codes
        panels = {}
        for split in ("train", "valid"):
            codes = model.encode(data.gold(split), data.batch_size)
            usage = code_usage(codes, num_codes)
            title = (
                f"{split}: {num_codes - int(usage['dead_codes'])} of {num_codes} codes used, "
                f"perplexity {usage['perplexity']:.1f}"
            )
            panels[title] = code_counts(codes, num_codes)
        path = save_usage_histogram(Path(folder) / "codebook_usage.png", panels)
        tracker.log_artifact(path)

    def evaluate(self, model, data, split: str, inputs, steps: int) -> dict[str, float]:
        losses = model.evaluate(inputs, steps=steps, verbose=0, return_dict=True)
        return {**losses, **self.scores(model, data, split, steps * data.batch_size)}

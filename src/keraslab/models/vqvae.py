"""A VQ-VAE (van den Oord et al., 2017): a convolutional encoder, a vector quantizer on its
output grid, and a convolutional decoder from the quantized grid back to the image.

Encoder: ``downsamples`` stride-2 4 × 4 convolutions (ReLU between), a 3 × 3 convolution,
``residual_blocks`` blocks ``x + Conv1×1(ReLU(Conv3×3(ReLU(x))))`` and a final ReLU, then a 1 × 1
convolution to ``code_dim``. The decoder mirrors it with transposed convolutions and ends in the
image's channels (no activation: the loss is the mean squared error on [0, 1] pixels).
"""

from collections.abc import Mapping

import keras
from keras import layers

from keraslab.models.vector_quantizer import VectorQuantizer, VectorQuantizerEMA

QUANTIZERS = {"plain": VectorQuantizer, "ema": VectorQuantizerEMA}


def residual_stack(x, width: int, hidden: int, blocks: int, name: str):
    for index in range(blocks):
        inner = layers.Conv2D(hidden, 3, padding="same", name=f"{name}_{index}_conv3")(
            layers.ReLU()(x)
        )
        inner = layers.Conv2D(width, 1, name=f"{name}_{index}_conv1")(layers.ReLU()(inner))
        x = layers.Add(name=f"{name}_{index}_add")([x, inner])
    return layers.ReLU(name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="keraslab")
class VQVAE(keras.Model):
    """Input ``{"images": (B, H, W, C)}``; output the reconstruction (B, H, W, C). ``code_model``
    maps the same input to the code indices (B, H', W') and ``decoder_model`` a quantized grid to
    images (for a prior's samples); :meth:`reconstruct` and :meth:`encode` take image arrays."""

    def __init__(
        self,
        image_shape: tuple,
        num_codes: int = 512,
        code_dim: int = 64,
        width: int = 128,
        residual_hidden: int = 32,
        residual_blocks: int = 2,
        downsamples: int = 2,
        quantizer: Mapping | None = None,
        **kwargs,
    ):
        quantizer = dict(quantizer or {"kind": "plain"})
        images = keras.Input(tuple(image_shape), name="images")
        x = images
        for index in range(downsamples):
            x = layers.Conv2D(
                width if index == downsamples - 1 else width // 2,
                4,
                strides=2,
                padding="same",
                activation="relu" if index < downsamples - 1 else None,
                name=f"encoder_down_{index}",
            )(x)
        x = layers.Conv2D(width, 3, padding="same", name="encoder_conv")(x)
        x = residual_stack(x, width, residual_hidden, residual_blocks, "encoder_res")
        z = layers.Conv2D(code_dim, 1, name="pre_quantization")(x)

        kind = quantizer.pop("kind")
        vq = QUANTIZERS[kind](num_codes, name="quantizer", **quantizer)
        quantized, codes = vq(z)

        grid = keras.Input(tuple(z.shape[1:]), name="quantized")
        y = layers.Conv2D(width, 3, padding="same", name="decoder_conv")(grid)
        y = residual_stack(y, width, residual_hidden, residual_blocks, "decoder_res")
        for index in range(downsamples):
            last = index == downsamples - 1
            y = layers.Conv2DTranspose(
                image_shape[-1] if last else width // 2,
                4,
                strides=2,
                padding="same",
                activation=None if last else "relu",
                name=f"decoder_up_{index}",
            )(y)
        decoder_model = keras.Model(grid, y, name="decoder")
        super().__init__({"images": images}, decoder_model(quantized), **kwargs)
        self.decoder_model = decoder_model
        self.code_model = keras.Model({"images": images}, codes, name="codes")
        self.quantizer = vq
        self.config = {
            "image_shape": tuple(image_shape),
            "num_codes": num_codes,
            "code_dim": code_dim,
            "width": width,
            "residual_hidden": residual_hidden,
            "residual_blocks": residual_blocks,
            "downsamples": downsamples,
            "quantizer": {"kind": kind, **quantizer},
        }

    def reconstruct(self, images, batch_size: int | None = None):
        """The reconstructions (B, H, W, C) of ``images``, in inference mode."""
        return self.predict({"images": images}, batch_size=batch_size, verbose=0)

    def encode(self, images, batch_size: int | None = None):
        """The code indices (B, H', W') of ``images``, in inference mode."""
        return self.code_model.predict({"images": images}, batch_size=batch_size, verbose=0)

    def get_config(self):
        return {**self.config, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

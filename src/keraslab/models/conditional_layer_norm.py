"""Conditional LayerNorm: a LayerNorm whose scale and shift depend on a condition vector."""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keraslab")
class ConditionalLayerNorm(layers.Layer):
    """``y = (x - mean) / sqrt(var + eps) * (gamma + c W_g) + (beta + c W_b)``.

    Mean and variance run over the last axis of ``x`` (B, L, d); the condition ``c`` is (B, k) or
    (B, 1, k) and is the same for every position of a row. ``W_g`` and ``W_b`` (k, d) start at
    zero, so until training moves them the layer is the plain LayerNorm with ``gamma`` and
    ``beta`` (which start at 1 and 0, or at another LayerNorm's values, see :meth:`copy_norm`).
    """

    def __init__(self, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, hidden_shape, condition_shape):
        width = hidden_shape[-1]
        self.gamma = self.add_weight((width,), initializer="ones", name="gamma")
        self.beta = self.add_weight((width,), initializer="zeros", name="beta")
        self.gamma_shift = layers.Dense(
            width, use_bias=False, kernel_initializer="zeros", name="gamma_dense"
        )
        self.beta_shift = layers.Dense(
            width, use_bias=False, kernel_initializer="zeros", name="beta_dense"
        )
        self.gamma_shift.build(condition_shape)
        self.beta_shift.build(condition_shape)

    def call(self, hidden, condition):
        if len(condition.shape) == 2:
            condition = ops.expand_dims(condition, 1)
        mean = ops.mean(hidden, axis=-1, keepdims=True)
        variance = ops.var(hidden, axis=-1, keepdims=True)
        normalized = (hidden - mean) * ops.rsqrt(variance + self.epsilon)
        scale = self.gamma + self.gamma_shift(condition)
        return normalized * scale + self.beta + self.beta_shift(condition)

    def copy_norm(self, layer_norm: layers.LayerNormalization) -> None:
        """Start ``gamma`` and ``beta`` from ``layer_norm``'s (a pre-trained one). The values are
        copied through the host: on JAX, assigning one variable to another shares its buffer,
        which a training step would then donate twice."""
        self.gamma.assign(ops.convert_to_numpy(layer_norm.gamma))
        self.beta.assign(ops.convert_to_numpy(layer_norm.beta))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}

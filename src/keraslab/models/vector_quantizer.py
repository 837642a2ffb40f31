"""Vector quantizers for a VQ-VAE: each encoder vector becomes its nearest codebook vector.

Both layers take ``z`` (..., D) and return ``(quantized, codes)``: ``quantized = z +
stop_gradient(e - z)`` (the straight-through estimator: the forward pass sees the code vector
``e``, the backward pass hands the decoder's gradient to the encoder unchanged) and ``codes``
(...,) the chosen indices. The nearest code comes from ``‖z‖² − 2 z·e + ‖e‖²`` as one (N, K)
matrix product, never an (N, K, D) tensor.

- :class:`VectorQuantizer`: a trained codebook; adds ``‖sg(z) − e‖² + β ‖z − sg(e)‖²`` (codebook
  and commitment terms, means over elements) to the model's losses.
- :class:`VectorQuantizerEMA`: the codebook follows exponential moving averages of each code's
  assignment count ``N_k`` and vector sum ``m_k`` (decay ``γ``, Laplace smoothing ``ε``), ``e_k =
  m_k / N_k``; only the commitment term is a loss. It moves in training steps only.

With ``restart_after`` set, a code that no training batch has chosen for that many steps is
reset to a random encoder vector of the current batch (dead-code restart). The counters and
codebook statistics are non-trainable variables, saved with the model; the draws come from a
seed generator whose state the trainer saves beside each checkpoint.
"""

import keras
from keras import layers, ops


class _Quantizer(layers.Layer):
    def __init__(
        self,
        num_codes: int,
        beta: float = 0.25,
        restart_after: int | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_codes = num_codes
        self.beta = beta
        self.restart_after = restart_after
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, z_shape):
        self.code_dim = z_shape[-1]
        self.steps_unused = self.add_weight(
            (self.num_codes,), initializer="zeros", trainable=False, name="steps_unused"
        )

    def codebook_vectors(self):
        raise NotImplementedError

    def nearest(self, flat):
        """Indices (N,) of the nearest codes to ``flat`` (N, D), by ``‖z‖² − 2 z·e + ‖e‖²``."""
        codebook = self.codebook_vectors()
        distances = (
            ops.sum(flat**2, axis=1, keepdims=True)
            - 2 * ops.matmul(flat, ops.transpose(codebook))
            + ops.sum(codebook**2, axis=1)[None, :]
        )
        return ops.argmin(distances, axis=1)

    def call(self, z, training=None):
        flat = ops.reshape(z, (-1, self.code_dim))
        codes = self.nearest(flat)
        vectors = ops.take(self.codebook_vectors(), codes, axis=0)
        self.add_loss(self.quantization_loss(flat, vectors))
        if training:  # the codebook as this batch saw it quantizes it; the update is for the next
            self.learn(flat, ops.one_hot(codes, self.num_codes, dtype=flat.dtype))
        quantized = flat + ops.stop_gradient(vectors - flat)
        return ops.reshape(quantized, ops.shape(z)), ops.reshape(codes, ops.shape(z)[:-1])

    def learn(self, flat, one_hot) -> None:
        """What a training batch changes: the codebook statistics, then the dead-code restarts."""
        if self.restart_after:
            self.restart_dead_codes(flat, ops.sum(one_hot, axis=0))

    def restart_dead_codes(self, flat, counts) -> None:
        unused = ops.where(counts > 0, 0.0, self.steps_unused.value + 1.0)
        dead = unused >= self.restart_after
        picks = keras.random.randint(
            (self.num_codes,), 0, ops.shape(flat)[0], seed=self.seed_generator
        )
        replacements = ops.stop_gradient(ops.take(flat, picks, axis=0))
        self.reset_codes(dead, replacements)
        self.steps_unused.assign(ops.where(dead, 0.0, unused))

    def reset_codes(self, dead, replacements) -> None:
        """Make the code vectors of ``dead`` (K,) equal ``replacements`` (K, D) there."""
        raise NotImplementedError

    def quantization_loss(self, flat, vectors):
        return self.beta * ops.mean((flat - ops.stop_gradient(vectors)) ** 2)

    def get_config(self):
        return {
            **super().get_config(),
            "num_codes": self.num_codes,
            "beta": self.beta,
            "restart_after": self.restart_after,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keraslab")
class VectorQuantizer(_Quantizer):
    """The codebook is trained by its loss term. It is ``base + offset``: the optimizer trains
    ``base`` and a restart sets the non-trainable ``offset`` (so a restart can happen inside a
    compiled training step on any backend, which may not assign trainable variables there)."""

    def build(self, z_shape):
        super().build(z_shape)
        limit = 1.0 / self.num_codes
        self.codebook = self.add_weight(
            (self.num_codes, self.code_dim),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed),
            name="codebook",
        )
        self.offset = self.add_weight(
            (self.num_codes, self.code_dim), initializer="zeros", trainable=False, name="offset"
        )

    def codebook_vectors(self):
        return self.codebook + self.offset

    def reset_codes(self, dead, replacements) -> None:
        self.offset.assign(
            ops.where(dead[:, None], replacements - self.codebook.value, self.offset.value)
        )

    def quantization_loss(self, flat, vectors):
        codebook_term = ops.mean((ops.stop_gradient(flat) - vectors) ** 2)
        return codebook_term + super().quantization_loss(flat, vectors)


@keras.saving.register_keras_serializable(package="keraslab")
class VectorQuantizerEMA(_Quantizer):
    """``N ← γN + (1 − γ) n``, ``m ← γm + (1 − γ) Σ z`` over each code's vectors in the batch,
    ``N̂_k = (N_k + ε) / (ΣN + Kε) · ΣN`` (Laplace smoothing, so no code divides by 0) and
    ``e_k = m_k / N̂_k``. A restarted code gets ``N_k = 1`` and ``m_k`` its new vector."""

    def __init__(self, num_codes: int, decay: float = 0.99, epsilon: float = 1e-5, **kwargs):
        super().__init__(num_codes, **kwargs)
        self.decay = decay
        self.epsilon = epsilon

    def build(self, z_shape):
        super().build(z_shape)
        shape = (self.num_codes, self.code_dim)
        self.codebook = self.add_weight(
            shape,
            initializer=keras.initializers.RandomNormal(seed=self.seed),
            trainable=False,
            name="codebook",
        )
        self.counts = self.add_weight(
            (self.num_codes,), initializer="ones", trainable=False, name="ema_counts"
        )
        # N = 1 and m = e: the averages start at the initial codes. (A copy through the host: on
        # JAX, assigning one variable to another shares a buffer that training donates twice.)
        start = ops.convert_to_numpy(self.codebook)
        self.sums = self.add_weight(
            shape,
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(start, dtype),
            trainable=False,
            name="ema_sums",
        )

    def codebook_vectors(self):
        return self.codebook

    def learn(self, flat, one_hot) -> None:
        counts = ops.sum(one_hot, axis=0)
        sums = ops.matmul(ops.transpose(one_hot), ops.stop_gradient(flat))
        self.counts.assign(self.decay * self.counts + (1 - self.decay) * counts)
        self.sums.assign(self.decay * self.sums + (1 - self.decay) * sums)
        self._update_codebook()
        super().learn(flat, one_hot)

    def _update_codebook(self) -> None:
        total = ops.sum(self.counts)
        smoothed = (self.counts + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        self.codebook.assign(self.sums / smoothed[:, None])

    def reset_codes(self, dead, replacements) -> None:
        self.counts.assign(ops.where(dead, 1.0, self.counts.value))
        self.sums.assign(ops.where(dead[:, None], replacements, self.sums.value))
        self._update_codebook()

    def get_config(self):
        return {**super().get_config(), "decay": self.decay, "epsilon": self.epsilon}

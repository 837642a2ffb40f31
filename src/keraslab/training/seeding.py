"""Make a run reproducible: same seed and machine give the same losses."""

import keras


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask TensorFlow for deterministic kernels.

    TensorFlow's op determinism is the one backend-specific switch here; JAX is deterministic
    on CPU without one.
    """
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

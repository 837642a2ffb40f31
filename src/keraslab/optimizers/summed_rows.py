"""Sum an embedding gradient's duplicate rows before the base optimizer sees them.

On TensorFlow an ``Embedding``'s gradient reaches the optimizer as ``IndexedSlices``: one slice
per lookup, so a row looked up k times in a batch (every [CLS], [PAD], every common character)
comes as k slices. Keras's update rules apply their element-wise functions to the slices and
only then add them into the variable, so that row gets ``sum_i f(g_i)`` where the dense gradient
gives ``f(sum_i g_i)``: Adam's and RMSprop's second moment gets ``sum_i g_i^2`` instead of
``(sum_i g_i)^2``, Lion's sign is taken per lookup. Any rule that is not linear in the gradient
is off. Summing each row's slices first makes every base's update the dense one, while the
gradient stays sparse (one slice per distinct row, so lazy updates still see which rows moved).
JAX hands over dense gradients, so there nothing is done.
"""

import keras

from keraslab.optimizers.wrapper import OptimizerWrapper


def summed_rows(gradient):
    """``gradient`` with one slice per distinct row when it is TensorFlow ``IndexedSlices``:
    ``values[r] = sum of the slices whose index is r``; any other gradient as it is."""
    if keras.backend.backend() != "tensorflow":
        return gradient
    import tensorflow as tf

    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    rows, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


@keras.saving.register_keras_serializable(package="keraslab")
class SumDuplicateRows(OptimizerWrapper):
    """Hands ``inner`` each sparse gradient with its duplicate rows summed (:func:`summed_rows`).

    ``build_optimizer`` puts it right around the base optimizer, so every base gets the update
    the dense gradient would give.
    """

    def _apply(self, grads, variables):
        self.inner.apply([None if g is None else summed_rows(g) for g in grads], variables)

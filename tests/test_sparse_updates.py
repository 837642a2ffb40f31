"""Embedding rows looked up more than once in a batch: every base optimizer built by
``build_optimizer`` updates them as the dense gradient would (TensorFlow hands an ``Embedding``'s
gradient over as one slice per lookup; see ``keraslab.optimizers.summed_rows``)."""

import keras
import numpy as np
import pytest

from keraslab.optimizers import build_optimizer, innermost

VOCAB, DIM = 6, 3
TABLE = np.linspace(-1.0, 1.0, VOCAB * DIM, dtype="float32").reshape(VOCAB, DIM)
# Row 1 three times in the first sequence, [0] and [5] in both: the duplicates the bug needs.
IDS = np.array([[1, 1, 0, 1], [5, 0, 2, 5]], "int32")
TARGETS = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], "float32")


def sums_of_rows(sparse: bool) -> keras.Model:
    """``sum_t table[ids_t]``: through an ``Embedding`` (a sparse gradient on TensorFlow), or
    as ``one_hot(ids) @ table`` (always dense)."""
    ids = keras.Input((IDS.shape[1],), dtype="int32")
    if sparse:
        rows = keras.layers.Embedding(VOCAB, DIM, embeddings_initializer="zeros", name="table")
        vectors = rows(ids)
        table = rows
    else:
        table = keras.layers.Dense(DIM, use_bias=False, kernel_initializer="zeros", name="table")
        vectors = table(keras.ops.one_hot(ids, VOCAB))
    model = keras.Model(ids, keras.ops.sum(vectors, axis=1))
    table.weights[0].assign(TABLE)
    return model


def trained_table(sparse: bool, optimizer, steps: int = 3) -> np.ndarray:
    model = sums_of_rows(sparse)
    model.compile(optimizer=optimizer, loss="mse")
    for _ in range(steps):
        model.train_on_batch(IDS, TARGETS)
    return keras.ops.convert_to_numpy(model.get_layer("table").weights[0])


@pytest.mark.parametrize("base", ["adam", "sgd", "rmsprop", "lion"])
def test_repeated_rows_get_the_dense_update_for_every_base(base):
    sparse = trained_table(True, build_optimizer(base, 0.05))
    dense = trained_table(False, build_optimizer(base, 0.05))
    np.testing.assert_allclose(sparse, dense, atol=1e-6)
    assert not np.allclose(sparse, TABLE), "the table moved"


def test_the_issues_minimal_case_one_row_twice():
    """Gradients 1 and 1 for one row, Adam(0.1), two steps: as for the dense gradient 2,
    ``v_1 = 0.001 * 2^2``, ``v_2 = 0.999 v_1 + 0.001 * 2^2 = 0.007996`` and the weight goes
    1 -> 0.9 -> 0.8 (Keras alone on TensorFlow: v = 0.003998, weight 0.717)."""
    ids = keras.Input((2,), dtype="int32")
    rows = keras.layers.Embedding(3, 1, embeddings_initializer="ones")
    model = keras.Model(ids, keras.ops.sum(rows(ids), axis=1))
    model.compile(optimizer=build_optimizer("adam", 0.1), loss="mae")
    for _ in range(2):
        model.train_on_batch(np.array([[0, 0]]), np.array([[-100.0]], "float32"))
    adam = innermost(model.optimizer)
    velocity = keras.ops.convert_to_numpy(adam._velocities[0])
    assert velocity[0, 0] == pytest.approx(0.007996, rel=1e-5)
    assert keras.ops.convert_to_numpy(rows.embeddings)[0, 0] == pytest.approx(0.8, abs=1e-5)


def test_keras_alone_gets_the_repeated_rows_wrong_on_tensorflow():
    """The reason for the wrapper; JAX's dense gradients are right without it."""
    sparse = trained_table(True, keras.optimizers.Adam(0.05))
    dense = trained_table(False, keras.optimizers.Adam(0.05))
    if keras.backend.backend() == "tensorflow":
        assert np.abs(sparse - dense).max() > 1e-3
    else:
        np.testing.assert_allclose(sparse, dense, atol=1e-6)

"""Optimizer wrappers against numpy references of techniques.md §6, and against Keras built-ins.

Trajectories run 24 updates in float64 on the variables of a small model (an embedding table, a
Dense layer, a LayerNorm), with gradients ``g_t(w) = w - target + noise_t`` so that every step
depends on where the weights are; embedding rows outside a random subset get zero gradient.
"""

from collections.abc import Callable

import keras
import numpy as np
import pytest
from keras import ops

from keraslab.optimizers import (
    ExponentialMovingAverage,
    GradientAccumulation,
    LayerAdaptation,
    LazyUpdates,
    Lookahead,
    PiecewiseLinear,
    WeightDecay,
    update_count,
)

STEPS = 24
LR, DECAY = 0.05, 0.1
DEFAULT_EXCLUDE = ("LayerNorm", "layer_norm", "bias$")


@pytest.fixture(autouse=True)
def float64():
    """float64 variables. JAX keeps them only with x64 on from start-up (JAX_ENABLE_X64=1, as
    ``make test`` runs this file under JAX)."""
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("float64 under JAX needs JAX_ENABLE_X64=1 when the process starts")
    # Layers take their dtype from the global dtype policy, which Keras caches from floatx the
    # first time it is read: set both.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")


def model_variables() -> list[keras.Variable]:
    keras.utils.set_random_seed(1)
    embeddings = keras.layers.Embedding(8, 3, name="word_embeddings")
    dense = keras.layers.Dense(3, name="dense", bias_initializer="ones")
    norm = keras.layers.LayerNormalization(name="LayerNorm")
    embeddings.build((None,))
    dense.build((None, 3))
    norm.build((None, 3))
    return [*embeddings.weights, *dense.weights, *norm.weights]


def values(variables) -> dict[str, np.ndarray]:
    return {v.path: ops.convert_to_numpy(v).copy() for v in variables}


def gradient_at(step: int, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(step)
    grads = {}
    for path, w in weights.items():
        g = w - 0.5 + rng.normal(size=w.shape)
        if path.startswith("word_embeddings"):
            g[rng.random(len(g)) < 0.6] = 0.0  # rows this "batch" did not use
        grads[path] = g
    return grads


def run_ours(optimizer, steps: int = STEPS) -> dict[str, np.ndarray]:
    variables = model_variables()
    for step in range(steps):
        grads = gradient_at(step, values(variables))
        optimizer.apply([ops.convert_to_tensor(grads[v.path]) for v in variables], variables)
    return values(variables)


def run_reference(update: Callable, steps: int = STEPS) -> dict[str, np.ndarray]:
    """``update(step, weights, grads) -> weights`` over the same gradient rule."""
    weights = values(model_variables())
    for step in range(steps):
        weights = update(step, weights, gradient_at(step, weights))
    return weights


def assert_same(ours, reference, atol=1e-6):
    for path in reference:
        np.testing.assert_allclose(ours[path], reference[path], atol=atol, rtol=0, err_msg=path)


class NumpyMomentum:
    """Keras's SGD with momentum: ``m <- mu * m - lr * g``, ``w <- w + m``. The base under the
    formula tests: numpy reproduces it exactly, so a difference can only come from a wrapper."""

    def __init__(self, learning_rate=LR, momentum=0.9):
        self.learning_rate, self.momentum, self.m = learning_rate, momentum, {}

    def deltas(self, grads, learning_rate=None) -> dict[str, np.ndarray]:
        lr = self.learning_rate if learning_rate is None else learning_rate
        for path, g in grads.items():
            self.m[path] = self.momentum * self.m.get(path, 0) - lr * g
        return dict(self.m)


def momentum_sgd(learning_rate=LR):
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


def excluded(path, patterns=DEFAULT_EXCLUDE) -> bool:
    import re

    return any(re.search(p, path) for p in patterns)


def adam(**options):
    return keras.optimizers.Adam(LR, **options)


# --- each wrapper against its formula ------------------------------------------------------


def test_decoupled_weight_decay_skips_layernorm_and_biases_by_path():
    reference = NumpyMomentum()

    def update(step, w, g):
        deltas = reference.deltas(g)
        return {p: w[p] + deltas[p] - (0 if excluded(p) else LR * DECAY * w[p]) for p in w}

    assert_same(run_ours(WeightDecay(momentum_sgd(), DECAY)), run_reference(update))


def test_layer_adaptation_scales_the_decayed_update_by_the_trust_ratio():
    reference = NumpyMomentum()

    def update(step, w, g):
        deltas = reference.deltas(g)
        new = {}
        for p in w:
            dw = deltas[p] - (0 if excluded(p) else LR * DECAY * w[p])
            if excluded(p):
                new[p] = w[p] + dw
                continue
            w_norm, u_norm = np.linalg.norm(w[p]), np.linalg.norm(dw / LR)
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            new[p] = w[p] + ratio * dw
        return new

    ours = run_ours(LayerAdaptation(WeightDecay(momentum_sgd(), DECAY)))
    assert_same(ours, run_reference(update))


def test_piecewise_linear_schedule_interpolates_prepends_zero_and_holds():
    schedule = PiecewiseLinear(2.0, {4: 1.0, 10: 0.1})
    steps = np.arange(0, 16)
    expected = 2.0 * np.interp(steps, [0, 4, 10], [0.0, 1.0, 0.1])
    got = [float(ops.convert_to_numpy(schedule(step))) for step in steps]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert float(ops.convert_to_numpy(PiecewiseLinear(1.0, {0: 0.5, 2: 1.0})(0))) == 0.5

    reference = NumpyMomentum()

    def update(step, w, g):
        lr = LR * np.interp(step, [0, 4, 10], [0.0, 1.0, 0.1])
        deltas = reference.deltas(g, learning_rate=lr)
        return {p: w[p] + deltas[p] for p in w}

    ours = run_ours(momentum_sgd(PiecewiseLinear(LR, {4: 1.0, 10: 0.1})))
    assert_same(ours, run_reference(update))


def test_lookahead_syncs_every_k_updates_from_the_starting_weights():
    k, alpha = 5, 0.5
    slow = values(model_variables())

    def update(step, w, g):
        new = {p: w[p] - LR * g[p] for p in w}
        if (step + 1) % k == 0:
            for p in new:
                slow[p] = slow[p] + alpha * (new[p] - slow[p])
                new[p] = slow[p].copy()
        return new

    ours = run_ours(Lookahead(keras.optimizers.SGD(LR), k, alpha))
    assert_same(ours, run_reference(update))


def test_the_first_lookahead_sync_does_not_shrink_the_weights():
    variables = model_variables()
    start = values(variables)
    optimizer = Lookahead(keras.optimizers.SGD(LR), k=3, alpha=0.5)
    for _ in range(3):  # zero gradients: the fast weights stay put, so must the sync
        optimizer.apply([ops.zeros(v.shape, v.dtype) for v in variables], variables)
    assert_same(values(variables), start, atol=0)


def test_lazy_rows_without_gradient_keep_their_values():
    reference = NumpyMomentum()

    def update(step, w, g):
        deltas = reference.deltas(g)
        new = {p: w[p] + deltas[p] for p in w}
        table = "word_embeddings/embeddings"
        untouched = ~np.any(g[table] != 0, axis=1)
        new[table][untouched] = w[table][untouched]
        return new

    assert_same(run_ours(LazyUpdates(momentum_sgd(), ["word_embeddings"])), run_reference(update))


def test_lazy_rows_left_out_of_an_update_do_not_move_while_adam_momentum_moves_them():
    table = "word_embeddings/embeddings"
    lazy_variables, plain_variables = model_variables(), model_variables()
    lazy, plain = LazyUpdates(adam(), ["word_embeddings"]), adam()

    def step(row):
        grad = np.zeros((8, 3))
        grad[row] = 1.0
        grads = [
            ops.convert_to_tensor(grad),
            *[ops.zeros(v.shape, v.dtype) for v in lazy_variables[1:]],
        ]
        lazy.apply(grads, lazy_variables)
        plain.apply(grads, plain_variables)

    for row in (1, 2, 3):
        step(row)
    lazy_before, plain_before = values(lazy_variables)[table], values(plain_variables)[table]
    step(0)  # only row 0 has a gradient now
    lazy_after, plain_after = values(lazy_variables)[table], values(plain_variables)[table]
    np.testing.assert_array_equal(lazy_after[1:], lazy_before[1:])
    assert np.all(np.abs(plain_after[1:4] - plain_before[1:4]) > 1e-4)  # momentum
    assert np.all(np.abs(lazy_after[0] - lazy_before[0]) > 1e-4)


@pytest.mark.parametrize("warmup", [False, True], ids=["plain", "warmup"])
def test_ema_follows_its_formula_and_never_changes_the_training_trajectory(warmup):
    decay = 0.9
    shadows = values(model_variables())

    def update(step, w, g):
        new = {p: w[p] - LR * g[p] for p in w}
        m = min(decay, (1 + step) / (10 + step)) if warmup else decay
        for p in new:
            shadows[p] = m * shadows[p] + (1 - m) * new[p]
        return new

    optimizer = ExponentialMovingAverage(keras.optimizers.SGD(LR), decay, warmup)
    variables = model_variables()
    for step in range(STEPS):
        grads = gradient_at(step, values(variables))
        optimizer.apply([ops.convert_to_tensor(grads[v.path]) for v in variables], variables)
    raw = values(variables)
    assert_same(raw, run_reference(update))
    with optimizer.averaged_weights():
        assert_same(values(variables), shadows)
    assert_same(values(variables), raw, atol=0)  # raw weights back, bit for bit


# --- gradient accumulation ------------------------------------------------------------------


def regression_data(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    return x, x @ rng.normal(size=(5, 2)) + 0.1 * rng.normal(size=(rows, 2))


def fitted_kernel(optimizer, x, y, batch_size: int) -> np.ndarray:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(4, activation="tanh")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))  # no BatchNorm
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    return np.concatenate([ops.convert_to_numpy(w).ravel() for w in model.weights])


@pytest.mark.parametrize("base", ["adam", "sgd"])
def test_accumulating_n_batches_of_b_equals_one_batch_of_n_times_b(base):
    n, b = 4, 8
    x, y = regression_data(n * b * 5)
    points = {3: 1.0, 8: 0.2}

    def optimizer():
        rate = PiecewiseLinear(0.05, points)
        return keras.optimizers.Adam(rate) if base == "adam" else keras.optimizers.SGD(rate)

    accumulated = fitted_kernel(GradientAccumulation(optimizer(), n), x, y, b)
    big_batch = fitted_kernel(optimizer(), x, y, n * b)
    np.testing.assert_allclose(accumulated, big_batch, atol=1e-5, rtol=0)


def test_a_short_last_micro_batch_counts_for_its_size():
    x, y = regression_data(20)  # micro-batches of 8, 8 and 4: one update over all 20 rows
    accumulation = GradientAccumulation(keras.optimizers.SGD(0.1), steps=3)
    accumulation.set_micro_batch_sizes([8, 8, 4])
    weighted = fitted_kernel(accumulation, x, y, 8)
    whole = fitted_kernel(keras.optimizers.SGD(0.1), x, y, 20)
    np.testing.assert_allclose(weighted, whole, atol=1e-7, rtol=0)
    unweighted = fitted_kernel(GradientAccumulation(keras.optimizers.SGD(0.1), 3), x, y, 8)
    assert np.abs(unweighted - whole).max() > 1e-4


def test_wrappers_outside_accumulation_advance_on_real_updates_only():
    variables = model_variables()
    ema = ExponentialMovingAverage(GradientAccumulation(keras.optimizers.SGD(LR), 4), 0.5)
    for step in range(10):
        grads = gradient_at(step, values(variables))
        ema.apply([ops.convert_to_tensor(grads[v.path]) for v in variables], variables)
    assert update_count(ema) == 2 and int(ops.convert_to_numpy(ema.inner.micro_step)) == 10


# --- against Keras's built-in optimizers ----------------------------------------------------


def test_weight_decay_over_adam_is_keras_adamw():
    ours = run_ours(WeightDecay(adam(), DECAY, exclude=()))
    theirs = run_ours(keras.optimizers.AdamW(LR, weight_decay=DECAY))
    assert_same(ours, theirs, atol=1e-9)  # float64 rounding: the order of the products


def test_layer_adaptation_matches_keras_lamb_with_decay_outside_and_differs_with_it_inside():
    # Keras's Lamb adds epsilon to sqrt(v_hat), Adam to sqrt(v); a negligible epsilon removes
    # that difference, so what is compared is the trust ratio and where the decay goes.
    def our_adam():
        return keras.optimizers.Adam(LR, epsilon=1e-14)

    keras_lamb = run_ours(keras.optimizers.Lamb(LR, epsilon=1e-14, weight_decay=DECAY))
    outside = run_ours(WeightDecay(LayerAdaptation(our_adam(), exclude=()), DECAY, exclude=()))
    assert_same(outside, keras_lamb, atol=1e-8)
    inside = run_ours(LayerAdaptation(WeightDecay(our_adam(), DECAY, exclude=()), exclude=()))
    assert max(np.abs(inside[p] - keras_lamb[p]).max() for p in inside) > 1e-3


def test_accumulation_matches_keras_where_keras_is_right():
    ours = run_ours(GradientAccumulation(adam(), 3))
    theirs = run_ours(keras.optimizers.Adam(LR, gradient_accumulation_steps=3))
    assert_same(ours, theirs, atol=1e-12)


def test_keras_accumulation_feeds_schedules_micro_steps_and_averages_every_micro_step():
    def schedule():
        return PiecewiseLinear(LR, {6: 1.0})

    ours = GradientAccumulation(keras.optimizers.SGD(schedule()), 3)
    theirs = keras.optimizers.SGD(schedule(), gradient_accumulation_steps=3)
    run_ours(ours, steps=6)
    run_ours(theirs, steps=6)
    # After 6 micro-steps (2 updates) the schedule should read step 2 of its warm-up: 2/6 of LR.
    assert float(ops.convert_to_numpy(ours.learning_rate)) == pytest.approx(LR * 2 / 6)
    assert float(ops.convert_to_numpy(theirs.learning_rate)) == pytest.approx(LR * 6 / 6)

    ours_ema = ExponentialMovingAverage(GradientAccumulation(keras.optimizers.SGD(LR), 3), 0.5)
    theirs_ema = keras.optimizers.SGD(
        LR, gradient_accumulation_steps=3, use_ema=True, ema_momentum=0.5
    )
    ours_weights, theirs_weights = run_ours(ours_ema, steps=6), run_ours(theirs_ema, steps=6)
    assert_same(ours_weights, theirs_weights, atol=1e-12)  # same training trajectory ...
    keras_average = {
        v.path.split("/", 1)[1]: ops.convert_to_numpy(a)
        for v, a in zip(
            theirs_ema._trainable_variables, theirs_ema._model_variables_moving_average, strict=True
        )
    }
    with ours_ema.averaged_weights():
        ours_average = {
            v.path.split("/", 1)[1]: ops.convert_to_numpy(v) for v in ours_ema._trainable_variables
        }
    # ... but Keras moved its average on all 6 micro-steps, ours on the 2 updates.
    assert max(np.abs(ours_average[p] - keras_average[p]).max() for p in ours_average) > 1e-3

"""The wrappers' own arguments and state through the Python API: bad values are refused by name,
an optimizer built for one model refuses another's variables, a selection of variables by
pattern that selects nothing says so, and wrapping an optimizer that has trained starts from the
weights as they are."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keraslab.optimizers import (
    ExponentialMovingAverage,
    GradientAccumulation,
    LazyUpdates,
    Lookahead,
    WeightDecay,
    build_optimizer,
)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda adam: GradientAccumulation(adam, 0),
            "GradientAccumulation steps must be an integer >= 1, got 0.",
        ),
        (
            lambda adam: GradientAccumulation(adam, -2),
            "GradientAccumulation steps must be an integer >= 1, got -2.",
        ),
        (
            lambda adam: GradientAccumulation(adam, 1.5),
            "GradientAccumulation steps must be an integer >= 1, got 1.5.",
        ),
        (lambda adam: Lookahead(adam, k=0), "Lookahead k must be an integer >= 1, got 0."),
        (
            lambda adam: Lookahead(adam, alpha=0.0),
            "Lookahead alpha must be a number in (0.0, 1.0], got 0.0.",
        ),
        (
            lambda adam: ExponentialMovingAverage(adam, 1.0),
            "ExponentialMovingAverage decay must be a number in [0.0, 1.0), got 1.0.",
        ),
        (
            lambda adam: WeightDecay(adam, -0.1),
            "WeightDecay rate must be a number in [0.0, 1.0], got -0.1.",
        ),
    ],
)
def test_bad_wrapper_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError) as raised:
        make(keras.optimizers.Adam())
    assert str(raised.value) == message


def regression_model(optimizer) -> keras.Model:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="JAX's trainer applies an optimizer statelessly, to the values it is handed, by position",
)
def test_an_optimizer_serves_the_one_model_it_was_built_for():
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    optimizer = build_optimizer("adam", 1e-3, ema=0.9)
    regression_model(optimizer).fit(x, y, verbose=0)
    with pytest.raises(
        ValueError,
        match=r"was built for another model's variables and holds no state for .*kernel.*give this model an optimizer of its own",
    ):
        regression_model(optimizer).fit(x, y, verbose=0)


def test_patterns_that_select_no_variable_are_named_with_the_paths():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="dense")])
    with pytest.warns(
        UserWarning,
        match=r"LazyUpdates include patterns \['word_embeddings'\] match no variable, so they change nothing; the variable paths are: \S*dense/kernel, \S*dense/bias",
    ):
        LazyUpdates(keras.optimizers.Adam(), ["word_embeddings"]).build(model.trainable_variables)
    with pytest.warns(
        UserWarning, match=r"WeightDecay exclude patterns \['LayerNorm'\] match no variable"
    ):
        WeightDecay(keras.optimizers.Adam(), 0.01, ["LayerNorm"]).build(model.trainable_variables)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one matching pattern of several: no warning
        WeightDecay(keras.optimizers.Adam(), 0.01, ["nothing", "bias$"]).build(
            model.trainable_variables
        )


def trained_sgd(weights: keras.Variable) -> keras.optimizers.SGD:
    """An SGD (learning rate 0: the weights stay put) with one update behind it."""
    sgd = keras.optimizers.SGD(0.0)
    sgd.apply([ops.ones(3, "float32")], [weights])
    return sgd


def test_lookahead_over_an_optimizer_that_has_trained_starts_from_the_weights():
    """The issue's minimal case: the first sync used to pull the weights halfway to zero."""
    weights = keras.Variable(np.ones(3, "float32"))
    lookahead = Lookahead(trained_sgd(weights), k=2, alpha=0.5)
    for _ in range(2):  # base updates 2 and 3; lookahead's own 1 and 2: one sync
        lookahead.apply([ops.ones(3, "float32")], [weights])
    np.testing.assert_array_equal(ops.convert_to_numpy(weights), np.ones(3, "float32"))
    assert int(ops.convert_to_numpy(lookahead.own_updates)) == 2


def test_ema_over_an_optimizer_that_has_trained_averages_from_the_weights():
    """The average used to start from zeros: 0.1 after one update with decay 0.9."""
    weights = keras.Variable(np.ones(3, "float32"))
    ema = ExponentialMovingAverage(trained_sgd(weights), 0.9, warmup=True)
    assert float(ema.decay_at(0)) == pytest.approx(0.1)  # warm-up counts ema's own updates
    ema.apply([ops.ones(3, "float32")], [weights])
    with ema.averaged_weights():
        np.testing.assert_allclose(ops.convert_to_numpy(weights), np.ones(3, "float32"))

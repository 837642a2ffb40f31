"""Tasks on the one run path: a task written only in the tests (``toy_regression``) trains,
resumes and is tracked under its own metric names; the classifier picks its best checkpoint by
``val_ema_accuracy``; ``scripts/evaluate.py`` reproduces a run's own test metrics; bad ``run=``
and ``split=`` values stop with one clear error."""

import json
import os
from pathlib import Path

import pytest
from conftest import ROOT, TINY_MODEL, run_script, runs_of
from mlflow import MlflowClient
from toy_regression import write_configs, write_numbers

TOY_ENV = {
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
}


@pytest.fixture(scope="module")
def numbers(tmp_path_factory) -> tuple[Path, Path]:
    """The toy task's data folder and the config folder that adds model=regression, data=numbers."""
    folder = tmp_path_factory.mktemp("numbers")
    for split, rows, seed in (("train", 256, 0), ("valid", 64, 1), ("test", 64, 2)):
        write_numbers(folder / "data" / f"{split}.csv", rows, seed)
    return folder / "data", write_configs(folder / "conf", folder / "data")


def toy_args(numbers, run_dir: Path) -> list[str]:
    _, conf = numbers
    return [
        f"hydra.searchpath=[file://{conf}]",
        "model=regression",
        "data=numbers",
        "task_name=regression",
        "optimizer.learning_rate=0.05",
        "trainer.log_every_n_steps=4",
        f"hydra.run.dir={run_dir}",
    ]


def history(client, run_id: str, name: str) -> list[float]:
    return [m.value for m in client.get_metric_history(run_id, name)]


@pytest.fixture(scope="module")
def toy_run(numbers, tmp_path_factory):
    """One epoch, then resumed to three: the run folder, the store and the run."""
    store = f"sqlite:///{tmp_path_factory.mktemp('toy-mlflow')}/mlflow.db"
    run_dir = tmp_path_factory.mktemp("toy") / "run"
    first = run_script([*toy_args(numbers, run_dir), "trainer.epochs=1"], store, env=TOY_ENV)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(
        [*toy_args(numbers, run_dir.parent / "other"), f"resume={run_dir}", "trainer.epochs=3"],
        store,
        env=TOY_ENV,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    client, runs = runs_of(store, "regression")
    assert len(runs) == 1, "the resumed run goes on in the same MLflow run"
    return run_dir, store, client.get_run(runs[0].info.run_id), resumed.stdout


def test_a_task_from_outside_the_package_trains_resumes_and_is_tracked_by_its_own_names(toy_run):
    run_dir, store, run, stdout = toy_run
    client = MlflowClient(store)
    assert run.info.status == "FINISHED"
    run_id = run.info.run_id
    for name in ("train_loss", "train_mae", "valid_loss", "valid_mae"):
        assert len(history(client, run_id, name)) == 3, name
    valid_loss = history(client, run_id, "valid_loss")
    assert valid_loss[-1] < 0.5 * valid_loss[0], "the regression learns"
    assert not [name for name in run.data.metrics if "accuracy" in name]
    assert run.data.metrics["best_valid_loss"] == min(valid_loss)
    assert run.data.metrics["best_valid_mae"] == min(history(client, run_id, "valid_mae"))
    assert {"test_loss", "test_mae"} <= set(run.data.metrics)

    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert (state["monitor"], state["mode"], state["epochs_done"]) == ("val_loss", "min", 3)
    assert state["best"] == pytest.approx(min(valid_loss))
    assert len(state["history"]["val_loss"]) == 3
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"features.txt", "regression", "model_summary.txt"} <= artifacts
    residuals = Path(client.download_artifacts(run_id, "regression/residuals.txt")).read_text()
    assert len(residuals.split()) == 64
    assert "best val_loss (min)" in stdout and "at epoch" in stdout
    assert f"returned (optimized_metric): best_valid_loss = {min(valid_loss):.4f}" in stdout
    assert str(run_dir) in stdout and run_id in stdout


def evaluate(args: list[str], store: str):
    """scripts/evaluate.py, able to import the toy task."""
    return run_script(args, store, script="evaluate.py", env=TOY_ENV)


def test_evaluate_reproduces_the_toy_runs_test_metrics(toy_run, numbers, tmp_path):
    run_dir, store, run, _ = toy_run
    result = evaluate(
        [f"run={run_dir}", f"split={numbers[0] / 'test.csv'}", f"hydra.run.dir={tmp_path}/eval"],
        store,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = runs_of(store, "regression")
    (evaluation,) = [r for r in runs if r.info.run_id != run.info.run_id]
    assert evaluation.data.tags["source.run_id"] == run.info.run_id
    assert evaluation.data.tags["eval.weights"] == "raw"
    assert evaluation.data.metrics["eval_loss"] == run.data.metrics["test_loss"]
    assert evaluation.data.metrics["eval_mae"] == run.data.metrics["test_mae"]
    assert f"mae {run.data.metrics['test_mae']:.6f}" in result.stdout


def test_a_ctrl_c_that_keras_drops_while_evaluating_kills_the_evaluation_run(
    toy_run, numbers, tmp_path, monkeypatch
):
    """The minimal case of the run's Ctrl-C test, for scripts/evaluate.py: SIGINT inside
    Keras's log conversion while the file is scored ended the evaluation run FINISHED."""
    from hydra import compose, initialize_config_dir
    from test_step_interrupts import ctrl_c_in_log_conversion_during

    from keraslab import evaluate_run

    run_dir = toy_run[0]
    store = f"sqlite:///{tmp_path}/evaluations.db"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "evaluate",
            [
                f"run={run_dir}",
                f"split={numbers[0] / 'test.csv'}",
                f"logger.tracking_uri={store}",
                f"paths.run_dir={tmp_path / 'evaluation'}",
            ],
        )
    ctrl_c_in_log_conversion_during(monkeypatch, evaluate_run, "evaluate_split")
    with pytest.raises(KeyboardInterrupt):
        evaluate_run.evaluate_run(cfg)
    _, (evaluation,) = runs_of(store, "regression")
    assert evaluation.info.status == "KILLED"


@pytest.fixture(scope="module")
def ema_run(corpus, tmp_path_factory):
    """The classifier with EMA, its best checkpoint picked by the averaged weights' accuracy."""
    store = f"sqlite:///{tmp_path_factory.mktemp('ema-mlflow')}/mlflow.db"
    run_dir = tmp_path_factory.mktemp("ema") / "run"
    args = [
        "trainer=debug",
        *TINY_MODEL,
        "optimizer.ema=0.9",
        "trainer.monitor=val_ema_accuracy",
        f"data.data_dir={corpus}",
        f"hydra.run.dir={run_dir}",
    ]
    result = run_script(args, store)
    assert result.returncode == 0, result.stderr[-3000:]
    _, (run,) = runs_of(store)
    return run_dir, store, run


def test_the_best_checkpoint_can_be_picked_by_the_ema_accuracy(ema_run):
    run_dir, store, run = ema_run
    assert run.info.status == "FINISHED"
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert (state["monitor"], state["mode"]) == ("val_ema_accuracy", "max")
    ema_accuracy = history(MlflowClient(store), run.info.run_id, "valid_ema_accuracy")
    assert state["best"] == pytest.approx(max(ema_accuracy))
    assert run.data.metrics["best_valid_ema_accuracy"] == max(ema_accuracy)
    assert (run_dir / "checkpoints" / "best.keras").is_file()
    errors = Path(
        MlflowClient(store).download_artifacts(run.info.run_id, "predictions/valid_errors.tsv")
    )
    lines = errors.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "text\tgold\tpredicted\tprobability"
    assert all(
        len(line.split("\t")) == 4 and line.split("\t")[1] != line.split("\t")[2]
        for line in lines[1:]
    )


@pytest.mark.parametrize(("weights", "prefix"), [("auto", "test_ema_"), ("raw", "test_")])
def test_evaluate_reproduces_the_classifiers_test_metrics(
    ema_run, corpus, weights, prefix, tmp_path
):
    run_dir, store, run = ema_run
    result = evaluate(
        [
            f"run={run_dir}",
            f"split={corpus / 'sentiment.test.data'}",
            f"weights={weights}",
            f"hydra.run.dir={tmp_path}/eval",
        ],
        store,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = runs_of(store)
    (evaluation,) = [
        r for r in runs if r.info.run_id != run.info.run_id and r.info.run_id in result.stdout
    ]
    for name in ("loss", "accuracy"):
        assert evaluation.data.metrics[f"eval_{name}"] == run.data.metrics[prefix + name], name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run=/no/such/run"],
            "error: run='/no/such/run' is not a run folder: there is no such folder",
        ),
        (
            ["run={tmp}"],
            "error: run='{tmp}' is not a run folder: it lacks {tmp}/.hydra/config.yaml",
        ),
        (
            ["run={toy}", "split={tmp}/none.csv"],
            "error: {tmp}/none.csv is not a file; expected x1,...,xn,y lines.",
        ),
        (
            ["run={toy}", "split={bad}"],
            "error: {bad}:2: expected numbers separated by commas, got 'a,b'.",
        ),
        (
            ["run={toy}", "split={good}", "weights=ema"],
            "error: weights=ema, but this run's optimizer keeps no moving average",
        ),
        (
            ["run={toy}", "split={good}", "weights=best"],
            "error: weights must be one of auto, ema, raw, got 'best'.",
        ),
    ],
)
def test_bad_run_or_split_stops_with_one_clear_error(toy_run, numbers, tmp_path, args, message):
    run_dir, _, _, _ = toy_run
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3,4\na,b\n")
    names = {"tmp": tmp_path, "toy": run_dir, "bad": bad, "good": numbers[0] / "test.csv"}
    args = [arg.format(**names) for arg in args]
    if not any(arg.startswith("split=") for arg in args):
        args.append(f"split={names['good']}")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    result = evaluate([*args, f"hydra.run.dir={tmp_path}/eval"], store)
    assert result.returncode == 2, result.stderr[-3000:]
    assert message.format(**names) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists() or not MlflowClient(store).search_experiments(
        filter_string="name = 'regression'"
    )


def test_a_failed_resume_leaves_the_run_as_it_was(toy_run, numbers, tmp_path):
    run_dir, store, run, _ = toy_run
    args = [*toy_args(numbers, tmp_path / "other"), f"resume={run_dir}", "trainer.epochs=4"]
    result = run_script([*args, "trainer.monitor=val_mae"], store, env=TOY_ENV)
    assert result.returncode == 2
    assert "resume: the run's best checkpoint was chosen by val_loss (min)" in result.stderr
    after = MlflowClient(store).get_run(run.info.run_id)
    assert after.info.status == run.info.status == "FINISHED"
    assert "error" not in after.data.tags
    assert after.data.tags["pid"] == run.data.tags["pid"]

    missing = f"sqlite:///{tmp_path}/elsewhere.db"
    result = run_script(args, missing, env=TOY_ENV)
    assert result.returncode == 2
    assert (
        f"resume: the run folder's MLflow run {run.info.run_id} is not in the store"
        in result.stderr
    )

"""End to end through scripts/run.py: MLflow runs, sweeps, failures, reproducibility, bad input."""

import getpass
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEBUG, ROOT, loss_history, run_script, runs_of


def test_debug_run_is_finished_with_params_metrics_and_artifacts(debug_run):
    client, run, _, _ = debug_run
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["optimizer.learning_rate"] == "0.001"
    assert params["data.maxlen"] == "32" and params["trainer.steps_per_epoch"] == "6"
    assert params["model.encoder.hidden_size"] == "32"

    assert [step for step, _ in loss_history(client, run.info.run_id)] == [2, 4, 6, 8, 10, 12]
    lr = client.get_metric_history(run.info.run_id, "learning_rate")
    assert [(m.step, m.value) for m in lr] == [
        (s, pytest.approx(1e-3)) for s in (2, 4, 6, 8, 10, 12)
    ]
    for name in ("train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "epoch"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, name)] == [6, 12], name
    assert {"test_loss", "test_accuracy", "best_valid_accuracy"} <= set(run.data.metrics)
    assert run.data.tags["mlflow.source.name"] == "scripts/run.py"
    assert run.data.tags["mlflow.user"] == getpass.getuser()
    experiment = client.get_experiment(run.info.experiment_id)  # the UI opens its runs page
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"vocab.txt", "model_summary.txt", "hydra"} <= artifacts
    assert {a.path for a in client.list_artifacts(run.info.run_id, "hydra")} == {
        "hydra/config.yaml",
        "hydra/overrides.yaml",
    }
    config_text = Path(client.download_artifacts(run.info.run_id, "hydra/config.yaml")).read_text()
    assert "maxlen: 32" in config_text and "num_layers: 1" in config_text
    summary = Path(client.download_artifacts(run.info.run_id, "model_summary.txt")).read_text()
    assert "Total params" in summary

    tags = run.data.tags
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", tags["git.commit"])
    assert tags["git.dirty"] in {"true", "false", "unknown"}
    assert "trainer=debug" in tags["hydra.overrides"]
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")  # make test runs this file on both
    assert run.data.params["backend"] == tags["keras.backend"] == backend
    assert tags["keras.version"].startswith("3.")
    assert tags["host"]


def test_a_run_starts_quietly_and_ends_with_a_summary(debug_run):
    _, run, run_dir, result = debug_run
    noises = ["oneDNN custom operations", "absl::InitializeLog", "fontManager", "font cache"]
    noises.append("Unable to initialize backend 'tpu'")  # JAX's notice, at Hydra's INFO level
    for noise in noises:
        assert noise not in result.stdout + result.stderr, noise
    summary = result.stdout[result.stdout.index("run finished") :]
    best = run.data.metrics["best_valid_accuracy"]
    assert f"best val_accuracy (max): {best:.4f} at epoch" in summary
    assert f"test_accuracy {run.data.metrics['test_accuracy']:.4f}" in summary
    assert f"returned (optimized_metric): best_valid_accuracy = {best:.4f}" in summary
    assert f"run folder: {run_dir}" in summary
    assert f"MLflow run {run.info.run_id} in experiment 'sentiment'" in summary
    assert "`make ui`, then http://127.0.0.1:5000/#/experiments/" in summary


def test_checkpoints_hold_weights_and_optimizer_state(debug_run):
    import keras

    from keraslab.training import Trainer

    _, _, run_dir, _ = debug_run
    last = Trainer.restore(run_dir / "checkpoints" / "last.keras")
    assert int(keras.ops.convert_to_numpy(last.optimizer.iterations)) == 12
    assert last.cls_only_last_block is True  # the default classifier's last block at [CLS] alone
    assert (run_dir / "checkpoints" / "best.keras").is_file()
    assert (run_dir / "vocab.txt").read_text(encoding="utf-8").startswith("[PAD]\n[UNK]\n")


def test_a_whole_block_run_trains_and_restores_its_switch(corpus, tracking_uri, tmp_path):
    from keraslab.training import Trainer

    args = [*DEBUG, f"data.data_dir={corpus}", f"hydra.run.dir={tmp_path}/run"]
    result = run_script([*args, "experiment=padded_to_maxlen"], tracking_uri)
    assert result.returncode == 0, result.stderr[-3000:]
    _, (run,) = runs_of(tracking_uri)
    assert run.info.status == "FINISHED" and "best_valid_accuracy" in run.data.metrics
    assert run.data.params["model.cls_only_last_block"] == "False"
    assert run.data.params["data.pad_to_multiple"] == "None"
    best = Trainer.restore(tmp_path / "run" / "checkpoints" / "best.keras", compile=False)
    assert best.cls_only_last_block is False


def test_multirun_makes_one_parent_with_a_child_per_job(corpus, tracking_uri, tmp_path, debug_run):
    result = run_script(
        [
            "-m",
            *DEBUG,
            f"data.data_dir={corpus}",
            f"hydra.sweep.dir={tmp_path}/sweep",
            "optimizer.learning_rate=1e-3,3e-3",
        ],
        tracking_uri,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client, runs = runs_of(tracking_uri)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children)
    assert sorted(r.data.tags["job.num"] for r in children) == ["0", "1"]
    assert sorted(r.data.params["optimizer.learning_rate"] for r in children) == ["0.001", "0.003"]
    assert sorted(r.info.run_name for r in children) == [
        "learning_rate=0.001 (job 0)",
        "learning_rate=0.003 (job 1)",
    ]
    assert {r.info.status for r in runs} == {"FINISHED"}
    # The parent says what was swept; the jobs differ in params only where they were swept.
    parent = parents[0]
    assert parent.info.run_name == "sweep: learning_rate (sweep)"
    assert parent.data.params == {"sweep.optimizer.learning_rate": "1e-3,3e-3"}
    # ... and, once the jobs are done, compares them (comparison.md is the description).
    best = max(r.data.metrics["best_valid_accuracy"] for r in children)
    summary = client.get_run(parent.info.run_id).data
    assert summary.metrics["best_job.best_valid_accuracy"] == best
    assert summary.tags["mlflow.note.content"].startswith(parent.info.run_name)
    assert (tmp_path / "sweep" / "comparison" / "comparison.md").read_text(
        encoding="utf-8"
    ).strip() == summary.tags["mlflow.note.content"]
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "comparison")} == {
        "comparison/comparison.md",
        "comparison/comparison.png",
        "comparison/comparison.json",
    }
    first, second = (r.data.params for r in children)
    assert {key for key in first if first[key] != second[key]} == {"optimizer.learning_rate"}
    for child in children:
        assert child.data.tags["paths.run_dir"].startswith(f"{tmp_path}/sweep/")
        assert child.data.params["choice.optimizer"] == "adam"
        assert child.data.params["derived.effective_batch_size"] == "16"

    # Reproducibility: the lr=1e-3 job repeats the debug run's config and seed: identical losses.
    debug_client, debug, _, _ = debug_run
    repeat = next(r for r in children if r.data.params["optimizer.learning_rate"] == "0.001")
    assert loss_history(client, repeat.info.run_id) == loss_history(debug_client, debug.info.run_id)


def test_another_seed_gives_other_losses(corpus, tracking_uri, tmp_path, debug_run):
    result = run_script(
        [*DEBUG, f"data.data_dir={corpus}", f"hydra.run.dir={tmp_path}/run", "seed=7"], tracking_uri
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client, (run,) = runs_of(tracking_uri)
    debug_client, debug, _, _ = debug_run
    assert loss_history(client, run.info.run_id) != loss_history(debug_client, debug.info.run_id)


def test_failing_run_is_failed_with_one_clear_error(tracking_uri, tmp_path):
    missing = tmp_path / "no-such-dir"
    result = run_script(
        [*DEBUG, f"data.data_dir={missing}", f"hydra.run.dir={tmp_path}/run"], tracking_uri
    )
    assert result.returncode == 2
    assert (
        f"error: data.data_dir '{missing}' does not exist; expected a folder holding"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    _, (run,) = runs_of(tracking_uri)
    assert run.info.status == "FAILED"
    assert "does not exist" in run.data.tags["error"]


def test_failing_job_leaves_the_other_jobs_finished(corpus, tracking_uri, tmp_path):
    missing = tmp_path / "no-such-dir"
    result = run_script(
        ["-m", *DEBUG, f"data.data_dir={corpus},{missing}", f"hydra.sweep.dir={tmp_path}/sweep"],
        tracking_uri,
    )
    assert result.returncode != 0
    client, runs = runs_of(tracking_uri)
    by_dir = {
        r.data.params.get("data.data_dir"): r.info.status
        for r in runs
        if "mlflow.parentRunId" in r.data.tags
    }
    assert by_dir == {str(corpus): "FINISHED", str(missing): "FAILED"}
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert client.get_run(parent.info.run_id).info.status == "FAILED"


def interrupted_long_run(corpus, tracking_uri, tmp_path, signum) -> tuple[Path, list[str]]:
    """A debug run of 1000 epochs sent ``signum`` once its first checkpoint is written; returns
    its folder and arguments once it has exited."""
    run_dir = tmp_path / "run"
    args = [*DEBUG, f"data.data_dir={corpus}", f"hydra.run.dir={run_dir}"]
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py"), *args, "trainer.epochs=1000"],
            cwd=ROOT,
            env={
                **os.environ,
                "MLFLOW_TRACKING_URI": tracking_uri,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONFAULTHANDLER": "1",  # SIGABRT prints every thread's stack
            },
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (run_dir / "checkpoints" / "state.json").exists():
            time.sleep(0.5)
        process.send_signal(signum)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # where it hangs, for the failure message
            process.wait(timeout=30)
            pytest.fail(f"no exit 60 s after {signum!r}; its stacks:\n{log.read_text()[-6000:]}")
    finally:
        process.kill()
    return run_dir, args


def test_sigterm_ends_the_run_killed_as_ctrl_c_does(corpus, tracking_uri, tmp_path):
    """The minimal case: ``kill``, ``timeout`` or a batch system's time limit sends SIGTERM, which
    ended the process at once and left its MLflow run RUNNING."""
    import json

    run_dir, _ = interrupted_long_run(corpus, tracking_uri, tmp_path, signal.SIGTERM)
    _, (killed,) = runs_of(tracking_uri)
    assert killed.info.status == "KILLED"
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["mlflow_run_id"] == killed.info.run_id and state["epochs_done"] >= 1


def test_ctrl_c_marks_the_run_killed_and_resume_goes_on_in_the_same_run(
    corpus, tracking_uri, tmp_path
):
    import json

    from mlflow import MlflowClient

    run_dir, args = interrupted_long_run(corpus, tracking_uri, tmp_path, signal.SIGINT)
    _, (killed,) = runs_of(tracking_uri)
    assert killed.info.status == "KILLED"

    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["mlflow_run_id"] == killed.info.run_id and state["epochs_done"] >= 1
    epochs = state["epochs_done"] + 2
    result = run_script(
        [
            *args,
            f"hydra.run.dir={tmp_path}/resumed",
            f"resume={run_dir}",
            f"trainer.epochs={epochs}",
        ],
        tracking_uri,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, (resumed,) = runs_of(tracking_uri)
    assert resumed.info.run_id == killed.info.run_id and resumed.info.status == "FINISHED"
    epoch_metric = MlflowClient(tracking_uri).get_metric_history(resumed.info.run_id, "epoch")
    assert [(m.step, m.value) for m in epoch_metric][-2:] == [
        (6 * (epochs - 1), epochs - 1),
        (6 * epochs, epochs),
    ]
    assert json.loads((run_dir / "checkpoints" / "state.json").read_text())["epochs_done"] == epochs
    # Steps the killed process reached after its last checkpoint are logged once, by the resume.
    loss_steps = [
        m.step for m in MlflowClient(tracking_uri).get_metric_history(resumed.info.run_id, "loss")
    ]
    assert len(loss_steps) == len(set(loss_steps)) == 3 * epochs


def test_resume_refuses_a_changed_model(corpus, tmp_path, debug_run):
    _, _, run_dir, _ = debug_run
    result = run_script(
        [
            *DEBUG,
            f"data.data_dir={corpus}",
            "logger=none",
            f"resume={run_dir}",
            "model.encoder.num_layers=2",
        ]
    )
    assert result.returncode == 2
    assert "model.encoder.num_layers was 1, now 2" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer=adamx", "Could not find 'optimizer/adamx'"),
        (
            "trainer.epochs=abc",
            "error: invalid config: trainer.epochs must be an integer >= 1, got 'abc' (str).",
        ),
        (
            "backend=torch",
            "error: invalid config: backend must be one of 'tensorflow', 'jax', got 'torch' (str).",
        ),
        (
            "+optimizer.hyperparameters.betta=1",
            "error: optimizer.hyperparameters {'betta': 1} are not valid for optimizer 'adam'",
        ),
    ],
)
def test_bad_override_exits_with_a_clear_error(override, message, corpus, tmp_path):
    # the test's corpus: an optimizer's keys are checked once the data is (before Keras loads)
    args = [override, f"data.data_dir={corpus}", "logger=none", f"hydra.run.dir={tmp_path}/run"]
    result = run_script(args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_data_lines_exit_with_file_and_line(tmp_path):
    from conftest import write_corpus

    corpus = write_corpus(tmp_path / "sentiment", {"train": 20, "valid": 4})
    valid = corpus / "sentiment.valid.data"
    valid.write_text(valid.read_text(encoding="utf-8") + "好\t5\n", encoding="utf-8")
    result = run_script(["logger=none", f"data.data_dir={corpus}", f"hydra.run.dir={tmp_path}/run"])
    assert result.returncode == 2
    assert f"error: {valid}:5: label '5' is not one of the classes 0, 1" in result.stderr

    train = corpus / "sentiment.train.data"
    train.write_text("only text, no label\n", encoding="utf-8")
    result = run_script(["logger=none", f"data.data_dir={corpus}", f"hydra.run.dir={tmp_path}/run"])
    assert result.returncode == 2
    assert f"error: {train}:1: expected a line of the form TEXT<TAB>LABEL" in result.stderr


def test_a_model_that_does_not_fit_the_data_stops_before_training(corpus, tmp_path):
    result = run_script(
        [
            "model=masked_lm",
            "logger=none",
            f"data.data_dir={corpus}",
            f"hydra.run.dir={tmp_path}/run",
        ]
    )
    assert result.returncode == 2
    assert (
        "error: model MaskedLMTask does not fit data SentimentData: "
        "the data provides num_classes, vocab_size, and the model takes no num_classes."
    ) in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_ema_over_accumulation_logs_update_steps_and_validates_both_weight_sets(
    corpus, tracking_uri, tmp_path
):
    args = [*DEBUG, "optimizer.ema=0.9", "optimizer.accum_steps=2", "optimizer=lookahead"]
    result = run_script(
        [*args, f"data.data_dir={corpus}", f"hydra.run.dir={tmp_path}/run"], tracking_uri
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client, (run,) = runs_of(tracking_uri)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert (params["optimizer.ema"], params["optimizer.accum_steps"]) == ("0.9", "2")
    assert params["optimizer.lookahead_k"] == "5"
    # 6 micro-batches an epoch, 2 per update: 3 updates an epoch, loss every 2 updates.
    assert [step for step, _ in loss_history(client, run.info.run_id)] == [2, 4, 6]
    for name in ("valid_accuracy", "valid_ema_accuracy", "valid_ema_loss"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, name)] == [3, 6], name
    assert {"test_accuracy", "test_ema_accuracy", "best_valid_ema_accuracy"} <= set(
        run.data.metrics
    )


def test_ema_ablation_is_one_sweep_with_a_child_per_setting(corpus, tracking_uri, tmp_path):
    result = run_script(
        [
            "experiment=ema_ablation",
            *DEBUG,
            f"data.data_dir={corpus}",
            f"hydra.sweep.dir={tmp_path}/sweep",
        ],
        tracking_uri,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = runs_of(tracking_uri)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) == 7 and len(children) == 6
    settings = {
        (r.data.params["optimizer.ema"], r.data.params["optimizer.ema_warmup"]) for r in children
    }
    assert settings == {
        (ema, warmup) for ema in ("None", "0.99", "0.999") for warmup in ("True", "False")
    }
    assert {r.info.status for r in runs} == {"FINISHED"}
    with_ema = [r for r in children if r.data.params["optimizer.ema"] != "None"]
    assert all("best_valid_ema_accuracy" in r.data.metrics for r in with_ema)
    # EMA never feeds back into training: the raw weights' validation is the same in every job
    assert len({r.data.metrics["best_valid_accuracy"] for r in children}) == 1

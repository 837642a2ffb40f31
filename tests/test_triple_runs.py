"""``experiment=triples`` end to end at debug size: trained, resumed and tracked through
scripts/run.py, its artifacts and test scores logged, ``scripts/evaluate.py`` reproducing them,
and a bad data line stopping the run with ``FILE:LINE``."""

import json
import zipfile
from pathlib import Path

import pytest
from conftest import TINY_MODEL, run_script, runs_of
from mlflow import MlflowClient
from spo_fixture import write_spo

# A higher learning rate than the experiment's, so that a few debug steps move the loss.
ARGS = ["experiment=triples", "trainer=debug", *TINY_MODEL, "optimizer.learning_rate=3e-3"]


@pytest.fixture(scope="module")
def spo(tmp_path_factory) -> Path:
    return write_spo(
        tmp_path_factory.mktemp("data") / "spo", {"train": 160, "valid": 48, "test": 32}
    )


@pytest.fixture(scope="module")
def triples_run(spo, tmp_path_factory):
    """One epoch, then resumed to two: the run folder, the store, the run and the last stdout."""
    store = f"sqlite:///{tmp_path_factory.mktemp('triples-mlflow')}/mlflow.db"
    run_dir = tmp_path_factory.mktemp("triples") / "run"
    args = [*ARGS, f"data.data_dir={spo}"]
    first = run_script([*args, "trainer.epochs=1", f"hydra.run.dir={run_dir}"], store)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(
        [*args, "trainer.epochs=2", f"resume={run_dir}", f"hydra.run.dir={run_dir.parent / 'x'}"],
        store,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    client, runs = runs_of(store, "triples")
    assert len(runs) == 1, "the resumed run goes on in the same MLflow run"
    return run_dir, store, client.get_run(runs[0].info.run_id), first.stdout + resumed.stdout


def history(client, run_id: str, name: str) -> list[float]:
    return [m.value for m in client.get_metric_history(run_id, name)]


def test_a_triples_run_trains_resumes_and_is_tracked(triples_run):
    run_dir, store, run, stdout = triples_run
    client = MlflowClient(store)
    assert run.info.status == "FINISHED"
    run_id = run.info.run_id
    for name in ("valid_f1", "valid_precision", "valid_recall", "valid_ema_f1", "valid_loss"):
        assert len(history(client, run_id, name)) == 2, name
    loss = history(client, run_id, "train_loss")
    assert loss[-1] < loss[0], "the loss goes down over the two epochs"
    metrics = run.data.metrics
    assert metrics["best_valid_f1"] == max(history(client, run_id, "valid_f1"))
    for name in ("test_f1", "test_precision", "test_recall", "test_ema_f1", "test_loss"):
        assert 0.0 <= metrics[name] <= 10.0, name
    assert metrics["unreachable_valid_gold"] > 0 and metrics["unreachable_valid_not_found"] == 0
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert (state["monitor"], state["mode"], state["epochs_done"]) == ("val_f1", "max", 2)
    artifacts = {a.path for a in client.list_artifacts(run_id, "predictions")}
    assert artifacts == {"predictions/predicates.tsv", "predictions/valid_errors.jsonl"}
    table = (run_dir / "predicates.tsv").read_text(encoding="utf-8").splitlines()
    assert table[0].split("\t") == [
        "predicate",
        "gold",
        "predicted",
        "correct",
        "precision",
        "recall",
        "f1",
    ]
    assert table[-1].startswith("all\t") and int(table[-1].split("\t")[1]) == int(
        metrics["unreachable_valid_gold"]
    )
    for line in (run_dir / "valid_errors.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert set(map(tuple, record["gold"])) != set(map(tuple, record["predicted"]))
    assert "data valid: 0 of" in stdout and "gold triples cannot be reached" in stdout
    assert "best val_f1 (max)" in stdout


def test_evaluate_reproduces_the_runs_test_scores(triples_run, spo, tmp_path):
    run_dir, store, run, _ = triples_run
    result = run_script(
        [f"run={run_dir}", f"split={spo / 'test.json'}", f"hydra.run.dir={tmp_path}/eval"],
        store,
        script="evaluate.py",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = runs_of(store, "triples")
    (evaluation,) = [r for r in runs if r.info.run_id != run.info.run_id]
    for name in ("loss", "f1", "precision", "recall"):
        assert evaluation.data.metrics[f"eval_{name}"] == run.data.metrics[f"test_ema_{name}"]


def test_a_bad_line_stops_the_run_with_file_and_line(spo, tmp_path):
    bad = tmp_path / "spo"
    bad.mkdir()
    for name in ("all_schemas.json", "valid.json"):
        (bad / name).write_bytes((spo / name).read_bytes())
    lines = (spo / "train.json").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[2])
    record["spo_list"] = [{"subject": "李华", "predicate": "朋友", "object": "张伟"}]
    lines[2] = json.dumps(record, ensure_ascii=False)
    (bad / "train.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_script([*ARGS, f"data.data_dir={bad}", "logger=none"])
    assert result.returncode == 2
    assert f"{bad / 'train.json'}:3: predicate '朋友' is not in the schema" in result.stderr
    assert "Traceback" not in result.stderr


def test_triples_fine_tune_from_masked_lm_pre_training_on_the_same_text(spo, tmp_path):
    """experiment=pretrain_spo writes a checkpoint where experiment=triples_pretrained looks for it
    (under ``paths.output_dir``), and the triple model takes its architecture (48 wide here,
    against the 32 of the fine-tuning overrides) and weights."""
    common = ["trainer=debug", "trainer.epochs=1", *TINY_MODEL, f"data.data_dir={spo}"]
    outputs = [f"paths.output_dir={tmp_path}", "logger=none"]
    pretrained = run_script(
        ["experiment=pretrain_spo", *common, *outputs, "model.encoder.hidden_size=48"]
    )
    assert pretrained.returncode == 0, pretrained.stderr[-3000:]
    checkpoint = tmp_path / "pretrained" / "spo" / "checkpoint"
    assert json.loads((checkpoint / "bert_config.json").read_text())["hidden_size"] == 48
    run_dir = tmp_path / "triples"
    tuned = run_script(
        ["experiment=triples_pretrained", *common, *outputs, f"hydra.run.dir={run_dir}"]
    )
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    assert (run_dir / "vocab.txt").read_text() == (checkpoint / "vocab.txt").read_text()
    with zipfile.ZipFile(run_dir / "checkpoints" / "best.keras") as saved:
        model = json.loads(saved.read("config.json"))
    assert model["class_name"] == "TripleExtractor"
    assert model["config"]["backbone"]["config"]["hidden_size"] == 48

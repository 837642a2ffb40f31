"""One experiment, end to end: data, model, optimizer, fit, evaluate, all tracked.

``run_experiment(cfg)`` is what ``scripts/run.py`` calls for every Hydra job. It returns the
best validation accuracy, the metric a sweeper optimizes.
"""

import io
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from keraslab.config_checks import check_config
from keraslab.tracking.hydra_job import current_job


def run_experiment(cfg: DictConfig) -> float:
    job = current_job()
    run_dir = Path(job.output_dir or cfg.paths.run_dir)
    tracker = instantiate(cfg.logger)
    with tracker.run(OmegaConf.to_container(cfg, resolve=True), job):
        check_config(cfg)
        return _train_and_evaluate(cfg, run_dir, tracker)


def _train_and_evaluate(cfg: DictConfig, run_dir: Path, tracker) -> float:
    data = instantiate(cfg.data).setup()
    run_dir.mkdir(parents=True, exist_ok=True)
    tracker.log_artifact(data.tokenizer.save(run_dir / "vocab.txt"))

    # Keras (and TensorFlow) load only once the data has been read and checked.
    from keraslab.optimizers import update_count
    from keraslab.tracking.keras_callback import TrackerCallback
    from keraslab.training.seeding import seed_everything

    seed_everything(cfg.seed)
    model = instantiate(cfg.model)(
        vocab_size=data.tokenizer.vocab_size, num_classes=data.num_classes
    )
    optimizer = instantiate(cfg.optimizer)
    trainer = instantiate(cfg.trainer)
    trainer.compile(model, optimizer)
    tracker.log_text(_summary(model), "model_summary.txt")

    make_batches = instantiate(cfg.loader)
    batches = {
        name: make_batches(
            split.inputs, split.labels, cfg.data.batch_size, shuffle=name == "train", seed=cfg.seed
        )
        for name, split in data.splits.items()
    }
    history = trainer.fit(
        model,
        batches["train"],
        batches["valid"],
        run_dir,
        callbacks=[TrackerCallback(tracker, trainer.log_every_n_steps)],
    )
    best_valid_accuracy = max(history.history["val_accuracy"])
    results = {"best_valid_accuracy": best_valid_accuracy}
    if "test" in batches:
        test = trainer.evaluate(model, batches["test"])
        results.update(test_loss=test["loss"], test_accuracy=test["accuracy"])
    tracker.log_metrics(results, update_count(optimizer))
    return best_valid_accuracy


def _summary(model) -> str:
    lines = io.StringIO()
    model.summary(print_fn=lambda line, **kwargs: lines.write(line + "\n"), line_length=110)
    return lines.getvalue()

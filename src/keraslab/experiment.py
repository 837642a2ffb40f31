"""One experiment, end to end: data, model, optimizer, fit, evaluate, all tracked.

``run_experiment(cfg)`` is what ``scripts/run.py`` calls for every Hydra job. It returns the
best validation accuracy, the metric a sweeper optimizes. With ``resume=<run dir>`` it goes on
from that run's last checkpoint, in the same run folder and MLflow run. With ``export=google`` or
``export=hf`` the trained model is also written as a checkpoint folder (``<run dir>/checkpoint``)
that ``model.encoder.checkpoint=`` loads; with an EMA optimizer it holds the averaged weights
unless ``export_weights=raw``. EMA runs also report test metrics on the averaged weights.
"""

import contextlib
import inspect
import io
from pathlib import Path

from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf

from keraslab.config_checks import check_config
from keraslab.errors import ConfigError, DataError
from keraslab.resume import Resume, read_resume
from keraslab.tokenizers.for_encoder import tokenizer_for_encoder
from keraslab.tracking.hydra_job import current_job


def run_experiment(cfg: DictConfig) -> float:
    job = current_job()
    resume = read_resume(cfg.resume, cfg) if cfg.get("resume") else None
    run_dir = resume.run_dir if resume else Path(job.output_dir or cfg.paths.run_dir)
    tracker = instantiate(cfg.logger)
    resume_run_id = resume.state.mlflow_run_id if resume else None
    with tracker.run(OmegaConf.to_container(cfg, resolve=True), job, resume_run_id):
        check_config(cfg)
        return _train_and_evaluate(cfg, run_dir, tracker, resume)


def _train_and_evaluate(cfg: DictConfig, run_dir: Path, tracker, resume: Resume | None) -> float:
    data = instantiate(cfg.data).setup(tokenizer_for_encoder(cfg.model.encoder))
    check_model_fits_data(cfg, data.model_arguments)
    run_dir.mkdir(parents=True, exist_ok=True)
    vocab_path = run_dir / "vocab.txt"
    if resume is None:
        tracker.log_artifact(data.tokenizer.save(vocab_path))
    elif vocab_path.read_text(encoding="utf-8").splitlines() != data.tokenizer.tokens:
        raise DataError(
            f"the vocab built from {data.data_dir} differs from {vocab_path}; a run resumes only on "
            "the data it was trained on."
        )

    # Keras (and TensorFlow) load only once the data has been read and checked.
    from keraslab.loaders import SplitBatches
    from keraslab.optimizers import ExponentialMovingAverage, find_wrapper, update_count
    from keraslab.tracking.keras_callback import TrackerCallback
    from keraslab.training.seeding import seed_everything

    seed_everything(cfg.seed)
    trainer = instantiate(cfg.trainer)
    if resume:
        model = trainer.restore(resume.last_checkpoint)
    else:
        model = instantiate(cfg.model)(**data.model_arguments)
        trainer.compile(model, instantiate(cfg.optimizer))
    tracker.log_text(_summary(model), "model_summary.txt")

    loader = instantiate(cfg.loader)
    batches = {
        name: SplitBatches(split, cfg.data.batch_size, shuffle=name == "train", seed=cfg.seed)
        for name, split in data.splits.items()
    }
    history = trainer.fit(
        model,
        batches["train"],
        batches["valid"],
        loader,
        run_dir,
        callbacks=[TrackerCallback(tracker, trainer.log_every_n_steps)],
        resume_state=resume.state if resume else None,
        mlflow_run_id=tracker.run_id,
    )
    earlier_best = [resume.state.best] if resume and resume.state.best is not None else []
    best_valid_accuracy = max(history.history.get("val_accuracy", []) + earlier_best)
    results = {"best_valid_accuracy": best_valid_accuracy}
    ema = find_wrapper(model.optimizer, ExponentialMovingAverage)
    if "val_ema_accuracy" in history.history:
        results["best_valid_ema_accuracy"] = max(history.history["val_ema_accuracy"])
    if "test" in batches:
        test = trainer.evaluate(model, batches["test"], loader)
        results.update(test_loss=test["loss"], test_accuracy=test["accuracy"])
        if ema is not None:
            with ema.averaged_weights():
                test = trainer.evaluate(model, batches["test"], loader)
            results.update(test_ema_loss=test["loss"], test_ema_accuracy=test["accuracy"])
    tracker.log_metrics(results, update_count(model.optimizer))
    if cfg.get("export"):
        from keraslab.checkpoints.export import export_checkpoint

        use_ema = ema is not None and cfg.get("export_weights", "ema") == "ema"
        with ema.averaged_weights() if use_ema else contextlib.nullcontext():
            folder = export_checkpoint(model, data.tokenizer, run_dir / "checkpoint", cfg.export)
        tracker.log_artifacts(folder, "checkpoint")
    return best_valid_accuracy


def check_model_fits_data(cfg: DictConfig, provided: dict) -> None:
    """The model builder must take what the data provides (``vocab_size``, ``num_classes``, ...)
    and need nothing else that the config leaves unset."""
    parameters = inspect.signature(get_method(cfg.model._target_)).parameters
    configured = {key for key in cfg.model if not key.startswith("_")}
    unexpected = sorted(set(provided) - set(parameters))
    lacking = sorted(
        name
        for name, parameter in parameters.items()
        if parameter.default is parameter.empty and name not in provided and name not in configured
    )
    if unexpected or lacking:
        raise ConfigError(
            f"model {cfg.model._target_} does not fit data {cfg.data._target_}: the data provides "
            f"{', '.join(sorted(provided))}, and the model "
            + (
                f"takes no {', '.join(unexpected)}"
                if unexpected
                else f"also needs {', '.join(lacking)}"
            )
            + ". Pick a model and data that go together, e.g. model=masked_lm with "
            "data=sentiment_mlm (experiment=pretrain_mlm), or model=classifier with data=sentiment."
        )


def _summary(model) -> str:
    lines = io.StringIO()
    model.summary(print_fn=lambda line, **kwargs: lines.write(line + "\n"), line_length=110)
    return lines.getvalue()

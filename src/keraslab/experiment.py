"""The run path: compose -> task and data -> fit -> evaluate -> track, for every task.

``run_experiment(cfg)`` is what ``scripts/run.py`` calls for every Hydra job. The ``model`` group
selects a task (:class:`~keraslab.tasks.Task`) and ``data`` its data module
(:class:`~keraslab.data.DataModule`); nothing here names either. It returns the result that
``optimized_metric`` names (by default the best value of the monitored metric), the number a
sweeper optimizes. With ``resume=<run dir>`` it goes on from that run's last checkpoint, in the
same run folder and MLflow run. With ``export=<format>`` the trained model is also written where
the task can (``<run dir>/checkpoint``); with an EMA optimizer it holds the averaged weights
unless ``export_weights=raw``. The test split, when there is one, is scored with the best
checkpoint, on its trained and (with EMA) averaged weights.
"""

import contextlib
import io
import math
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from keraslab.backends import BACKENDS, use_backend
from keraslab.config_checks import (
    check_config,
    instantiate_section,
    integer,
    one_of,
    optional,
    string,
)
from keraslab.errors import DataError
from keraslab.quiet import import_backend
from keraslab.resume import Resume, check_same_monitor, read_resume
from keraslab.tracking.hydra_job import current_job
from keraslab.tracking.mlflow_tracker import NullTracker

# The run path's own keys; every section's checks live with its target.
RUN_CHECKS = {
    "backend": one_of(*BACKENDS),
    "seed": integer(0),
    "resume": optional(string),
    "export": optional(string),
    "export_weights": one_of("ema", "raw"),
    "optimized_metric": optional(string),
}


def run_experiment(cfg: DictConfig) -> float:
    # Every config value is checked before TensorFlow loads and before an MLflow run opens.
    check_config(cfg, RUN_CHECKS)
    job = current_job()
    resume = read_resume(cfg.resume, cfg) if cfg.get("resume") else None
    distribution = instantiate_section(cfg, "distribution")
    use_backend(cfg.backend)
    distribution.start()
    import_backend()
    try:
        return _run(cfg, job, resume, distribution)
    except BaseException as error:
        distribution.fail(error)
        raise


def _run(cfg, job, resume: Resume | None, distribution) -> float:
    with _run_folder(resume, job, cfg, distribution.is_chief) as run_dir:
        # Only the chief tracks; the other workers keep their checkpoints in a scratch folder.
        tracker = instantiate_section(cfg, "logger") if distribution.is_chief else NullTracker()
        resume_run_id = resume.state.mlflow_run_id if resume else None
        with tracker.run(OmegaConf.to_container(cfg, resolve=True), job, resume_run_id):
            task = instantiate_section(cfg, "model")
            task.check_export(cfg.get("export"))
            data = instantiate_section(cfg, "data").setup(**task.data_options())
            run_dir.mkdir(parents=True, exist_ok=True)
            resuming = resume is not None and distribution.is_chief
            keep_artifacts(data.artifacts(), run_dir, tracker, resuming)
            tracker.log_datasets(
                job.choices.get("data") or type(data).__name__,
                cfg.data.get("data_dir"),
                data.splits,
            )
            value, report = _train_and_evaluate(
                cfg, task, data, run_dir, tracker, resume, distribution
            )
    print(report, flush=True)
    return value


@contextlib.contextmanager
def _run_folder(resume: Resume | None, job, cfg, chief: bool):
    """The run's folder (the resumed run's, else Hydra's); for a worker other than the chief a
    scratch folder, removed at the end, where its copies of the checkpoints go."""
    if not chief:
        with tempfile.TemporaryDirectory(prefix="keraslab-worker-") as scratch:
            yield Path(scratch)
        return
    yield resume.run_dir if resume else Path(job.output_dir or cfg.paths.run_dir)


def _train_and_evaluate(
    cfg, task, data, run_dir: Path, tracker, resume: Resume | None, distribution
) -> tuple[float, str]:
    """The optimized metric's value, and the summary to print once the run is closed. Under
    ``distribution`` every worker trains; the chief alone then scores the best checkpoint."""
    # Keras (and TensorFlow) load only once the data has been read and checked.
    from keraslab.evaluation import scored_checkpoint, split_results
    from keraslab.optimizers import update_count
    from keraslab.run_results import best_values, result_base, summary
    from keraslab.tracking.keras_callback import TrackerCallback
    from keraslab.training.seeding import seed_everything

    seed_everything(cfg.seed)
    trainer = instantiate_section(cfg, "trainer")
    trainer.set_precision()
    loader = instantiate_section(cfg, "loader")
    with distribution.training() as distribution_callbacks:
        if resume:
            model = trainer.resume(resume)
        else:
            model = task.build_model(data)
            task.compile(model, instantiate_section(cfg, "optimizer"), trainer.jit_compile)
        monitor, objective = _targets(cfg, task, data, trainer, model, resume)
        objective_mode = task.metric_modes.get(result_base(objective), monitor[1])
        tracker.set_tags(
            {
                "monitor": monitor[0],
                "objective": objective,
                "objective_mode": objective_mode,
                "distribution": distribution.describe(),
            }
        )
        tracker.log_text(_model_summary(model), "model_summary.txt")
        state = trainer.fit(
            task,
            model,
            data,
            loader,
            run_dir,
            monitor,
            seed=cfg.seed,
            callbacks=[
                *distribution_callbacks,
                TrackerCallback(tracker, trainer.log_every_n_steps),
                *task.artifact_callbacks(data, tracker, run_dir),
            ],
            resume_state=resume.state if resume else None,
            mlflow_run_id=tracker.run_id,
            share=distribution.share(),
        )
    if not distribution.is_chief:
        return math.nan, f"{distribution.describe()}: trained its share; the chief reports."
    results = best_values(state.history, task, monitor)
    best_model = trainer.restore(scored_checkpoint(run_dir))
    if "test" in data.splits:
        results.update(split_results(task, best_model, data, "test", loader))
    results.update(task.final_scores(best_model, data))
    task.log_artifacts(best_model, data, loader, tracker, run_dir)
    tracker.log_metrics(results, update_count(model.optimizer))
    if cfg.get("export"):
        _export(cfg, task, model, data, run_dir, tracker)
    value = results.get(objective, math.nan)  # nan when no epoch gave a finite value
    return value, summary(results, monitor, state.history, objective, value, run_dir, tracker)


def _targets(cfg, task, data, trainer, model, resume: Resume | None) -> tuple[tuple[str, str], str]:
    """``(monitor, mode)`` that picks ``best.keras``, and the result the run returns; both are
    checked against what this task, optimizer and data report, before training starts."""
    from keraslab.evaluation import moving_average
    from keraslab.run_results import optimized_metric

    ema_validated = trainer.validates_ema(model)
    monitor = task.choose_monitor(trainer.monitor, trainer.monitor_mode, ema_validated)
    if resume:
        check_same_monitor(resume.state, *monitor)
    objective = optimized_metric(
        cfg.get("optimized_metric"),
        monitor[0],
        task,
        ema_validated,
        moving_average(model) is not None,
        "test" in data.splits,
    )
    return monitor, objective


def _export(cfg, task, model, data, run_dir: Path, tracker) -> None:
    """The trained model where the task writes it, on the averaged weights of an EMA optimizer
    unless ``export_weights=raw``; logged as the ``checkpoint`` artifact folder."""
    from keraslab.evaluation import moving_average

    ema = moving_average(model) if cfg.get("export_weights", "ema") == "ema" else None
    with ema.averaged_weights() if ema is not None else contextlib.nullcontext():
        folder = task.export(model, data, run_dir / "checkpoint", cfg.export)
    tracker.log_artifacts(folder, "checkpoint")


def keep_artifacts(artifacts: dict[str, str], run_dir: Path, tracker, resuming: bool) -> None:
    """Write the data module's artifacts into the run folder and log them; a resumed
    run instead checks that the data gives the same ones as before."""
    for name, text in artifacts.items():
        path = run_dir / name
        if not resuming:
            path.write_text(text, encoding="utf-8")
            tracker.log_artifact(path)
        elif not path.is_file() or path.read_text(encoding="utf-8") != text:
            raise DataError(
                f"the {name} built from the data differs from {path}; a run resumes only on the "
                "data it was trained on."
            )


def _model_summary(model) -> str:
    lines = io.StringIO()
    model.summary(print_fn=lambda line, **kwargs: lines.write(line + "\n"), line_length=110)
    return lines.getvalue()

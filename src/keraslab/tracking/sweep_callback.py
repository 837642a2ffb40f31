"""A Hydra callback that groups a sweep's jobs under one MLflow parent run.

``on_multirun_start`` creates the parent and writes its id into the sweep folder; each job reads
it from there (see :class:`~keraslab.tracking.mlflow_tracker.MlflowTracker.run`), so this works
with any launcher, including out-of-process ones. The parent ends when the sweep ends, or, when
a failed job makes Hydra exit early, at interpreter exit, with a status derived from its children
(a job whose process was killed outright ends FAILED first); then the jobs' comparison is
printed, written to ``<sweep dir>/comparison/`` and logged to it.
"""

import atexit
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from keraslab.backends import sweep_backend
from keraslab.tracking.hydra_job import HydraJob


class MlflowSweepCallback(Callback):
    def __init__(self) -> None:
        self._tracker = None
        self._parent_run_id: str | None = None
        self._sweep_dir: Path | None = None

    def __getstate__(self) -> dict:
        """What a launcher's worker process gets (the joblib launcher pickles the callbacks
        with each job): no tracker and no parent to end, which stay with the sweep's process."""
        return {**self.__dict__, "_tracker": None, "_parent_run_id": None}

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from hydra.utils import instantiate

        sweep_backend(config)
        self._tracker = instantiate(config.logger)
        job = HydraJob(
            overrides=list(config.hydra.overrides.task),
            choices={
                group: config.hydra.runtime.choices.get(group)
                for group in ("experiment", "hparams_search")
            },
            sweep_dir=Path(config.hydra.sweep.dir),
        )
        self._sweep_dir = job.sweep_dir
        self._parent_run_id = self._tracker.start_parent(job, sweep_definition(config))
        if self._parent_run_id:
            atexit.register(self._end_parent)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        self._end_parent()

    def _end_parent(self) -> None:
        if self._parent_run_id:
            run_id, self._parent_run_id = self._parent_run_id, None
            # Ended before the comparison: a job killed outright is ended FAILED there, so the
            # comparison shows it so, and one that breaks (a missing plotting library) leaves no
            # open parent.
            self._tracker.end_parent(run_id)
            table = self._tracker.summarise_parent(run_id, self._sweep_dir / "comparison")
            if table:
                print(table, flush=True)


def sweep_definition(config: DictConfig) -> dict[str, str]:
    """The swept keys and their values as written: the sweeper's ``params`` (a named
    experiment's sweep) overridden by the command line (``lr=1e-3,3e-3`` sweeps, ``lr=1e-3``
    pins)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    swept = {
        str(key): str(values) for key, values in (config.hydra.sweeper.get("params") or {}).items()
    }
    for override in OverridesParser.create().parse_overrides(list(config.hydra.overrides.task)):
        key = override.get_key_element().lstrip("+~")
        if override.is_sweep_override():
            swept[key] = override.get_value_string()
        else:  # one value on the command line: not swept
            swept.pop(key, None)
    return swept

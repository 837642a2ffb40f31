"""MLflow tracking for one run, or for the parent run of a sweep.

A run is opened with :meth:`MlflowTracker.run`, a context manager that ends it FINISHED on success,
FAILED on an exception and KILLED on Ctrl-C. A process killed outright (SIGKILL, the OOM killer)
cannot end its run, so every run is tagged with its host and pid, and opening a run first ends
FAILED each RUNNING run of the experiment whose process on this host is gone. Ctrl-C during a
call to the store takes effect when the call returns, so it cannot leave the store locked. It
logs the resolved config as params, the Hydra config files as artifacts, and tags that say where
the run came from. MLflow is imported only when a run starts, so composing configs stays fast.
"""

import json
import os
import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from keraslab.errors import ConfigError, InputError, TrackingError
from keraslab.tracking.hydra_job import HydraJob, current_job
from keraslab.tracking.interrupts import Uninterrupted, interrupts_never_dropped
from keraslab.tracking.outbox import Outbox
from keraslab.tracking.params import chunks, run_params, short_overrides, split_long_values

REMOTE_SCHEMES = ("http://", "https://", "databricks")
EXPERIMENT_KIND, TRAINING = "mlflow.experimentKind", "custom_model_development"


class MlflowTracker:
    """Logs to ``tracking_uri`` under ``experiment_name``.

    ``artifact_location`` is used when a local store creates the experiment; remote servers keep
    their own artifact root.
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str,
        artifact_location: str | None = None,
        system_metrics: bool = True,
        system_metrics_interval: float = 10.0,
    ):
        if not (isinstance(system_metrics_interval, int | float) and system_metrics_interval > 0):
            raise ConfigError(
                f"logger.system_metrics_interval={system_metrics_interval!r}: expected a number "
                "of seconds above 0"
            )
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.artifact_location = artifact_location
        self.system_metrics = bool(system_metrics)
        self.system_metrics_interval = float(system_metrics_interval)
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self._client = None
        self.outbox = Outbox(self._send_metrics, tracking_uri)

    @property
    def client(self):
        """The MLflow client; Ctrl-C waits for the call in progress (see ``interrupts``)."""
        if self._client is None:
            from mlflow import MlflowClient

            self._client = Uninterrupted(MlflowClient(self.tracking_uri))
        return self._client

    def check_store(self, timeout: float = 10.0) -> None:
        """Raise one :class:`~keraslab.errors.InputError` within ``timeout`` seconds when the
        store cannot be used: a server that does not answer (MLflow's client would retry for
        minutes), or a local store it cannot open or write."""
        if self.tracking_uri.startswith(("http://", "https://")):
            import urllib.request

            # One quick retry per call instead of MLflow's minutes of them: a server that goes
            # away mid-run is handled by the outbox, which tries again later.
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")

            health = f"{self.tracking_uri.rstrip('/')}/health"
            try:
                with urllib.request.urlopen(health, timeout=timeout):
                    return
            except OSError as error:
                raise InputError(
                    f"no MLflow tracking server answers at {self.tracking_uri} ({error}); start "
                    "one (`make server`), or track in the local store with logger=mlflow."
                ) from error
        try:
            self._experiment_id()
        except Exception as error:  # SQLAlchemy / MLflow errors of an unusable store
            raise InputError(
                f"the MLflow store {self.tracking_uri} cannot be used ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); expected a writable "
                "store such as sqlite:///<folder>/mlflow.db, or a tracking server's URL."
            ) from error

    def describe(self) -> str:
        """Where the current run is, and how to open it in the MLflow UI."""
        where = (
            f"MLflow run {self.run_id} in experiment {self.experiment_name!r} ({self.tracking_uri})"
        )
        page = (
            f"#/experiments/{self.experiment_id}/runs/{self.run_id}?workflowType=machine_learning"
        )
        if self.tracking_uri.startswith(REMOTE_SCHEMES):
            return f"{where}: {self.tracking_uri.rstrip('/')}/{page}"
        return f"{where}: `make ui`, then http://127.0.0.1:5000/{page}"

    def _experiment_id(self) -> str:
        """The experiment's id, looked up (or the experiment created) once per tracker."""
        if self.experiment_id is None:
            self.experiment_id = self._find_or_create_experiment()
        return self.experiment_id

    def _find_or_create_experiment(self) -> str:
        """The experiment's id, created if need be, and marked as model training (the MLflow UI
        otherwise opens an experiment without traces on its empty GenAI pages)."""
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            if experiment.tags.get(EXPERIMENT_KIND) is None:
                self.client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND, TRAINING)
            return experiment.experiment_id
        location = None
        if self.artifact_location and not self.tracking_uri.startswith(REMOTE_SCHEMES):
            location = Path(self.artifact_location).resolve().as_uri()
        try:
            return self.client.create_experiment(
                self.experiment_name, artifact_location=location, tags={EXPERIMENT_KIND: TRAINING}
            )
        except Exception:  # another job of the same sweep created it first
            return self.client.get_experiment_by_name(self.experiment_name).experiment_id

    @contextmanager
    def run(
        self, config: Mapping, job: HydraJob | None = None, resume_run_id: str | None = None
    ) -> Iterator["MlflowTracker"]:
        """Open a run for ``config``; inside a sweep it becomes a child of the sweep's parent run.

        With ``resume_run_id`` the earlier run is reopened (RUNNING again, tagged with this
        process, its ``error`` tag dropped) and goes on; its params and config artifacts stay as
        they were logged the first time. If the resumed run stops on bad input
        (:class:`~keraslab.errors.InputError`: nothing was trained), it gets back the status and
        ``error`` tag it had, so a failed attempt to resume changes nothing. While the run is
        open, MLflow's system-metrics monitor samples it (``system_metrics``; off with
        ``logger.system_metrics=false``). A Ctrl-C inside the run ends it KILLED, even one that
        code inside swallowed (:func:`~keraslab.tracking.interrupts.interrupts_never_dropped`).
        """
        job = job or current_job()
        self.check_store()
        self.close_abandoned_runs()
        before = None
        if resume_run_id:
            before = self._reopen(resume_run_id)
        else:
            self.run_id = self._create_run(job)
        monitor = self._start_system_metrics(resumed=before is not None)
        try:
            if not resume_run_id:
                params, tags = run_params(config, job.choices)
                self.log_params(params)
                self.set_tags(tags)
                if job.output_dir is not None:
                    for name in ("config.yaml", "overrides.yaml"):
                        self.log_artifact(job.output_dir / ".hydra" / name, "hydra")
            with interrupts_never_dropped():  # Keras drops a Ctrl-C landing in its log conversion
                yield self
        except KeyboardInterrupt:
            _stop(monitor)
            self.client.set_terminated(self.run_id, "KILLED")
            raise
        except BaseException as error:
            _stop(monitor)
            if before is not None and isinstance(error, InputError):
                self._restore(before)
            else:
                self.outbox.flush()  # one attempt: what the run logged before it failed
                self.client.set_tag(self.run_id, "error", f"{type(error).__name__}: {error}"[:5000])
                self.client.set_terminated(self.run_id, "FAILED")
            raise
        _stop(monitor)
        self._flush_held()
        self.client.set_terminated(self.run_id, "FINISHED")

    def _start_system_metrics(self, resumed: bool):
        """MLflow's monitor of CPU, memory, disk and network (and GPUs), sampled every
        ``system_metrics_interval`` seconds into ``system/*`` metrics; None when turned off."""
        if not self.system_metrics:
            return None
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(
            self.run_id,
            sampling_interval=self.system_metrics_interval,
            resume_logging=resumed,
            tracking_uri=self.tracking_uri,
        )
        monitor.start()
        return monitor

    def _flush_held(self, patience: float = 120.0) -> None:
        """Send everything held before the run is closed, waiting up to ``patience`` seconds
        for a store that is away; then say how much could not be sent."""
        left = self.outbox.flush(patience)
        if left:
            raise TrackingError(
                f"{left} metric batches or uploads of MLflow run {self.run_id} could not be sent to "
                f"{self.tracking_uri} within {patience:.0f} s; the store is away. The run's "
                "checkpoints are whole: its metrics are in checkpoints/state.json."
            )

    def _reopen(self, run_id: str) -> tuple[str, dict[str, str | None]]:
        """Make ``run_id`` this process's RUNNING run; returns its status and the tags this
        changes, as they were, for :meth:`_restore`."""
        try:
            run = self.client.get_run(run_id)
        except Exception as error:  # MlflowException: the store has no such run
            raise InputError(
                f"resume: the run folder's MLflow run {run_id} is not in the store "
                f"{self.tracking_uri}; resume with the store the run was tracked in "
                "(MLFLOW_TRACKING_URI or logger.tracking_uri), or with logger=none."
            ) from error
        self.run_id = run_id
        before = {key: run.data.tags.get(key) for key in ("error", *process_tags())}
        self.client.update_run(run_id, status="RUNNING")
        self.set_tags(process_tags())
        if "error" in run.data.tags:  # how it stopped before
            self.client.delete_tag(run_id, "error")
        return run.info.status, before

    def _restore(self, before: tuple[str, dict[str, str | None]]) -> None:
        """Give the run back the status and tags :meth:`_reopen` found."""
        status, tags = before
        current = self.client.get_run(self.run_id).data.tags
        for key, value in tags.items():
            if value is not None:
                self.client.set_tag(self.run_id, key, value)
            elif key in current:
                self.client.delete_tag(self.run_id, key)
        self.client.update_run(self.run_id, status=status)

    def close_abandoned_runs(self) -> list[str]:
        """End FAILED, with an ``error`` tag saying why, each RUNNING run of the experiment that
        was started on this host by a process that no longer exists; returns their ids. Runs
        of other hosts, and of live processes, are left alone."""
        runs = self.client.search_runs(
            [self._experiment_id()],
            filter_string=f"attributes.status = 'RUNNING' and tags.host = '{socket.gethostname()}'",
        )
        closed = []
        for run in runs:
            pid = run.data.tags.get("pid", "")
            if not pid.isdigit() or _process_exists(int(pid)):
                continue
            self.client.set_tag(
                run.info.run_id,
                "error",
                f"process {pid} on {socket.gethostname()} ended without closing this run "
                "(killed outright: SIGKILL, the OOM killer or a power loss)",
            )
            self.client.set_terminated(run.info.run_id, "FAILED")
            closed.append(run.info.run_id)
        return closed

    def _create_run(self, job: HydraJob) -> str:
        tags = {**source_tags(), "hydra.overrides": " ".join(job.overrides)}
        run_name = short_overrides(job.overrides) or "default"
        if job.is_multirun:
            tags["job.num"] = str(job.num)
            sweep = read_parent_file(job)
            if sweep:
                tags["mlflow.parentRunId"] = sweep["run_id"]
                swept = [o for o in job.overrides if o not in sweep["overrides"]]
                run_name = f"{short_overrides(swept) or 'no change'} (job {job.num})"
        return self.client.create_run(
            self._experiment_id(), tags=tags, run_name=run_name
        ).info.run_id

    def log_params(self, params: Mapping[str, str]) -> None:
        self._log_params(self.run_id, params)

    def _log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        for chunk in chunks(split_long_values(params)):
            self.client.log_batch(run_id, params=[Param(k, v) for k, v in chunk.items()])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Queue ``metrics`` at ``step`` and send what is queued (see :class:`Outbox`)."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.outbox.add_metrics([Metric(k, float(v), now, step) for k, v in metrics.items()])

    def _send_metrics(self, batch) -> None:
        self.client.log_batch(self.run_id, metrics=list(batch))

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if Path(path).is_file():
            run_id = self.run_id
            self.outbox.add_call(lambda: self.client.log_artifact(run_id, str(path), artifact_path))

    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        run_id = self.run_id
        self.outbox.add_call(lambda: self.client.log_artifacts(run_id, str(folder), artifact_path))

    def log_text(self, text: str, name: str) -> None:
        run_id = self.run_id
        self.outbox.add_call(lambda: self.client.log_text(run_id, text, name))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def log_datasets(self, name: str, source: str | None, splits: Mapping) -> None:
        """Each split as a dataset input of the run (see :mod:`keraslab.tracking.datasets`)."""
        from keraslab.tracking.datasets import dataset_inputs

        inputs = dataset_inputs(name, source, splits)
        run_id = self.run_id
        self.outbox.add_call(lambda: self.client.log_inputs(run_id, datasets=inputs))

    def start_parent(self, job: HydraJob, swept: Mapping[str, str]) -> str:
        """Create a sweep's parent run and record its id in the sweep folder for the jobs to read.

        ``swept`` (key -> values, as Hydra writes them) becomes its params ``sweep.<key>``; its
        name is the named experiment (or the search, or "sweep"), the swept keys and the sweep
        folder's name: ``ema_ablation: ema × ema_warmup (07-07-55)``. A sweep started again in
        the same folder with the same definition (a search resumed after a kill) reopens the
        parent recorded there."""
        earlier = self._reopen_parent(job, swept)
        if earlier:
            return earlier
        label = job.choices.get("experiment") or job.choices.get("hparams_search") or "sweep"
        keys = " × ".join(short_overrides(list(swept)).split())
        when = f" ({job.sweep_dir.name})" if job.sweep_dir else ""
        run = self.client.create_run(
            self._experiment_id(),
            tags={
                **source_tags(),
                "sweep.dir": str(job.sweep_dir),
                "hydra.overrides": " ".join(job.overrides),
            },
            run_name=f"{label}: {keys}{when}" if keys else f"{label}{when}",
        )
        self._log_params(run.info.run_id, {f"sweep.{key}": values for key, values in swept.items()})
        job.sweep_dir.mkdir(parents=True, exist_ok=True)
        job.parent_run_file.write_text(
            json.dumps({"run_id": run.info.run_id, "overrides": job.overrides})
        )
        return run.info.run_id

    def _reopen_parent(self, job: HydraJob, swept: Mapping[str, str]) -> str | None:
        """The parent recorded in the sweep folder, RUNNING again in this process, when it is in
        this store and was made for the same sweep definition; else None."""
        recorded = read_parent_file(job)
        if not recorded:
            return None
        try:
            run = self.client.get_run(recorded["run_id"])
        except Exception:  # MlflowException: another store's run
            return None
        params = run.data.params
        if {k.removeprefix("sweep."): v for k, v in params.items()} != dict(swept):
            return None
        self.client.update_run(run.info.run_id, status="RUNNING")
        for key, value in process_tags().items():
            self.client.set_tag(run.info.run_id, key, value)
        return run.info.run_id

    def annotate(
        self,
        run_id: str,
        tags: Mapping[str, str],
        metrics: Mapping[str, float],
        files: list[Path],
        artifact_path: str,
    ) -> None:
        """Tags, metrics and files for a run other than this tracker's own (a sweep's parent)."""
        for key, value in tags.items():
            self.client.set_tag(run_id, key, value)
        for key, value in metrics.items():
            self.client.log_metric(run_id, key, value)
        for path in files:
            self.client.log_artifact(run_id, str(path), artifact_path)

    def summarise_parent(self, run_id: str, folder: Path) -> str | None:
        """Publish the sweep's comparison (:mod:`keraslab.tracking.comparison`) into ``folder``
        and onto the parent run; returns its table as text, None when no job made a run."""
        from keraslab.tracking.comparison import load_comparison, publish

        try:
            comparison = load_comparison(self.client, run_id)
        except LookupError:
            return None
        publish(self.client, comparison, folder)
        return comparison.text()

    def end_parent(self, run_id: str) -> str:
        """End the parent FAILED if a job failed, KILLED if one was killed, else FINISHED; a job
        run again (an interrupted trial of a resumed search) counts by its latest run. A job
        whose process was killed outright (a worker the OOM killer took) is ended FAILED first
        (:meth:`close_abandoned_runs`), so no run of the sweep is left RUNNING."""
        from keraslab.tracking.comparison import latest_per_job

        self.close_abandoned_runs()
        children = self.client.search_runs(
            [self._experiment_id()], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
        )
        statuses = {child.info.status for child in latest_per_job(children)}
        status = next((s for s in ("FAILED", "KILLED", "RUNNING") if s in statuses), "FINISHED")
        self.client.set_terminated(run_id, "FAILED" if status == "RUNNING" else status)
        return status


class NullTracker:
    """``logger=none``: the same interface as :class:`MlflowTracker`, and nothing is recorded."""

    run_id = None

    @contextmanager
    def run(self, config: Mapping, job=None, resume_run_id=None) -> Iterator["NullTracker"]:
        with interrupts_never_dropped():  # as a tracked run: Ctrl-C is never lost
            yield self

    def describe(self) -> str:
        return "not tracked (logger=none)"

    def log_params(self, params) -> None: ...
    def log_metrics(self, metrics, step) -> None: ...
    def log_artifact(self, path, artifact_path=None) -> None: ...
    def log_artifacts(self, folder, artifact_path=None) -> None: ...
    def log_text(self, text, name) -> None: ...
    def set_tags(self, tags) -> None: ...
    def log_datasets(self, name, source, splits) -> None: ...

    def start_parent(self, job: HydraJob, swept: Mapping[str, str]) -> None:
        return None

    def summarise_parent(self, run_id, folder) -> None:
        return None

    def annotate(self, run_id, tags, metrics, files, artifact_path) -> None:
        return None

    def end_parent(self, run_id) -> None:
        return None


def _stop(monitor, patience: float = 10.0) -> None:
    """Stop a system-metrics monitor, waiting at most ``patience`` seconds (its last write may
    be stuck on a store that went away)."""
    if monitor is not None:
        import threading

        stopper = threading.Thread(target=monitor.finish, daemon=True)
        stopper.start()
        stopper.join(patience)


def read_parent_file(job: HydraJob) -> dict | None:
    """The sweep's parent run id and the sweep's own overrides, as written by :meth:`start_parent`."""
    if job.parent_run_file is None or not job.parent_run_file.is_file():
        return None
    return json.loads(job.parent_run_file.read_text())


def process_tags() -> dict[str, str]:
    """The host name and this process's id: which process a RUNNING run belongs to."""
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def source_tags() -> dict[str, str]:
    """Git commit and dirty flag, the script and user (MLflow's source columns), keras backend
    and version, and :func:`process_tags`."""
    import getpass
    import sys

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git.commit": commit or "unknown",
        "mlflow.source.git.commit": commit or "unknown",
        "git.dirty": "unknown" if status is None else str(bool(status)).lower(),
        "mlflow.source.name": _script_name(sys.argv[0]),
        "mlflow.source.type": "LOCAL",
        "mlflow.user": getpass.getuser(),
        **keras_tags(),
        **process_tags(),
    }


def keras_tags() -> dict[str, str]:
    """Keras's backend and version, without importing Keras where it is not loaded yet (a
    sweep's own process, which only creates the parent run): the backend is then the one Keras
    would pick, ``KERAS_BACKEND`` or else ``~/.keras/keras.json`` (default: tensorflow)."""
    import sys
    from importlib.metadata import version

    keras = sys.modules.get("keras")
    if keras is not None:
        return {"keras.backend": keras.backend.backend(), "keras.version": keras.__version__}
    backend = os.environ.get("KERAS_BACKEND")
    if not backend:
        settings = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
        try:
            backend = json.loads(settings.read_text()).get("backend")
        except (OSError, ValueError):
            backend = None
    return {"keras.backend": backend or "tensorflow", "keras.version": version("keras")}


def _script_name(path: str) -> str:
    """``/work/keraslab/scripts/run.py`` -> ``scripts/run.py`` (relative to the project)."""
    root = Path(os.environ.get("KERASLAB_ROOT") or "/").resolve()
    script = Path(path).resolve()
    return str(script.relative_to(root)) if script.is_relative_to(root) else script.name


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=os.environ.get("KERASLAB_ROOT"),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()

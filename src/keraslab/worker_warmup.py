"""Start ``hydra/launcher=joblib``'s worker processes, and their Keras import, early.

Every joblib worker imports Keras and its backend before its first job (about 5 s of one core
here), and the launcher only starts its workers once the sweep's own process has imported MLflow
and opened the sweep's parent run. :class:`JoblibWarmup`, the first of the sweep's callbacks,
hands the workers that import at once, from a background thread, so the two overlap: it calls
``joblib.Parallel`` with the launcher's own arguments, which makes joblib keep the same pool of
worker processes (its executor is reused when the arguments are equal) for the jobs.
"""

import threading

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


def joblib_arguments(launcher: DictConfig) -> dict:
    """``joblib.Parallel``'s keyword arguments as hydra-joblib-launcher derives them from its
    config (loky backend, numeric strings as integers)."""
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

    arguments = OmegaConf.to_container(launcher, resolve=True)
    arguments.pop("_target_")
    arguments["backend"] = "loky"
    process_joblib_cfg(arguments)
    return arguments


def warm_workers(arguments: dict) -> None:
    """Import Keras and its backend once in each worker of the pool that
    ``joblib.Parallel(**arguments)`` uses (it takes seconds, so every worker takes one)."""
    from joblib import Parallel, delayed, effective_n_jobs

    from keraslab.quiet import import_backend

    workers = effective_n_jobs(arguments["n_jobs"])
    Parallel(**arguments)(delayed(import_backend)() for _ in range(workers))


class JoblibWarmup(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if config.hydra.launcher.get("_target_") == JOBLIB_LAUNCHER:
            arguments = joblib_arguments(config.hydra.launcher)
            threading.Thread(target=warm_workers, args=(arguments,), daemon=True).start()

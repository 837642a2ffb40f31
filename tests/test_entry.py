"""What the package and the entry points set up: MLflow telemetry off unless asked for (in every
script and job: ``import keraslab`` does it), and a process exit that skips the garbage
collector's final passes, after every other exit handler."""

import os
import subprocess
import sys
import textwrap

EXIT_ORDER = textwrap.dedent(
    """
    import atexit, gc
    atexit.register(lambda: print("registered before: frozen", gc.get_freeze_count() > 0))
    from keraslab.entry import exit_without_final_collection
    before = atexit._ncallbacks()
    exit_without_final_collection()
    exit_without_final_collection()  # a second job of the same worker process
    print("hooks added", atexit._ncallbacks() - before)
    atexit.register(lambda: print("registered after: frozen", gc.get_freeze_count() > 0))
    """
)


def test_the_collector_is_frozen_after_the_exit_handlers_registered_after_the_hook():
    result = subprocess.run(
        [sys.executable, "-c", EXIT_ORDER], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "hooks added 1",
        "registered after: frozen False",
        "registered before: frozen True",
    ]


TELEMETRY = textwrap.dedent(
    """
    import keraslab
    from mlflow.environment_variables import MLFLOW_DISABLE_TELEMETRY
    print(MLFLOW_DISABLE_TELEMETRY.get())
    """
)


WORKER_JOB = textwrap.dedent(
    """
    import os
    from keraslab.entry import run_job
    print(run_job(lambda cfg: os.environ["MLFLOW_DISABLE_TELEMETRY"], None))
    """
)


def test_mlflow_telemetry_is_off_unless_the_user_turns_it_on():
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_DISABLE_TELEMETRY"}
    outputs = []
    cases = [
        (TELEMETRY, {}),
        (TELEMETRY, {"MLFLOW_DISABLE_TELEMETRY": "false"}),
        (WORKER_JOB, {}),  # a launcher's worker process starts in run_job
    ]
    for script, setting in cases:
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, **setting},
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.strip())
    assert outputs == ["True", "False", "true"]

"""MLflow's system metrics on every run (CPU, memory, disk, network as ``system/*``), sampled
while the run is open, resumed without repeating steps, and off with
``logger.system_metrics=false``."""

import time

import pytest
from mlflow import MlflowClient

from keraslab.errors import ConfigError
from keraslab.tracking.mlflow_tracker import MlflowTracker

EXPERIMENT = "system"


def test_system_metrics_are_sampled_while_the_run_is_open_and_can_be_turned_off(tracking_uri):
    client = MlflowClient(tracking_uri)
    sampled = MlflowTracker(tracking_uri, EXPERIMENT, system_metrics_interval=0.2)
    with sampled.run({}):
        time.sleep(1.5)
    cpu = client.get_metric_history(sampled.run_id, "system/cpu_utilization_percentage")
    assert len(cpu) >= 2 and all(0 <= m.value <= 100 for m in cpu)
    assert "system/system_memory_usage_megabytes" in client.get_run(sampled.run_id).data.metrics
    with MlflowTracker(tracking_uri, EXPERIMENT).run({}, resume_run_id=sampled.run_id):
        time.sleep(0.1)  # the default interval: no sample before the run ends
    assert client.get_metric_history(sampled.run_id, "system/cpu_utilization_percentage") == cpu

    quiet = MlflowTracker(tracking_uri, EXPERIMENT, system_metrics=False)
    with quiet.run({}):
        time.sleep(0.5)
    metrics = client.get_run(quiet.run_id).data.metrics
    assert not [name for name in metrics if name.startswith("system/")]


def test_a_bad_sampling_interval_is_one_clear_error(tracking_uri):
    with pytest.raises(ConfigError, match=r"system_metrics_interval=0: expected a number"):
        MlflowTracker(tracking_uri, EXPERIMENT, system_metrics_interval=0)

"""Each step's result in the state locates its job's CloudWatch log streams (pure).

The offline run of the example app checks the same against a real execution
(tests/test_local_e2e.py, test_example_pipeline_succeeds_with_typed_values)."""

from __future__ import annotations

import pytest

from constructs_sm.definition import step_states
from constructs_sm.job_logs import PROCESSING_LOG_GROUP
from constructs_sm.model import Resources
from constructs_sm.retries import RetryScope
from tests.samples import sample_settings


@pytest.mark.parametrize("count", [1, 3])
def test_the_task_selects_the_log_group_and_stream_prefix_of_its_job(count: int) -> None:
    settings = sample_settings(resources=Resources(instance_count=count))
    _, states = step_states(settings, partition="aws", next_state=None, scope=RetryScope())
    task = states["Run train"]
    selector = task["ResultSelector"]
    assert selector["job_name.$"] == "$.ProcessingJobName"
    assert selector["log_group"] == PROCESSING_LOG_GROUP == "/aws/sagemaker/ProcessingJobs"
    # SageMaker names a job's streams <job name>/algo-<n>-<epoch>: one prefix, every host.
    assert selector["log_stream_prefix.$"] == "States.Format('{}/', $.ProcessingJobName)"
    assert task["ResultPath"] == "$.steps.train"


def test_locating_the_logs_adds_no_state() -> None:
    """The selector reads the job's description: no state, no transition of its own."""
    _, states = step_states(sample_settings(), partition="aws", next_state=None, scope=RetryScope())
    assert not [name for name in states if "log" in name.lower()]

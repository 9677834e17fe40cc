"""Processing-job rules (``constructs_sm.nag.rules.job``) on hand-written templates: each
change to the CreateProcessingJob parameters makes exactly its rule fire, per state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from constructs_sm.limits import MAX_RUNTIME_LIMIT
from constructs_sm.nag import PACK_NAME, check_stack, model_from_template
from tests.nag.templates import Pipeline


def _cluster(pipeline: Pipeline) -> dict[str, Any]:
    cluster: dict[str, Any] = pipeline.parameters["ProcessingResources"]["ClusterConfig"]
    return cluster


def _nvme_without_volume_key(p: Pipeline) -> None:
    del _cluster(p)["VolumeKmsKeyId"]
    _cluster(p)["InstanceType"] = "ml.m5d.xlarge"


def _multi_instance(*, encrypted: bool) -> Callable[[Pipeline], None]:
    def change(p: Pipeline) -> None:
        _cluster(p)["InstanceCount"] = 2
        if encrypted:
            p.parameters["NetworkConfig"]["EnableInterContainerTrafficEncryption"] = True

    return change


def _runtime(seconds: int) -> Callable[[Pipeline], None]:
    def change(p: Pipeline) -> None:
        p.parameters["StoppingCondition"]["MaxRuntimeInSeconds"] = seconds
        p.task["TimeoutSeconds"] = MAX_RUNTIME_LIMIT + 600

    return change


#: Change to the compliant pipeline -> the findings on its state machine.
CASES: dict[str, tuple[Callable[[Pipeline], None], dict[str, list[str]]]] = {
    "Compliant": (lambda p: None, {}),
    "NoNetworkIsolation": (
        lambda p: p.parameters["NetworkConfig"].update(EnableNetworkIsolation=False),
        {"JobNetworkIsolation": ["Job"]},
    ),
    "NoNetworkConfig": (
        lambda p: p.parameters.pop("NetworkConfig"),
        {"JobNetworkIsolation": ["Job"]},
    ),
    "NoVolumeKey": (
        lambda p: _cluster(p).pop("VolumeKmsKeyId"),
        {"JobVolumeEncryption": ["Job"]},
    ),
    "NvmeWithoutVolumeKey": (_nvme_without_volume_key, {}),
    "DynamicClusterConfig": (
        lambda p: p.parameters.update(ProcessingResources={"ClusterConfig.$": "$.cluster"}),
        {"JobVolumeEncryption": ["Job"], "JobInterContainerEncryption": ["Job"]},
    ),
    "NoOutputKey": (
        lambda p: p.parameters["ProcessingOutputConfig"].pop("KmsKeyId"),
        {"JobOutputEncryption": ["Job"]},
    ),
    "NoOutputs": (lambda p: p.parameters.pop("ProcessingOutputConfig"), {}),
    "MultiInstancePlaintext": (
        _multi_instance(encrypted=False),
        {"JobInterContainerEncryption": ["Job"]},
    ),
    "MultiInstanceEncrypted": (_multi_instance(encrypted=True), {}),
    "NoMaxRuntime": (
        lambda p: p.parameters.pop("StoppingCondition"),
        {"JobMaxRuntime": ["Job"]},
    ),
    "MaxRuntimeAtTheLimit": (_runtime(MAX_RUNTIME_LIMIT), {}),
    "MaxRuntimeAboveTheLimit": (_runtime(MAX_RUNTIME_LIMIT + 1), {"JobMaxRuntime": ["Job"]}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_change_makes_exactly_its_rule_fire(name: str) -> None:
    change, expected = CASES[name]
    pipeline = Pipeline()
    change(pipeline)
    assert pipeline.findings().get("M", {}) == expected


def test_every_job_rule_has_a_failing_case() -> None:
    fired = {rule for _, expected in CASES.values() for rule in expected}
    assert fired == {
        "JobNetworkIsolation",
        "JobVolumeEncryption",
        "JobOutputEncryption",
        "JobInterContainerEncryption",
        "JobMaxRuntime",
    }


def test_findings_are_per_state_and_name_the_problem() -> None:
    """A finding id is the state's name (``-`` for spaces); its detail says what is wrong."""
    pipeline = Pipeline()
    pipeline.states["Other job"] = {
        **pipeline.task,
        "Parameters": pipeline.parameters,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Wait other"}],
    }
    # Its own retry by cause (a Wait back to it; every error is retried here).
    pipeline.states["Wait other"] = {"Type": "Wait", "Seconds": 5, "Next": "Other job"}
    pipeline.task["Next"] = "Other job"
    del pipeline.task["End"]
    _cluster(pipeline)["InstanceCount"] = 3
    results = check_stack(model_from_template({"Resources": pipeline.resources()}))
    assert results["M"] == {
        f"{PACK_NAME}-JobInterContainerEncryption": {
            name: f"state '{state}': InstanceCount is 3 and "
            "NetworkConfig.EnableInterContainerTrafficEncryption is not true"
            for name, state in (("Job", "Job"), ("Other-job", "Other job"))
        }
    }

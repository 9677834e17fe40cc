"""Every rendered CreateProcessingJob request passes the strict validator: the example app
and a pipeline using every option at its limits, with the longest execution names and the
longest parameter values (worst-case values), for every retry and deployment."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from constructs_sm.service_model import request_problems
from tests.conftest import cdk_json_context
from tests.coverage_stack import LONG_STEP, CoverageStack
from tests.rendering import (
    DEPLOYMENTS,
    EXECUTION_NAMES,
    RETRY_COUNTS,
    SynthesizedApp,
    render_requests,
    synthesized_app,
)


@pytest.fixture(scope="module")
def coverage_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    outdir = tmp_path_factory.mktemp("coverage-app")
    app = cdk.App(outdir=str(outdir), context=cdk_json_context())
    stack = CoverageStack(app, "Coverage")
    app.synth()
    return synthesized_app(outdir, stack)


def test_every_option_at_its_limits_renders_valid_requests(coverage_app: SynthesizedApp) -> None:
    requests = render_requests(coverage_app, EXECUTION_NAMES, (0, max(RETRY_COUNTS)), DEPLOYMENTS)
    assert {r.step for r in requests} == {LONG_STEP, "wide", "nvme", "last"}
    for request in requests:
        problems = request_problems("CreateProcessingJob", request.params)
        assert not problems, f"{request.where()}:\n" + "\n".join(problems)


def test_the_worst_case_request_is_really_at_the_limits(coverage_app: SynthesizedApp) -> None:
    """The checks above see the extremes: 100 arguments of up to 256 characters, a
    256-character parameter in the arguments, 100 environment entries, 10 inputs and
    outputs, 50 tags, an 80-character execution name in the URIs, 256-character container
    paths, a ContainerEntrypoint of 100 items."""
    requests = render_requests(coverage_app, ["e" * 80])
    first = next(r.params for r in requests if r.step == LONG_STEP and r.input_index == 1)
    arguments = first["AppSpecification"]["ContainerArguments"]
    assert len(arguments) == 100 and max(len(a) for a in arguments) == 256
    assert len(first["Environment"]) == 100
    assert (
        len(first["ProcessingInputs"]) == 6
        and len(first["ProcessingOutputConfig"]["Outputs"]) == 10
    )
    assert len(first["Tags"]) == 48
    assert all(
        "e" * 80 in o["S3Output"]["S3Uri"] for o in first["ProcessingOutputConfig"]["Outputs"]
    )
    nvme = next(r.params for r in requests if r.step == "nvme")
    assert "VolumeKmsKeyId" not in nvme["ProcessingResources"]["ClusterConfig"]
    wide = next(r.params for r in requests if r.step == "wide")
    assert wide["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert wide["NetworkConfig"]["VpcConfig"]["Subnets"]
    paths = [i["S3Input"]["LocalPath"] for i in wide["ProcessingInputs"]] + [
        o["S3Output"]["LocalPath"] for o in wide["ProcessingOutputConfig"]["Outputs"]
    ]
    assert max(len(path) for path in paths) == 256
    last = next(r.params for r in requests if r.step == "last")
    entrypoint = last["AppSpecification"]["ContainerEntrypoint"]
    assert len(entrypoint) == 100 and entrypoint[3:5] == ["--command", "bash"]


def test_the_validator_catches_what_botocore_does_not() -> None:
    """Sanity: the strict validator is not a no-op on these shapes."""
    bad = {
        "ProcessingJobName": "x" * 64,
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "AppSpecification": {"ImageUri": "i", "ContainerArguments": ["a" * 257]},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.huge", "VolumeSizeInGB": 1}
        },
        "Tags": [{"Key": "a\tb", "Value": "v"}],
    }
    problems = " ".join(request_problems("CreateProcessingJob", bad))
    wheres = ("processingJobName", "containerArguments.1.member", "instanceType", "tags.1")
    for where in wheres:
        assert where in problems, where


def test_every_option_passes_statelint(coverage_app: SynthesizedApp) -> None:
    from statelint.linter import Linter

    for machine in coverage_app.state_machines:
        assert Linter.validate(machine.definition) == [], machine.logical_id

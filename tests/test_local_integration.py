"""The offline engine's pure parts and the moto internals it relies on (fast, no deploy)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.eval.states import ExecutionData
from moto.stepfunctions.responses import StepFunctionResponse

from constructs_sm.local import asl_fixes, cli, docker_standin, redrive, sagemaker
from constructs_sm.local.deploy import plain_http_policy
from constructs_sm.local.jobs import command_line, failure_reason, local_path, relative_key
from constructs_sm.local.runner import describe_pipeline, unknown_params

FACTORY = "state_task_service_for"


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5", "constructs_sm.local patches moto 5.2.5 internals"


def test_integration_points_exist_with_the_expected_shape() -> None:
    sagemaker.check_integration_points()
    asl_fixes.check_integration_points()
    factory = state_task_service_factory.state_task_service_for
    assert list(inspect.signature(factory).parameters) == ["service_name"]
    assert "sagemaker" in state_task_service_factory._UNSUPPORTED_SERVICE_NAMES
    assert getattr(state_task_factory, FACTORY) in (factory, sagemaker._factory)


def test_moto_lacks_redrive_and_the_engine_adds_it() -> None:
    """moto 5.2.5 answers RedriveExecution with NotImplementedError and its context object
    has no RedriveCount: constructs_sm.local.redrive adds both. If moto grows its own, this
    fails and the patch can go."""
    redrive.check_integration_points()
    assert StepFunctionResponse.__dict__.get("redrive_execution") in (
        None,
        redrive._response_redrive_execution,
    )
    assert "RedriveCount" not in ExecutionData.__annotations__


def test_install_routes_sagemaker_and_aws_sdk_tasks_and_uninstall_restores() -> None:
    running = sagemaker._RUNNER  # the session's emulator may be up: put it back after
    if running is not None:
        sagemaker.uninstall()
    original = getattr(state_task_factory, FACTORY)
    runner = sagemaker.JobRunner(
        client=lambda service, region: None, work_dir=Path(), job_env={}, account="1"
    )
    sagemaker.install(runner)
    try:
        make = getattr(state_task_factory, FACTORY)
        assert isinstance(make(service_name="sagemaker"), sagemaker.SageMakerTaskService)
        assert isinstance(make(service_name="aws-sdk"), sagemaker.AwsSdkTaskService)
    finally:
        sagemaker.uninstall()
        assert getattr(state_task_factory, FACTORY) is original
        if running is not None:
            sagemaker.install(running)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("ResourceInUse", "SageMaker.ResourceInUseException"),
        ("ResourceLimitExceeded", "SageMaker.ResourceLimitExceededException"),
        ("ValidationException", "SageMaker.AmazonSageMakerException"),
    ],
)
def test_sagemaker_error_names(code: str, name: str) -> None:
    assert sagemaker.error_name(code) == name


@pytest.mark.parametrize(
    ("service", "name"),
    [
        ("s3", "S3"),
        ("dynamodb", "DynamoDb"),
        ("sfn", "Sfn"),
        ("sagemaker", "SageMaker"),
        ("ec2", "Ec2"),
        ("acmpca", "AcmPca"),
        ("lambda", "Lambda"),
    ],
)
def test_aws_sdk_errors_use_the_services_pascal_case_name(service: str, name: str) -> None:
    """AWS: ``S3.NoSuchKeyException``; moto 5.2.5 alone: ``s3.NoSuchKeyException``."""
    assert sagemaker.sdk_service_error_name(service) == name
    assert sagemaker.AwsSdkTaskService._normalise_service_error_name(service) == name


def test_definite_paths_return_their_single_match() -> None:
    installed = asl_fixes._original is not None  # by the session's emulator: keep them
    asl_fixes.install()
    try:
        data = [{"steps": {"a": 1}}, {"steps": {"b": 2}}]
        assert asl_fixes.extract_json("$[1].steps", data) == {"b": 2}
        assert asl_fixes.extract_json("$[*].steps", data) == [{"a": 1}, {"b": 2}]
        # Indefinite paths are lists, one match or none (Jayway JsonPath, as on AWS).
        hosts = {"hosts": [{"values": {"n": 1}}, {"values": {}}]}
        assert asl_fixes.extract_json("$.hosts[*].values.n", hosts) == [1]
        assert asl_fixes.extract_json("$.hosts[*].values.m", hosts) == []
    finally:
        if not installed:
            asl_fixes.uninstall()
    assert asl_fixes.is_definite("$.a[0].b")
    assert not asl_fixes.is_definite("$.a[*].b")


def test_a_stopped_task_still_gets_its_timeout_value() -> None:
    """moto skips evaluating TimeoutSeconds once the program stopped, while the task pops
    the value anyway (and took its parameters for a timeout)."""

    class StoppedEnvironment:
        def __init__(self) -> None:
            self.stack: list[Any] = ["parameters"]

        def is_running(self) -> bool:
            return False

    installed = asl_fixes._original is not None  # by the session's emulator: keep them
    asl_fixes.install()
    try:
        env = StoppedEnvironment()
        TimeoutSeconds(timeout_seconds=5).eval(env)  # type: ignore[arg-type]
        assert env.stack.pop() == 5
    finally:
        if not installed:
            asl_fixes.uninstall()


@pytest.mark.parametrize(
    ("prefix", "key", "expected"),
    [
        ("data/raw/", "data/raw/2024/a.csv", "2024/a.csv"),
        ("code/abc.zip", "code/abc.zip", "abc.zip"),
        ("abc.zip", "abc.zip", "abc.zip"),
        ("Churn/run/_run/params.json", "Churn/run/_run/params.json", "params.json"),
    ],
)
def test_relative_key(prefix: str, key: str, expected: str) -> None:
    assert relative_key(prefix, key) == expected


def test_relative_key_refuses_to_leave_the_channel() -> None:
    with pytest.raises(ValueError, match="cannot be stored"):
        relative_key("data/", "data/../../etc/passwd")


def test_local_path_maps_opt_ml_into_the_job_dir(tmp_path: Path) -> None:
    assert local_path(tmp_path, "/opt/ml/processing/input/raw") == (
        tmp_path / "processing" / "input" / "raw"
    )
    assert local_path(tmp_path, "/data/x") == tmp_path / "fs" / "data" / "x"


def test_command_line_runs_python_as_this_interpreter() -> None:
    app = {"ContainerEntrypoint": ["python3", "-c", "pass"], "ContainerArguments": ["a b"]}
    assert command_line(app) == [sys.executable, "-c", "pass", "a b"]
    with pytest.raises(ValueError, match="ContainerEntrypoint is required"):
        command_line({"ImageUri": "x"})


def test_failure_reason_has_exit_code_and_stderr_tail_within_1024() -> None:
    assert failure_reason(3, "Traceback\nboom\n") == (
        "AlgorithmError: process exited with code 3: Traceback\nboom"
    )
    assert len(failure_reason(1, "x" * 5000)) <= 1024


def test_plain_http_policy_drops_only_tls_denials() -> None:
    allow: dict[str, Any] = {"Effect": "Allow", "Action": "s3:PutObject", "Principal": "*"}
    deny_tls = {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    deny_version = {"Effect": "Deny", "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}
    policy = plain_http_policy({"Statement": [deny_tls, allow, deny_version]})
    assert policy["Statement"] == [allow]


def test_docker_standin_accepts_only_what_cdk_publishing_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (["login", "-u", "AWS", "x"], ["inspect", "img"], ["tag", "a", "b"]):
        assert docker_standin.main(command) == 0
    assert docker_standin.main(["build", "--tag", "x", "."]) == 0
    assert "skipped" in capsys.readouterr().out
    assert docker_standin.main(["run", "img"]) == 1


def test_describe_pipeline_reads_bucket_prefix_and_steps() -> None:
    definition = {
        "States": {
            "Merge defaults": {
                "Parameters": {
                    "run": {
                        "bucket": "bkt",
                        "pipeline": "Churn",
                        "execution.$": "$$.Execution.Name",
                    }
                }
            },
            "Parallel 1": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "States": {
                            "Run a": {
                                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                                "Parameters": {
                                    "Environment": {"CSM_STEP": "a"},
                                    "ProcessingInputs": [
                                        {"InputName": "code", "S3Input": {"S3Uri": "s3://a/c.zip"}},
                                        {"InputName": "x", "S3Input": {"S3Uri": "s3://a/x/"}},
                                    ],
                                },
                            }
                        }
                    }
                ],
            },
        }
    }
    info = describe_pipeline(definition, "arn", "Stack")
    assert info is not None
    assert (info.name, info.bucket, info.steps) == ("Churn", "bkt", ("a",))
    assert info.code_uris == ("s3://a/c.zip",)
    assert info.run_prefix == "Churn/"
    assert info.key("e1", "a", "out", "f.csv") == "Churn/a/out/e1/f.csv"
    assert info.is_run_key("e1", "Churn/a/out/e1/f.csv")
    assert not info.is_run_key("e1", "Churn/a/out/e10/f.csv")
    assert describe_pipeline({"States": {}}, "arn", "Stack") is None
    assert json.dumps(info.steps)


def test_unknown_params_are_the_undeclared_keys() -> None:
    declared: dict[str, Any] = {"epochs": {}, "raw_uri": {}}
    assert unknown_params({"epochs": 1, "epoch": 2, "zz": 3}, declared) == ["epoch", "zz"]
    assert unknown_params({"epochs": 1}, declared) == []


def _last_json(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    return document


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--json", "--no-such-option"],
        ["run", "--json", "--input", "[1, 2]"],
        ["run", "--json", "--input", "{not json"],
        ["run", "--json", "--data", "dir-without-uri"],
    ],
)
def test_cli_usage_errors_end_with_the_json_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Usage errors are found before the emulator starts; --json still answers."""
    assert cli.main(argv) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    document = _last_json(captured.out)
    assert document["status"] == cli.STATUS_ERROR
    assert document["error"] == "UsageError"
    assert document["cause"] and document["steps"] == {}
    assert "error" in captured.err


def test_cli_usage_error_without_json_prints_no_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--input", "[1]"]) == cli.EXIT_USAGE
    assert capsys.readouterr().out == ""


def test_python_m_constructs_sm_local_ends_with_the_json_line(root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "constructs_sm.local", "run", "--json", "--input", "nope"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == cli.EXIT_USAGE
    assert _last_json(result.stdout)["error"] == "UsageError"


def test_input_words_split_by_a_shell_are_joined() -> None:
    """`make demo ARGS='--input {...}'` reaches the CLI as several words."""
    from constructs_sm.local.cli import _parse_inputs, parser

    args = parser().parse_args(
        ["run", "--input", "{}", "--input", '{"epochs":', "0,", '"raw_uri":', '"s3://b/k"}']
    )
    params, _ = _parse_inputs(args)
    assert params == {"epochs": 0, "raw_uri": "s3://b/k"}

"""Pure rendering of a step: resources, job names, the CreateProcessingJob parameters."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, cast

import pytest

from constructs_sm.limits import JOB_NAME
from constructs_sm.params import Param, ParamRef
from constructs_sm.step import (
    BOOTSTRAP,
    INVALID_RETURN_VALUES,
    JobSettings,
    OutputRef,
    ProcessingStep,
    Resources,
    StepInput,
    ValueRef,
    env_entry,
    job_name_expression,
    job_name_prefix,
    render_job_parameters,
    step_states,
)


def _step(name: str) -> ProcessingStep:
    return cast(ProcessingStep, SimpleNamespace(step_name=name))


def _settings(**overrides: Any) -> JobSettings:
    values: dict[str, Any] = {
        "pipeline": "Churn",
        "step": "train",
        "job_prefix": "churn-train-0123abcd",
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/img:1",
        "role_arn": "arn:aws:iam::123456789012:role/step",
        "code_uri": "s3://assets/abc.zip",
        "script": "train.py",
        "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "resources": Resources(),
        "inputs": {"train": StepInput(OutputRef(_step("prepare"), "train"))},
        "outputs": ["model"],
        "environment": {"EPOCHS": ParamRef(Param.integer("epochs", default=1)), "MODE": "fast"},
        "returns": {"loss": "number"},
    }
    values.update(overrides)
    return JobSettings(**values)


def test_resources_defaults_and_validation() -> None:
    default = Resources()
    assert (default.instance_type, default.instance_count, default.volume_size_gb) == (
        "ml.m5.xlarge",
        1,
        30,
    )
    with pytest.raises(ValueError, match=r"instance_count must be between 1 and 100, got 0"):
        Resources(instance_count=0)
    with pytest.raises(ValueError, match=r"volume_size_gb must be between 1 and 16384, got 20000"):
        Resources(volume_size_gb=20000)
    with pytest.raises(ValueError, match=r"max_runtime_seconds must be between 1 and 777600"):
        Resources(max_runtime_seconds=777601)
    with pytest.raises(ValueError, match=r"instance_type must look like 'ml.<family>.<size>'"):
        Resources(instance_type="m5.large")
    with pytest.raises(ValueError, match=r"instance_count must be an int, got True"):
        Resources(instance_count=True)
    with pytest.raises(ValueError, match=r"instance_type .*; instance_count"):
        Resources(instance_type="x", instance_count=101)


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [
        ("ml.m5.xlarge", False),
        ("ml.m5d.xlarge", True),
        ("ml.g4dn.xlarge", True),
        ("ml.p3dn.24xlarge", True),
        ("ml.m6id.large", True),
        ("ml.g5.xlarge", True),
        ("ml.t3.medium", False),
        ("ml.c5.2xlarge", False),
    ],
)
def test_local_storage_instance_types(instance_type: str, local: bool) -> None:
    assert Resources(instance_type=instance_type).local_storage is local


def test_step_input_validation() -> None:
    with pytest.raises(ValueError, match=r"mode must be File, Pipe or FastFile, got 'Stream'"):
        StepInput("s3://b/k", mode="Stream")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"distribution must be FullyReplicated or ShardedByS3Key"):
        StepInput("s3://b/k", distribution="Random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"data_type must be S3Prefix or ManifestFile"):
        StepInput("s3://b/k", data_type="Other")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pipeline", "step"),
    [("Churn", "train"), ("A" * 40, "b" * 40), ("x_y", "__z__"), ("9", "-")],
)
def test_job_name_prefix_keeps_names_valid(pipeline: str, step: str) -> None:
    prefix = job_name_prefix(pipeline, step, "Stack/Pipeline")
    assert len(prefix) <= 30
    assert JOB_NAME.match(prefix + "-" + "0" * 32)


def test_job_name_prefixes_are_distinct_and_never_nest() -> None:
    steps = ["train", "Train", "train_big", "my_step", "x" * 40, "x" * 39 + "y"]
    prefixes = [job_name_prefix("CustomerChurnPredictionPipelineV2", s, "S/P") for s in steps]
    assert len(set(prefixes)) == len(steps)
    for one in prefixes:
        for other in prefixes:
            assert one == other or not (other + "-").startswith(one + "-")
    # The same pipeline path in another stack gets other prefixes.
    assert job_name_prefix("P", "train", "A/P") != job_name_prefix("P", "train", "B/P")
    assert job_name_prefix("Churn", "train", "S/P").startswith("churn-train-")


def test_job_name_expression_hashes_execution_step_entry_and_retry() -> None:
    expression = job_name_expression("churn-train", "train")
    assert expression.startswith("States.Format('churn-train-{}', States.Hash(")
    for path in ("$$.Execution.Id", "$$.State.EnteredTime", "$$.State.RetryCount"):
        assert path in expression
    assert expression.endswith("'MD5'))")


def test_bootstrap_fits_one_entrypoint_item() -> None:
    assert len(BOOTSTRAP) <= 256
    assert "CSM_ML_DIR" in BOOTSTRAP


def test_env_entries_convert_non_strings_in_the_state_machine() -> None:
    assert env_entry("A", ParamRef(Param.string("s", default="x"))) == ("A.$", "$.params.s")
    assert env_entry("B", ParamRef(Param.boolean("b", default=True))) == (
        "B.$",
        "States.Format('{}', $.params.b)",
    )
    value = ValueRef(_step("evaluate"), "accuracy", "number")
    assert env_entry("C", value) == (
        "C.$",
        "States.Format('{}', $.steps.evaluate.returned.values.accuracy)",
    )
    assert env_entry("D", True) == ("D", "true")
    assert env_entry("E", 0.5) == ("E", "0.5")


def test_render_uses_every_relevant_field() -> None:
    parameters = render_job_parameters(_settings())
    assert set(parameters) == {
        "ProcessingJobName.$",
        "RoleArn",
        "AppSpecification",
        "Environment",
        "ProcessingInputs",
        "ProcessingOutputConfig",
        "ProcessingResources",
        "StoppingCondition",
        "NetworkConfig",
    }
    app = parameters["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["python3", "-c", BOOTSTRAP, "train.py"]
    assert "ContainerArguments" not in app
    assert parameters["Environment"] == {
        "CSM_STEP": "train",
        "CSM_PIPELINE": "Churn",
        "EPOCHS.$": "States.Format('{}', $.params.epochs)",
        "MODE": "fast",
    }
    names = [i["InputName"] for i in parameters["ProcessingInputs"]]
    assert names == ["code", "params", "train"]
    code, params, train = parameters["ProcessingInputs"]
    assert code["S3Input"]["S3Uri"] == "s3://assets/abc.zip"
    assert params["S3Input"]["S3Uri.$"] == (
        "States.Format('s3://{}/{}/_run/', $.run.bucket, $.run.root)"
    )
    assert train["S3Input"] == {
        "S3Uri.$": "States.Format('s3://{}/{}/prepare/train/', $.run.bucket, $.run.root)",
        "LocalPath": "/opt/ml/processing/input/train",
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }
    outputs = parameters["ProcessingOutputConfig"]
    assert outputs["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"
    assert [o["OutputName"] for o in outputs["Outputs"]] == ["model", "returns"]
    assert outputs["Outputs"][0]["S3Output"]["S3Uri.$"] == (
        "States.Format('s3://{}/{}/train/model/', $.run.bucket, $.run.root)"
    )
    cluster = parameters["ProcessingResources"]["ClusterConfig"]
    assert cluster == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.xlarge",
        "VolumeSizeInGB": 30,
        "VolumeKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
    }
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert parameters["NetworkConfig"] == {
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": False,
    }


def test_render_options() -> None:
    parameters = render_job_parameters(
        _settings(
            resources=Resources(instance_type="ml.m5d.xlarge", instance_count=2),
            inputs={
                "raw": StepInput(
                    ParamRef(Param.string("raw_uri")), mode="Pipe", distribution="ShardedByS3Key"
                ),
                "lit": StepInput("s3://bucket/prefix/"),
            },
            arguments=["--flag", ParamRef(Param.integer("n", default=1)), "it's {x}"],
            subnet_ids=["subnet-1"],
            security_group_ids=["sg-1"],
            tags={"team": "ml"},
            network_isolation=False,
            returns={},
        )
    )
    cluster = parameters["ProcessingResources"]["ClusterConfig"]
    assert "VolumeKmsKeyId" not in cluster  # local NVMe storage is hardware-encrypted
    assert parameters["NetworkConfig"] == {
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": True,
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
    }
    raw = parameters["ProcessingInputs"][2]["S3Input"]
    assert raw["S3Uri.$"] == "$.params.raw_uri"
    assert (raw["S3InputMode"], raw["S3DataDistributionType"]) == ("Pipe", "ShardedByS3Key")
    assert parameters["ProcessingInputs"][3]["S3Input"]["S3Uri"] == "s3://bucket/prefix/"
    assert parameters["AppSpecification"]["ContainerArguments.$"] == (
        "States.Array('--flag', States.Format('{}', $.params.n), 'it\\'s \\{x\\}')"
    )
    assert parameters["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert [o["OutputName"] for o in parameters["ProcessingOutputConfig"]["Outputs"]] == ["model"]


def test_render_static_arguments_and_no_kms() -> None:
    parameters = render_job_parameters(_settings(arguments=["--a", "b"], kms_key_arn=None))
    assert parameters["AppSpecification"]["ContainerArguments"] == ["--a", "b"]
    assert "KmsKeyId" not in parameters["ProcessingOutputConfig"]
    assert "VolumeKmsKeyId" not in parameters["ProcessingResources"]["ClusterConfig"]


def test_step_states_with_returns() -> None:
    first, states = step_states(
        _settings(), partition="aws", next_state="After", failed_state="train failed"
    )
    assert first == "Run train"
    task = states["Run train"]
    assert task["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    assert task["TimeoutSeconds"] == 86400 + 7200
    assert task["ResultPath"] == "$.steps.train"
    retried = [e for r in task["Retry"] for e in r["ErrorEquals"]]
    for error in (
        "SageMaker.AmazonSageMakerException",
        "SageMaker.ResourceLimitExceededException",
        "ThrottlingException",
        "States.Timeout",
    ):
        assert error in retried
    assert task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "train failed"}
    ]
    read = states[task["Next"]]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["Parameters"]["Key.$"] == (
        "States.Format('{}/train/returns/values.json', $.run.root)"
    )
    assert read["ResultSelector"] == {"values.$": "States.StringToJson($.Body)"}
    check = states[read["Next"]]
    assert check["Default"] == "After"
    assert {
        "Not": {"Variable": "$.steps.train.returned.values.loss", "IsNumeric": True},
        "Next": "train returned invalid values",
    } in check["Choices"]
    assert states["train returned no values"]["Error"] == INVALID_RETURN_VALUES
    assert "runtime.emit()" in states["train returned no values"]["Cause"]


def test_step_states_end_a_branch() -> None:
    _, states = step_states(
        _settings(returns={}), partition="aws", next_state=None, failed_state="f"
    )
    assert states == {"Run train": states["Run train"]}
    assert states["Run train"]["End"] is True
    _, states = step_states(_settings(), partition="aws", next_state=None, failed_state="f")
    assert states["Check train values"]["Default"] == "train done"
    assert states["train done"] == {"Type": "Succeed"}


def test_job_name_pattern_is_the_service_pattern() -> None:
    assert JOB_NAME.pattern == r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    assert not JOB_NAME.match("a" * 64)
    assert re.match(JOB_NAME, "a--b")

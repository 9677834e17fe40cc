"""One step's CreateProcessingJob request: job names, env entries, every field (pure)."""

from __future__ import annotations

import re

import pytest

from constructs_sm.job import (
    BOOTSTRAP,
    env_entry,
    job_name_expression,
    job_name_prefix,
    pipeline_job_prefix,
    render_job_parameters,
)
from constructs_sm.limits import JOB_NAME
from constructs_sm.model import Resources, StepInput, ValueRef
from constructs_sm.params import Param, ParamRef
from tests.samples import fake_step, sample_settings


@pytest.mark.parametrize(
    ("pipeline", "step"),
    [("Churn", "train"), ("A" * 40, "b" * 40), ("x_y", "__z__"), ("9", "-")],
)
def test_job_name_prefix_keeps_names_valid(pipeline: str, step: str) -> None:
    prefix = job_name_prefix(pipeline_job_prefix(pipeline, "Stack/Pipeline"), step)
    assert len(prefix) <= 28
    assert JOB_NAME.match(prefix + "-" + "0" * 32)


def test_job_name_prefixes_are_distinct_and_never_nest() -> None:
    pipeline = pipeline_job_prefix("CustomerChurnPredictionPipelineV2", "S/P")
    steps = ["train", "Train", "train_big", "my_step", "x" * 40, "x" * 39 + "y"]
    prefixes = [job_name_prefix(pipeline, s) for s in steps]
    assert len(set(prefixes)) == len(steps)
    for one in prefixes:
        for other in prefixes:
            assert one == other or not (other + "-").startswith(one + "-")
        # Every step's jobs are the pipeline's: one IAM statement covers them all.
        assert one.startswith(pipeline + "-")
        # No hyphen after the pipeline's: '<step prefix>-*' matches that step's jobs only.
        assert "-" not in one.removeprefix(pipeline + "-")
    # The same pipeline path in another stack gets another prefix.
    assert pipeline_job_prefix("P", "A/P") != pipeline_job_prefix("P", "B/P")
    assert pipeline_job_prefix("Churn", "S/P").startswith("churn-")
    assert job_name_prefix(pipeline_job_prefix("Churn", "S/P"), "train").split("-")[2][:5] == (
        "train"
    )


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
    value = ValueRef(fake_step("evaluate"), "accuracy", "number")
    assert env_entry("C", value) == (
        "C.$",
        "States.Format('{}', $.steps.evaluate.returned.values.accuracy)",
    )
    assert env_entry("D", True) == ("D", "true")
    assert env_entry("E", 0.5) == ("E", "0.5")


def test_render_uses_every_relevant_field() -> None:
    parameters = render_job_parameters(sample_settings())
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
        # An integer parameter given as 5.0 reaches the container as "5".
        "EPOCHS.$": "States.ArrayGetItem(States.StringSplit(States.Format('{}', "
        "$.params.epochs), '.'), 0)",
        "MODE": "fast",
    }
    names = [i["InputName"] for i in parameters["ProcessingInputs"]]
    assert names == ["code", "params", "train"]
    code, params, train = parameters["ProcessingInputs"]
    assert code["S3Input"]["S3Uri"] == "s3://assets/abc.zip"
    assert params["S3Input"]["S3Uri.$"] == (
        "States.Format('s3://{}/Churn/_run/params/{}/', $.run.bucket, $.run.execution)"
    )
    assert train["S3Input"] == {
        "S3Uri.$": (
            "States.Format('s3://{}/Churn/prepare/train/{}/', $.run.bucket, $.run.execution)"
        ),
        "LocalPath": "/opt/ml/processing/input/train",
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }
    outputs = parameters["ProcessingOutputConfig"]
    assert outputs["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"
    # One host returns its values in the ExitMessage: no returns channel.
    assert [o["OutputName"] for o in outputs["Outputs"]] == ["model"]
    assert outputs["Outputs"][0]["S3Output"]["S3Uri.$"] == (
        "States.Format('s3://{}/Churn/train/model/{}/', $.run.bucket, $.run.execution)"
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
        sample_settings(
            resources=Resources(instance_type="ml.g4dn.xlarge", instance_count=2),
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
        "States.Array('--flag', States.ArrayGetItem(States.StringSplit(States.Format('{}', "
        "$.params.n), '.'), 0), 'it\\'s \\{x\\}')"
    )
    assert parameters["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert [o["OutputName"] for o in parameters["ProcessingOutputConfig"]["Outputs"]] == ["model"]


def test_render_static_arguments_and_no_kms() -> None:
    parameters = render_job_parameters(sample_settings(arguments=["--a", "b"], kms_key_arn=None))
    assert parameters["AppSpecification"]["ContainerArguments"] == ["--a", "b"]
    assert "KmsKeyId" not in parameters["ProcessingOutputConfig"]
    assert "VolumeKmsKeyId" not in parameters["ProcessingResources"]["ClusterConfig"]


def test_job_name_pattern_is_the_service_pattern() -> None:
    assert JOB_NAME.pattern == r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    assert not JOB_NAME.match("a" * 64)
    assert re.match(JOB_NAME, "a--b")


def test_several_hosts_return_values_through_a_channel_of_their_own() -> None:
    parameters = render_job_parameters(sample_settings(resources=Resources(instance_count=3)))
    outputs = parameters["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in outputs] == ["model", "returns"]
    assert outputs[1]["S3Output"] == {
        "S3Uri.$": "States.Format('s3://{}/Churn/_returns/train/{}/', $.run.bucket, "
        "$.run.execution)",
        "LocalPath": "/opt/ml/processing/csm/returns",
        "S3UploadMode": "EndOfJob",
    }

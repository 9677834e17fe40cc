"""The declared value types: Resources, StepInput (pure)."""

from __future__ import annotations

import pytest

from constructs_sm.limits import has_local_storage
from constructs_sm.model import Resources, StepInput, env_spec, shown
from constructs_sm.service_model import instance_types


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
    with pytest.raises(
        ValueError,
        match=r"instance_type must be a SageMaker Processing instance type .*got "
        r"'m5.large'; did you mean .*ml.m5.large",
    ):
        Resources(instance_type="m5.large")
    # The enum of the API model, not a regex: a well-formed but unknown type is refused.
    with pytest.raises(ValueError, match=r"got 'ml.m5.huge'"):
        Resources(instance_type="ml.m5.huge")
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
        ("ml.g7.2xlarge", True),
        ("ml.g7e.2xlarge", True),
        ("ml.p5.4xlarge", True),
        ("ml.r5d.large", True),
        ("ml.t3.medium", False),
        ("ml.c5.2xlarge", False),
    ],
)
def test_local_storage_instance_types(instance_type: str, local: bool) -> None:
    """The enum's 51 NVMe types are in g4dn, r5d, g5, g6, g6e, g7, g7e and ml.p5.4xlarge
    (EC2's InstanceStorageInfo for each)."""
    assert has_local_storage(instance_type) is local
    if instance_type in instance_types():
        assert Resources(instance_type=instance_type).local_storage is local


def test_step_input_validation() -> None:
    with pytest.raises(ValueError, match=r"mode must be File or Pipe, got 'Stream'"):
        StepInput("s3://b/k", mode="Stream")  # type: ignore[arg-type]
    # FastFile is a training-job mode: SageMaker Processing rejects it (S3InputMode enum).
    with pytest.raises(
        ValueError, match=r"mode 'FastFile' is a training-job input mode.*use mode='File'"
    ):
        StepInput("s3://b/k", mode="FastFile")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"distribution must be FullyReplicated or ShardedByS3Key"):
        StepInput("s3://b/k", distribution="Random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"data_type must be S3Prefix or ManifestFile"):
        StepInput("s3://b/k", data_type="Other")  # type: ignore[arg-type]


def test_messages_name_declared_values_not_object_reprs() -> None:
    class Node:
        path = "App/Stack/Thing"

    class Construct:
        node = Node()

    class Step:
        step_name = "prepare"

    assert shown(Step()) == "step 'prepare'"
    assert shown(Construct()) == "Construct 'App/Stack/Thing'"
    assert shown(object()) == "a builtins.object"
    assert shown("s3://b/k") == "'s3://b/k'"
    assert len(shown("x" * 500)) == 200


def test_an_environment_value_holding_a_cloudformation_value_is_a_reference() -> None:
    """``table.table_name`` is a token CloudFormation resolves at deploy: the report says
    ``reference``, not ``literal``."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    bucket = s3.Bucket(cdk.Stack(cdk.App(), "S"), "B")
    assert env_spec(bucket.bucket_name) == {"type": "string", "source": "reference"}
    assert env_spec(f"s3://{bucket.bucket_name}/x/") == {"type": "string", "source": "reference"}
    assert env_spec("plain") == {"type": "string", "source": "literal"}
    assert env_spec(3) == {"type": "integer", "source": "literal"}

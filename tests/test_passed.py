"""Resources you pass in: every change the constructs make to one is a warning, and so is
every grant or encryption that cannot be applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.passed import (
    JOBS_WITHOUT_KEY,
    KEY_POLICY_CHANGED,
    LOG_BUCKET_POLICY_CHANGED,
    LOG_GROUP_NOT_ENCRYPTED,
    ROLE_CHANGED,
    ROLE_NOT_CHANGED,
)

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/processing:1"
ENV = cdk.Environment(account="123456789012", region="us-east-1")
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE_ARN = "arn:aws:iam::123456789012:role/team/existing-processing-role"


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Passed", env=ENV)


def _pipeline(stack: cdk.Stack, storage: ChannelBucket, script: Path, **step: Any) -> None:
    pipeline = ProcessingPipeline(
        stack, "Pipeline", storage=storage, image=ProcessingImage.from_registry(IMAGE_URI)
    )
    pipeline.add_step("prepare", code=script, outputs=["train"], **step)
    pipeline.render_definition()


def _warnings(stack: cdk.Stack) -> dict[str, list[str]]:
    """The constructs-sm warnings of ``stack``: id -> the construct paths they are on."""
    found: dict[str, list[str]] = {}
    for message in assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp(r"\[ack: constructs-sm:")
    ):
        text = str(message.entry.data)
        warning_id = text.rsplit("[ack: ", 1)[1].rstrip("]")
        found.setdefault(warning_id, []).append(message.id)
    return found


def _warning_text(stack: cdk.Stack, warning_id: str) -> str:
    (message,) = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp(rf"\[ack: {warning_id}\]")
    )
    return str(message.entry.data)


def _policy_sids(template: assertions.Template, stack: cdk.Stack, role: iam.Role) -> list[str]:
    """The Sids of the one policy CDK attached to ``role`` of ``stack``."""
    (policy,) = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": stack.get_logical_id(role.node.default_child)}]}},  # type: ignore[arg-type]
    ).values()
    return [s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def test_what_the_library_creates_raises_no_warning(script: Path) -> None:
    stack = _stack()
    _pipeline(stack, ChannelBucket(stack, "Storage"), script)
    assert _warnings(stack) == {}


def test_a_passed_role_gets_named_statements_and_the_shared_policy_with_a_warning(
    script: Path,
) -> None:
    stack = _stack()
    role = iam.Role(stack, "Mine", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    _pipeline(stack, ChannelBucket(stack, "Storage"), script, role=role)
    assert _warnings(stack) == {ROLE_CHANGED: ["/Passed/Pipeline/prepare"]}
    text = _warning_text(stack, ROLE_CHANGED)
    assert "ReadObjectsOfStepprepare" in text and "WriteObjectsOfStepprepare" in text
    template = assertions.Template.from_stack(stack)
    sids = _policy_sids(template, stack, role)
    assert sids == [
        "ReadObjectsOfStepprepare",
        "ReadListOfStepprepare",
        "WriteObjectsOfStepprepare",
    ]
    mine = template.find_resources("AWS::IAM::Role")[stack.get_logical_id(role.node.default_child)]  # type: ignore[arg-type]
    assert len(mine["Properties"]["ManagedPolicyArns"]) == 1  # the pipeline's StepsPolicy


def test_an_immutable_role_gets_nothing_and_a_warning_says_what_it_lacks(script: Path) -> None:
    stack = _stack()
    role = iam.Role.from_role_arn(stack, "Fixed", ROLE_ARN, mutable=False)
    _pipeline(stack, ChannelBucket(stack, "Storage"), script, role=role)
    assert _warnings(stack) == {ROLE_NOT_CHANGED: ["/Passed/Pipeline/prepare"]}
    text = _warning_text(stack, ROLE_NOT_CHANGED)
    assert "existing-processing-role" in text and "ReadObjectsOfStepprepare" in text
    assert "StepsPolicy" in text
    template = assertions.Template.from_stack(stack)
    # Nothing reaches the role: no policy names it, the shared policy is not attached to it.
    for policy in template.find_resources("AWS::IAM::Policy").values():
        assert "existing-processing-role" not in json.dumps(policy["Properties"].get("Roles"))
    for policy in template.find_resources("AWS::IAM::ManagedPolicy").values():
        assert "Roles" not in policy["Properties"]
    # The state machine may still pass it to SageMaker.
    assert "PassRolesGivenForSteps" in json.dumps(template.to_json())


def test_an_imported_mutable_role_gets_the_shared_policy_attached_from_the_policy_side(
    script: Path,
) -> None:
    stack = _stack()
    role = iam.Role.from_role_arn(stack, "Imported", ROLE_ARN)
    _pipeline(stack, ChannelBucket(stack, "Storage"), script, role=role)
    assert _warnings(stack) == {ROLE_CHANGED: ["/Passed/Pipeline/prepare"]}
    template = assertions.Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy", {"Roles": ["existing-processing-role"]}
    )


def test_a_passed_key_gets_a_logs_statement_with_a_warning_and_encrypts_the_logs(
    script: Path,
) -> None:
    stack = _stack()
    key = kms.Key(stack, "MyKey", enable_key_rotation=True)
    _pipeline(stack, ChannelBucket(stack, "Storage", encryption_key=key), script)
    assert _warnings(stack) == {KEY_POLICY_CHANGED: ["/Passed/Pipeline"]}
    assert "CloudWatchLogsEncryption" in _warning_text(stack, KEY_POLICY_CHANGED)
    template = assertions.Template.from_stack(stack)
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )


def test_an_imported_key_leaves_the_log_group_to_cloudwatch_logs_with_a_warning(
    script: Path,
) -> None:
    stack = _stack()
    key = kms.Key.from_key_arn(stack, "Imported", KEY_ARN)
    _pipeline(stack, ChannelBucket(stack, "Storage", encryption_key=key), script)
    assert _warnings(stack) == {LOG_GROUP_NOT_ENCRYPTED: ["/Passed/Pipeline"]}
    assert "imported" in _warning_text(stack, LOG_GROUP_NOT_ENCRYPTED)
    (group,) = assertions.Template.from_stack(stack).find_resources("AWS::Logs::LogGroup").values()
    assert "KmsKeyId" not in group["Properties"]


def test_a_passed_bucket_without_a_key_warns_that_jobs_and_logs_get_no_customer_key(
    script: Path,
) -> None:
    stack = _stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Theirs", "team-channel-bucket")
    storage = ChannelBucket(stack, "Storage", bucket=bucket)
    pipeline = ProcessingPipeline(
        stack, "Pipeline", storage=storage, image=ProcessingImage.from_registry(IMAGE_URI)
    )
    pipeline.add_step("prepare", code=script, outputs=["train"])
    assert _warnings(stack) == {
        JOBS_WITHOUT_KEY: ["/Passed/Pipeline"],
        LOG_GROUP_NOT_ENCRYPTED: ["/Passed/Pipeline"],
    }
    text = _warning_text(stack, JOBS_WITHOUT_KEY)
    assert "transient key" in text and "aws/s3" in text and "encryption_key" in text
    parameters = pipeline.render_definition()["States"]["Run prepare"]["Parameters"]
    assert "VolumeKmsKeyId" not in parameters["ProcessingResources"]["ClusterConfig"]
    assert "KmsKeyId" not in parameters["ProcessingOutputConfig"]


def test_a_passed_access_log_bucket_gets_the_delivery_statement_with_a_warning() -> None:
    stack = _stack()
    logs = s3.Bucket(stack, "Logs", enforce_ssl=True)
    ChannelBucket(stack, "Storage", server_access_logs_bucket=logs)
    assert _warnings(stack) == {LOG_BUCKET_POLICY_CHANGED: ["/Passed/Storage"]}


def test_the_state_machine_passes_each_given_role_once_in_one_statement(script: Path) -> None:
    """However many steps run a given role, the state machine's policy names it once: one
    statement per step outgrew IAM's 10,240 characters per role at about 50 steps."""
    stack = _stack()
    storage = ChannelBucket(stack, "Storage")
    pipeline = ProcessingPipeline(
        stack, "Pipeline", storage=storage, image=ProcessingImage.from_registry(IMAGE_URI)
    )
    shared = iam.Role(stack, "Shared", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    other = iam.Role.from_role_arn(stack, "Other", ROLE_ARN)
    for index in range(3):
        pipeline.add_step(f"s{index}", code=script, outputs=["out"], role=shared)
    pipeline.add_step("last", code=script, role=other)
    pipeline.render_definition()
    template = assertions.Template.from_stack(stack)
    passes = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "iam:PassRole" in json.dumps(statement["Action"])
        and "PassedToService" in json.dumps(statement.get("Condition", {}))
        and "Given" in statement["Sid"]
    ]
    (statement,) = passes
    assert statement["Sid"] == "PassRolesGivenForSteps"
    assert statement["Resource"] == [
        {"Fn::GetAtt": [stack.get_logical_id(shared.node.default_child), "Arn"]},  # type: ignore[arg-type]
        ROLE_ARN,
    ]
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_one_role_given_to_same_named_steps_of_two_pipelines_gets_unique_sids(
    script: Path,
) -> None:
    """IAM refuses a policy whose Sids repeat ("Statement IDs (SID) in a single policy
    must be unique"): the second pipeline's statements name it."""
    stack = _stack()
    storage = ChannelBucket(stack, "Storage")
    role = iam.Role(stack, "Mine", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    for name in ("First", "Second"):
        pipeline = ProcessingPipeline(
            stack, name, storage=storage, image=ProcessingImage.from_registry(IMAGE_URI)
        )
        pipeline.add_step("prepare", code=script, outputs=["train"], role=role)
        pipeline.render_definition()
    sids = _policy_sids(assertions.Template.from_stack(stack), stack, role)
    assert len(sids) == len(set(sids)) == 6
    assert "WriteObjectsOfStepprepare" in sids and "WriteObjectsOfStepprepareInSecond" in sids

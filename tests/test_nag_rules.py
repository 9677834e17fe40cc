"""Negative tests of our pack (``ProcessingPipelineChecks``), on stacks that do not use
constructs_sm: a hand-made bucket (L2 ``s3.Bucket`` or raw ``CfnBucket``), hand-written
IAM and a hand-written ``sfn.CustomState`` processing job.

One app holds a compliant baseline stack and one stack per insecure variant; the pack
validates the whole app once (``pack.validate_scope(app)``) and each test asserts on the
report's violations of one stack: an insecure variant makes exactly its rule fire, the
baseline makes none fire.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as deployment
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from constructs_sm.nag import (
    PACK_NAME,
    REQUIRED_RETRIES,
    RULES,
    ProcessingPipelineChecks,
    acknowledge,
)

JOB_RESOURCE = f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:createProcessingJob.sync"
STATE = "Process data"


@dataclass(frozen=True)
class Variant:
    """Every setting our pack checks; the defaults are compliant."""

    # channel bucket
    kms_encryption: bool = True
    key_rotation: bool = True
    bucket_key: bool = True
    enforce_ssl: bool = True
    ssl_objects_only: bool = False
    block_public_access: bool = True
    owner_enforced: bool = True
    versioned: bool = True
    access_logs: bool = True
    expire_current: bool = True
    expire_noncurrent: bool = True
    abort_multipart: bool = True
    lifecycle_prefix: str = "runs/"
    # IAM
    s3_wildcard: bool = False
    list_with_prefix: bool = True
    read_whole_bucket: bool = False
    write_outside_outputs: bool = False
    pass_role_condition: bool = True
    job_trust_conditions: bool = True
    machine_trust_conditions: bool = True
    # processing job
    network_isolation: bool = True
    volume_key: bool = True
    instance_type: str = "ml.m5.xlarge"
    output_key: bool = True
    instance_count: int = 1
    inter_container: bool = False
    max_runtime: bool = True
    # task
    timeout: int | None = 4 * 3600
    retries: tuple[str, ...] = REQUIRED_RETRIES
    catch: bool = True
    #: Where the Catch goes: "fail" (a Fail state), "pass-fail" (a Pass state, then Fail)
    #: or "pass-end" (a Pass state that ends the execution successfully).
    catch_target: str = "fail"
    # state machine
    machine_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD
    log_level: sfn.LogLevel = sfn.LogLevel.ALL
    include_execution_data: bool = False
    tracing: bool = True
    definition_in_s3: bool = False
    raw_bucket: bool = False


def _bucket(stack: cdk.Stack, v: Variant, key: kms.IKey, log_bucket: s3.IBucket) -> s3.IBucket:
    lifecycle = s3.LifecycleRule(
        prefix=v.lifecycle_prefix,
        expiration=cdk.Duration.days(30) if v.expire_current else None,
        noncurrent_version_expiration=cdk.Duration.days(7) if v.expire_noncurrent else None,
        abort_incomplete_multipart_upload_after=(
            cdk.Duration.days(1) if v.abort_multipart else None
        ),
    )
    bucket = s3.Bucket(
        stack,
        "Channel",
        encryption=s3.BucketEncryption.KMS if v.kms_encryption else s3.BucketEncryption.S3_MANAGED,
        encryption_key=key if v.kms_encryption else None,
        bucket_key_enabled=v.bucket_key,
        enforce_ssl=v.enforce_ssl and not v.ssl_objects_only,
        block_public_access=(
            s3.BlockPublicAccess.BLOCK_ALL
            if v.block_public_access
            else s3.BlockPublicAccess(
                block_public_acls=True,
                block_public_policy=False,
                ignore_public_acls=True,
                restrict_public_buckets=False,
            )
        ),
        object_ownership=(
            s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
            if v.owner_enforced
            else s3.ObjectOwnership.BUCKET_OWNER_PREFERRED
        ),
        versioned=v.versioned,
        server_access_logs_bucket=log_bucket if v.access_logs else None,
        lifecycle_rules=[lifecycle],
    )
    if v.ssl_objects_only:
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )
    return bucket


def _raw_bucket(stack: cdk.Stack, key: kms.IKey, log_bucket: s3.IBucket) -> s3.IBucket:
    """A compliant channel bucket written with L1 resources only."""
    bucket = s3.CfnBucket(
        stack,
        "Channel",
        bucket_encryption=s3.CfnBucket.BucketEncryptionProperty(
            server_side_encryption_configuration=[
                s3.CfnBucket.ServerSideEncryptionRuleProperty(
                    server_side_encryption_by_default=s3.CfnBucket.ServerSideEncryptionByDefaultProperty(
                        sse_algorithm="aws:kms", kms_master_key_id=key.key_arn
                    ),
                    bucket_key_enabled=True,
                )
            ]
        ),
        public_access_block_configuration=s3.CfnBucket.PublicAccessBlockConfigurationProperty(
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        ownership_controls=s3.CfnBucket.OwnershipControlsProperty(
            rules=[
                s3.CfnBucket.OwnershipControlsRuleProperty(object_ownership="BucketOwnerEnforced")
            ]
        ),
        versioning_configuration=s3.CfnBucket.VersioningConfigurationProperty(status="Enabled"),
        logging_configuration=s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=log_bucket.bucket_name
        ),
        lifecycle_configuration=s3.CfnBucket.LifecycleConfigurationProperty(
            rules=[
                s3.CfnBucket.RuleProperty(
                    status="Enabled",
                    prefix="runs/",
                    expiration_in_days=30,
                    noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                        noncurrent_days=7
                    ),
                    abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                        days_after_initiation=1
                    ),
                )
            ]
        ),
    )
    s3.CfnBucketPolicy(
        stack,
        "ChannelPolicy",
        bucket=bucket.ref,
        policy_document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:*",
                    "Resource": [bucket.attr_arn, f"{bucket.attr_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
    )
    return s3.Bucket.from_bucket_attributes(
        stack, "ChannelRef", bucket_arn=bucket.attr_arn, bucket_name=bucket.ref
    )


def _confused_deputy(service: str, source_arn: str) -> iam.IPrincipal:
    return iam.ServicePrincipal(service).with_conditions(
        {
            "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": source_arn},
        }
    )


def _job_role(stack: cdk.Stack, v: Variant, bucket: s3.IBucket, key: kms.IKey) -> iam.Role:
    jobs = stack.format_arn(service="sagemaker", resource="processing-job", resource_name="job-*")
    principal = (
        _confused_deputy("sagemaker.amazonaws.com", jobs)
        if v.job_trust_conditions
        else iam.ServicePrincipal("sagemaker.amazonaws.com")
    )
    role = iam.Role(stack, "JobRole", assumed_by=principal)
    read = bucket.arn_for_objects("*" if v.read_whole_bucket else "runs/*/input/*")
    write = bucket.arn_for_objects("runs/*" if v.write_outside_outputs else "runs/*/output/*")
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[read]))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[write]))
    prefix = {"StringLike": {"s3:prefix": ["runs/*/input/*"]}}
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions=prefix if v.list_with_prefix else None,
        )
    )
    if v.s3_wildcard:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:*"],
                resources=[bucket.arn_for_objects("runs/*/output/*")],
                conditions=prefix,
            )
        )
    key.grant_encrypt_decrypt(role)
    return role


def _machine_role(stack: cdk.Stack, v: Variant, job_role: iam.IRole) -> iam.Role:
    machines = stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name="*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    principal = (
        _confused_deputy("states.amazonaws.com", machines)
        if v.machine_trust_conditions
        else iam.ServicePrincipal("states.amazonaws.com")
    )
    role = iam.Role(stack, "MachineRole", assumed_by=principal)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob"],
            resources=[
                stack.format_arn(
                    service="sagemaker", resource="processing-job", resource_name="job-*"
                )
            ],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[job_role.role_arn],
            conditions=(
                {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
                if v.pass_role_condition
                else None
            ),
        )
    )
    return role


def _job_parameters(v: Variant, bucket: s3.IBucket, key: kms.IKey, role: iam.IRole) -> Any:
    cluster: dict[str, Any] = {
        "InstanceCount": v.instance_count,
        "InstanceType": v.instance_type,
        "VolumeSizeInGB": 30,
    }
    if v.volume_key:
        cluster["VolumeKmsKeyId"] = key.key_arn
    output_config: dict[str, Any] = {
        "Outputs": [
            {
                "OutputName": "result",
                "S3Output": {
                    "S3Uri.$": f"States.Format('s3://{bucket.bucket_name}/runs/{{}}/output/', "
                    "$$.Execution.Name)",
                    "LocalPath": "/opt/ml/processing/output/result",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    if v.output_key:
        output_config["KmsKeyId"] = key.key_arn
    network = {"EnableNetworkIsolation": v.network_isolation}
    if v.inter_container:
        network["EnableInterContainerTrafficEncryption"] = True
    parameters: dict[str, Any] = {
        "ProcessingJobName.$": "States.Format('job-{}', $$.Execution.Name)",
        "RoleArn": role.role_arn,
        "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1"},
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri.$": f"States.Format('s3://{bucket.bucket_name}/runs/{{}}/input/', "
                    "$$.Execution.Name)",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": output_config,
        "ProcessingResources": {"ClusterConfig": cluster},
        "NetworkConfig": network,
    }
    if v.max_runtime:
        parameters["StoppingCondition"] = {"MaxRuntimeInSeconds": 3600}
    return parameters


def build(stack: cdk.Stack, v: Variant) -> None:
    """A processing pipeline written without constructs_sm."""
    key = kms.Key(stack, "Key", enable_key_rotation=v.key_rotation)
    log_bucket = s3.Bucket(
        stack,
        "AccessLogs",
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    )
    bucket = (
        _raw_bucket(stack, key, log_bucket) if v.raw_bucket else _bucket(stack, v, key, log_bucket)
    )
    job_role = _job_role(stack, v, bucket, key)
    machine_role = _machine_role(stack, v, job_role)
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": JOB_RESOURCE,
        "Parameters": _job_parameters(v, bucket, key, job_role),
    }
    if v.timeout is not None:
        state["TimeoutSeconds"] = v.timeout
    job = sfn.CustomState(stack, STATE, state_json=state)
    for error in v.retries:
        job.add_retry(errors=[error], max_attempts=3, backoff_rate=1.5)
    if v.catch:
        failed = sfn.Fail(stack, "Failed")
        handler: sfn.IChainable = failed
        if v.catch_target != "fail":
            recover = sfn.Pass(stack, "Record failure")
            handler = recover.next(failed) if v.catch_target == "pass-fail" else recover
        job.add_catch(handler, errors=["States.ALL"], result_path="$.error")
    if v.definition_in_s3:
        body = sfn.DefinitionBody.from_file(__file__)
    else:
        body = sfn.DefinitionBody.from_chainable(job)
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=body,
        role=machine_role,
        state_machine_type=v.machine_type,
        tracing_enabled=v.tracing,
        logs=sfn.LogOptions(
            destination=logs.LogGroup(stack, "MachineLogs"),
            level=v.log_level,
            include_execution_data=v.include_execution_data,
        ),
    )


def build_hand_made(stack: cdk.Stack) -> None:
    """The usual first attempt: default bucket, grant_read_write, default roles, bare job."""
    bucket = s3.Bucket(stack, "Data")
    role = iam.Role(stack, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    bucket.grant_read_write(role)
    job = sfn.CustomState(
        stack,
        STATE,
        state_json={
            "Type": "Task",
            "Resource": JOB_RESOURCE,
            "Parameters": {
                "ProcessingJobName.$": "$$.Execution.Name",
                "RoleArn": role.role_arn,
                "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/j"},
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {
                            "OutputName": "out",
                            "S3Output": {
                                "S3Uri": f"s3://{bucket.bucket_name}/out/",
                                "LocalPath": "/opt/ml/processing/output",
                                "S3UploadMode": "EndOfJob",
                            },
                        }
                    ]
                },
                "ProcessingResources": {
                    "ClusterConfig": {
                        "InstanceCount": 2,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 30,
                    }
                },
            },
        },
    )
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(job))


def rule(name: str) -> str:
    return f"{PACK_NAME}-{name}"


def job_rule(name: str) -> str:
    """A per-state finding: the state's name with ``-`` for spaces."""
    return f"{PACK_NAME}-{name}[{STATE.replace(' ', '-')}]"


#: Variant name -> (settings, the rule ids that must fire).
VARIANTS: Mapping[str, tuple[Variant, set[str]]] = {
    "Baseline": (Variant(), set()),
    "RawL1Bucket": (Variant(raw_bucket=True), set()),
    "NvmeWithoutVolumeKey": (Variant(instance_type="ml.m5d.xlarge", volume_key=False), set()),
    "MultiInstanceEncrypted": (Variant(instance_count=2, inter_container=True), set()),
    "SseS3": (Variant(kms_encryption=False), {rule("ChannelBucketSseKms")}),
    "NoKeyRotation": (Variant(key_rotation=False), {rule("ChannelBucketKeyRotation")}),
    "NoBucketKey": (Variant(bucket_key=False), {rule("ChannelBucketBucketKey")}),
    "NoTlsPolicy": (Variant(enforce_ssl=False), {rule("ChannelBucketTlsOnly")}),
    "TlsOnObjectsOnly": (Variant(ssl_objects_only=True), {rule("ChannelBucketTlsOnly")}),
    "PublicAccessAllowed": (
        Variant(block_public_access=False),
        {rule("ChannelBucketPublicAccessBlock")},
    ),
    "AclsEnabled": (Variant(owner_enforced=False), {rule("ChannelBucketOwnerEnforced")}),
    "Unversioned": (
        # Noncurrent versions cannot exist without versioning; the rule stays as it is.
        Variant(versioned=False),
        {rule("ChannelBucketVersioning")},
    ),
    "NoAccessLogs": (Variant(access_logs=False), {rule("ChannelBucketAccessLogs")}),
    "NoRunExpiry": (Variant(expire_current=False), {rule("ChannelBucketLifecycle")}),
    "NoNoncurrentExpiry": (Variant(expire_noncurrent=False), {rule("ChannelBucketLifecycle")}),
    "NoMultipartAbort": (Variant(abort_multipart=False), {rule("ChannelBucketLifecycle")}),
    "LifecycleOnOtherPrefix": (
        Variant(lifecycle_prefix="unrelated/"),
        {rule("ChannelBucketLifecycle")},
    ),
    "LifecycleOnWholeBucket": (Variant(lifecycle_prefix=""), set()),
    "S3Wildcard": (Variant(s3_wildcard=True), {rule("IamNoS3Wildcard[Action::s3:*]")}),
    "ListWithoutPrefix": (Variant(list_with_prefix=False), {rule("IamListBucketPrefix")}),
    "ReadWholeBucket": (
        Variant(read_whole_bucket=True),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/*]")},
    ),
    "WriteOutsideOutputs": (
        Variant(write_outside_outputs=True),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/runs/*]")},
    ),
    "PassRoleAnyService": (Variant(pass_role_condition=False), {rule("IamPassRoleService")}),
    "JobTrustWithoutConditions": (
        Variant(job_trust_conditions=False),
        {rule("IamTrustConfusedDeputy[Service::sagemaker.amazonaws.com]")},
    ),
    "MachineTrustWithoutConditions": (
        Variant(machine_trust_conditions=False),
        {rule("IamTrustConfusedDeputy[Service::states.amazonaws.com]")},
    ),
    "NoNetworkIsolation": (Variant(network_isolation=False), {job_rule("JobNetworkIsolation")}),
    "NoVolumeKey": (Variant(volume_key=False), {job_rule("JobVolumeEncryption")}),
    "NoOutputKey": (Variant(output_key=False), {job_rule("JobOutputEncryption")}),
    "MultiInstancePlaintext": (
        Variant(instance_count=3),
        {job_rule("JobInterContainerEncryption")},
    ),
    "NoMaxRuntime": (Variant(max_runtime=False), {job_rule("JobMaxRuntime")}),
    "NoTimeout": (Variant(timeout=None), {job_rule("TaskTimeout")}),
    "TimeoutBelowRuntime": (Variant(timeout=600), {job_rule("TaskTimeout")}),
    "MissingRetries": (Variant(retries=REQUIRED_RETRIES[:2]), {job_rule("TaskRetry")}),
    "NoCatch": (Variant(catch=False), {job_rule("TaskCatch")}),
    "CatchToSuccess": (Variant(catch_target="pass-end"), {job_rule("TaskCatch")}),
    "CatchThroughPassToFail": (Variant(catch_target="pass-fail"), set()),
    "DefinitionInS3": (Variant(definition_in_s3=True), {rule("StateMachineDefinitionReadable")}),
    "Express": (
        Variant(machine_type=sfn.StateMachineType.EXPRESS),
        {rule("StateMachineStandard")},
    ),
    "LogErrorsOnly": (Variant(log_level=sfn.LogLevel.ERROR), {rule("StateMachineLogAll")}),
    "LogsExecutionData": (
        Variant(include_execution_data=True),
        {rule("StateMachineLogNoExecutionData")},
    ),
    "NoTracing": (Variant(tracing=False), {rule("StateMachineTracing")}),
}


def _l1(stack: cdk.Stack, path: str) -> cdk.CfnResource:
    construct: IConstruct = stack
    for child in path.split("/"):
        construct = construct.node.find_child(child)
    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    return resource


def _find_job_role(stack: cdk.Stack) -> iam.Role:
    role = stack.node.find_child("JobRole")
    assert isinstance(role, iam.Role)
    return role


def _find_channel(stack: cdk.Stack) -> s3.Bucket:
    bucket = stack.node.find_child("Channel")
    assert isinstance(bucket, s3.Bucket)
    return bucket


def _override_definition(stack: cdk.Stack) -> None:
    """Replace the whole DefinitionString: the same task, without network isolation."""
    key = stack.node.find_child("Key")
    assert isinstance(key, kms.Key)
    state = {
        "Type": "Task",
        "Resource": JOB_RESOURCE,
        "TimeoutSeconds": 4 * 3600,
        "Parameters": _job_parameters(
            Variant(network_isolation=False), _find_channel(stack), key, _find_job_role(stack)
        ),
        "Retry": [{"ErrorEquals": [error]} for error in REQUIRED_RETRIES],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
        "End": True,
    }
    definition = {"StartAt": STATE, "States": {STATE: state, "Failed": {"Type": "Fail"}}}
    _l1(stack, "Machine").add_property_override(
        "DefinitionString", stack.to_json_string(definition)
    )


def _grant(stack: cdk.Stack, statement: iam.PolicyStatement) -> None:
    _find_job_role(stack).add_to_policy(statement)


def _machine_role_policy(stack: cdk.Stack, conditions: dict[str, Any]) -> None:
    role = stack.node.find_child("MachineRole")
    assert isinstance(role, iam.Role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[_find_job_role(stack).role_arn],
            conditions=conditions,
        )
    )


def _role_policy_s3_wildcard(stack: cdk.Stack) -> None:
    iam.CfnRolePolicy(
        stack,
        "ExtraPolicy",
        role_name=_find_job_role(stack).role_name,
        policy_name="extra",
        policy_document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": _find_channel(stack).arn_for_objects("runs/*/output/*"),
                    "Condition": {"StringLike": {"s3:prefix": ["runs/*/output/*"]}},
                }
            ],
        },
    )


def _analyst(stack: cdk.Stack, actions: list[str]) -> None:
    analyst = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    analyst.add_to_policy(
        iam.PolicyStatement(
            actions=actions,
            resources=[_find_channel(stack).arn_for_objects("runs/*")],
            conditions={"StringLike": {"s3:prefix": ["runs/*"]}},
        )
    )


def _include_data_parameter(stack: cdk.Stack) -> None:
    parameter = cdk.CfnParameter(stack, "IncludeData", type="String", default="false")
    _l1(stack, "Machine").add_property_override(
        "LoggingConfiguration.IncludeExecutionData", parameter.value_as_string
    )


#: Changes made after ``build(stack, Variant())`` -- escape-hatch overrides (the rules read
#: the synthesized template) and extra grants -- and the rule ids that must fire.
MUTATIONS: Mapping[str, tuple[Callable[[cdk.Stack], None], set[str]]] = {
    "OverrideLogLevel": (
        lambda st: _l1(st, "Machine").add_property_override("LoggingConfiguration.Level", "ERROR"),
        {rule("StateMachineLogAll")},
    ),
    "OverrideIncludeExecutionData": (
        lambda st: _l1(st, "Machine").add_property_override(
            "LoggingConfiguration.IncludeExecutionData", True
        ),
        {rule("StateMachineLogNoExecutionData")},
    ),
    "TokenIncludeExecutionData": (
        _include_data_parameter,
        {rule("StateMachineLogNoExecutionData")},
    ),
    "OverrideDefinition": (_override_definition, {job_rule("JobNetworkIsolation")}),
    "OverrideSseS3": (
        lambda st: _l1(st, "Channel").add_property_override(
            "BucketEncryption.ServerSideEncryptionConfiguration",
            [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
        ),
        {rule("ChannelBucketSseKms")},
    ),
    "OverrideLifecycleDeleted": (
        lambda st: _l1(st, "Channel").add_deletion_override("Properties.LifecycleConfiguration"),
        {rule("ChannelBucketLifecycle")},
    ),
    "OverrideLogDestinationDeleted": (
        lambda st: _l1(st, "Channel").add_property_deletion_override(
            "LoggingConfiguration.DestinationBucketName"
        ),
        {rule("ChannelBucketAccessLogs")},
    ),
    "OverrideTrustConditionDeleted": (
        lambda st: _l1(st, "JobRole").add_property_deletion_override(
            "AssumeRolePolicyDocument.Statement.0.Condition"
        ),
        {rule("IamTrustConfusedDeputy[Service::sagemaker.amazonaws.com]")},
    ),
    "OverridePolicyWholeBucket": (
        lambda st: _l1(st, "JobRole/DefaultPolicy").add_property_override(
            "PolicyDocument.Statement.0.Resource", _find_channel(st).arn_for_objects("*")
        ),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/*]")},
    ),
    "ReadAllRuns": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[_find_channel(st).arn_for_objects("runs/*")]
            ),
        ),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/runs/*]")},
    ),
    "WriteUnderOtherPrefixSameEnding": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[_find_channel(st).arn_for_objects("archive/runs/*/output/*")],
            ),
        ),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/archive/runs/*/output/*]")},
    ),
    "NotResourceGrant": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                not_resources=[_find_channel(st).arn_for_objects("secret/*")],
            ),
        ),
        {rule("IamStepObjectAccess[NotResource::<Channel{hash}.Arn>/secret/*]")},
    ),
    "ListPrefixWildcard": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[_find_channel(st).bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["*"]}},
            ),
        ),
        {rule("IamListBucketPrefix")},
    ),
    "RolePolicyS3Wildcard": (_role_policy_s3_wildcard, {rule("IamNoS3Wildcard[Action::s3:*]")}),
    "PassRoleNegated": (
        lambda st: _machine_role_policy(
            st, {"StringNotEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        ),
        {rule("IamPassRoleService")},
    ),
    "PassRoleToEc2": (
        lambda st: _machine_role_policy(
            st, {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        ),
        {rule("IamPassRoleService")},
    ),
    "PassRoleUrlSuffix": (
        lambda st: _machine_role_policy(
            st, {"StringEquals": {"iam:PassedToService": f"sagemaker.{cdk.Aws.URL_SUFFIX}"}}
        ),
        set(),
    ),
    "AnalystS3WildcardOnChannel": (
        lambda st: _analyst(st, ["s3:*"]),
        {rule("IamNoS3Wildcard[Action::s3:*]")},
    ),
    "AnalystReadsChannel": (lambda st: _analyst(st, ["s3:GetObject", "s3:ListBucket"]), set()),
}


def build_unrelated(stack: cdk.Stack) -> None:
    """A stack without processing jobs: a site bucket, its deployment, an analyst's role."""
    bucket = s3.Bucket(stack, "Site")
    deployment.BucketDeployment(
        stack,
        "Deploy",
        sources=[deployment.Source.data("index.html", "<html></html>")],
        destination_bucket=bucket,
    )
    analyst = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    bucket.grant_read(analyst)


HAND_MADE_RULES = {
    rule("ChannelBucketSseKms"),
    rule("ChannelBucketTlsOnly"),
    rule("ChannelBucketPublicAccessBlock"),
    rule("ChannelBucketOwnerEnforced"),
    rule("ChannelBucketVersioning"),
    rule("ChannelBucketAccessLogs"),
    rule("ChannelBucketLifecycle"),
    rule("IamListBucketPrefix"),
    rule("IamStepObjectAccess[Resource::<Data{hash}.Arn>/*]"),
    # The StateMachine's default role already has the conditions (aws-cdk-lib >= 2.2xx).
    rule("IamTrustConfusedDeputy[Service::sagemaker.amazonaws.com]"),
    job_rule("JobNetworkIsolation"),
    job_rule("JobVolumeEncryption"),
    job_rule("JobOutputEncryption"),
    job_rule("JobInterContainerEncryption"),
    job_rule("JobMaxRuntime"),
    job_rule("TaskTimeout"),
    job_rule("TaskRetry"),
    job_rule("TaskCatch"),
    rule("StateMachineLogAll"),
    rule("StateMachineTracing"),
}


@pytest.fixture(scope="module")
def fired() -> dict[str, set[str]]:
    """Stack name -> the rule ids our pack reported on it (one validation of one app)."""
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    for name, (variant, _) in VARIANTS.items():
        build(cdk.Stack(app, name), variant)
    build_hand_made(cdk.Stack(app, "HandMade"))
    opted_out = cdk.Stack(app, "OptOutAcknowledged")
    build(opted_out, Variant(network_isolation=False))
    acknowledge(
        opted_out.node.find_child("Machine"),
        [job_rule("JobNetworkIsolation")],
        "The job calls a licensed service over the internet; egress is filtered by the VPC.",
    )
    for name, (mutate, _) in MUTATIONS.items():
        stack = cdk.Stack(app, name)
        build(stack, Variant())
        mutate(stack)
    build_unrelated(cdk.Stack(app, "Unrelated"))
    report = ProcessingPipelineChecks(app).validate_scope(app)
    names = [*VARIANTS, *MUTATIONS, "HandMade", "OptOutAcknowledged", "Unrelated"]
    result: dict[str, set[str]] = {name: set() for name in names}
    for violation in report.violations:
        assert violation.severity == "error", violation.rule_name
        for resource in violation.violating_resources:
            assert resource.construct_path, violation.rule_name
            result[resource.construct_path.split("/")[0]].add(violation.rule_name)
    return result


def _matches(expected: set[str], actual: set[str]) -> bool:
    """Rule ids are equal; ``{hash}`` in an expected id stands for a logical id's hash."""
    patterns = [
        re.compile(re.escape(e).replace(r"\{hash\}", "[A-F0-9]{8}") + "$") for e in expected
    ]
    return (
        len(expected) == len(actual)
        and all(any(p.match(a) for a in actual) for p in patterns)
        and all(any(p.match(a) for p in patterns) for a in actual)
    )


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_fires_exactly_its_rule(fired: dict[str, set[str]], name: str) -> None:
    expected = VARIANTS[name][1]
    assert _matches(expected, fired[name]), f"{name}: expected {expected}, got {fired[name]}"


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutation_fires_exactly_its_rule(fired: dict[str, set[str]], name: str) -> None:
    expected = MUTATIONS[name][1]
    assert _matches(expected, fired[name]), f"{name}: expected {expected}, got {fired[name]}"


def test_unrelated_stack_is_not_checked_as_a_pipeline(fired: dict[str, set[str]]) -> None:
    """A BucketDeployment and an analyst's grant_read in a stack without processing jobs."""
    assert fired["Unrelated"] == set()


def test_every_rule_has_an_insecure_variant() -> None:
    covered = {
        re.sub(r"\[.*$", "", rule_id) for _, expected in VARIANTS.values() for rule_id in expected
    }
    assert covered == {r.rule_id for r in RULES}


def test_hand_made_pipeline_fires_the_expected_rules(fired: dict[str, set[str]]) -> None:
    actual = fired["HandMade"]
    assert _matches(HAND_MADE_RULES, actual), "\n".join(sorted(actual ^ HAND_MADE_RULES))


def test_variants_differ_from_the_baseline_in_one_setting() -> None:
    baseline = dataclasses.asdict(Variant())
    for name, (variant, _) in VARIANTS.items():
        changed = [k for k, value in dataclasses.asdict(variant).items() if baseline[k] != value]
        assert len(changed) <= 2, f"{name} changes {changed}"


def test_an_acknowledged_opt_out_is_not_reported(fired: dict[str, set[str]]) -> None:
    """Opting out of network isolation is an explicit, reasoned, per-state acknowledgment."""
    assert fired["OptOutAcknowledged"] == set()
    assert fired["NoNetworkIsolation"] == {job_rule("JobNetworkIsolation")}

"""Processing pipelines written without constructs_sm, for the pack's tests.

A hand-made bucket (L2 ``s3.Bucket`` or raw ``CfnBucket``), hand-written IAM and a
hand-written ``sfn.CustomState`` processing job: :class:`Variant` holds every setting our
pack checks (the defaults are compliant) and :func:`build` writes one into a stack;
:func:`build_hand_made` is the usual first attempt, :func:`build_unrelated` a stack
without processing jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as deployment
from aws_cdk import aws_stepfunctions as sfn

from constructs_sm.nag import REQUIRED_RETRIES

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
    #: An account the bucket policy allows GetObject and PutObject (AccountPrincipal).
    bucket_policy_account: str | None = None
    #: A data source the state machine checks the input against (s3://<bucket>/<prefix>*).
    data_source: str | None = None
    # IAM
    s3_wildcard: bool = False
    list_with_prefix: bool = True
    read_whole_bucket: bool = False
    write_outside_outputs: bool = False
    pass_role_condition: bool = True
    job_trust_conditions: bool = True
    machine_trust_conditions: bool = True
    #: More S3 actions for the job role on its own output prefix.
    job_object_actions: tuple[str, ...] = ()
    #: S3 actions for the job role on the channel bucket itself.
    job_bucket_actions: tuple[str, ...] = ()
    #: A second trust statement: anyone (AWS "*") may assume the job role.
    job_trust_anyone: bool = False
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
    #: A Catch of SageMaker.AmazonSageMakerException that waits and runs the job again
    #: (not for a ValidationException): the retry by cause.
    retry_by_cause: bool = True
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
    if v.bucket_policy_account is not None:
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.AccountPrincipal(v.bucket_policy_account)],
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
            )
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
    if v.job_trust_anyone:
        role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(actions=["sts:AssumeRole"], principals=[iam.AnyPrincipal()])
        )
    if v.job_object_actions:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(v.job_object_actions),
                resources=[bucket.arn_for_objects("runs/*/output/*")],
            )
        )
    if v.job_bucket_actions:
        role.add_to_policy(
            iam.PolicyStatement(actions=list(v.job_bucket_actions), resources=[bucket.bucket_arn])
        )
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


def job_parameters(v: Variant, bucket: s3.IBucket, key: kms.IKey, role: iam.IRole) -> Any:
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
        "Parameters": job_parameters(v, bucket, key, job_role),
    }
    if v.timeout is not None:
        state["TimeoutSeconds"] = v.timeout
    job = sfn.CustomState(stack, STATE, state_json=state)
    for error in v.retries:
        job.add_retry(errors=[error], max_attempts=3, backoff_rate=1.5)
    if v.retry_by_cause:
        back_off = sfn.Wait(stack, "Back off", time=sfn.WaitTime.duration(cdk.Duration.seconds(10)))
        throttled = sfn.Choice(stack, "Throttled").when(
            sfn.Condition.string_matches("$.error.Cause", "*ValidationException*"),
            sfn.Fail(stack, "Rejected"),
        )
        throttled.otherwise(back_off.next(job))
        job.add_catch(
            throttled, errors=["SageMaker.AmazonSageMakerException"], result_path="$.error"
        )
    if v.catch:
        failed = sfn.Fail(stack, "Failed")
        handler: sfn.IChainable = failed
        if v.catch_target != "fail":
            recover = sfn.Pass(stack, "Record failure")
            handler = recover.next(failed) if v.catch_target == "pass-fail" else recover
        job.add_catch(handler, errors=["States.ALL"], result_path="$.error")
    start: sfn.IChainable = job
    if v.data_source is not None:
        start = (
            sfn.Choice(stack, "Check input locations")
            .when(
                sfn.Condition.not_(
                    sfn.Condition.string_matches(
                        "$.raw", f"s3://{bucket.bucket_name}/{v.data_source}*"
                    )
                ),
                sfn.Fail(stack, "Invalid location"),
            )
            .otherwise(job)
        )
    if v.definition_in_s3:
        body = sfn.DefinitionBody.from_file(__file__)
    else:
        body = sfn.DefinitionBody.from_chainable(start)
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

"""What each role of a pipeline may do, computed from the steps' channels, then granted.

:func:`step_access` is pure: from a step's inputs, outputs and returned values it
computes the exact S3 prefixes the step's role reads and writes (and what the state
machine's role reads back). :func:`grant_step` turns that into IAM statements on the
roles, plus the KMS, ECR, VPC and job permissions a step needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Aws, Token
from aws_cdk import aws_iam as iam

from constructs_sm import runtime as _rt
from constructs_sm.layout import channel_prefix, params_prefix
from constructs_sm.model import DataSource, OutputRef, StepInput
from constructs_sm.nag.acknowledge import (
    PACK_NAME,
    acknowledge,
    acknowledge_wildcards,
    resource_finding,
)
from constructs_sm.params import ParamRef
from constructs_sm.roles import grant_run_step, grant_vpc_access, prefix_scoped
from constructs_sm.storage import grant_prefix_read

if TYPE_CHECKING:
    from constructs import Construct

    from constructs_sm.image import ProcessingImage
    from constructs_sm.step import ProcessingStep
    from constructs_sm.storage import ChannelBucket


@dataclass(frozen=True)
class S3Read:
    """Read access below ``prefix``; ``bucket_arn`` None means the channel bucket."""

    bucket_arn: str | None
    prefix: str


@dataclass(frozen=True)
class StepAccess:
    """The S3 access of one step, in grant order.

    ``machine_reads`` are channel-bucket prefixes the state machine's role reads (the
    step's returned values).
    """

    reads: tuple[S3Read, ...]
    channel_writes: tuple[str, ...]
    machine_reads: tuple[str, ...]


def step_access(
    *,
    pipeline: str,
    step: str,
    inputs: Mapping[str, StepInput],
    outputs: Sequence[str],
    returns: bool,
    data_sources: Sequence[DataSource],
    channel_bucket: object,
) -> StepAccess:
    """The prefixes one step's role reads and writes: literal channel prefixes
    (:mod:`constructs_sm.layout`) and data sources; ``channel_bucket`` tells which data
    sources are on it."""
    reads = [S3Read(None, params_prefix(pipeline))]
    for spec in inputs.values():
        source = spec.source
        if isinstance(source, OutputRef):
            reads.append(
                S3Read(None, channel_prefix(pipeline, source.step.step_name, source.channel))
            )
        elif isinstance(source, ParamRef):
            reads += [
                S3Read(None if d.bucket is channel_bucket else d.bucket.bucket_arn, d.prefix)
                for d in data_sources
            ]
        elif not Token.is_unresolved(source):
            bucket, _, key_prefix = source[len("s3://") :].partition("/")
            reads.append(S3Read(f"arn:{Aws.PARTITION}:s3:::{bucket}", key_prefix))
    writes = [channel_prefix(pipeline, step, channel) for channel in outputs]
    machine: list[str] = []
    if returns:
        returned = channel_prefix(pipeline, step, _rt.RETURNS_CHANNEL)
        writes.append(returned)
        machine.append(returned)
    return StepAccess(tuple(reads), tuple(writes), tuple(machine))


def grant_step(
    step: ProcessingStep,
    *,
    scope: Construct,
    access: StepAccess,
    storage: ChannelBucket,
    image: ProcessingImage,
    machine_role: iam.IRole,
    in_vpc: bool,
) -> None:
    """Grant a step's role its channels, key, image and network; the machine its jobs."""
    role = step.role
    for read in access.reads:
        if read.bucket_arn is None:
            storage.grant_read(role, read.prefix)
        else:
            _grant_bucket_read(role, read.bucket_arn, read.prefix)
    for prefix in access.channel_writes:
        storage.grant_write(role, prefix)
    for prefix in access.machine_reads:
        storage.grant_read(machine_role, prefix)
    channel_key = storage.key
    if channel_key is not None:
        # VolumeKmsKeyId: SageMaker creates a grant for the job's volume with the
        # execution role's credentials.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[channel_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
    image.grant_pull(role)
    if in_vpc:
        grant_vpc_access(role)
    grant_run_step(
        machine_role,
        scope=scope,
        job_prefix=step.job_prefix,
        execution_role=role,
        tagging=True,
    )


def _grant_bucket_read(role: iam.IRole, bucket_arn: str, prefix: str) -> None:
    """Read access below ``prefix`` of a bucket that is not the channel bucket.

    The findings are acknowledged on the role's prefix-scoped policy that holds the
    statements, never on the role. A data source of a whole bucket (``prefix=""``, which
    the user declared) reads every object and lists without a prefix: our pack's
    findings of exactly those two statements are acknowledged too, and no other
    ``IamStepObjectAccess`` or ``IamListBucketPrefix`` finding of the role.
    """
    grant_prefix_read(role, bucket_arn, prefix)
    policy = prefix_scoped(role)[1]
    if policy is None:
        return
    acknowledge_wildcards(
        policy,
        [f"{bucket_arn}/{prefix}*"],
        f"Input data is read from the data source prefix {prefix!r} only; IAM scopes a "
        "prefix with a trailing '*'.",
    )
    if not prefix:
        acknowledge(
            policy,
            [
                resource_finding(policy, f"{PACK_NAME}-IamStepObjectAccess", f"{bucket_arn}/*"),
                resource_finding(policy, f"{PACK_NAME}-IamListBucketPrefix", bucket_arn),
            ],
            "The pipeline declares DataSource(bucket) with prefix '' (the whole bucket, "
            "which is not the channel bucket): its steps read every object of that bucket "
            "and list it with s3:prefix '*', as declared.",
        )

"""What each step's role may reach in S3, computed from its channels (pure), as a policy.

:func:`step_access` computes the exact prefixes a step reads and writes: literal channel
prefixes of the handoff layout (constructs_sm.layout) and the data sources of parameter
inputs. :func:`channels_document` turns that into the step role's inline policy, and
:class:`FindingNames` names the ``AwsSolutions-IAM5`` findings those prefix grants raise,
so the role acknowledges exactly them (without resolving tokens per step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Aws, Stack, Token
from aws_cdk import aws_iam as iam

from constructs_sm.layout import channel_prefix, params_prefix, returns_prefix
from constructs_sm.model import DataSource, OutputRef, StepInput
from constructs_sm.nag.acknowledge import (
    INLINE_POLICY_FINDINGS,
    PACK_NAME,
    acknowledge,
    flatten_reference,
    resource_finding,
    wildcard_finding,
)
from constructs_sm.params import ParamRef

_READ = ["s3:GetObject"]
_WRITE = ["s3:PutObject", "s3:AbortMultipartUpload"]


@dataclass(frozen=True)
class S3Read:
    """Read access below ``prefix``; ``bucket_arn`` None means the channel bucket."""

    bucket_arn: str | None
    prefix: str


@dataclass(frozen=True)
class StepAccess:
    """The S3 access of one step, in grant order.

    ``machine_reads`` are channel-bucket prefixes the state machine's role reads (the
    returned values of a multi-host step).
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
    returns_in_s3: bool = True,
) -> StepAccess:
    """The prefixes one step's role reads and writes: literal channel prefixes
    (:mod:`constructs_sm.layout`) and data sources; ``channel_bucket`` tells which data
    sources are on it. Returned values go through S3 only when ``returns_in_s3`` (a
    multi-host step); otherwise SageMaker carries them in the job's ExitMessage."""
    reads = [S3Read(None, params_prefix(pipeline))]
    for spec in inputs.values():
        source = spec.source
        if isinstance(source, OutputRef):
            upstream = channel_prefix(pipeline, source.step.step_name, source.channel)
            reads.append(S3Read(None, upstream))
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
    if returns and returns_in_s3:
        returned = returns_prefix(pipeline, step)
        writes.append(returned)
        machine.append(returned)
    return StepAccess(tuple(dict.fromkeys(reads)), tuple(writes), tuple(machine))


def channels_document(access: StepAccess, *, channel_bucket_arn: str) -> dict[str, Any]:
    """The step role's inline policy: objects under its prefixes, listing limited to them.

    One statement per kind and bucket, whatever the number of channels: ``s3:GetObject``
    on ``<bucket>/<prefix>*`` of every read, ``s3:ListBucket`` with an ``s3:prefix``
    condition naming those prefixes, ``s3:PutObject`` and ``s3:AbortMultipartUpload`` on
    every write (no delete, no ACL, no tagging).
    """
    by_bucket: dict[str, list[str]] = {}
    for read in access.reads:
        by_bucket.setdefault(read.bucket_arn or channel_bucket_arn, []).append(read.prefix)
    statements: list[dict[str, Any]] = []
    for index, (bucket, prefixes) in enumerate(by_bucket.items()):
        sid = "Read" if index == 0 else f"Read{index}"
        statements.append(
            {
                "Sid": f"{sid}Objects",
                "Effect": "Allow",
                "Action": _READ,
                "Resource": [f"{bucket}/{prefix}*" for prefix in prefixes],
            }
        )
        statements.append(
            {
                "Sid": f"{sid}List",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket,
                "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            }
        )
    if access.channel_writes:
        statements.append(
            {
                "Sid": "WriteObjects",
                "Effect": "Allow",
                "Action": _WRITE,
                "Resource": [f"{channel_bucket_arn}/{p}*" for p in access.channel_writes],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class FindingNames:
    """Names the ``AwsSolutions-IAM5[Resource::...]`` findings of prefix grants.

    A bucket ARN is resolved once (a token crossing into CDK costs a call), then every
    prefix's finding is plain text: ``<bucket ref>/<prefix>*``.
    """

    stack: Stack
    _flat: dict[str, str] = field(default_factory=dict)

    def bucket(self, bucket_arn: str) -> str:
        if bucket_arn not in self._flat:
            self._flat[bucket_arn] = flatten_reference(self.stack.resolve(bucket_arn))
        return self._flat[bucket_arn]

    def findings(self, access: StepAccess, *, channel_bucket_arn: str) -> list[str]:
        """The findings of every prefix grant of ``access`` (each holds a ``*``)."""
        names = [
            f"{self.bucket(read.bucket_arn or channel_bucket_arn)}/{read.prefix}*"
            for read in access.reads
        ]
        names += [f"{self.bucket(channel_bucket_arn)}/{p}*" for p in access.channel_writes]
        return sorted({f"AwsSolutions-IAM5[Resource::{name}]" for name in names})


def whole_bucket_policy(role: iam.Role, bucket_arns: Sequence[str]) -> iam.Policy:
    """Reads of whole-bucket data sources (``DataSource(bucket, "")``, declared by the
    user) in a policy of their own under ``role``, where exactly their findings are
    acknowledged: AwsSolutions' wildcard and our pack's whole-bucket object access and
    prefix-less listing. The same statements added to the role elsewhere stay reported."""
    policy = iam.Policy(
        role,
        "WholeBucketSources",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="ReadWholeBucketSources",
                actions=list(_READ),
                resources=[f"{arn}/*" for arn in bucket_arns],
            ),
            iam.PolicyStatement(
                sid="ListWholeBucketSources",
                actions=["s3:ListBucket"],
                resources=list(bucket_arns),
            ),
        ],
    )
    reason = (
        "The pipeline declares these buckets as whole-bucket data sources "
        "(DataSource(bucket, '')): the step reads any object of them, as its user decided."
    )
    findings = []
    for arn in bucket_arns:
        objects = f"{arn}/*"
        findings += [
            wildcard_finding(policy, objects),
            resource_finding(policy, f"{PACK_NAME}-IamStepObjectAccess", objects),
            resource_finding(policy, f"{PACK_NAME}-IamListBucketPrefix", arn),
        ]
    acknowledge(policy, [*sorted(set(findings)), *INLINE_POLICY_FINDINGS], reason)
    return policy


#: Why a step role's prefix grants are acknowledged.
PREFIX_GRANT_REASON = (
    "Object access is limited to literal key prefixes: the step's input and output channels "
    "(<pipeline>/<step>/<channel>/, whose '*' covers that channel's executions and nothing "
    "else), its run's parameters and its data sources; IAM scopes a prefix with a trailing "
    "'*'."
)

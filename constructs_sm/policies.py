"""Policy statements the constructs write, each named by a ``Sid`` saying why it exists.

Where do the bucket policies' TLS denials, the channel key's policy and the ``Sid`` of
every grant come from? Here. IAM allows a ``Sid`` of letters and digits only, unique within
its policy document (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html);
:func:`sid_part` makes a name fit, :func:`named_grant` puts a ``Sid`` on a grant's
statement (aws-cdk-lib's ``Grant`` methods take none), and aws-cdk-lib never merges
statements that carry one (``@aws-cdk/aws-iam:minimizePolicies``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_cdk import CfnResource
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

#: Requests older than this TLS version are denied on channel and access-log buckets.
MINIMUM_TLS_VERSION: Final = 1.2
_SID_CHARACTERS: Final = re.compile(r"[^A-Za-z0-9]")


def sid_part(name: str) -> str:
    """``name`` as part of a ``Sid``: its letters and digits, followed by 8 hex characters
    of its hash when anything else was dropped (so that distinct names stay distinct)."""
    kept = _SID_CHARACTERS.sub("", name)
    if kept == name and kept:
        return kept
    return kept + sid_hash(name)


def sid_hash(text: str) -> str:
    """8 hex characters of ``text``'s hash, for a ``Sid`` naming what has no readable name
    (a repository ARN that is a CDK token)."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def named_grant(
    grantee: iam.IGrantable,
    sid: str,
    *,
    actions: Sequence[str],
    resources: Sequence[str],
    conditions: Mapping[str, Any] | None = None,
) -> iam.Grant:
    """``iam.Grant.add_to_principal`` whose statement carries ``sid``."""
    grant = iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=list(resources),
        conditions=dict(conditions) if conditions else None,
    )
    for statement in grant.principal_statements:
        statement.sid = sid
    return grant


def deny_insecure_transport(bucket: s3.IBucket) -> None:
    """The TLS-only bucket policy, as ``enforce_ssl`` and ``minimum_tls_version`` of
    aws-cdk-lib's Bucket write it, with a ``Sid`` on each statement."""
    resources = [bucket.bucket_arn, bucket.arn_for_objects("*")]
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyRequestsWithoutTls",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:*"],
            resources=resources,
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyTlsOlderThan12",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:*"],
            resources=resources,
            conditions={"NumericLessThan": {"s3:TlsVersion": MINIMUM_TLS_VERSION}},
        )
    )


def key_administration_policy() -> iam.PolicyDocument:
    """aws-cdk-lib's default key policy (the account administers the key through IAM
    policies), with a ``Sid``; passed as ``policy`` it replaces the default."""
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="AccountAdministersKeyThroughIam",
                principals=[iam.AccountRootPrincipal()],
                actions=["kms:*"],
                resources=["*"],
            )
        ]
    )


def name_last_statement(policy: s3.BucketPolicy, sid: str) -> None:
    """Name the statement last added to ``policy`` by aws-cdk-lib itself (which takes no
    ``Sid``), by an override of the synthesized template."""
    resource = policy.node.default_child
    assert isinstance(resource, CfnResource)
    index = policy.document.statement_count - 1
    resource.add_property_override(f"PolicyDocument.Statement.{index}.Sid", sid)

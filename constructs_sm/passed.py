"""Resources you pass in: what the constructs change on them, each change a CDK warning.

Which of my resources does the library change? A role passed to ``add_step(role=...)``
gets the step's channel statements and the pipeline's shared managed policy; a KMS key
passed to ``ChannelBucket(encryption_key=...)`` gets a key-policy statement letting
CloudWatch Logs encrypt the state machine's log group; an access-log bucket passed to
``ChannelBucket(server_access_logs_bucket=...)`` gets aws-cdk-lib's log-delivery
statement. Each change is announced by a warning annotation (``cdk synth`` prints it;
``Annotations.of(construct).acknowledge_warning(id)`` silences it), and what cannot be
applied (an immutable role, an imported key) is a warning too, never silence. The ids:
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import Annotations, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from constructs_sm.policies import sid_part
from constructs_sm.roles import allow_log_encryption

#: A passed role got the step's statements and the pipeline's managed policy.
ROLE_CHANGED: Final = "constructs-sm:passedRoleChanged"
#: A passed role is immutable: the step's grants could not be added to it.
ROLE_NOT_CHANGED: Final = "constructs-sm:passedRoleNotChanged"
#: A passed key's policy got a statement.
KEY_POLICY_CHANGED: Final = "constructs-sm:keyPolicyChanged"
#: The state machine's log group is not encrypted with the channel key.
LOG_GROUP_NOT_ENCRYPTED: Final = "constructs-sm:logGroupNotEncrypted"
#: The jobs of a pipeline on a passed bucket without a known key get no KMS key.
JOBS_WITHOUT_KEY: Final = "constructs-sm:jobsWithoutKmsKey"
#: A passed access-log bucket's policy got aws-cdk-lib's log-delivery statement.
LOG_BUCKET_POLICY_CHANGED: Final = "constructs-sm:logBucketPolicyChanged"


def warn(scope: IConstruct, warning_id: str, message: str) -> None:
    """A warning annotation on ``scope`` (``cdk synth`` prints it, ending ``[ack: <id>]``)."""
    Annotations.of(scope).add_warning_v2(warning_id, message)


def shown(construct: IConstruct | object) -> str:
    """How a passed resource is named in a warning: its construct path."""
    node = getattr(construct, "node", None)
    return repr(node.path) if node is not None else repr(construct)


#: The Sids the pipelines gave each role passed to their steps: IAM refuses a policy
#: whose Sids repeat ("Statement IDs (SID) in a single policy must be unique"), and one
#: role may run same-named steps of two pipelines.
_GIVEN_SIDS: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _unique_sid(role: iam.IRole, sid: str, pipeline: str) -> str:
    """``sid``, or ``sid`` + ``In<pipeline>`` when another pipeline gave it to ``role``."""
    taken = _GIVEN_SIDS.setdefault(role, set())
    if sid in taken:
        sid = f"{sid}In{sid_part(pipeline)}"
    taken.add(sid)
    return sid


def grant_passed_role(
    scope: IConstruct,
    role: iam.IRole,
    *,
    step: str,
    pipeline: str,
    channels: Mapping[str, Any],
    shared: iam.ManagedPolicy,
) -> None:
    """Give the role passed for ``step`` of ``pipeline`` its channels (``channels``, a
    policy document) and the pipeline's ``shared`` policy; warn on ``scope`` (the step)
    naming what was added, or what could not be."""
    statements = [
        iam.PolicyStatement.from_json(
            {**s, "Sid": _unique_sid(role, f"{s['Sid']}OfStep{sid_part(step)}", pipeline)}
        )
        for s in channels["Statement"]
    ]
    for statement in statements:
        role.add_to_principal_policy(statement)
    names = ", ".join(str(statement.sid) for statement in statements)
    role_name = role.role_name if not Token.is_unresolved(role.role_name) else shown(role)
    if not _took_statements(role):
        warn(
            scope,
            ROLE_NOT_CHANGED,
            f"the role passed for step {step!r} ({role_name}) cannot be changed by CDK (an "
            "immutable role): its jobs will lack what the pipeline would grant. Give it "
            f"yourself the statements {names} (S3 access to exactly the step's channels: "
            f"pipeline.{step}'s role policy in a synth with a mutable role shows them) and "
            f"the managed policy {shown(shared)} (logs, code, channel key, image pull)",
        )
        return
    role.add_managed_policy(shared)
    warn(
        scope,
        ROLE_CHANGED,
        f"the role passed for step {step!r} ({role_name}) gets the policy statements "
        f"{names} (S3 access to exactly the step's channels) and the managed policy "
        f"{shown(shared)} attached (logs, code, channel key, image pull); the state "
        "machine's role may pass it to SageMaker",
    )


def _took_statements(role: iam.IRole) -> bool:
    """Whether statements added to ``role`` reach it. An immutable role
    (``Role.from_role_arn(..., mutable=False)``) answers ``statement_added`` True but keeps
    nothing; a role of the app has a ``DefaultPolicy``, an imported mutable role a
    ``Policy`` that aws-cdk-lib attaches to it by name."""
    if isinstance(role, iam.Role):
        return True
    return any(role.node.try_find_child(name) is not None for name in ("Policy", "DefaultPolicy"))


def log_group_key(scope: Construct, key: kms.IKey | None, *, owned: bool) -> kms.IKey | None:
    """The key the state machine's log group is encrypted with: the channel ``key`` once
    its policy lets CloudWatch Logs use it (:func:`~constructs_sm.roles.allow_log_encryption`),
    else None with a warning saying why. ``owned``: the ChannelBucket created ``key``
    (else a key-policy change is a change to your key, and is announced)."""
    if key is None:
        warn(
            scope,
            LOG_GROUP_NOT_ENCRYPTED,
            "the state machine's log group is encrypted by CloudWatch Logs' own key, not a "
            "customer key: the channel storage has no known KMS key (a bucket passed without "
            "encryption_key); pass ChannelBucket(..., encryption_key=key)",
        )
        return None
    if not allow_log_encryption(scope, key):
        warn(
            scope,
            LOG_GROUP_NOT_ENCRYPTED,
            f"the state machine's log group is encrypted by CloudWatch Logs' own key, not "
            f"the channel key {shown(key)}: that key is imported, so its key policy cannot "
            "be changed here, and CloudWatch Logs refuses a key whose policy does not let "
            "logs.<region>.amazonaws.com use it. Once its policy allows that (for "
            "kms:EncryptionContext:aws:logs:arn of this account's log groups), set "
            "pipeline.log_group.node.default_child.kms_key_id = key.key_arn",
        )
        return None
    if not owned:
        warn(
            scope,
            KEY_POLICY_CHANGED,
            f"the key policy of the channel key you passed ({shown(key)}) gets the statement "
            "CloudWatchLogsEncryption: logs.<region>.amazonaws.com may use it for the log "
            "groups of this account and region (the state machine's log group is encrypted "
            "with it)",
        )
    return key


def warn_jobs_without_key(scope: IConstruct) -> None:
    """The jobs of a pipeline whose channel storage has no known key get no KMS key."""
    warn(
        scope,
        JOBS_WITHOUT_KEY,
        "the channel storage has no known KMS key (a bucket passed without encryption_key), "
        "so the jobs' requests carry no VolumeKmsKeyId and no output KmsKeyId: SageMaker "
        "encrypts each job's storage volume with a transient key and its outputs with the "
        "account's AWS managed key for S3 (aws/s3), not with a customer key, and the "
        "ProcessingPipeline-JobVolumeEncryption and -JobOutputEncryption checks report it. "
        "Pass ChannelBucket(..., bucket=bucket, encryption_key=key) with the key the "
        "bucket's data uses",
    )


def warn_log_bucket_policy(scope: IConstruct, log_bucket: object) -> None:
    """A passed access-log bucket defined in the app gets aws-cdk-lib's log-delivery
    statement (an imported one is left alone: CDK cannot change it)."""
    if isinstance(log_bucket, s3.Bucket):
        warn(
            scope,
            LOG_BUCKET_POLICY_CHANGED,
            f"the bucket policy of the access-log bucket you passed ({shown(log_bucket)}) "
            "gets a statement letting logging.s3.amazonaws.com put the channel bucket's "
            "server access logs (aws-cdk-lib adds it)",
        )

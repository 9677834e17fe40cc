"""S3 channel storage shared by the steps of a pipeline.

Where is the channel bucket, its KMS key, its TLS-only policy, its access logs and the
lifecycle of per-run handoff data? Here. Pipelines keep each run's handoff data under
``<pipeline>/<step>/<channel>/<execution>/`` (:mod:`constructs_sm.layout`);
:meth:`ChannelBucket.add_run_prefix`
expires everything under ``<pipeline>/`` and the ``grant_*`` methods scope IAM access to
exactly the prefixes a step reads or writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, Names, RemovalPolicy, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from constructs_sm.model import PrefixClaim
from constructs_sm.nag.acknowledge import acknowledge_wildcards, skip_checkov
from constructs_sm.passed import warn_log_bucket_policy
from constructs_sm.policies import (
    deny_insecure_transport,
    key_administration_policy,
    name_last_statement,
    named_grant,
    sid_part,
)
from constructs_sm.validation import prefix_conflicts

__all__ = ["ChannelBucket"]

_DEFAULT_RUN_DATA_EXPIRATION = Duration.days(30)
_DEFAULT_NONCURRENT_VERSION_EXPIRATION = Duration.days(7)
_DEFAULT_ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER = Duration.days(1)
_ACCESS_LOG_EXPIRATION = Duration.days(365)
_SECONDS_PER_DAY = 86_400
_MAX_PREFIX_LENGTH = 1024  # S3 object keys and lifecycle filter prefixes
_MAX_RULE_ID_LENGTH = 255  # S3 lifecycle rule ID

# Delivery of server access logs through a bucket policy (the only way that works with
# ObjectOwnership.BUCKET_OWNER_ENFORCED). Set on this construct's own node, so the access
# log bucket created here gets it whatever the app's cdk.json says.
_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"

_READ_OBJECT_ACTIONS = ("s3:GetObject",)
_LIST_ACTIONS = ("s3:ListBucket",)
_WRITE_OBJECT_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload")
_KMS_READ_ACTIONS = ("kms:Decrypt",)
# SageMaker asks for kms:Encrypt when an output KmsKeyId is set; S3 calls GenerateDataKey on
# upload and Decrypt to complete multipart uploads.
_KMS_WRITE_ACTIONS = ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")
# A single (not multipart) PutObject of an SSE-KMS object needs a data key only.
_PUT_OBJECT_ACTIONS = ("s3:PutObject",)
_KMS_PUT_ACTIONS = ("kms:GenerateDataKey",)

_REPLICATION_RULES = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
    "PCI.DSS.321-S3BucketReplicationEnabled",
)
_KMS_DEFAULT_ENCRYPTION_RULES = (
    "NIST.800.53.R5-S3DefaultEncryptionKMS",
    "HIPAA.Security-S3DefaultEncryptionKMS",
    "PCI.DSS.321-S3DefaultEncryptionKMS",
)


class ChannelBucket(Construct):
    """S3 storage for the input, output and handoff channels of a pipeline's steps.

    Pass ``bucket`` to use an existing bucket (nothing is created then, and the bucket's
    own lifecycle configuration applies). Otherwise the construct creates:

    * a KMS key with automatic rotation (unless ``encryption_key`` is passed);
    * the channel bucket: SSE-KMS with that key and an S3 Bucket Key, a bucket policy that
      denies any request not made over TLS 1.2 or later (on the bucket and its objects),
      all Block Public Access settings, ``BucketOwnerEnforced`` object ownership,
      versioning, server access logs and a bucket-wide lifecycle rule that expires
      noncurrent versions, removes expired delete markers and aborts incomplete
      multipart uploads;
    * an access log bucket (unless ``server_access_logs_bucket`` is passed): SSE-S3
      (log delivery does not support SSE-KMS targets), TLS-only, Block Public Access,
      ``BucketOwnerEnforced``, versioned, logs expire after 365 days.

    :param scope: the parent construct.
    :param construct_id: the construct's id.
    :param bucket: an existing bucket to use; by default a hardened bucket is created.
    :param encryption_key: the KMS key of the data; by default a rotating key is created
        (for a passed ``bucket``, the bucket's own ``encryption_key`` is used, if any). The
        jobs encrypt their volumes and outputs with it; without one (a passed bucket whose
        key CDK does not know) they get no KMS key and the pipeline warns
        (``constructs-sm:jobsWithoutKmsKey``). A key of your app gets one key-policy
        statement from each pipeline (``CloudWatchLogsEncryption``, with a warning).
    :param server_access_logs_bucket: where the created bucket delivers its access logs;
        by default a dedicated log bucket is created. A passed bucket must let
        ``logging.s3.amazonaws.com`` put objects: CDK adds that bucket policy to a bucket
        defined in the app when the app enables the recommended feature flag
        ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` (without it CDK falls back to
        the LogDeliveryWrite ACL, which ``BucketOwnerEnforced`` buckets reject); an
        imported bucket must allow it already.
    :param run_data_expiration: how long after creation handoff objects under a run
        prefix are expired (see :meth:`add_run_prefix`); 30 days by default.
    :param noncurrent_version_expiration: how long overwritten or deleted versions are
        kept; 7 days by default.
    :param abort_incomplete_multipart_upload_after: when incomplete multipart uploads are
        aborted and their parts deleted; 1 day by default.
    :param removal_policy: what happens to the created key and buckets when they leave the
        stack; by default they are retained (handoff data of failed runs is kept).
    :raises ValueError: for a lifecycle duration that is not a whole number of days >= 1,
        and for settings that cannot apply to a passed ``bucket``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket | None = None,
        encryption_key: kms.IKey | None = None,
        server_access_logs_bucket: s3.IBucket | None = None,
        run_data_expiration: Duration = _DEFAULT_RUN_DATA_EXPIRATION,
        noncurrent_version_expiration: Duration = _DEFAULT_NONCURRENT_VERSION_EXPIRATION,
        abort_incomplete_multipart_upload_after: Duration = (
            _DEFAULT_ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER
        ),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        _validate_props(
            has_bucket=bucket is not None,
            has_server_access_logs_bucket=server_access_logs_bucket is not None,
            durations={
                "run_data_expiration": run_data_expiration,
                "noncurrent_version_expiration": noncurrent_version_expiration,
                "abort_incomplete_multipart_upload_after": abort_incomplete_multipart_upload_after,
            },
            removal_policy=removal_policy,
        )
        super().__init__(scope, construct_id)
        self._run_data_expiration = run_data_expiration
        self._noncurrent_version_expiration = noncurrent_version_expiration
        self._abort_incomplete_multipart_upload_after = abort_incomplete_multipart_upload_after
        self._run_rules: dict[str, str] = {}
        self._claims: list[PrefixClaim] = []
        self._token_rule_count = 0

        self._log_bucket: s3.IBucket | None
        self._key: kms.IKey | None
        self._bucket: s3.IBucket
        self._owned_bucket: s3.Bucket | None
        if bucket is not None:
            self._bucket = bucket
            self._owned_bucket = None
            self._key = encryption_key if encryption_key is not None else bucket.encryption_key
            self._owns_key = False
            self._log_bucket = None
            return

        self.node.set_context(_ACCESS_LOGS_USE_BUCKET_POLICY, True)
        self._owns_key = encryption_key is None
        if encryption_key is None:
            encryption_key = kms.Key(
                self,
                "Key",
                description=f"Encrypts the channel data of {self.node.path} (constructs_sm)",
                enable_key_rotation=True,
                removal_policy=removal_policy,
                policy=key_administration_policy(),
            )
        if server_access_logs_bucket is None:
            server_access_logs_bucket = self._create_log_bucket(
                removal_policy=removal_policy,
                noncurrent_version_expiration=noncurrent_version_expiration,
                abort_incomplete_multipart_upload_after=abort_incomplete_multipart_upload_after,
            )
            self._log_bucket = server_access_logs_bucket
        else:
            self._log_bucket = None
            warn_log_bucket_policy(self, server_access_logs_bucket)

        owned = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=server_access_logs_bucket,
            server_access_logs_prefix=f"{Names.unique_id(self)}/",
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="NoncurrentVersionsAndIncompleteUploads",
                    noncurrent_version_expiration=noncurrent_version_expiration,
                    abort_incomplete_multipart_upload_after=(
                        abort_incomplete_multipart_upload_after
                    ),
                    expired_object_delete_marker=True,
                )
            ],
        )
        deny_insecure_transport(owned)
        _name_log_delivery(server_access_logs_bucket, created=self._log_bucket is not None)
        _acknowledge(
            owned,
            _REPLICATION_RULES,
            "The channel bucket holds per-run handoff data that expires with the run "
            "prefix lifecycle and is recreated by re-running the pipeline; cross-region "
            "replication is the user's choice (pass a replicated bucket as `bucket`).",
        )
        self._bucket = owned
        self._owned_bucket = owned
        self._key = encryption_key

    def _create_log_bucket(
        self,
        *,
        removal_policy: RemovalPolicy,
        noncurrent_version_expiration: Duration,
        abort_incomplete_multipart_upload_after: Duration,
    ) -> s3.Bucket:
        log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access log delivery supports only SSE-S3 on the target bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=_ACCESS_LOG_EXPIRATION,
                    noncurrent_version_expiration=noncurrent_version_expiration,
                    abort_incomplete_multipart_upload_after=(
                        abort_incomplete_multipart_upload_after
                    ),
                ),
                s3.LifecycleRule(
                    id="RemoveExpiredDeleteMarkers", expired_object_delete_marker=True
                ),
            ],
        )
        deny_insecure_transport(log_bucket)
        skip_checkov(
            log_bucket,
            {
                "CKV_AWS_18": "This bucket is the target of the channel bucket's server access "
                "logs; logging its own access would log the log deliveries themselves.",
            },
        )
        _acknowledge(
            log_bucket,
            _KMS_DEFAULT_ENCRYPTION_RULES,
            "S3 server access log delivery supports only SSE-S3 (AES256) default encryption "
            "on the target bucket; SSE-KMS is not supported for access log targets.",
        )
        _acknowledge(
            log_bucket,
            _REPLICATION_RULES,
            "Access logs of the channel bucket are kept for 365 days in this region; "
            "cross-region replication is the user's choice (pass a replicated bucket as "
            "`server_access_logs_bucket`).",
        )
        return log_bucket

    @property
    def bucket(self) -> s3.IBucket:
        """The channel bucket (created or passed)."""
        return self._bucket

    @property
    def bucket_name(self) -> str:
        """The channel bucket's name (a token for a created bucket)."""
        return self._bucket.bucket_name

    @property
    def key(self) -> kms.IKey | None:
        """The KMS key of the channel data; None for a passed bucket without a known key."""
        return self._key

    @property
    def owns_key(self) -> bool:
        """True when this construct created :attr:`key` (False for a key you passed, or
        the key of a bucket you passed)."""
        return self._owns_key

    @property
    def log_bucket(self) -> s3.IBucket | None:
        """The access log bucket created by this construct, or None if none was created."""
        return self._log_bucket

    @property
    def run_prefixes(self) -> tuple[str, ...]:
        """The prefixes that :meth:`add_run_prefix` added lifecycle rules for, in order."""
        return tuple(self._run_rules)

    @property
    def prefix_claims(self) -> tuple[PrefixClaim, ...]:
        """The run and data-source prefixes pipelines use on this bucket, in order."""
        return tuple(self._claims)

    def claim_prefixes(self, claims: Sequence[PrefixClaim]) -> None:
        """Record the prefixes a pipeline uses; run prefixes get their lifecycle rule.

        :raises ValueError: naming both owners when a run prefix would overlap another
            claim (its lifecycle rule would expire the other's data), or a data-source
            prefix another pipeline's run prefix.
        """
        problems = prefix_conflicts(self._claims, claims)
        if problems:
            raise ValueError("ChannelBucket: " + "; ".join(problems))
        self._claims.extend(claims)
        for claim in claims:
            if claim.kind == "run":
                self._expire(claim.prefix)

    def add_run_prefix(self, prefix: str) -> bool:
        """Expire the per-run handoff data stored under ``prefix`` (e.g. ``"Pipeline/"``).

        Adds a lifecycle rule scoped to ``prefix`` that expires objects
        ``run_data_expiration`` after creation, expires noncurrent versions after
        ``noncurrent_version_expiration`` and aborts incomplete multipart uploads after
        ``abort_incomplete_multipart_upload_after``. Lifecycle filters are literal prefixes,
        so ``prefix`` cannot contain ``*``.

        :returns: True if a rule was added; False if ``prefix`` already has one, or if the
            bucket was passed in (a passed bucket manages its own lifecycle).
        :raises ValueError: if ``prefix`` is empty, starts with ``/``, does not end with
            ``/``, is longer than 1024 characters or contains ``*``; or if it overlaps a
            prefix a pipeline uses (see :meth:`claim_prefixes`).
        """
        _validate_prefix(prefix, allow_wildcards=False)
        if prefix in self._run_rules:
            return False
        self.claim_prefixes([PrefixClaim(prefix, "run", "ChannelBucket.add_run_prefix")])
        return prefix in self._run_rules

    def _expire(self, prefix: str) -> None:
        if self._owned_bucket is None or prefix in self._run_rules:
            return
        rule_id = self._rule_id(prefix)
        self._owned_bucket.add_lifecycle_rule(
            id=rule_id,
            prefix=prefix,
            expiration=self._run_data_expiration,
            noncurrent_version_expiration=self._noncurrent_version_expiration,
            abort_incomplete_multipart_upload_after=self._abort_incomplete_multipart_upload_after,
        )
        self._run_rules[prefix] = rule_id

    def _rule_id(self, prefix: str) -> str:
        if Token.is_unresolved(prefix):
            self._token_rule_count += 1
            return f"RunDataToken{self._token_rule_count}"
        rule_id = f"RunData-{prefix[:-1]}"
        if len(rule_id) > _MAX_RULE_ID_LENGTH:
            digest = hashlib.sha256(prefix.encode()).hexdigest()[:16]
            rule_id = f"{rule_id[: _MAX_RULE_ID_LENGTH - len(digest) - 1]}-{digest}"
        return rule_id

    def _key_grant(self, grantee: iam.IGrantable, sid: str, actions: Sequence[str]) -> iam.Grant:
        """``actions`` on :attr:`key` in the grantee's identity policy (the key policy is
        never changed: a key of this account delegates to IAM, as aws-cdk-lib's default key
        policy does; a key in another account needs its owner's key policy to allow it)."""
        assert self._key is not None
        return named_grant(grantee, sid, actions=actions, resources=[self._key.key_arn])

    def grant_read(
        self, grantee: iam.IGrantable, prefix: str, *, sid: str | None = None
    ) -> iam.Grant:
        """Let ``grantee`` list and read the objects under ``prefix``.

        Adds to the grantee's identity policy: ``s3:GetObject`` on ``<prefix>*`` objects,
        ``s3:ListBucket`` on the bucket with the condition
        ``StringLike s3:prefix [<prefix>*]`` (list requests must use a prefix that starts
        with ``prefix``, trailing ``/`` included) and ``kms:Decrypt`` on :attr:`key`.

        :param prefix: a key prefix ending in ``/``; ``*`` stands for any characters, e.g.
            ``"Pipeline/*/prepare/train/"`` for every execution of a pipeline.
        :param sid: the start of the statements' ``Sid`` (``<sid>Objects``, ``<sid>List``,
            ``<sid>Key``); by default ``ChannelRead`` and a hash of ``prefix``.
        :raises ValueError: if ``prefix`` is empty, starts with ``/``, does not end with
            ``/`` or is longer than 1024 characters.
        """
        _validate_prefix(prefix, allow_wildcards=True)
        sid = sid or f"ChannelRead{sid_part(prefix)}"
        grant = grant_prefix_read(grantee, self._bucket.bucket_arn, prefix, sid=sid)
        if self._key is not None:
            grant = grant.combine(self._key_grant(grantee, f"{sid}Key", _KMS_READ_ACTIONS))
        _acknowledge_prefix(grantee, self._bucket.arn_for_objects(f"{prefix}*"), prefix, "read")
        return grant

    def grant_write(
        self, grantee: iam.IGrantable, prefix: str, *, sid: str | None = None
    ) -> iam.Grant:
        """Let ``grantee`` write objects under ``prefix`` (no delete, no ACL changes).

        Adds to the grantee's identity policy: ``s3:PutObject`` and
        ``s3:AbortMultipartUpload`` on ``<prefix>*`` objects and ``kms:Encrypt``,
        ``kms:GenerateDataKey`` and ``kms:Decrypt`` (multipart uploads need it) on
        :attr:`key`.

        :param prefix: a key prefix ending in ``/``; ``*`` stands for any characters.
        :param sid: the start of the statements' ``Sid`` (``<sid>Objects``, ``<sid>Key``);
            by default ``ChannelWrite`` and a hash of ``prefix``.
        :raises ValueError: if ``prefix`` is empty, starts with ``/``, does not end with
            ``/`` or is longer than 1024 characters.
        """
        _validate_prefix(prefix, allow_wildcards=True)
        sid = sid or f"ChannelWrite{sid_part(prefix)}"
        grant = named_grant(
            grantee,
            f"{sid}Objects",
            actions=_WRITE_OBJECT_ACTIONS,
            resources=[self._bucket.arn_for_objects(f"{prefix}*")],
        )
        if self._key is not None:
            grant = grant.combine(self._key_grant(grantee, f"{sid}Key", _KMS_WRITE_ACTIONS))
        _acknowledge_prefix(grantee, self._bucket.arn_for_objects(f"{prefix}*"), prefix, "write")
        return grant

    def grant_list(
        self, grantee: iam.IGrantable, prefixes: Sequence[str], *, sid: str = "ListFannedOutObjects"
    ) -> iam.Grant:
        """Let ``grantee`` list the keys under ``prefixes`` and read nothing.

        ``s3:ListBucket`` on the bucket with ``StringLike s3:prefix [<prefix>*, ...]``: for
        the state machine, which lists the objects a fan-out step runs a job for.
        """
        for prefix in prefixes:
            _validate_prefix(prefix, allow_wildcards=True)
        return named_grant(
            grantee,
            sid,
            actions=_LIST_ACTIONS,
            resources=[self._bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
        )

    def grant_put(
        self, grantee: iam.IGrantable, prefix: str, *, sid: str | None = None
    ) -> iam.Grant:
        """Let ``grantee`` put single objects under ``prefix`` and nothing more.

        ``s3:PutObject`` on ``<prefix>*`` objects and ``kms:GenerateDataKey`` on :attr:`key`
        (what one PutObject of an SSE-KMS object needs: no multipart upload, no read):
        for the state machine, which writes each run's parameters file.

        :param prefix: a key prefix ending in ``/``; ``*`` stands for any characters.
        :param sid: the start of the statements' ``Sid`` (``<sid>Objects``, ``<sid>Key``);
            by default ``ChannelPut`` and a hash of ``prefix``.
        """
        _validate_prefix(prefix, allow_wildcards=True)
        sid = sid or f"ChannelPut{sid_part(prefix)}"
        grant = named_grant(
            grantee,
            f"{sid}Objects",
            actions=_PUT_OBJECT_ACTIONS,
            resources=[self._bucket.arn_for_objects(f"{prefix}*")],
        )
        if self._key is not None:
            grant = grant.combine(self._key_grant(grantee, f"{sid}Key", _KMS_PUT_ACTIONS))
        _acknowledge_prefix(grantee, self._bucket.arn_for_objects(f"{prefix}*"), prefix, "write")
        return grant


_DEFAULT_DURATIONS = {
    "run_data_expiration": _DEFAULT_RUN_DATA_EXPIRATION,
    "noncurrent_version_expiration": _DEFAULT_NONCURRENT_VERSION_EXPIRATION,
    "abort_incomplete_multipart_upload_after": _DEFAULT_ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
}


def _validate_props(
    *,
    has_bucket: bool,
    has_server_access_logs_bucket: bool,
    durations: dict[str, Duration],
    removal_policy: RemovalPolicy,
) -> None:
    """Raise one ValueError naming every invalid or conflicting ChannelBucket argument."""
    problems = [
        problem
        for name, value in durations.items()
        if (problem := _whole_days_problem(name, value)) is not None
    ]
    if has_bucket:
        if has_server_access_logs_bucket:
            problems.append(
                "server_access_logs_bucket cannot be set with bucket (a passed bucket "
                "keeps its own logging configuration)"
            )
        problems.extend(
            f"{name} cannot be set with bucket (a passed bucket keeps its own lifecycle "
            f"configuration), got {value.to_human_string()}"
            for name, value in durations.items()
            if not _same_duration(value, _DEFAULT_DURATIONS[name])
        )
        if removal_policy != RemovalPolicy.RETAIN:
            problems.append(
                "removal_policy cannot be set with bucket (a passed bucket is not "
                f"managed by this construct), got {removal_policy.name}"
            )
    if problems:
        raise ValueError("ChannelBucket: " + "; ".join(problems))


def grant_prefix_read(
    grantee: iam.IGrantable, bucket_arn: str, prefix: str, *, sid: str
) -> iam.Grant:
    """Read access below ``prefix`` of any bucket: objects and prefix-conditioned listing.

    ``s3:GetObject`` on ``<bucket>/<prefix>*`` and ``s3:ListBucket`` on the bucket with
    ``StringLike s3:prefix [<prefix>*]`` (``Sid`` ``<sid>Objects`` and ``<sid>List``). No
    KMS, no acknowledgment: callers add those.
    """
    return named_grant(
        grantee,
        f"{sid}Objects",
        actions=_READ_OBJECT_ACTIONS,
        resources=[f"{bucket_arn}/{prefix}*"],
    ).combine(
        named_grant(
            grantee,
            f"{sid}List",
            actions=_LIST_ACTIONS,
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )


def _validate_prefix(prefix: str, *, allow_wildcards: bool) -> None:
    """Raise ValueError naming every problem of a key prefix; tokens are skipped."""
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}: {prefix!r}")
    if Token.is_unresolved(prefix):
        return
    if not prefix:
        raise ValueError("prefix must not be empty (it would cover the whole bucket)")
    problems = []
    if prefix.startswith("/"):
        problems.append("must not start with '/'")
    if not prefix.endswith("/"):
        problems.append("must end with '/'")
    if len(prefix) > _MAX_PREFIX_LENGTH:
        problems.append(f"must be at most {_MAX_PREFIX_LENGTH} characters, got {len(prefix)}")
    if not allow_wildcards and "*" in prefix:
        problems.append("must not contain '*' (lifecycle filters are literal prefixes)")
    elif "*" in prefix.split("/", 1)[0]:
        problems.append(
            "must start with a literal segment (a '*' there would cover other prefixes)"
        )
    if problems:
        shown = prefix if len(prefix) <= 80 else f"{prefix[:77]}..."
        raise ValueError(f"prefix {' and '.join(problems)}, got {shown!r}")


def _whole_days_problem(name: str, value: Duration) -> str | None:
    """S3 lifecycle actions take whole numbers of days, at least one."""
    if value.is_unresolved():
        return None
    seconds = value.to_seconds()
    if seconds < _SECONDS_PER_DAY or seconds % _SECONDS_PER_DAY:
        return f"{name} must be a whole number of days, at least 1, got {value.to_human_string()}"
    return None


def _same_duration(value: Duration, default: Duration) -> bool:
    if value is default:
        return True
    if value.is_unresolved():
        return False
    return value.to_seconds() == default.to_seconds()


def _acknowledge_prefix(grantee: iam.IGrantable, objects: str, prefix: str, access: str) -> None:
    """Acknowledge the wildcard finding of a prefix-scoped object grant on the grantee.

    Only for roles of the app, and only for that one object pattern: any other wildcard
    grant to the role is still reported.
    """
    if not isinstance(grantee.grant_principal, iam.Role):
        return
    shown = "(a token)" if Token.is_unresolved(prefix) else prefix
    acknowledge_wildcards(
        grantee.grant_principal,
        [objects],
        f"Object {access} access is limited to the key prefix {shown!r}: IAM scopes a "
        "prefix with a trailing '*', which matches the keys starting with that literal "
        "prefix and no others (for a channel prefix <pipeline>/<step>/<channel>/: the data "
        "of that channel's executions).",
    )


def _acknowledge(construct: IConstruct, rule_ids: tuple[str, ...], reason: str) -> None:
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule_id, reason=reason) for rule_id in rule_ids)
    )


def _name_log_delivery(log_bucket: s3.IBucket, *, created: bool) -> None:
    """Name the statement aws-cdk-lib adds to the access-log bucket's policy (letting
    ``logging.s3.amazonaws.com`` put the channel bucket's logs): on the log bucket this
    construct created only."""
    if created and isinstance(log_bucket, s3.Bucket) and log_bucket.policy is not None:
        name_last_statement(log_bucket.policy, "ServerAccessLogDelivery")

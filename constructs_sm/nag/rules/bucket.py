"""Channel bucket rules: the buckets processing jobs hand data over in.

Encryption with a rotating customer managed key and a Bucket Key, TLS only, Block Public
Access, ACLs off, versioning, access logs and a lifecycle on the run prefixes. Each
applies to channel buckets only (:meth:`~constructs_sm.nag.template.StackModel.channel_buckets`):
a bucket the jobs have nothing to do with is not judged here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from constructs_sm.nag.acknowledge import flatten_reference
from constructs_sm.nag.definition import logical_ids
from constructs_sm.nag.rules.base import BUCKET, Check, Findings, Rule, whole
from constructs_sm.nag.template import CfnModelResource, StackModel
from constructs_sm.nag.values import as_list, static, truthy


def _channel(check: Check) -> Check:
    """Apply a bucket check to channel buckets only."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        if resource.logical_id not in model.channel_buckets():
            return {}
        return check(resource, model)

    return checked


def _sse_configs(bucket: CfnModelResource) -> list[dict[str, Any]]:
    rules = static(bucket.properties, "BucketEncryption", "ServerSideEncryptionConfiguration")
    return [r for r in as_list(rules) if isinstance(r, dict)]


def _kms_default(bucket: CfnModelResource) -> dict[str, Any] | None:
    for config in _sse_configs(bucket):
        default = config.get("ServerSideEncryptionByDefault")
        if (
            isinstance(default, dict)
            and default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse")
            and default.get("KMSMasterKeyID")
        ):
            return config
    return None


def _check_sse_kms(bucket: CfnModelResource, model: StackModel) -> Findings:
    if _kms_default(bucket) is None:
        return whole("default encryption is not SSE-KMS with a customer managed key")
    return {}


SSE_KMS: Final = Rule(
    name="ChannelBucketSseKms",
    resource_types=BUCKET,
    info="The channel bucket is not encrypted with SSE-KMS and a customer managed key.",
    explanation=(
        "Handoff data of processing jobs is encrypted at rest with a key whose use is "
        "logged and whose policy the account controls."
    ),
    fix=(
        "Set BucketEncryption to aws:kms with KMSMasterKeyID (s3.BucketEncryption.KMS with "
        "encryption_key=...), or use constructs_sm.ChannelBucket."
    ),
    check=_channel(_check_sse_kms),
)


def _check_key_rotation(bucket: CfnModelResource, model: StackModel) -> Findings:
    config = _kms_default(bucket)
    if config is None:
        return {}
    key = config["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    ids = logical_ids(key) & {k.logical_id for k in model.of_type("AWS::KMS::Key")}
    if not ids:
        return whole(
            f"the key {flatten_reference(key)} is not defined in this stack, so its "
            "rotation cannot be verified"
        )
    if not truthy(model.resources[next(iter(ids))].properties.get("EnableKeyRotation")):
        return whole(f"automatic rotation of the key {next(iter(ids))} is off")
    return {}


KEY_ROTATION: Final = Rule(
    name="ChannelBucketKeyRotation",
    resource_types=BUCKET,
    info="The channel bucket's KMS key does not rotate (or is not defined in the stack).",
    explanation="Automatic yearly rotation limits the data encrypted under one key version.",
    fix=(
        "Use a kms.Key with enable_key_rotation=True defined in the same stack; for an "
        "external key that rotates, acknowledge the finding with that reason."
    ),
    check=_channel(_check_key_rotation),
)


def _check_bucket_key(bucket: CfnModelResource, model: StackModel) -> Findings:
    config = _kms_default(bucket)
    if config is not None and not truthy(config.get("BucketKeyEnabled")):
        return whole("the S3 Bucket Key is not enabled")
    return {}


BUCKET_KEY: Final = Rule(
    name="ChannelBucketBucketKey",
    resource_types=BUCKET,
    info="The channel bucket does not use an S3 Bucket Key.",
    explanation="A Bucket Key cuts KMS requests (cost, throttling) of jobs reading many objects.",
    fix="Set BucketKeyEnabled: true (bucket_key_enabled=True).",
    check=_channel(_check_bucket_key),
)


def _bucket_targets(resource: Any, bucket: CfnModelResource) -> set[str]:
    """Which of ``bucket`` / ``objects`` a policy resource covers."""
    text = flatten_reference(resource)
    if text == "*":
        return {"bucket", "objects"}
    base, objects = (text[:-2], True) if text.endswith("/*") else (text, False)
    name = bucket.properties.get("BucketName")
    names = [f"<{bucket.logical_id}.Arn>", f":::<{bucket.logical_id}>"]
    if isinstance(name, str):
        names.append(f":::{name}")
    if not any(base.endswith(n) for n in names):
        return set()
    return {"objects" if objects else "bucket"}


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (
        isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))
    ):
        return False
    if not any(a in ("s3:*", "*") for a in as_list(statement.get("Action"))):
        return False
    conditions = statement.get("Condition")
    block = conditions.get("Bool") if isinstance(conditions, dict) else None
    if not isinstance(block, dict):
        return False
    values = {k.lower(): v for k, v in block.items()}
    return str(values.get("aws:securetransport")).lower() == "false"


def _check_tls_only(bucket: CfnModelResource, model: StackModel) -> Findings:
    covered: set[str] = set()
    for policy in model.of_type("AWS::S3::BucketPolicy"):
        target = policy.properties.get("Bucket")
        name = bucket.properties.get("BucketName")
        if target != {"Ref": bucket.logical_id} and not (name and target == name):
            continue
        document = policy.properties.get("PolicyDocument")
        statements = as_list(document.get("Statement")) if isinstance(document, dict) else []
        for statement in statements:
            if isinstance(statement, dict) and _denies_insecure_transport(statement):
                for resource in as_list(statement.get("Resource")):
                    covered |= _bucket_targets(resource, bucket)
    missing = {"bucket", "objects"} - covered
    if missing:
        return whole(
            "no bucket policy denies requests without TLS (aws:SecureTransport false) on "
            + " and ".join(sorted(missing))
        )
    return {}


TLS_ONLY: Final = Rule(
    name="ChannelBucketTlsOnly",
    resource_types=BUCKET,
    info=(
        "The channel bucket's policy does not deny requests without TLS on the bucket and "
        "its objects."
    ),
    explanation="Data in transit between jobs, the state machine and S3 must be encrypted.",
    fix=(
        "Add a bucket policy statement Deny s3:* to * on the bucket ARN and <ARN>/* with "
        "Condition Bool aws:SecureTransport false (enforce_ssl=True)."
    ),
    check=_channel(_check_tls_only),
)


_BPA_SETTINGS = (
    "BlockPublicAcls",
    "BlockPublicPolicy",
    "IgnorePublicAcls",
    "RestrictPublicBuckets",
)


def _check_public_access(bucket: CfnModelResource, model: StackModel) -> Findings:
    block = static(bucket.properties, "PublicAccessBlockConfiguration") or {}
    off = [s for s in _BPA_SETTINGS if not isinstance(block, dict) or not truthy(block.get(s))]
    return whole(f"Block Public Access settings off: {', '.join(off)}" if off else None)


PUBLIC_ACCESS_BLOCK: Final = Rule(
    name="ChannelBucketPublicAccessBlock",
    resource_types=BUCKET,
    info="The channel bucket does not turn on all Block Public Access settings.",
    explanation="Handoff data must never become public through an ACL or a bucket policy.",
    fix=(
        "Set all four PublicAccessBlockConfiguration settings to true "
        "(block_public_access=s3.BlockPublicAccess.BLOCK_ALL)."
    ),
    check=_channel(_check_public_access),
)


def _check_owner_enforced(bucket: CfnModelResource, model: StackModel) -> Findings:
    rules = as_list(static(bucket.properties, "OwnershipControls", "Rules"))
    enforced = any(
        isinstance(r, dict) and r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules
    )
    return whole(None if enforced else "object ownership is not BucketOwnerEnforced (ACLs apply)")


OWNER_ENFORCED: Final = Rule(
    name="ChannelBucketOwnerEnforced",
    resource_types=BUCKET,
    info="The channel bucket's object ownership is not BucketOwnerEnforced.",
    explanation=(
        "With ACLs disabled, access is decided by policies only and every object belongs "
        "to the bucket owner."
    ),
    fix=(
        "Set OwnershipControls ObjectOwnership BucketOwnerEnforced "
        "(object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED)."
    ),
    check=_channel(_check_owner_enforced),
)


def _check_versioning(bucket: CfnModelResource, model: StackModel) -> Findings:
    status = static(bucket.properties, "VersioningConfiguration", "Status")
    return whole(None if status == "Enabled" else "versioning is not enabled")


VERSIONING: Final = Rule(
    name="ChannelBucketVersioning",
    resource_types=BUCKET,
    info="The channel bucket is not versioned.",
    explanation="Versions protect handoff data from being overwritten or deleted by a faulty job.",
    fix="Set VersioningConfiguration Status Enabled (versioned=True).",
    check=_channel(_check_versioning),
)


def _check_access_logs(bucket: CfnModelResource, model: StackModel) -> Findings:
    logging = static(bucket.properties, "LoggingConfiguration")
    if not isinstance(logging, dict):
        return whole("server access logging is off")
    destination = logging.get("DestinationBucketName")
    if not destination:
        return whole("LoggingConfiguration names no DestinationBucketName")
    if destination in ({"Ref": bucket.logical_id}, bucket.properties.get("BucketName")):
        return whole("the bucket writes its access logs into itself")
    return {}


ACCESS_LOGS: Final = Rule(
    name="ChannelBucketAccessLogs",
    resource_types=BUCKET,
    info="The channel bucket has no server access logs to another bucket.",
    explanation="Access logs record who read and wrote handoff data.",
    fix="Set LoggingConfiguration with a DestinationBucketName (server_access_logs_bucket=...).",
    check=_channel(_check_access_logs),
)


def _lifecycle_rules(bucket: CfnModelResource) -> list[tuple[str, dict[str, Any]]]:
    """``(prefix, rule)`` of the enabled lifecycle rules filtered by a prefix only."""
    rules = []
    for rule in as_list(static(bucket.properties, "LifecycleConfiguration", "Rules")):
        if not isinstance(rule, dict) or rule.get("Status") != "Enabled":
            continue
        if any(k in rule for k in ("TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan")):
            continue  # narrower than a prefix: it does not cover every run object
        prefix = rule.get("Prefix", "")
        if isinstance(prefix, str):
            rules.append((prefix, rule))
    return rules


def _check_lifecycle(bucket: CfnModelResource, model: StackModel) -> Findings:
    prefixes = model.run_prefixes(bucket.logical_id)
    rules = _lifecycle_rules(bucket)
    missing = []
    for prefix in sorted(prefixes) or [""]:
        covering = [rule for start, rule in rules if prefix.startswith(start)]
        lacks = []
        if prefixes and not any("ExpirationInDays" in r or "ExpirationDate" in r for r in covering):
            lacks.append("expiry of current objects")
        if not any(
            "NoncurrentVersionExpiration" in r or "NoncurrentVersionExpirationInDays" in r
            for r in covering
        ):
            lacks.append("expiry of noncurrent versions")
        if not any("AbortIncompleteMultipartUpload" in r for r in covering):
            lacks.append("abort of incomplete multipart uploads")
        if lacks:
            where = f"the run prefix '{prefix}'" if prefix else "the whole bucket"
            missing.append(f"{', '.join(lacks)} on {where}")
    return whole(f"no enabled lifecycle rule for {'; '.join(missing)}" if missing else None)


LIFECYCLE: Final = Rule(
    name="ChannelBucketLifecycle",
    resource_types=BUCKET,
    info=(
        "The channel bucket's lifecycle does not expire run data, noncurrent versions and "
        "incomplete multipart uploads."
    ),
    explanation=(
        "Per-run handoff data is kept for redrives and then expires instead of growing "
        "forever; versions and abandoned uploads are not kept either."
    ),
    fix=(
        "Add enabled lifecycle rules, filtered by a prefix of each run prefix (the "
        "literal start of the jobs' output URIs) or by none, with ExpirationInDays, "
        "NoncurrentVersionExpiration and AbortIncompleteMultipartUpload "
        "(ChannelBucket.add_run_prefix does all three)."
    ),
    check=_channel(_check_lifecycle),
)

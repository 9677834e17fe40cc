"""Channel bucket rules: the buckets processing jobs hand data over in.

Encryption with a rotating customer managed key and a Bucket Key, TLS only, a bucket
policy that allows no principal outside the account, Block Public Access, ACLs off,
versioning, access logs, a lifecycle on the run prefixes and none that expires a data
source. Each
applies to channel buckets only (:meth:`~constructs_sm.nag.template.StackModel.channel_buckets`):
a bucket the jobs have nothing to do with is not judged here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from constructs_sm.nag.acknowledge import flatten_reference
from constructs_sm.nag.definition import logical_ids
from constructs_sm.nag.policy import condition_values
from constructs_sm.nag.rules.base import BUCKET, Check, Findings, Rule, whole
from constructs_sm.nag.template import CfnModelResource, StackModel
from constructs_sm.nag.values import as_list, normalise_pseudo, static, truthy

#: The IAM resources whose ARN (``<Id.Arn>``) is a principal of the stack's own account.
_IAM_IDENTITIES: Final = frozenset({"AWS::IAM::Role", "AWS::IAM::User"})


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


def _bucket_policy_statements(bucket: CfnModelResource, model: StackModel) -> list[dict[str, Any]]:
    """The statements of the bucket policies of ``bucket`` (by ``Ref`` or literal name)."""
    statements = []
    name = bucket.properties.get("BucketName")
    for policy in model.of_type("AWS::S3::BucketPolicy"):
        target = policy.properties.get("Bucket")
        if target != {"Ref": bucket.logical_id} and not (name and target == name):
            continue
        document = policy.properties.get("PolicyDocument")
        items = as_list(document.get("Statement")) if isinstance(document, dict) else []
        statements += [s for s in items if isinstance(s, dict)]
    return statements


def _check_tls_only(bucket: CfnModelResource, model: StackModel) -> Findings:
    covered: set[str] = set()
    for statement in _bucket_policy_statements(bucket, model):
        if _denies_insecure_transport(statement):
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


def _principal_entries(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(kind, principal)`` of a statement's Principal, as text (``"*"`` is ``AWS``)."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("AWS", "*")]
    if not isinstance(principal, dict):
        return [("Principal", flatten_reference(principal))]
    return [
        (str(kind), normalise_pseudo(flatten_reference(value)))
        for kind, values in principal.items()
        for value in as_list(values)
    ]


def _in_account(principal: str, model: StackModel) -> bool:
    """True if an ``AWS`` principal is (a role, user or root of) the stack's own account."""
    if model.own_account(principal):
        return True
    match = re.fullmatch(r"<([^<>.]+)\.Arn>", principal)
    if match:
        resource = model.resources.get(match.group(1))
        return resource is not None and resource.type in _IAM_IDENTITIES
    parts = principal.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] in ("iam", "sts")
        and model.own_account(parts[4])
    )


def _limited_to_account(statement: Mapping[str, Any], key: str, model: StackModel) -> bool:
    """True if a positive condition limits ``key`` to the stack's own account."""
    values = condition_values(statement, key)
    return bool(values) and all(model.own_account(v) for v in values)


def _check_policy_principals(bucket: CfnModelResource, model: StackModel) -> Findings:
    # A bucket policy names accounts by ARN or id, "*" is anyone (S3 User Guide,
    # "Principals": s3-bucket-user-policy-specifying-principal-intro). aws:PrincipalAccount
    # is the caller's account; aws:SourceAccount is set only when a service principal calls
    # on someone's behalf (IAM User Guide, reference_policies_condition-keys).
    found: Findings = {}
    for statement in _bucket_policy_statements(bucket, model):
        if statement.get("Effect") != "Allow":
            continue
        actions = ", ".join(str(a) for a in as_list(statement.get("Action"))) or "NotAction"
        if "NotPrincipal" in statement:
            text = flatten_reference(statement["NotPrincipal"])
            found[f"NotPrincipal::{text}"] = f"the policy allows {actions} to all but {text}"
            continue
        for kind, principal in _principal_entries(statement):
            if kind == "AWS" and principal == "*":
                allowed = _limited_to_account(statement, "aws:PrincipalAccount", model)
            elif kind == "AWS":
                allowed = _in_account(principal, model)
            elif kind == "Service":
                allowed = _limited_to_account(statement, "aws:SourceAccount", model)
            else:
                allowed = False
            if not allowed:
                found[f"{kind}::{principal}"] = (
                    f"the policy allows {actions} to the {kind} principal {principal}"
                )
    return found


POLICY_PRINCIPALS: Final = Rule(
    name="ChannelBucketPolicyPrincipals",
    resource_types=BUCKET,
    info=(
        "The channel bucket's policy allows a principal outside the stack's account "
        "(another account, anyone, a federated user, or a service not limited to the "
        "account)."
    ),
    explanation=(
        "Handoff data is read and written by the pipeline's own roles, through their "
        "identity policies; a bucket policy Allow for another account lets that account "
        "read or overwrite every run's data, whatever this account's IAM says."
    ),
    fix=(
        "Remove the Allow statement, or name principals of this account only (its roles, "
        "users or root); Principal * needs Condition StringEquals aws:PrincipalAccount "
        "<this account>, a service principal StringEquals aws:SourceAccount <this account>. "
        "Share data with another account through a bucket of its own, not the channel "
        "bucket."
    ),
    check=_channel(_check_policy_principals),
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


def _check_data_source_expiry(bucket: CfnModelResource, model: StackModel) -> Findings:
    # Expiration (Days or Date) acts on current versions: in a versioned bucket it adds a
    # delete marker, so a reader finds no object; noncurrent-version expiry and
    # ExpiredObjectDeleteMarker leave current objects alone (S3 User Guide, "Expiring
    # objects": lifecycle-expire-general-considerations). A rule's Prefix matches the keys
    # that start with it; tag and size filters only narrow it, so they do not exempt it.
    sources = model.data_source_prefixes(bucket.logical_id)
    found: Findings = {}
    if not sources:
        return found
    for rule in as_list(static(bucket.properties, "LifecycleConfiguration", "Rules")):
        if not isinstance(rule, dict) or rule.get("Status") != "Enabled":
            continue
        if "ExpirationInDays" not in rule and "ExpirationDate" not in rule:
            continue
        # A prefix set at deploy time counts by its literal start (may be every prefix).
        start = re.split(r"[<*]", flatten_reference(rule.get("Prefix", "")), maxsplit=1)[0]
        name = f"'{rule['Id']}'" if isinstance(rule.get("Id"), str) else "without an Id"
        for source in sorted(sources):
            if start.startswith(source) or source.startswith(start):
                found[f"DataSource::{source}"] = (
                    f"the lifecycle rule {name} (prefix '{start}') expires objects under "
                    f"the data-source prefix '{source}'"
                )
    return found


DATA_SOURCE_EXPIRY: Final = Rule(
    name="ChannelBucketDataSourceExpiry",
    resource_types=BUCKET,
    info=(
        "A lifecycle rule of the channel bucket expires objects under a prefix the "
        "pipeline reads its input data from (a data source)."
    ),
    explanation=(
        "A pipeline's data sources (the s3:// prefixes its state machine lets parameters "
        "point at, e.g. in 'Check input locations') hold input data, not per-run handoff "
        "data: a rule whose prefix equals, contains or lies inside a data-source prefix "
        "deletes that input after its expiry. Expiring noncurrent versions and aborting "
        "incomplete uploads does not count."
    ),
    fix=(
        "Scope expiring lifecycle rules to the run prefixes (the literal start of the "
        "jobs' output URIs), never to the bucket as a whole or a prefix that overlaps a "
        "data source; keep input data under a prefix of its own "
        "(ChannelBucket.add_run_prefix and DataSource do this and refuse overlaps)."
    ),
    check=_channel(_check_data_source_expiry),
)

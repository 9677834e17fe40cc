"""IAM rules: what the roles of a processing pipeline may do, and who may assume them.

No ``s3:*``, on channel buckets only the S3 actions constructs_sm grants, ``s3:ListBucket``
only under a prefix, object access only to the step's own prefixes, ``iam:PassRole`` only
to SageMaker (or Step Functions), trust policies with confused-deputy conditions that
trust the service alone. Every statement of a role trusted by SageMaker or Step
Functions is checked; of other principals, the statements that may apply to a channel
bucket.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from constructs_sm.nag.acknowledge import flatten_reference
from constructs_sm.nag.definition import S3Location
from constructs_sm.nag.policy import (
    LIST_BUCKET,
    POLICY_TYPES,
    S3_OBJECT_READ,
    S3_OBJECT_WRITE,
    TRUSTED_SERVICES,
    allows,
    condition_values,
    is_processing_role,
    policy_statements,
    restricts,
    roles_of_policy,
    s3_arn_parts,
    s3_bucket_text,
    service_name,
    trusted_services,
)
from constructs_sm.nag.rules.base import ROLE, Findings, Rule, whole
from constructs_sm.nag.template import CfnModelResource, StackModel
from constructs_sm.nag.values import as_list


def _policy_scope(resource: CfnModelResource, model: StackModel) -> bool:
    """True if the policy belongs to (or is) a role trusted by SageMaker or Step Functions."""
    return bool(set(roles_of_policy(resource, model)) & model.pipeline_roles())


def _on_channel_bucket(statement: Mapping[str, Any], model: StackModel) -> bool:
    """True if a statement's resources may cover a channel bucket or its objects."""
    channel = model.channel_buckets()
    if not channel:
        return False
    if "NotResource" in statement:
        return True
    for item in as_list(statement.get("Resource")):
        bucket = s3_bucket_text(item)
        if bucket is None:
            continue
        if "*" in bucket or "?" in bucket or model.bucket_id(bucket) in channel:
            return True
    return False


def _checked_statements(resource: CfnModelResource, model: StackModel) -> list[dict[str, Any]]:
    """The statements the IAM rules check: all of a pipeline role's, else those that may
    apply to a channel bucket."""
    statements = policy_statements(resource)
    if _policy_scope(resource, model):
        return statements
    return [s for s in statements if _on_channel_bucket(s, model)]


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM/S3 wildcard pattern (``*`` any characters, the rest literal) as a regex."""
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.DOTALL)


def _covers(allowed: S3Location, bucket: str | None, key: str, model: StackModel) -> bool:
    """True if every object of ``bucket``/``key`` (a pattern) is under ``allowed``'s prefix.

    A pattern is taken as literal text that the prefix pattern must match: ``runs/*/in/*``
    is under ``runs/*/in/``, ``runs/*`` is not. When the only wildcards of ``allowed`` are
    its last segments (``<pipeline>/<step>/<channel>/*/``: the execution name, last; for a
    fan-out step's item also its index, ``.../*/*/``), the literal prefix before them is
    the channel itself: ``<pipeline>/<step>/<channel>/*`` covers that channel's executions
    and nothing else, so it is allowed.
    """
    if allowed.key is None:
        return False
    if allowed.bucket is not None and bucket is not None:
        same = allowed.bucket == bucket or (
            model.bucket_id(allowed.bucket) is not None
            and model.bucket_id(allowed.bucket) == model.bucket_id(bucket)
        )
        if not same:
            return False
    if _glob(allowed.key + "*").fullmatch(key) is not None:
        return True
    if not allowed.key.endswith("/*/"):
        return False
    channel = allowed.key
    while channel.endswith("/*/"):
        channel = channel[:-2]
    if "*" in channel or "?" in channel:
        return False
    return _glob(f"{channel}*").fullmatch(key) is not None


def _check_no_s3_wildcard(resource: CfnModelResource, model: StackModel) -> Findings:
    found: Findings = {}
    for statement in _checked_statements(resource, model):
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action")):
            if isinstance(action, str) and action.lower() in ("s3:*", "*"):
                found[f"Action::{action}"] = f"a statement allows {action}"
        excluded = [str(a).lower() for a in as_list(statement.get("NotAction"))]
        if "NotAction" in statement and not any(a == "*" or a.startswith("s3") for a in excluded):
            found[f"NotAction::{','.join(excluded)}"] = "a NotAction statement allows all of S3"
    return found


NO_S3_WILDCARD: Final = Rule(
    name="IamNoS3Wildcard",
    resource_types=POLICY_TYPES,
    info="An IAM policy allows s3:* (or *).",
    explanation=(
        "Jobs and state machines need a handful of S3 actions; s3:* includes deleting "
        "buckets and changing their policies."
    ),
    fix="List the S3 actions needed (s3:GetObject, s3:PutObject, s3:ListBucket, ...).",
    check=_check_no_s3_wildcard,
)


def _targets(statement: Mapping[str, Any]) -> list[str]:
    """A statement's resources as finding ids: ``Resource::<text>`` each, or one
    ``NotResource::<texts>``."""
    if "NotResource" in statement:
        texts = ",".join(flatten_reference(r) for r in as_list(statement["NotResource"]))
        return [f"NotResource::{texts}"]
    return [f"Resource::{flatten_reference(r)}" for r in as_list(statement.get("Resource"))]


def _check_list_bucket_prefix(resource: CfnModelResource, model: StackModel) -> Findings:
    found: Findings = {}
    for statement in _checked_statements(resource, model):
        if not allows(statement, LIST_BUCKET):
            continue
        values = condition_values(statement, "s3:prefix")
        loose = [v for v in values if v.startswith(("*", "?"))]
        if not values:
            problem = (
                "the statement allows s3:ListBucket without an s3:prefix condition "
                "(StringEquals or StringLike)"
            )
        elif loose:
            problem = f"the s3:prefix condition {loose[0]!r} does not start with a prefix"
        else:
            continue
        for target in _targets(statement):
            found.setdefault(target, problem)
    return found


#: The S3 actions constructs_sm grants pipeline roles on a channel bucket: read
#: (GetObject), write (PutObject, AbortMultipartUpload) and list (with a prefix).
CHANNEL_ACTIONS: Final = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListBucket",
)
_CHANNEL_ACTIONS_LOWER: Final = frozenset(a.lower() for a in CHANNEL_ACTIONS)


def _channel_names(model: StackModel) -> set[str]:
    """Literal names of buckets the jobs' S3 URIs name that are not buckets of the stack
    (e.g. a channel bucket passed in by name)."""
    return {
        location.bucket
        for location in model.locations()
        if location.bucket is not None and model.bucket_id(location.bucket) is None
    }


def _may_be_channel(resource: Any, model: StackModel, names: set[str]) -> bool:
    """True if an IAM resource may be a channel bucket or one of its objects."""
    bucket = s3_bucket_text(resource)
    if bucket is None:
        return False
    if "*" in bucket or "?" in bucket or bucket in names:
        return True
    return model.bucket_id(bucket) in model.channel_buckets()


def _s3_patterns(statement: Mapping[str, Any]) -> list[str]:
    """The Action patterns of a statement that may name an S3 action, but ``s3:*`` and
    ``*`` (reported by IamNoS3Wildcard)."""
    found = []
    for action in as_list(statement.get("Action")):
        if not isinstance(action, str) or action.lower() in ("s3:*", "*"):
            continue
        service = action.lower().split(":", 1)[0]
        if fnmatch.fnmatchcase("s3", service):
            found.append(action)
    return found


def _check_channel_actions(resource: CfnModelResource, model: StackModel) -> Findings:
    if not _policy_scope(resource, model):
        return {}
    names = _channel_names(model)
    found: Findings = {}
    for statement in policy_statements(resource):
        if statement.get("Effect") != "Allow":
            continue
        if "NotResource" in statement:
            targets = _targets(statement)
        else:
            targets = [
                f"Resource::{flatten_reference(item)}"
                for item in as_list(statement.get("Resource"))
                if _may_be_channel(item, model, names)
            ]
        if not targets:
            continue
        if "NotAction" in statement:
            excluded = [str(a).lower() for a in as_list(statement["NotAction"])]
            if any(a in ("*", "s3:*") for a in excluded) or not any(
                a.startswith("s3") for a in excluded
            ):
                continue  # no S3 action, or all of them (IamNoS3Wildcard reports that)
            text = ",".join(excluded)
            for target in targets:
                found[f"NotAction::{text}::{target}"] = (
                    f"a NotAction statement allows every S3 action but {text} on "
                    f"{target.split('::', 1)[1]}"
                )
            continue
        for action in _s3_patterns(statement):
            if action.lower() in _CHANNEL_ACTIONS_LOWER:
                continue
            for target in targets:
                found[f"Action::{action}::{target}"] = (
                    f"the statement allows {action} on {target.split('::', 1)[1]}"
                )
    return found


CHANNEL_BUCKET_ACTIONS: Final = Rule(
    name="IamChannelBucketActions",
    resource_types=POLICY_TYPES,
    info=(
        "A SageMaker or Step Functions role may use S3 actions on a channel bucket other "
        "than s3:GetObject, s3:PutObject, s3:AbortMultipartUpload and s3:ListBucket."
    ),
    explanation=(
        "Jobs and state machines read, write and list handoff data, nothing more: "
        "deleting objects or versions, tagging them, or changing the bucket's policy, "
        "lifecycle, versioning or encryption (or deleting it) lets one job destroy or "
        "expose every run's data. Acknowledgments of AwsSolutions-IAM5 are per resource, "
        "not per action: this rule reports what they cannot."
    ),
    fix=(
        "Grant only s3:GetObject, s3:PutObject, s3:AbortMultipartUpload and s3:ListBucket "
        "(with an s3:prefix condition), each named (no s3:Get*, s3:Put*, s3:Delete*), "
        "on the step's prefixes (ChannelBucket.grant_read/grant_write); keep bucket "
        "administration out of pipeline roles."
    ),
    check=_check_channel_actions,
)


LIST_BUCKET_PREFIX: Final = Rule(
    name="IamListBucketPrefix",
    resource_types=POLICY_TYPES,
    info=(
        "An IAM policy allows s3:ListBucket without an s3:prefix condition that "
        "starts with a literal prefix."
    ),
    explanation=(
        "Listing is limited to the prefixes the principal works on, like its object access."
    ),
    fix=(
        "Add Condition StringLike s3:prefix [<prefix>*] to the statement (StringEquals "
        "or StringLike; ...IfExists, negated and ForAllValues operators do not count) "
        "(ChannelBucket.grant_read does)."
    ),
    check=_check_list_bucket_prefix,
)


def _check_object_access(resource: CfnModelResource, model: StackModel) -> Findings:
    roles = [
        r
        for r in roles_of_policy(resource, model)
        if r in model.resources and is_processing_role(model.resources[r])
    ]
    if not roles:
        return {}
    inputs: list[S3Location] = []
    outputs: list[S3Location] = []
    used = True
    for role in roles:
        locations = model.role_locations(role)
        if locations is None:
            used = False
        else:
            inputs += locations[0]
            outputs += locations[1]
    readable, writable = [*inputs, *outputs], outputs
    found: Findings = {}
    for statement in policy_statements(resource):
        if statement.get("Effect") != "Allow":
            continue
        if "NotResource" in statement:
            text = ",".join(flatten_reference(r) for r in as_list(statement["NotResource"]))
            found[f"NotResource::{text}"] = (
                "an Allow statement with NotResource grants every resource but the ones listed"
            )
            continue
        reads = allows(statement, S3_OBJECT_READ)
        writes = allows(statement, S3_OBJECT_WRITE)
        if not reads and not writes:
            continue
        for item in as_list(statement.get("Resource")):
            text = flatten_reference(item)
            parts = s3_arn_parts(text)
            if parts is None or (parts[1] is None and parts[0] != "*"):
                continue
            bucket, key = parts[0], parts[1] or ""
            if "*" in bucket or "?" in bucket:
                found[f"Resource::{text}"] = f"object access in every bucket matching {bucket}"
            elif not key or key.startswith(("*", "?")):
                found[f"Resource::{text}"] = "object access to the whole bucket"
            elif used:
                outside = []
                if writes and _known(writable) and not _any_covers(writable, bucket, key, model):
                    outside.append(("write", writable))
                if reads and _known(readable) and not _any_covers(readable, bucket, key, model):
                    outside.append(("read", readable))
                if outside:
                    kind, allowed = outside[0]
                    found[f"Resource::{text}"] = (
                        f"{' and '.join(k for k, _ in outside)} access outside the prefixes "
                        f"the role's processing jobs {kind} "
                        f"({', '.join(sorted({_shown(a) for a in allowed})) or 'none'})"
                    )
    return found


def _known(locations: Sequence[S3Location]) -> bool:
    return all(location.key is not None for location in locations)


def _any_covers(locations: Sequence[S3Location], bucket: str, key: str, model: StackModel) -> bool:
    return any(_covers(location, bucket, key, model) for location in locations)


def _shown(location: S3Location) -> str:
    return f"{location.bucket or '?'}/{location.key}*"


STEP_OBJECT_ACCESS: Final = Rule(
    name="IamStepObjectAccess",
    resource_types=POLICY_TYPES,
    info=(
        "A processing job role can access objects outside its step's own prefixes (or "
        "is granted with NotResource)."
    ),
    explanation=(
        "A step reads its inputs and writes its outputs only; a role for the whole bucket "
        "lets one compromised job read or overwrite every run's data."
    ),
    fix=(
        "Grant reads on <bucket ARN>/<prefix>* of the step's input and output URIs and "
        "writes on those of its outputs (the whole prefix pattern, e.g. "
        "<pipeline>/<step>/<channel>/*), never with NotResource "
        "(ChannelBucket.grant_read/grant_write), not on <bucket ARN>/* or *."
    ),
    check=_check_object_access,
)


def _check_pass_role(resource: CfnModelResource, model: StackModel) -> Findings:
    if not _policy_scope(resource, model):
        return {}
    for statement in policy_statements(resource):
        if not allows(statement, ("iam:PassRole",)):
            continue
        values = [service_name(v) for v in condition_values(statement, "iam:PassedToService")]
        if not values:
            return whole(
                "a statement allows iam:PassRole without an iam:PassedToService condition "
                "(StringEquals or StringLike)"
            )
        others = sorted({v for v in values if v not in TRUSTED_SERVICES})
        if others:
            return whole(f"a statement lets iam:PassRole pass roles to {', '.join(others)}")
    return {}


PASS_ROLE_SERVICE: Final = Rule(
    name="IamPassRoleService",
    resource_types=POLICY_TYPES,
    info=(
        "An IAM policy of a SageMaker or Step Functions role allows iam:PassRole without "
        "an iam:PassedToService condition naming SageMaker (or Step Functions)."
    ),
    explanation="The state machine may pass job roles to SageMaker only.",
    fix=(
        "Add Condition StringEquals iam:PassedToService sagemaker.amazonaws.com (a "
        "positive operator; states.amazonaws.com is accepted too)."
    ),
    check=_check_pass_role,
)


def _check_trust(resource: CfnModelResource, model: StackModel) -> Findings:
    found: Findings = {}
    for service, statements in trusted_services(resource).items():
        for statement in statements:
            problems = []
            for key in ("aws:SourceAccount", "aws:SourceArn"):
                values = condition_values(statement, key)
                if not values:
                    problems.append(f"no {key} condition (StringEquals, ArnLike...)")
                elif not restricts(values):
                    problems.append(f"{key} matches anything ({', '.join(values)})")
            if problems:
                found[f"Service::{service}"] = (
                    f"the trust policy lets {service} assume the role with " + "; ".join(problems)
                )
    return found


TRUST_CONFUSED_DEPUTY: Final = Rule(
    name="IamTrustConfusedDeputy",
    resource_types=ROLE,
    info=(
        "A role trusted by SageMaker or Step Functions has no aws:SourceAccount and "
        "aws:SourceArn conditions that constrain them."
    ),
    explanation=(
        "Without them, the service can be made to assume the role on behalf of another "
        "account or resource (confused deputy)."
    ),
    fix=(
        "Add Condition StringEquals aws:SourceAccount <account> and ArnLike aws:SourceArn "
        "<the jobs' or state machines' ARN pattern> to the trust statement (positive "
        "operators, not ...IfExists or negated ones; values other than *)."
    ),
    check=_check_trust,
)


def _check_trust_principals(resource: CfnModelResource, model: StackModel) -> Findings:
    if not trusted_services(resource):
        return {}
    document = resource.properties.get("AssumeRolePolicyDocument")
    statements = as_list(document.get("Statement")) if isinstance(document, dict) else []
    found: Findings = {}
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in statement:
            text = flatten_reference(statement["NotPrincipal"])
            found[f"NotPrincipal::{text}"] = (
                f"the trust policy lets every principal but {text} assume the role"
            )
            continue
        principal = statement.get("Principal")
        entries = (
            [(str(k), v) for k, values in principal.items() for v in as_list(values)]
            if isinstance(principal, dict)
            else [("AWS", principal)]
        )
        for kind, value in entries:
            text = service_name(value) if kind == "Service" else flatten_reference(value)
            if kind == "Service" and text in TRUSTED_SERVICES:
                continue
            found[f"{kind}::{text}"] = (
                f"the trust policy lets the {kind} principal {text} assume the role"
            )
    return found


TRUST_SERVICE_ONLY: Final = Rule(
    name="IamTrustServiceOnly",
    resource_types=ROLE,
    info=(
        "A role trusted by SageMaker or Step Functions may also be assumed by another "
        "principal (an account, a user, a role, anyone, a federated identity or another "
        "service)."
    ),
    explanation=(
        "A job or state-machine role holds the pipeline's data access: whoever else may "
        "assume it gets that access outside the pipeline, whatever the confused-deputy "
        "conditions on the service's statement say."
    ),
    fix=(
        "Trust sagemaker.amazonaws.com (job roles) or states.amazonaws.com (state-machine "
        "roles) only; give people and other services roles of their own."
    ),
    check=_check_trust_principals,
)

"""IAM policies in a template: their statements, what those allow and to whom.

Pure helpers over the IAM resources of a :class:`~constructs_sm.nag.template.StackModel`:
the statements of a policy, role, user or group (:func:`policy_statements`), whether a
statement allows an action (:func:`allows`), the values a condition key is constrained to
(:func:`condition_values`), the bucket and key of an S3 ARN (:func:`s3_arn_parts`), the
roles a policy is attached to (:func:`roles_of_policy`) and the services a role trusts
(:func:`trusted_services`). The template model uses them to find channel buckets and run
prefixes; the IAM rules (:mod:`constructs_sm.nag.rules.iam`) to judge statements.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from constructs_sm.nag.acknowledge import flatten_reference
from constructs_sm.nag.values import as_list, normalise_pseudo

if TYPE_CHECKING:
    from constructs_sm.nag.template import CfnModelResource, StackModel

#: The actions that read, write (or delete) and list objects of a bucket.
S3_OBJECT_READ = ("s3:GetObject", "s3:GetObjectVersion")
S3_OBJECT_WRITE = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
LIST_BUCKET = ("s3:ListBucket", "s3:ListBucketVersions")
#: The services of a processing pipeline: a role they may assume is a pipeline role.
TRUSTED_SERVICES = ("sagemaker.amazonaws.com", "states.amazonaws.com")
#: Condition operators that constrain a key to the values given (no negation, no
#: ...IfExists, no set operators: those pass when the key is absent or differs).
_POSITIVE_OPERATORS = frozenset({"stringequals", "stringlike", "arnequals", "arnlike"})
#: The resources that hold identity-policy statements (inline or managed).
POLICY_TYPES = frozenset(
    {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::UserPolicy",
        "AWS::IAM::GroupPolicy",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::IAM::Group",
    }
)
_SINGLE_POLICY_TYPES = frozenset(
    {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::UserPolicy",
        "AWS::IAM::GroupPolicy",
    }
)


def policy_statements(resource: CfnModelResource) -> list[dict[str, Any]]:
    """The identity-policy statements of an IAM resource (inline and managed)."""
    documents = []
    if resource.type in _SINGLE_POLICY_TYPES:
        documents.append(resource.properties.get("PolicyDocument"))
    else:
        documents += [
            p.get("PolicyDocument")
            for p in as_list(resource.properties.get("Policies"))
            if isinstance(p, dict)
        ]
    return [
        s
        for d in documents
        if isinstance(d, dict)
        for s in as_list(d.get("Statement"))
        if isinstance(s, dict)
    ]


def allows(statement: Mapping[str, Any], actions: Sequence[str]) -> bool:
    """True if an Allow statement's Action covers one of ``actions``."""
    if statement.get("Effect") != "Allow":
        return False
    patterns = [p.lower() for p in as_list(statement.get("Action")) if isinstance(p, str)]
    if "NotAction" in statement:
        excluded = [p.lower() for p in as_list(statement["NotAction"]) if isinstance(p, str)]
        return any(not any(fnmatch.fnmatchcase(a.lower(), p) for p in excluded) for a in actions)
    return any(fnmatch.fnmatchcase(a.lower(), p) for a in actions for p in patterns)


def condition_values(statement: Mapping[str, Any], key: str) -> list[str]:
    """The values ``key`` is constrained to by positive operators (StringEquals,
    StringLike, ArnEquals, ArnLike), flattened; empty when no such operator names it."""
    conditions = statement.get("Condition")
    if not isinstance(conditions, dict):
        return []
    values = []
    for operator, block in conditions.items():
        if str(operator).lower() not in _POSITIVE_OPERATORS or not isinstance(block, dict):
            continue
        for name, value in block.items():
            if str(name).lower() == key.lower():
                values += [normalise_pseudo(flatten_reference(v)) for v in as_list(value)]
    return values


def restricts(values: Sequence[str]) -> bool:
    """True if a condition's values constrain the key: some values, none only wildcards."""
    return bool(values) and not any(re.fullmatch(r"[*?]*", v) for v in values)


def s3_arn_parts(text: str) -> tuple[str, str | None] | None:
    """``(bucket, key)`` of an S3 ARN as text (key None for a bucket ARN); ``("*", "")``
    for ``*``; None for other ARNs. The bucket is ``<Id>`` for ``<Id.Arn>`` references."""
    if text == "*":
        return "*", ""
    rest = text
    if text.startswith("arn:"):
        parts = normalise_pseudo(text).split(":", 5)
        if len(parts) < 6 or parts[2] not in ("s3", "*", ""):
            return None
        rest = parts[5]
    else:
        match = re.match(r"^<([^<>.]+)\.Arn>", text)
        if match is None:
            return None
        rest = f"<{match.group(1)}>{text[match.end() :]}"
    bucket, slash, key = rest.partition("/")
    return bucket, (key if slash else None)


def s3_bucket_text(resource: Any) -> str | None:
    """The bucket an IAM statement's resource is in, as text (None: not S3)."""
    parts = s3_arn_parts(flatten_reference(resource))
    return parts[0] if parts else None


def roles_of_policy(resource: CfnModelResource, model: StackModel) -> list[str]:
    """Logical ids of the roles a policy is attached to (a role: itself)."""
    if resource.type == "AWS::IAM::Role":
        return [resource.logical_id]
    if resource.type == "AWS::IAM::RolePolicy":
        name = resource.properties.get("RoleName")
        return [name["Ref"]] if isinstance(name, dict) and isinstance(name.get("Ref"), str) else []
    roles = [r["Ref"] for r in as_list(resource.properties.get("Roles")) if isinstance(r, dict)]
    if resource.type == "AWS::IAM::ManagedPolicy":
        for role in model.of_type("AWS::IAM::Role"):
            arns = as_list(role.properties.get("ManagedPolicyArns"))
            if {"Ref": resource.logical_id} in arns:
                roles.append(role.logical_id)
    return [r for r in roles if isinstance(r, str)]


def service_name(value: Any) -> str:
    """A service principal as text, ``${AWS::URLSuffix}`` and regional forms normalised
    (``sagemaker.<AWS::URLSuffix>`` and ``states.eu-west-1.amazonaws.com`` alike)."""
    text = normalise_pseudo(flatten_reference(value))
    match = re.fullmatch(
        r"([a-z0-9-]+)\.(?:[a-z0-9-]+\.|<AWS-Region>\.)?amazonaws\.com(?:\.cn)?", text
    )
    return f"{match.group(1)}.amazonaws.com" if match else text


def trusted_services(role: CfnModelResource) -> dict[str, list[dict[str, Any]]]:
    """The services a role's trust policy allows, with the statements that allow them."""
    document = role.properties.get("AssumeRolePolicyDocument")
    services: dict[str, list[dict[str, Any]]] = {}
    if not isinstance(document, dict):
        return services
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        names = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        for name in names:
            service = service_name(name)
            if service in TRUSTED_SERVICES:
                services.setdefault(service, []).append(statement)
    return services


def is_processing_role(role: CfnModelResource) -> bool:
    return "sagemaker.amazonaws.com" in trusted_services(role)

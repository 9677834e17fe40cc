"""IAM's size quotas, read off a synthesized template.

Which IAM limits can a pipeline's stack break, and how is that known before a deploy? Here.
IAM refuses (HTTP 409 ``LimitExceeded``, so CloudFormation fails the resource and rolls the
stack back) a role whose inline policies add up to more than 10,240 characters, a managed
policy of more than 6,144 characters, an 11th managed policy attached to a role and a trust
policy of more than 2,048 characters; characters are counted without white space
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html; the policy
count and the trust policy size are default quotas, which an account may have had raised
through Service Quotas).

A template holds references (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``) where IAM
will see names and ARNs, so a policy's size is known only as a range: :func:`text_span`
gives the fewest and the most characters a value can resolve to, from the shortest and the
longest partition, region, URL suffix and names (a literal ``BucketName``, ``RoleName`` or
``Path`` is taken as written). :func:`iam_limit_problems` reports a limit broken even at
the fewest characters as certain (the deploy would fail), and one broken only at the most
as possible. Pure: no aws-cdk-lib; :mod:`constructs_sm.template_limits` runs it at synth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

QUOTAS_PAGE: Final = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
#: Characters of all inline policies of one role, together.
MAX_ROLE_INLINE_CHARS: Final = 10_240
#: Characters of one managed policy.
MAX_MANAGED_POLICY_CHARS: Final = 6_144
#: Managed policies attached to one role (a default quota: an account may have more).
MAX_MANAGED_POLICIES_PER_ROLE: Final = 10
#: Characters of a role's trust policy (a default quota: an account may have more).
MAX_TRUST_POLICY_CHARS: Final = 2_048

#: (fewest, most) characters of a pseudo parameter's value.
_PSEUDO: Final[Mapping[str, tuple[int, int]]] = {
    "AWS::Partition": (3, 10),  # aws ... aws-us-gov
    "AWS::Region": (9, 14),  # us-east-1 ... ap-southeast-1
    "AWS::AccountId": (12, 12),
    "AWS::URLSuffix": (13, 16),  # amazonaws.com, amazonaws.com.cn
    "AWS::StackName": (1, 128),
    "AWS::StackId": (60, 240),
    "AWS::NoValue": (0, 0),
}
#: The rules :func:`iam_limit_problems` reports (the ids CDK's validation report shows).
IAM_RULES: Final = (
    "IamRolePolicySize",
    "IamManagedPolicySize",
    "IamManagedPolicies",
    "IamTrustPolicySize",
)
#: A value nothing here can bound.
_UNKNOWN: Final = (0, 2048)
_ARN_HEAD: Final = (len("arn:"), len("arn:"))
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class IamProblem:
    """A limit one resource of the template breaks (``certain``) or may break."""

    logical_id: str
    rule: str
    certain: bool
    description: str
    fix: str


def _add(*spans: tuple[int, int]) -> tuple[int, int]:
    return sum(s[0] for s in spans), sum(s[1] for s in spans)


def _literal(value: object) -> tuple[int, int] | None:
    return (len(value), len(value)) if isinstance(value, str) else None


def _name_span(resource: Mapping[str, Any]) -> tuple[int, int]:
    """A resource's name (``Ref`` of a bucket or a role)."""
    kind = resource.get("Type")
    props = resource.get("Properties") or {}
    if kind == "AWS::S3::Bucket":
        return _literal(props.get("BucketName")) or (3, 63)
    if kind == "AWS::IAM::Role":
        return _literal(props.get("RoleName")) or (1, 64)
    if kind == "AWS::KMS::Key":
        return (36, 36)
    return _UNKNOWN


def _arn_span(resource: Mapping[str, Any]) -> tuple[int, int]:
    """A resource's ``Arn`` attribute."""
    kind = resource.get("Type")
    props = resource.get("Properties") or {}
    partition = _PSEUDO["AWS::Partition"]
    if kind == "AWS::S3::Bucket":
        return _add(_ARN_HEAD, partition, (len(":s3:::"),) * 2, _name_span(resource))
    if kind == "AWS::IAM::Role":
        path = _literal(props.get("Path")) or (1, 512)
        fixed = len(":iam::123456789012:role")
        return _add(_ARN_HEAD, partition, (fixed, fixed), path, _name_span(resource))
    if kind == "AWS::KMS::Key":
        region = _PSEUDO["AWS::Region"]
        fixed = len(":kms::123456789012:key/") + 36
        return _add(_ARN_HEAD, partition, region, (fixed, fixed))
    return _UNKNOWN


def text_span(value: Any, template: Mapping[str, Any]) -> tuple[int, int]:
    """The fewest and the most characters ``value`` (a string or a reference that
    resolves to one) can have once CloudFormation resolves it."""
    if isinstance(value, str):
        return len(value), len(value)
    if not isinstance(value, dict) or len(value) != 1:
        return _UNKNOWN
    resources = template.get("Resources") or {}
    ((function, argument),) = value.items()
    if function == "Ref":
        return _ref_span(str(argument), template)
    if function == "Fn::GetAtt":
        name, attribute = (
            argument.split(".", 1) if isinstance(argument, str) else [*argument, "", ""][:2]
        )
        resource = resources.get(name)
        if isinstance(resource, dict) and attribute == "Arn":
            return _arn_span(resource)
        return _UNKNOWN
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        separator, parts = argument
        if not isinstance(parts, list) or not isinstance(separator, str):
            return _UNKNOWN
        gaps = len(separator) * max(len(parts) - 1, 0)
        return _add((gaps, gaps), *(text_span(part, template) for part in parts))
    if function == "Fn::Sub":
        return _sub_span(argument, template)
    return _UNKNOWN


def _ref_span(name: str, template: Mapping[str, Any]) -> tuple[int, int]:
    if name in _PSEUDO:
        return _PSEUDO[name]
    resource = (template.get("Resources") or {}).get(name)
    if isinstance(resource, dict):
        return _name_span(resource)
    default = ((template.get("Parameters") or {}).get(name) or {}).get("Default")
    return _literal(default) or _UNKNOWN


def _sub_span(argument: Any, template: Mapping[str, Any]) -> tuple[int, int]:
    text, variables = (argument, {}) if isinstance(argument, str) else [*argument, {}][:2]
    if not isinstance(text, str) or not isinstance(variables, dict):
        return _UNKNOWN
    spans = []
    for part in _SUB_VARIABLE.split(text)[1::2]:
        if part.startswith("!"):  # ${!Literal} writes ${Literal}
            spans.append((len(part) + 2, len(part) + 2))
        elif part in variables:
            spans.append(text_span(variables[part], template))
        elif "." in part:
            spans.append(text_span({"Fn::GetAtt": part}, template))
        else:
            spans.append(_ref_span(part, template))
    literal = len(_SUB_VARIABLE.sub("", text))
    return _add((literal, literal), *spans)


def json_span(value: Any, template: Mapping[str, Any]) -> tuple[int, int]:
    """The fewest and the most characters of ``value`` as compact JSON, once resolved:
    what IAM counts of a policy document (it skips white space)."""
    if isinstance(value, dict) and len(value) == 1 and _is_reference(next(iter(value))):
        low, high = text_span(value, template)
        return low + 2, high + 2  # a string's quotes
    if isinstance(value, dict):
        keys = sum(len(json.dumps(key, ensure_ascii=False)) + 1 for key in value)
        commas = max(len(value) - 1, 0) + 2
        return _add(
            (keys + commas, keys + commas), *(json_span(v, template) for v in value.values())
        )
    if isinstance(value, list):
        commas = max(len(value) - 1, 0) + 2
        return _add((commas, commas), *(json_span(item, template) for item in value))
    size = len(json.dumps(value, ensure_ascii=False))
    return size, size


def _is_reference(key: str) -> bool:
    return key == "Ref" or key.startswith("Fn::")


def _role_key(reference: Any) -> str | None:
    """Which role a policy's ``Roles`` entry names: a role of the template by its logical
    id, or an existing role by its name."""
    if isinstance(reference, dict) and isinstance(reference.get("Ref"), str):
        return str(reference["Ref"])
    return f"role named {reference}" if isinstance(reference, str) else None


def iam_limit_problems(template: Mapping[str, Any]) -> list[IamProblem]:
    """Every IAM size quota a role or a managed policy of ``template`` breaks or may
    break (see the module's docstring)."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    inline: dict[str, tuple[int, int]] = {}
    managed: dict[str, int] = {}
    problems: list[IamProblem] = []
    #: Where a role outside the template is shown: the first policy naming it.
    shown: dict[str, str] = {}
    for logical_id, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies") or []:
                span = json_span(policy.get("PolicyDocument"), template)
                inline[logical_id] = _add(inline.get(logical_id, (0, 0)), span)
            arns = props.get("ManagedPolicyArns")
            managed[logical_id] = managed.get(logical_id, 0) + (
                len(arns) if isinstance(arns, list) else 0
            )
            trust = json_span(props.get("AssumeRolePolicyDocument"), template)
            problems += _over(logical_id, "IamTrustPolicySize", trust, MAX_TRUST_POLICY_CHARS)
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            span = json_span(props.get("PolicyDocument"), template)
            names = (
                (props.get("Roles") or [])
                if kind == "AWS::IAM::Policy"
                else [props.get("RoleName")]
            )
            for key in filter(None, map(_role_key, names)):
                inline[key] = _add(inline.get(key, (0, 0)), span)
                shown.setdefault(key, logical_id)
        elif kind == "AWS::IAM::ManagedPolicy":
            span = json_span(props.get("PolicyDocument"), template)
            problems += _over(logical_id, "IamManagedPolicySize", span, MAX_MANAGED_POLICY_CHARS)
            for key in filter(None, map(_role_key, props.get("Roles") or [])):
                managed[key] = managed.get(key, 0) + 1
                shown.setdefault(key, logical_id)
    for key, span in inline.items():
        problems += _over(key, "IamRolePolicySize", span, MAX_ROLE_INLINE_CHARS)
    for key, count in managed.items():
        if count > MAX_MANAGED_POLICIES_PER_ROLE:
            problems.append(_too_many_managed(key, count))
    return [
        p if p.logical_id in resources else replace(p, logical_id=shown[p.logical_id])
        for p in problems
    ]


_WHAT: Final[Mapping[str, tuple[str, str]]] = {
    "IamRolePolicySize": (
        "the inline policies of role {id}",
        "IAM accepts at most {limit:,} characters of inline policies per role (all of them "
        "together; CloudFormation fails with 'Maximum policy size of {limit} bytes "
        "exceeded for role ...')",
    ),
    "IamManagedPolicySize": (
        "managed policy {id}",
        "IAM accepts at most {limit:,} characters per managed policy ('Cannot exceed quota "
        "for PolicySize: {limit}')",
    ),
    "IamTrustPolicySize": (
        "the trust policy of role {id}",
        "IAM accepts at most {limit:,} characters of trust policy per role by default "
        "('Cannot exceed quota for ACLSizePerRole: {limit}'; an account may have had it "
        "raised)",
    ),
}
_FIXES: Final[Mapping[str, str]] = {
    "IamRolePolicySize": (
        "for a role passed to many steps with add_step(role=...), pass it to fewer steps or "
        "leave role= out so that each step gets a role of its own (the default, with "
        "exactly its channels); otherwise move statements into managed policies (6,144 "
        "characters each, 10 per role) or spread the work over several roles"
    ),
    "IamManagedPolicySize": "split its statements over two managed policies",
    "IamTrustPolicySize": "trust fewer principals in one role, or ask for a higher quota",
}


def _over(key: str, rule: str, span: tuple[int, int], limit: int) -> list[IamProblem]:
    low, high = span
    if high <= limit:
        return []
    what, why = _WHAT[rule]
    size = f"{low:,} characters" if low == high else f"{low:,} to {high:,} characters"
    certain = low > limit
    when = "" if certain else " with the longest names and ARNs CloudFormation may give it"
    return [
        IamProblem(
            logical_id=key,
            rule=rule,
            certain=certain,
            description=(
                f"{what.format(id=key)} would take {size} once CloudFormation resolves its "
                f"references (white space not counted){when}; {why.format(limit=limit)}: "
                f"{QUOTAS_PAGE}"
            ),
            fix=_FIXES[rule],
        )
    ]


def _too_many_managed(key: str, count: int) -> IamProblem:
    return IamProblem(
        logical_id=key,
        rule="IamManagedPolicies",
        certain=True,
        description=(
            f"role {key} would have {count} managed policies attached; IAM accepts "
            f"{MAX_MANAGED_POLICIES_PER_ROLE} per role by default ('Cannot exceed quota for "
            f"PoliciesPerRole: {MAX_MANAGED_POLICIES_PER_ROLE}'; an account may have had it "
            f"raised): {QUOTAS_PAGE}"
        ),
        fix=(
            "aws-cdk-lib moves a role's statements past 10,240 characters into managed "
            "policies (OverflowPolicy1, 2...): for a role passed to many steps with "
            "add_step(role=...), pass it to fewer steps or leave role= out so that each step "
            "gets a role of its own (the default); otherwise merge managed policies, or, if "
            "your account's quota was raised, acknowledge this finding "
            "(Validations.of(stack).acknowledge, id constructs-sm::IamManagedPolicies)"
        ),
    )

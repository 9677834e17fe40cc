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
longest partition, region, URL suffix (botocore's partitions) and names (a literal
``BucketName``, ``RoleName`` or ``Path`` is taken as written; a parameter's ``Default`` is
not, since a deploy may pass another value). What a template condition may remove (an
``Fn::If`` with ``AWS::NoValue``, a policy resource with a ``Condition``) counts only at
the most. :func:`iam_limit_problems` reports a limit broken even at the fewest characters
as certain (the deploy would fail), and one broken only at the most as possible; a
reference nothing here bounds (a resource type whose ARN format is not known here, an
import) has no most, so a policy holding one is reported only when certain. White
space is not counted, inside strings either (as the quotas page says IAM counts). Pure: no
aws-cdk-lib; :mod:`constructs_sm.template_limits` runs it at synth.
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
    "AWS::Region": (9, 15),  # us-east-1 ... us-isof-south-1
    "AWS::AccountId": (12, 12),
    "AWS::URLSuffix": (10, 16),  # c2s.ic.gov (aws-iso) ... amazonaws.com.cn
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
#: The most of a value nothing here can bound: more than any policy IAM accepts, so a
#: span reaching it has no known most (see :func:`_over`).
_UNBOUNDED: Final = 1_000_000_000
_UNKNOWN: Final = (0, _UNBOUNDED)
_ARN_HEAD: Final = (len("arn:"), len("arn:"))
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")
_NO_VALUE: Final = {"Ref": "AWS::NoValue"}
#: The characters IAM leaves out of a policy's size (JSON's white space), here and in
#: the offline engine's quotas (:mod:`constructs_sm.local.iam_quotas`).
WHITESPACE: Final = frozenset(" \t\n\r")


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


def _chars(text: str) -> int:
    """The characters IAM counts of ``text`` inside a policy: JSON-escaped, white space
    left out."""
    return sum(1 for c in json.dumps(text, ensure_ascii=False)[1:-1] if c not in WHITESPACE)


def _literal(value: object) -> tuple[int, int] | None:
    return (_chars(value), _chars(value)) if isinstance(value, str) else None


def _function(value: Any) -> tuple[str, Any] | None:
    """``(name, argument)`` of an intrinsic function or a ``Ref``; None for anything else."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" or key.startswith("Fn::"):
            return key, argument
    return None


def _branches(value: Any) -> tuple[Any, Any] | None:
    """The two values of an ``Fn::If`` (either may be the result)."""
    function = _function(value)
    if function and function[0] == "Fn::If":
        argument = function[1]
        if isinstance(argument, list) and len(argument) == 3:
            return argument[1], argument[2]
    return None


def _may_vanish(value: Any) -> bool:
    """Whether ``value`` may resolve to ``AWS::NoValue``: its property or list item is then
    removed, key and comma with it."""
    branches = _branches(value)
    return value == _NO_VALUE or (branches is not None and any(map(_may_vanish, branches)))


def _either(first: tuple[int, int], second: tuple[int, int]) -> tuple[int, int]:
    return min(first[0], second[0]), max(first[1], second[1])


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
        # Without a Path, IAM gives the role "/"; a Path is 1 to 512 characters.
        path = (1, 1) if "Path" not in props else _literal(props["Path"]) or (1, 512)
        fixed = len(":iam::123456789012:role")
        return _add(_ARN_HEAD, partition, (fixed, fixed), path, _name_span(resource))
    if kind == "AWS::KMS::Key":
        region = _PSEUDO["AWS::Region"]
        fixed = len(":kms::123456789012:key/") + 36
        return _add(_ARN_HEAD, partition, region, (fixed, fixed))
    return _UNKNOWN


def text_span(value: Any, template: Mapping[str, Any]) -> tuple[int, int]:
    """The fewest and the most characters ``value`` (a string or a reference that
    resolves to one) can have once CloudFormation resolves it, counted as IAM counts them
    in a policy (JSON-escaped, white space left out)."""
    if isinstance(value, str):
        return _chars(value), _chars(value)
    function = _function(value)
    if function is None:
        return _UNKNOWN
    resources = template.get("Resources") or {}
    name, argument = function
    if name == "Ref":
        return _ref_span(str(argument), template)
    if name == "Fn::GetAtt":
        if isinstance(argument, str):
            target, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            target, attribute = argument
        else:
            return _UNKNOWN
        resource = resources.get(target) if isinstance(target, str) else None
        if isinstance(resource, dict) and attribute == "Arn":
            return _arn_span(resource)
        return _UNKNOWN
    if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        separator, parts = argument
        if not isinstance(parts, list) or not isinstance(separator, str):
            return _UNKNOWN
        staying = sum(not _may_vanish(part) for part in parts)
        gaps = (_chars(separator) * max(staying - 1, 0), _chars(separator) * max(len(parts) - 1, 0))
        return _add(gaps, *(text_span(part, template) for part in parts))
    if name == "Fn::Sub":
        return _sub_span(argument, template)
    branches = _branches(value)
    if branches is not None:
        return _either(*(text_span(branch, template) for branch in branches))
    if value == _NO_VALUE:
        return 0, 0
    return _UNKNOWN


def _ref_span(name: str, template: Mapping[str, Any]) -> tuple[int, int]:
    if name in _PSEUDO:
        return _PSEUDO[name]
    resource = (template.get("Resources") or {}).get(name)
    if isinstance(resource, dict):
        return _name_span(resource)
    parameter = (template.get("Parameters") or {}).get(name)
    return _parameter_span(parameter) if isinstance(parameter, dict) else _UNKNOWN


def _parameter_span(parameter: Mapping[str, Any]) -> tuple[int, int]:
    """A ``String`` parameter's value: what its ``AllowedValues`` or ``MinLength`` and
    ``MaxLength`` allow (its ``Default`` is no bound: a deploy may pass another value)."""
    if parameter.get("Type") != "String":
        return _UNKNOWN
    allowed = parameter.get("AllowedValues")
    if isinstance(allowed, list) and allowed and all(isinstance(a, str) for a in allowed):
        sizes = [_chars(a) for a in allowed]
        return min(sizes), max(sizes)
    low, high = parameter.get("MinLength"), parameter.get("MaxLength")
    return (
        int(low) if isinstance(low, (int, str)) and str(low).isdigit() else 0,
        int(high) if isinstance(high, (int, str)) and str(high).isdigit() else _UNKNOWN[1],
    )


def _sub_span(argument: Any, template: Mapping[str, Any]) -> tuple[int, int]:
    if isinstance(argument, list) and len(argument) in (1, 2):
        text, variables = [*argument, {}][:2]
    else:
        text, variables = argument, {}
    if not isinstance(text, str) or not isinstance(variables, dict):
        return _UNKNOWN
    spans = []
    for part in _SUB_VARIABLE.split(text)[1::2]:
        if part.startswith("!"):  # ${!Literal} writes ${Literal}
            spans.append(text_span("${" + part[1:] + "}", template))
        elif part in variables:
            spans.append(text_span(variables[part], template))
        elif "." in part:
            spans.append(text_span({"Fn::GetAtt": part}, template))
        else:
            spans.append(_ref_span(part, template))
    return _add(text_span(_SUB_VARIABLE.sub("", text), template), *spans)


def json_span(value: Any, template: Mapping[str, Any]) -> tuple[int, int]:
    """The fewest and the most characters of ``value`` as compact JSON, once resolved:
    what IAM counts of a policy document (it skips white space). A property or an item
    that may resolve to ``AWS::NoValue`` counts nothing at the fewest."""
    branches = _branches(value)
    if branches is not None:
        return _either(*(json_span(branch, template) for branch in branches))
    if value == _NO_VALUE:
        return 0, 0
    if _function(value) is not None:
        low, high = text_span(value, template)
        return low + 2, high + 2  # a string's quotes
    if isinstance(value, dict):
        return _members(
            [(_chars(str(key)) + 3, item) for key, item in value.items()], template
        )  # "key": and the braces below
    if isinstance(value, list):
        return _members([(0, item) for item in value], template)
    size = _chars(value) + 2 if isinstance(value, str) else len(json.dumps(value))
    return size, size


def _members(members: list[tuple[int, Any]], template: Mapping[str, Any]) -> tuple[int, int]:
    """An object's or an array's characters: brackets, commas, each member's ``head``
    characters (its key) and value; a member that may vanish counts nothing at the fewest."""
    low = high = 2
    staying = 0
    for head, item in members:
        item_low, item_high = json_span(item, template)
        high += head + item_high
        if not _may_vanish(item):
            low += head + item_low
            staying += 1
    return low + max(staying - 1, 0), high + max(len(members) - 1, 0)


def _role_key(reference: Any, named: Mapping[str, str]) -> str | None:
    """Which role a policy's ``Roles`` entry names: a role of the template by its logical
    id (``named``: the logical ids of the template's roles by their literal ``RoleName``),
    or an existing role by its name."""
    function = _function(reference)
    if function is not None:
        return function[1] if function[0] == "Ref" and isinstance(function[1], str) else None
    if isinstance(reference, str):
        return named.get(reference, f"named {reference}")
    return None


def iam_limit_problems(template: Mapping[str, Any]) -> list[IamProblem]:
    """Every IAM size quota a role or a managed policy of ``template`` breaks or may
    break (see the module's docstring)."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    inline: dict[str, tuple[int, int]] = {}
    #: A role's managed policies: (those attached for certain, those that may be).
    managed: dict[str, tuple[set[str], set[str]]] = {}
    problems: list[IamProblem] = []
    #: Where a role outside the template is shown: the first policy naming it.
    shown: dict[str, str] = {}
    named = {
        resource["Properties"]["RoleName"]: logical_id
        for logical_id, resource in resources.items()
        if isinstance(resource, dict)
        and resource.get("Type") == "AWS::IAM::Role"
        and isinstance(resource.get("Properties"), dict)
        and isinstance(resource["Properties"].get("RoleName"), str)
    }

    def attach(key: str, policy: str, *, certain: bool) -> None:
        sure, maybe = managed.setdefault(key, (set(), set()))
        (sure if certain else maybe).add(policy)

    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if not isinstance(props, dict):
            continue
        # A resource with a Condition may not be created: it counts only at the most.
        created = "Condition" not in resource
        if kind == "AWS::IAM::Role":
            span = _inline_span(props.get("Policies"), template)
            inline[logical_id] = _add(inline.get(logical_id, (0, 0)), span)
            arns = props.get("ManagedPolicyArns")
            for arn in arns if isinstance(arns, list) else []:
                target = _function(arn)
                is_policy = target and target[0] == "Ref" and str(target[1]) in resources
                policy = f"policy {target[1]}" if target and is_policy else json.dumps(arn)
                attach(logical_id, policy, certain=not _may_vanish(arn))
            trust = json_span(props.get("AssumeRolePolicyDocument"), template)
            problems += _over(logical_id, "IamTrustPolicySize", trust, MAX_TRUST_POLICY_CHARS)
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            low, high = json_span(props.get("PolicyDocument"), template)
            span = (low if created else 0, high)
            names = props.get("Roles") if kind == "AWS::IAM::Policy" else [props.get("RoleName")]
            for key in _role_keys(names, named):
                inline[key] = _add(inline.get(key, (0, 0)), span)
                shown.setdefault(key, logical_id)
        elif kind == "AWS::IAM::ManagedPolicy":
            span = json_span(props.get("PolicyDocument"), template)
            problems += _over(logical_id, "IamManagedPolicySize", span, MAX_MANAGED_POLICY_CHARS)
            for key in _role_keys(props.get("Roles"), named):
                attach(key, f"policy {logical_id}", certain=created)
                shown.setdefault(key, logical_id)
    for key, span in inline.items():
        problems += _over(key, "IamRolePolicySize", span, MAX_ROLE_INLINE_CHARS)
    for key, (sure, maybe) in managed.items():
        most = len(sure | maybe)
        if most > MAX_MANAGED_POLICIES_PER_ROLE:
            problems.append(_too_many_managed(key, (len(sure), most)))
    return [
        p if p.logical_id in resources else replace(p, logical_id=shown[p.logical_id])
        for p in problems
    ]


def _inline_span(policies: Any, template: Mapping[str, Any]) -> tuple[int, int]:
    """The characters of a role's ``Policies`` (a list, or an ``Fn::If`` between lists)."""
    branches = _branches(policies)
    if branches is not None:
        return _either(*(_inline_span(branch, template) for branch in branches))
    if not isinstance(policies, list):
        return 0, 0
    spans = []
    for policy in policies:
        choices = _branches(policy) or (policy,)
        each = [
            json_span(p.get("PolicyDocument"), template) if isinstance(p, dict) else (0, 0)
            for p in choices
        ]
        low, high = min(low for low, _ in each), max(high for _, high in each)
        spans.append((0 if _may_vanish(policy) else low, high))
    return _add((0, 0), *spans)


def _role_keys(names: Any, named: Mapping[str, str]) -> list[str]:
    """The roles a policy's ``Roles`` (or ``RoleName``) names; none when it is a reference
    (which roles it holds is not known here)."""
    return (
        [key for key in (_role_key(n, named) for n in names) if key]
        if isinstance(names, list)
        else []
    )


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
    """The problem of a size ``span`` against ``limit``: certain past it at the fewest
    characters, possible past it only at the most (never for an unbounded span: a
    reference of a kind nothing here bounds would otherwise warn on every policy
    naming one)."""
    low, high = span
    bounded = high < _UNBOUNDED
    certain = low > limit
    if not certain and (not bounded or high <= limit):
        return []
    what, why = _WHAT[rule]
    if not bounded:
        size = f"at least {low:,} characters"
    else:
        size = f"{low:,} characters" if low == high else f"{low:,} to {high:,} characters"
    when = (
        ""
        if certain
        else " with the longest names and ARNs CloudFormation may give it (and every part "
        "a template condition may add)"
    )
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


def _too_many_managed(key: str, count: tuple[int, int]) -> IamProblem:
    low, high = count
    certain = low > MAX_MANAGED_POLICIES_PER_ROLE
    size = f"{high}" if certain or low == high else f"up to {high}"
    when = "" if certain else " (some of them only under a template condition)"
    return IamProblem(
        logical_id=key,
        rule="IamManagedPolicies",
        certain=certain,
        description=(
            f"role {key} would have {size} managed policies attached{when}; IAM accepts "
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

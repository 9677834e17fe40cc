"""IAM policy evaluation for the emulator, as AWS evaluates it, stricter where it cannot.

moto 5.2.5 evaluates only ``StringEquals`` conditions (and only for ``sts:ExternalId``)
and treats every other operator as satisfied, so an ``Allow`` with
``StringLike s3:prefix`` grants every prefix. This module is the evaluation the
emulator uses instead (:mod:`constructs_sm.local.iam` plugs it into moto): pure
functions of policy documents and a :class:`Request`.

Evaluation, as in the IAM policy evaluation logic
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an applicable ``Deny`` wins, then an applicable ``Allow``, otherwise the request is
implicitly denied. A statement applies when its ``Action``/``NotAction`` (case
insensitive), ``Resource``/``NotResource`` (case sensitive), ``Principal`` (resource
and trust policies) and every condition match. ``*`` and ``?`` are the only wildcards.

Conditions (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
the ``String*``, ``Arn*`` (each of the six ARN components matched on its own), ``Bool``,
``Numeric*`` and ``Null`` operators, with ``...IfExists`` and the ``ForAnyValue:`` /
``ForAllValues:`` set qualifiers. Several values of one key are ORed (NORed for negated
operators); keys, then operators, are ANDed. A key absent from the request makes a
positive operator false and a negated one true, as AWS documents.

Where this evaluation cannot decide, it is stricter than AWS, never looser: an operator
it does not know (``Date*``, ``IpAddress``, ``Binary*``), a policy variable (``${...}``)
or a resource the emulator cannot name (moto authorizes most non-S3 actions against
``*``) makes an ``Allow`` statement not apply and a ``Deny`` statement apply. A principal
matches only by its exact ARN (a role's ARN also matches its sessions), ``*``, or a
service name: an account principal (``arn:aws:iam::<account>:root``) matches nothing.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

ContextValue = str | Sequence[str]
"""A request context value: a string, or a list for multivalued keys."""


class Decision(Enum):
    """The outcome of evaluating policies for one request."""

    ALLOW = "Allow"
    DENY = "Deny"  # an explicit Deny applied
    IMPLICIT_DENY = "ImplicitDeny"  # no Allow applied


@dataclass(frozen=True)
class Principal:
    """Who makes the request: IAM identities by ARN, or an AWS service by name.

    ``arns`` holds every ARN a policy may name it by: an IAM user's ARN, or for a role
    session both the session's ``assumed-role`` ARN and the role's ARN.
    """

    arns: tuple[str, ...] = ()
    service: str | None = None

    @classmethod
    def of_service(cls, service: str) -> Principal:
        """``sagemaker.amazonaws.com``, ``states.amazonaws.com``, ..."""
        return cls(service=service)


@dataclass(frozen=True)
class Request:
    """One authorization question: may ``principal`` do ``action`` on ``resource``?

    :param action: ``service:Action`` (``s3:GetObject``).
    :param resource: the resource ARN, or None when the emulator cannot name it (moto
        authorizes most non-S3 actions against ``*``).
    :param context: condition keys (any case) and their values.
    :param principal: the caller, for resource-based and trust policies.
    """

    action: str
    resource: str | None
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    principal: Principal | None = None

    def value(self, key: str) -> ContextValue | None:
        """The context value of ``key`` (condition keys are case insensitive)."""
        return _lowered(self.context).get(key.lower())


def _lowered(context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    return {key.lower(): value for key, value in context.items()}


# -- wildcards -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM matching: ``*`` is any run of characters (``/`` included), ``?`` any one."""
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, arn: str) -> bool:
    """``ArnLike``: the six colon-separated components matched one by one."""
    wanted = pattern.split(":", 5)
    actual = arn.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return False
    return all(wildcard_match(w, a) for w, a in zip(wanted, actual, strict=True))


# -- conditions ------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _string_equals(wanted: str, actual: str) -> bool:
    return wanted == actual


def _string_equals_ignore_case(wanted: str, actual: str) -> bool:
    return wanted.lower() == actual.lower()


def _string_like(wanted: str, actual: str) -> bool:
    return wildcard_match(wanted, actual)


def _bool_equals(wanted: str, actual: str) -> bool:
    return wanted.lower() == actual.lower()


def _numeric(compare: str) -> Any:
    def match(wanted: str, actual: str) -> bool:
        left, right = _number(actual), _number(wanted)
        if left is None or right is None:
            return False
        return {
            "eq": left == right,
            "lt": left < right,
            "le": left <= right,
            "gt": left > right,
            "ge": left >= right,
        }[compare]

    return match


#: Base operator -> (value matcher, negated).
OPERATORS: Final[dict[str, tuple[Any, bool]]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (arn_match, False),
    "ArnLike": (arn_match, False),
    "ArnNotEquals": (arn_match, True),
    "ArnNotLike": (arn_match, True),
    "Bool": (_bool_equals, False),
    "NumericEquals": (_numeric("eq"), False),
    "NumericNotEquals": (_numeric("eq"), True),
    "NumericLessThan": (_numeric("lt"), False),
    "NumericLessThanEquals": (_numeric("le"), False),
    "NumericGreaterThan": (_numeric("gt"), False),
    "NumericGreaterThanEquals": (_numeric("ge"), False),
}
_SET_QUALIFIERS: Final = ("ForAnyValue:", "ForAllValues:")


def condition_holds(operator: str, key: str, wanted: Any, request: Request) -> bool | None:
    """Whether one ``operator: {key: wanted}`` condition holds; None if it cannot tell.

    None for an operator this module does not implement or a policy variable in
    ``wanted``: the caller then treats the statement strictly.
    """
    qualifier = next((q for q in _SET_QUALIFIERS if operator.startswith(q)), "")
    base = operator[len(qualifier) :]
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    values = [_text(v) for v in _as_list(wanted)]
    if any("${" in v for v in values):
        return None
    actual = request.value(key)
    if base == "Null":
        absent = actual is None or (isinstance(actual, list | tuple) and not actual)
        return all((v.lower() == "true") == absent for v in values)
    if base not in OPERATORS:
        return None
    match, negated = OPERATORS[base]
    if actual is None:
        if if_exists:
            return True
        if qualifier == "ForAllValues:":
            return True
        return negated and not qualifier

    def one(item: str) -> bool:
        hit = any(match(v, item) for v in values)
        return not hit if negated else hit

    items = [_text(v) for v in _as_list(actual)]
    if qualifier == "ForAllValues:":
        return all(one(item) for item in items)
    if qualifier == "ForAnyValue:":
        return any(one(item) for item in items)
    if len(items) != 1:  # a multivalued key needs a set qualifier: AWS matches nothing
        return negated
    return one(items[0])


def _conditions(statement: Mapping[str, Any], request: Request) -> bool | None:
    blocks = statement.get("Condition") or {}
    unknown = False
    for operator, keys in blocks.items():
        for key, wanted in (keys or {}).items():
            holds = condition_holds(operator, key, wanted, request)
            if holds is False:
                return False
            if holds is None:
                unknown = True
    return None if unknown else True


# -- statements ------------------------------------------------------------------------


def _action_matches(patterns: Any, action: str) -> bool:
    return any(wildcard_match(str(p), action, ignore_case=True) for p in _as_list(patterns))


def _resource_matches(patterns: Any, resource: str | None) -> bool | None:
    """True/False, or None when the resource is unknown and a pattern is not ``*``."""
    texts = [str(p) for p in _as_list(patterns)]
    if "*" in texts:
        return True
    if resource is None or any("${" in t for t in texts):
        return None
    return any(wildcard_match(t, resource) for t in texts)


def _principal_matches(spec: Any, principal: Principal | None) -> bool:
    if spec == "*":
        return True
    if principal is None or not isinstance(spec, Mapping):
        return False
    for kind, names in spec.items():
        listed = [str(n) for n in _as_list(names)]
        if kind == "AWS" and ("*" in listed or set(listed) & set(principal.arns)):
            return True
        if kind == "Service" and principal.service in listed:
            return True
    return False


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    """Whether one policy statement applies to ``request`` (see the module docstring)."""
    deny = statement.get("Effect") == "Deny"
    if "NotAction" in statement:
        if _action_matches(statement["NotAction"], request.action):
            return False
    elif not _action_matches(statement.get("Action", []), request.action):
        return False
    if "Principal" in statement and not _principal_matches(
        statement["Principal"], request.principal
    ):
        return False
    if "NotPrincipal" in statement and (
        request.principal is None
        or _principal_matches(statement["NotPrincipal"], request.principal)
    ):
        return False
    unknown = False
    if "Resource" in statement:
        matched = _resource_matches(statement["Resource"], request.resource)
        if matched is False:
            return False
        unknown = matched is None
    elif "NotResource" in statement:
        matched = _resource_matches(statement["NotResource"], request.resource)
        if matched is True:
            return False
        unknown = matched is None
    conditions = _conditions(statement, request)
    if conditions is False:
        return False
    if unknown or conditions is None:
        return deny  # cannot tell: an Allow does not apply, a Deny does
    return True


def statements(document: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a JSON string or a parsed one)."""
    parsed = json.loads(document) if isinstance(document, str) else document
    found = parsed.get("Statement") or []
    # A statement CloudFormation removes (``Fn::If`` giving ``AWS::NoValue``, as in the
    # CDK bootstrap template's trust policies) is left as null by moto's template parser.
    listed = [found] if isinstance(found, Mapping) else list(found)
    return [statement for statement in listed if statement is not None]


def evaluate(documents: Iterable[Mapping[str, Any] | str], request: Request) -> Decision:
    """Evaluate policy documents for one request: Deny, then Allow, else implicit deny."""
    allowed = False
    for document in documents:
        for statement in statements(document):
            if statement_applies(statement, request):
                if statement.get("Effect") == "Deny":
                    return Decision.DENY
                allowed = allowed or statement.get("Effect") == "Allow"
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY

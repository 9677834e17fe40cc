"""Fixes of moto 5.2.5's CloudFormation for the state machines the pipelines create.

**DefinitionS3Location and DefinitionSubstitutions.** moto creates an
``AWS::StepFunctions::StateMachine`` from its ``DefinitionString`` alone: it ignores a
definition in S3 (a large pipeline's, see :mod:`constructs_sm.hosting`) and the
``${name}`` placeholders CloudFormation fills from ``DefinitionSubstitutions``. On AWS,
CloudFormation reads the object (``Bucket``, ``Key``, optional ``Version``) and
replaces each placeholder with its value before it calls CreateStateMachine
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html).
:func:`install` wraps moto's create and update handlers so that they do the same, from
the emulator's own S3, and refuse (the deploy fails) what would fail there: an object
that does not exist, and a placeholder with no value (CloudFormation documents no
escape for ``${``, so the offline engine takes any ``${name}`` for a placeholder: stricter
rather than looser).

**A role's Policies and ManagedPolicyArns.** moto's ``AWS::IAM::Role`` stores each inline
policy of ``Policies`` as a Python ``dict`` where the IAM API holds JSON text, ignores
``ManagedPolicyArns`` (the role gets no managed policy) and, on an update, changes only
the description. With IAM enforced in the emulator, a step role would then hold none of
its grants. :func:`install` wraps the role's create and update handlers so the role
holds the inline policies and the managed policies of its properties, as CloudFormation
leaves it (a managed policy the emulator does not know, such as an AWS managed one, is
not attached: the role gets less, never more), and its delete handler so that the role's
managed policies are detached first (IAM refuses to delete a role with attached ones).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from moto.iam import models as iam_models
from moto.s3.models import s3_backends
from moto.stepfunctions import models as sfn_models
from moto.utilities.utils import get_partition

_PLACEHOLDER: Final = re.compile(r"\$\{([^}]*)\}")
_HANDLERS: Final = ("create_from_cloudformation_json", "update_from_cloudformation_json")
_ROLE_DELETE: Final = "delete_from_cloudformation_json"
#: On a moto role: the inline policy names and managed policy ARNs its own properties
#: gave it, so an update removes only those (not a policy another resource attached).
_APPLIED: Final = "_csm_applied"
_originals: dict[str, Callable[..., Any]] = {}
_role_originals: dict[str, Callable[..., Any]] = {}


class DefinitionError(ValueError):
    """The state machine's definition cannot be read or filled in as CloudFormation would."""


def substitute(text: str, substitutions: Mapping[str, Any]) -> str:
    """``text`` with each ``${name}`` replaced by ``substitutions[name]``.

    :raises DefinitionError: for a placeholder with no value.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise DefinitionError(
                f"the definition holds the placeholder ${{{name}}}, which "
                "DefinitionSubstitutions does not define"
            )
        return str(substitutions[name])

    return _PLACEHOLDER.sub(value, text)


def definition_of(properties: Mapping[str, Any], account_id: str, region: str) -> str | None:
    """The definition CloudFormation would pass to CreateStateMachine, or None when the
    properties hold neither ``DefinitionString`` nor ``DefinitionS3Location``."""
    text = properties.get("DefinitionString")
    location = properties.get("DefinitionS3Location")
    if text is None and isinstance(location, Mapping):
        backend = s3_backends[account_id][get_partition(region)]
        try:
            key = backend.get_object(
                location["Bucket"], location["Key"], version_id=location.get("Version")
            )
        except Exception as error:  # moto raises its own S3 errors
            raise DefinitionError(
                f"DefinitionS3Location s3://{location.get('Bucket')}/{location.get('Key')} "
                f"cannot be read: {error}"
            ) from error
        if key is None:
            raise DefinitionError(
                f"DefinitionS3Location s3://{location['Bucket']}/{location['Key']} does not exist"
            )
        text = key.value.decode()
    if text is None:
        return None
    substitutions = properties.get("DefinitionSubstitutions")
    if substitutions:
        text = substitute(text, substitutions)
    return str(text)


def _bound(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """A handler call's arguments by name: moto passes them by position to create and
    delete, by keyword to update."""
    return dict(inspect.signature(original).bind(*args, **kwargs).arguments)


def _arguments(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], str, str]:
    """``cloudformation_json``, ``account_id`` and ``region_name`` of a handler call."""
    bound = _bound(original, args, kwargs)
    return bound["cloudformation_json"], bound["account_id"], bound["region_name"]


def _wrapped(name: str) -> classmethod[Any, ..., Any]:
    original = _originals[name]

    def handler(cls: type, *args: Any, **kwargs: Any) -> Any:
        cloudformation_json, account_id, region_name = _arguments(original, args, kwargs)
        properties = cloudformation_json.get("Properties") or {}
        text = definition_of(properties, account_id, region_name)
        if text is not None:
            filled = {
                key: value
                for key, value in properties.items()
                if key not in ("DefinitionS3Location", "DefinitionSubstitutions")
            }
            cloudformation_json["Properties"] = {**filled, "DefinitionString": text}
        return original(*args, **kwargs)

    return classmethod(handler)


def apply_role_properties(
    role: Any, properties: Mapping[str, Any], account_id: str, region_name: str
) -> None:
    """Make ``role`` hold the inline policies (``Policies``, as JSON text) and the managed
    policies (``ManagedPolicyArns``) its CloudFormation properties name; on an update,
    remove those its earlier properties gave it and the new ones do not (a policy that
    another resource, such as an ``AWS::IAM::Policy``, put on the role stays)."""
    backend = iam_models.iam_backends[account_id][get_partition(region_name)]
    wanted = {
        str(policy["PolicyName"]): policy["PolicyDocument"]
        for policy in properties.get("Policies") or []
    }
    arns = {str(arn) for arn in properties.get("ManagedPolicyArns") or []}
    applied_names, applied_arns = getattr(role, _APPLIED, (set(), set()))
    for name in applied_names - set(wanted):
        if name in role.policies:
            role.delete_policy(name)
    for arn in applied_arns - arns:
        if arn in role.managed_policies:
            backend.detach_role_policy(arn, role.name)
    for name, document in wanted.items():
        role.put_policy(name, document if isinstance(document, str) else json.dumps(document))
    known = {policy.arn for policy in backend.managed_policies.values()}
    for arn in sorted(arns - set(role.managed_policies)):
        if arn in known:
            backend.attach_role_policy(arn, role.name)
    setattr(role, _APPLIED, (set(wanted), arns))


def _wrapped_role(name: str) -> classmethod[Any, ..., Any]:
    original = _role_originals[name]

    def handler(cls: type, *args: Any, **kwargs: Any) -> Any:
        cloudformation_json, account_id, region_name = _arguments(original, args, kwargs)
        role = original(*args, **kwargs)
        properties = cloudformation_json.get("Properties") or {}
        apply_role_properties(role, properties, account_id, region_name)
        return role

    return classmethod(handler)


def _role_delete(cls: type, *args: Any, **kwargs: Any) -> Any:
    """moto's role delete, after detaching the role's managed policies (IAM refuses to
    delete a role with attached policies, and moto's managed policies never detach)."""
    original = _role_originals[_ROLE_DELETE]
    bound = _bound(original, args, kwargs)
    backend = iam_models.iam_backends[bound["account_id"]][get_partition(bound["region_name"])]
    for role in list(backend.roles.values()):
        if role.name == bound["resource_name"]:
            for arn in list(role.managed_policies):
                backend.detach_role_policy(arn, role.name)
    return original(*args, **kwargs)


def install() -> None:
    """Wrap moto's state-machine and role create and update handlers (idempotent)."""
    if _originals:
        return
    for name in _HANDLERS:
        _originals[name] = getattr(sfn_models.StateMachine, name)
        _role_originals[name] = getattr(iam_models.Role, name)
    _role_originals[_ROLE_DELETE] = getattr(iam_models.Role, _ROLE_DELETE)
    for name in _HANDLERS:
        setattr(sfn_models.StateMachine, name, _wrapped(name))
        setattr(iam_models.Role, name, _wrapped_role(name))
    setattr(iam_models.Role, _ROLE_DELETE, classmethod(_role_delete))


def uninstall() -> None:
    """Undo :func:`install`."""
    for name, original in _originals.items():
        setattr(sfn_models.StateMachine, name, classmethod(original.__func__))  # type: ignore[attr-defined]
    for name, original in _role_originals.items():
        setattr(iam_models.Role, name, classmethod(original.__func__))  # type: ignore[attr-defined]
    _originals.clear()
    _role_originals.clear()

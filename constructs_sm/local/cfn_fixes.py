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
holds exactly the inline policies and the managed policies of its properties, as
CloudFormation leaves it (a managed policy the emulator does not know, such as an AWS
managed one, is not attached: the role gets less, never more).
"""

from __future__ import annotations

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


def _wrapped(name: str) -> classmethod[Any, ..., Any]:
    original = _originals[name]

    def handler(cls: type, *args: Any, **kwargs: Any) -> Any:
        # create(resource_name, cloudformation_json, account_id, region_name)
        # update(original_resource, new_resource_name, cloudformation_json, account_id,
        #        region_name)
        *_, cloudformation_json, account_id, region_name = args
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
    """Make ``role`` hold exactly the inline policies (``Policies``, as JSON text) and the
    managed policies (``ManagedPolicyArns``) its CloudFormation properties name."""
    backend = iam_models.iam_backends[account_id][get_partition(region_name)]
    wanted = {
        str(policy["PolicyName"]): policy["PolicyDocument"]
        for policy in properties.get("Policies") or []
    }
    for name in [name for name in role.policies if name not in wanted]:
        role.delete_policy(name)
    for name, document in wanted.items():
        role.put_policy(name, document if isinstance(document, str) else json.dumps(document))
    arns = {str(arn) for arn in properties.get("ManagedPolicyArns") or []}
    for arn in set(role.managed_policies) - arns:
        backend.detach_role_policy(arn, role.name)
    known = {policy.arn for policy in backend.managed_policies.values()}
    for arn in sorted(arns - set(role.managed_policies)):
        if arn in known:
            backend.attach_role_policy(arn, role.name)


def _wrapped_role(name: str) -> classmethod[Any, ..., Any]:
    original = _role_originals[name]

    def handler(cls: type, *args: Any, **kwargs: Any) -> Any:
        *_, cloudformation_json, account_id, region_name = args
        role = original(*args, **kwargs)
        properties = cloudformation_json.get("Properties") or {}
        apply_role_properties(role, properties, account_id, region_name)
        return role

    return classmethod(handler)


def install() -> None:
    """Wrap moto's state-machine and role create and update handlers (idempotent)."""
    if _originals:
        return
    for name in _HANDLERS:
        _originals[name] = getattr(sfn_models.StateMachine, name)
        _role_originals[name] = getattr(iam_models.Role, name)
    for name in _HANDLERS:
        setattr(sfn_models.StateMachine, name, _wrapped(name))
        setattr(iam_models.Role, name, _wrapped_role(name))


def uninstall() -> None:
    """Undo :func:`install`."""
    for name, original in _originals.items():
        setattr(sfn_models.StateMachine, name, classmethod(original.__func__))  # type: ignore[attr-defined]
    for name, original in _role_originals.items():
        setattr(iam_models.Role, name, classmethod(original.__func__))  # type: ignore[attr-defined]
    _originals.clear()
    _role_originals.clear()

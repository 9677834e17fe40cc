"""A stack whose resource fails to create rolls back, as CloudFormation does.

moto 5.2.5 creates a stack's resources inside CreateStack and lets a resource's error
escape: CreateStack itself answers with that error (an IAM ``LimitExceeded`` from the
CloudFormation API), the stack stays ``CREATE_IN_PROGRESS`` holding what was created
before the failure, and no event names the resource. On AWS, CreateStack returns the
stack's id; the resource that failed ends ``CREATE_FAILED`` with the service's message as
its ``ResourceStatusReason`` (for an IAM quota: ``Resource handler returned message:
"Maximum policy size of 10240 bytes exceeded for role ..."``), the stack goes
``ROLLBACK_IN_PROGRESS`` ("The following resource(s) failed to create: [...]"), deletes
what it created and ends ``ROLLBACK_COMPLETE`` (stack status codes,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html).

:func:`install` gives moto's CreateStack that outcome: every resource's creation error
is marked with the resource's logical id and type (:func:`parse_and_create_resource`,
innermost first: a resource created for a ``Ref`` of another keeps its own name), and a
stack's creation that fails on a marked error rolls back instead of raising. The
deployers then report the failure from the stack's events, as they report any failed
resource (:meth:`constructs_sm.local.cfn_deploy.AssemblyDeployer._wait`). An error that
no resource raised (a template CloudFormation refuses before it creates anything) still
fails the call, as on AWS.

A change set that creates a stack (the ``cdk`` CLI's path: CreateChangeSet of type
``CREATE``, then ExecuteChangeSet) rolls back the same way: ExecuteChangeSet answers, the
change set ends ``EXECUTE_FAILED`` and the stack ``ROLLBACK_COMPLETE``.

A failed update (UpdateStack, an ``UPDATE`` change set) rolls back to the stack as it was:
:mod:`constructs_sm.local.cfn_update_rollback`, with the resource marked here.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing

from constructs_sm.local.extra import Patches, require_unmoved

_CREATE_RESOURCE: Final = "parse_and_create_resource"
_CREATE_RESOURCES: Final = "create_resources"
_EXECUTE_CHANGE_SET: Final = "execute_change_set"
#: On an exception: ``(logical id, resource type)`` of the resource that raised it.
_FAILED_RESOURCE: Final = "_csm_failed_resource"
_patches = Patches()


def failure_reason(error: BaseException) -> str:
    """A failed resource's ``ResourceStatusReason``: the service's message, as
    CloudFormation's resource handlers return it (with the error code, where AWS adds
    the request's ids)."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    code = getattr(error, "code", None) or type(error).__name__
    return f'Resource handler returned message: "{message}" ({code})'


def failed_resource(error: BaseException) -> tuple[str, str] | None:
    """``(logical id, type)`` of the resource whose creation raised ``error``, if any."""
    marked = getattr(error, _FAILED_RESOURCE, None)
    return (str(marked[0]), str(marked[1])) if marked else None


def mark_failed(error: BaseException, logical_id: str, resource_type: str) -> None:
    """Mark ``error`` as the failure of that resource, unless a resource it needed was
    marked first (innermost first)."""
    if failed_resource(error) is None:
        setattr(error, _FAILED_RESOURCE, (logical_id, resource_type))


def parse_and_create_resource(
    logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any
) -> Any:
    """moto's, with its error marked by the resource (unless a resource it needed
    raised it first)."""
    try:
        original = _patches.original(cfn_parsing, _CREATE_RESOURCE)
        return original(logical_id, resource_json, *args, **kwargs)
    except Exception as error:
        mark_failed(error, logical_id, str(resource_json.get("Type")))
        raise


def create_resources(stack: Any) -> None:
    """moto's ``Stack.create_resources``; a resource's failure rolls the stack back."""
    try:
        _patches.original(cfn_models.Stack, _CREATE_RESOURCES)(stack)
    except Exception as error:
        failed = failed_resource(error)
        if failed is None:
            raise
        roll_back(stack, *failed, reason=failure_reason(error))


def executed_change_set(backend: Any, change_set_name: str) -> Any | None:
    """The change set moto's ExecuteChangeSet executes for ``change_set_name``: the one of
    that id, else the first of that name (None if none)."""
    return backend.change_sets.get(change_set_name) or next(
        (c for c in backend.change_sets.values() if c.change_set_name == change_set_name), None
    )


def execute_change_set(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """moto's ``ExecuteChangeSet``; a resource's failure in a change set that creates its
    stack rolls the stack back (the change set ends ``EXECUTE_FAILED``)."""
    try:
        original = _patches.original(cfn_models.CloudFormationBackend, _EXECUTE_CHANGE_SET)
        original(backend, change_set_name, stack_name)
    except Exception as error:
        failed = failed_resource(error)
        change_set = executed_change_set(backend, change_set_name)
        if failed is None or change_set is None or change_set.change_set_type != "CREATE":
            raise
        change_set.execution_status = "EXECUTE_FAILED"
        roll_back(backend.stacks[change_set.stack_id], *failed, reason=failure_reason(error))


def add_resource_event(
    stack: Any, logical_id: str, resource_type: str, status: str, reason: str
) -> None:
    """A stack event of one of its resources (``CREATE_FAILED``, ``DELETE_FAILED``...)."""
    stack.events.append(
        cfn_models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id="",
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def roll_back(stack: Any, logical_id: str, resource_type: str, *, reason: str) -> None:
    """Record ``logical_id``'s ``CREATE_FAILED``, delete what ``stack`` created, and end it
    ``ROLLBACK_COMPLETE`` (``ROLLBACK_FAILED`` when a delete fails)."""
    add_resource_event(stack, logical_id, resource_type, "CREATE_FAILED", reason)
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS",
        resource_status_reason=(
            f"The following resource(s) failed to create: [{logical_id}]. "
            "Rollback requested by user."
        ),
    )
    try:
        stack.resource_map.delete()
    except Exception as error:
        stack.status = "ROLLBACK_FAILED"
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=str(error))
        return
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def check_integration_points() -> None:
    """Fail loudly if what this module patches moved in moto."""
    problems = []
    create = _patches.original(cfn_parsing, _CREATE_RESOURCE)
    if create is None or list(inspect.signature(create).parameters)[:2] != [
        "logical_id",
        "resource_json",
    ]:
        problems.append(f"cloudformation.parsing.{_CREATE_RESOURCE}")
    if f"= {_CREATE_RESOURCE}(" not in inspect.getsource(cfn_parsing.ResourceMap.__getitem__):
        problems.append(f"ResourceMap.__getitem__ no longer calls {_CREATE_RESOURCE}")
    stack_create = _patches.original(cfn_models.Stack, _CREATE_RESOURCES)
    if list(inspect.signature(stack_create).parameters) != ["self"]:
        problems.append(f"Stack.{_CREATE_RESOURCES}")
    execute = _patches.original(cfn_models.CloudFormationBackend, _EXECUTE_CHANGE_SET)
    if list(inspect.signature(execute).parameters) != ["self", "change_set_name", "stack_name"]:
        problems.append(f"CloudFormationBackend.{_EXECUTE_CHANGE_SET}")
    event = list(inspect.signature(cfn_models.Event.__init__).parameters)
    if "resource_status_reason" not in event or "logical_resource_id" not in event:
        problems.append("cloudformation.models.Event")
    require_unmoved(problems, "its CloudFormation internals changed")


def install() -> None:
    """Roll back a stack whose resource fails to create (idempotent)."""
    check_integration_points()
    if _patches:
        return
    _patches.replace(cfn_parsing, _CREATE_RESOURCE, parse_and_create_resource)
    _patches.replace(cfn_models.Stack, _CREATE_RESOURCES, create_resources)
    _patches.replace(cfn_models.CloudFormationBackend, _EXECUTE_CHANGE_SET, execute_change_set)


def uninstall() -> None:
    """Undo :func:`install`."""
    _patches.restore()

"""A stack update whose resource fails rolls back to the stack as it was, as CloudFormation
does.

moto 5.2.5 updates a stack inside UpdateStack (and ExecuteChangeSet of an ``UPDATE`` change
set) in its own order: it first deletes the resources the new template leaves out, then
creates the new ones, then updates the changed ones; a resource's error escapes from the
API call and leaves the stack half updated, its status unchanged (``CREATE_COMPLETE``
after a failed update), the resources created before the failure in place and the
removed ones gone.

On AWS (stack status codes and update behaviours,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html
and https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html):
UpdateStack answers with the stack's id; CloudFormation creates and updates resources,
and deletes the ones the template left out only in the cleanup phase after everything
else succeeded (``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``). A resource that fails ends
``CREATE_FAILED`` or ``UPDATE_FAILED`` with the service's message; the stack goes
``UPDATE_ROLLBACK_IN_PROGRESS`` ("The following resource(s) failed to update: [...]"),
deletes what the update created, puts the updated resources back as they were, and ends
``UPDATE_ROLLBACK_COMPLETE`` (``UPDATE_ROLLBACK_FAILED`` when that fails). The stack keeps
its previous template and outputs, and can be updated again.

:func:`install` gives moto that: :func:`update_resources` replaces
``ResourceMap.update`` (create, update, then remove; on a resource's failure, undo and
raise :class:`StackUpdateError`), and UpdateStack and ExecuteChangeSet end the stack as
above instead of failing (a change set whose update rolled back ends ``EXECUTE_FAILED``).
The undo puts the changed resources back against the previous template (its conditions,
mappings and parameters), then deletes the created ones, last created first. The cleanup
keeps a resource left out with ``DeletionPolicy: Retain`` and one whose physical resource
another resource of the stack now holds (a named resource moved to a new logical id); one
it cannot delete gets a ``DELETE_FAILED`` event and the update still succeeds.
An error no resource raised (a template CloudFormation refuses before changing anything)
still fails the call, as on AWS, and leaves the stack as it was.

Not covered: a resource whose update moto carries out by deleting it and creating it
again (an SSM parameter; an ECR repository given a new name) and whose new one fails is
gone (CloudFormation creates the replacement first); the rollback puts back its
properties only where moto's handler recreates it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing

from constructs_sm.local.cfn_rollback import (
    add_resource_event,
    executed_change_set,
    failed_resource,
    failure_reason,
    mark_failed,
)
from constructs_sm.local.extra import Patches, require_unmoved

_UPDATE: Final = "update"
#: On a resource map after an update: ``(logical id, type, reason)`` of each resource the
#: cleanup phase could not delete.
CLEANUP_FAILURES: Final = "_csm_cleanup_failures"
_EXECUTE_CHANGE_SET: Final = "execute_change_set"
_patches = Patches()
#: moto's own (read by the check; constructs_sm.local.cfn_names wraps it).
_MOTO_UPDATE_ONE: Final = cfn_parsing.parse_and_update_resource


class StackUpdateError(Exception):
    """A stack update's resource failed; the update was undone (unless ``undo_error``)."""

    def __init__(
        self, logical_id: str, resource_type: str, action: str, reason: str, undo_error: str
    ) -> None:
        super().__init__(f"{logical_id} ({resource_type}) failed to {action}: {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.action = action
        self.reason = reason
        self.undo_error = undo_error


@dataclass(frozen=True)
class _Before:
    """What a resource map held before an update."""

    template: dict[str, Any]
    resources: dict[str, Any]
    input_parameters: dict[str, Any]
    resolved_parameters: dict[str, Any]
    parsed: dict[str, Any]

    def restore(self, resource_map: Any) -> None:
        """Give ``resource_map`` this template, parameters and resources again, and its
        mappings, parameters and conditions as they resolve from them."""
        resource_map._template = self.template
        resource_map._resource_json_map = self.resources
        resource_map.input_parameters = self.input_parameters
        resource_map.resolved_parameters = {**self.resolved_parameters}
        resource_map._parsed_resources = {**self.parsed}
        resource_map.load_mapping()
        resource_map.load_parameters()
        resource_map.load_conditions()

    @classmethod
    def of(cls, resource_map: Any) -> _Before:
        return cls(
            template=resource_map._template,
            resources=resource_map._resource_json_map,
            input_parameters=dict(resource_map.input_parameters),
            resolved_parameters=dict(resource_map.resolved_parameters),
            parsed=dict(resource_map._parsed_resources),
        )


def _update_one(resource_map: Any, logical_id: str, resource_json: dict[str, Any]) -> Any:
    """moto's update of one resource, its error marked with the resource."""
    try:
        return cfn_parsing.parse_and_update_resource(
            logical_id,
            resource_json,
            resource_map,
            account_id=resource_map._account_id,
            region_name=resource_map._region_name,
        )
    except Exception as error:
        mark_failed(error, logical_id, str(resource_json.get("Type")))
        raise


def _in_passes(names: list[str], attempt: Callable[[str], None]) -> list[tuple[str, Exception]]:
    """``attempt(name)`` for each name, in moto's passes (a resource that fails may wait
    on another of the same operation); the names that still fail after them, with their
    last error."""
    pending = list(names)
    errors: dict[str, Exception] = {}
    for _ in range(cfn_parsing.MAX_UPDATE_ATTEMPTS - 1):
        for name in pending.copy():
            try:
                attempt(name)
            except Exception as error:
                errors[name] = error
            else:
                pending.remove(name)
        if not pending:
            return []
    return [(name, errors[name]) for name in pending]


def _raise_any(failures: list[tuple[str, Exception]]) -> None:
    """Raise the error of the last of ``failures``, if there are some."""
    if failures:
        raise failures[-1][1]


def update_resources(
    self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> None:
    """moto's ``ResourceMap.update`` in CloudFormation's order: create the new resources,
    update the changed ones, then delete those the template left out (:func:`_clean_up`).
    A resource's failure undoes the update (:func:`_undo`) and raises
    :class:`StackUpdateError`."""
    actions = self.build_resource_diff(template, parameters)
    before = _Before.of(self)
    try:
        self._template = template
        if parameters:
            self.input_parameters = parameters
        self.load_mapping()
        self.load_parameters()
        self.load_conditions()
        self._resource_json_map = template["Resources"]
    except Exception:  # a template refused before anything changed (a missing parameter)
        before.restore(self)
        raise
    touched: list[str] = []

    def update(name: str) -> None:
        touched.append(name)
        self._parsed_resources[name] = _update_one(self, name, self._resource_json_map[name])

    try:
        for name in actions["Add"]:
            _ = self[name]  # moto creates a resource (and what it refers to) on lookup
        _raise_any(_in_passes(actions["Modify"], update))
    except Exception as error:
        failed = failed_resource(error)
        if failed is None or not before.resources:
            raise  # not a resource's, or a CREATE change set's: cfn_rollback rolls it back
        action = "create" if failed[0] in actions["Add"] else "update"
        undo_error = _undo(self, before, touched)
        raise StackUpdateError(*failed, action, failure_reason(error), undo_error) from error
    _clean_up(self, before, actions["Remove"])


def _clean_up(resource_map: Any, before: _Before, removed: list[str]) -> None:
    """CloudFormation's cleanup phase: delete the resources the template left out, except
    one whose ``DeletionPolicy`` is ``Retain`` and one whose physical resource a resource
    still in the stack holds (a named resource moved to another logical id). One that
    cannot be deleted stays out of the stack (CloudFormation reports it and the update
    still succeeds): it is listed in :data:`CLEANUP_FAILURES` on the resource map."""
    kept = {
        _physical_id(resource)
        for name, resource in resource_map._parsed_resources.items()
        if name in resource_map._resource_json_map
    } - {None}
    current = resource_map._parsed_resources

    def remove(name: str) -> None:
        if name not in current:
            return
        if before.resources[name].get("DeletionPolicy") != "Retain" and (
            _physical_id(current[name]) not in kept
        ):
            resource_map._delete_resource(current[name], before.resources[name])
        del current[name]

    failures = _in_passes(removed, remove)
    for name, _ in failures:
        current.pop(name, None)
    reports = [
        (name, str(before.resources[name].get("Type")), failure_reason(error))
        for name, error in failures
    ]
    setattr(resource_map, CLEANUP_FAILURES, reports)


def _physical_id(resource: Any) -> str | None:
    try:
        value = resource.physical_resource_id
    except Exception:  # a mapping or parameter value, or a model without one
        return None
    return str(value) if value is not None else None


def _undo(resource_map: Any, before: _Before, touched: list[str]) -> str:
    """Put the resources the update changed back as they were, then delete the ones it
    created (last created first, in passes); the error that stopped it ("" when it
    finished)."""
    current = dict(resource_map._parsed_resources)  # in creation order
    added = [
        name
        for name in current
        if name in resource_map._resource_json_map and name not in before.resources
    ]
    added_json = dict(resource_map._resource_json_map)
    try:
        before.restore(resource_map)
        for name in dict.fromkeys(touched):
            resource_map._parsed_resources[name] = current[name]  # what the backend holds now
            resource_map._parsed_resources[name] = _update_one(
                resource_map, name, before.resources[name]
            )

        def delete(name: str) -> None:
            resource_map._delete_resource(current[name], added_json[name])

        _raise_any(_in_passes(list(reversed(added)), delete))
    except Exception as error:
        return failure_reason(error)
    return ""


def end_rolled_back(stack: Any, failure: StackUpdateError) -> None:
    """The events and status of ``stack`` after ``failure``."""
    status = f"{failure.action.upper()}_FAILED"
    add_resource_event(stack, failure.logical_id, failure.resource_type, status, failure.reason)
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(
        "UPDATE_ROLLBACK_IN_PROGRESS",
        resource_status_reason=(
            f"The following resource(s) failed to {failure.action}: [{failure.logical_id}]. "
        ),
    )
    if failure.undo_error:
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=failure.undo_error)
        return
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def report_cleanup(stack: Any) -> None:
    """A ``DELETE_FAILED`` event for each resource the update's cleanup could not delete."""
    for logical_id, resource_type, reason in getattr(stack.resource_map, CLEANUP_FAILURES, []):
        add_resource_event(stack, logical_id, resource_type, "DELETE_FAILED", reason)
    setattr(stack.resource_map, CLEANUP_FAILURES, [])


def update_stack(self: Any, template: str, *args: Any, **kwargs: Any) -> None:
    """moto's ``Stack.update``; a rolled-back or refused update keeps the previous
    template."""
    previous = self.template
    try:
        _patches.original(cfn_models.Stack, _UPDATE)(self, template, *args, **kwargs)
    except Exception as error:
        self.template = previous
        self._parse_template()
        if not isinstance(error, StackUpdateError):
            raise
        end_rolled_back(self, error)
    else:
        report_cleanup(self)


def execute_change_set(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """moto's ``ExecuteChangeSet`` (with :mod:`constructs_sm.local.cfn_rollback`'s); an
    update that rolled back ends the change set ``EXECUTE_FAILED``."""
    change_set = executed_change_set(backend, change_set_name)
    try:
        original = _patches.original(cfn_models.CloudFormationBackend, _EXECUTE_CHANGE_SET)
        original(backend, change_set_name, stack_name)
    except StackUpdateError as failure:
        assert change_set is not None  # moto found it to execute it
        change_set.execution_status = "EXECUTE_FAILED"
        end_rolled_back(backend.stacks[change_set.stack_id], failure)
    else:
        if change_set is not None:
            report_cleanup(backend.stacks[change_set.stack_id])


def check_integration_points() -> None:
    """Fail loudly if what this module patches moved in moto."""
    problems = []
    resource_update = _patches.original(cfn_parsing.ResourceMap, _UPDATE)
    if list(inspect.signature(resource_update).parameters) != ["self", "template", "parameters"]:
        problems.append("ResourceMap.update")
    source = inspect.getsource(resource_update)
    for needed in ("build_resource_diff", "load_conditions", "_delete_resource", '"Modify"'):
        if needed not in source:
            problems.append(f"ResourceMap.update no longer uses {needed}")
    if "self.resource_map.update(" not in inspect.getsource(
        _patches.original(cfn_models.Stack, _UPDATE)
    ):
        problems.append("Stack.update no longer calls ResourceMap.update")
    if "resource_map.update(" not in inspect.getsource(cfn_models.ChangeSet.apply):
        problems.append("ChangeSet.apply no longer calls ResourceMap.update")
    update_one = list(inspect.signature(_MOTO_UPDATE_ONE).parameters)
    if update_one[:3] != ["logical_id", "resource_json", "resources_map"]:
        problems.append("cloudformation.parsing.parse_and_update_resource")
    require_unmoved(problems, "its CloudFormation stack updates changed")


def install() -> None:
    """Roll back a stack update whose resource fails (idempotent). Install it after
    :mod:`constructs_sm.local.cfn_rollback` (whose ExecuteChangeSet it wraps)."""
    check_integration_points()
    if _patches:
        return
    _patches.replace(cfn_parsing.ResourceMap, _UPDATE, update_resources)
    _patches.replace(cfn_models.Stack, _UPDATE, update_stack)
    _patches.replace(cfn_models.CloudFormationBackend, _EXECUTE_CHANGE_SET, execute_change_set)


def uninstall() -> None:
    """Undo :func:`install`."""
    _patches.restore()

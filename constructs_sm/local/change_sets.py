"""Change sets found, described, deleted and executed as CloudFormation does.

The ``cdk`` CLI deploys every stack through a change set named ``cdk-deploy-change-set``.
Before it updates a stack that exists, it deletes that change set "if it exists" and
waits until DescribeChangeSet answers ``ChangeSetNotFoundException``; only that error
counts as gone (aws-cdk's ``cleanupOldChangeset`` and ``ChangeSetDescriber.waitForGone``).
moto 5.2.5 breaks that second deploy, so a changed app re-run in a kept emulator
(``run --endpoint``) failed with the CLI:

- DescribeChangeSet of a change set that does not exist answers ``ValidationError``
  "Stack with id <change set> does not exist". AWS answers ``ChangeSetNotFound`` (HTTP
  404, "ChangeSet [<name>] does not exist"; ``ChangeSetNotFoundException`` in the
  CloudFormation API model, which botocore and the AWS SDKs carry).
- DeleteChangeSet of one that does not exist fails with a server error (an unbound
  variable in moto). On AWS it succeeds with no output when the stack exists (measured on
  an account, github.com/ministackorg/ministack pull 1625; "returns a 200 regardless",
  github.com/Sceptre/sceptre pull 449); a stack that does not exist is a
  ``ValidationError`` "Stack [<name>] does not exist" (Sceptre issue 1483 quotes it).
- A change set name is looked up among every stack's change sets, the last one of that
  name winning. On AWS a name is unique within its stack only: the ``StackName``
  argument says which (without it, the name must be the change set's ARN).
- A parameter given ``UsePreviousValue`` (the CLI gives it for ``BootstrapVersion``)
  takes the value the stack last *resolved*: for an ``AWS::SSM::Parameter::Value<...>``
  parameter that is the SSM parameter's value ("21"), which moto then looks up as an SSM
  parameter name and fails. On AWS the previous value is the one given (the SSM
  parameter's name, resolved again): "UsePreviousValue: During a stack update, use the
  existing parameter value that the stack is using for a given parameter key"
  (``Parameter`` data type, API reference), the stack's ``ParameterValue``, not its
  ``ResolvedValue``. moto also never records the values an executed UPDATE change set
  gave.
- ListChangeSets lists every stack's change sets; on AWS, the active ones of its
  ``StackName`` (a required argument).
- An executed change set stays findable by its name. On AWS, once executed it is found
  by its ARN only: by name DescribeChangeSet answers ``ChangeSetNotFound`` (shown with
  the AWS CLI in github.com/guardian/riff-raff pull 672).
- A deleted stack's change sets stay (and executing one is a server error). On AWS
  "after a stack is deleted, change sets associated with the stack are deleted".
- ExecuteChangeSet keeps the stack's other change sets. On AWS, "when you execute a
  change set, CloudFormation deletes all other change sets associated with the stack
  because they aren't valid for the updated stack" (ExecuteChangeSet, API reference).

:func:`install` wraps moto's CreateChangeSet, DescribeChangeSet, DeleteChangeSet,
ExecuteChangeSet and ListChangeSets handlers to address change sets by stack, answer as
above, give previous parameter values as given, and drop the other change sets of a stack
whose change set was executed (recording the parameter values it gave).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final

from moto.cloudformation import models as cfn_models
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.core.responses import ActionResult, EmptyResult

from constructs_sm.local.extra import Patches, require_unmoved

_RESPONSE: Final = cfn_responses.CloudFormationResponse
_patches = Patches()
#: moto's own (read by the check; constructs_sm.local.cfn_outputs wraps it).
_MOTO_CREATE_CHANGE_SET: Final = cfn_models.CloudFormationBackend.create_change_set


class ChangeSetNotFound(CloudFormationError):  # noqa: N818 (AWS's name)
    """The error AWS answers for a change set that does not exist (HTTP 404)."""

    code = "ChangeSetNotFoundException"

    def __init__(self, name: str) -> None:
        super().__init__(f"ChangeSet [{name}] does not exist")


#: Set on a change set once executed: found by its ARN only.
_EXECUTED: Final = "_csm_executed"


def live_stack(backend: Any, name_or_id: str | None) -> Any | None:
    """The stack of that name or id that is not deleted, if any."""
    for stack in backend.stacks.values():
        if name_or_id in (stack.name, stack.stack_id):
            return stack
    return None


def _stack(backend: Any, name_or_id: str) -> Any:
    """The live stack of that name or id; ``ValidationError`` as AWS words it if none."""
    stack = live_stack(backend, name_or_id)
    if stack is None:
        raise ValidationError(message=f"Stack [{name_or_id}] does not exist")
    return stack


def _active(backend: Any, stack: Any) -> list[Any]:
    """``stack``'s change sets that can be found by name (not executed)."""
    return [
        change_set
        for change_set in backend.change_sets.values()
        if change_set.stack_id == stack.stack_id and not getattr(change_set, _EXECUTED, False)
    ]


def find(backend: Any, name: str, stack_name: str | None) -> Any | None:
    """The change set ``name`` (a name within ``stack_name``, or an ARN), or ``None``."""
    if name.startswith("arn:"):
        change_set = backend.change_sets.get(name)
        if change_set is None or change_set.stack_id not in backend.stacks:
            return None  # its stack was deleted: so was it
        if stack_name:
            stack = _stack(backend, stack_name)
            return change_set if change_set.stack_id == stack.stack_id else None
        return change_set
    if not stack_name:
        raise ValidationError(
            message="StackName must be specified if ChangeSetName is not specified as an ARN."
        )
    stack = _stack(backend, stack_name)
    return next((c for c in _active(backend, stack) if c.change_set_name == name), None)


def previous_value(stack: Any, key: str) -> Any:
    """The value ``stack`` was last given for parameter ``key`` (its default if none)."""
    given = stack.parameters or {}
    if key in given:
        return given[key]
    # moto leaves template_dict as it was before an executed change set: parse the
    # template the stack holds now (YAML or JSON, as moto does).
    text = stack.template
    template = cfn_models.Stack.parse_template(text) if isinstance(text, str) and text else {}
    parameters = (template if isinstance(template, dict) else {}).get("Parameters") or {}
    return (parameters.get(key) or {}).get("Default")


def create_change_set(self: Any) -> Any:
    """CreateChangeSet, each ``UsePreviousValue`` parameter given the value the stack was
    last given for it."""
    stack = live_stack(self.cloudformation_backend, self._get_param("StackName"))
    if stack is None:
        return _patches.original(_RESPONSE, "create_change_set")(self)
    read = self._get_param

    def with_previous_values(name: str, if_none: Any = None) -> Any:
        value = read(name, if_none)
        if name != "Parameters" or not isinstance(value, list):
            return value
        return [
            {
                "ParameterKey": p["ParameterKey"],
                "ParameterValue": previous_value(stack, p["ParameterKey"]),
            }
            if p.get("UsePreviousValue") in (True, "true")
            else p
            for p in value
        ]

    self._get_param = with_previous_values
    try:
        return _patches.original(_RESPONSE, "create_change_set")(self)
    finally:
        del self._get_param


def describe_change_set(self: Any) -> ActionResult:
    """DescribeChangeSet: ``ChangeSetNotFound`` for one the stack does not have."""
    name = self._get_param("ChangeSetName")
    change_set = find(self.cloudformation_backend, name, self._get_param("StackName"))
    if change_set is None:
        raise ChangeSetNotFound(name)
    return ActionResult(change_set)


def delete_change_set(self: Any) -> EmptyResult:
    """DeleteChangeSet: succeeds, with nothing to delete, for one the stack does not have."""
    backend = self.cloudformation_backend
    change_set = find(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
    if change_set is not None:
        del backend.change_sets[change_set.change_set_id]
    return EmptyResult()


def execute_change_set(self: Any) -> EmptyResult:
    """ExecuteChangeSet of the stack's own change set; once it succeeded, the stack's other
    change sets are deleted and it is found by its ARN only."""
    backend = self.cloudformation_backend
    name = self._get_param("ChangeSetName")
    stack_name = self._get_param("StackName")
    change_set = find(backend, name, stack_name)
    if change_set is None:
        raise ChangeSetNotFound(name)
    backend.execute_change_set(change_set_name=change_set.change_set_id, stack_name=stack_name)
    if change_set.execution_status != "EXECUTE_COMPLETE":
        return EmptyResult()  # rolled back (constructs_sm.local.cfn_rollback): left as it is
    if change_set.change_set_type == "UPDATE":
        change_set.stack.parameters = dict(change_set.parameters or {})
    for other in [c for c in backend.change_sets.values() if c.stack_id == change_set.stack_id]:
        if other is not change_set:
            del backend.change_sets[other.change_set_id]
    setattr(change_set, _EXECUTED, True)
    return EmptyResult()


def list_change_sets(self: Any) -> ActionResult:
    """ListChangeSets: the change sets of its ``StackName`` only."""
    backend = self.cloudformation_backend
    stack = _stack(backend, self._get_param("StackName") or "")
    return ActionResult({"Summaries": _active(backend, stack)})


#: moto's handlers this module replaces, and their replacements.
_REPLACEMENTS: Final[dict[str, Callable[[Any], Any]]] = {
    "create_change_set": create_change_set,
    "describe_change_set": describe_change_set,
    "delete_change_set": delete_change_set,
    "execute_change_set": execute_change_set,
    "list_change_sets": list_change_sets,
}


def check_integration_points() -> None:
    """Fail loudly if the handlers or the backend's change sets moved in moto."""
    problems = []
    for handler in _REPLACEMENTS:
        original = _patches.original(_RESPONSE, handler)
        if original is None or list(inspect.signature(original).parameters) != ["self"]:
            problems.append(f"CloudFormationResponse.{handler}")
    source = inspect.getsource(_MOTO_CREATE_CHANGE_SET)
    if "self.change_sets[change_set_id] = " not in source:
        problems.append("CloudFormationBackend.change_sets is no longer keyed by change set id")
    require_unmoved(problems, "its CloudFormation change sets changed")


def install() -> None:
    """Address change sets as CloudFormation does (idempotent)."""
    check_integration_points()
    if _patches:
        return
    for handler, replacement in _REPLACEMENTS.items():
        _patches.replace(_RESPONSE, handler, replacement)


def uninstall() -> None:
    """Undo :func:`install`."""
    _patches.restore()

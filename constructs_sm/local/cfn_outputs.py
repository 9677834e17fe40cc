"""Stack outputs and exports as CloudFormation keeps them, however the stack was deployed.

moto 5.2.5 registers a stack's exports in CreateStack only. A stack the ``cdk`` CLI
deploys (CreateChangeSet, then ExecuteChangeSet: the engine's default path once a CLI is
found) got neither outputs nor exports (its output map was made from the empty template
of the change set's new stack, and never again), and its resources could not read
another stack's exports (moto gave the new stack an empty list of them): an app of two
stacks, the second importing a value of the first (what CDK writes for any cross-stack
reference), failed offline with ``No export named ...``. An update, by either path, kept
the exports' values of the stack's creation.

On AWS, a stack's outputs and exports are those of its current template, whatever
deployed it, and ``Fn::ImportValue`` reads any export of the account and region
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html);
export names are unique in a region. :func:`install` gives moto that: a change set's new
stack reads the region's exports, and a stack that ends ``CREATE_COMPLETE`` or
``UPDATE_COMPLETE`` through a change set or UpdateStack has its outputs made again and
its exports replace the ones it had. An export name another stack exports is refused with
CloudFormation's ValidationError before anything is deployed (a literal name; one made by
an intrinsic function, once it resolves), and a stack that rolled back on its creation
exports nothing (moto kept its exports).

Not covered: CloudFormation refuses to remove or change an export another stack imports;
the engine lets the update go on.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Final

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.exceptions import ValidationError

from constructs_sm.local.cfn_rollback import executed_change_set
from constructs_sm.local.extra import Patches, require_unmoved

_BACKEND: Final = cfn_models.CloudFormationBackend
_CREATE_CHANGE_SET: Final = "create_change_set"
_EXECUTE_CHANGE_SET: Final = "execute_change_set"
_UPDATE_STACK: Final = "update_stack"
_CREATE_STACK: Final = "create_stack"
#: The statuses after which a stack's outputs are its current template's.
_DEPLOYED: Final = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
_patches = Patches()


def sync_exports(backend: Any, stack: Any) -> None:
    """Make ``stack``'s outputs from its template again; its exports replace the ones it
    had in the region.

    :raises ValidationError: for an export name another stack exports (the stack keeps
        the outputs it had).
    """
    previous, stack.output_map = stack.output_map, stack._create_output_map()
    exports = stack.exports
    try:
        _refuse_taken(backend, stack.stack_id, sorted(export.name for export in exports))
    except ValidationError:
        stack.output_map = previous
        raise
    for name in _exported_by(backend, stack):
        del backend.exports[name]
    for export in exports:
        backend.exports[export.name] = export


def _exported_by(backend: Any, stack: Any) -> list[str]:
    """The names of the region's exports ``stack`` exports."""
    return [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]


def refuse_taken_exports(backend: Any, stack_id: str, template: Mapping[str, Any]) -> None:
    """Before a stack is deployed: an export name of ``template`` (a literal one) that
    another stack exports is CloudFormation's ValidationError, and nothing is changed."""
    outputs = template.get("Outputs") or {}
    names = [
        output["Export"]["Name"]
        for output in outputs.values()
        if isinstance(output, dict)
        and isinstance(output.get("Export"), dict)
        and isinstance(output["Export"].get("Name"), str)
    ]
    _refuse_taken(backend, stack_id, names)


def _refuse_taken(backend: Any, stack_id: str, names: Iterable[str]) -> None:
    """CloudFormation's ValidationError for the first of ``names`` another stack exports."""
    for name in names:
        exporter = backend.exports.get(name)
        if exporter is not None and exporter.exporting_stack_id != stack_id:
            raise ValidationError(
                stack_id,
                message=f"Export with name {name} is already exported by stack "
                f"{exporter.exporting_stack_id}",
            )


def create_stack(backend: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's (which registers the exports before it creates the resources); a stack that
    rolled back exports nothing (moto kept its exports, for any stack to import)."""
    stack = _patches.original(_BACKEND, _CREATE_STACK)(backend, *args, **kwargs)
    if stack.status == "ROLLBACK_COMPLETE":
        for name in _exported_by(backend, stack):
            del backend.exports[name]
        stack.output_map = cfn_parsing.OutputMap(stack.resource_map, {}, stack.stack_id)
    return stack


def create_change_set(backend: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    """moto's; the change set's stack (new or not) reads the region's exports."""
    change_set_id, stack_id = _patches.original(_BACKEND, _CREATE_CHANGE_SET)(
        backend, *args, **kwargs
    )
    stack = backend.stacks[stack_id]
    stack.cross_stack_resources = backend.exports
    stack.resource_map.cross_stack_resources = backend.exports
    return change_set_id, stack_id


def execute_change_set(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """moto's (with the engine's rollbacks); a stack it deployed has its outputs and
    exports, and one whose export name another stack exports is refused before."""
    change_set = executed_change_set(backend, change_set_name)
    if change_set is not None:
        refuse_taken_exports(backend, change_set.stack_id, change_set.template_dict or {})
    _patches.original(_BACKEND, _EXECUTE_CHANGE_SET)(backend, change_set_name, stack_name)
    if change_set is not None and change_set.execution_status == "EXECUTE_COMPLETE":
        stack = backend.stacks[change_set.stack_id]
        if stack.status in _DEPLOYED:
            stack._parse_template()  # moto set the change set's template, not its dict
            sync_exports(backend, stack)


def update_stack(backend: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's (with the engine's rollback); an updated stack's exports are current, and an
    export name another stack exports is refused before."""
    original = _patches.original(_BACKEND, _UPDATE_STACK)
    arguments = inspect.signature(original).bind(backend, *args, **kwargs).arguments
    target = backend.get_stack(arguments["name"])
    refuse_taken_exports(
        backend, target.stack_id, cfn_models.Stack.parse_template(arguments["template"]) or {}
    )
    stack = original(backend, *args, **kwargs)
    if stack.status in _DEPLOYED:
        sync_exports(backend, stack)
    return stack


def check_integration_points() -> None:
    """Fail loudly if what this module patches moved in moto."""
    problems = []
    for name in (_CREATE_CHANGE_SET, _EXECUTE_CHANGE_SET, _UPDATE_STACK, _CREATE_STACK):
        if _patches.original(_BACKEND, name) is None:
            problems.append(f"CloudFormationBackend.{name}")
    if "cross_stack_resources" not in inspect.signature(cfn_models.Stack.__init__).parameters:
        problems.append("Stack(cross_stack_resources=...)")
    for needed in ("def _create_output_map", "def _parse_template", "def exports"):
        if needed not in inspect.getsource(cfn_models.Stack):
            problems.append(f"Stack: {needed}")
    if "self.exports[export.name] = export" not in inspect.getsource(_BACKEND.create_stack):
        problems.append("CloudFormationBackend.exports is no longer keyed by export name")
    require_unmoved(problems, "its CloudFormation outputs and exports changed")


def install() -> None:
    """Keep outputs and exports as CloudFormation does (idempotent). Install it after the
    rollbacks (:mod:`constructs_sm.local.cfn_update_rollback`), whose ends it reads."""
    check_integration_points()
    if _patches:
        return
    _patches.replace(_BACKEND, _CREATE_CHANGE_SET, create_change_set)
    _patches.replace(_BACKEND, _EXECUTE_CHANGE_SET, execute_change_set)
    _patches.replace(_BACKEND, _UPDATE_STACK, update_stack)
    _patches.replace(_BACKEND, _CREATE_STACK, create_stack)


def uninstall() -> None:
    """Undo :func:`install`."""
    _patches.restore()

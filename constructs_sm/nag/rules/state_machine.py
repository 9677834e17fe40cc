"""State-machine rules: the state machines that run processing jobs.

A definition readable at synth (else no other rule can see the jobs), the STANDARD type,
execution logging at level ALL without execution data, and X-Ray tracing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from constructs_sm.nag.acknowledge import flatten_reference
from constructs_sm.nag.rules.base import STATE_MACHINE, Check, Findings, Rule, state_finding, whole
from constructs_sm.nag.template import CfnModelResource, StackModel
from constructs_sm.nag.values import as_list, static, truthy


def _machine(check: Callable[[Mapping[str, Any]], str | None]) -> Check:
    """Apply a property check to state machines that run processing jobs."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        if resource.logical_id not in model.processing_machines():
            return {}
        return whole(check(resource.properties))

    return checked


def _machine_readable(resource: CfnModelResource, model: StackModel) -> Findings:
    definition = model.definition(resource.logical_id)
    if definition is None:
        return whole(
            "the definition cannot be read at synth time (not JSON, or in S3 but not a file "
            "asset of the cloud assembly)"
        )
    return {
        state_finding(name): f"state '{name}': {problem}"
        for name, problem in definition.unreadable_tasks()
    }


DEFINITION_READABLE: Final = Rule(
    name="StateMachineDefinitionReadable",
    resource_types=STATE_MACHINE,
    info=(
        "The state machine's definition, or the Resource of one of its tasks, cannot be "
        "read at synth time."
    ),
    explanation="The processing-job rules need to see the definition.",
    fix=(
        "Define the state machine with a DefinitionString (DefinitionBody.from_chainable or "
        "from_string) or a file asset of the app (DefinitionBody.from_file, a "
        "DefinitionS3Location whose key is the asset's), not an object uploaded otherwise; "
        "give every Task a Resource ARN readable at synth (a literal or a "
        "DefinitionSubstitutions value built from pseudo parameters)."
    ),
    check=_machine_readable,
)


def _machine_standard(properties: Mapping[str, Any]) -> str | None:
    kind = properties.get("StateMachineType", "STANDARD")
    return None if kind == "STANDARD" else f"the type is {kind}"


STANDARD: Final = Rule(
    name="StateMachineStandard",
    resource_types=STATE_MACHINE,
    info="A state machine running processing jobs is not of type STANDARD.",
    explanation="Express workflows cannot run .sync jobs and keep no execution history.",
    fix="Set StateMachineType STANDARD.",
    check=_machine(_machine_standard),
)


def _machine_log_all(properties: Mapping[str, Any]) -> str | None:
    logging = properties.get("LoggingConfiguration")
    if not isinstance(logging, dict) or not as_list(logging.get("Destinations")):
        return "execution logging is off"
    level = logging.get("Level", "OFF")
    return None if level == "ALL" else f"the log level is {level}"


LOG_ALL: Final = Rule(
    name="StateMachineLogAll",
    resource_types=STATE_MACHINE,
    info="A state machine running processing jobs does not log all events.",
    explanation="Execution events at level ALL are the audit trail of every run.",
    fix="Set LoggingConfiguration Level ALL with a CloudWatch Logs destination.",
    check=_machine(_machine_log_all),
)


def _machine_no_execution_data(properties: Mapping[str, Any]) -> str | None:
    logging = properties.get("LoggingConfiguration")
    value = logging.get("IncludeExecutionData") if isinstance(logging, dict) else None
    if value is None or value is False or (isinstance(value, str) and value.lower() == "false"):
        return None
    if truthy(value):
        return "execution data (inputs, outputs, parameters) is included in the logs"
    return f"IncludeExecutionData is not a literal false ({flatten_reference(value)})"


LOG_NO_EXECUTION_DATA: Final = Rule(
    name="StateMachineLogNoExecutionData",
    resource_types=STATE_MACHINE,
    info=(
        "A state machine running processing jobs logs execution data (or may: "
        "IncludeExecutionData is not a literal false)."
    ),
    explanation="Execution inputs and outputs may hold data that must not end up in log groups.",
    fix="Set LoggingConfiguration IncludeExecutionData false (a literal, not a parameter).",
    check=_machine(_machine_no_execution_data),
)


def _machine_tracing(properties: Mapping[str, Any]) -> str | None:
    enabled = static(properties, "TracingConfiguration", "Enabled")
    return None if truthy(enabled) else "X-Ray tracing is off"


TRACING: Final = Rule(
    name="StateMachineTracing",
    resource_types=STATE_MACHINE,
    info="A state machine running processing jobs has X-Ray tracing off.",
    explanation="Traces show where a run spends its time and where it failed.",
    fix="Set TracingConfiguration Enabled true (tracing_enabled=True).",
    check=_machine(_machine_tracing),
)

"""State-machine rules (``constructs_sm.nag.rules.state_machine``) on hand-written
templates: a readable definition, STANDARD, logging ALL without execution data, tracing;
a state machine that runs no processing job is not judged."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from constructs_sm.nag.definition import parse_definition
from tests.nag.templates import Json, Pipeline, findings


def _logging(**changes: object) -> Callable[[Pipeline], None]:
    return lambda p: p.machine["LoggingConfiguration"].update(changes)


#: Change to the compliant pipeline -> the findings on its state machine.
CASES: dict[str, tuple[Callable[[Pipeline], None], dict[str, list[str]]]] = {
    "Compliant": (lambda p: None, {}),
    "Express": (
        lambda p: p.machine.update(StateMachineType="EXPRESS"),
        {"StateMachineStandard": [""]},
    ),
    "TypeOmitted": (lambda p: p.machine.pop("StateMachineType"), {}),
    "LogErrorsOnly": (_logging(Level="ERROR"), {"StateMachineLogAll": [""]}),
    "LogWithoutDestination": (_logging(Destinations=[]), {"StateMachineLogAll": [""]}),
    "NoLogging": (
        lambda p: p.machine.pop("LoggingConfiguration"),
        {"StateMachineLogAll": [""]},
    ),
    "LogsExecutionData": (
        _logging(IncludeExecutionData=True),
        {"StateMachineLogNoExecutionData": [""]},
    ),
    "ExecutionDataFromAParameter": (
        _logging(IncludeExecutionData={"Ref": "IncludeData"}),
        {"StateMachineLogNoExecutionData": [""]},
    ),
    "ExecutionDataFalseAsString": (_logging(IncludeExecutionData="false"), {}),
    "NoTracing": (
        lambda p: p.machine.pop("TracingConfiguration"),
        {"StateMachineTracing": [""]},
    ),
    "TracingOff": (
        lambda p: p.machine.update(TracingConfiguration={"Enabled": False}),
        {"StateMachineTracing": [""]},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_change_makes_exactly_its_rule_fire(name: str) -> None:
    change, expected = CASES[name]
    pipeline = Pipeline()
    change(pipeline)
    assert pipeline.findings().get("M", {}) == expected


def test_a_definition_in_s3_cannot_be_read() -> None:
    resources = Pipeline().resources()
    properties = resources["M"]["Properties"]
    del properties["DefinitionString"]
    properties["DefinitionS3Location"] = {"Bucket": "b", "Key": "k"}
    assert findings(resources) == {"M": {"StateMachineDefinitionReadable": [""]}}


def test_a_state_machine_without_processing_jobs_is_not_judged() -> None:
    definition = {
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Wait", "Seconds": 1, "End": True}},
    }
    machine: Json = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"StateMachineType": "EXPRESS", "DefinitionString": json.dumps(definition)},
    }
    assert findings({"Other": machine}) == {}


def test_every_state_machine_rule_has_a_failing_case() -> None:
    fired = {rule for _, expected in CASES.values() for rule in expected}
    fired.add("StateMachineDefinitionReadable")  # test_a_definition_in_s3_cannot_be_read
    assert fired == {
        "StateMachineDefinitionReadable",
        "StateMachineStandard",
        "StateMachineLogAll",
        "StateMachineLogNoExecutionData",
        "StateMachineTracing",
    }


def test_task_resources_from_definition_substitutions() -> None:
    """A Resource substituted from DefinitionSubstitutions is read; a Resource that cannot
    be read is reported (StateMachineDefinitionReadable, per state)."""
    partition = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":states:::sagemaker:createProcessingJob.sync"],
        ]
    }
    definition = {
        "StartAt": "Job",
        "States": {
            "Job": {"Type": "Task", "Resource": "${JobResource}", "Next": "Hidden"},
            "Hidden": {"Type": "Task", "Resource": "${FromParameter}", "Next": "Fn"},
            "Fn": {"Type": "Task", "Resource": "${Function}", "Next": "Invoke"},
            "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True},
        },
    }
    properties = {
        "DefinitionString": json.dumps(definition),
        "DefinitionSubstitutions": {
            "JobResource": partition,
            "FromParameter": {"Ref": "ResourceParameter"},
            "Function": {"Fn::GetAtt": ["Fn", "Arn"]},
        },
    }
    parsed = parse_definition(properties)
    assert parsed is not None
    assert [name for name, _ in parsed.processing_tasks()] == ["Job"]
    assert [name for name, _ in parsed.unreadable_tasks()] == ["Hidden"]
    found = findings({"M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": properties}})
    assert found["M"]["StateMachineDefinitionReadable"] == ["Hidden"]

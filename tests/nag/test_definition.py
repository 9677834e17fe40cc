"""State-machine definitions as the rules read them (``constructs_sm.nag.definition``):
CloudFormation references in and out of strings, substitutions, nested states, the S3
locations of processing jobs and the expressions their URIs are built from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs_sm.nag.definition import S3Location, logical_ids, parse_definition

ROLE_ARN = {"Fn::GetAtt": ["JobRole5C3DD1A9", "Arn"]}


def test_parse_definition_substitutes_references_in_and_out_of_strings() -> None:
    document = {
        "StartAt": "Job",
        "States": {
            "Job": {
                "Type": "Task",
                "Resource": "arn:@PARTITION@:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    "RoleArn": "@ROLE@",
                    "StoppingCondition": {"MaxRuntimeInSeconds": "@RUNTIME@"},
                    "Out": "s3://${Bucket}/runs/",
                },
                "End": True,
            }
        },
    }
    text = json.dumps(document).replace('"@RUNTIME@"', "@RUNTIME@")
    parts: list[Any] = []
    for name, value in {
        "PARTITION": {"Ref": "AWS::Partition"},
        "ROLE": ROLE_ARN,
        "RUNTIME": {"Ref": "Runtime"},
    }.items():
        before, _, text = text.partition(f"@{name}@")
        parts += [before, value]
    properties = {
        "DefinitionString": {"Fn::Join": ["", [*parts, text]]},
        "DefinitionSubstitutions": {"Bucket": {"Ref": "Bucket83908E77"}},
    }
    definition = parse_definition(properties)
    assert definition is not None
    [(name, params)] = definition.processing_tasks()
    assert name == "Job"
    assert definition.reference_id(params["RoleArn"]) == "JobRole5C3DD1A9"
    runtime = params["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert definition.reference_id(runtime) == "Runtime"  # a number token became a marker
    assert definition.referenced_ids() == {"JobRole5C3DD1A9", "Runtime", "Bucket83908E77"}


@pytest.mark.parametrize(
    "properties",
    [
        {"DefinitionS3Location": {"Bucket": "b", "Key": "k"}},
        {"DefinitionString": "{not json"},
        {"DefinitionString": {"Fn::Join": ["", ['{"States": ', {"Ref": "X"}]]}},
        {"DefinitionString": "[1, 2]"},
    ],
)
def test_unreadable_definitions_are_none(properties: dict[str, Any]) -> None:
    assert parse_definition(properties) is None


def test_definition_object_form_and_nested_states() -> None:
    inner = {
        "Type": "Task",
        "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::x"]]},
    }
    job = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:createProcessingJob"}
    definition = parse_definition(
        {
            "Definition": {
                "StartAt": "P",
                "States": {
                    "P": {
                        "Type": "Parallel",
                        "Branches": [
                            {"StartAt": "J", "States": {"J": job}},
                            {
                                "StartAt": "M",
                                "States": {
                                    "M": {
                                        "Type": "Map",
                                        "ItemProcessor": {"StartAt": "I", "States": {"I": inner}},
                                    }
                                },
                            },
                        ],
                    }
                },
            }
        }
    )
    assert definition is not None
    assert [name for name, _ in definition.states()] == ["P", "J", "M", "I"]
    assert [name for name, _ in definition.processing_tasks()] == ["J"]


def _job(parameters: dict[str, Any], **states: Any) -> dict[str, Any]:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": parameters,
        "End": True,
    }
    return {
        "DefinitionString": json.dumps({"StartAt": "Job", "States": {"Job": task, **states}}),
        "DefinitionSubstitutions": {"Bucket": {"Ref": "B"}, "Role": ROLE_ARN},
    }


def test_locations_of_inputs_and_outputs_static_traced_and_unknown() -> None:
    """A literal URI, a ``States.Format`` of a field another state sets (the context
    object becomes ``*``), and a URI from the execution input (unknown: None)."""
    init = {
        "Type": "Pass",
        "Parameters": {"root.$": "States.Format('Churn/{}', $$.Execution.Name)"},
        "Next": "Job",
    }
    parameters = {
        "RoleArn": "${Role}",
        "ProcessingInputs": [
            {"InputName": "a", "S3Input": {"S3Uri": "s3://${Bucket}/data/"}},
            {"InputName": "b", "S3Input": {"S3Uri.$": "$$.Execution.Input.uri"}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {"S3Output": {"S3Uri.$": "States.Format('s3://${Bucket}/{}/out/', $.root)"}}
            ]
        },
    }
    definition = parse_definition(_job(parameters, Init=init))
    assert definition is not None
    assert definition.locations() == [
        S3Location("JobRole5C3DD1A9", False, "<B>", "data/"),
        S3Location("JobRole5C3DD1A9", False, None, None),
        S3Location("JobRole5C3DD1A9", True, "<B>", "Churn/*/out/"),
    ]


def test_dynamic_inputs_and_outputs_are_unknown_locations() -> None:
    parameters = {"ProcessingInputs.$": "$.inputs", "ProcessingOutputConfig.$": "$.outputs"}
    definition = parse_definition(_job(parameters))
    assert definition is not None
    assert definition.locations() == [
        S3Location(None, False, None, None),
        S3Location(None, True, None, None),
    ]


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ({"Ref": "Bucket"}, {"Bucket"}),
        ({"Ref": "AWS::Region"}, set()),
        ({"Fn::GetAtt": ["Role", "Arn"]}, {"Role"}),
        ({"Fn::GetAtt": "Role.Arn"}, {"Role"}),
        ({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${Key.Arn}"}, {"Bucket", "Key"}),
        ({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Other"}}]}, {"Name", "Other"}),
        ({"Fn::Join": ["", [{"Ref": "A"}, "/", {"Fn::GetAtt": ["B", "Arn"]}]]}, {"A", "B"}),
        ("literal", set()),
    ],
)
def test_logical_ids_a_value_refers_to(value: Any, ids: set[str]) -> None:
    assert logical_ids(value) == ids

"""Pure parts of ``constructs_sm.nag``: definition parsing, finding ids, rules on templates,
and the ``acknowledge`` helper's validation."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs_sm.nag import (
    PACK_NAME,
    RULES,
    acknowledge,
    acknowledge_wildcards,
    check_stack,
    collect_acknowledgments,
    flatten_reference,
    model_from_template,
    parse_definition,
    skip_checkov,
)

BUCKET_ARN = {"Fn::GetAtt": ["Bucket83908E77", "Arn"]}
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


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("*", "*"),
        ({"Fn::Join": ["", [BUCKET_ARN, "/runs/*"]]}, "<Bucket83908E77.Arn>/runs/*"),
        (
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b/*"]]},
            "arn:<AWS::Partition>:s3:::b/*",
        ),
        ({"Fn::Sub": "arn:${AWS::Partition}:logs:*"}, "arn:<AWS::Partition>:logs:*"),
        ({"Fn::ImportValue": "Shared"}, "Shared"),
        ({"Fn::Select": [0, ["a"]]}, '{"Fn::Select":[0,["a"]]}'),
    ],
)
def test_flatten_reference_matches_cdk_nag_finding_ids(value: Any, text: str) -> None:
    assert flatten_reference(value) == text


def _template(statement: dict[str, Any], trust_conditions: bool = True) -> dict[str, Any]:
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if trust_conditions:
        trust["Condition"] = {
            "StringEquals": {"aws:SourceAccount": "1"},
            "ArnLike": {"aws:SourceArn": "a"},
        }
    return {
        "Resources": {
            "JobRole5C3DD1A9": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Statement": [trust]}},
            },
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {"Statement": [statement]},
                    "Roles": [{"Ref": "JobRole5C3DD1A9"}],
                },
            },
        }
    }


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/in/*"}, {}),
        (
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
            {"Policy": {"IamStepObjectAccess": ["Resource::arn:aws:s3:::b/*"]}},
        ),
        (
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {
                "Policy": {
                    "IamListBucketPrefix": [""],
                    "IamNoS3Wildcard": ["NotAction::iam:*"],
                    "IamStepObjectAccess": ["Resource::*"],
                }
            },
        ),
        ({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, {}),
        (
            {"Effect": "Allow", "Action": ["S3:*"], "Resource": "arn:aws:s3:::b/x/*"},
            {"Policy": {"IamNoS3Wildcard": ["Action::S3:*"], "IamListBucketPrefix": [""]}},
        ),
    ],
)
def test_iam_rules_on_a_template(statement: dict[str, Any], expected: dict[str, Any]) -> None:
    results = check_stack(model_from_template(_template(statement)))
    found = {
        lid: {rule.removeprefix(f"{PACK_NAME}-"): sorted(f) for rule, f in rules.items()}
        for lid, rules in results.items()
    }
    assert found == expected


def test_rule_ids_are_unique_and_documented() -> None:
    ids = [rule.rule_id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.info.endswith(".") and rule.fix and rule.explanation, rule.name


def test_acknowledge_records_reasoned_findings() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    acknowledge(stack, ["AwsSolutions-IAM5[Resource::<B.Arn>/p/*]"], "  scoped to one prefix  ")
    assert collect_acknowledgments(app) == [
        {
            "path": "Stack",
            "id": "AwsSolutions-IAM5[Resource::<B.Arn>/p/*]",
            "reason": "scoped to one prefix",
        }
    ]


@pytest.mark.parametrize(
    ("finding_ids", "reason", "error", "message"),
    [
        ([], "a good reason", ValueError, r"finding_ids must name at least one finding"),
        ([""], "a good reason", ValueError, r"must not hold empty ids, got ''"),
        (["X-Y"], "short", ValueError, r"reason must say why .* got 'short'"),
        ("X-Y", "a good reason", TypeError, r"finding_ids must be a list of ids, not a str"),
        ([3], "a good reason", TypeError, r"finding_ids must hold strings, got 3"),
    ],
)
def test_acknowledge_rejects_bad_arguments(
    finding_ids: Any, reason: str, error: type[Exception], message: str
) -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    with pytest.raises(error, match=message):
        acknowledge(stack, finding_ids, reason)
    assert collect_acknowledgments(stack) == []


def test_acknowledge_wildcards_names_the_iam5_finding_of_each_wildcard() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    bucket = s3.Bucket(stack, "Bucket")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    logical_id = stack.resolve(bucket.node.default_child.logical_id)  # type: ignore[union-attr]
    resources = [bucket.arn_for_objects("runs/*"), bucket.bucket_arn, "*"]
    acknowledge_wildcards(role, resources, "each resource is scoped as tightly as IAM allows")
    acknowledge_wildcards(iam.AnyPrincipal(), ["*"], "not a construct: no policy, no finding")
    assert [a["id"] for a in collect_acknowledgments(app)] == [
        "AwsSolutions-IAM5[Resource::*]",
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/runs/*]",
    ]


def test_skip_checkov_merges_reasoned_skips_into_the_metadata() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Bucket")
    skip_checkov(bucket, {"CKV_AWS_18": "first reason, long enough"})
    skip_checkov(bucket, {"CKV_AWS_21": "second reason, long enough"})
    skip_checkov(bucket, {"CKV_AWS_18": "replaced reason, long enough"})
    resource = bucket.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    assert resource.get_metadata("checkov") == {
        "skip": [
            {"id": "CKV_AWS_21", "comment": "second reason, long enough"},
            {"id": "CKV_AWS_18", "comment": "replaced reason, long enough"},
        ]
    }
    with pytest.raises(
        ValueError, match=r"every skip needs a reason, got none for \['CKV_AWS_1'\]"
    ):
        skip_checkov(bucket, {"CKV_AWS_1": " "})
    with pytest.raises(TypeError, match=r"resource must be a CfnResource or an L2 construct"):
        skip_checkov(stack, {"CKV_AWS_1": "a reason that is long enough"})

"""IAM policies as the rules read them (``constructs_sm.nag.policy``): statements of each
kind of IAM resource, actions allowed, positive conditions, S3 ARNs, attached roles and
trusted services."""

from __future__ import annotations

from typing import Any

import pytest

from constructs_sm.nag.policy import (
    allows,
    condition_values,
    policy_statements,
    restricts,
    roles_of_policy,
    s3_arn_parts,
    service_name,
    trusted_services,
)
from constructs_sm.nag.template import CfnModelResource, model_from_template
from tests.nag.templates import SOURCE, policy, role

STATEMENT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


@pytest.mark.parametrize(
    ("resource_type", "properties", "count"),
    [
        ("AWS::IAM::Policy", {"PolicyDocument": {"Statement": [STATEMENT]}}, 1),
        ("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": STATEMENT}}, 1),
        (
            "AWS::IAM::Role",
            {"Policies": [{"PolicyDocument": {"Statement": [STATEMENT, STATEMENT]}}]},
            2,
        ),
        ("AWS::IAM::User", {}, 0),
        ("AWS::IAM::Policy", {"PolicyDocument": {"Statement": ["not a statement"]}}, 0),
    ],
)
def test_policy_statements_of_every_kind_of_iam_resource(
    resource_type: str, properties: dict[str, Any], count: int
) -> None:
    resource = CfnModelResource("P", resource_type, properties, "P")
    assert policy_statements(resource) == [STATEMENT] * count


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "s3:Get*"}, True),
        ({"Effect": "Allow", "Action": ["S3:GETOBJECT"]}, True),
        ({"Effect": "Allow", "Action": "s3:PutObject"}, False),
        ({"Effect": "Deny", "Action": "s3:*"}, False),
        ({"Effect": "Allow", "NotAction": "iam:*"}, True),
        ({"Effect": "Allow", "NotAction": "s3:*"}, False),
    ],
)
def test_allows_reads_actions_and_not_actions(statement: dict[str, Any], expected: bool) -> None:
    assert allows(statement, ("s3:GetObject",)) is expected


def test_condition_values_count_positive_operators_only() -> None:
    statement = {
        "Condition": {
            "StringLike": {"S3:Prefix": ["a/*", "b/*"]},
            "StringEquals": {"s3:prefix": {"Fn::Sub": "${AWS::Partition}/c"}},
            "StringNotLike": {"s3:prefix": "secret/*"},
            "StringLikeIfExists": {"s3:prefix": "maybe/*"},
        }
    }
    assert condition_values(statement, "s3:prefix") == ["a/*", "b/*", "aws/c"]
    assert condition_values({}, "s3:prefix") == []
    assert restricts(["a/*"]) and not restricts(["*"]) and not restricts([])


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("*", ("*", "")),
        ("arn:aws:s3:::bucket", ("bucket", None)),
        ("arn:<AWS::Partition>:s3:::bucket/runs/*", ("bucket", "runs/*")),
        ("<Bucket.Arn>/runs/*", ("<Bucket>", "runs/*")),
        ("<Bucket.Arn>", ("<Bucket>", None)),
        ("arn:aws:logs:eu-west-1:1:log-group:x", None),
        ("<Function.Arn>", ("<Function>", None)),  # any ARN reference may be a bucket
        ("not-an-arn", None),
    ],
)
def test_s3_arn_parts(text: str, parts: tuple[str, str | None] | None) -> None:
    assert s3_arn_parts(text) == parts


@pytest.mark.parametrize(
    "value",
    [
        "sagemaker.amazonaws.com",
        "sagemaker.eu-west-1.amazonaws.com",
        "sagemaker.amazonaws.com.cn",
        {"Fn::Join": ["", ["sagemaker.", {"Ref": "AWS::URLSuffix"}]]},
        {"Fn::Sub": "sagemaker.${AWS::Region}.${AWS::URLSuffix}"},
    ],
)
def test_service_names_are_normalised(value: Any) -> None:
    assert service_name(value) == "sagemaker.amazonaws.com"


def test_roles_of_policies_and_trusted_services() -> None:
    model = model_from_template(
        {
            "Resources": {
                "R": role(SOURCE),
                "Lambda": role(None, "lambda.amazonaws.com"),
                "P": policy(STATEMENT),
                "RP": policy(STATEMENT, "AWS::IAM::RolePolicy"),
                "MP": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {}},
                "Attached": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {"ManagedPolicyArns": [{"Ref": "MP"}]},
                },
            }
        }
    )
    resources = model.resources
    assert roles_of_policy(resources["P"], model) == ["R"]
    assert roles_of_policy(resources["RP"], model) == ["R"]
    assert roles_of_policy(resources["MP"], model) == ["Attached"]
    assert roles_of_policy(resources["R"], model) == ["R"]
    assert list(trusted_services(resources["R"])) == ["sagemaker.amazonaws.com"]
    assert trusted_services(resources["Lambda"]) == {}

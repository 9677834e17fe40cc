"""IAM rules (``constructs_sm.nag.rules.iam``) on hand-written templates: trust
conditions, iam:PassRole, s3:ListBucket prefixes, s3:* and object access outside a step's
prefixes, for every kind of IAM resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.nag.templates import SOURCE, Pipeline, findings, policy, role


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
    assert findings({"R": role(SOURCE), "Policy": policy(statement)}) == expected


_URL_SUFFIX_SAGEMAKER = {"Fn::Join": ["", ["sagemaker.", {"Ref": "AWS::URLSuffix"}]]}
_TRUST = {"R": {"IamTrustConfusedDeputy": ["Service::sagemaker.amazonaws.com"]}}


@pytest.mark.parametrize(
    ("condition", "service", "expected"),
    [
        (SOURCE, "sagemaker.amazonaws.com", {}),
        (SOURCE, {"Fn::Sub": "sagemaker.${AWS::URLSuffix}"}, {}),
        (
            {"StringLike": {"aws:SourceAccount": "*", "aws:SourceArn": "*"}},
            "sagemaker.amazonaws.com",
            _TRUST,
        ),
        (
            {"StringNotEquals": {"aws:SourceAccount": "1"}, "ArnNotLike": {"aws:SourceArn": "a"}},
            "sagemaker.amazonaws.com",
            _TRUST,
        ),
        (
            {
                "StringEqualsIfExists": {"aws:SourceAccount": "1"},
                "ArnLikeIfExists": {"aws:SourceArn": "a"},
            },
            "sagemaker.amazonaws.com",
            _TRUST,
        ),
        ({"StringEquals": {"aws:SourceAccount": "1"}}, "sagemaker.amazonaws.com", _TRUST),
        (None, _URL_SUFFIX_SAGEMAKER, _TRUST),
        (None, {"Fn::Sub": "sagemaker.${AWS::URLSuffix}"}, _TRUST),
        (None, "lambda.amazonaws.com", {}),
    ],
)
def test_trust_conditions_must_constrain_the_source(
    condition: dict[str, Any] | None, service: Any, expected: dict[str, Any]
) -> None:
    """Only positive operators with a value that is not a wildcard count; the service
    principal is recognised in its ``${AWS::URLSuffix}`` forms."""
    assert findings({"R": role(condition, service)}) == expected


def _pass_role(condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
    if condition is not None:
        statement["Condition"] = condition
    return statement


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, False),
        (
            {"StringEquals": {"iam:PassedToService": {"Fn::Sub": "sagemaker.${AWS::URLSuffix}"}}},
            False,
        ),
        ({"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}}, False),
        ({"StringNotEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, True),
        ({"StringLike": {"iam:PassedToService": "*"}}, True),
        ({"StringEqualsIfExists": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, True),
        (
            {
                "StringEquals": {
                    "iam:PassedToService": ["sagemaker.amazonaws.com", "ec2.amazonaws.com"]
                }
            },
            True,
        ),
        (None, True),
    ],
)
def test_pass_role_must_name_sagemaker_or_step_functions(
    condition: dict[str, Any] | None, fires: bool
) -> None:
    found = findings({"R": role(SOURCE), "P": policy(_pass_role(condition))})
    assert found == ({"P": {"IamPassRoleService": [""]}} if fires else {})


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        ({"StringLike": {"s3:prefix": ["runs/*"]}}, False),
        ({"StringEquals": {"s3:prefix": ""}}, False),
        ({"StringLike": {"s3:prefix": "*"}}, True),
        ({"StringLike": {"s3:prefix": ["runs/*", "*/x"]}}, True),
        ({"StringLikeIfExists": {"s3:prefix": "runs/*"}}, True),
        ({"StringNotLike": {"s3:prefix": "secret/*"}}, True),
        ({"ForAllValues:StringLike": {"s3:prefix": "runs/*"}}, True),
    ],
)
def test_list_bucket_needs_a_positive_prefix_condition(
    condition: dict[str, Any], fires: bool
) -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::b",
        "Condition": condition,
    }
    found = findings({"R": role(SOURCE), "P": policy(statement)})
    assert found == ({"P": {"IamListBucketPrefix": [""]}} if fires else {})


def test_role_user_and_group_policies_are_checked() -> None:
    """AWS::IAM::RolePolicy (RoleName) is a policy of its role; User and Group policies
    are checked for their statements on channel buckets."""
    wildcard = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    found = findings({"R": role(SOURCE), "P": policy(wildcard, "AWS::IAM::RolePolicy")})
    assert found == {
        "P": {
            "IamListBucketPrefix": [""],
            "IamNoS3Wildcard": ["Action::s3:*"],
            "IamStepObjectAccess": ["Resource::*"],
        }
    }
    on_channel = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::channel/*"}
    resources = {
        "B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "channel"}},
        "R": role(SOURCE),
        "Read": policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::channel/in/*"}
        ),
        "U": {"Type": "AWS::IAM::User", "Properties": {}},
        "G": {"Type": "AWS::IAM::Group", "Properties": {}},
        "UP": policy(on_channel, "AWS::IAM::UserPolicy"),
        "GP": policy(on_channel, "AWS::IAM::GroupPolicy"),
        "Other": policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*"},
            "AWS::IAM::UserPolicy",
        ),
    }
    found = {k: v for k, v in findings(resources).items() if k != "B"}
    iam_findings = {"IamListBucketPrefix": [""], "IamNoS3Wildcard": ["Action::s3:*"]}
    assert found == {"UP": iam_findings, "GP": iam_findings}


def _grant(statement: dict[str, Any]) -> Callable[[Pipeline], None]:
    return lambda p: p.grants.append(statement)


def _objects(prefix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, f"/{prefix}"]]}


#: Change to the compliant pipeline -> the findings of its job role and grants.
CASES: dict[str, tuple[Callable[[Pipeline], None], dict[str, dict[str, list[str]]]]] = {
    "Compliant": (lambda p: None, {}),
    "TrustWithoutConditions": (
        lambda p: setattr(p, "trust", None),
        {"R": {"IamTrustConfusedDeputy": ["Service::sagemaker.amazonaws.com"]}},
    ),
    "S3Wildcard": (
        _grant(
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": _objects("runs/out/*"),
                "Condition": {"StringLike": {"s3:prefix": ["runs/out/*"]}},
            }
        ),
        {"P": {"IamNoS3Wildcard": ["Action::s3:*"]}},
    ),
    "ListWithoutPrefix": (
        lambda p: p.grants[2].pop("Condition"),
        {"P": {"IamListBucketPrefix": [""]}},
    ),
    "ReadAllRuns": (
        _grant({"Effect": "Allow", "Action": "s3:GetObject", "Resource": _objects("runs/*")}),
        {"P": {"IamStepObjectAccess": ["Resource::<B.Arn>/runs/*"]}},
    ),
    "WriteTheInputs": (
        _grant({"Effect": "Allow", "Action": "s3:PutObject", "Resource": _objects("runs/in/*")}),
        {"P": {"IamStepObjectAccess": ["Resource::<B.Arn>/runs/in/*"]}},
    ),
    "ReadTheOutputs": (
        _grant({"Effect": "Allow", "Action": "s3:GetObject", "Resource": _objects("runs/out/x")}),
        {},
    ),
    "PassRoleWithoutService": (
        _grant(_pass_role(None)),
        {"P": {"IamPassRoleService": [""]}},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_change_to_the_pipeline_makes_exactly_its_rule_fire(name: str) -> None:
    change, expected = CASES[name]
    pipeline = Pipeline()
    change(pipeline)
    assert pipeline.findings() == expected


def test_every_iam_rule_has_a_failing_case() -> None:
    fired = {rule for _, expected in CASES.values() for f in expected.values() for rule in f}
    assert fired == {
        "IamNoS3Wildcard",
        "IamListBucketPrefix",
        "IamStepObjectAccess",
        "IamPassRoleService",
        "IamTrustConfusedDeputy",
    }

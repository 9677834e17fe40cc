"""IAM rules (``constructs_sm.nag.rules.iam``) on hand-written templates: trust
conditions and trusted principals, iam:PassRole, s3:ListBucket prefixes, s3:*, S3
actions on channel buckets and object access outside a step's prefixes, for every kind of
IAM resource."""

from __future__ import annotations

import json
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
                    "IamListBucketPrefix": ["Resource::*"],
                    "IamNoS3Wildcard": ["NotAction::iam:*"],
                    "IamStepObjectAccess": ["Resource::*"],
                }
            },
        ),
        ({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, {}),
        (
            {"Effect": "Allow", "Action": ["S3:*"], "Resource": "arn:aws:s3:::b/x/*"},
            {
                "Policy": {
                    "IamNoS3Wildcard": ["Action::S3:*"],
                    "IamListBucketPrefix": ["Resource::arn:aws:s3:::b/x/*"],
                }
            },
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
    assert found == ({"P": {"IamListBucketPrefix": ["Resource::arn:aws:s3:::b"]}} if fires else {})


def test_role_user_and_group_policies_are_checked() -> None:
    """AWS::IAM::RolePolicy (RoleName) is a policy of its role; User and Group policies
    are checked for their statements on channel buckets."""
    wildcard = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    found = findings({"R": role(SOURCE), "P": policy(wildcard, "AWS::IAM::RolePolicy")})
    assert found == {
        "P": {
            "IamListBucketPrefix": ["Resource::*"],
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
    iam_findings = {
        "IamListBucketPrefix": ["Resource::arn:aws:s3:::channel/*"],
        "IamNoS3Wildcard": ["Action::s3:*"],
    }
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
        {"P": {"IamListBucketPrefix": ["Resource::<B.Arn>"]}},
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
    # The hand-written stacks: each passed all six packs.
    "DeleteOwnOutputs": (
        _grant(
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": _objects("runs/out/*"),
            }
        ),
        {
            "P": {
                "IamChannelBucketActions": ["Action::s3:DeleteObject::Resource::<B.Arn>/runs/out/*"]
            }
        },
    ),
    "DeleteVersionsAndTagOwnOutputs": (
        _grant(
            {
                "Effect": "Allow",
                "Action": ["s3:DeleteObjectVersion", "s3:PutObjectTagging"],
                "Resource": _objects("runs/out/*"),
            }
        ),
        {
            "P": {
                "IamChannelBucketActions": [
                    "Action::s3:DeleteObjectVersion::Resource::<B.Arn>/runs/out/*",
                    "Action::s3:PutObjectTagging::Resource::<B.Arn>/runs/out/*",
                ]
            }
        },
    ),
    "PutWildcardOnOwnOutputs": (
        _grant({"Effect": "Allow", "Action": "s3:Put*", "Resource": _objects("runs/out/*")}),
        {"P": {"IamChannelBucketActions": ["Action::s3:Put*::Resource::<B.Arn>/runs/out/*"]}},
    ),
    "ReadAndWriteAsGranted": (
        _grant(
            {
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "S3:PutObject"],
                "Resource": _objects("runs/out/*"),
            }
        ),
        {},
    ),
    "TrustAnyone": (
        lambda p: p.trust_extra.append(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
        ),
        {"R": {"IamTrustServiceOnly": ["AWS::*"]}},
    ),
    "TrustAnotherService": (
        lambda p: p.trust_extra.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": ["states.amazonaws.com", "lambda.amazonaws.com"]},
                "Action": "sts:AssumeRole",
                "Condition": SOURCE,
            }
        ),
        {"R": {"IamTrustServiceOnly": ["Service::lambda.amazonaws.com"]}},
    ),
    "TrustAllButOne": (
        lambda p: p.trust_extra.append(
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "sts:AssumeRole",
            }
        ),
        {"R": {"IamTrustServiceOnly": ['NotPrincipal::{"AWS":"arn:aws:iam::111122223333:root"}']}},
    ),
}

#: Bucket administration a SageMaker-trusted role was allowed on the channel bucket.
BUCKET_ADMIN = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:DeleteBucket",
)


@pytest.mark.parametrize("action", BUCKET_ADMIN)
def test_bucket_administration_by_a_job_role_fires_exactly_its_rule(action: str) -> None:
    pipeline = Pipeline()
    pipeline.grants.append(
        {"Effect": "Allow", "Action": action, "Resource": {"Fn::GetAtt": ["B", "Arn"]}}
    )
    expected = [f"Action::{action}::Resource::<B.Arn>"]
    assert pipeline.findings() == {"P": {"IamChannelBucketActions": expected}}


def test_channel_actions_of_a_state_machine_role_are_checked_too() -> None:
    """Step Functions roles are pipeline roles as well; other buckets are not judged."""
    delete = {
        "Effect": "Allow",
        "Action": ["s3:DeleteObject", "s3:PutBucketPolicy"],
        "Resource": [
            {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, "/runs/*"]]},
            "arn:aws:s3:::elsewhere/*",
        ],
    }
    pipeline = Pipeline()
    resources = pipeline.resources()
    resources["SM"] = role(SOURCE, "states.amazonaws.com")
    resources["SMP"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "m",
            "PolicyDocument": {"Statement": [delete]},
            "Roles": [{"Ref": "SM"}],
        },
    }
    assert findings(resources) == {
        "SMP": {
            "IamChannelBucketActions": [
                "Action::s3:DeleteObject::Resource::<B.Arn>/runs/*",
                "Action::s3:PutBucketPolicy::Resource::<B.Arn>/runs/*",
            ]
        }
    }


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # Any bucket (a wildcard) may be the channel bucket; a named other one is not.
        ({"Action": "s3:DeleteObject", "Resource": "*"}, ["Action::s3:DeleteObject::Resource::*"]),
        ({"Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::other/*"}, []),
        # A channel bucket passed in by name: the job's S3 URIs name it.
        (
            {"Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::passed/runs/*"},
            ["Action::s3:DeleteObject::Resource::arn:aws:s3:::passed/runs/*"],
        ),
        # Another service on *, and every S3 action excluded: nothing of S3 on the bucket.
        ({"Action": "logs:DeleteLogGroup", "Resource": "*"}, []),
        ({"NotAction": ["s3:*"], "Resource": "*"}, []),
        # A NotAction that excludes some S3 actions allows the others (IamNoS3Wildcard
        # reports one that excludes none).
        (
            {"NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::passed/runs/*"},
            ["NotAction::s3:delete*::Resource::arn:aws:s3:::passed/runs/*"],
        ),
        ({"NotAction": "iam:*", "Resource": "arn:aws:s3:::passed/runs/*"}, []),
        # An action whose service part is a wildcard may be an S3 action.
        (
            {"Action": "*:DeleteBucket", "Resource": "arn:aws:s3:::passed"},
            ["Action::*:DeleteBucket::Resource::arn:aws:s3:::passed"],
        ),
        # NotResource: every resource but those listed.
        (
            {"Action": "s3:PutObjectAcl", "NotResource": "arn:aws:s3:::x/*"},
            ["Action::s3:PutObjectAcl::NotResource::arn:aws:s3:::x/*"],
        ),
    ],
)
def test_channel_actions_on_buckets_the_jobs_may_use(
    statement: dict[str, Any], expected: list[str]
) -> None:
    output = {"OutputName": "o", "S3Output": {"S3Uri": "s3://passed/runs/out/"}}
    job = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {"RoleArn": "${Role}", "ProcessingOutputConfig": {"Outputs": [output]}},
        "End": True,
    }
    machine = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "DefinitionString": json.dumps({"StartAt": "Job", "States": {"Job": job}}),
            "DefinitionSubstitutions": {"Role": {"Fn::GetAtt": ["R", "Arn"]}},
        },
    }
    resources = {
        "R": role(SOURCE),
        "P": policy({"Effect": "Allow", **statement}),
        "M": machine,
    }
    found = findings(resources).get("P", {})
    assert found.get("IamChannelBucketActions", []) == expected


def test_a_role_trusted_by_both_pipeline_services_is_trusted_by_services_only() -> None:
    trust = role(SOURCE, ["sagemaker.amazonaws.com", {"Fn::Sub": "states.${AWS::URLSuffix}"}])
    assert findings({"R": trust}) == {}


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
        "IamChannelBucketActions",
        "IamListBucketPrefix",
        "IamStepObjectAccess",
        "IamPassRoleService",
        "IamTrustConfusedDeputy",
        "IamTrustServiceOnly",
    }

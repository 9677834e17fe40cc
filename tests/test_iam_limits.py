"""IAM's size quotas fail the synth of a pipeline's stack, not its deploy
(constructs_sm.iam_limits, run by the validation plugin of constructs_sm.template_limits):
sizes are ranges once references resolve; a quota broken at the fewest characters is an
error, one broken only at the most a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.iam_limits import (
    MAX_MANAGED_POLICIES_PER_ROLE,
    MAX_ROLE_INLINE_CHARS,
    iam_limit_problems,
    json_span,
    text_span,
)

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"
BUCKET = {"Type": "AWS::S3::Bucket", "Properties": {}}
NAMED = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "my-landing-bucket"}}


def _template(**resources: Any) -> dict[str, Any]:
    return {"Resources": {"Bucket": BUCKET, "Named": NAMED, **resources}}


def _document(resource: Any, statements: int) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
            for i in range(statements)
        ],
    }


def _role(*documents: dict[str, Any], managed: int = 0) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _document("*", 1),
            "Policies": [
                {"PolicyName": f"P{i}", "PolicyDocument": d} for i, d in enumerate(documents)
            ],
            "ManagedPolicyArns": [f"arn:aws:iam::aws:policy/P{i}" for i in range(managed)],
        },
    }


def test_a_reference_resolves_to_a_range_of_characters() -> None:
    template = _template()
    arn = {"Fn::GetAtt": ["Bucket", "Arn"]}
    assert text_span(arn, template) == (len("arn:aws:s3:::") + 3, len("arn:aws-us-gov:s3:::") + 63)
    assert text_span({"Fn::GetAtt": ["Named", "Arn"]}, template) == (
        len("arn:aws:s3:::my-landing-bucket"),
        len("arn:aws-us-gov:s3:::my-landing-bucket"),
    )
    joined = {"Fn::Join": ["", [arn, "/Churn/*"]]}
    assert text_span(joined, template) == tuple(
        n + len("/Churn/*") for n in text_span(arn, template)
    )
    region = text_span({"Ref": "AWS::Region"}, template)
    sub = {"Fn::Sub": "a-${AWS::Region}-${Named}-${!Literal}"}
    written = len("a--") + len("-${Literal}")
    assert text_span(sub, template) == (written + region[0] + 17, written + region[1] + 17)
    assert text_span({"Fn::ImportValue": "x"}, template)[1] >= 1024  # unknown: wide
    assert json_span({"Resource": "ab"}, template) == (len('{"Resource":"ab"}'),) * 2


def test_a_role_over_its_inline_quota_at_the_fewest_characters_is_an_error() -> None:
    literal = "arn:aws:s3:::my-landing-bucket/Churn/prepare/out/*"
    statements = (
        MAX_ROLE_INLINE_CHARS
        // len(json.dumps(_document(literal, 1)["Statement"][0], separators=(",", ":")))
        + 1
    )
    template = _template(
        Big=_role(_document(literal, statements)), Small=_role(_document(literal, 3))
    )
    (problem,) = iam_limit_problems(template)
    assert (problem.logical_id, problem.rule, problem.certain) == ("Big", "IamRolePolicySize", True)
    assert "10,240" in problem.description and "reference_iam-quotas" in problem.description
    assert "add_step(role=...)" in problem.fix


def test_a_role_over_only_with_the_longest_names_is_a_warning() -> None:
    """Each statement names the bucket by reference: 16 to 83 characters once resolved."""
    arn = {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/Churn/prepare/out/*"]]}
    one = json_span(_document(arn, 1)["Statement"][0], _template())
    count = MAX_ROLE_INLINE_CHARS // ((one[0] + one[1]) // 2)
    (problem,) = iam_limit_problems(_template(Role=_role(_document(arn, count))))
    assert not problem.certain
    assert "with the longest names" in problem.description


def test_inline_policies_of_a_role_add_up_across_policy_resources() -> None:
    literal = "arn:aws:s3:::my-landing-bucket/Churn/prepare/out/*"
    half = _document(literal, 60)
    attached = {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyDocument": half, "Roles": [{"Ref": "Role"}]},
    }
    assert iam_limit_problems(_template(Role=_role(half))) == []
    assert [p.rule for p in iam_limit_problems(_template(Role=_role(half), Extra=attached))] == [
        "IamRolePolicySize"
    ]
    # A role outside the template is shown on the first policy naming it.
    by_name = {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyDocument": _document(literal, 130), "Roles": ["team-role"]},
    }
    (problem,) = iam_limit_problems(_template(Mine=by_name))
    assert problem.logical_id == "Mine" and "role named team-role" in problem.description


def test_more_managed_policies_than_a_role_may_have_is_an_error() -> None:
    limit = MAX_MANAGED_POLICIES_PER_ROLE
    assert iam_limit_problems(_template(Role=_role(managed=limit))) == []
    extra = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": _document("*", 1), "Roles": [{"Ref": "Role"}]},
    }
    (problem,) = iam_limit_problems(_template(Role=_role(managed=limit), Extra=extra))
    assert (problem.rule, problem.certain) == ("IamManagedPolicies", True)
    assert f"{limit + 1} managed policies" in problem.description
    assert "constructs-sm::IamManagedPolicies" in problem.fix


def test_an_oversized_managed_policy_and_trust_policy_are_errors() -> None:
    literal = "arn:aws:s3:::my-landing-bucket/Churn/prepare/out/*"
    managed = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": _document(literal, 60)},
    }
    role = _role()
    role["Properties"]["AssumeRolePolicyDocument"] = _document(literal, 25)
    found = {
        (p.logical_id, p.rule, p.certain) for p in iam_limit_problems(_template(M=managed, R=role))
    }
    assert found == {("M", "IamManagedPolicySize", True), ("R", "IamTrustPolicySize", True)}


# -- at synth ------------------------------------------------------------------------------


def _shared_role_app(outdir: Path, script: Path, steps: int) -> tuple[cdk.App, cdk.Stack]:
    """``steps`` steps in a chain, all given one role of the app."""
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Shared")
    role = iam.Role(stack, "Team", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    pipeline = ProcessingPipeline(
        stack,
        "Pipeline",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
    )
    previous = pipeline.add_step("s0", code=script, outputs=["out"], role=role)
    for index in range(1, steps):
        previous = pipeline.add_step(
            f"s{index}",
            code=script,
            inputs={"data": previous.output("out")},
            outputs=["out"],
            role=role,
        )
    return app, stack


def _report(outdir: Path) -> list[dict[str, Any]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        v
        for p in report["pluginReports"]
        if p["pluginName"] == "constructs-sm"
        for v in p["violations"]
    ]


def test_one_role_given_to_too_many_steps_fails_the_synth_naming_the_quota(
    tmp_path: Path, script: Path
) -> None:
    """aws-cdk-lib moves the role's statements past 10,240 characters into OverflowPolicy
    managed policies; at 75 steps they are more than IAM's 10 per role."""
    app, _ = _shared_role_app(tmp_path, script, 75)
    with pytest.raises(RuntimeError, match=r"role Team\w+ would have \d+ managed policies"):
        app.synth()
    (violation,) = _report(tmp_path)
    assert violation["ruleName"] == "IamManagedPolicies" and violation["severity"] == "error"
    assert "PoliciesPerRole: 10" in violation["description"]
    assert "leave role= out" in violation["suggestedFix"]
    (where,) = violation["violatingConstructs"]
    assert where["constructPath"] == "Shared/Team/Resource"


def test_an_acknowledged_quota_finding_lets_the_synth_go_on(tmp_path: Path, script: Path) -> None:
    """An account whose quota was raised acknowledges the finding, as the fix says."""
    app, stack = _shared_role_app(tmp_path, script, 75)
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(id="constructs-sm::IamManagedPolicies", reason="quota raised to 20 here")
    )
    app.synth()


def test_a_role_within_every_quota_reports_nothing(tmp_path: Path, script: Path) -> None:
    app, _ = _shared_role_app(tmp_path, script, 20)
    app.synth()
    assert _report(tmp_path) == []

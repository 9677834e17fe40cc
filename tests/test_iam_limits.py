"""IAM's size quotas fail the synth of a pipeline's stack, not its deploy
(constructs_sm.iam_limits, run by the validation plugin of constructs_sm.template_limits):
sizes are ranges once references resolve; a quota broken at the fewest characters is an
error, one broken only at the most a warning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore
import pytest
from aws_cdk import aws_iam as iam
from hypothesis import given, settings
from hypothesis import strategies as st

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.iam_limits import (
    IAM_RULES,
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
    assert text_span({"Fn::ImportValue": "x"}, template)[1] >= 1_000_000  # unknown: no most
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


# -- bounds that hold for every value CloudFormation may resolve ---------------------------

#: Every partition botocore knows: its id, DNS suffix (AWS::URLSuffix) and regions.
_PARTITIONS = [
    (p["id"], p["outputs"]["dnsSuffix"], [r for r in p["regions"] if not r.endswith("global")])
    for p in json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())[
        "partitions"
    ]
]


def _iam_size(resolved: Any) -> int:
    """What IAM counts of a resolved document: compact JSON, white space left out."""
    text = json.dumps(resolved, separators=(",", ":"), ensure_ascii=False)
    return sum(1 for character in text if character not in " \t\n\r")


def test_pseudo_parameter_bounds_cover_every_partition() -> None:
    """The lower bound is the one that fails a synth: it must not exceed the shortest
    value of any partition (c2s.ic.gov is aws-iso's URL suffix; us-isof-south-1 a region)."""
    template = _template()
    for name, values in (
        ("AWS::Partition", [p for p, _, _ in _PARTITIONS]),
        ("AWS::URLSuffix", [s for _, s, _ in _PARTITIONS]),
        ("AWS::Region", [r for _, _, regions in _PARTITIONS for r in regions]),
    ):
        low, high = text_span({"Ref": name}, template)
        assert low <= min(map(len, values)) and max(map(len, values)) <= high, name


class _Resolver:
    """CloudFormation's resolution of a value, with names and conditions drawn."""

    def __init__(self, draw: Any) -> None:
        partition, suffix, regions = draw(st.sampled_from(_PARTITIONS))
        name = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=64)
        self.pseudo: dict[str, str] = {
            "AWS::Partition": partition,
            "AWS::URLSuffix": suffix,
            "AWS::Region": draw(st.sampled_from(regions)),
            "AWS::AccountId": "123456789012",
            "AWS::StackName": draw(name),
        }
        self.names: dict[str, str] = {
            "Bucket": draw(name.filter(lambda n: len(n) >= 3)),
            "Role": draw(name),
            "Key": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "Param": draw(st.text("ab ", max_size=8)),  # a parameter's value, not its Default
        }
        self.conditions = draw(st.booleans())

    def text(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.pseudo.get(argument) or self.names[argument]
        if function == "Fn::GetAtt":
            name = argument.split(".")[0] if isinstance(argument, str) else argument[0]
            head = f"arn:{self.pseudo['AWS::Partition']}"
            return {
                "Bucket": f"{head}:s3:::{self.names['Bucket']}",
                "Role": f"{head}:iam::123456789012:role/{self.names['Role']}",
                "Key": f"{head}:kms:{self.pseudo['AWS::Region']}:123456789012:key/"
                + self.names["Key"],
            }[name]
        if function == "Fn::Join":
            return str(argument[0]).join(self.text(part) for part in argument[1])
        if function == "Fn::If":
            return self.text(argument[1] if self.conditions else argument[2])
        assert function == "Fn::Sub"
        text, variables = argument if isinstance(argument, list) else (argument, {})

        def variable(match: re.Match[str]) -> str:
            part = match.group(1)
            if part.startswith("!"):
                return "${" + part[1:] + "}"
            if part in variables:
                return self.text(variables[part])
            return self.text({"Fn::GetAtt": part} if "." in part else {"Ref": part})

        return re.sub(r"\$\{([^}]*)\}", variable, text)

    def json(self, value: Any) -> Any:
        """The resolved value; None where AWS::NoValue removes it."""
        if value == {"Ref": "AWS::NoValue"}:
            return None
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) == "Fn::If":
            _, yes, no = value["Fn::If"]
            return self.json(yes if self.conditions else no)
        if (
            isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)).startswith(("Ref", "Fn::"))
        ):
            return self.text(value)
        if isinstance(value, dict):
            members = {k: self.json(v) for k, v in value.items()}
            return {k: v for k, v in members.items() if v is not None}
        if isinstance(value, list):
            return [item for item in map(self.json, value) if item is not None]
        return value


_words = st.text("abc:/* -\t", max_size=12)
_references = st.sampled_from(
    [
        {"Ref": "AWS::Partition"},
        {"Ref": "AWS::URLSuffix"},
        {"Ref": "AWS::Region"},
        {"Ref": "AWS::AccountId"},
        {"Ref": "AWS::StackName"},
        {"Ref": "Bucket"},
        {"Ref": "Role"},
        {"Ref": "Key"},
        {"Ref": "Param"},
        {"Fn::GetAtt": ["Bucket", "Arn"]},
        {"Fn::GetAtt": "Role.Arn"},
        {"Fn::GetAtt": ["Key", "Arn"]},
    ]
)
_texts = st.recursive(
    st.one_of(_words, _references),
    lambda inner: st.one_of(
        st.builds(lambda sep, parts: {"Fn::Join": [sep, parts]}, _words, st.lists(inner)),
        st.builds(lambda a, b: {"Fn::If": ["C", a, b]}, inner, inner),
        st.builds(
            lambda words, value: {
                "Fn::Sub": [f"{words}${{V}}-${{AWS::Region}}${{Bucket.Arn}}${{!Lit}}", {"V": value}]
            },
            _words,
            inner,
        ),
    ),
    max_leaves=6,
)
_values = st.recursive(
    st.one_of(_texts, st.just({"Ref": "AWS::NoValue"}), st.booleans(), st.integers()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["Sid", "Action", "Resource", "Condition"]), inner),
        st.builds(lambda a, b: {"Fn::If": ["C", a, b]}, inner, inner),
    ),
    max_leaves=12,
)
_TEMPLATE = {
    "Parameters": {"Param": {"Type": "String", "Default": "a-long-default-value"}},
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Key": {"Type": "AWS::KMS::Key"},
    },
}


@settings(max_examples=300, deadline=None, database=None)
@given(document=st.dictionaries(st.sampled_from(["Version", "Statement"]), _values), data=st.data())
def test_the_characters_iam_counts_lie_within_the_span(document: Any, data: Any) -> None:
    """Whatever the partition, names, parameter values and conditions: fewest <= counted
    <= most (white space in strings included: IAM does not count it)."""
    resolved = _Resolver(data.draw).json(document)
    low, high = json_span(document, _TEMPLATE)
    assert low <= _iam_size(resolved) <= high


def _attached(document: dict[str, Any], roles: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyDocument": document, "Roles": roles},
        **extra,
    }


def test_what_a_condition_may_remove_counts_only_at_the_most() -> None:
    """A policy, a managed policy ARN or a statement under Fn::If with AWS::NoValue, or a
    policy resource with a Condition, may not be there: no error, a warning at most."""
    literal = "arn:aws:s3:::my-landing-bucket/Churn/prepare/out/*"
    half = _document(literal, 80)  # two of them are over 10,240 characters
    no_value = {"Ref": "AWS::NoValue"}
    maybe_policy = {"Fn::If": ["Big", {"PolicyName": "Extra", "PolicyDocument": half}, no_value]}
    role = _role(half)
    role["Properties"]["Policies"].append(maybe_policy)
    (problem,) = iam_limit_problems(_template(Role=role))
    assert (problem.rule, problem.certain) == ("IamRolePolicySize", False)
    conditional = _attached(half, [{"Ref": "Role"}], Condition="Big")
    (problem,) = iam_limit_problems(_template(Role=_role(half), Extra=conditional))
    assert (problem.rule, problem.certain) == ("IamRolePolicySize", False)
    statements = _document(literal, 160)
    statements["Statement"] = [{"Fn::If": ["Big", s, no_value]} for s in statements["Statement"]]
    (problem,) = iam_limit_problems(_template(Role=_role(statements)))
    assert (problem.rule, problem.certain) == ("IamRolePolicySize", False)
    managed = _role(managed=MAX_MANAGED_POLICIES_PER_ROLE)
    managed["Properties"]["ManagedPolicyArns"].append({"Fn::If": ["Big", "arn:x", no_value]})
    (problem,) = iam_limit_problems(_template(Role=managed))
    assert (problem.rule, problem.certain) == ("IamManagedPolicies", False)
    assert "up to 11 managed policies" in problem.description


def test_a_managed_policy_attached_both_ways_counts_once() -> None:
    """The role's ManagedPolicyArns and the policy's Roles may both name it: one attachment."""
    role = _role(managed=MAX_MANAGED_POLICIES_PER_ROLE - 1)
    role["Properties"]["ManagedPolicyArns"].append({"Ref": "Mine"})
    mine = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": _document("*", 1), "Roles": [{"Ref": "Role"}]},
    }
    assert iam_limit_problems(_template(Role=role, Mine=mine)) == []


def test_a_role_named_in_a_policy_is_the_template_role_of_that_name() -> None:
    literal = "arn:aws:s3:::my-landing-bucket/Churn/prepare/out/*"
    half = _document(literal, 80)
    role = _role(half)
    role["Properties"]["RoleName"] = "team-role"
    (problem,) = iam_limit_problems(_template(Role=role, Extra=_attached(half, ["team-role"])))
    assert (problem.logical_id, problem.rule, problem.certain) == (
        "Role",
        "IamRolePolicySize",
        True,
    )


def test_references_in_roles_and_policies_do_not_crash_the_check() -> None:
    """Policies and Roles may be references themselves (a synth must not crash on them)."""
    role = _role(_document("*", 1))
    role["Properties"]["Policies"] = {
        "Fn::If": ["C", role["Properties"]["Policies"], {"Ref": "AWS::NoValue"}]
    }
    role["Properties"]["ManagedPolicyArns"] = {"Fn::Split": [",", {"Ref": "Arns"}]}
    policy = _attached(_document("*", 1), {"Fn::If": ["C", [{"Ref": "Role"}], []]})
    assert iam_limit_problems(_template(Role=role, Extra=policy)) == []


def test_a_role_arn_without_a_path_has_the_path_slash() -> None:
    """Without a Path the role's ARN is arn:<partition>:iam::<account>:role/<name>: a
    policy naming many such roles is not a warning for paths of 512 characters."""
    role = {"Type": "AWS::IAM::Role", "Properties": {}}
    low, high = text_span({"Fn::GetAtt": ["Role", "Arn"]}, {"Resources": {"Role": role}})
    assert (low, high) == (
        len("arn:aws:iam::123456789012:role/x"),
        len("arn:aws-us-gov:iam::123456789012:role/") + 64,
    )


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "Ref",
                    "Fn::If",
                    "Fn::GetAtt",
                    "Fn::Join",
                    "Fn::Sub",
                    "Fn::Select",
                    "PolicyDocument",
                    "Roles",
                    "Statement",
                    "x",
                ]
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=10,
)
_resource_types = st.sampled_from(
    [
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::ManagedPolicy",
        "AWS::S3::Bucket",
    ]
)
_properties = st.dictionaries(
    st.sampled_from(
        [
            "Policies",
            "PolicyDocument",
            "Roles",
            "RoleName",
            "ManagedPolicyArns",
            "AssumeRolePolicyDocument",
            "Path",
            "BucketName",
        ]
    ),
    _json,
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    resources=st.dictionaries(
        st.sampled_from(["Role", "Bucket", "Policy", "Other"]),
        st.fixed_dictionaries({"Type": _resource_types, "Properties": _properties}),
    )
)
def test_odd_templates_do_not_crash_the_check(resources: dict[str, Any]) -> None:
    for problem in iam_limit_problems({"Resources": resources}):
        assert problem.rule in IAM_RULES


def test_references_nothing_bounds_warn_of_nothing_but_still_count_at_the_fewest() -> None:
    """A role granted on five tables (ARNs of a type whose format is not known here) gets
    no warning for what those ARNs might be; past the quota at the fewest characters it
    is still an error, sized 'at least'."""
    tables = {f"Table{i}": {"Type": "AWS::DynamoDB::Table", "Properties": {}} for i in range(5)}
    arns = [{"Fn::GetAtt": [name, "Arn"]} for name in tables]
    granted = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": arns}],
    }
    assert iam_limit_problems(_template(Role=_role(granted), **tables)) == []
    literal = "arn:aws:s3:::my-landing-bucket/Churn/prepare/out/*"
    big = _document(literal, 200)
    big["Statement"].append(granted["Statement"][0])
    (problem,) = iam_limit_problems(_template(Role=_role(big), **tables))
    assert problem.certain and "at least" in problem.description

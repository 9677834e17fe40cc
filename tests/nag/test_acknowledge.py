"""The leaf the constructs call (``constructs_sm.nag.acknowledge``): reasoned
acknowledgments, the IAM5 finding of a wildcard, checkov skips, and that importing it
loads neither the rules nor cdk-nag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs_sm import nag
from constructs_sm.nag import collect_acknowledgments
from constructs_sm.nag.acknowledge import (
    acknowledge,
    acknowledge_wildcards,
    flatten_reference,
    skip_checkov,
    wildcard_finding,
)

BUCKET_ARN = {"Fn::GetAtt": ["Bucket83908E77", "Arn"]}


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


def test_acknowledge_reports_every_problem_of_a_call_at_once() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    with pytest.raises(ValueError, match=r"must not hold empty ids, got ' '; reason must say"):
        acknowledge(stack, [" "], "short")


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
    assert wildcard_finding(role, bucket.arn_for_objects("runs/*")) == (
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/runs/*]"
    )


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


def test_the_package_exposes_the_functions_not_the_submodule() -> None:
    """``constructs_sm.nag.acknowledge`` names both a module and a function: the package
    attribute stays the function once the module is imported (as the constructs do)."""
    assert nag.acknowledge is acknowledge
    assert nag.skip_checkov is skip_checkov
    assert sys.modules["constructs_sm.nag.acknowledge"].acknowledge is acknowledge


def test_the_leaf_and_the_constructs_load_neither_the_rules_nor_cdk_nag() -> None:
    """A fresh interpreter imports the constructs (which import the leaf) and reports
    which nag modules and whether cdk-nag were loaded."""
    code = (
        "import json, sys\n"
        "import constructs_sm.nag.acknowledge\n"
        "import constructs_sm.pipeline, constructs_sm.roles, constructs_sm.storage\n"
        "names = ('cdk_nag', 'constructs_sm.nag')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(names))\n"
        "print(json.dumps(loaded))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(completed.stdout.splitlines()[-1]) == [
        "constructs_sm.nag",
        "constructs_sm.nag.acknowledge",
    ]

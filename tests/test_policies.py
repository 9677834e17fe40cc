"""Every policy statement the constructs write carries a ``Sid`` saying why it exists:
letters and digits, unique within its document (IAM's rule)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline, Resources
from constructs_sm.policies import sid_part
from tests.conftest import Assembly

SID = re.compile(r"[A-Za-z0-9]+")
ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(construct path or logical id, where, document)`` of every policy in ``template``."""
    for logical_id, resource in template["Resources"].items():
        path = resource.get("Metadata", {}).get("aws:cdk:path", logical_id)
        properties = resource.get("Properties", {})
        for key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            if key in properties:
                yield path, key, properties[key]
        for policy in properties.get("Policies", []) or []:
            yield path, policy["PolicyName"], policy["PolicyDocument"]


def _unnamed(template: dict[str, Any], *, skip: tuple[str, ...] = ()) -> list[str]:
    """Statements without a valid Sid, and Sids used twice in a document."""
    problems = []
    for path, where, document in _documents(template):
        if any(part in path for part in skip):
            continue
        sids = [statement.get("Sid") for statement in document["Statement"]]
        for sid in sids:
            if not isinstance(sid, str) or not SID.fullmatch(sid):
                problems.append(f"{path} {where}: Sid {sid!r}")
        named = [sid for sid in sids if sid]
        if len(set(named)) != len(named):
            problems.append(f"{path} {where}: Sids repeat {named}")
    return problems


def test_sid_part_keeps_letters_and_digits_and_tells_lossy_names_apart() -> None:
    assert sid_part("prepare") == "prepare"
    assert sid_part("Prep2") == "Prep2"
    lossy = sid_part("pre_pare")
    assert SID.fullmatch(lossy) and lossy.startswith("prepare") and len(lossy) == 15
    assert lossy != sid_part("prepare") and lossy != sid_part("prep_are")
    assert SID.fullmatch(sid_part("Pipeline/_returns/"))


def test_every_statement_of_the_example_app_is_named(example_assembly: Assembly) -> None:
    template = json.loads((example_assembly.outdir / "ChurnPipeline.template.json").read_text())
    assert _unnamed(template) == []


@pytest.fixture(scope="module")
def everything(script: Path) -> dict[str, Any]:
    """A stack using every feature that writes statements: a VPC, a multi-instance step
    whose returned values the state machine reads, passed roles (of the app and
    imported) and an image pulled from a repository."""
    stack = cdk.Stack(cdk.App(), "Everything", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    repository = ecr.Repository(stack, "Repo")
    pipeline = ProcessingPipeline(
        stack,
        "Pipeline",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_repository(repository, tag="v1"),
        vpc=vpc,
    )
    mine = iam.Role(stack, "Mine", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    imported = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::123456789012:role/x")
    first = pipeline.add_step(
        "first",
        code=script,
        outputs=["out"],
        returns={"n": int},
        resources=Resources(instance_count=2),
    )
    pipeline.add_step("a_b", code=script, inputs={"x": first.output("out")}, role=mine)
    pipeline.add_step("ab", code=script, inputs={"x": first.output("out")}, role=mine)
    pipeline.add_step("third", code=script, role=imported)
    ProcessingImage.from_repository(repository, tag="v2").grant_pull(mine)
    template = dict(cdk.assertions.Template.from_stack(stack).to_json())
    # Not ours: the trust of the user's role, and aws-cdk-lib's Vpc.
    mine_trust = stack.get_logical_id(mine.node.default_child)  # type: ignore[arg-type]
    template["not_ours"] = (mine_trust, stack.get_logical_id(vpc.node.default_child))  # type: ignore[arg-type]
    return template


def test_every_statement_the_constructs_write_is_named(everything: dict[str, Any]) -> None:
    mine, vpc = everything["not_ours"]
    assert _unnamed(everything, skip=(mine, vpc[:3])) == []


def test_statements_of_two_steps_on_one_passed_role_stay_apart(
    everything: dict[str, Any],
) -> None:
    sids = [
        statement["Sid"]
        for _, _, document in _documents(everything)
        for statement in document["Statement"]
        if "Sid" in statement
    ]
    assert "ReadObjectsOfStepab" in sids
    assert f"ReadObjectsOfStep{sid_part('a_b')}" in sids
    assert "ReadReturnedValuesObjects" in sids and "ReadReturnedValuesList" in sids

"""The scale benchmark's floors with roles: the same roles in both CDK forms, and each as
narrow as a step role of the library."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from tests.benchmarks.bench_scale import CONTEXT, ROLE_FLOORS, floor_stack, library_stack


def _roles(stack: cdk.Stack) -> list[dict[str, Any]]:
    """The properties of the stack's roles that SageMaker assumes, in template order."""
    resources = Template.from_stack(stack).to_json()["Resources"]
    return [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Role"
        and "sagemaker" in str(resource["Properties"]["AssumeRolePolicyDocument"])
    ]


def _shape(properties: dict[str, Any]) -> list[tuple[str, str, object, list[str]]]:
    """Each statement of the role's trust and inline policies: its Sid, effect, actions
    and condition keys; then how many managed policies it carries and whether it has a
    path."""
    documents = [properties["AssumeRolePolicyDocument"]] + [
        policy["PolicyDocument"] for policy in properties.get("Policies", [])
    ]
    return [
        (
            statement["Sid"],
            statement["Effect"],
            statement["Action"],
            sorted(key for test in statement.get("Condition", {}).values() for key in test),
        )
        for document in documents
        for statement in document["Statement"]
    ] + [
        ("managed policies", str(len(properties.get("ManagedPolicyArns", []))), "", []),
        ("path", str("Path" in properties), "", []),
    ]


def _floor(roles: str | None) -> cdk.Stack:
    return floor_stack(cdk.App(context=CONTEXT), 3, roles=roles)  # type: ignore[no-any-return]


def test_both_forms_write_the_same_roles() -> None:
    cfn, iam = (_roles(_floor(style)) for style in ROLE_FLOORS.values())
    assert len(cfn) == 3
    assert cfn == iam  # same documents; only the logical ids differ


def test_each_task_has_its_own_role_as_narrow_as_a_step_role() -> None:
    roles = _roles(_floor("CfnRole"))
    step_role = _roles(library_stack(cdk.App(context=CONTEXT), 3))[1]  # a middle step
    for index, role in enumerate(roles):
        assert _shape(role) == _shape(step_role)
        text = str(role)
        assert f"processing-job/job-{index}-*" in text
        assert f"/out/{index}/*" in text
    assert len(_roles(_floor(None))) == 1  # the floor itself: one role for every task


def test_the_state_machine_of_the_floor_with_roles_passes_only_their_path() -> None:
    stack = _floor("CfnRole")
    text = str(Template.from_stack(stack).to_json())
    assert "'iam:PassRole'" in text and "role/floor-tasks/*" in text
    assert "sagemaker:*" not in text
    assert "sagemaker:*" in str(Template.from_stack(_floor(None)).to_json())

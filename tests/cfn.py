"""Helpers for reading synthesized templates in tests."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import CfnElement, Stack
from aws_cdk.assertions import Template

Json = dict[str, Any]


def logical_id(stack: Stack, construct: Any) -> str:
    """The logical ID of a construct's default CloudFormation resource."""
    return stack.get_logical_id(cast(CfnElement, construct.node.default_child))


def role_statements(
    template: Template, stack: Stack, role: Any, *, managed: bool = False
) -> list[Json]:
    """Every policy statement of ``role`` in ``template``: its inline policies, the
    ``AWS::IAM::Policy`` resources attached to it and, with ``managed``, the customer
    managed policies of the template it carries."""
    role_id = logical_id(stack, role)
    role_ref = {"Ref": role_id}
    resources = template.to_json()["Resources"]
    properties = resources[role_id]["Properties"]
    statements: list[Json] = []
    for inline in properties.get("Policies", []):
        statements.extend(inline["PolicyDocument"]["Statement"])
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if role_ref in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    if managed:
        for arn in properties.get("ManagedPolicyArns", []):
            name = arn.get("Ref") if isinstance(arn, dict) else None
            if name in resources:
                statements.extend(resources[name]["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions(statement: Json) -> list[str]:
    """A statement's actions as a list."""
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)

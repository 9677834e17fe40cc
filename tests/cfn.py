"""Helpers for reading synthesized templates in tests."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import CfnElement, Stack
from aws_cdk.assertions import Template

Json = dict[str, Any]


def logical_id(stack: Stack, construct: Any) -> str:
    """The logical ID of a construct's default CloudFormation resource."""
    return stack.get_logical_id(cast(CfnElement, construct.node.default_child))


def role_statements(template: Template, stack: Stack, role: Any) -> list[Json]:
    """Every policy statement attached to ``role`` in ``template``."""
    role_ref = {"Ref": logical_id(stack, role)}
    statements: list[Json] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if role_ref in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions(statement: Json) -> list[str]:
    """A statement's actions as a list."""
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)

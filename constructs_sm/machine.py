"""The pipeline's state machine: its physical name, its log group and the construct.

Why is the state machine named, and where do its logs go? Here: a physical name derived
from the stack and the pipeline (:func:`state_machine_name`) lets the role's trust name
exactly this state machine (``aws:SourceArn``); its log group lives under
``/aws/vendedlogs/states/`` and it is a ``STANDARD`` state machine with X-Ray tracing and
every log level (:func:`create_state_machine`).
"""

from __future__ import annotations

import hashlib
import re

from aws_cdk import Aws, CfnResource, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


def state_machine_name(scope: Construct, pipeline_name: str) -> str | None:
    """``<stack name>-<pipeline>`` (at most 80 characters), or None when the name is a token.

    Longer names keep their start and end with a hash of the whole, so they stay unique.
    """
    stack_name = Stack.of(scope).stack_name
    if Token.is_unresolved(stack_name):
        return None
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{stack_name}-{pipeline_name}")
    if len(name) <= 80:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:71]}-{digest}"


def create_state_machine(
    scope: Construct,
    *,
    definition: sfn.DefinitionBody,
    role: iam.Role,
    pipeline_name: str,
    machine_name: str | None,
    log_key: kms.IKey | None,
    log_retention: logs.RetentionDays,
) -> tuple[logs.LogGroup, sfn.StateMachine]:
    """The log group (``Logs``) and the ``STANDARD`` state machine (``StateMachine``) of a
    pipeline, in ``scope``. The state machine gets an immutable view of ``role``: the
    tracing and log-delivery statements aws-cdk-lib would add to the role's default policy
    go to a dedicated policy instead (``grant_tracing_and_log_delivery``), so the ``*``
    they need is acknowledged on that policy alone."""
    log_group = logs.LogGroup(
        scope,
        "Logs",
        # Under /aws/vendedlogs/states/, Step Functions needs no entry per log group in
        # the account's size-limited CloudWatch Logs resource policy; the stack id's
        # GUID keeps a retained group from blocking a redeploy of the stack.
        log_group_name=Fn.join(
            "",
            [
                f"/aws/vendedlogs/states/{machine_name or pipeline_name}-",
                Fn.select(2, Fn.split("/", Aws.STACK_ID)),
            ],
        ),
        retention=log_retention,
        removal_policy=RemovalPolicy.RETAIN,
        encryption_key=log_key,
    )
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=definition,
        role=role.without_policy_updates(),  # see the docstring
        state_machine_type=sfn.StateMachineType.STANDARD,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=log_group,
            level=sfn.LogLevel.ALL,
            include_execution_data=False,
        ),
        comment=f"constructs_sm pipeline {pipeline_name}",
        state_machine_name=machine_name,
    )
    machine = state_machine.node.default_child
    assert isinstance(machine, CfnResource)
    # aws-cdk-lib makes the state machine depend on its role and the role's policies
    # (the log-delivery policy must exist before it); the role's dependency is
    # redundant with RoleArn, which cfn-lint reports (W3005). Keep every dependency.
    machine.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
    return log_group, state_machine

"""Acknowledgments the pipeline makes do not hide what the app adds to its roles.

The pipeline acknowledges the ``AwsSolutions-IAM5`` findings of the step roles' prefix
grants once, on the pipeline, not per role. A grant a user adds to one step's role on
another step's channel would then pass AwsSolutions unnoticed: our pack's
``IamStepObjectAccess`` must still report it. Inline policies are acknowledged on each
policy the pipeline writes (a step role's resource, the state machine's default and
tracing policies), so a policy the app adds to a step's role is still reported by the
compliance packs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.nag import (
    INLINE_POLICY_FINDINGS,
    PACK_NAME,
    ProcessingPipelineChecks,
    default_packs,
)

SCRIPT = Path(__file__).resolve().parents[2] / "stacks" / "scripts" / "prepare.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1"


def _pipeline() -> tuple[cdk.App, cdk.Stack, ChannelBucket, ProcessingPipeline]:
    """An app whose stack ``Acks`` holds pipeline ``Pipe`` on bucket ``Storage``."""
    app = cdk.App()
    stack = cdk.Stack(app, "Acks")
    storage = ChannelBucket(stack, "Storage")
    pipeline = ProcessingPipeline(
        stack, "Pipe", storage=storage, image=ProcessingImage.from_registry(IMAGE)
    )
    return app, stack, storage, pipeline


def _found(app: cdk.App, packs: Sequence[Any]) -> set[tuple[str, str]]:
    """Each violation the packs report: ``(rule, construct path)``."""
    return {
        (violation.rule_name, resource.construct_path or "")
        for pack in packs
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
    }


def _violations(extra_grant: bool) -> set[tuple[str, str]]:
    app, _, storage, pipeline = _pipeline()
    first = pipeline.add_step("a", code=SCRIPT, outputs=["shared", "secret"])
    second = pipeline.add_step("b", code=SCRIPT, inputs={"data": first.output("shared")})
    if extra_grant:
        storage.grant_read(second.role, "Pipe/a/secret/")
    return _found(app, [ProcessingPipelineChecks(app)])


def test_pipeline_alone_has_no_violation() -> None:
    assert _violations(extra_grant=False) == set()


def test_read_of_another_steps_channel_is_reported() -> None:
    found = _violations(extra_grant=True)
    assert {name for name, _ in found} == {
        f"{PACK_NAME}-IamStepObjectAccess[Resource::<StorageBucket5CB7C8EA.Arn>/Pipe/a/secret/*]"
    }
    assert all(path.startswith("Acks/Pipe/b/Role") for _, path in found), found


def test_a_policy_the_app_adds_to_a_step_role_is_still_reported() -> None:
    """``table.grant_read_data(step.role)`` adds an inline policy of the app's own: the
    compliance packs report it (they reported it on the app's own roles, not on a step
    role, while the pipeline acknowledged inline policies on itself); the pipeline's
    own roles and policies have none."""
    app, stack, _, pipeline = _pipeline()
    step = pipeline.add_step("a", code=SCRIPT, outputs=["out"])
    key = dynamodb.Attribute(name="k", type=dynamodb.AttributeType.STRING)
    dynamodb.Table(stack, "Table", partition_key=key).grant_read_data(step.role)
    app.synth()
    found = {
        (rule, path)
        for rule, path in _found(app, default_packs(app))
        if "IAMNoInlinePolicy" in rule
    }
    assert found == {
        (finding, "Acks/Pipe/a/Role/DefaultPolicy/Resource") for finding in INLINE_POLICY_FINDINGS
    }

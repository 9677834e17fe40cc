"""Acknowledgments made once per pipeline do not hide a step role's extra access.

The pipeline acknowledges the findings its roles share once, on the pipeline (inline
policies, and the ``AwsSolutions-IAM5`` findings of the step roles' prefix grants), not
per role. A grant a user adds to one step's role on another step's channel would then
pass AwsSolutions unnoticed: our pack's ``IamStepObjectAccess`` must still report it.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.nag import PACK_NAME, ProcessingPipelineChecks

SCRIPT = Path(__file__).resolve().parents[2] / "stacks" / "scripts" / "prepare.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1"


def _violations(extra_grant: bool) -> set[tuple[str, str]]:
    app = cdk.App()
    stack = cdk.Stack(app, "Acks")
    storage = ChannelBucket(stack, "Storage")
    pipeline = ProcessingPipeline(
        stack, "Pipe", storage=storage, image=ProcessingImage.from_registry(IMAGE)
    )
    first = pipeline.add_step("a", code=SCRIPT, outputs=["shared", "secret"])
    second = pipeline.add_step("b", code=SCRIPT, inputs={"data": first.output("shared")})
    if extra_grant:
        storage.grant_read(second.role, "Pipe/a/secret/")
    report = ProcessingPipelineChecks(app).validate_scope(app)
    return {
        (violation.rule_name, resource.construct_path or "")
        for violation in report.violations
        for resource in violation.violating_resources
    }


def test_pipeline_alone_has_no_violation() -> None:
    assert _violations(extra_grant=False) == set()


def test_read_of_another_steps_channel_is_reported() -> None:
    found = _violations(extra_grant=True)
    assert {name for name, _ in found} == {
        f"{PACK_NAME}-IamStepObjectAccess[Resource::<StorageBucket5CB7C8EA.Arn>/Pipe/a/secret/*]"
    }
    assert all(path.startswith("Acks/Pipe/b/Role") for _, path in found), found

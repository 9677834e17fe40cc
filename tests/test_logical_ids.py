"""Logical ids are stable: the same on every synth of the example app, and independent of
the order in which steps that do not depend on each other are added (each resource's id
follows its construct path: pipeline, step, role; nothing is numbered in order)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import assertions

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline, Resources
from stacks.pipeline_stack import ChurnPipelineStack, churn_params
from tests.conftest import cdk_json_context

if TYPE_CHECKING:
    from tests.conftest import Assembly

HERE = Path(__file__).parent
SCRIPTS = HERE.parent / "stacks" / "scripts"


def test_the_example_synthesizes_the_same_template_every_time(
    example_assembly: Assembly, tmp_path: Path
) -> None:
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    ChurnPipelineStack(app, "ChurnPipeline")
    app.synth()
    first = json.loads((example_assembly.outdir / "ChurnPipeline.template.json").read_text())
    again = json.loads((tmp_path / "ChurnPipeline.template.json").read_text())
    assert list(again["Resources"]) == list(first["Resources"])
    assert list(again["Outputs"]) == list(first["Outputs"])
    assert again == first


def _stack(order: tuple[str, ...]) -> dict[str, Any]:
    """The example's storage and pipeline, ``profile`` and ``train`` (siblings: both read
    ``prepare``'s output, neither the other's) added in ``order``."""
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "Order", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    pipeline = ProcessingPipeline(
        stack,
        "Churn",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn:1"),
        params=churn_params(),
    )
    prepare = pipeline.add_step(
        "prepare",
        code=SCRIPTS / "prepare.py",
        inputs={"raw": pipeline.param("raw_uri")},
        outputs=["train", "test"],
    )
    siblings = {
        "profile": {"code": SCRIPTS / "profile.py", "outputs": ["report"]},
        "train": {
            "code": SCRIPTS / "train.py",
            "outputs": ["model"],
            "resources": Resources(instance_count=2),
        },
    }
    for name in order:
        pipeline.add_step(name, inputs={"train": prepare.output("train")}, **siblings[name])  # type: ignore[arg-type]
    pipeline.alarm_on_failure()
    return dict(assertions.Template.from_stack(stack).to_json())


def test_logical_ids_do_not_depend_on_the_order_of_independent_steps() -> None:
    one, other = _stack(("profile", "train")), _stack(("train", "profile"))
    assert sorted(one["Resources"]) == sorted(other["Resources"])
    assert sorted(one["Outputs"]) == sorted(other["Outputs"])
    # Every resource but the state machine (its Parallel branches follow the order the
    # steps were added in) is the same, property for property.
    for logical_id, resource in one["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            assert other["Resources"][logical_id] == resource, logical_id

"""A stack holding a pipeline whose template is over CloudFormation's 1,000,000 bytes
fails the synth (constructs_sm.template_limits), naming the stack, the size and the fix;
stacks without a pipeline, and templates within the limit, pass untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.limits import MAX_TEMPLATE_BYTES, template_size_problem

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"
#: Metadata items that take about 4 bytes each in a compact template and 8 indented.
PADDING_ITEMS = 150_000


def _stack(app: cdk.App, name: str, script: Path, *, pipelines: int, **props: Any) -> cdk.Stack:
    """A stack with ``pipelines`` one-step pipelines and about 1.2 MB of indented
    template (0.6 MB without indentation)."""
    stack = cdk.Stack(app, name, **props)
    storage = ChannelBucket(stack, "Storage")
    for index in range(pipelines):
        pipeline = ProcessingPipeline(
            stack,
            f"Pipeline{index}",
            storage=storage,
            image=ProcessingImage.from_registry(IMAGE_URI),
        )
        pipeline.add_step("only", code=script)
    padding = cdk.CfnWaitConditionHandle(stack, "Padding")
    padding.add_metadata("Padding", ["a"] * PADDING_ITEMS)
    return stack


def _report(outdir: Path) -> list[dict[str, Any]]:
    """Our plugin's violations in the synth's validation report."""
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        violation
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == "constructs-sm"
        for violation in plugin["violations"]
    ]


def test_an_oversized_template_with_pipelines_fails_the_synth(tmp_path: Path, script: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    _stack(app, "Big", script, pipelines=2)
    with pytest.raises(RuntimeError, match=r"the template of stack 'Big' is [\d,]+ bytes"):
        app.synth()
    (violation,) = _report(tmp_path)
    size = (tmp_path / "Big.template.json").stat().st_size
    assert size > MAX_TEMPLATE_BYTES
    assert violation["ruleName"] == "TemplateSize"
    assert f"stack 'Big' is {size:,} bytes" in violation["description"]
    assert "'Pipeline0' (1 step), 'Pipeline1' (1 step)" in violation["description"]
    assert "suppress_template_indentation=True" in violation["suggestedFix"]
    (where,) = violation["violatingConstructs"]
    assert where["constructPath"] == "Big/Pipeline0/StateMachine/Resource"


def test_the_fix_it_names_makes_the_same_stack_fit(tmp_path: Path, script: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    _stack(app, "Big", script, pipelines=1, suppress_template_indentation=True)
    app.synth()
    assert (tmp_path / "Big.template.json").stat().st_size < MAX_TEMPLATE_BYTES
    assert _report(tmp_path) == []


def test_a_stack_without_a_pipeline_is_left_to_aws_cdk_lib(tmp_path: Path, script: Path) -> None:
    """Only the stacks holding a pipeline are checked (aws-cdk-lib warns for the rest)."""
    app = cdk.App(outdir=str(tmp_path))
    _stack(app, "Other", script, pipelines=0)
    _stack(app, "Small", script, pipelines=1).node.try_remove_child("Padding")
    app.synth()
    assert (tmp_path / "Other.template.json").stat().st_size > MAX_TEMPLATE_BYTES
    assert _report(tmp_path) == []


def test_a_nested_stacks_template_is_checked_too(tmp_path: Path, script: Path) -> None:
    """CDK hands validation plugins the top-level templates only; a nested stack's
    template has the same limit and is checked from the assembly directory."""
    app = cdk.App(outdir=str(tmp_path))
    _stack(app, "Top", script, pipelines=0).node.try_remove_child("Padding")
    nested = cdk.NestedStack(app.node.find_child("Top"), "Inner")  # type: ignore[arg-type]
    storage = ChannelBucket(nested, "Storage")
    pipeline = ProcessingPipeline(
        nested, "Nested", storage=storage, image=ProcessingImage.from_registry(IMAGE_URI)
    )
    pipeline.add_step("only", code=script)
    cdk.CfnWaitConditionHandle(nested, "Padding").add_metadata("Padding", ["a"] * PADDING_ITEMS)
    with pytest.raises(RuntimeError, match=r"the template of stack 'Top/Inner' is [\d,]+ bytes"):
        app.synth()


def test_template_size_problem_is_none_up_to_the_limit() -> None:
    assert template_size_problem(MAX_TEMPLATE_BYTES, stack="S", pipelines=[("p", 1)]) is None
    problem = template_size_problem(MAX_TEMPLATE_BYTES + 1, stack="S", pipelines=[("p", 3)])
    assert problem is not None and "1,000,001 bytes" in problem[0] and "'p' (3 steps)" in problem[0]

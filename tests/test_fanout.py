"""Fan-out steps (``for_each``): the Distributed Map, each item's job, the checks at synth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

from constructs_sm import ChannelBucket, Param, ProcessingImage, ProcessingPipeline
from constructs_sm.fanout import results_prefix
from constructs_sm.local.map_fixes import exceeds
from constructs_sm.nag import ProcessingPipelineChecks
from tests.cfn import role_statements

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1"
SCRIPT = Path(__file__).resolve().parents[1] / "stacks" / "scripts" / "prepare.py"


def _pipeline(stack: cdk.Stack) -> ProcessingPipeline:
    return ProcessingPipeline(
        stack,
        "Fan",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE),
        params=[
            Param.string_list("regions", default=["eu"], max_items=4),
            Param.string("mode", default="a", max_length=8),
        ],
    )


@pytest.fixture(scope="module")
def built() -> tuple[cdk.App, ProcessingPipeline, dict[str, Any]]:
    app = cdk.App()
    stack = cdk.Stack(app, "Fans", env=cdk.Environment(region="us-east-1"))
    pipeline = _pipeline(stack)
    split = pipeline.add_step("split", code=SCRIPT, outputs=["parts"])
    pipeline.add_step(
        "per_region",
        code=SCRIPT,
        for_each=pipeline.param("regions"),
        env={"REGION": pipeline.item()},
        arguments=["--region", pipeline.item()],
        outputs=["out"],
        max_concurrency=3,
        tolerated_failure_percentage=25,
    )
    pipeline.add_step("per_part", code=SCRIPT, for_each=split.output("parts"), outputs=["res"])
    return app, pipeline, pipeline.render_definition()


def _states(definition: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    todo = [definition["States"]]
    while todo:
        states = todo.pop()
        for name, state in states.items():
            found[name] = state
            todo += [b["States"] for b in state.get("Branches", [])]
            if "ItemProcessor" in state:
                todo.append(state["ItemProcessor"]["States"])
    return found


def test_a_list_fans_out_as_a_distributed_map(built: Any) -> None:
    _, _, definition = built
    states = _states(definition)
    fan = states["Run per_region"]
    assert fan["Type"] == "Map"
    assert fan["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert fan["ItemsPath"] == "$.params.regions" and "ItemReader" not in fan
    assert fan["ItemSelector"]["item.$"] == "$$.Map.Item.Value"
    assert fan["ItemSelector"]["index.$"] == "$$.Map.Item.Index"
    assert (fan["MaxConcurrency"], fan["ToleratedFailurePercentage"]) == (3, 25.0)
    assert "ToleratedFailureCount" not in fan
    assert fan["ResultWriter"]["Parameters"]["Prefix"] == results_prefix("Fan", "per_region")
    assert fan["ResultPath"] == "$.steps.per_region"
    # The job runs in the child, with the retry policy's states there.
    task = fan["ItemProcessor"]["States"]["Run per_region item"]
    params = task["Parameters"]
    assert "$.index" in params["ProcessingJobName.$"]
    assert params["Environment"]["REGION.$"] == "$.item"
    assert params["Environment"]["CSM_ITEM.$"] == "$.item"
    assert params["AppSpecification"]["ContainerArguments.$"] == "States.Array('--region', $.item)"
    output = params["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri.$"]
    assert output == (
        "States.Format('s3://{}/Fan/per_region/out/{}/{}/', $.run.bucket, $.run.execution, $.index)"
    )
    assert task["Catch"][0]["Next"] == "per_region error"
    assert "Retry per_region" in fan["ItemProcessor"]["States"]
    assert "Retry per_region" not in definition["States"]


def test_objects_fan_out_through_an_item_reader(built: Any) -> None:
    _, _, definition = built
    fan = _states(definition)["Run per_part"]
    reader = fan["ItemReader"]
    assert reader["Resource"].endswith(":states:::s3:listObjectsV2")
    assert reader["Parameters"]["Prefix.$"] == (
        "States.Format('Fan/split/parts/{}/', $.run.execution)"
    )
    assert fan["ItemSelector"]["item.$"] == "$$.Map.Item.Value.Key"
    assert fan["MaxConcurrency"] == 10  # the default
    task = fan["ItemProcessor"]["States"]["Run per_part item"]
    inputs = {i["InputName"]: i["S3Input"] for i in task["Parameters"]["ProcessingInputs"]}
    assert inputs["parts"]["S3Uri.$"] == "States.Format('s3://{}/{}', $.run.bucket, $.item)"


def test_the_state_machine_may_run_and_list_for_its_fan_outs(built: Any) -> None:
    _, pipeline, _ = built
    stack = cdk.Stack.of(pipeline)
    template = assertions.Template.from_stack(stack)
    statements = role_statements(template, stack, pipeline.role)
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"} <= actions
    listing = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing and listing[0]["Condition"] == {
        "StringLike": {"s3:prefix": ["Fan/split/parts/*"]}
    }


def test_our_pack_accepts_the_fan_out_roles(built: Any) -> None:
    app, _, _ = built
    report = ProcessingPipelineChecks(app).validate_scope(app)
    assert [v.rule_name for v in report.violations] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"for_each": "a literal"}, r"for_each must be a string_list param"),
        ({"for_each": "mode"}, r"for_each param 'mode' is of type string"),
        ({"for_each": "regions", "returns": {"n": int}}, r"cannot return values"),
        ({"for_each": "regions", "max_concurrency": -1}, r"max_concurrency must be an int"),
        ({"for_each": "regions", "tolerated_failure_percentage": 120}, r"from 0 to 100"),
        (
            {
                "for_each": "regions",
                "tolerated_failure_count": 1,
                "tolerated_failure_percentage": 5,
            },
            r"not both",
        ),
        ({"max_concurrency": 2}, r"apply to a step with for_each"),
        ({"env": {"R": "item"}}, r"env\['R'\] is pipeline.item\(\).*has no for_each"),
        ({"env": {"R": "regions"}}, r"uses string_list param 'regions'"),
    ],
)
def test_bad_fan_outs_are_refused_at_synth(kwargs: dict[str, Any], message: str) -> None:
    app = cdk.App()
    pipeline = _pipeline(cdk.Stack(app, "Bad"))
    kwargs = dict(kwargs)
    if kwargs.get("for_each") in ("regions", "mode"):
        kwargs["for_each"] = pipeline.param(kwargs["for_each"])
    if "env" in kwargs:
        kwargs["env"] = {
            key: pipeline.item() if value == "item" else pipeline.param(value)
            for key, value in kwargs["env"].items()
        }
    with pytest.raises(ValueError, match=message):
        pipeline.add_step("step", code=SCRIPT, **kwargs)


def test_a_fan_out_over_objects_needs_a_free_channel_name() -> None:
    app = cdk.App()
    pipeline = _pipeline(cdk.Stack(app, "Clash"))
    split = pipeline.add_step("split", code=SCRIPT, outputs=["parts"])
    with pytest.raises(ValueError, match=r"inputs already has a channel of that name"):
        pipeline.add_step(
            "each",
            code=SCRIPT,
            for_each=split.output("parts"),
            inputs={"parts": split.output("parts")},
        )


@pytest.mark.parametrize(
    ("failed", "total", "count", "percentage", "fails"),
    [
        (0, 3, 0, 0.0, False),
        (1, 3, 0, 0.0, True),
        (1, 3, 1, 0.0, False),
        (2, 3, 1, 0.0, True),
        (1, 4, 0, 25.0, False),
        (2, 4, 0, 25.0, True),
    ],
)
def test_the_offline_map_applies_its_threshold(
    failed: int, total: int, count: int, percentage: float, fails: bool
) -> None:
    assert exceeds(failed, total, count, percentage) is fails

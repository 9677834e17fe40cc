"""Where the definition lives: in the template when small, in S3 with substitutions when
large; refused at synth when Step Functions would refuse it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline, hosting
from constructs_sm.assembly import with_hosted_definitions
from constructs_sm.hosting import (
    DEFAULT_INLINE_LIMIT,
    INLINE_LIMIT_CONTEXT,
    TOKEN_ESTIMATE,
    definition_text,
    estimated_size,
    host_definition,
    inline_limit,
    size_problem,
)
from constructs_sm.local.cfn_fixes import DefinitionError, substitute
from constructs_sm.nag import ProcessingPipelineChecks
from constructs_sm.report import read_assembly

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1"
ROLE = "${Token[TOKEN.101]}"
PARTITION = "${Token[AWS.Partition.8]}"


# -- pure ------------------------------------------------------------------------------


def test_tokens_become_numbered_placeholders_in_order_of_appearance() -> None:
    definition = {
        "States": {
            "Run a": {"Resource": f"arn:{PARTITION}:states:::x", "Parameters": {"RoleArn": ROLE}},
            "Run b": {"Resource": f"arn:{PARTITION}:states:::x", "Parameters": {"RoleArn": ROLE}},
        }
    }
    hosted = host_definition(definition_text(definition))
    assert hosted.substitutions == {"csm0": PARTITION, "csm1": ROLE}
    document = json.loads(hosted.text)
    assert document["States"]["Run b"] == {
        "Resource": "arn:${csm0}:states:::x",
        "Parameters": {"RoleArn": "${csm1}"},
    }
    # CloudFormation's substitution gives back the definition with the tokens' values.
    filled = substitute(hosted.text, {"csm0": "aws", "csm1": "arn:aws:iam::1:role/r"})
    assert json.loads(filled)["States"]["Run a"]["Resource"] == "arn:aws:states:::x"


def test_a_literal_dollar_brace_cannot_be_hosted() -> None:
    text = definition_text({"Environment": {"HOME": "${HOME}/x"}})
    with pytest.raises(ValueError, match=r"cannot hold the text '\$\{'.*HOME"):
        host_definition(text)


def test_a_placeholder_without_a_value_fails_the_offline_deploy() -> None:
    with pytest.raises(DefinitionError, match=r"\$\{csm7\}"):
        substitute('{"a": "${csm7}"}', {"csm0": "x"})


@pytest.mark.parametrize(
    ("value", "limit"), [(None, DEFAULT_INLINE_LIMIT), (0, 0), ("250000", 250_000), (5, 5)]
)
def test_the_inline_limit_comes_from_the_context(value: object, limit: int) -> None:
    assert inline_limit(value) == limit


@pytest.mark.parametrize("value", [-1, "many", 1.5, True])
def test_a_bad_inline_limit_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match=INLINE_LIMIT_CONTEXT):
        inline_limit(value)


def test_sizes_count_tokens_at_their_largest_and_the_request_escaped() -> None:
    text = definition_text({"a": ROLE, "b": 'say "hi"'})
    characters, request = estimated_size(text)
    assert characters == len(text) - len(ROLE) + TOKEN_ESTIMATE
    # The request carries the definition as a JSON string: quotes are escaped.
    assert request == len(json.dumps(text.replace(ROLE, ""))) + TOKEN_ESTIMATE


def test_a_definition_step_functions_would_refuse_is_named_with_the_fix() -> None:
    small = definition_text({"States": {"x": "y" * 1000}})
    assert size_problem(small, pipeline="P", steps=3) is None
    huge = definition_text({"States": {"x": "y" * 1_048_600}})
    problem = size_problem(huge, pipeline="P", steps=300)
    assert problem is not None
    assert "1,048,576" in problem and "split the pipeline" in problem
    # Escaping alone can push the request over 1 MB.
    quoted = definition_text({"States": {"x": '"' * 400_000}})
    assert estimated_size(quoted)[0] < 1_048_576
    assert size_problem(quoted, pipeline="P", steps=3) is not None


# -- in an app -------------------------------------------------------------------------


def _app(tmp_path: Path, steps: int, context: dict[str, Any] | None = None) -> cdk.App:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=context or {})
    stack = cdk.Stack(app, "Hosted")
    pipeline = ProcessingPipeline(
        stack,
        "Pipe",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE),
    )
    script = Path(__file__).resolve().parents[1] / "stacks" / "scripts" / "prepare.py"
    previous = pipeline.add_step("s0", code=script, outputs=["out"])
    for index in range(1, steps):
        previous = pipeline.add_step(
            f"s{index}", code=script, inputs={"data": previous.output("out")}, outputs=["out"]
        )
    return app


def _machine(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    assert isinstance(machine, dict)
    return machine


def test_a_small_definition_stays_in_the_template(tmp_path: Path) -> None:
    app = _app(tmp_path, 2)
    template = app.synth().get_stack_by_name("Hosted").template
    machine = _machine(template)
    assert "DefinitionString" in machine and "DefinitionS3Location" not in machine


def test_a_large_definition_is_hosted_in_s3_with_substitutions(tmp_path: Path) -> None:
    app = _app(tmp_path, 2, {INLINE_LIMIT_CONTEXT: 0})
    assembly = app.synth()
    template = assembly.get_stack_by_name("Hosted").template
    machine = _machine(template)
    assert "DefinitionString" not in machine
    location = machine["DefinitionS3Location"]
    assert location["Bucket"] == {
        "Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"
    }
    assert location["Key"].endswith(".json")
    substitutions = machine["DefinitionSubstitutions"]
    assert {"Ref": "AWS::Partition"} in substitutions.values()
    assert all(name.startswith("csm") for name in substitutions)
    # The assembly holds the file; read back, it is the definition CloudFormation creates.
    outdir = Path(assembly.directory)
    inlined = _machine(with_hosted_definitions(template, outdir))
    text = inlined["DefinitionString"]
    document = json.loads(text)
    assert set(document["States"]) >= {"Run s0", "Run s1"}
    assert document["States"]["Run s0"]["Parameters"]["RoleArn"].startswith("${csm")
    # The report and our nag pack read it as well.
    (report,) = read_assembly(outdir)
    assert sorted(step.name for step in report.steps) == ["s0", "s1"]
    assert report.stages == ["s0", "s1"]
    assert report.steps[0].spec is not None


def test_our_pack_reads_a_hosted_definition(tmp_path: Path) -> None:
    app = _app(tmp_path, 2, {INLINE_LIMIT_CONTEXT: 0})
    report = ProcessingPipelineChecks(app).validate_scope(app)
    assert [v.rule_name for v in report.violations] == []


def test_a_definition_over_the_limit_fails_the_synth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hosting, "MAX_DEFINITION_CHARS", 20_000)
    app = _app(tmp_path, 8)
    with pytest.raises(Exception, match=r"pipeline 'Pipe' \(8 steps\).*at most 20,000"):
        app.synth()

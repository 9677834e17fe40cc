"""The example's readable definition (``cdk.out/<stack>.<pipeline>.definition.json``,
written by every synth) is the template's definition, is the same on every synth, and
matches the reviewed snapshot: a change to a generated definition is a reviewed change
(regenerate with ``CSM_UPDATE_SNAPSHOTS=1 make test``).

Unlike the template's one-line ``Fn::Join``, the snapshot keeps the states in the order the
state machine has them, so a reordering shows in the diff too.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest

from constructs_sm.assembly import asset_files, hosted_definition
from constructs_sm.hosting import INLINE_LIMIT_CONTEXT
from constructs_sm.readable import (
    definition_from_template,
    readable,
    readable_hosted,
    reference_text,
)
from stacks.pipeline_stack import ChurnPipelineStack
from tests.conftest import cdk_json_context

if TYPE_CHECKING:
    from tests.conftest import Assembly

SNAPSHOTS = Path(__file__).parent / "snapshots"
WRITTEN = "ChurnPipeline.Churn.definition.json"
#: Asset hashes change with every script or runtime edit; the definition's shape does not.
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def _definition_string(template: dict[str, Any]) -> Any:
    (machine,) = (
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    return machine["Properties"]["DefinitionString"]


def test_the_written_definition_is_the_templates(example_assembly: Assembly) -> None:
    template = json.loads((example_assembly.outdir / "ChurnPipeline.template.json").read_text())
    deployed = definition_from_template(_definition_string(template))
    text = (example_assembly.outdir / WRITTEN).read_text()
    assert json.loads(text) == deployed
    # States in the state machine's order, indented by 2, references as placeholders.
    states = list(json.loads(text)["States"])
    assert states[0] == "Merge defaults"
    assert states.index("Write parameters") < states.index("Run prepare")
    assert text.startswith('{\n  "Comment": ')
    assert "${GetAtt:ChurnprepareRole" in text and "${Ref:StorageBucket" in text
    assert "${Ref:AWS::Partition}" in text and "Fn::" not in text


def test_the_written_definition_is_the_same_on_every_synth(
    example_assembly: Assembly, tmp_path: Path
) -> None:
    app = cdk.App(outdir=str(tmp_path), context=cdk_json_context())
    ChurnPipelineStack(app, "ChurnPipeline")
    app.synth()
    assert (tmp_path / WRITTEN).read_bytes() == (example_assembly.outdir / WRITTEN).read_bytes()


def test_a_hosted_definition_is_written_as_the_file_cloudformation_reads(
    example_assembly: Assembly, tmp_path: Path
) -> None:
    """Hosted in S3, the readable definition is made from the hosted file and its
    substitutions (not by resolving the whole definition): the same data as the resolved
    definition, and as the file filled with the template's DefinitionSubstitutions."""
    context = {**cdk_json_context(), INLINE_LIMIT_CONTEXT: 0}
    app = cdk.App(outdir=str(tmp_path), context=context)
    stack = ChurnPipelineStack(app, "ChurnPipeline")
    app.synth()
    written = json.loads((tmp_path / WRITTEN).read_text())
    resolved = stack.resolve(stack.pipeline.inline_definition())
    assert written == readable(resolved)
    template = json.loads((tmp_path / "ChurnPipeline.template.json").read_text())
    (machine,) = (
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    assert "DefinitionString" not in machine
    text = hosted_definition(machine, asset_files(tmp_path))
    assert text is not None and "${csm0}" in text
    assert written == readable_hosted(text, machine["DefinitionSubstitutions"])
    # The same states as the inline definition of the same app.
    inline = json.loads((example_assembly.outdir / WRITTEN).read_text())
    unhashed = [json.loads(_ASSET_HASH.sub("", json.dumps(d))) for d in (written, inline)]
    assert unhashed[0] == unhashed[1]


def test_example_definition_matches_the_snapshot(example_assembly: Assembly) -> None:
    actual = _ASSET_HASH.sub("<asset hash>", (example_assembly.outdir / WRITTEN).read_text())
    snapshot = SNAPSHOTS / WRITTEN
    if os.environ.get("CSM_UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(actual)
    assert actual == snapshot.read_text(), (
        f"the example's definition changed; review the diff and regenerate {snapshot.name} "
        "with CSM_UPDATE_SNAPSHOTS=1"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"Ref": "StorageBucket5CB7C8EA"}, "${Ref:StorageBucket5CB7C8EA}"),
        ({"Fn::GetAtt": ["Role1ABCDEF0", "Arn"]}, "${GetAtt:Role1ABCDEF0.Arn}"),
        (
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::x"]]},
            "arn:${Ref:AWS::Partition}:states:::x",
        ),
        (
            {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/r:${Repo.Arn}"},
            "${Ref:AWS::AccountId}.dkr.ecr.${Ref:AWS::Region}.${Ref:AWS::URLSuffix}/r:"
            "${GetAtt:Repo.Arn}",
        ),
        (
            {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]},
            "${Select:2,${Split:/,${Ref:AWS::StackId}}}",
        ),
    ],
)
def test_references_read_as_placeholders(value: Any, text: str) -> None:
    assert reference_text(value) == text
    assert readable({"a": [value], "b": {"c": value}}) == {"a": [text], "b": {"c": text}}

"""Snapshots of the example app's state-machine definitions: a change to a generated
definition is a reviewed change (regenerate with ``CSM_UPDATE_SNAPSHOTS=1 make test``)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constructs_sm.report import _flatten

if TYPE_CHECKING:
    from tests.conftest import Assembly

SNAPSHOTS = Path(__file__).parent / "snapshots"
#: Asset hashes change with every script or runtime edit; the definition's shape does not.
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def readable_definitions(template: dict[str, Any]) -> dict[str, Any]:
    """Every state machine's definition of a template, references as ``${...}`` text."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            text = _ASSET_HASH.sub(
                "<asset hash>", _flatten(resource["Properties"]["DefinitionString"])
            )
            found[logical_id] = json.loads(text)
    return found


def test_example_definition_matches_the_snapshot(example_assembly: Assembly) -> None:
    template = json.loads((example_assembly.outdir / "ChurnPipeline.template.json").read_text())
    actual = json.dumps(readable_definitions(template), indent=2, sort_keys=True) + "\n"
    snapshot = SNAPSHOTS / "ChurnPipeline.definition.json"
    if os.environ.get("CSM_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(actual)
    assert actual == snapshot.read_text(), (
        f"the example's definition changed; review the diff and regenerate {snapshot.name} "
        "with CSM_UPDATE_SNAPSHOTS=1"
    )

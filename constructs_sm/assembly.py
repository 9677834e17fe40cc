"""A cloud assembly's templates as CloudFormation will read them.

Where is a state machine's definition when it is not in the template? A large pipeline's
definition is a file asset (``DefinitionS3Location``, see :mod:`constructs_sm.hosting`):
:func:`with_hosted_definitions` finds the file in the assembly through the stacks' asset
manifests (``<stack>.assets.json``: each file asset's source path and the S3 object key it
is published under) and puts its text back as the ``DefinitionString``, next to the
``DefinitionSubstitutions`` that CloudFormation applies to it. The rules, the report and
the tests then read every definition the same way. Pure: no CDK.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_STATE_MACHINE = "AWS::StepFunctions::StateMachine"


def asset_files(assembly: Path) -> dict[str, Path]:
    """Every file asset of the assembly directory, by the S3 object key it is published
    under."""
    found: dict[str, Path] = {}
    for manifest_path in sorted(assembly.glob("*.assets.json")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        for entry in (manifest.get("files") or {}).values():
            source = entry.get("source") or {}
            if source.get("packaging", "file") != "file" or not source.get("path"):
                continue
            for destination in (entry.get("destinations") or {}).values():
                key = destination.get("objectKey")
                if isinstance(key, str):
                    found[key] = assembly / source["path"]
    return found


def hosted_definition(properties: Mapping[str, Any], files: Mapping[str, Path]) -> str | None:
    """The text of a state machine's ``DefinitionS3Location`` file, or None when it has
    none, or its object key is not one of the assembly's file assets."""
    location = properties.get("DefinitionS3Location")
    if not isinstance(location, dict) or "DefinitionString" in properties:
        return None
    key = location.get("Key")
    path = files.get(key) if isinstance(key, str) else None
    try:
        return path.read_text() if path is not None else None
    except OSError:
        return None


def with_hosted_definitions(template: Mapping[str, Any], assembly: Path) -> dict[str, Any]:
    """A copy of ``template`` whose state machines hold their hosted definitions as
    ``DefinitionString`` (the ``DefinitionS3Location`` is kept); the template itself when
    none is hosted."""
    resources = template.get("Resources") or {}
    hosted = [
        logical_id
        for logical_id, resource in resources.items()
        if isinstance(resource, dict)
        and resource.get("Type") == _STATE_MACHINE
        and "DefinitionS3Location" in (resource.get("Properties") or {})
    ]
    if not hosted:
        return dict(template)
    files = asset_files(assembly)
    result = copy.deepcopy(dict(template))
    for logical_id in hosted:
        properties = result["Resources"][logical_id]["Properties"]
        text = hosted_definition(properties, files)
        if text is not None:
            properties["DefinitionString"] = text
    return result

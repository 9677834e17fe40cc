"""The state-machine definition as a person reads it: ``<stack>.<pipeline>.definition.json``.

In the template the definition is one ``Fn::Join`` of JSON fragments and references, which
neither ``cdk diff`` nor a reviewer reads comfortably. Every synth also writes it pretty
printed (indent 2, states in the order the state machine has them, keys never sorted),
each CloudFormation reference shown as a placeholder: ``${Ref:StorageBucket5CB7C8EA}``,
``${GetAtt:ChurnprepareRoleD3A54BE4.Arn}``, ``${Ref:AWS::Partition}``; ``Fn::Sub`` text keeps
its own ``${...}`` references in the same form. The file is the same on every synth of the
same app, so it can be diffed and kept as a snapshot (``tests/test_snapshot.py``). Pure:
no CDK (the caller resolves the definition's tokens first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

#: A reference inside ``Fn::Sub`` text: ``${Name}`` or ``${Name.Attribute}``.
_SUB_REFERENCE: Final = re.compile(r"\$\{(?!!)([^}]+)\}")
#: A ``DefinitionSubstitutions`` placeholder in a hosted definition: ``${csm0}``.
_PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def definition_path(outdir: Path, stack: str, pipeline: str) -> Path:
    """Where a synth writes the readable definition of ``pipeline`` in ``stack``."""
    return outdir / f"{stack}.{pipeline}.definition.json"


def reference_text(value: Any) -> str:
    """A resolved CloudFormation string value as text, references as placeholders.

    Plain strings are returned as they are; ``Fn::Join`` is joined; ``Ref`` becomes
    ``${Ref:Name}``, ``Fn::GetAtt`` ``${GetAtt:Name.Attribute}``; any other function
    ``${Function:<its arguments, comma-separated>}``, e.g.
    ``${Select:2,${Split:/,${Ref:AWS::StackId}}}`` (no quotes: it stays valid inside a
    JSON string).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return "${Ref:" + str(argument) + "}"
        if key == "Fn::GetAtt":
            attribute = argument if isinstance(argument, str) else ".".join(argument)
            return "${GetAtt:" + attribute + "}"
        if key == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            return str(separator).join(reference_text(part) for part in parts)
        if key == "Fn::Sub" and isinstance(argument, str):
            return _SUB_REFERENCE.sub(_sub_placeholder, argument)
        arguments = argument if isinstance(argument, list) else [argument]
        shown = ",".join(reference_text(item) for item in arguments)
        return "${" + str(key).removeprefix("Fn::") + ":" + shown + "}"
    if isinstance(value, list):
        return ",".join(reference_text(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _sub_placeholder(match: re.Match[str]) -> str:
    name = match.group(1)
    kind = "GetAtt" if "." in name else "Ref"
    return "${" + kind + ":" + name + "}"


def readable(value: Any) -> Any:
    """``value`` (resolved: tokens turned into CloudFormation functions) with every
    function shown as text (:func:`reference_text`); keys keep their order."""
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            return reference_text(value)
        return {key: readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [readable(item) for item in value]
    return value


def readable_text(resolved_definition: Any) -> str:
    """The file's text: :func:`readable`, indented by 2, keys in their order."""
    return _file_text(readable(resolved_definition))


def readable_hosted_text(text: str, substitutions: Mapping[str, Any]) -> str:
    """The file's text for a hosted definition (:func:`readable_hosted`)."""
    return _file_text(readable_hosted(text, substitutions))


def _file_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def readable_hosted(text: str, substitutions: Mapping[str, Any]) -> Any:
    """A definition hosted in S3 (its file's ``text``, with ``${name}`` placeholders) as
    :func:`readable` shows it: each placeholder replaced by :func:`reference_text` of its
    resolved value in ``substitutions`` (the state machine's ``DefinitionSubstitutions``).

    The same as :func:`readable` of the resolved definition, without handing the whole
    definition to CDK to resolve: only its references are (at 200 steps, 0.6 MB of
    definition against about 200 references). Numbers stay as the file writes them.
    """

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        return reference_text(substitutions[name]) if name in substitutions else match.group(0)

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(placeholder, value) if "${" in value else value
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return fill(json.loads(text))


def definition_from_template(definition_string: Any) -> Any:
    """A template's ``DefinitionString`` (a string or an ``Fn::Join``) parsed, with the
    same placeholders: equal to what :func:`readable` makes of the resolved definition."""
    return json.loads(reference_text(definition_string))

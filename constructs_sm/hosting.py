"""Where a pipeline's state-machine definition lives: in the template, or in S3.

Which definition does CloudFormation read, and from where? A definition of a few dozen
steps is the state machine's ``DefinitionString``, so ``cdk diff`` and a review of the
template show every change. A larger one would not fit: CloudFormation refuses a template
over 1,000,000 bytes, and a 200-step pipeline's definition alone is about 0.7 MB (a
processing step's states take about 3 KB), next to 0.3 MB of step roles. Above
:data:`DEFAULT_INLINE_LIMIT` characters (``constructs-sm:definitionInlineLimit`` in the CDK
context overrides it; ``0`` hosts every definition in S3) the definition is a file asset
that the state machine's ``DefinitionS3Location`` names, and every CDK token in it (role
ARNs, bucket names, the partition) is a ``${csmN}`` placeholder that CloudFormation fills
from ``DefinitionSubstitutions`` when it creates the state machine
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html).

A literal ``${`` in a hosted definition is refused at synth: CloudFormation documents no
escape for it and could take it for a placeholder. Whether in the template or in S3, a
definition that Step Functions would refuse (over 1,048,576 characters, or a
CreateStateMachine request over 1 MB) is refused at synth (:func:`size_problem`). Pure:
no CDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from constructs_sm.limits import MAX_DEFINITION_CHARS, MAX_REQUEST_BYTES

#: The CDK context key that overrides :data:`DEFAULT_INLINE_LIMIT`.
INLINE_LIMIT_CONTEXT: Final = "constructs-sm:definitionInlineLimit"
#: A definition up to this many characters stays in the template (about 20 steps): with
#: the roles of those steps the template stays far below CloudFormation's 1,000,000 bytes,
#: even with several such pipelines in one stack.
DEFAULT_INLINE_LIMIT: Final = 100_000
#: The file name of a hosted definition in its asset.
DEFINITION_FILE: Final = "definition.json"
#: The placeholder names, ``csm0``, ``csm1``...: unlike a logical id or a parameter name
#: they cannot collide with a name cfn-lint resolves itself (E1029).
PLACEHOLDER_PREFIX: Final = "csm"

#: A CDK string token as Python sees it: ``${Token[TOKEN.123]}``, ``${Token[AWS.Partition.8]}``.
_TOKEN: Final = re.compile(r"\$\{Token\[[^\]\s]+\]\}")


#: What a CDK token in the definition is taken to resolve to, at most, when its size is
#: checked: a role ARN with the pipeline's path is about 110 characters, the code bundle's
#: S3 URL about 120, a partition 3 to 10.
TOKEN_ESTIMATE: Final = 128
#: Room left in a CreateStateMachine request for all but the definition (name, role,
#: logging and tracing settings, tags).
REQUEST_OVERHEAD: Final = 8_192


@dataclass(frozen=True)
class HostedDefinition:
    """A definition as the file CloudFormation reads: its text, with placeholders, and the
    value (a CDK token) of each placeholder."""

    text: str
    substitutions: Mapping[str, str]


def inline_limit(context_value: object) -> int:
    """The inline limit from the CDK context value (None: the default).

    :raises ValueError: for a value that is not a non-negative integer.
    """
    if context_value is None:
        return DEFAULT_INLINE_LIMIT
    if isinstance(context_value, str) and context_value.strip().isdigit():
        return int(context_value)  # cdk synth -c passes strings
    if type(context_value) is int and context_value >= 0:
        return context_value
    raise ValueError(
        f"the CDK context value {INLINE_LIMIT_CONTEXT} must be a number of characters "
        f"(0 or more), got {context_value!r}"
    )


def definition_text(definition: Mapping[str, Any]) -> str:
    """The definition as compact JSON (CDK tokens as Python sees them)."""
    return json.dumps(definition, separators=(",", ":"))


def estimated_size(text: str) -> tuple[int, int]:
    """The definition's characters and its JSON-escaped bytes in a CreateStateMachine
    request, each token taken as :data:`TOKEN_ESTIMATE` characters (an upper bound)."""
    tokens = _TOKEN.findall(text)
    extra = sum(TOKEN_ESTIMATE - len(token) for token in tokens)
    escaped = len(json.dumps(_TOKEN.sub("", text)).encode())
    return len(text) + extra, escaped + TOKEN_ESTIMATE * len(tokens)


def size_problem(text: str, *, pipeline: str, steps: int) -> str | None:
    """Why Step Functions would refuse the definition ``text``, or None: over 1,048,576
    characters, or a CreateStateMachine request over 1 MB."""
    characters, request = estimated_size(text)
    if characters <= MAX_DEFINITION_CHARS and request + REQUEST_OVERHEAD <= MAX_REQUEST_BYTES:
        return None
    return (
        f"the state machine of pipeline {pipeline!r} ({steps} steps) would have a definition "
        f"of about {characters:,} characters ({request:,} bytes in the CreateStateMachine "
        f"request); Step Functions accepts at most {MAX_DEFINITION_CHARS:,} characters and "
        f"{MAX_REQUEST_BYTES:,} bytes per request (a processing step takes about 3 KB): "
        "split the pipeline in two, the second reading the first's outputs through a "
        "DataSource"
    )


def host_definition(text: str) -> HostedDefinition:
    """The definition ``text`` with each CDK token replaced by a ``${csmN}`` placeholder.

    Placeholders are numbered in order of first appearance, so the text (hence the asset
    hash) is the same on every synth of the same pipeline.

    :raises ValueError: if a literal text in the definition holds ``${``.
    """
    literal = _TOKEN.sub("", text)
    if "${" in literal:
        position = literal.index("${")
        raise ValueError(
            "a state-machine definition hosted in S3 cannot hold the text '${' (CloudFormation "
            "would take it for a DefinitionSubstitutions placeholder), found in "
            f"...{literal[max(0, position - 60) : position + 20]}...; remove it from the "
            "literal values of the pipeline (environment values, arguments, tags), or keep "
            f"the definition in the template by raising the CDK context value "
            f"{INLINE_LIMIT_CONTEXT}"
        )
    names: dict[str, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        token = match.group(0)
        if token not in names:
            names[token] = f"{PLACEHOLDER_PREFIX}{len(names)}"
        return "${" + names[token] + "}"

    hosted = _TOKEN.sub(placeholder, text)
    return HostedDefinition(hosted, {name: token for token, name in names.items()})

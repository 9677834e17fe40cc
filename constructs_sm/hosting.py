"""Where a pipeline's state-machine definition lives: in the template, or in S3.

Which definition does CloudFormation read, and from where? A definition of a few dozen
steps is the state machine's ``DefinitionString``, so ``cdk diff`` and a review of the
template show every change. A larger one would not fit: CloudFormation refuses a template
over 1,000,000 bytes, and a 200-step pipeline's definition alone is about 0.9 MB (each
processing step's Task state, with its retry and failure states, is about 4.5 KB). Above
:data:`DEFAULT_INLINE_LIMIT` characters (``constructs-sm:definitionInlineLimit`` in the CDK
context overrides it; ``0`` hosts every definition in S3) the definition is a file asset
that the state machine's ``DefinitionS3Location`` names, and every CDK token in it (role
ARNs, bucket names, the partition) is a ``${csmN}`` placeholder that CloudFormation fills
from ``DefinitionSubstitutions`` when it creates the state machine
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html).

A literal ``${`` in a hosted definition is refused at synth: CloudFormation documents no
escape for it and could take it for a placeholder. Pure: no CDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from constructs_sm.limits import MAX_DEFINITION_CHARS

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


def host_definition(definition: Mapping[str, Any]) -> HostedDefinition:
    """The definition's JSON text with each CDK token replaced by a ``${csmN}`` placeholder.

    Placeholders are numbered in order of first appearance, so the text (hence the asset
    hash) is the same on every synth of the same pipeline.

    :raises ValueError: if a literal text in the definition holds ``${``.
    """
    text = json.dumps(definition, separators=(",", ":"), sort_keys=False)
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


def definition_size_problem(characters: int, pipeline: str, steps: int) -> str | None:
    """Why a definition of ``characters`` characters cannot be created, or None."""
    if characters <= MAX_DEFINITION_CHARS:
        return None
    return (
        f"the state machine of pipeline {pipeline!r} ({steps} steps) has a definition of "
        f"{characters:,} characters; Step Functions accepts at most "
        f"{MAX_DEFINITION_CHARS:,} (about 4.5 KB per processing step): split the pipeline "
        "into two pipelines, the second reading the first's outputs through a DataSource"
    )

"""State-machine definitions with their CloudFormation references, as the rules read them.

:func:`parse_definition` reads the ``DefinitionString`` (or ``Definition``) of an
``AWS::StepFunctions::StateMachine``, intrinsic functions and ``DefinitionSubstitutions``
included: each reference becomes a marker, so the text parses as JSON whatever the
reference resolves to. A :class:`Definition` then tells the processing tasks, the tasks
whose Resource cannot be read, the logical ids referenced and the S3 locations
(:class:`S3Location`) the jobs read and write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from constructs_sm.nag.acknowledge import flatten_reference
from constructs_sm.nag.values import as_list, normalise_pseudo
from constructs_sm.report import walk_states

_MARK_OPEN, _MARK_CLOSE = "\u2045", "\u2046"
_MARK = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_CLOSE}")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_PROCESSING_RESOURCE = re.compile(
    r"^arn:[^:]+:states:::(?:sagemaker:createProcessingJob(?:\.sync|\.waitForTaskToken)?"
    r"|aws-sdk:sagemaker:createProcessingJob)$"
)
_FORMAT = re.compile(r"^\s*States\.Format\(\s*'((?:[^'\\]|\\.)*)'\s*(.*)\)\s*$", re.DOTALL)
_TRACE_DEPTH = 6


@dataclass(frozen=True)
class S3Location:
    """Where a processing job reads (an input) or writes (an output) in S3.

    ``bucket`` is the bucket as text (``<LogicalId>`` for a reference, else the literal
    name), ``key`` the key prefix as a pattern (``*`` stands for any characters, e.g. the
    execution name); either is None when the definition does not tell (a URI taken from
    the execution input).
    """

    role: str | None
    output: bool
    bucket: str | None
    key: str | None


def _split_arguments(text: str) -> list[str]:
    """The comma-separated arguments of an intrinsic function (quotes and nesting kept)."""
    arguments, depth, quoted, escaped, current = [], 0, False, False, ""
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = quoted
        elif char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            arguments.append(current.strip())
            current = ""
            continue
        current += char
    if current.strip():
        arguments.append(current.strip())
    return arguments


@dataclass
class Definition:
    """A parsed state-machine definition; CloudFormation values became markers.

    A marker (``⁅n⁆``) stands for ``references[n]``, the intrinsic function found in the
    ``DefinitionString`` (or a ``DefinitionSubstitutions`` value) at that place.
    """

    document: dict[str, Any]
    references: list[Any]
    _fields: dict[str, list[Any]] | None = field(default=None, repr=False)

    def states(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every state, including those of Parallel branches and Map processors."""
        for name, state, _ in walk_states(self.document):
            yield name, state

    def text(self, value: str) -> str:
        """``value`` with each marker replaced by its reference as :func:`flatten_reference`
        writes it (e.g. ``arn:<AWS::Partition>:states:::...``)."""
        return _MARK.sub(lambda m: flatten_reference(self.references[int(m.group(1))]), value)

    def _resource(self, state: Mapping[str, Any]) -> str | None:
        resource = state.get("Resource")
        return normalise_pseudo(self.text(resource)) if isinstance(resource, str) else None

    def processing_tasks(self) -> list[tuple[str, dict[str, Any]]]:
        """``(state name, Parameters)`` of every task that creates a processing job."""
        return [(name, task_parameters(state)) for name, state in self.processing_states()]

    def processing_states(self) -> list[tuple[str, dict[str, Any]]]:
        """``(state name, state)`` of every processing task."""
        return [
            (name, state)
            for name, state in self.states()
            if state.get("Type") == "Task"
            and _PROCESSING_RESOURCE.match(self._resource(state) or "")
        ]

    def unreadable_tasks(self) -> list[tuple[str, str]]:
        """``(state name, problem)`` of the tasks whose Resource cannot be read at synth
        time (so they might create processing jobs that no rule sees)."""
        found = []
        for name, state in self.states():
            if state.get("Type") != "Task":
                continue
            resource = self._resource(state)
            if resource is None:
                found.append((name, "its Resource is not a string"))
                continue
            if _PROCESSING_RESOURCE.match(resource) or re.fullmatch(r"<[^<>]+\.Arn>", resource):
                continue  # a processing job, or a Lambda function's / an activity's ARN
            parts = resource.split(":", 5)
            if (
                len(parts) == 6
                and parts[0] == "arn"
                and "<" not in parts[2]
                and (parts[2] != "states" or "<" not in parts[5])
                and "${" not in resource
            ):
                continue
            found.append((name, f"its Resource {resource!r} names no service integration"))
        return found

    def referenced_ids(self) -> set[str]:
        """Logical ids referenced anywhere in the definition."""
        return {rid for ref in self.references for rid in logical_ids(ref)}

    def imported_names(self) -> set[str]:
        """The export names the definition imports (``Fn::ImportValue``)."""
        return {n for ref in self.references for n in _imported_names(ref)}

    def reference_id(self, value: Any) -> str | None:
        """The logical id a value refers to when it is exactly one reference."""
        if not isinstance(value, str):
            return None
        match = _MARK.fullmatch(value)
        if match is None:
            return None
        ids = logical_ids(self.references[int(match.group(1))])
        return next(iter(ids)) if len(ids) == 1 else None

    def data_sources(self) -> list[tuple[str, str]]:
        """``(bucket, prefix)`` of every ``s3://`` pattern a Choice state matches a value
        against (``StringMatches 's3://<bucket>/<prefix>*'``): where a pipeline lets its
        parameters point, its data sources (constructs_sm writes them in the state
        ``Check input locations``). The prefix is the literal text before the first
        wildcard; the bucket is as :class:`S3Location` writes it. A pattern with a
        wildcard in the bucket (``s3://*``, a format check) names no data source."""
        found = []
        for _, state in self.states():
            if state.get("Type") != "Choice":
                continue
            todo: list[Any] = list(as_list(state.get("Choices")))
            while todo:
                rule = todo.pop()
                if isinstance(rule, list):
                    todo.extend(rule)
                    continue
                if not isinstance(rule, dict):
                    continue
                todo.extend(rule.get(k) for k in ("Not", "And", "Or") if k in rule)
                pattern = rule.get("StringMatches")
                if isinstance(pattern, str):
                    text = normalise_pseudo(self.text(pattern))
                    if text.startswith("s3://"):
                        bucket, prefix = _pattern_location(text.removeprefix("s3://"))
                        if bucket is not None:
                            found.append((bucket, prefix))
        return found

    # S3 locations -------------------------------------------------------------------

    def _field_values(self, name: str) -> list[Any]:
        """Every value of a field ``name`` (static) or ``name.$`` (as ``("$", expr)``)."""
        if self._fields is None:
            fields: dict[str, list[Any]] = {}
            todo: list[Any] = [self.document]
            while todo:
                item = todo.pop()
                if isinstance(item, dict):
                    for key, value in item.items():
                        if key.endswith(".$") and isinstance(value, str):
                            fields.setdefault(key[:-2], []).append(("$", value))
                        elif isinstance(value, str):
                            fields.setdefault(key, []).append(value)
                        todo.append(value)
                elif isinstance(item, list):
                    todo.extend(item)
            self._fields = fields
        return self._fields.get(name, [])

    def expand(self, expression: str, depth: int = 0) -> str | None:
        """The text a JSONPath or intrinsic expression evaluates to, as a pattern.

        ``States.Format`` is expanded; a ``$.a.b`` path is traced to the one field named
        ``b`` that the definition sets (e.g. ``root`` in a Pass state's Parameters); the
        context object (``$$.Execution.Name``...) and other functions become ``*``. None
        when a path cannot be traced.
        """
        expression = expression.strip()
        if depth > _TRACE_DEPTH:
            return None
        if expression.startswith("'") and expression.endswith("'"):
            return expression[1:-1].replace("\\'", "'").replace("\\\\", "\\")
        if expression.startswith("$$"):
            return "*"
        if expression.startswith("$"):
            name = re.sub(r"\[.*?\]", "", expression).rsplit(".", 1)[-1]
            values = {
                self.expand(v[1], depth + 1) if isinstance(v, tuple) else v
                for v in self._field_values(name)
            }
            return values.pop() if len(values) == 1 else None
        match = _FORMAT.match(expression)
        if match is None:
            return "*"
        template = match.group(1).replace("\\'", "'")
        arguments = _split_arguments(match.group(2).lstrip().removeprefix(","))
        pieces = template.split("{}")
        text = pieces[0]
        for position, piece in enumerate(pieces[1:]):
            argument = arguments[position] if position < len(arguments) else ""
            text += (self.expand(argument, depth + 1) or "*") + piece
        return text

    def _location(self, holder: Any, role: str | None, output: bool) -> S3Location:
        uri: str | None = None
        if isinstance(holder, dict):
            if isinstance(holder.get("S3Uri"), str):
                uri = holder["S3Uri"]
            elif isinstance(holder.get("S3Uri.$"), str):
                uri = self.expand(holder["S3Uri.$"])
        uri = normalise_pseudo(self.text(uri)) if uri is not None else ""
        if not uri.startswith("s3://"):
            return S3Location(role, output, None, None)
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return S3Location(role, output, None if not bucket or "*" in bucket else bucket, key)

    def locations(self) -> list[S3Location]:
        """The S3 inputs and outputs of every processing task (unknown parts as None)."""
        found = []
        for _, params in self.processing_tasks():
            role = self.reference_id(params.get("RoleArn"))
            inputs = params.get("ProcessingInputs")
            if "ProcessingInputs.$" in params or (
                inputs is not None and not isinstance(inputs, list)
            ):
                found.append(S3Location(role, False, None, None))
            for item in as_list(inputs):
                if isinstance(item, dict) and ("S3Input" in item or "S3Input.$" in item):
                    found.append(self._location(item.get("S3Input"), role, False))
            config = params.get("ProcessingOutputConfig")
            outputs = config.get("Outputs") if isinstance(config, dict) else None
            dynamic = "ProcessingOutputConfig.$" in params or (
                isinstance(config, dict) and "Outputs.$" in config
            )
            if dynamic or (outputs is not None and not isinstance(outputs, list)):
                found.append(S3Location(role, True, None, None))
            for item in as_list(outputs):
                if isinstance(item, dict):
                    found.append(self._location(item.get("S3Output"), role, True))
        return found


def _pattern_location(pattern: str) -> tuple[str | None, str]:
    """``(bucket, literal prefix)`` of a ``StringMatches`` pattern ``<bucket>/<key>``
    (``\\*`` and ``\\\\`` are literal; the prefix ends at the first unescaped ``*``)."""
    literal, escaped, wild = "", False, False
    for char in pattern:
        if escaped:
            literal, escaped = literal + char, False
        elif char == "\\":
            escaped = True
        elif char == "*":
            wild = True
            break
        else:
            literal += char
    bucket, slash, prefix = literal.partition("/")
    if not slash and wild:  # the wildcard is in the bucket name
        return None, ""
    return bucket or None, prefix


def task_parameters(state: Mapping[str, Any]) -> dict[str, Any]:
    params = state.get("Parameters", state.get("Arguments", {}))
    return params if isinstance(params, dict) else {}


def _imported_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = set()
        for key, argument in value.items():
            if key == "Fn::ImportValue" and isinstance(argument, str):
                found.add(argument)
            else:
                found |= _imported_names(argument)
        return found
    if isinstance(value, list):
        return {n for item in value for n in _imported_names(item)}
    return set()


def logical_ids(value: Any) -> set[str]:
    """Logical ids (not pseudo parameters) a CloudFormation value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
                found.add(argument)
            elif key == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                for name in _SUB_VARIABLE.findall(text):
                    if not name.startswith("AWS::"):
                        found.add(name.split(".")[0])
                if isinstance(argument, list) and len(argument) > 1:
                    found |= logical_ids(argument[1])
            else:
                found |= logical_ids(argument)
    elif isinstance(value, list):
        for item in value:
            found |= logical_ids(item)
    return found


def _segments(value: Any, references: list[Any]) -> list[str | int] | None:
    """The text of a DefinitionString as literal strings and reference indexes."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and list(value) == ["Fn::Join"]:
        separator, parts = value["Fn::Join"]
        if not isinstance(separator, str) or not isinstance(parts, list):
            return None
        result: list[str | int] = []
        for position, part in enumerate(parts):
            if position and separator:
                result.append(separator)
            if isinstance(part, str):
                result.append(part)
            else:
                references.append(part)
                result.append(len(references) - 1)
        return result
    if isinstance(value, dict) and len(value) == 1:
        references.append(value)
        return [len(references) - 1]
    return None


def _substitute(
    segments: list[str | int], substitutions: Mapping[str, Any], references: list[Any]
) -> list[str | int]:
    """Replace ``${name}`` of DefinitionSubstitutions by references (literals stay text)."""
    if not substitutions:
        return segments
    result: list[str | int] = []
    for segment in segments:
        if isinstance(segment, int):
            result.append(segment)
            continue
        position = 0
        for match in re.finditer(r"\$\{([^}]+)\}", segment):
            if match.group(1) not in substitutions:
                continue
            result.append(segment[position : match.start()])
            references.append(substitutions[match.group(1)])
            result.append(len(references) - 1)
            position = match.end()
        result.append(segment[position:])
    return result


def _render_segments(segments: Sequence[str | int], references: Sequence[Any]) -> str:
    """JSON text with a marker per reference, quoted where it stands outside a string."""
    pieces: list[str] = []
    in_string = escaped = False
    for segment in segments:
        if isinstance(segment, int):
            value = references[segment]
            if isinstance(value, str):  # a literal substitution value
                text = json.dumps(value)[1:-1] if in_string else json.dumps(value)
            else:
                marker = f"{_MARK_OPEN}{segment}{_MARK_CLOSE}"
                text = marker if in_string else f'"{marker}"'
            pieces.append(text)
            continue
        for char in segment:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = in_string
            elif char == '"':
                in_string = not in_string
        pieces.append(segment)
    return "".join(pieces)


def _mark_intrinsics(value: Any, references: list[Any]) -> Any:
    """A ``Definition`` object with its intrinsic functions replaced by markers."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub"):
            references.append(value)
            return f"{_MARK_OPEN}{len(references) - 1}{_MARK_CLOSE}"
        return {k: _mark_intrinsics(v, references) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_intrinsics(item, references) for item in value]
    return value


def parse_definition(properties: Mapping[str, Any]) -> Definition | None:
    """The definition of an ``AWS::StepFunctions::StateMachine``, or None if unreadable.

    Reads ``DefinitionString`` (a string or an ``Fn::Join`` of strings and intrinsic
    functions) or ``Definition``, with ``DefinitionSubstitutions`` applied. Every
    non-string part becomes a marker standing for it (quoted where it stands outside a
    JSON string), so the text parses as JSON whatever the references resolve to. A
    definition in S3 (``DefinitionS3Location``) cannot be read.
    """
    references: list[Any] = []
    if "Definition" in properties and isinstance(properties["Definition"], dict):
        document = _mark_intrinsics(properties["Definition"], references)
        return Definition(document, references)
    segments = _segments(properties.get("DefinitionString"), references)
    if segments is None:
        return None
    substitutions = properties.get("DefinitionSubstitutions") or {}
    if isinstance(substitutions, dict):
        segments = _substitute(segments, substitutions, references)
    try:
        document = json.loads(_render_segments(segments, references), strict=False)
    except ValueError:
        return None
    return Definition(document, references) if isinstance(document, dict) else None

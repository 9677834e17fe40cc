"""The SageMaker API as botocore's service model describes it: enums and strict validation.

botocore's own ``ParamValidator`` checks types, required and unknown members, but none of
the constraints SageMaker enforces on the server: enums (``S3InputMode`` is ``File`` or
``Pipe``; ``InstanceType`` one of about 200 values), patterns (``ProcessingJobName``),
string lengths (a ``ContainerArguments`` item is at most 256 characters) and list sizes
(at most 10 inputs). :func:`request_problems` checks all of them and words each problem
the way SageMaker's ``ValidationException`` does, e.g.
``Value 'FastFile' at 'processingInputs.1.member.s3Input.s3InputMode' failed to satisfy
constraint: Member must satisfy enum value set: [Pipe, File]``.

The synth-time checks read their enums here (:func:`instance_types`), the offline engine
rejects a CreateProcessingJob request with these problems as AWS would, and the tests run
every rendered request through :func:`request_problems`.

Patterns are Java regular expressions matched against the whole value; they use Unicode
classes such as ``\\p{L}``, so they are compiled with the ``regex`` package (installed with
the ``local`` and ``dev`` extras), imported only when a request is validated.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.validate import ParamValidator

SERVICE = "sagemaker"


@functools.cache
def _operation(operation: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model(SERVICE)
    return model.operation_model(operation)


@functools.cache
def instance_types() -> frozenset[str]:
    """Every ``ProcessingInstanceType`` the SageMaker API model allows (``ml.m5.xlarge`` ...)."""
    request = _operation("CreateProcessingJob").input_shape
    resources = request.members["ProcessingResources"]
    assert isinstance(resources, StructureShape)
    cluster = resources.members["ClusterConfig"]
    assert isinstance(cluster, StructureShape)
    return frozenset(cluster.members["InstanceType"].enum)


@functools.cache
def local_path_shape() -> tuple[int, str]:
    """``(max length, pattern)`` of ``ProcessingLocalPath``, the ``LocalPath`` of a
    processing input's ``S3Input`` and of an output's ``S3Output``."""
    request = _operation("CreateProcessingJob").input_shape
    inputs = request.members["ProcessingInputs"]
    assert isinstance(inputs, ListShape)
    item = inputs.member
    assert isinstance(item, StructureShape)
    s3_input = item.members["S3Input"]
    assert isinstance(s3_input, StructureShape)
    shape = s3_input.members["LocalPath"]
    return int(shape.metadata["max"]), str(shape.metadata.get("pattern", ".*"))


@functools.cache
def _pattern(java: str) -> Any:
    import regex  # the local/dev extras: Java's \p{L} classes need it

    return regex.compile(java)


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _quoted(value: object) -> str:
    text = str(value)
    return f"'{text}'" if len(text) <= 256 else f"'{text[:253]}...'"


class _Checker:
    """Walks a request along its shapes, collecting SageMaker-worded problems."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, value: object, where: str, constraint: str) -> None:
        self.problems.append(
            f"Value {_quoted(value)} at '{where}' failed to satisfy constraint: {constraint}"
        )

    def check(self, shape: Shape, value: Any, where: str) -> None:
        if isinstance(shape, StructureShape):
            if isinstance(value, Mapping):
                for name, member in shape.members.items():
                    if name in value:
                        self.check(member, value[name], _join(where, _lower_camel(name)))
            return
        if isinstance(shape, ListShape):
            if isinstance(value, list):
                self._size(shape, value, where, "length")
                for index, item in enumerate(value, start=1):
                    self.check(shape.member, item, f"{where}.{index}.member")
            return
        if isinstance(shape, MapShape):
            if isinstance(value, Mapping):
                self._size(shape, value, where, "length")
                for key, item in value.items():
                    self._map_entry(shape, key, item, where)
            return
        if shape.type_name == "string" and isinstance(value, str):
            for constraint in _string_constraints(shape, value):
                self.fail(value, where, constraint)
        elif shape.type_name in ("integer", "long") and isinstance(value, int):
            self._size(shape, value, where, "value")

    def _map_entry(self, shape: MapShape, key: Any, item: Any, where: str) -> None:
        if isinstance(key, str):
            wrong = _string_constraints(shape.key, key)
            if wrong:
                self.problems.append(
                    f"Map keys must satisfy constraint: [{', '.join(wrong)}] at '{where}' "
                    f"(key {_quoted(key)})"
                )
        if isinstance(item, str):
            wrong = _string_constraints(shape.value, item)
            if wrong:
                self.problems.append(
                    f"Map value must satisfy constraint: [{', '.join(wrong)}] at '{where}' "
                    f"(key {_quoted(key)})"
                )
        else:
            self.check(shape.value, item, f"{where}.{key}")

    def _size(self, shape: Shape, value: Any, where: str, what: str) -> None:
        size = value if what == "value" else len(value)
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if high is not None and size > high:
            self.fail(_shown(value), where, f"Member must have {what} less than or equal to {high}")
        if low is not None and size < low:
            self.fail(
                _shown(value), where, f"Member must have {what} greater than or equal to {low}"
            )


def _shown(value: object) -> object:
    return value if isinstance(value, int | str) else f"[{len(value)} items]"  # type: ignore[arg-type]


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _string_constraints(shape: Shape, value: str) -> list[str]:
    found = []
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        found.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
    high, low = shape.metadata.get("max"), shape.metadata.get("min")
    if high is not None and len(value) > high:
        found.append(f"Member must have length less than or equal to {high}")
    if low is not None and len(value) < low:
        found.append(f"Member must have length greater than or equal to {low}")
    pattern = shape.metadata.get("pattern")
    if pattern is not None and _pattern(pattern).fullmatch(value) is None:
        found.append(f"Member must satisfy regular expression pattern: {pattern}")
    return found


def request_problems(operation: str, request: Mapping[str, Any]) -> list[str]:
    """Every reason SageMaker would reject ``request`` with a ValidationException.

    Types, required and unknown members (botocore's ``ParamValidator``), then enums,
    patterns, lengths, list sizes and numeric ranges of every member present.
    """
    model = _operation(operation)
    report = ParamValidator().validate(dict(request), model.input_shape)
    problems = [line.strip() for line in report.generate_report().splitlines()[1:]]
    checker = _Checker()
    checker.check(model.input_shape, request, "")
    if operation == "CreateProcessingJob":
        checker.problems += processing_path_problems(request)
    return problems + checker.problems


#: Every processing channel's LocalPath "must begin with /opt/ml/processing/" (the model's
#: documentation of ``ProcessingS3Input.LocalPath``; "Build Your Own Processing Container":
#: "the path in the processing container must begin with /opt/ml/processing/").
PROCESSING_PATH_PREFIX = "/opt/ml/processing/"


def processing_path_problems(request: Mapping[str, Any]) -> list[str]:
    """The rules SageMaker applies to channel paths beyond the model's shapes.

    Each ``LocalPath`` begins with ``/opt/ml/processing/``; no two inputs share a path
    (SageMaker refuses it with a ValidationException without a message,
    https://github.com/aws/sagemaker-python-sdk/issues/4939) and no input shares its path
    with an output (https://github.com/aws/sagemaker-python-sdk/issues/1950). SageMaker
    accepts nested paths (the SDK's own ScriptProcessor puts its code channel at
    ``/opt/ml/processing/input/code`` under inputs at ``/opt/ml/processing/input``), so
    this does not refuse them; the pipeline does, at synth.
    """
    inputs = [
        (item.get("InputName"), item["S3Input"].get("LocalPath"))
        for item in request.get("ProcessingInputs") or []
        if isinstance(item, Mapping) and isinstance(item.get("S3Input"), Mapping)
    ]
    config = request.get("ProcessingOutputConfig")
    outputs = [
        (item.get("OutputName"), item["S3Output"].get("LocalPath"))
        for item in (config.get("Outputs") or [] if isinstance(config, Mapping) else [])
        if isinstance(item, Mapping) and isinstance(item.get("S3Output"), Mapping)
    ]
    problems = [
        f"LocalPath {_quoted(path)} of {kind} {_quoted(name)} must begin with "
        f"{PROCESSING_PATH_PREFIX}"
        for kind, channels in (("input", inputs), ("output", outputs))
        for name, path in channels
        if isinstance(path, str) and not path.startswith(PROCESSING_PATH_PREFIX)
    ]
    seen: dict[str, object] = {}
    for name, path in inputs:
        key = str(path).rstrip("/")
        if key in seen:
            problems.append(
                f"Inputs {_quoted(seen[key])} and {_quoted(name)} have the same LocalPath "
                f"{_quoted(path)}"
            )
        seen.setdefault(key, name)
    for name, path in outputs:
        key = str(path).rstrip("/")
        if key in seen:
            problems.append(
                f"Output {_quoted(name)} has the LocalPath {_quoted(path)} of input "
                f"{_quoted(seen[key])}: inputs and outputs need different paths"
            )
    return problems


def validation_message(problems: list[str]) -> str:
    """The message of SageMaker's ValidationException for these problems."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)

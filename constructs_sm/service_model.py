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
    return problems + checker.problems


def validation_message(problems: list[str]) -> str:
    """The message of SageMaker's ValidationException for these problems."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)

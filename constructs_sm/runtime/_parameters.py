"""The step's inputs by value: execution parameters (:func:`params`) and environment values
(:func:`env`), typed and validated against the spec."""

from __future__ import annotations

import copy
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from constructs_sm.runtime._constants import (
    EXPONENT_FROM,
    MAX_SAFE_INTEGER,
    MAX_STRING,
    PARAMS_CHANNEL,
    PARAMS_FILE,
    RESERVED_DIR,
)
from constructs_sm.runtime._errors import ParameterError, RuntimeConfigError
from constructs_sm.runtime._files import container_root, read_json_object
from constructs_sm.runtime._spec import quoted_names, spec
from constructs_sm.runtime._values import TYPE_NOUNS, Value, convert, parse_env_string


class Params(Mapping[str, Any]):
    """The execution parameters of a step, read-only.

    Values are reachable as attributes (``p.epochs``) and as a mapping
    (``p["epochs"]``, ``"epochs" in p``, iteration, ``len(p)``, :meth:`as_dict`).
    A parameter whose name clashes with a mapping method (``items``, ``get``, ...)
    is reachable by subscript only.
    """

    __slots__ = ("_values",)
    _values: Mapping[str, Any]

    def __init__(self, values: Mapping[str, Any]) -> None:
        """Wrap a copy of ``values``."""
        object.__setattr__(self, "_values", MappingProxyType(copy.deepcopy(dict(values))))

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_values":
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"no parameter {name!r}; parameters: {quoted_names(list(self._values))}"
            ) from None

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Params is read-only; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Params is read-only; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Params], tuple[dict[str, Any]]]:
        return (Params, (dict(self._values),))

    def __repr__(self) -> str:
        return f"Params({dict(self._values)!r})"

    def as_dict(self) -> dict[str, Any]:
        """Return a new, independent ``dict`` of the parameters."""
        return copy.deepcopy(dict(self._values))


def _range_text(type_name: str, minimum: object, maximum: object) -> str:
    noun = TYPE_NOUNS[type_name]
    if minimum is not None and maximum is not None:
        return f"{noun} between {minimum} and {maximum}"
    if minimum is not None:
        return f"{noun} >= {minimum}"
    return f"{noun} <= {maximum}"


def _value_problem(what: str, value: object, type_name: str) -> str | None:
    """What no declaration allows: values a JSON number or an environment cannot carry."""
    if type_name in ("integer", "number") and isinstance(value, float):
        if not math.isfinite(value):
            return (
                f"{what} must be a finite number, got {value!r} (NaN, Infinity and numbers "
                f"beyond +-{sys.float_info.max!r}, such as 1e400, cannot be passed)"
            )
        if type_name == "integer" and value.is_integer() and abs(value) >= EXPONENT_FROM:
            return (
                f"{what} must be an integer written without a fraction, got {value!r} "
                "(Step Functions prints an integral number from 10**7 on in exponent "
                "notation, such as 1.0E7, which is no integer)"
            )
    if (
        type_name == "integer"
        and isinstance(value, int)
        and not isinstance(value, bool)
        and abs(value) > MAX_SAFE_INTEGER
    ):
        return (
            f"{what} must be an integer between -2**53 and 2**53, got {value!r} "
            "(beyond, JSON numbers lose integer precision in Step Functions)"
        )
    return None


def _string_problem(what: str, value: str, declared: Mapping[str, Any]) -> str | None:
    """What no string may hold: a NUL character, more than ``max_length`` characters."""
    if "\x00" in value:
        return (
            f"{what} must not contain the NUL character (\\x00, at index "
            f"{value.index(chr(0))}): environment variables and arguments cannot hold it"
        )
    max_length = declared.get("max_length")
    if not isinstance(max_length, int) or isinstance(max_length, bool):
        max_length = MAX_STRING
    if len(value) > max_length:
        return f"{what} must be at most {max_length} characters, got {len(value)}"
    return None


def _texts(what: str, value: object) -> list[tuple[str, str]]:
    """The strings of a value, each with its name in messages: the value itself, or each
    string item of a list (``parameter 'regions' item 1``)."""
    if isinstance(value, str):
        return [(what, value)]
    if isinstance(value, list):
        return [(f"{what} item {i}", item) for i, item in enumerate(value) if isinstance(item, str)]
    return []


def _check_string(what: str, value: str, declared: Mapping[str, Any]) -> None:
    """A string value (or one item of a list) against ``max_length`` and ``pattern``."""
    problem = _string_problem(what, value, declared)
    if problem is not None:
        raise ParameterError(problem)
    pattern = declared.get("pattern")
    if pattern is None:
        return
    try:
        matched = re.search(pattern, value)
    except (re.error, TypeError) as exc:
        raise RuntimeConfigError(f"{what} has an invalid pattern {pattern!r}: {exc}") from None
    if matched is None:
        raise ParameterError(f"{what} must match pattern {pattern!r}, got {value!r}")


def uncarriable(name: str, value: object, declared: Mapping[str, Any]) -> str | None:
    """Why an execution input cannot carry ``value`` to the step, whatever else its
    declaration allows, in :func:`check_parameter`'s words; None when it can.

    NaN, Infinity and numbers beyond the doubles (``1e400``) are no JSON (StartExecution
    refuses them), integers beyond +-2**53 lose precision and integral doubles from 10**7
    on are written ``1.0E7`` by Step Functions; a NUL character cannot be passed in an
    environment variable or an argument, and a string (or list item) over ``max_length``
    (1,024 characters without one) is only noticed by :func:`params` once the job runs.
    The local CLI refuses such an input before it starts an execution.
    """
    what = f"parameter {name!r}"
    type_name = str(declared.get("type", "string"))
    if isinstance(value, float) and not math.isfinite(value):
        return _value_problem(what, value, "number")
    problem = _value_problem(what, value, type_name)
    if problem is not None:
        return problem
    for label, text in _texts(what, value):
        problem = _string_problem(label, text, declared)
        if problem is not None:
            return problem
    return None


def check_parameter(name: str, value: object, declared: Mapping[str, Any]) -> Value:
    """Check one execution-input value against its declaration and return it typed.

    ``declared`` is the parameter's entry in the step spec (``spec()["params"][name]``:
    ``type``, ``choices``, ``max_length``, ``pattern``, ``minimum``, ``maximum``,
    ``max_items``; a ``string_list``'s items are each checked as a string).
    Raises :class:`ParameterError` naming the parameter, the value and what is allowed,
    e.g. ``parameter 'epochs' must be an integer >= 1, got 0``. Besides the declaration,
    it refuses what Step Functions and a container environment cannot carry: NaN,
    Infinity and numbers beyond the doubles (``1e400``), integers beyond +-2**53 or
    written with a fraction from 10**7 on (``1.0E7`` there), strings with a NUL
    character, and strings over ``max_length`` (by default 1,024 characters).

    :func:`params` checks every parameter with it; the local CLI refuses, before it starts
    an execution, what no declaration allows (:func:`uncarriable`) with the same words.
    """
    what = f"parameter {name!r}"
    type_name = str(declared["type"])
    problem = _value_problem(what, value, type_name)
    if problem is not None:
        raise ParameterError(problem)
    value = convert(value, type_name, what=what)
    choices = declared.get("choices")
    if choices is not None and value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{what} must be one of {allowed}, got {value!r}")
    max_items = declared.get("max_items")
    if isinstance(value, list) and isinstance(max_items, int) and len(value) > max_items:
        raise ParameterError(f"{what} must have at most {max_items} items, got {len(value)}")
    for label, text in _texts(what, value):
        _check_string(label, text, declared)
    minimum = declared.get("minimum")
    maximum = declared.get("maximum")
    if type_name in ("integer", "number") and isinstance(value, int | float):
        too_low = minimum is not None and value < minimum
        too_high = maximum is not None and value > maximum
        if too_low or too_high:
            raise ParameterError(
                f"{what} must be {_range_text(type_name, minimum, maximum)}, got {value!r}"
            )
    return value


def params_file() -> Path:
    """The execution parameters file: ``<root>/processing/csm/params/params.json``."""
    return container_root() / RESERVED_DIR / PARAMS_CHANNEL / PARAMS_FILE


def params() -> Params:
    """Read, validate and type the execution parameters of this step.

    Reads ``<root>/processing/csm/params/params.json`` (a JSON object). With a spec,
    every declared parameter is converted by :func:`convert` and checked against its
    ``choices``, ``pattern`` (``re.search``: write anchors yourself) and
    ``minimum``/``maximum``; a parameter missing from the file takes its declared
    default, and one without a default is an error. Keys not declared in the spec are
    dropped. All problems are reported together in one :class:`ParameterError`, e.g.
    ``parameter 'epochs' must be an integer >= 1, got 0``.

    Without a spec the file's values are returned as JSON parsed them. A missing file
    counts as an empty object (a pipeline without parameters has no params channel).
    """
    path = params_file()
    given = read_json_object(path, ParameterError) or {}
    current = spec()
    if current is None:
        return Params(given)
    declared: dict[str, Any] = current.get("params") or {}
    values: dict[str, Value] = {}
    problems: list[str] = []
    for name, entry in declared.items():
        if name in given:
            raw = given[name]
        elif entry.get("default") is not None:
            raw = entry["default"]
        else:
            problems.append(f"parameter {name!r} is required but missing from {path}")
            continue
        try:
            values[name] = check_parameter(name, raw, entry)
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))
    return Params(values)


def env(name: str) -> Value:
    """Return environment variable ``name`` converted back to its declared type.

    With a spec that declares ``name`` under ``env``, the string is converted by
    :func:`parse_env_string` (``"10"`` -> ``10``, ``"1.0E-4"`` -> ``0.0001``,
    ``"TRUE"`` -> ``True``). An undeclared name, or no spec, gives the plain string.
    A variable that is not set, or not convertible, raises :class:`ParameterError`.
    """
    current = spec()
    entry = ((current or {}).get("env") or {}).get(name)
    type_name = str(entry["type"]) if entry else "string"
    text = os.environ.get(name)
    if text is None:
        declared = f" (declared as {type_name})" if entry else ""
        raise ParameterError(f"environment variable {name!r} is not set{declared}")
    return parse_env_string(text, type_name, what=f"environment variable {name!r}")

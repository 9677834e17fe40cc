"""Typed values (``runtime._values``): :func:`convert` and :func:`parse_env_string`."""

from __future__ import annotations

import math

import pytest

from constructs_sm import runtime
from tests.runtime.support import QUOTED


@pytest.mark.parametrize(
    ("value", "type_name", "expected"),
    [
        (10, "integer", 10),
        (-3, "integer", -3),
        (10.0, "integer", 10),
        (2**70, "integer", 2**70),
        (10, "number", 10.0),
        (0.5, "number", 0.5),
        (-1e-4, "number", -1e-4),
        (True, "boolean", True),
        (False, "boolean", False),
        (QUOTED, "string", QUOTED),
        ("", "string", ""),
    ],
)
def test_convert_accepts(value: object, type_name: str, expected: object) -> None:
    converted = runtime.convert(value, type_name, what="x")
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "type_name", "message"),
    [
        (True, "integer", r"x must be an integer, got True \(bool\)"),
        (2.5, "integer", r"x must be an integer, got 2.5 \(float\)"),
        ("10", "integer", r"x must be an integer, got '10' \(str\)"),
        (None, "integer", r"x must be an integer, got None \(NoneType\)"),
        (math.inf, "integer", r"x must be an integer, got inf"),
        (False, "number", r"x must be a number, got False \(bool\)"),
        ("0.1", "number", r"x must be a number, got '0.1' \(str\)"),
        ([1], "number", r"x must be a number, got \[1\] \(list\)"),
        (math.nan, "number", r"x must be a finite number, got nan"),
        (-math.inf, "number", r"x must be a finite number, got -inf"),
        (10**400, "number", r"x is too large for a number"),
        (1, "boolean", r"x must be a boolean, got 1 \(int\)"),
        ("true", "boolean", r"x must be a boolean, got 'true' \(str\)"),
        (5, "string", r"x must be a string, got 5 \(int\)"),
        (None, "string", r"x must be a string, got None"),
    ],
)
def test_convert_rejects(value: object, type_name: str, message: str) -> None:
    with pytest.raises(runtime.ParameterError, match=message):
        runtime.convert(value, type_name, what="x")


def test_convert_raises_the_given_error_class() -> None:
    with pytest.raises(runtime.ReturnValueError, match="return value 'a' must be a string"):
        runtime.convert(1, "string", what="return value 'a'", error=runtime.ReturnValueError)


def test_convert_rejects_unknown_type() -> None:
    with pytest.raises(runtime.RuntimeConfigError, match="unknown type 'int'; allowed: 'string'"):
        runtime.convert(1, "int", what="x")


@pytest.mark.parametrize(
    ("text", "type_name", "expected"),
    [
        ("10", "integer", 10),
        ("-3", "integer", -3),
        ("+7", "integer", 7),
        (" 7\n", "integer", 7),
        ("10.0", "integer", 10),
        ("1E+1", "integer", 10),
        ("12345678901234567890", "integer", 12345678901234567890),
        ("0.01", "number", 0.01),
        ("1.0E-4", "number", 1e-4),
        ("10", "number", 10.0),
        ("-.5", "number", -0.5),
        ("3.", "number", 3.0),
        ("true", "boolean", True),
        ("TRUE", "boolean", True),
        ("False", "boolean", False),
        (" false ", "boolean", False),
        (QUOTED, "string", QUOTED),
        (" padded ", "string", " padded "),
        ("", "string", ""),
    ],
)
def test_parse_env_string_accepts(text: str, type_name: str, expected: object) -> None:
    converted = runtime.parse_env_string(text, type_name)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("text", "type_name", "message"),
    [
        ("ten", "integer", "value must be an integer, got 'ten'"),
        ("2.5", "integer", "value must be an integer, got '2.5'"),
        ("", "integer", "value must be an integer, got ''"),
        ("1_000", "integer", "value must be an integer, got '1_000'"),
        ("1e400", "integer", "value must be an integer, got '1e400'"),
        ("9" * 5000, "integer", "value must be an integer"),
        ("nan", "number", "value must be a number, got 'nan'"),
        ("inf", "number", "value must be a number, got 'inf'"),
        ("0x10", "number", "value must be a number, got '0x10'"),
        ("1e400", "number", "value is too large for a number, got '1e400'"),
        ("yes", "boolean", "value must be a boolean, got 'yes'"),
        ("1", "boolean", "value must be a boolean, got '1'"),
    ],
)
def test_parse_env_string_rejects(text: str, type_name: str, message: str) -> None:
    with pytest.raises(runtime.ParameterError, match=message):
        runtime.parse_env_string(text, type_name)


def test_parse_env_string_rejects_unknown_type() -> None:
    with pytest.raises(runtime.RuntimeConfigError, match="unknown type 'float'"):
        runtime.parse_env_string("1", "float")

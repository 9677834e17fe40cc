"""Typed values: converting JSON values and environment strings to their declared types."""

from __future__ import annotations

import contextlib
import math
import re
from typing import NoReturn, TypeAlias

from constructs_sm.runtime._constants import TYPES
from constructs_sm.runtime._errors import ParameterError, RuntimeConfigError

Value: TypeAlias = "str | int | float | bool | list[str]"
"""A typed value: what parameters, environment values and return values convert to (a
``list[str]`` only for a ``string_list`` parameter)."""

#: Each declared type as the noun of an error message: ``must be an integer``.
TYPE_NOUNS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "string_list": "a list of strings",
}
_ENV_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_ENV_INTEGER = re.compile(r"[+-]?[0-9]+")


def describe(value: object) -> str:
    """Show a value with its Python type: ``'ten' (str)``, ``True (bool)``."""
    return f"{value!r} ({type(value).__name__})"


def _fail(error: type[RuntimeConfigError], what: str, type_name: str, value: object) -> NoReturn:
    raise error(f"{what} must be {TYPE_NOUNS[type_name]}, got {describe(value)}")


def _check_type_name(type_name: str) -> None:
    if type_name not in TYPES:
        allowed = ", ".join(repr(t) for t in TYPES)
        raise RuntimeConfigError(f"unknown type {type_name!r}; allowed: {allowed}")


def convert(
    value: object,
    type_name: str,
    *,
    what: str,
    error: type[RuntimeConfigError] = ParameterError,
) -> Value:
    """Check a JSON-decoded ``value`` against a declared type and return it typed.

    - ``"integer"``: an ``int`` (``10.0`` is accepted as ``10``; booleans and
      non-integral numbers are rejected);
    - ``"number"``: a finite ``float`` (an ``int`` is converted; booleans are rejected);
    - ``"boolean"``: a ``bool`` only;
    - ``"string"``: a ``str`` only;
    - ``"string_list"``: a list of ``str`` (a new ``list``).

    ``what`` names the value in the message (``"parameter 'epochs'"``) and ``error`` is
    the exception class raised when the value is not allowed, e.g.
    ``ParameterError("parameter 'epochs' must be an integer, got 'ten' (str)")``.
    An unknown ``type_name`` raises :class:`RuntimeConfigError`.
    """
    _check_type_name(type_name)
    if type_name == "string_list":
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
    elif type_name == "string":
        if isinstance(value, str):
            return value
    elif type_name == "boolean":
        if isinstance(value, bool):
            return value
    elif isinstance(value, bool):
        pass  # bool is an int subclass, but never a number here
    elif type_name == "integer":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
    elif isinstance(value, int):  # number
        try:
            return float(value)
        except OverflowError:
            raise error(f"{what} is too large for a number, got {value!r}") from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise error(f"{what} must be a finite number, got {value!r}")
        return value
    _fail(error, what, type_name, value)


def parse_env_string(
    text: str,
    type_name: str,
    *,
    what: str = "value",
    error: type[RuntimeConfigError] = ParameterError,
) -> Value:
    """Convert an environment string back to its declared type.

    The pipeline turns every environment value into a string; this reverses it:
    ``"10"`` -> ``10`` for an integer (``"10.0"`` too), ``"0.01"``, ``"1.0E-4"`` or
    ``"10"`` -> ``float`` for a number, ``"true"``/``"false"`` (any case) -> ``bool``
    for a boolean, and a string stays as it is. Surrounding whitespace is ignored
    except for strings. Not-a-number and infinity are rejected.
    """
    _check_type_name(type_name)
    if type_name == "string":
        return text
    if type_name == "string_list":
        raise error(f"{what}: a list of strings is never an environment value, got {text!r}")
    stripped = text.strip()
    if type_name == "boolean":
        lowered = stripped.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    elif type_name == "integer":
        if _ENV_INTEGER.fullmatch(stripped):
            with contextlib.suppress(ValueError):  # beyond int()'s digit limit
                return int(stripped)
        elif _ENV_NUMBER.fullmatch(stripped):
            number = float(stripped)
            if math.isfinite(number) and number.is_integer():
                return int(number)
    elif _ENV_NUMBER.fullmatch(stripped):  # number
        number = float(stripped)
        if math.isfinite(number):
            return number
        raise error(f"{what} is too large for a number, got {text!r}")
    raise error(f"{what} must be {TYPE_NOUNS[type_name]}, got {text!r}")

"""The command line's execution input: ``--input``, the ``{bucket}`` placeholder, and the
values an AWS execution input cannot carry.

- :func:`parse_input` reads ``--input`` (a JSON object) and names ``--input`` when it
  is not one.
- :func:`fill_bucket` / :func:`fill_input`: the channel bucket's name is only known after
  the deploy, so ``s3://{bucket}`` at the start of a ``--data`` URI or of a string value
  of ``--input`` stands for it (``s3://{bucket}/data/raw/``). Nothing else is replaced: a
  ``{bucket}`` anywhere else in a string is the user's own text. ``s3://{{bucket}}``
  writes a literal ``s3://{bucket}``.
- :func:`inexpressible`: values Step Functions cannot take or a step cannot receive as
  written, refused before an execution starts by the container's own check
  (:func:`constructs_sm.runtime.uncarriable`, the words of ``runtime.params()``):

  - ``NaN``, ``Infinity`` and numbers beyond a double (``1e400``): Python's ``json``
    accepts them, JSON (RFC 8259, section 6) does not, so StartExecution would refuse
    the input;
  - NUL characters in strings: environment values are C strings (``execve``), so a step
    cannot receive them as written;
  - strings longer than the parameter's ``max_length``, or 1,024 characters without one
    (:class:`constructs_sm.params.Param`'s limit): the state machine cannot measure a
    string, so only ``runtime.params()`` would notice, after the jobs started;
  - integral doubles of 10^7 and more for integer parameters (``10000000.0``): Step
    Functions, on Java, writes them ``1.0E7``, which the state machine's integer check
    refuses (:func:`constructs_sm.param_checks.integral_text_rules`).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from typing import Any, Final

from constructs_sm.runtime import uncarriable

#: Stands for the pipeline's channel bucket at the start of an S3 URI.
BUCKET_URI: Final = "s3://{bucket}"
#: Writes a literal ``s3://{bucket}``.
ESCAPED_BUCKET_URI: Final = "s3://{{bucket}}"


#: What an undeclared value is checked as: NaN, Infinity and NUL, at any length.
_ANY_STRING: Final = {"type": "string", "max_length": sys.maxsize}


class InputError(ValueError):
    """``--input`` is not a JSON object."""


def _shorten(text: str, limit: int = 200) -> str:
    return (
        repr(text) if len(text) <= limit else repr(text[:limit]) + f" ... ({len(text)} characters)"
    )


def _describe(value: object) -> str:
    """A value with its Python type, as the runtime shows it: ``10000000.0 (float)``."""
    return f"{value!r} ({type(value).__name__})"


def parse_input(text: str) -> dict[str, Any]:
    """``--input`` as a dict; :class:`InputError` naming ``--input`` otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"--input is not valid JSON ({error.msg}: line {error.lineno} column "
            f"{error.colno}), got {_shorten(text)}; write a JSON object such as "
            "'{\"epochs\": 5}'"
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"--input must be a JSON object, got {_describe(value)}")
    return value


def fill_bucket(text: str, bucket: str) -> str:
    """``s3://{bucket}...`` with the bucket's name; ``s3://{{bucket}}...`` as the literal
    ``s3://{bucket}...``; any other string unchanged."""
    if text.startswith(ESCAPED_BUCKET_URI):
        return BUCKET_URI + text[len(ESCAPED_BUCKET_URI) :]
    rest = text[len(BUCKET_URI) :]
    if text.startswith(BUCKET_URI) and (not rest or rest.startswith("/")):
        return f"s3://{bucket}{rest}"
    return text


def fill_input(value: Any, bucket: str) -> Any:
    """:func:`fill_bucket` on every string value of ``value`` (keys are left alone)."""
    if isinstance(value, str):
        return fill_bucket(value, bucket)
    if isinstance(value, list):
        return [fill_input(item, bucket) for item in value]
    if isinstance(value, dict):
        return {key: fill_input(item, bucket) for key, item in value.items()}
    return value


def _has(value: Any, test: Any) -> bool:
    if isinstance(value, dict):
        return any(_has(item, test) for item in value.values())
    if isinstance(value, list):
        return any(_has(item, test) for item in value)
    return bool(test(value))


def _nested(name: str, value: Any) -> str | None:
    """NaN, infinities and NUL characters anywhere inside a list or object value."""
    if _has(value, lambda v: isinstance(v, float) and not math.isfinite(v)):
        return f"parameter {name!r} must not hold NaN or infinite numbers, got {value!r}"
    if _has(value, lambda v: isinstance(v, str) and "\x00" in v):
        return f"parameter {name!r} must not contain NUL characters (\\u0000), got {value!r}"
    return None


def inexpressible(params: Mapping[str, Any], declared: Mapping[str, Any]) -> list[str]:
    """Why values of ``params`` cannot go into an AWS execution input (see the module
    doc), one message per parameter, in the runtime's words; empty when all can."""
    problems = []
    for name, value in params.items():
        entry = declared.get(name)
        spec = entry if isinstance(entry, Mapping) else {}
        if isinstance(value, list | dict):
            # NaN, Infinity and NUL anywhere inside, besides what the declaration checks
            problem = (uncarriable(name, value, spec) if spec else None) or _nested(name, value)
        else:
            # in the container's own words; an undeclared value whatever its length
            problem = uncarriable(name, value, spec or _ANY_STRING)
        if problem:
            problems.append(problem)
    return problems

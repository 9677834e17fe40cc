"""The state machine's checks of the execution input, as ASL (pure data).

What do ``Select parameters`` and ``Check parameters`` check, and how? Here: each
:class:`~constructs_sm.params.Param` declaration becomes ``Choice`` rules (type tests,
bounds, globs for anchored patterns, the integer-ness of numbers as Step Functions
prints them, each item of a string list) and ``Fail`` states naming the parameter
(:func:`validation_states`); the declared defaults are merged into the input by one
intrinsic (:func:`defaults_expression`). A bad input fails with the error
``InvalidParameters`` before the first job starts.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from constructs_sm.params import (
    _DOUBLE_MAX,
    _INT_LIMIT,
    _MAX_BASE64,
    INVALID_PARAMETERS,
    Param,
    ParamType,
)
from constructs_sm.runtime import EXPONENT_FROM


def _string_matches_glob(pattern: str) -> str | None:
    """Translate a regex to a ``StringMatches`` glob when it is a plain anchored literal.

    ``^s3://`` becomes ``s3://*``; ``\\.csv$`` becomes ``*.csv``; anything that is not a
    literal (character classes, repetition, alternation) returns None and is checked by
    the container runtime instead.
    """
    body = pattern
    head = body.startswith("^")
    tail = body.endswith("$") and not body.endswith("\\$")
    body = body[1 if head else 0 : len(body) - (1 if tail else 0)]
    literal = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            if index + 1 >= len(body) or body[index + 1].isalnum():
                return None  # \d, \w, \b ... are classes, not literals
            literal.append(body[index + 1])
            index += 2
            continue
        if char in ".^$*+?{}[]|()":
            return None
        literal.append(char)
        index += 1
    text = glob_literal("".join(literal))
    return ("" if head else "*") + text + ("" if tail else "*")


def glob_literal(text: str) -> str:
    """Escape a literal for a ``StringMatches`` pattern (``*`` and ``\\``)."""
    return re.sub(r"([\\*])", r"\\\1", text)


def _fail_state_name(name: str, missing: bool) -> str:
    return f"Missing parameter {name}" if missing else f"Invalid parameter {name}"


def type_test(type_name: ParamType) -> str:
    """The Choice-rule type test of a declared type (``IsString``, ``IsNumeric``, ...)."""
    return {"string": "IsString", "boolean": "IsBoolean"}.get(type_name, "IsNumeric")


def integer_text_rules(text_path: str, fail: str) -> list[dict[str, Any]]:
    """Choice rules failing when a number's text (``States.Format``) is not an integer."""
    return [
        {"Variable": text_path, "StringMatches": glob, "Next": fail}
        for glob in ("*.*", "*e*", "*E*")
    ]


def integral_text_rules(text_path: str, fail: str) -> list[dict[str, Any]]:
    """Choice rules failing when a number's text is not integral: ``5`` and ``5.0`` pass
    (JSON does not tell integers from integral doubles), ``5.5`` and ``1.0E7`` do not.

    Step Functions runs on Java, whose doubles of 10^7 and more print in exponent
    notation (``1.0E7``): an integral value written with a fraction is accepted below that
    size only (:func:`validation_states` adds a rule holding the offline engine, whose
    Python prints ``10000000.0``, to the same limit).
    """
    return [
        {
            "And": [
                {"Variable": text_path, "StringMatches": "*.*"},
                {"Not": {"Variable": text_path, "StringMatches": "*.0"}},
            ],
            "Next": fail,
        },
        *({"Variable": text_path, "StringMatches": glob, "Next": fail} for glob in ("*e*", "*E*")),
    ]


def integer_value_expression(text_path: str) -> str:
    """An intrinsic expression turning an integral number's text (``5.0``) into ``5``."""
    return f"States.StringToJson(States.ArrayGetItem(States.StringSplit({text_path}, '.'), 0))"


def _within(path: str, low: float, high: float) -> dict[str, Any]:
    """A Choice condition true for a number in ``[low, high]`` (never for NaN)."""
    return {
        "And": [
            {"Variable": path, "NumericGreaterThanEquals": low},
            {"Variable": path, "NumericLessThanEquals": high},
        ]
    }


def _value_rules(param: Param, path: str, text_path: str, fail: str) -> list[dict[str, Any]]:
    """Choice rules that fail when a (correctly typed) value is out of its declared bounds.

    Numbers must also be what a double holds (not ``1e400``, which Step Functions reads as
    Infinity; the offline engine also lets NaN and Infinity through, which AWS refuses as
    invalid JSON), integers within +-2**53 and, written with a fraction, below 10**7 (the
    text of a larger one has an exponent on AWS, ``1.0E7``: the offline engine, which
    prints ``10000000.0``, is held to the same rule).
    """
    rules: list[dict[str, Any]] = []
    if param.type == "integer":
        # An integer is a number whose text has no fraction (other than .0) or exponent.
        rules += integral_text_rules(text_path, fail)
        rules.append({"Not": _within(path, -_INT_LIMIT, _INT_LIMIT), "Next": fail})
        big = EXPONENT_FROM
        below_big = {
            "And": [
                {"Variable": path, "NumericGreaterThan": -big},
                {"Variable": path, "NumericLessThan": big},
            ]
        }
        rules.append(
            {
                "And": [{"Variable": text_path, "StringMatches": "*.*"}, {"Not": below_big}],
                "Next": fail,
            }
        )
    elif param.type == "number":
        rules.append({"Not": _within(path, -_DOUBLE_MAX, _DOUBLE_MAX), "Next": fail})
    if param.minimum is not None:
        rules.append({"Variable": path, "NumericLessThan": param.minimum, "Next": fail})
    if param.maximum is not None:
        rules.append({"Variable": path, "NumericGreaterThan": param.maximum, "Next": fail})
    pattern_glob = _string_matches_glob(param.pattern) if param.pattern is not None else None
    if pattern_glob is not None:
        test: dict[str, Any] = {"Variable": path, "StringMatches": pattern_glob}
        if not pattern_glob.endswith("*"):
            # Python's ``$`` also matches before a final newline: ``^a$`` accepts "a\n".
            test = {"Or": [test, {"Variable": path, "StringMatches": pattern_glob + "\n"}]}
        rules.append({"Not": test, "Next": fail})
    if param.choices is not None:
        op = "StringEquals" if param.type == "string" else "NumericEquals"
        tests = [{"Variable": path, op: choice} for choice in param.choices]
        condition = tests[0] if len(tests) == 1 else {"Or": tests}
        rules.append({"Not": condition, "Next": fail})
    return rules


def _list_rules(param: Param, path: str, fail: str) -> list[dict[str, Any]]:
    """Choice rules that fail a list with an item that is not a string, or too many items."""
    assert param.max_items is not None
    not_strings = [
        {
            "And": [
                {"Variable": f"{path}[{index}]", "IsPresent": True},
                {"Not": {"Variable": f"{path}[{index}]", "IsString": True}},
            ]
        }
        for index in range(param.max_items)
    ]
    any_not_string = {"Or": not_strings} if len(not_strings) > 1 else not_strings[0]
    return [
        {**any_not_string, "Next": fail},
        {"Variable": f"{path}[{param.max_items}]", "IsPresent": True, "Next": fail},
    ]


def validation_states(
    params: Mapping[str, Param],
    *,
    next_state: str,
    carry: Sequence[str] = (),
    locations: Mapping[str, Sequence[str]] | None = None,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Two states that select and check ``$.params``, then continue at ``next_state``.

    ``Select parameters`` (a Pass) keeps only the declared parameters (keys of the input
    that are not parameters are dropped) and the state's ``carry`` fields, and formats
    integer parameters as text for the integer checks. ``Check parameters`` (a Choice)
    fails on, in order: a missing required parameter (``null``: the merged input holds
    every required parameter as ``null`` until the input gives it), a wrong JSON type,
    then bounds (integer-ness, minimum/maximum, choices, patterns expressible as a
    ``StringMatches`` glob) and ``locations`` (a string parameter used as an input must
    be an S3 URI under one of its prefixes). A Choice takes the first rule that matches,
    so the bounds are only compared once the types are right. Each parameter has its own
    ``Fail`` state with error ``InvalidParameters`` and a cause naming it.
    """
    states: dict[str, dict[str, Any]] = {}
    if not params:
        return next_state, states
    presence: list[dict[str, Any]] = []
    types: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    texts: dict[str, str] = {}
    for name, param in params.items():
        path = f"$.params.{name}"
        invalid = _fail_state_name(name, missing=False)
        if param.required:
            missing = _fail_state_name(name, missing=True)
            presence.append({"Variable": path, "IsNull": True, "Next": missing})
            states[missing] = {
                "Type": "Fail",
                "Error": INVALID_PARAMETERS,
                "Cause": f"parameter '{name}' is required: it must be {param.describe()}",
            }
        if param.type == "string_list":
            # No Choice rule tests for a list: its JSON text starts with "[" (any other
            # JSON value's does not); then each possible item by its index.
            texts[f"{name}.$"] = f"States.JsonToString({path})"
            listed = {"Variable": f"$.checks.{name}", "StringMatches": "[*"}
            types.append({"Not": listed, "Next": invalid})
            values += _list_rules(param, path, invalid)
        else:
            types.append({"Not": {"Variable": path, type_test(param.type): True}, "Next": invalid})
        if param.type == "integer":
            texts[f"{name}.$"] = f"States.Format('{{}}', {path})"
        if param.type != "string_list":
            values += _value_rules(param, path, f"$.checks.{name}", invalid)
        states[invalid] = {
            "Type": "Fail",
            "Error": INVALID_PARAMETERS,
            "Cause": f"parameter '{name}' must be {param.describe()}",
        }
    for name, prefixes in (locations or {}).items():
        fail = f"Invalid location {name}"
        tests = [
            {"Variable": f"$.params.{name}", "StringMatches": glob_literal(prefix) + "*"}
            for prefix in prefixes
        ]
        values.append({"Not": tests[0] if len(tests) == 1 else {"Or": tests}, "Next": fail})
        states[fail] = {
            "Type": "Fail",
            "Error": INVALID_PARAMETERS,
            "Cause": f"parameter '{name}' must be an S3 URI under "
            + " or ".join(prefixes)
            + " (the pipeline's data sources, which its steps may read)",
        }
    select, check = "Select parameters", "Check parameters"
    selected: dict[str, Any] = {"params": {f"{n}.$": f"$.params.{n}" for n in params}}
    if texts:
        selected["checks"] = texts
    selected.update({f"{field}.$": f"$.{field}" for field in carry})
    states[select] = {"Type": "Pass", "Parameters": selected, "Next": check}
    states[check] = {
        "Type": "Choice",
        "Choices": presence + types + values,
        "Default": next_state,
    }
    return select, states


def defaults_expression(params: Mapping[str, Param]) -> str:
    """Intrinsic expression of the declared defaults merged with the execution input.

    Required parameters are ``null`` in the defaults, so that the merged object holds
    every parameter (see :func:`validation_states`).
    """
    defaults = {n: p.default for n, p in params.items()}
    text = json.dumps(defaults, separators=(",", ":"))
    # Base64 needs no escaping inside the intrinsic's quotes (and keeps the nulls, which
    # CDK would drop from a JSON object in the definition).
    encoded = base64.b64encode(text.encode()).decode()
    if len(encoded) > _MAX_BASE64:
        raise ValueError(
            f"the parameters' defaults are {len(text)} characters of JSON, "
            f"{len(encoded)} in base64; Step Functions' States.Base64Decode takes at most "
            f"{_MAX_BASE64}: shorten the string defaults"
        )
    return (
        f"States.JsonMerge(States.StringToJson(States.Base64Decode('{encoded}')), "
        "$$.Execution.Input, false)"
    )

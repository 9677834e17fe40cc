"""Param declaration, synth-time validation and the state-machine checks it renders."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from constructs_sm.param_checks import (
    _string_matches_glob,
    defaults_expression,
    glob_literal,
    validation_states,
)
from constructs_sm.params import INVALID_PARAMETERS, Param, validate_params

#: The factories' signatures reject these at type-check time; the checks are for callers
#: without a type checker.
UNTYPED: Any = Param


def test_factories_set_type_and_required() -> None:
    assert Param.string("raw_uri").required
    assert Param.integer("epochs", default=10).type == "integer"
    assert not Param.boolean("debug", default=False).required
    assert Param.number("lr", default=1).default == 1


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: Param.string("1bad"), r"name must match .* got '1bad'"),
        (lambda: Param.string("has-dash"), r"name must match"),
        (lambda: Param.string("a" * 65), r"name must match"),
        (lambda: Param.string("keys"), r"name 'keys' is reserved"),
        (lambda: Param.integer("n", minimum=5, maximum=1), r"minimum must not exceed maximum"),
        (lambda: Param.integer("n", default=0, minimum=1), r"default must be >= 1, got 0"),
        (lambda: Param.number("x", default=2.5, maximum=2), r"default must be <= 2, got 2.5"),
        (lambda: Param.string("s", pattern="("), r"not a valid regular expression"),
        (lambda: Param.string("s", default="x", pattern=r"^s3://"), r"default must match"),
        (lambda: Param.string("s", choices=[]), r"choices must not be empty"),
        (lambda: Param.string("s", choices=["a", "a"]), r"choices must be unique"),
        (lambda: Param.string("s", default="c", choices=["a", "b"]), r"must be one of"),
        (lambda: Param("s", "string", minimum=1), r"minimum/maximum apply to integer"),
        (lambda: Param("s", "integer", pattern="x"), r"pattern applies to string"),
        (lambda: Param("b", "boolean", choices=(True,)), r"choices do not apply to boolean"),
        (
            lambda: Param("x", "date"),  # type: ignore[arg-type]
            r"type must be string, integer, number, boolean or string_list",
        ),
        (lambda: Param.string("s", default="a\x00b"), r"default must not contain the NUL"),
        (lambda: Param.string("s", choices=["ok", "a\x00"]), r"choice must not contain the NUL"),
        (
            lambda: Param.string("s", choices=["abc"], max_length=2),
            r"choices must be at most 2 characters \(max_length\), got \['abc'\]",
        ),
        (lambda: Param.string("s", choices=["x.txt"], pattern=r"\.csv$"), r"choice must match"),
        (lambda: Param.integer("n", choices=[0, 5], minimum=1), r"choice must be >= 1, got 0"),
        (lambda: Param.integer("n", choices=[2**53 + 1]), r"choice must be between -2\*\*53"),
    ],
)
def test_invalid_declarations_raise_value_error(factory: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: UNTYPED.integer("n", default=1.5), r"default must be an integer, got 1.5"),
        (lambda: UNTYPED.integer("n", default=True), r"default must be an integer, got True"),
        (lambda: UNTYPED.number("x", default="1"), r"default must be a number, got '1'"),
        (lambda: UNTYPED.boolean("b", default=1), r"default must be a boolean, got 1"),
        (lambda: UNTYPED.string("s", default=3), r"default must be a string"),
        (lambda: UNTYPED.integer("n", minimum=0.5), r"minimum must be an integer, got 0.5"),
        (lambda: UNTYPED.integer("n", choices=[1, "2"]), r"choices must all be integers"),
        (
            lambda: UNTYPED.string("s", choices="abc"),
            r"choices must be a list of strings, got 'abc'",
        ),
        (lambda: UNTYPED.integer("n", choices=5), r"choices must be a list of integers, got 5"),
        (lambda: UNTYPED.string("s", description=5), r"description must be a str, got 5 \(int\)"),
        (lambda: Param.number("x", default=10**400), r"default must be a number, got 1000"),
        (lambda: Param.number("x", minimum=-(10**400)), r"minimum must be a number, got -1000"),
    ],
)
def test_wrong_types_raise_type_error(factory: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        factory()


def test_all_problems_of_a_declaration_are_reported_together() -> None:
    with pytest.raises(ValueError, match=r"name must match.*; minimum must not exceed"):
        Param.integer("9x", minimum=3, maximum=1)


def test_check_describes_what_is_wrong() -> None:
    epochs = Param.integer("epochs", default=10, minimum=1, maximum=100)
    assert epochs.check(5) is None
    assert epochs.check(0) == "must be >= 1, got 0"
    assert epochs.check(True) == "must be an integer between 1 and 100, got True"
    assert (
        Param.string("s", pattern="^s3://").check("http://x")
        == "must match '^s3://', got 'http://x'"
    )
    assert Param.string("s").check("x" * 1025) == "must be at most 1024 characters, got 1025"
    assert Param.number("x").check(float("nan")) is not None
    assert (
        Param.integer("n").check(2**60)
        == "must be between -2**53 and 2**53, got 1152921504606846976"
    )


def test_spec_is_what_the_runtime_reads() -> None:
    spec = Param.integer("epochs", default=10, minimum=1).spec()
    assert spec == {
        "type": "integer",
        "default": 10,
        "minimum": 1,
        "maximum": None,
        "choices": None,
        "pattern": None,
        "max_length": None,
        "max_items": None,
    }


def test_a_string_list_declares_its_items() -> None:
    regions = Param.string_list("regions", default=["eu", "us"], max_items=3)
    assert regions.default == ("eu", "us") and regions.required is False
    assert regions.check(["a", "b", "c"]) is None
    assert regions.check(["a"] * 4) == "must have at most 3 items, got 4"
    assert regions.check(["a", 1]) is not None
    assert regions.check("a,b") is not None
    assert regions.check(["x" * 257]) == f"items must be at most 256 characters, got {'x' * 257!r}"
    assert regions.describe() == "a list of at most 3 strings of at most 256 chars"
    assert regions.spec()["default"] == ["eu", "us"] and regions.spec()["max_items"] == 3


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (
            lambda: Param.string_list("l", max_items=0),
            r"max_items must be an int between 1 and 100",
        ),
        (lambda: Param.string_list("l", max_items=101), r"max_items must be an int between 1 and"),
        (lambda: Param.string_list("l", default=["a"] * 3, max_items=2), r"default must have at"),
        (lambda: Param("l", "string_list", pattern="x", max_items=2), r"do not apply to string"),
    ],
)
def test_bad_string_lists_are_refused(factory: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()
    with pytest.raises(TypeError, match=r"default must be a list of strings"):
        Param.string_list("l", default=[1])  # type: ignore[list-item]


def test_a_string_list_is_checked_by_the_state_machine() -> None:
    """The value's JSON text starts with "[", each possible item is a string, no more."""
    regions = Param.string_list("regions", max_items=2)
    _, states = validation_states({"regions": regions}, next_state="Go")
    select = states["Select parameters"]["Parameters"]
    assert select["checks"] == {"regions.$": "States.JsonToString($.params.regions)"}
    rules = states["Check parameters"]["Choices"]
    assert {
        "Not": {"Variable": "$.checks.regions", "StringMatches": "[*"},
        "Next": "Invalid parameter regions",
    } in rules
    assert {
        "Variable": "$.params.regions[2]",
        "IsPresent": True,
        "Next": "Invalid parameter regions",
    } in rules
    items = next(r for r in rules if "Or" in r)["Or"]
    assert items[1] == {
        "And": [
            {"Variable": "$.params.regions[1]", "IsPresent": True},
            {"Not": {"Variable": "$.params.regions[1]", "IsString": True}},
        ]
    }


def test_validate_params_rejects_duplicates_and_non_params() -> None:
    with pytest.raises(ValueError, match=r"duplicate names: a"):
        validate_params([Param.string("a"), Param.integer("a", default=1)])
    with pytest.raises(TypeError, match=r"params\[1\] must be a Param"):
        validate_params([Param.string("a"), "b"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("pattern", "glob"),
    [
        (r"^s3://", "s3://*"),
        (r"\.csv$", "*.csv"),
        (r"^exact$", "exact"),
        (r"mid", "*mid*"),
        (r"^a\*b", "a\\*b*"),
        (r"^s3://[a-z]+/", None),
        (r"\d+", None),
        (r"a|b", None),
        (r"^x.y", None),
    ],
)
def test_regex_to_string_matches_glob(pattern: str, glob: str | None) -> None:
    assert _string_matches_glob(pattern) == glob


def _states() -> tuple[str, dict[str, dict[str, Any]]]:
    params = validate_params(
        [
            Param.string("raw_uri", pattern=r"^s3://"),
            Param.integer("epochs", default=10, minimum=1, maximum=100),
            Param.number("lr", default=0.1, choices=[0.1, 0.2]),
            Param.boolean("debug", default=False),
            Param.string("mode", default="a", choices=["a"]),
        ]
    )
    return validation_states(params, next_state="Next")


def test_validation_selects_then_checks_presence_types_and_values_in_one_choice() -> None:
    start, states = _states()
    select = states[start]
    assert (start, select["Type"], select["Next"]) == (
        "Select parameters",
        "Pass",
        "Check parameters",
    )
    assert select["Parameters"]["params"] == {
        f"{name}.$": f"$.params.{name}" for name in ("raw_uri", "epochs", "lr", "debug", "mode")
    }
    assert select["Parameters"]["checks"] == {"epochs.$": "States.Format('{}', $.params.epochs)"}
    check = states["Check parameters"]
    assert (check["Type"], check["Default"]) == ("Choice", "Next")
    rules = check["Choices"]
    # A missing required parameter is null in the merged input; its check comes first.
    assert rules[0] == {
        "Variable": "$.params.raw_uri",
        "IsNull": True,
        "Next": "Missing parameter raw_uri",
    }
    # Then every type, so that the value rules only compare values of the right type.
    tests = [next(k for k in r["Not"] if k != "Variable") for r in rules[1:6]]
    assert tests == ["IsString", "IsNumeric", "IsNumeric", "IsBoolean", "IsString"]
    values = rules[6:]
    assert {
        "And": [
            {"Variable": "$.checks.epochs", "StringMatches": "*.*"},
            {"Not": {"Variable": "$.checks.epochs", "StringMatches": "*.0"}},
        ],
        "Next": "Invalid parameter epochs",
    } in values
    assert {
        "Variable": "$.params.epochs",
        "NumericLessThan": 1,
        "Next": "Invalid parameter epochs",
    } in values
    assert {
        "Variable": "$.params.epochs",
        "NumericGreaterThan": 100,
        "Next": "Invalid parameter epochs",
    } in values
    assert {
        "Not": {"Variable": "$.params.raw_uri", "StringMatches": "s3://*"},
        "Next": "Invalid parameter raw_uri",
    } in values
    assert {
        "Not": {
            "Or": [
                {"Variable": "$.params.lr", "NumericEquals": 0.1},
                {"Variable": "$.params.lr", "NumericEquals": 0.2},
            ]
        },
        "Next": "Invalid parameter lr",
    } in values
    assert {
        "Not": {"Variable": "$.params.mode", "StringEquals": "a"},
        "Next": "Invalid parameter mode",
    } in values


def test_defaults_are_merged_with_the_input_in_one_expression() -> None:
    params = validate_params([Param.string("s", default="it's {x} \\"), Param.integer("n")])
    expression = defaults_expression(params)
    encoded = expression.split("'")[1]
    assert json.loads(base64.b64decode(encoded)) == {"s": "it's {x} \\", "n": None}
    assert expression == (
        f"States.JsonMerge(States.StringToJson(States.Base64Decode('{encoded}')), "
        "$$.Execution.Input, false)"
    )
    too_long = validate_params([Param.string(f"s{i}", default="x" * 1000) for i in range(8)])
    with pytest.raises(ValueError, match=r"States.Base64Decode takes at most 10000"):
        defaults_expression(too_long)


def test_each_parameter_fails_with_invalid_parameters_naming_it() -> None:
    _, states = _states()
    fails = {name: s for name, s in states.items() if s["Type"] == "Fail"}
    assert set(fails) == {
        "Missing parameter raw_uri",
        "Invalid parameter raw_uri",
        "Invalid parameter epochs",
        "Invalid parameter lr",
        "Invalid parameter debug",
        "Invalid parameter mode",
    }
    assert all(f["Error"] == INVALID_PARAMETERS for f in fails.values())
    assert fails["Invalid parameter epochs"]["Cause"] == (
        "parameter 'epochs' must be an integer between 1 and 100"
    )
    assert "required" in fails["Missing parameter raw_uri"]["Cause"]


def test_no_params_means_no_states() -> None:
    assert validation_states({}, next_state="Next") == ("Next", {})


def test_no_integer_parameters_need_no_texts() -> None:
    start, states = validation_states({"b": Param.boolean("b", default=True)}, next_state="N")
    assert "checks" not in states[start]["Parameters"]
    assert states["Check parameters"]["Default"] == "N"


def test_glob_literals_are_escaped() -> None:
    assert glob_literal("a*b\\c") == "a\\*b\\\\c"


def test_a_number_parameter_takes_any_double() -> None:
    """Only integers are held to +-2**53; a number holds what a double holds."""
    assert Param.number("x", default=2**60).check(2**60) is None
    assert Param.number("x").check(10**400) is not None


def test_choices_may_be_any_iterable() -> None:
    assert UNTYPED.string("s", choices=(c for c in "ab")).choices == ("a", "b")


def _value_rules_of(param: Param) -> list[dict[str, Any]]:
    """The value rules of the parameter check: not the presence and type tests."""
    start, states = validation_states({param.name: param}, next_state="Next")
    rules = states[states[start]["Next"]]["Choices"]

    def tests_presence_or_type(rule: dict[str, Any]) -> bool:
        test = rule.get("Not", rule)
        return "Variable" in test and any(key.startswith("Is") for key in test)

    return [rule for rule in rules if not tests_presence_or_type(rule)]


def test_numbers_must_be_doubles_and_integers_safe() -> None:
    """1e400 (Infinity to Step Functions), NaN and Infinity (which the offline engine
    lets in) fail a number; an integer beyond +-2**53 or, written with a fraction, from
    10**7 on (1.0E7 on AWS, 10000000.0 offline) fails an integer."""
    number = _value_rules_of(Param.number("x", default=1.0))
    assert {
        "Not": {
            "And": [
                {"Variable": "$.params.x", "NumericGreaterThanEquals": -1.7976931348623157e308},
                {"Variable": "$.params.x", "NumericLessThanEquals": 1.7976931348623157e308},
            ]
        },
        "Next": "Invalid parameter x",
    } in number
    integer = _value_rules_of(Param.integer("n", default=1))
    assert {
        "Not": {
            "And": [
                {"Variable": "$.params.n", "NumericGreaterThanEquals": -(2**53)},
                {"Variable": "$.params.n", "NumericLessThanEquals": 2**53},
            ]
        },
        "Next": "Invalid parameter n",
    } in integer
    assert {
        "And": [
            {"Variable": "$.checks.n", "StringMatches": "*.*"},
            {
                "Not": {
                    "And": [
                        {"Variable": "$.params.n", "NumericGreaterThan": -(10**7)},
                        {"Variable": "$.params.n", "NumericLessThan": 10**7},
                    ]
                }
            },
        ],
        "Next": "Invalid parameter n",
    } in integer


def test_an_anchored_end_also_accepts_a_final_newline_as_python_does() -> None:
    """``re.search(r"\\.csv$", "a.csv\\n")`` matches: the glob accepts the same."""
    rules = _value_rules_of(Param.string("s", pattern=r"\.csv$"))
    assert rules == [
        {
            "Not": {
                "Or": [
                    {"Variable": "$.params.s", "StringMatches": "*.csv"},
                    {"Variable": "$.params.s", "StringMatches": "*.csv\n"},
                ]
            },
            "Next": "Invalid parameter s",
        }
    ]
    assert _value_rules_of(Param.string("s", pattern="^s3://")) == [
        {
            "Not": {"Variable": "$.params.s", "StringMatches": "s3://*"},
            "Next": "Invalid parameter s",
        }
    ]

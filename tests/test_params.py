"""Param declaration, synth-time validation and the state-machine checks it renders."""

from __future__ import annotations

from typing import Any

import pytest

from constructs_sm.params import (
    INVALID_PARAMETERS,
    Param,
    _string_matches_glob,
    glob_literal,
    validate_params,
    validation_states,
)

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
        (lambda: Param("x", "date"), r"type must be string, integer, number or boolean"),  # type: ignore[arg-type]
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


def test_validation_checks_presence_then_types_then_values() -> None:
    start, states = _states()
    types = states[start]
    assert types["Type"] == "Choice"
    rules = types["Choices"]
    # The only required parameter's presence is checked first.
    assert rules[0] == {
        "Not": {"Variable": "$.params.raw_uri", "IsPresent": True},
        "Next": "Missing parameter raw_uri",
    }
    tests = [next(k for k in r["Not"] if k != "Variable") for r in rules[1:]]
    assert tests == ["IsString", "IsNumeric", "IsNumeric", "IsBoolean", "IsString"]
    render = states[types["Default"]]
    assert render["Parameters"] == {"epochs.$": "States.Format('{}', $.params.epochs)"}
    values = states[render["Next"]]["Choices"]
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
    assert states[render["Next"]]["Default"] == "Next"


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


def test_no_bounds_skip_the_values_choice() -> None:
    start, states = validation_states({"b": Param.boolean("b", default=True)}, next_state="N")
    assert states[start]["Default"] == "N"
    assert "Check parameter bounds" not in states


def test_glob_literals_are_escaped() -> None:
    assert glob_literal("a*b\\c") == "a\\*b\\\\c"


def test_a_number_parameter_takes_any_double() -> None:
    """Only integers are held to +-2**53; a number holds what a double holds."""
    assert Param.number("x", default=2**60).check(2**60) is None
    assert Param.number("x").check(10**400) is not None


def test_choices_may_be_any_iterable() -> None:
    assert UNTYPED.string("s", choices=(c for c in "ab")).choices == ("a", "b")


def _value_rules_of(param: Param) -> list[dict[str, Any]]:
    start, states = validation_states({param.name: param}, next_state="Next")
    render = states[states[start]["Default"]]
    bounds = states[render.get("Next", states[start]["Default"])]
    return list(bounds["Choices"])


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

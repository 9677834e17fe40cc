"""constructs_sm.local.inputs: --input, the {bucket} placeholder, values AWS cannot carry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs_sm.local.inputs import (
    InputError,
    fill_bucket,
    fill_input,
    inexpressible,
    parse_input,
)
from constructs_sm.params import Param
from constructs_sm.runtime import ParameterError, check_parameter

DECLARED: dict[str, Any] = {
    "count": Param.integer("count", default=1).spec(),
    "ratio": Param.number("ratio", default=0.5).spec(),
    "flag": Param.boolean("flag", default=False).spec(),
    "label": Param.string("label", default="", max_length=8).spec(),
    "uri": Param.string("uri", default="s3://b/").spec(),
}


def test_an_object_is_read() -> None:
    assert parse_input('{"count": 2, "uri": "s3://{bucket}/x"}') == {
        "count": 2,
        "uri": "s3://{bucket}/x",
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{n: 1", r"--input is not valid JSON \(Expecting property name .*\), got '\{n: 1'"),
        ("", r"--input is not valid JSON \(Expecting value: line 1 column 1\)"),
        ("[1, 2]", r"--input must be a JSON object, got \[1, 2\] \(list\)"),
        ('"text"', r"--input must be a JSON object, got 'text' \(str\)"),
    ],
)
def test_a_malformed_input_names_input(text: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse_input(text)


def test_a_long_malformed_input_is_shortened_in_the_message() -> None:
    with pytest.raises(InputError, match=r"\.\.\. \(5000 characters\)") as caught:
        parse_input("x" * 5000)
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    ("text", "filled"),
    [
        ("s3://{bucket}/data/raw/", "s3://chan/data/raw/"),
        ("s3://{bucket}", "s3://chan"),
        ("s3://{{bucket}}/data/", "s3://{bucket}/data/"),
        ("s3://{bucket}x/", "s3://{bucket}x/"),
        ("hello {bucket}", "hello {bucket}"),
        ("see s3://{bucket}/x", "see s3://{bucket}/x"),
        ("{bucket}", "{bucket}"),
    ],
)
def test_only_the_bucket_of_an_s3_uri_is_filled(text: str, filled: str) -> None:
    assert fill_bucket(text, "chan") == filled


def test_fill_input_reaches_every_string_value_but_no_key() -> None:
    given = {
        "s3://{bucket}": "s3://{bucket}/a",
        "n": 1,
        "l": ["s3://{bucket}/b", {"k": "s3://{bucket}"}],
    }
    assert fill_input(given, "chan") == {
        "s3://{bucket}": "s3://chan/a",
        "n": 1,
        "l": ["s3://chan/b", {"k": "s3://chan"}],
    }


def _runtime_message(value: object, name: str) -> str:
    """What the container's own check (``runtime.params()``) says of ``value``."""
    with pytest.raises(ParameterError) as caught:
        check_parameter(name, value, DECLARED[name])
    return str(caught.value)


def test_values_json_has_no_words_for_are_refused_as_the_runtime_words_them() -> None:
    params = parse_input('{"ratio": NaN, "count": Infinity, "flag": -1e400}')
    problems = inexpressible(params, DECLARED)
    assert problems[:2] == [
        _runtime_message(float("nan"), "ratio"),
        _runtime_message(float("inf"), "count"),
    ]
    assert problems[0].startswith("parameter 'ratio' must be a finite number, got nan (NaN,")
    # a boolean declared, an infinite number given: what no JSON carries comes first
    assert problems[2].startswith("parameter 'flag' must be a finite number, got -inf")
    assert "such as 1e400, cannot be passed" in problems[2]


def test_nul_characters_and_overlong_strings_are_refused() -> None:
    params = {"label": "abcdefghi", "uri": "s3://b/" + "k" * 1020, "count": "a\x00b"}
    assert inexpressible(params, DECLARED) == [
        _runtime_message("abcdefghi", "label"),
        _runtime_message("s3://b/" + "k" * 1020, "uri"),
        # an integer declared, a string given: the state machine words the type; the
        # NUL character is what no input can carry to the step
        "parameter 'count' must not contain the NUL character (\\x00, at index 1): "
        "environment variables and arguments cannot hold it",
    ]
    assert (
        inexpressible(params, DECLARED)[0]
        == "parameter 'label' must be at most 8 characters, got 9"
    )
    assert inexpressible({"label": "abcdefgh", "uri": "s3://b/" + "k" * 1017}, DECLARED) == []


@pytest.mark.parametrize("value", [1e7, -1e7, 12345678.0, 1e15])
def test_integral_doubles_java_writes_in_exponent_notation_are_refused(value: float) -> None:
    (problem,) = inexpressible({"count": value}, DECLARED)
    assert problem == _runtime_message(value, "count")
    assert problem.startswith(
        f"parameter 'count' must be an integer written without a fraction, got {value!r}"
    )


@pytest.mark.parametrize("value", [9999999.0, 4.0, -9999999.0, 10000000, 10**12])
def test_integers_and_small_integral_doubles_pass_for_integers(value: float) -> None:
    assert inexpressible({"count": value}, DECLARED) == []


@pytest.mark.parametrize("value", [1e7, 12345678.0, 1e300, 0.5])
def test_any_finite_number_passes_for_numbers(value: float) -> None:
    assert inexpressible({"ratio": value}, DECLARED) == []


def test_nested_values_are_searched_for_nan_and_nul() -> None:
    params = json.loads('{"a": [1, {"b": NaN}], "c": ["x\\u0000"], "d": [1, "ok"]}')
    assert inexpressible(params, {}) == [
        "parameter 'a' must not hold NaN or infinite numbers, got [1, {'b': nan}]",
        "parameter 'c' must not contain NUL characters (\\u0000), got ['x\\x00']",
    ]


def test_list_items_are_checked_as_strings() -> None:
    declared = {"regions": {"type": "string_list", "max_length": 256, "max_items": 5}}
    assert inexpressible({"regions": ["eu", "x" * 300]}, declared) == [
        "parameter 'regions' item 1 must be at most 256 characters, got 300"
    ]
    assert inexpressible({"regions": ["eu", "us"]}, declared) == []


def test_nan_and_nul_nested_in_declared_values_are_refused() -> None:
    declared = {"tags": {"type": "string_list"}, "name": {"type": "string"}}
    nan, inf = float("nan"), float("inf")
    assert inexpressible({"tags": ["a", nan]}, declared) == [
        "parameter 'tags' must not hold NaN or infinite numbers, got ['a', nan]"
    ]
    assert inexpressible({"name": {"k": inf}}, declared) == [
        "parameter 'name' must not hold NaN or infinite numbers, got {'k': inf}"
    ]
    assert inexpressible({"tags": [["\x00"]]}, declared) == [
        "parameter 'tags' must not contain NUL characters (\\u0000), got [['\\x00']]"
    ]


def test_an_undeclared_string_is_not_held_to_a_length() -> None:
    assert inexpressible({"free": "x" * 5000}, {}) == []
    assert inexpressible({"free": "a\x00"}, {})[0].startswith(
        "parameter 'free' must not contain the NUL character"
    )

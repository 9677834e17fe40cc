"""Properties of the runtime's conversions: every typed value survives the trip through
the state machine (environment strings, the params file) and back, as Step Functions
(Java) and the offline engine (Python) print it; what AWS cannot carry is refused, with
one message for the runtime and the local CLI (:func:`runtime.check_parameter`)."""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from constructs_sm import runtime
from tests.runtime.support import param_entry
from tests.strategies import java_double, java_json

SAFE = runtime.MAX_SAFE_INTEGER
integers = st.integers(min_value=-SAFE, max_value=SAFE)
numbers = st.floats(allow_nan=False, allow_infinity=False)
#: Strings as a parameter may hold them: no NUL, at most 1,024 characters.
strings = st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=40)
FAST = settings(max_examples=150, deadline=None, database=None)


def moto_format(value: object) -> str:
    """``States.Format('{}', value)`` in the offline engine (moto: ``json.dumps``)."""
    return value if isinstance(value, str) else json.dumps(value)


def java_format(value: object, digits: int | None = None) -> str:
    """``States.Format('{}', value)`` on AWS: Java's text of the JSON value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value, digits=digits)
    return str(value)


def same(left: object, right: object) -> bool:
    """Equal with the same type (``1 == 1.0 == True`` in Python; not here)."""
    return type(left) is type(right) and left == right


@FAST
@given(value=numbers, digits=st.sampled_from([None, 17]))
@example(value=1e-4, digits=None)  # 1.0E-4 on AWS, 0.0001 offline
@example(value=1e7, digits=None)  # 1.0E7 on AWS, 10000000.0 offline
@example(value=5e-324, digits=None)  # 4.9E-324 on AWS, 5e-324 offline
@example(value=sys.float_info.max, digits=None)
@example(value=-0.0, digits=None)
def test_numbers_survive_the_environment(value: float, digits: int | None) -> None:
    for text in (java_format(value, digits), moto_format(value)):
        assert same(runtime.parse_env_string(text, "number"), value), text


@FAST
@given(value=integers | st.integers(min_value=-(10**6), max_value=10**6))
@example(value=SAFE)
@example(value=-SAFE)
def test_integers_survive_the_environment(value: int) -> None:
    """Numbers of an integer parameter reach the environment as integers: the state
    machine turns ``5.0`` into ``5`` first (``States.StringToJson`` of its text)."""
    for text in (java_format(value), moto_format(value)):
        assert same(runtime.parse_env_string(text, "integer"), value), text
    # an integer-valued number parameter reads back as a float
    assert same(runtime.parse_env_string(str(value), "number"), float(value))


@FAST
@given(value=st.booleans())
def test_booleans_survive_the_environment(value: bool) -> None:
    for text in (java_format(value), moto_format(value)):
        assert same(runtime.parse_env_string(text, "boolean"), value)


@FAST
@given(value=strings)
@example(value=" padded ")
@example(value="1.0E-4")
@example(value="true")
def test_strings_survive_the_environment_as_they_are(value: str) -> None:
    assert same(runtime.parse_env_string(value, "string"), value)


SPEC_PARAMS = {
    "count": param_entry("integer"),
    "rate": param_entry("number"),
    "flag": param_entry("boolean"),
    "text": param_entry("string"),
}


def read_params_file(content: str) -> runtime.Params:
    """What ``runtime.params()`` makes of a params file holding ``content``."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        root = Path(tmp)
        spec = root / runtime.SPEC_FILE
        spec.write_text(json.dumps({"version": 1, "params": SPEC_PARAMS}), encoding="utf-8")
        target = root / runtime.RESERVED_DIR / runtime.PARAMS_CHANNEL / runtime.PARAMS_FILE
        target.parent.mkdir(parents=True)
        target.write_text(content, encoding="utf-8")
        patch.setenv(runtime.ML_DIR_ENV, str(root))
        patch.setenv(runtime.SPEC_ENV, str(spec))
        return runtime.params()


@FAST
@given(count=integers, rate=numbers | integers, flag=st.booleans(), text=strings)
@example(count=SAFE, rate=1e-4, flag=True, text='quote " backslash \\ ünïcode \n tab \t')
@example(count=-SAFE, rate=2**53, flag=False, text="\x01\x1f\x7f")
@example(count=0, rate=1e300, flag=False, text="x" * runtime.MAX_STRING)
def test_typed_values_survive_the_params_file(
    count: int, rate: float, flag: bool, text: str
) -> None:
    """``States.JsonToString($.params)``, as Jackson (AWS) and moto (offline) write it."""
    given_values = {"count": count, "rate": rate, "flag": flag, "text": text}
    expected = {
        name: runtime.check_parameter(name, value, SPEC_PARAMS[name])
        for name, value in given_values.items()
    }
    assert same(expected["rate"], float(rate))
    for content in (java_json(given_values), json.dumps(given_values, separators=(",", ":"))):
        read = read_params_file(content).as_dict()
        assert read.keys() == expected.keys()
        for name, value in expected.items():
            assert same(read[name], value), (name, content)


#: What Step Functions or a container environment cannot carry, as JSON text and as the
#: value Python's json module reads from it.
UNCARRIABLE: list[tuple[str, str, object]] = [
    ("rate", "NaN", math.nan),
    ("rate", "Infinity", math.inf),
    ("rate", "-Infinity", -math.inf),
    ("rate", "1e400", math.inf),
    ("count", "1e400", math.inf),
    ("count", "NaN", math.nan),
    ("count", str(SAFE + 1), SAFE + 1),
    ("count", str(-SAFE - 1), -SAFE - 1),
    ("count", "1e7", 1e7),
    ("count", "10000000.0", 1e7),
    ("text", '"a\\u0000b"', "a\x00b"),
    ("text", json.dumps("x" * (runtime.MAX_STRING + 1)), "x" * (runtime.MAX_STRING + 1)),
]
MESSAGES = {
    "NaN": "must be a finite number, got nan",
    "Infinity": "must be a finite number, got inf",
    "-Infinity": "must be a finite number, got -inf",
    "1e400": "must be a finite number, got inf (NaN, Infinity and numbers beyond",
    str(SAFE + 1): "must be an integer between -2**53 and 2**53, got 9007199254740993",
    str(-SAFE - 1): "must be an integer between -2**53 and 2**53, got -9007199254740993",
    "1e7": "must be an integer written without a fraction, got 10000000.0",
    "10000000.0": "must be an integer written without a fraction, got 10000000.0",
    '"a\\u0000b"': r"must not contain the NUL character (\x00, at index 1)",
}


@pytest.mark.parametrize(("name", "text", "value"), UNCARRIABLE)
def test_values_aws_cannot_carry_are_refused_with_one_message(
    name: str, text: str, value: object
) -> None:
    """The message ``check_parameter`` gives is the one ``params()`` reports for the value
    (the local CLI calls ``check_parameter`` too). A params file cannot hold NaN or
    Infinity at all: they are not JSON, and Step Functions never writes them."""
    with pytest.raises(runtime.ParameterError) as caught:
        runtime.check_parameter(name, value, SPEC_PARAMS[name])
    message = str(caught.value)
    assert message.startswith(f"parameter {name!r} ")
    expected = MESSAGES.get(text, f"must be at most {runtime.MAX_STRING} characters, got 1025")
    assert expected in message
    good: dict[str, Any] = {"count": 1, "rate": 1.0, "flag": True, "text": "t"}
    content = json.dumps(good)[:-1] + f", {json.dumps(name)}: {text}}}"
    if text in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(runtime.ParameterError, match=f"is not valid JSON: {text} is not"):
            read_params_file(content)
        return
    with pytest.raises(runtime.ParameterError) as from_file:
        read_params_file(content)
    assert str(from_file.value) == message


@FAST
@given(
    declared=st.fixed_dictionaries(
        {"type": st.sampled_from(runtime.TYPES)},
        optional={
            "max_length": st.integers(min_value=1, max_value=30),
            "pattern": st.sampled_from([r"^s3://", r"\.csv$", r"^[a-z]+$", "a|b"]),
            "minimum": st.integers(-5, 5) | st.floats(-5, 5),
            "maximum": st.integers(-5, 5) | st.floats(-5, 5),
            "max_items": st.integers(min_value=0, max_value=3),
        },
    ),
    value=st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.lists(st.integers(), max_size=2)
    | st.lists(st.text(max_size=40), max_size=5),
)
def test_check_parameter_returns_a_typed_value_or_names_the_parameter(
    declared: dict[str, Any], value: object
) -> None:
    """Any JSON value against any declaration: a value of the declared type, or a
    ParameterError naming the parameter (never another exception)."""
    try:
        typed = runtime.check_parameter("p", value, declared)
    except runtime.ParameterError as error:
        assert str(error).startswith("parameter 'p' ")
        return
    kind = {"string": str, "integer": int, "number": float, "boolean": bool, "string_list": list}
    assert type(typed) is kind[declared["type"]]
    if isinstance(typed, float):
        assert math.isfinite(typed)
    if isinstance(typed, int) and not isinstance(typed, bool):
        assert abs(typed) <= SAFE
    for text in typed if isinstance(typed, list) else [typed] if isinstance(typed, str) else []:
        assert "\x00" not in text
        assert len(text) <= declared.get("max_length", runtime.MAX_STRING)
    if isinstance(typed, list):
        assert len(typed) <= declared.get("max_items", len(typed))

"""Execution parameters and environment values (``runtime._parameters``)."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest

from constructs_sm import runtime
from tests.runtime.support import GOOD_PARAMS, QUOTED, SPEC, SpecWriter, param_entry, write_params


def test_params_are_typed(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, {**GOOD_PARAMS, "learning_rate": 1, "epochs": 12.0})
    p = runtime.params()
    assert p.epochs == 12
    assert type(p.epochs) is int
    assert p.learning_rate == 1.0
    assert type(p.learning_rate) is float
    assert p.debug is True
    assert p.note == QUOTED
    assert p.raw_uri == "s3://bucket/raw/data.csv"
    assert p.as_dict() == {**GOOD_PARAMS, "learning_rate": 1.0, "epochs": 12}


def test_params_take_defaults_and_drop_undeclared_keys(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, {"raw_uri": "s3://b/k", "extra": 1})
    p = runtime.params()
    assert p.as_dict() == {
        "raw_uri": "s3://b/k",
        "epochs": 10,
        "batch": 32,
        "learning_rate": 0.01,
        "debug": False,
        "mode": "fast",
        "note": "",
    }
    assert "extra" not in p


def test_params_mapping_and_attribute_access(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, GOOD_PARAMS)
    p = runtime.params()
    assert p["epochs"] == p.epochs == 12
    assert "epochs" in p
    assert "nope" not in p
    assert sorted(p) == sorted(SPEC["params"])
    assert len(p) == len(SPEC["params"])
    assert dict(p.items()) == GOOD_PARAMS
    assert p == GOOD_PARAMS
    assert p.get("nope", 3) == 3
    assert "Params({" in repr(p)
    copied = p.as_dict()
    copied["epochs"] = 1
    assert p.epochs == 12
    with pytest.raises(KeyError):
        p["nope"]
    with pytest.raises(AttributeError, match="no parameter 'nope'; parameters: 'raw_uri'"):
        _ = p.nope


def test_params_are_read_only_and_copyable(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, GOOD_PARAMS)
    p = runtime.params()
    with pytest.raises(AttributeError, match="Params is read-only; cannot set 'epochs'"):
        p.epochs = 3
    with pytest.raises(AttributeError, match="read-only"):
        del p.epochs
    with pytest.raises(TypeError):
        p._values["epochs"] = 3  # type: ignore[index]
    assert copy.deepcopy(p) == p
    assert pickle.loads(pickle.dumps(p)) == p


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, r"^parameter 'epochs' must be an integer >= 1, got 0$"),
        ({"epochs": "ten"}, r"parameter 'epochs' must be an integer, got 'ten' \(str\)"),
        ({"epochs": True}, r"parameter 'epochs' must be an integer, got True \(bool\)"),
        ({"epochs": 2.5}, r"parameter 'epochs' must be an integer, got 2.5 \(float\)"),
        ({"epochs": None}, r"parameter 'epochs' must be an integer, got None"),
        ({"batch": 513}, r"parameter 'batch' must be an integer <= 512, got 513"),
        (
            {"learning_rate": 2},
            r"parameter 'learning_rate' must be a number between 0 and 1, got 2.0",
        ),
        ({"learning_rate": -0.5}, r"parameter 'learning_rate' must be a number between 0 and 1"),
        ({"learning_rate": False}, r"parameter 'learning_rate' must be a number, got False"),
        ({"learning_rate": "0.1"}, r"parameter 'learning_rate' must be a number, got '0.1'"),
        ({"debug": "false"}, r"parameter 'debug' must be a boolean, got 'false' \(str\)"),
        ({"debug": 0}, r"parameter 'debug' must be a boolean, got 0 \(int\)"),
        ({"mode": "slow"}, r"parameter 'mode' must be one of 'fast', 'full', got 'slow'"),
        ({"raw_uri": "http://x/y"}, r"parameter 'raw_uri' must match pattern '\^s3://'"),
        ({"raw_uri": 5}, r"parameter 'raw_uri' must be a string, got 5 \(int\)"),
        ({"note": ["a"]}, r"parameter 'note' must be a string, got \['a'\] \(list\)"),
    ],
)
def test_params_validation_errors(
    ml: Path, use_spec: SpecWriter, changes: dict[str, Any], message: str
) -> None:
    use_spec()
    write_params(ml, {**GOOD_PARAMS, **changes})
    with pytest.raises(runtime.ParameterError, match=message):
        runtime.params()


def test_params_report_all_problems_at_once(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, {"epochs": 0, "mode": "slow"})
    with pytest.raises(runtime.ParameterError) as caught:
        runtime.params()
    message = str(caught.value)
    assert "parameter 'raw_uri' is required but missing from" in message
    assert "parameter 'epochs' must be an integer >= 1, got 0" in message
    assert "parameter 'mode' must be one of 'fast', 'full', got 'slow'" in message


def test_params_pattern_uses_search(ml: Path, use_spec: SpecWriter) -> None:
    spec_params = copy.deepcopy(SPEC["params"])
    spec_params["raw_uri"]["pattern"] = r"\.csv"  # no anchors: found anywhere
    use_spec(params=spec_params)
    write_params(ml, {"raw_uri": "s3://b/data.csv.gz"})
    assert runtime.params().raw_uri == "s3://b/data.csv.gz"


def test_params_invalid_pattern_in_spec(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(params={"name": param_entry("string", pattern="(")})
    write_params(ml, {"name": "x"})
    with pytest.raises(runtime.RuntimeConfigError, match="parameter 'name' has an invalid pattern"):
        runtime.params()


def test_params_missing_required(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, {})
    with pytest.raises(runtime.ParameterError, match="parameter 'raw_uri' is required but missing"):
        runtime.params()


def test_params_missing_file_uses_defaults(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(params={"epochs": param_entry("integer", default=10)})
    assert runtime.params().as_dict() == {"epochs": 10}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "params.json is not valid JSON"),
        ('{"epochs": NaN}', "params.json is not valid JSON: NaN is not valid JSON"),
        ("[1, 2]", "params.json must hold a JSON object, got list"),
    ],
)
def test_params_file_errors(ml: Path, use_spec: SpecWriter, content: str, message: str) -> None:
    use_spec()
    write_params(ml, content)
    with pytest.raises(runtime.ParameterError, match=message):
        runtime.params()


def test_params_without_spec_are_returned_as_parsed(ml: Path) -> None:
    assert len(runtime.params()) == 0
    write_params(ml, {"epochs": "10", "extra": [1, 2], "lr": 1})
    p = runtime.params()
    assert p.as_dict() == {"epochs": "10", "extra": [1, 2], "lr": 1}
    assert type(p.lr) is int


def test_params_read_at_call_time(
    ml: Path, use_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_spec()
    write_params(ml, GOOD_PARAMS)
    assert runtime.params().epochs == 12
    other = tmp_path / "other"
    write_params(other, {**GOOD_PARAMS, "epochs": 3})
    monkeypatch.setenv(runtime.ML_DIR_ENV, str(other))
    assert runtime.params().epochs == 3


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("EPOCHS", "10", 10),
        ("LEARNING_RATE", "0.01", 0.01),
        ("LEARNING_RATE", "1.0E-4", 1e-4),
        ("ACC", "10", 10.0),
        ("DEBUG", "TRUE", True),
        ("DEBUG", "false", False),
        ("MODE", QUOTED, QUOTED),
        ("UNDECLARED", "42", "42"),
    ],
)
def test_env_converts_by_declared_type(
    use_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: object
) -> None:
    use_spec()
    monkeypatch.setenv(name, text)
    value = runtime.env(name)
    assert value == expected
    assert type(value) is type(expected)


def test_env_without_spec_is_a_string(ml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPOCHS", "10")
    assert runtime.env("EPOCHS") == "10"


def test_env_missing_variable(use_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    use_spec()
    monkeypatch.delenv("EPOCHS", raising=False)
    monkeypatch.delenv("OTHER", raising=False)
    with pytest.raises(
        runtime.ParameterError,
        match=r"environment variable 'EPOCHS' is not set \(declared as integer\)",
    ):
        runtime.env("EPOCHS")
    with pytest.raises(runtime.ParameterError, match=r"environment variable 'OTHER' is not set$"):
        runtime.env("OTHER")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("EPOCHS", "ten", "environment variable 'EPOCHS' must be an integer, got 'ten'"),
        ("EPOCHS", "2.5", "environment variable 'EPOCHS' must be an integer, got '2.5'"),
        ("ACC", "high", "environment variable 'ACC' must be a number, got 'high'"),
        ("DEBUG", "yes", "environment variable 'DEBUG' must be a boolean, got 'yes'"),
    ],
)
def test_env_conversion_errors(
    use_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch, name: str, text: str, message: str
) -> None:
    use_spec()
    monkeypatch.setenv(name, text)
    with pytest.raises(runtime.ParameterError, match=message):
        runtime.env(name)


def test_string_params_respect_max_length(ml: Path, use_spec: SpecWriter) -> None:
    params = copy.deepcopy(SPEC["params"])
    params["raw_uri"]["max_length"] = 12
    use_spec(params=params)
    write_params(ml, {"raw_uri": "s3://bucket/too-long/"})
    with pytest.raises(runtime.ParameterError, match=r"'raw_uri' must be at most 12 characters"):
        runtime.params()

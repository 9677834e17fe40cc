"""Tests of the container-side runtime (``constructs_sm.runtime``), stdlib only.

``tmp_path`` stands in for ``/opt/ml`` (via ``CSM_ML_DIR``) and the step spec is
pointed at with ``CSM_STEP_SPEC``. The launcher is exercised end to end by the same
bootstrap the pipeline puts in a job's ContainerEntrypoint.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import os
import pickle
import runpy
import shutil
import stat
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from constructs_sm import runtime
from constructs_sm.runtime import launch

RUNTIME_DIR = Path(runtime.__file__).resolve().parent

BOOT = runtime.BOOTSTRAP

QUOTED = """it's a "quoted" string  with  spaces, \\ and ünïcode"""


def _param(type_name: str, **settings: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": type_name,
        "default": None,
        "minimum": None,
        "maximum": None,
        "choices": None,
        "pattern": None,
    }
    entry.update(settings)
    return entry


SPEC: dict[str, Any] = {
    "version": 1,
    "pipeline": "Pipeline",
    "step": "train",
    "params": {
        "raw_uri": _param("string", pattern=r"^s3://"),
        "epochs": _param("integer", default=10, minimum=1),
        "batch": _param("integer", default=32, maximum=512),
        "learning_rate": _param("number", default=0.01, minimum=0, maximum=1),
        "debug": _param("boolean", default=False),
        "mode": _param("string", default="fast", choices=["fast", "full"]),
        "note": _param("string", default=""),
    },
    "env": {
        "EPOCHS": {"type": "integer", "source": "param:epochs"},
        "LEARNING_RATE": {"type": "number", "source": "param:learning_rate"},
        "ACC": {"type": "number", "source": "value:evaluate.accuracy"},
        "DEBUG": {"type": "boolean", "source": "param:debug"},
        "MODE": {"type": "string", "source": "literal"},
    },
    "inputs": ["train"],
    "outputs": ["model"],
    "returns": {"accuracy": "number", "rows": "integer", "label": "string", "ok": "boolean"},
}

CSM_VARIABLES = (
    runtime.ML_DIR_ENV,
    runtime.SPEC_ENV,
    runtime.CODE_DIR_ENV,
    runtime.STEP_ENV,
    runtime.PIPELINE_ENV,
)


@pytest.fixture
def ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh container root, with no spec and no CSM variables from the outside."""
    for name in CSM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "ml"
    root.mkdir()
    monkeypatch.setenv(runtime.ML_DIR_ENV, str(root))
    return root


SpecWriter = Callable[..., Path]


@pytest.fixture
def use_spec(ml: Path, monkeypatch: pytest.MonkeyPatch) -> SpecWriter:
    """Write a spec (``SPEC`` with top-level overrides) and point CSM_STEP_SPEC at it."""

    def write(**overrides: Any) -> Path:
        data = copy.deepcopy(SPEC)
        data.update(overrides)
        path = ml.parent / runtime.SPEC_FILE
        path.write_text(json.dumps(data), encoding="utf-8")
        monkeypatch.setenv(runtime.SPEC_ENV, str(path))
        return path

    return write


def write_params(ml: Path, data: object) -> Path:
    path = ml / "processing" / "input" / runtime.PARAMS_CHANNEL / runtime.PARAMS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def returns_file(ml: Path) -> Path:
    return ml / "processing" / "output" / runtime.RETURNS_CHANNEL / runtime.RETURNS_FILE


def read_returns(ml: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(returns_file(ml).read_text(encoding="utf-8"))
    return data


GOOD_PARAMS: dict[str, Any] = {
    "raw_uri": "s3://bucket/raw/data.csv",
    "epochs": 12,
    "batch": 64,
    "learning_rate": 0.001,
    "debug": True,
    "mode": "full",
    "note": QUOTED,
}


# --------------------------------------------------------------------------- constants


def test_public_constants_match_the_contract() -> None:
    assert runtime.SPEC_FILE == "csm_step.json"
    assert (runtime.PARAMS_CHANNEL, runtime.PARAMS_FILE) == ("params", "params.json")
    assert runtime.CODE_CHANNEL == "code"
    assert (runtime.RETURNS_CHANNEL, runtime.RETURNS_FILE) == ("returns", "values.json")
    assert (runtime.ML_DIR_ENV, runtime.DEFAULT_ML_DIR) == ("CSM_ML_DIR", "/opt/ml")
    assert (runtime.STEP_ENV, runtime.PIPELINE_ENV) == ("CSM_STEP", "CSM_PIPELINE")
    assert (runtime.CODE_DIR_ENV, runtime.SPEC_ENV) == ("CSM_CODE_DIR", "CSM_STEP_SPEC")
    assert runtime.TYPES == ("string", "integer", "number", "boolean")
    assert set(runtime.__all__) <= set(dir(runtime))


def test_exception_hierarchy() -> None:
    assert issubclass(runtime.ParameterError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ParameterError, ValueError)
    assert issubclass(runtime.ChannelError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ChannelError, LookupError)
    assert issubclass(runtime.ReturnValueError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ReturnValueError, ValueError)


# --------------------------------------------------------------------------- convert


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


# --------------------------------------------------------------------------- parse_env_string


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


# --------------------------------------------------------------------------- spec


def test_spec_absent_outside_the_pipeline(ml: Path) -> None:
    assert runtime.spec() is None
    assert runtime.step_name() is None


def test_spec_from_explicit_variable(use_spec: SpecWriter) -> None:
    use_spec()
    assert runtime.spec() == SPEC
    assert runtime.step_name() == "train"


def test_spec_from_code_dir(ml: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    monkeypatch.setenv(runtime.CODE_DIR_ENV, str(code))
    assert runtime.spec() is None  # a code dir without a spec: outside the pipeline
    (code / runtime.SPEC_FILE).write_text(json.dumps(SPEC), encoding="utf-8")
    assert runtime.spec() == SPEC


def test_spec_variable_takes_precedence_and_is_read_at_call_time(
    use_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / runtime.SPEC_FILE).write_text(json.dumps({**SPEC, "step": "other"}), encoding="utf-8")
    monkeypatch.setenv(runtime.CODE_DIR_ENV, str(code))
    use_spec()
    assert runtime.step_name() == "train"
    monkeypatch.delenv(runtime.SPEC_ENV)
    assert runtime.step_name() == "other"


def test_spec_variable_naming_a_missing_file(ml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.SPEC_ENV, str(ml / "nope.json"))
    with pytest.raises(runtime.RuntimeConfigError, match=r"CSM_STEP_SPEC names .*nope\.json"):
        runtime.spec()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"version": 2}, "version must be 1, got 2"),
        ({"params": {"epochs": {"type": "int"}}}, r"params.epochs.type must be one of .*'int'"),
        ({"params": {"epochs": "integer"}}, "params.epochs must be an object"),
        ({"params": []}, r"params must be an object, got \[\]"),
        ({"env": {"E": {"source": "literal"}}}, "env.E.type must be one of .*None"),
        ({"returns": {"acc": "float"}}, "returns.acc must be one of .*'float'"),
        ({"inputs": "train"}, "inputs must be a list of channel names"),
        ({"outputs": [1]}, "outputs must be a list of channel names"),
    ],
)
def test_spec_shape_is_checked(
    use_spec: SpecWriter, overrides: dict[str, Any], message: str
) -> None:
    use_spec(**overrides)
    with pytest.raises(runtime.RuntimeConfigError, match=f"invalid step spec .*{message}"):
        runtime.spec()


def test_spec_that_is_not_json(ml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ml / "spec.json"
    path.write_text("{not json", encoding="utf-8")
    monkeypatch.setenv(runtime.SPEC_ENV, str(path))
    with pytest.raises(runtime.RuntimeConfigError, match=r"spec\.json is not valid JSON"):
        runtime.spec()


def test_step_name_from_environment_without_spec(ml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.STEP_ENV, "prepare")
    assert runtime.step_name() == "prepare"


# --------------------------------------------------------------------------- params


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
    use_spec(params={"name": _param("string", pattern="(")})
    write_params(ml, {"name": "x"})
    with pytest.raises(runtime.RuntimeConfigError, match="parameter 'name' has an invalid pattern"):
        runtime.params()


def test_params_missing_required(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, {})
    with pytest.raises(runtime.ParameterError, match="parameter 'raw_uri' is required but missing"):
        runtime.params()


def test_params_missing_file_uses_defaults(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(params={"epochs": _param("integer", default=10)})
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


# --------------------------------------------------------------------------- env


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


# --------------------------------------------------------------------------- channels


def test_input_dir_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    (ml / "processing" / "input" / "train").mkdir(parents=True)
    assert runtime.input_dir("train") == ml / "processing" / "input" / "train"


def test_input_dir_reserved_channels_are_always_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    write_params(ml, {})
    assert runtime.input_dir("params") == ml / "processing" / "input" / "params"
    (ml / "processing" / "input" / "code").mkdir(parents=True)
    assert runtime.input_dir("code").name == "code"


def test_input_dir_undeclared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    (ml / "processing" / "input" / "raw").mkdir(parents=True)
    with pytest.raises(
        runtime.ChannelError,
        match="step 'train' has no input channel 'raw'; declared inputs: 'train'",
    ):
        runtime.input_dir("raw")


def test_input_dir_none_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(inputs=[])
    with pytest.raises(runtime.ChannelError, match="declared inputs: none"):
        runtime.input_dir("train")


def test_input_dir_missing_directory(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(
        runtime.ChannelError, match=r"input channel 'train': directory .*/train does not exist"
    ):
        runtime.input_dir("train")


def test_input_dir_defaults_to_opt_ml(ml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.ML_DIR_ENV)
    with pytest.raises(runtime.ChannelError, match="/opt/ml/processing/input/csm-no-such"):
        runtime.input_dir("csm-no-such")


@pytest.mark.parametrize("name", ["", ".", "..", "../train", "a/b", "a\\b"])
def test_channel_names_must_be_plain(ml: Path, name: str) -> None:
    with pytest.raises(runtime.ChannelError, match="must be a plain directory name"):
        runtime.input_dir(name)
    with pytest.raises(runtime.ChannelError, match="must be a plain directory name"):
        runtime.output_dir(name)


def test_output_dir_created(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    path = runtime.output_dir("model")
    assert path == ml / "processing" / "output" / "model"
    assert path.is_dir()
    assert runtime.output_dir("model") == path  # exists already: fine


def test_output_dir_undeclared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(
        runtime.ChannelError,
        match="step 'train' has no output channel 'train'; declared outputs: 'model'",
    ):
        runtime.output_dir("train")
    assert not (ml / "processing" / "output" / "train").exists()


def test_output_dir_returns_is_reserved(ml: Path) -> None:
    with pytest.raises(runtime.ChannelError, match=r"'returns' is reserved; use emit\(\)"):
        runtime.output_dir("returns")


def test_channels_without_spec_accept_any_name(ml: Path) -> None:
    assert runtime.output_dir("anything").is_dir()
    (ml / "processing" / "input" / "whatever").mkdir(parents=True)
    assert runtime.input_dir("whatever").is_dir()


# --------------------------------------------------------------------------- emit


def test_emit_writes_typed_values(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=1, rows=12.0, label=QUOTED, ok=False)
    assert read_returns(ml) == {"accuracy": 1.0, "rows": 12, "label": QUOTED, "ok": False}
    text = returns_file(ml).read_text(encoding="utf-8")
    assert '"accuracy": 1.0' in text
    assert '"rows": 12\n' in text


def test_emit_merges_with_earlier_calls_and_the_file(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)
    runtime.emit(rows=3)
    runtime.emit(accuracy=0.75)
    assert read_returns(ml) == {"accuracy": 0.75, "rows": 3}
    # values written by someone else (an earlier process) are kept
    returns_file(ml).write_text(json.dumps({"label": "prior"}), encoding="utf-8")
    runtime.emit(ok=True)
    assert read_returns(ml) == {"label": "prior", "accuracy": 0.75, "rows": 3, "ok": True}


def test_emit_remembers_values_if_the_file_disappears(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)
    returns_file(ml).unlink()
    runtime.emit(rows=1)
    assert read_returns(ml) == {"accuracy": 0.5, "rows": 1}


def test_emit_unknown_name(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(
        runtime.ReturnValueError,
        match="unknown return value 'acc' for step 'train'; "
        "declared returns: 'accuracy', 'rows', 'label', 'ok'",
    ):
        runtime.emit(acc=0.9)
    assert not returns_file(ml).exists()


def test_emit_nothing_declared(ml: Path, use_spec: SpecWriter) -> None:
    use_spec(returns={})
    with pytest.raises(runtime.ReturnValueError, match="declared returns: none"):
        runtime.emit(accuracy=0.9)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"accuracy": "high"}, r"return value 'accuracy' must be a number, got 'high' \(str\)"),
        ({"accuracy": True}, r"return value 'accuracy' must be a number, got True \(bool\)"),
        ({"accuracy": math.nan}, "return value 'accuracy' must be a finite number, got nan"),
        ({"accuracy": math.inf}, "return value 'accuracy' must be a finite number, got inf"),
        ({"rows": False}, r"return value 'rows' must be an integer, got False \(bool\)"),
        ({"rows": 2.5}, r"return value 'rows' must be an integer, got 2.5 \(float\)"),
        ({"label": 5}, r"return value 'label' must be a string, got 5 \(int\)"),
        ({"label": None}, r"return value 'label' must be a string, got None"),
        ({"ok": 1}, r"return value 'ok' must be a boolean, got 1 \(int\)"),
    ],
)
def test_emit_type_errors(
    ml: Path, use_spec: SpecWriter, values: dict[str, Any], message: str
) -> None:
    use_spec()
    with pytest.raises(runtime.ReturnValueError, match=message):
        runtime.emit(**values)
    assert not returns_file(ml).exists()


def test_emit_is_all_or_nothing(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(rows=1)
    with pytest.raises(runtime.ReturnValueError) as caught:
        runtime.emit(accuracy=0.5, rows="x", nope=1)
    assert "return value 'rows' must be an integer" in str(caught.value)
    assert "unknown return value 'nope'" in str(caught.value)
    assert read_returns(ml) == {"rows": 1}
    runtime.emit()
    assert read_returns(ml) == {"rows": 1}


def test_emit_without_spec(ml: Path) -> None:
    runtime.emit(a=1, b=0.5, c="x", d=True)
    assert read_returns(ml) == {"a": 1, "b": 0.5, "c": "x", "d": True}
    with pytest.raises(
        runtime.ReturnValueError,
        match=r"return value 'e' must be a string, integer, number or boolean, got \[1\]",
    ):
        runtime.emit(e=[1])
    with pytest.raises(runtime.ReturnValueError, match="return value 'f' must be a finite number"):
        runtime.emit(f=-math.inf)


def test_emit_replaces_the_file_atomically(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)
    path = returns_file(ml)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == [runtime.RETURNS_FILE]
    inode = path.stat().st_ino
    runtime.emit(rows=2)
    assert path.stat().st_ino != inode  # a new file was moved into place
    assert [p.name for p in path.parent.iterdir()] == [runtime.RETURNS_FILE]


def test_emit_failure_leaves_the_old_file(
    ml: Path, use_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_spec()
    runtime.emit(accuracy=0.5)

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", fail)
        with pytest.raises(OSError, match="disk full"):
            runtime.emit(rows=2)
    assert read_returns(ml) == {"accuracy": 0.5}
    assert [p.name for p in returns_file(ml).parent.iterdir()] == [runtime.RETURNS_FILE]


def test_emit_corrupt_existing_file(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    returns_file(ml).parent.mkdir(parents=True)
    returns_file(ml).write_text("[]", encoding="utf-8")
    with pytest.raises(runtime.ReturnValueError, match=r"values\.json must hold a JSON object"):
        runtime.emit(rows=1)


# --------------------------------------------------------------------------- job config


def test_job_config_absent(ml: Path) -> None:
    assert runtime.job_config() == {}
    assert runtime.job_name() is None
    assert runtime.current_host() == "algo-1"
    assert runtime.hosts() == ["algo-1"]


def test_job_config_present(ml: Path) -> None:
    config = ml / "config"
    config.mkdir()
    processing = {
        "ProcessingJobName": "pipeline-run1-train",
        "Environment": {"CSM_STEP": "train"},
        "ProcessingInputs": [],
    }
    (config / "processingjobconfig.json").write_text(json.dumps(processing), encoding="utf-8")
    resource = {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}
    (config / "resourceconfig.json").write_text(json.dumps(resource), encoding="utf-8")
    assert runtime.job_config() == processing
    assert runtime.job_name() == "pipeline-run1-train"
    assert runtime.current_host() == "algo-2"
    assert runtime.hosts() == ["algo-1", "algo-2"]


@pytest.mark.parametrize(
    ("resource", "call", "message"),
    [
        ({"hosts": "algo-1"}, runtime.hosts, "hosts in resourceconfig.json must be a list"),
        ({"hosts": []}, runtime.hosts, "hosts in resourceconfig.json must be a list"),
        ({"current_host": 1}, runtime.current_host, "current_host in resourceconfig.json"),
    ],
)
def test_resource_config_malformed(
    ml: Path, resource: dict[str, Any], call: Callable[[], object], message: str
) -> None:
    (ml / "config").mkdir()
    (ml / "config" / "resourceconfig.json").write_text(json.dumps(resource), encoding="utf-8")
    with pytest.raises(runtime.RuntimeConfigError, match=message):
        call()


def test_job_config_not_json(ml: Path) -> None:
    (ml / "config").mkdir()
    (ml / "config" / "processingjobconfig.json").write_text("{", encoding="utf-8")
    with pytest.raises(runtime.RuntimeConfigError, match=r"processingjobconfig\.json is not valid"):
        runtime.job_name()


# --------------------------------------------------------------------------- stdlib only

# Names that need Python 3.11+: the container may run Python 3.10.
_NEWER_THAN_310 = {"tomllib", "wsgiref.types"}
_NEWER_NAMES = {
    ("typing", "Self"),
    ("typing", "Never"),
    ("typing", "LiteralString"),
    ("typing", "assert_never"),
    ("typing", "reveal_type"),
    ("typing", "Required"),
    ("typing", "NotRequired"),
    ("enum", "StrEnum"),
    ("datetime", "UTC"),
}


def test_runtime_imports_only_the_standard_library() -> None:
    # The runtime's own modules, as shipped: flat files of constructs_sm/runtime.
    own = {"constructs_sm.runtime"} | {
        f"constructs_sm.runtime.{source.stem}" for source in RUNTIME_DIR.glob("*.py")
    }
    seen: set[str] = set()
    for source in sorted(RUNTIME_DIR.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
                names: list[str] = []
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: relative import"
                modules = [node.module or ""]
                names = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                seen.add(module)
                top = module.split(".")[0]
                allowed = top in sys.stdlib_module_names or module == "__future__" or module in own
                assert allowed, f"{source.name} imports {module}"
                assert module not in _NEWER_THAN_310, f"{source.name} imports {module}"
                for name in names:
                    assert (module, name) not in _NEWER_NAMES, f"{source.name}: {module}.{name}"
    assert {"json", "os", "runpy"} <= seen  # the walk did find the imports


# --------------------------------------------------------------------------- launcher


def _build_code_zip(ml: Path, script: str, helper: str = "VALUE = 'helper'\n") -> Path:
    """Zip a step's code the way the pipeline does and put it in the code channel."""
    code = ml / "processing" / "input" / runtime.CODE_CHANNEL
    code.mkdir(parents=True)
    archive = code / "code.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("script.py", textwrap.dedent(script))
        zipped.writestr("helper.py", helper)
        zipped.writestr("constructs_sm/__init__.py", "")
        zipped.writestr("__main__.py", runtime.ZIP_MAIN)
        for source in sorted(RUNTIME_DIR.glob("*.py")):
            zipped.write(source, f"constructs_sm/runtime/{source.name}")
        zipped.writestr(runtime.SPEC_FILE, json.dumps(SPEC))
    return archive


def _run_bootstrap(ml: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the bootstrap in an isolated interpreter: no site-packages, no PYTHON* vars."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        runtime.ML_DIR_ENV: str(ml),
        runtime.STEP_ENV: "train",
        "TMPDIR": str(temp),  # where the bootstrap extracts the zip
        "EPOCHS": "12",
    }
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", BOOT, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


STEP_SCRIPT = """
    import json, os, sys
    from constructs_sm import runtime
    import helper

    p = runtime.params()
    rows = (runtime.input_dir("train") / "rows.txt").read_text().splitlines()
    (runtime.output_dir("model") / "model.txt").write_text(f"{len(rows)} rows, {p.epochs}")
    runtime.emit(accuracy=1, rows=len(rows))
    third_party = sorted(
        m for m in sys.modules if m.split(".")[0] in {"aws_cdk", "constructs", "boto3", "jsii"}
    )
    print(json.dumps({
        "argv": sys.argv,
        "name": __name__,
        "code_dir": os.environ[runtime.CODE_DIR_ENV],
        "runtime_file": runtime.__file__,
        "params": p.as_dict(),
        "types": [type(p.epochs).__name__, type(p.learning_rate).__name__],
        "env": runtime.env("EPOCHS"),
        "step": runtime.step_name(),
        "helper": helper.VALUE,
        "third_party": third_party,
        "site": "site" in sys.modules,
    }))
"""


def test_launcher_end_to_end(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, STEP_SCRIPT)
    write_params(ml, GOOD_PARAMS)
    train = ml / "processing" / "input" / "train"
    train.mkdir(parents=True)
    (train / "rows.txt").write_text("a\nb\nc\n", encoding="utf-8")

    done = _run_bootstrap(ml, tmp_path, "script.py", "arg1", "--flag=a b", "")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    code_dir = Path(report["code_dir"])
    assert code_dir.parent == tmp_path / "tmp"  # the extracted zip, not this checkout
    assert report["argv"] == [str(code_dir / "script.py"), "arg1", "--flag=a b", ""]
    assert report["name"] == "__main__"
    assert Path(report["runtime_file"]) == code_dir / "constructs_sm" / "runtime" / "__init__.py"
    assert report["params"] == GOOD_PARAMS
    assert report["types"] == ["int", "float"]
    assert report["env"] == 12
    assert report["step"] == "train"
    assert report["helper"] == "helper"
    assert report["third_party"] == []
    assert report["site"] is False
    model = ml / "processing" / "output" / "model" / "model.txt"
    assert model.read_text(encoding="utf-8") == "3 rows, 12"
    assert read_returns(ml) == {"accuracy": 1.0, "rows": 3}


def test_launcher_script_errors_propagate(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, STEP_SCRIPT)
    write_params(ml, {**GOOD_PARAMS, "epochs": 0})
    done = _run_bootstrap(ml, tmp_path, "script.py")
    assert done.returncode == 1
    assert "ParameterError: parameter 'epochs' must be an integer >= 1, got 0" in done.stderr


def test_launcher_exit_code_of_the_script(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, "import sys\nsys.exit(7)\n")
    assert _run_bootstrap(ml, tmp_path, "script.py").returncode == 7


def test_launcher_missing_script(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, STEP_SCRIPT)
    done = _run_bootstrap(ml, tmp_path, "nope.py", "x")
    assert done.returncode == 2
    assert "launch.py: script 'nope.py' not found in the code directory" in done.stderr
    assert done.stdout == ""


def test_launcher_main_usage_and_missing_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch.main([]) == 2
    assert "usage: launch.py SCRIPT" in capsys.readouterr().err
    assert launch.main(["csm-no-such-script.py"]) == 2
    assert "script 'csm-no-such-script.py' not found" in capsys.readouterr().err


def test_launcher_via_run_path_keeps_a_preset_code_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    shutil.copytree(RUNTIME_DIR, code / "constructs_sm" / "runtime")
    (code / "constructs_sm" / "__init__.py").write_text("", encoding="utf-8")
    result = tmp_path / "result.json"
    (code / "sub").mkdir()
    (code / "sub" / "step.py").write_text(
        "import json, os, sys\n"
        f"with open({str(result)!r}, 'w') as out:\n"
        "    json.dump({'argv': sys.argv, 'code_dir': os.environ['CSM_CODE_DIR'],\n"
        "               'path0': sys.path[0], 'name': __name__}, out)\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(runtime.CODE_DIR_ENV, "/preset")
    monkeypatch.setattr(sys, "argv", ["launch.py", "sub/step.py", "--x", "1"])
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(code / "constructs_sm" / "runtime" / "launch.py"), run_name="__main__")
    assert exited.value.code == 0
    report = json.loads(result.read_text(encoding="utf-8"))
    assert report == {
        "argv": [str(code / "sub" / "step.py"), "--x", "1"],
        "code_dir": "/preset",
        "path0": str(code / "sub"),
        "name": "__main__",
    }


# --------------------------------------------------------------------------- limits


def test_string_params_respect_max_length(ml: Path, use_spec: SpecWriter) -> None:
    params = copy.deepcopy(SPEC["params"])
    params["raw_uri"]["max_length"] = 12
    use_spec(params=params)
    write_params(ml, {"raw_uri": "s3://bucket/too-long/"})
    with pytest.raises(runtime.ParameterError, match=r"'raw_uri' must be at most 12 characters"):
        runtime.params()


def test_returned_strings_are_at_most_256_characters(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    with pytest.raises(runtime.ReturnValueError, match=r"'label' is 257 characters"):
        runtime.emit(label="x" * 257)
    runtime.emit(label="x" * 256)
    assert read_returns(ml)["label"] == "x" * 256


def test_start_returns_writes_an_empty_file_once(ml: Path, use_spec: SpecWriter) -> None:
    use_spec()
    runtime.start_returns()
    assert read_returns(ml) == {}
    runtime.emit(ok=True)
    runtime.start_returns()  # an existing file is kept
    assert read_returns(ml) == {"ok": True}


def test_start_returns_does_nothing_without_declared_returns(
    ml: Path, use_spec: SpecWriter
) -> None:
    use_spec(returns={})
    runtime.start_returns()
    assert not returns_file(ml).exists()

"""The step spec (``runtime._spec``): where it is found, its shape, the step name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constructs_sm import runtime
from tests.runtime.support import SPEC, SpecWriter


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

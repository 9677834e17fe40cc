"""Synth-time validation of add_step arguments and pipeline settings (pure, no Stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from constructs_sm.model import DataSource, StepInput
from constructs_sm.params import Param, ParamRef
from constructs_sm.validation import (
    StepValidator,
    channel_problems,
    data_source_problems,
    tag_problems,
)

EPOCHS = Param.integer("epochs", default=1)
RAW = Param.string("raw_uri")


def _validator(**overrides: Any) -> StepValidator:
    settings: dict[str, Any] = {
        "owner": object(),
        "pipeline_name": "Churn",
        "params": {"epochs": EPOCHS, "raw_uri": RAW},
        "steps": ["prepare"],
    }
    settings.update(overrides)
    return StepValidator(**settings)


def test_a_valid_call_is_normalised(script: Path) -> None:
    problems, checked = _validator().validate(
        "train",
        script,
        {"raw": ParamRef(RAW)},
        ["model"],
        {"EPOCHS": ParamRef(EPOCHS), "MODE": "fast"},
        {"loss": float},
        None,
        ["--verbose"],
    )
    assert problems == []
    assert checked.inputs == {"raw": StepInput(ParamRef(RAW))}
    assert checked.env == {"EPOCHS": ParamRef(EPOCHS), "MODE": "fast"}
    assert checked.returns == {"loss": "number"} and checked.depends_on == ()


def test_every_problem_of_a_call_is_reported(tmp_path: Path) -> None:
    problems, _ = _validator().validate(
        "prepare",
        tmp_path / "missing.py",
        {"code": "s3://b/k/"},
        ["returns"],
        {"CSM_X": "1", "LONG": "x" * 257},
        {"n": complex},
        None,
        [""],
    )
    text = "; ".join(problems)
    assert "name 'prepare' is already a step of pipeline 'Churn'" in text
    assert "missing.py' is not a file" in text
    assert "channel 'code' is reserved" in text
    assert "channel 'returns' is reserved" in text
    assert "env key 'CSM_X' uses the reserved prefix CSM_" in text
    assert "env['LONG'] is 257 characters" in text
    assert "returns['n'] must be float, int, str or bool" in text
    assert "arguments[0] must be 1 to 256 characters, got 0" in text


def test_params_of_another_pipeline_are_refused(script: Path) -> None:
    stranger = ParamRef(Param.integer("epochs"))
    problems, _ = _validator().validate(
        "train", script, None, [], {"E": stranger}, None, None, [stranger]
    )
    assert problems == [
        "env['E'] refers to param 'epochs', which is not declared by this pipeline",
        "arguments[0] refers to param 'epochs', which is not declared by this pipeline",
    ]


def test_tags_channels_and_data_sources() -> None:
    assert tag_problems({"team": "ml"}) == []
    assert "tag 'aws:x' is invalid" in tag_problems({"aws:x": "1"})[0]
    assert channel_problems("ok-name", "outputs entry", frozenset()) == []
    assert "channel names must match" in channel_problems("9bad", "outputs entry", frozenset())[0]
    bucket: Any = object()
    overlapping = data_source_problems([DataSource(bucket, "Churn/raw/")], bucket, "Churn/")
    assert "overlaps the pipeline's run prefix 'Churn/'" in overlapping[0]
    assert data_source_problems([DataSource(bucket, "data/")], bucket, "Churn/") == []
    assert (
        "must be a key prefix ending with '/'"
        in (data_source_problems([DataSource(bucket, "data")], bucket, "Churn/")[0])
    )

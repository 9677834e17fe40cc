"""Synth-time validation of add_step arguments and pipeline settings (pure, no Stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from constructs_sm.model import DataSource, PrefixClaim, StepInput
from constructs_sm.params import Param, ParamRef
from constructs_sm.validation import (
    StepValidator,
    channel_problems,
    data_source_problems,
    network_problems,
    prefix_conflicts,
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
    assert "missing.py' is neither a file nor a directory" in text
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
    assert "tag 'aws:x': '1' is invalid" in tag_problems({"aws:x": "1"})[0]
    # The API's pattern: Unicode letters, numbers and separators; a tab is none of them.
    assert tag_problems({"équipe": "données 2026"}) == []
    assert "is invalid" in tag_problems({"team": "ml\tops"})[0]
    assert "is invalid" in tag_problems({"team": "a,b"})[0]
    assert channel_problems("ok-name", "outputs entry", frozenset()) == []
    assert "channel names must match" in channel_problems("9bad", "outputs entry", frozenset())[0]
    bucket: Any = object()
    assert data_source_problems([DataSource(bucket, "data/"), DataSource(bucket)]) == []
    assert (
        "must be a key prefix ending with '/' (e.g. 'data/') or ''"
        in (data_source_problems([DataSource(bucket, "data")])[0])
    )
    assert "must be a DataSource, got 'data/'" in data_source_problems(["data/"])[0]  # type: ignore[list-item]


def test_prefixes_of_pipelines_on_one_bucket_never_overlap() -> None:
    churn = [
        PrefixClaim("Churn/", "run", "pipeline 'Churn'"),
        PrefixClaim("data/", "data", "pipeline 'Churn'"),
    ]
    # A second pipeline reading the same data is fine; nothing else may overlap.
    assert prefix_conflicts(churn, [PrefixClaim("data/raw/", "data", "pipeline 'B'")]) == []
    assert prefix_conflicts(churn, [PrefixClaim("B/", "run", "pipeline 'B'")]) == []
    (same_run,) = prefix_conflicts(churn, [PrefixClaim("Churn/", "run", "pipeline 'Churn2'")])
    assert same_run.startswith(
        "the run prefix 'Churn/' of pipeline 'Churn2' overlaps the run prefix 'Churn/' of "
        "pipeline 'Churn' on the same channel bucket"
    )
    (expires_data,) = prefix_conflicts(churn, [PrefixClaim("data/", "run", "pipeline 'data'")])
    assert "the data-source prefix 'data/' of pipeline 'Churn'" in expires_data
    assert "lifecycle rule would delete that input data" in expires_data
    (reads_runs,) = prefix_conflicts(churn, [PrefixClaim("Churn/x/", "data", "pipeline 'B'")])
    assert "the data-source prefix 'Churn/x/' of pipeline 'B' overlaps the run prefix" in reads_runs
    whole_bucket = prefix_conflicts(churn, [PrefixClaim("", "data", "pipeline 'B'")])
    assert len(whole_bucket) == 1 and "overlaps the run prefix 'Churn/'" in whole_bucket[0]


def test_string_params_as_arguments_must_fit_an_argument(script: Path) -> None:
    long, short = Param.string("long"), Param.string("short", max_length=256)
    validator = _validator(params={"long": long, "short": short})
    problems, _ = validator.validate(
        "train", script, None, [], None, None, None, [ParamRef(long), ParamRef(short)]
    )
    assert problems == [
        "arguments[0] uses string param 'long', which may be 1024 characters; container "
        "arguments are at most 256: declare it with max_length=256 or less, or read it from "
        "runtime.params()"
    ]


def test_a_step_given_where_its_output_belongs_is_named(script: Path) -> None:
    class Step:
        step_name = "prepare"

    problems, _ = _validator().validate(
        "train",
        script,
        {"data": Step()},  # type: ignore[dict-item]
        [],
        None,
        None,
        None,
        [],
    )
    assert problems == [
        "inputs['data'] must be a step output, a param, an s3:// URI or a StepInput, got "
        "step 'prepare' (use step.output(<channel>))"
    ]


def test_vpc_subnet_and_security_group_counts_are_those_of_the_api() -> None:
    assert network_problems(["subnet-1"], None) == []
    assert "selects 0 subnets; a processing job runs in 1 to 16" in network_problems([], None)[0]
    assert "selects 17 subnets" in network_problems([f"s-{i}" for i in range(17)], None)[0]
    groups = [object()] * 6
    assert network_problems(["s"], groups) == [
        "security_groups has 6 groups; a processing job takes 1 to 5 (VpcConfig.SecurityGroupIds)"
    ]

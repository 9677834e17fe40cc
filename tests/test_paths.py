"""Container paths of a step's channels (constructs_sm.paths): defaults, the pipeline's own
directory, the rules of a LocalPath and the conflicts between a step's channels."""

from __future__ import annotations

import re

import pytest

from constructs_sm import runtime
from constructs_sm.limits import local_path_limits
from constructs_sm.paths import (
    RESERVED_ROOT,
    default_path,
    local_path_problems,
    path_conflicts,
    reserved_path,
)


def test_defaults_and_the_pipelines_own_directory() -> None:
    assert default_path("input", "raw") == "/opt/ml/processing/input/raw"
    assert default_path("output", "train") == "/opt/ml/processing/output/train"
    assert RESERVED_ROOT == f"/opt/ml/{runtime.RESERVED_DIR}" == "/opt/ml/processing/csm"
    assert reserved_path(runtime.CODE_CHANNEL) == "/opt/ml/processing/csm/code"


def test_the_length_limit_comes_from_the_api_model() -> None:
    assert local_path_limits() == (256, ".*")


@pytest.mark.parametrize(
    "path",
    [
        "/opt/ml/processing/input",
        "/opt/ml/processing/input/",
        "/opt/ml/processing/output/processed",
        "/opt/ml/processing/my data",
        "/opt/ml/processing/" + "a" * (256 - len("/opt/ml/processing/")),
    ],
)
def test_paths_sagemaker_accepts(path: str) -> None:
    assert local_path_problems(path, "local_path") == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/opt/ml/input/data", r"must begin with /opt/ml/processing/ .*got '/opt/ml/input/data'"),
        ("opt/ml/processing/x", "must begin with /opt/ml/processing/"),
        ("/opt/ml/processing/" + "a" * 238, "is 257 characters; at most 256 are allowed"),
        ("/opt/ml/processing/a\nb", r"must be one line of printable characters .*\.\*"),
        ("/opt/ml/processing/a\tb", "must be one line of printable characters"),
        ("/opt/ml/processing/", "must name a directory below /opt/ml/processing/"),
        ("/opt/ml/processing/a/../b", r"without '\.', '\.\.' or empty segments"),
        ("/opt/ml/processing/a//b", "without '.', '..' or empty segments"),
        ("/opt/ml/processing/./a", "without '.', '..' or empty segments"),
        ("/opt/ml/processing/csm", r"inside /opt/ml/processing/csm/, where the pipeline keeps"),
        ("/opt/ml/processing/csm/code", "where the pipeline keeps its own channels"),
    ],
)
def test_paths_refused_name_the_argument_value_and_rule(path: str, message: str) -> None:
    problems = local_path_problems(path, "local_path")
    assert problems
    assert all(problem.startswith("local_path") for problem in problems)
    assert any(re.search(message, problem) for problem in problems), problems


def test_a_path_must_be_a_string() -> None:
    assert local_path_problems(3, "StepInput.local_path") == [
        "StepInput.local_path must be a str, got int"
    ]


def test_equal_and_nested_channels_conflict_siblings_do_not() -> None:
    problems = path_conflicts(
        [
            ("inputs['raw']", "/opt/ml/processing/input"),
            ("inputs['extra']", "/opt/ml/processing/input/extra"),
            ("outputs['out']", "/opt/ml/processing/input/"),
            ("outputs['in2']", "/opt/ml/processing/input2"),
        ]
    )
    assert problems == [
        "inputs['extra'] (/opt/ml/processing/input/extra) is inside inputs['raw'] "
        "(/opt/ml/processing/input); channels may not nest (an output directory is uploaded "
        "whole, and one channel's files would appear in the other's): give every channel of "
        "the step its own directory",
        "inputs['raw'] and outputs['out'] both use /opt/ml/processing/input; each channel "
        "needs a directory of its own",
        "inputs['extra'] (/opt/ml/processing/input/extra) is inside outputs['out'] "
        "(/opt/ml/processing/input); channels may not nest (an output directory is uploaded "
        "whole, and one channel's files would appear in the other's): give every channel of "
        "the step its own directory",
    ]


def test_an_outer_channel_listed_after_the_inner_one_is_named_as_outer() -> None:
    (problem,) = path_conflicts(
        [
            ("outputs['train']", "/opt/ml/processing/output/train"),
            ("outputs['all']", "/opt/ml/processing/output"),
        ]
    )
    assert problem.startswith(
        "outputs['train'] (/opt/ml/processing/output/train) is inside outputs['all'] "
        "(/opt/ml/processing/output)"
    )

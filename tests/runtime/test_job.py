"""The job around the step (``runtime._job``): job config, job name, hosts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from constructs_sm import runtime


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

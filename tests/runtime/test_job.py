"""The job around the step (``runtime._job``): job config, job name, hosts."""

from __future__ import annotations

import json
import os
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


def test_instance_type_from_the_job_config(ml: Path) -> None:
    assert runtime.instance_type() is None
    (ml / "config").mkdir()
    config = {"ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.g5.xlarge"}}}
    (ml / "config" / "processingjobconfig.json").write_text(json.dumps(config))
    assert runtime.instance_type() == "ml.g5.xlarge"


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", "affinity"),
        ("150000 100000\n", 2),  # docker run --cpus=1.5: two CPUs to spread over
        ("50000 100000\n", 1),
        (None, "affinity"),
    ],
)
def test_cpu_count_is_the_affinity_capped_by_the_cgroup_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpu_max: str | None, expected: object
) -> None:
    from constructs_sm.runtime import _job

    cgroup = tmp_path / "cpu.max"
    if cpu_max is not None:
        cgroup.write_text(cpu_max)
    monkeypatch.setattr(_job, "_CGROUP_CPU_MAX", cgroup)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert runtime.cpu_count() == (4 if expected == "affinity" else expected)


def test_gpu_count_asks_nvidia_smi_then_counts_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from constructs_sm.runtime import _job

    devices = tmp_path / "dev"
    devices.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"):
        (devices / name).touch()
    monkeypatch.setattr(_job, "_DEV_DIR", devices)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert runtime.gpu_count() == 2  # no nvidia-smi: /dev/nvidia0, /dev/nvidia1
    smi = empty / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\necho 'GPU 0: NVIDIA A10G (UUID: a)'\necho 'GPU 1: x'\necho 'GPU 2: y'\n"
    )
    smi.chmod(0o755)
    assert runtime.gpu_count() == 3
    smi.write_text("#!/bin/sh\nexit 9\n")  # a driver problem: fall back to the devices
    assert runtime.gpu_count() == 2
    monkeypatch.setattr(_job, "_DEV_DIR", tmp_path / "no-such-dev")
    assert runtime.gpu_count() == 0

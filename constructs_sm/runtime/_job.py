"""The processing job around the step: its configuration, its hosts and its machine.

SageMaker Processing tells a container about its job through two files and nothing else
("How Amazon SageMaker Processing Configures Your Processing Container",
https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html):
``/opt/ml/config/processingjobconfig.json`` (the CreateProcessingJob request: job name,
instance type, inputs, outputs) and ``/opt/ml/config/resourceconfig.json``
(``current_host``, ``hosts``); its environment is the request's ``Environment`` only.
None of the ``SM_*`` variables a *training* container gets from the SageMaker training
toolkit is set. These helpers read the files, and count CPUs and GPUs as that toolkit did.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from constructs_sm.runtime._errors import RuntimeConfigError
from constructs_sm.runtime._files import container_root, read_json_object

_DEFAULT_HOST = "algo-1"
_PROCESSING_CONFIG = "processingjobconfig.json"
_RESOURCE_CONFIG = "resourceconfig.json"


def _config(name: str) -> dict[str, Any]:
    return read_json_object(container_root() / "config" / name) or {}


def job_config() -> dict[str, Any]:
    """Return ``<root>/config/processingjobconfig.json`` as a dict (``{}`` when absent).

    SageMaker writes the job's CreateProcessingJob request there
    (``ProcessingJobName``, ``Environment``, ``ProcessingInputs``, ...).
    """
    return _config(_PROCESSING_CONFIG)


def job_name() -> str | None:
    """Return the processing job's name, or ``None`` when there is no job config."""
    name = job_config().get("ProcessingJobName")
    return name if isinstance(name, str) else None


def current_host() -> str:
    """Return this instance's host name (``algo-1`` when there is no resource config)."""
    host = _config(_RESOURCE_CONFIG).get("current_host", _DEFAULT_HOST)
    if not isinstance(host, str) or not host:
        raise RuntimeConfigError(f"current_host in {_RESOURCE_CONFIG} must be a string")
    return host


def hosts() -> list[str]:
    """Return all host names of the job (``["algo-1"]`` when there is no resource config)."""
    names = _config(_RESOURCE_CONFIG).get("hosts", [_DEFAULT_HOST])
    if not isinstance(names, list) or not names or not all(isinstance(h, str) for h in names):
        raise RuntimeConfigError(f"hosts in {_RESOURCE_CONFIG} must be a list of strings")
    return list(names)


def instance_type() -> str | None:
    """Return the instance type the job runs on (``ml.m5.xlarge``), from the job config
    (``ProcessingResources.ClusterConfig.InstanceType``); ``None`` when there is none."""
    resources = job_config().get("ProcessingResources") or {}
    cluster = resources.get("ClusterConfig") if isinstance(resources, dict) else None
    value = cluster.get("InstanceType") if isinstance(cluster, dict) else None
    return value if isinstance(value, str) else None


#: cgroup v2's CPU limit of this container ("max 100000", or "<quota> <period>" as
#: ``docker run --cpus`` sets it).
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
#: Where the NVIDIA container runtime exposes one device per GPU (``nvidia0``, ...).
_DEV_DIR = Path("/dev")
_NVIDIA_DEVICE = re.compile(r"^nvidia[0-9]+$")


def cpu_count() -> int:
    """Return the CPUs this container may use (what training's ``SM_NUM_CPUS`` held).

    The CPUs this process may run on (``os.sched_getaffinity``), fewer when a cgroup v2
    CPU quota allows less; ``os.cpu_count()`` where the affinity is unknown. At least 1.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    try:
        quota, period = _CGROUP_CPU_MAX.read_text(encoding="ascii").split()[:2]
        if quota != "max":
            count = min(count, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(count, 1)


def gpu_count() -> int:
    """Return the NVIDIA GPUs of this instance (what training's ``SM_NUM_GPUS`` held).

    The GPUs ``nvidia-smi --list-gpus`` lists (as the SageMaker training toolkit counts
    them), else the ``/dev/nvidia<N>`` devices; 0 on an instance without GPUs.
    """
    import subprocess  # here: a job that never asks does not load it (launch.py's reason)

    try:
        listed = subprocess.run(
            ["nvidia-smi", "--list-gpus"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        return sum(1 for line in listed.splitlines() if line.startswith("GPU "))
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return sum(1 for entry in _DEV_DIR.iterdir() if _NVIDIA_DEVICE.match(entry.name))
    except OSError:
        return 0

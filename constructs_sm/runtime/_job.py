"""The processing job around the step: its configuration and its hosts, as SageMaker
writes them under ``<root>/config``."""

from __future__ import annotations

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

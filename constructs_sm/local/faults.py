"""What the offline engine can inject, for tests: AWS's own errors and compressed time.

:class:`Fault` makes the next CreateProcessingJob calls of a step fail the way AWS fails
them (see :mod:`constructs_sm.retries` for the names and their sources):

- ``"throttling"``: the call is rejected with ``ThrottlingException`` (the task fails
  with ``SageMaker.AmazonSageMakerException``, "Rate exceeded");
- ``"validation"``: the call is rejected with ``ValidationException`` (same error name,
  another cause);
- ``"resource_limit"``: the call is rejected with ``ResourceLimitExceeded`` (the task
  fails with ``SageMaker.ResourceLimitExceededException``);
- ``"job_failure"``: the job is created and then fails, without running, with
  ``reason`` as its FailureReason (``"CapacityError: ..."``, ``"AlgorithmError: ..."``),
  so the task fails with ``States.TaskFailed``.

:func:`install_time_scale` shortens every Wait state and every Retry interval of the
interpreter by a factor, so that a test of minutes-long backoffs runs in seconds.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

FaultKind = Literal["throttling", "validation", "resource_limit", "job_failure"]

#: The API error code and message of each rejected call.
API_ERRORS: Final[dict[str, tuple[str, str]]] = {
    "throttling": ("ThrottlingException", "Rate exceeded"),
    "validation": (
        "ValidationException",
        "1 validation error detected: Value 'injected' at 'processingJobName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    ),
    "resource_limit": (
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.m5.xlarge for processing job usage' is 0 "
        "Instances, with current utilization of 0 Instances and a request delta of 1 "
        "Instances.",
    ),
}


@dataclass
class Fault:
    """The next ``times`` CreateProcessingJob calls of ``step`` (any step: None) fail."""

    kind: FaultKind
    step: str | None = None
    times: int = 1
    #: The FailureReason of a ``job_failure``.
    reason: str = "CapacityError: Unable to provision requested ML compute capacity."
    #: How many calls it has failed so far.
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("throttling", "validation", "resource_limit", "job_failure"):
            raise ValueError(f"Fault kind must be one of {sorted(API_ERRORS)} or job_failure")
        if self.times < 1:
            raise ValueError(f"Fault times must be at least 1, got {self.times}")


@dataclass
class FaultPlan:
    """The faults of one emulator, consumed in order (thread-safe)."""

    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        """Plan ``fault``; returns it (its ``fired`` counts the calls it failed)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def take(self, step: str | None) -> Fault | None:
        """The fault for this call of ``step``, if one is left (it is counted)."""
        with self._lock:
            for fault in self.faults:
                if fault.fired < fault.times and fault.step in (None, step):
                    fault.fired += 1
                    return fault
        return None


_saved: dict[str, Any] = {}


class _ScaledTime:
    """The ``time`` module as moto's retrier sees it: ``sleep`` shortened by ``scale``."""

    def __init__(self, scale: float) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds * self._scale))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


_RETRIER: Final = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
_WAIT: Final = "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function"


def install_time_scale(scale: float) -> None:
    """Shorten Wait states and Retry intervals by ``scale`` (1.0: real time)."""
    uninstall_time_scale()
    if scale == 1.0:
        return
    retrier = importlib.import_module(_RETRIER)
    wait_class = importlib.import_module(_WAIT).WaitFunction
    original: Callable[..., None] = wait_class._wait_interval
    _saved["retrier_time"] = retrier.time
    _saved["wait_interval"] = original
    setattr(retrier, "time", _ScaledTime(scale))  # noqa: B010 (moto's module global)

    def scaled(self: Any, env: Any, wait_seconds: int) -> None:
        seconds = wait_seconds * scale
        if seconds > 0:
            env.program_state_event.wait(seconds)

    wait_class._wait_interval = scaled


def uninstall_time_scale() -> None:
    """Undo :func:`install_time_scale`."""
    if "retrier_time" in _saved:
        setattr(importlib.import_module(_RETRIER), "time", _saved.pop("retrier_time"))  # noqa: B010
    if "wait_interval" in _saved:
        importlib.import_module(_WAIT).WaitFunction._wait_interval = _saved.pop("wait_interval")

"""The processing task's error handling: which errors run the job again (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from constructs_sm.retries import (
    CAPACITY_CAPS,
    JOB_RETRIES,
    THROTTLING_CAPS,
    failure_states,
    retry_states,
)

THROTTLED = (
    "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: "
    "ThrottlingException; Request ID: 1f2e; Proxy: null)"
)
INVALID = (
    "1 validation error detected: Value 'FastFile' at 'processingInputs.1.member.s3Input."
    "s3InputMode' failed to satisfy constraint: Member must satisfy enum value set: [Pipe, "
    "File] (Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; "
    "Request ID: 9a8b; Proxy: null)"
)


def _job_failed(reason: str, compact: bool = True) -> str:
    separator = ":" if compact else ": "
    return f'{{"FailureReason"{separator}"{reason}: ...","ProcessingJobStatus":"Failed"}}'


def _glob(pattern: str, text: str) -> bool:
    """Step Functions StringMatches: '*' is any text (no escapes used here)."""
    import fnmatch

    return fnmatch.fnmatchcase(text, pattern)


def _evaluate(rule: dict[str, Any], state: dict[str, Any]) -> bool:
    """The subset of Choice rules retry_states uses, against a state."""
    if "And" in rule:
        return all(_evaluate(r, state) for r in rule["And"])
    if "Or" in rule:
        return any(_evaluate(r, state) for r in rule["Or"])
    if "Not" in rule:
        return not _evaluate(rule["Not"], state)
    value: Any = state
    for part in rule["Variable"].removeprefix("$.").split("."):
        if not isinstance(value, dict) or part not in value:
            value = None
            break
        value = value[part]
    if "IsPresent" in rule:
        return (value is not None) is rule["IsPresent"]
    if "StringEquals" in rule:
        return bool(value == rule["StringEquals"])
    if "StringMatches" in rule:
        return _glob(rule["StringMatches"], value)
    if "NumericLessThan" in rule:
        return bool(value < rule["NumericLessThan"])
    raise AssertionError(f"unexpected rule {rule}")


def _decide(error: str, cause: str | None, attempts: int = 0) -> str:
    first, states = retry_states("train", task="Run train", failed_state="train failed")
    state: dict[str, Any] = {
        "error": {"Error": error} | ({"Cause": cause} if cause is not None else {}),
        "run": {"retries": {"train": {"n": attempts}}},
    }
    for choice in states[first]["Choices"]:
        if _evaluate(choice, state):
            return str(choice["Next"])
    return str(states[first]["Default"])


@pytest.mark.parametrize(
    ("error", "cause", "decision"),
    [
        ("SageMaker.AmazonSageMakerException", THROTTLED, "Back off train"),
        ("SageMaker.AmazonSageMakerException", INVALID, "train failed"),
        ("States.TaskFailed", _job_failed("CapacityError"), "Wait for capacity train"),
        ("States.TaskFailed", _job_failed("InternalServerError", False), "Wait for capacity train"),
        ("States.TaskFailed", _job_failed("AlgorithmError"), "train failed"),
        ("States.TaskFailed", _job_failed("ClientError"), "train failed"),
        ("States.Timeout", "the task timed out", "train failed"),
        ("States.TaskFailed", None, "train failed"),
    ],
)
def test_errors_are_retried_by_what_aws_says_they_are(
    error: str, cause: str | None, decision: str
) -> None:
    assert _decide(error, cause) == decision


def test_retries_stop_after_their_attempts() -> None:
    last = len(THROTTLING_CAPS)
    assert _decide("SageMaker.AmazonSageMakerException", THROTTLED, last - 1) == "Back off train"
    assert _decide("SageMaker.AmazonSageMakerException", THROTTLED, last) == "train failed"
    failed = _job_failed("CapacityError")
    assert _decide("States.TaskFailed", failed, len(CAPACITY_CAPS)) == "train failed"


def test_the_wait_is_jittered_and_runs_the_task_again() -> None:
    _, states = retry_states("train", task="Run train", failed_state="train failed")
    back_off = states["Back off train"]
    assert back_off["ResultPath"] == "$.run.retries.train"
    assert back_off["Parameters"]["n.$"] == "States.MathAdd($.run.retries.train.n, 1)"
    assert back_off["Parameters"]["seconds.$"].startswith("States.MathRandom(1, ")
    assert states["Wait to retry train"] == {
        "Type": "Wait",
        "SecondsPath": "$.run.retries.train.seconds",
        "Next": "Run train",
    }


def test_only_the_quota_error_has_a_retrier_and_timeouts_are_never_retried() -> None:
    retried = [error for retrier in JOB_RETRIES for error in retrier["ErrorEquals"]]
    assert retried == ["SageMaker.ResourceLimitExceededException"]
    assert "States.Timeout" not in retried and "States.ALL" not in retried


def test_a_failure_keeps_the_error_with_or_without_a_cause() -> None:
    states = failure_states("train failed")
    assert states["train failed with cause"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }
    assert states["train failed without cause"] == {"Type": "Fail", "ErrorPath": "$.error.Error"}
    assert states["train failed"]["Default"] == "train failed without cause"

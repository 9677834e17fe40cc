"""The processing task's error handling: which errors run the job again (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from constructs_sm.retries import (
    CAPACITY_CAPS,
    JOB_RETRIES,
    THROTTLING_CAPS,
    RetryScope,
    failure_states,
    scope_retry_states,
    step_retry_states,
)

SCOPE = RetryScope.of_branch(2)

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
    """The subset of Choice rules the retry states use, against a state."""
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


def _choose(state: dict[str, Any], data: dict[str, Any]) -> str:
    for choice in state["Choices"]:
        if _evaluate(choice, data):
            return str(choice["Next"])
    return str(state["Default"])


def _decide(error: str, cause: str | None, attempts: int = 0) -> str:
    """Where a caught error of step train goes once its Pass noted the attempts."""
    caught, own = step_retry_states("train", task="Run train", scope=SCOPE)
    assert own[caught]["Parameters"] == {"step": "train", "n.$": "$.run.retries.train.n"}
    assert own[caught]["ResultPath"] == "$.run.failing"
    shared = scope_retry_states(SCOPE, ["train", "eval"])
    data: dict[str, Any] = {
        "error": {"Error": error} | ({"Cause": cause} if cause is not None else {}),
        "run": {"failing": {"step": "train", "n": attempts}},
    }
    return _choose(shared[own[caught]["Next"]], data)


@pytest.mark.parametrize(
    ("error", "cause", "decision"),
    [
        ("SageMaker.AmazonSageMakerException", THROTTLED, SCOPE.throttled),
        ("SageMaker.AmazonSageMakerException", INVALID, SCOPE.failed),
        ("States.TaskFailed", _job_failed("CapacityError"), SCOPE.capacity),
        ("States.TaskFailed", _job_failed("InternalServerError", False), SCOPE.capacity),
        ("States.TaskFailed", _job_failed("AlgorithmError"), SCOPE.failed),
        ("States.TaskFailed", _job_failed("ClientError"), SCOPE.failed),
        ("States.Timeout", "the task timed out", SCOPE.failed),
        ("States.TaskFailed", None, SCOPE.failed),
    ],
)
def test_errors_are_retried_by_what_aws_says_they_are(
    error: str, cause: str | None, decision: str
) -> None:
    assert _decide(error, cause) == decision


def test_retries_stop_after_their_attempts() -> None:
    last = len(THROTTLING_CAPS)
    assert _decide("SageMaker.AmazonSageMakerException", THROTTLED, last - 1) == SCOPE.throttled
    assert _decide("SageMaker.AmazonSageMakerException", THROTTLED, last) == SCOPE.failed
    failed = _job_failed("CapacityError")
    assert _decide("States.TaskFailed", failed, len(CAPACITY_CAPS)) == SCOPE.failed


def test_the_wait_is_jittered_and_runs_the_failed_task_again() -> None:
    shared = scope_retry_states(SCOPE, ["train", "eval"])
    back_off = shared[SCOPE.throttled]
    assert back_off["ResultPath"] == "$.run.failing"
    assert back_off["Parameters"]["step.$"] == "$.run.failing.step"
    assert back_off["Parameters"]["n.$"] == "States.MathAdd($.run.failing.n, 1)"
    assert back_off["Parameters"]["seconds.$"].startswith("States.MathRandom(1, ")
    assert shared[SCOPE.wait] == {
        "Type": "Wait",
        "SecondsPath": "$.run.failing.seconds",
        "Next": SCOPE.dispatch,
    }
    # The scope's Choice goes back to the step that failed, whose Pass keeps the count.
    dispatch = shared[SCOPE.dispatch]
    assert _choose(dispatch, {"run": {"failing": {"step": "eval", "n": 1}}}) == "Retry eval"
    assert _choose(dispatch, {"run": {"failing": {"step": "train", "n": 1}}}) == "Retry train"
    _, own = step_retry_states("train", task="Run train", scope=SCOPE)
    assert own["Retry train"] == {
        "Type": "Pass",
        "Parameters": {"n.$": "$.run.failing.n"},
        "ResultPath": "$.run.retries.train",
        "Next": "Run train",
    }


def test_scope_state_names_are_told_apart() -> None:
    top, branch = RetryScope(), RetryScope.of_branch(3)
    assert top.classify == "Classify the error" and top.failed == "Pipeline: failed"
    assert branch.classify == "Classify the error (branch 3)"
    assert branch.failed == "Pipeline: failed (branch 3)"
    names = set(scope_retry_states(branch, ["a"]))
    assert names == {
        branch.classify,
        branch.throttled,
        branch.capacity,
        branch.wait,
        branch.dispatch,
        branch.failed,
        f"{branch.failed} with cause",
        f"{branch.failed} without cause",
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

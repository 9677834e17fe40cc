"""Task rules (``constructs_sm.nag.rules.task``) on hand-written templates: the Timeout,
Retry and Catch of each processing task; each change makes exactly its rule fire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from constructs_sm.nag import REQUIRED_RETRIES
from tests.nag.templates import Pipeline


def _catch_to(states: dict[str, Any]) -> Callable[[Pipeline], None]:
    """The Catch goes to ``Handle``, one of ``states`` (which replace ``Failed``)."""

    def change(p: Pipeline) -> None:
        p.task["Catch"][-1]["Next"] = "Handle"
        p.states = states

    return change


def _retry(*retriers: dict[str, Any]) -> Callable[[Pipeline], None]:
    return lambda p: p.task.update(Retry=list(retriers))


def _classify_everything(p: Pipeline) -> None:
    """One Catch of States.ALL into the retry loop (the library's own shape)."""
    p.task["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Throttled"}
    ]
    p.retry_loop["Throttled"]["Choices"][0]["Next"] = "Failed"


_FAIL = {"Type": "Fail"}
_RECORD_THEN_FAIL = {"Handle": {"Type": "Pass", "Next": "Failed"}, "Failed": _FAIL}
_CHOICE: dict[str, Any] = {
    "Type": "Choice",
    "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Failed"}],
    "Default": "Failed",
}

_OTHER_TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}


def _dispatch(*targets: str) -> dict[str, Any]:
    """A Choice on the failed step, as a scope's steps share it (constructs_sm.retries)."""
    return {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.failing", "StringEquals": t, "Next": f"Retry {t}"} for t in targets
        ],
        "Default": "Failed",
    }


_RETRIES = {
    "Retry Job": {"Type": "Pass", "Next": "Job"},
    "Retry Other": {"Type": "Pass", "Next": "Other"},
    "Other": _OTHER_TASK,
    "Failed": _FAIL,
}

#: Change to the compliant pipeline -> the findings on its state machine.
CASES: dict[str, tuple[Callable[[Pipeline], None], dict[str, list[str]]]] = {
    "Compliant": (lambda p: None, {}),
    "NoTimeout": (lambda p: p.task.pop("TimeoutSeconds"), {"TaskTimeout": ["Job"]}),
    "TimeoutEqualsMaxRuntime": (
        lambda p: p.task.update(TimeoutSeconds=3600),
        {"TaskTimeout": ["Job"]},
    ),
    "NoRetry": (lambda p: p.task.pop("Retry"), {"TaskRetry": ["Job"]}),
    "RetryMissesTheQuotaError": (
        _retry({"ErrorEquals": ["SageMaker.ResourceInUseException"]}),
        {"TaskRetry": ["Job"]},
    ),
    # Retried whatever the cause: a rejected request, a failing script, a running job.
    **{
        f"Retries{error.split('.')[-1]}": (
            _retry({"ErrorEquals": [*REQUIRED_RETRIES, error]}),
            {"TaskRetry": ["Job"]},
        )
        for error in (
            "SageMaker.AmazonSageMakerException",
            "States.TaskFailed",
            "States.Timeout",
            "States.ALL",
        )
    },
    "NoRetryOfThrottling": (lambda p: p.task["Catch"].pop(0), {"TaskRetry": ["Job"]}),
    "RetryLoopNeverComesBack": (
        lambda p: p.retry_loop["Back off"].update(Next="Rejected"),
        {"TaskRetry": ["Job"]},
    ),
    "RetryByCauseThroughStatesAll": (_classify_everything, {}),
    "RetryWithZeroAttempts": (
        _retry({"ErrorEquals": list(REQUIRED_RETRIES), "MaxAttempts": 0}),
        {"TaskRetry": ["Job"]},
    ),
    "OneRetrierPerError": (_retry(*({"ErrorEquals": [e]} for e in REQUIRED_RETRIES)), {}),
    "NoCatch": (lambda p: p.task["Catch"].pop(), {"TaskCatch": ["Job"]}),
    "CatchOfSomeErrorsOnly": (
        lambda p: p.task["Catch"][-1].update(ErrorEquals=["States.TaskFailed"]),
        {"TaskCatch": ["Job"]},
    ),
    "CatchToSuccess": (_catch_to({"Handle": {"Type": "Succeed"}}), {"TaskCatch": ["Job"]}),
    "CatchToPassThatEnds": (
        _catch_to({"Handle": {"Type": "Pass", "End": True}}),
        {"TaskCatch": ["Job"]},
    ),
    "CatchToPassThenFail": (_catch_to(_RECORD_THEN_FAIL), {}),
    "CatchToChoiceOfFails": (_catch_to({"Handle": _CHOICE, "Failed": _FAIL}), {}),
    "CatchToChoiceThatMaySucceed": (
        _catch_to(
            {"Handle": {**_CHOICE, "Default": "Done"}, "Failed": _FAIL, "Done": {"Type": "Succeed"}}
        ),
        {"TaskCatch": ["Job"]},
    ),
    "CatchToSharedRetryDispatch": (
        _catch_to({"Handle": _dispatch("Job", "Other"), **_RETRIES}),
        {},
    ),
    "CatchToDispatchOfAnotherTaskOnly": (
        _catch_to({"Handle": _dispatch("Other"), **_RETRIES}),
        {"TaskCatch": ["Job"]},
    ),
    "CatchToALoop": (
        _catch_to({"Handle": {"Type": "Pass", "Next": "Handle"}}),
        {"TaskCatch": ["Job"]},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_change_makes_exactly_its_rule_fire(name: str) -> None:
    change, expected = CASES[name]
    pipeline = Pipeline()
    change(pipeline)
    assert pipeline.findings().get("M", {}) == expected


def test_every_task_rule_has_a_failing_case() -> None:
    fired = {rule for _, expected in CASES.values() for rule in expected}
    assert fired == {"TaskTimeout", "TaskRetry", "TaskCatch"}

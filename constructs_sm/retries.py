"""How a processing task handles errors: derived from the names AWS raises (pure data).

What ``arn:aws:states:::sagemaker:createProcessingJob.sync`` reports when something goes
wrong (Step Functions Data Science SDK PR #162 and issue #191; public execution
histories; AWS Step Functions "Handling errors" and "Run a job (.sync)" pages):

- a throttled or rejected CreateProcessingJob call (throttling *and* validation alike):
  ``SageMaker.AmazonSageMakerException``, with a cause ending in
  ``(Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException; ...)``
  or ``Error Code: ValidationException``;
- an account quota: ``SageMaker.ResourceLimitExceededException``;
- a job that ran and failed: ``States.TaskFailed``, the cause being the job's description
  with its ``FailureReason`` (``CapacityError: ...``, ``InternalServerError: ...``,
  ``ClientError: ...``, ``AlgorithmError: ...``).

A Retrier matches error names only, never causes, so the policy is split:

- ``SageMaker.ResourceLimitExceededException`` is retried by the task's Retry (long,
  jittered waits: a quota frees up in minutes);
- everything else is caught into a Choice that reads the cause: a throttled call is
  retried with jittered exponential backoff for minutes, a ``ValidationException`` is not
  (it is not transient), a job that failed with ``CapacityError`` or
  ``InternalServerError`` runs again (a new job name: the name hashes the time the task
  state is entered), ``AlgorithmError`` and ``ClientError`` are not retried;
- ``States.Timeout`` is never retried: Step Functions does not stop a ``.sync`` job when
  the task times out, so a second job would write the same output prefix.

Attempts are counted per step in the state (``$.run.retries.<step>.n``, set to 0 for
every step when the execution starts); the wait before the next attempt is drawn at random
up to a cap that doubles with each attempt (``States.MathRandom``: full jitter).

The states that decide are shared by the steps of one scope (the top level, or one branch
of a Parallel state): a step adds a Pass that notes which step failed and its attempts
(``<step> error``) and a Pass that counts the attempt before its task runs again
(``Retry <step>``); the scope has one Choice on the error, the two waits, and a Choice
that goes back to the failed step. A 200-step pipeline's definition stays within
Step Functions' 1 MB (about 2.9 KB per step instead of 4.5 KB with states per step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

SAGEMAKER_API_ERROR: Final = "SageMaker.AmazonSageMakerException"
RESOURCE_LIMIT_ERROR: Final = "SageMaker.ResourceLimitExceededException"
TASK_FAILED: Final = "States.TaskFailed"
#: The job failure reasons worth another job: the capacity or the service, not the code.
TRANSIENT_FAILURES: Final = ("CapacityError", "InternalServerError")
#: Caps (seconds) of the jittered waits after a throttled call: about 8 minutes at most,
#: 4 on average, over 8 attempts.
THROTTLING_CAPS: Final = (2, 4, 8, 16, 32, 64, 128, 256)
#: Caps (seconds) of the waits before a job that failed for capacity runs again.
CAPACITY_CAPS: Final = (120, 300, 600)

#: Retries of the processing task itself: the only error worth a Retrier of its own.
JOB_RETRIES: Final[list[dict[str, Any]]] = [
    {
        "ErrorEquals": [RESOURCE_LIMIT_ERROR],
        "IntervalSeconds": 60,
        "BackoffRate": 1.5,
        "MaxAttempts": 6,
        "MaxDelaySeconds": 900,
        "JitterStrategy": "FULL",
    },
]

#: Retries of the small S3 reads and writes the state machine makes itself (idempotent:
#: a timed-out put or get may safely run again).
S3_RETRIES: Final[list[dict[str, Any]]] = [
    {
        "ErrorEquals": ["S3.SdkClientException", "S3.S3Exception", "States.Timeout"],
        "IntervalSeconds": 1,
        "BackoffRate": 1.5,
        "MaxAttempts": 4,
        "JitterStrategy": "FULL",
    }
]


def _cause_matches(*texts: str) -> dict[str, Any]:
    tests = [{"Variable": "$.error.Cause", "StringMatches": f"*{text}*"} for text in texts]
    return tests[0] if len(tests) == 1 else {"Or": tests}


def _failure_reason_is(reasons: Sequence[str]) -> dict[str, Any]:
    # The cause is the job's description as JSON: {"FailureReason":"CapacityError: ...",...}
    return _cause_matches(
        *(f'"FailureReason":{space}"{reason}:' for reason in reasons for space in ("", " "))
    )


@dataclass(frozen=True)
class RetryScope:
    """The names of the error-handling states one scope's steps share.

    ``suffix`` tells scopes apart (state names are unique in the whole state machine):
    empty at the top level, `` (branch 3)`` in a Parallel state's third branch. No
    state name of a step (``Run <step>``, ``<step> error``, ``Retry <step>``) can equal
    one of these: a step name has no space.
    """

    suffix: str = ""
    failed: str = "Pipeline: failed"

    @classmethod
    def of_branch(cls, number: int) -> RetryScope:
        suffix = f" (branch {number})"
        return cls(suffix, f"Pipeline: failed{suffix}")

    @classmethod
    def of_items(cls, step: str) -> RetryScope:
        """The scope of a ``for_each`` step's item (its child execution): a failed item
        fails its child execution, which the Map counts against its tolerance."""
        suffix = f" ({step} items)"
        return cls(suffix, f"Item failed{suffix}")

    @property
    def classify(self) -> str:
        return f"Classify the error{self.suffix}"

    @property
    def throttled(self) -> str:
        return f"Back off{self.suffix}"

    @property
    def capacity(self) -> str:
        return f"Wait for capacity{self.suffix}"

    @property
    def wait(self) -> str:
        return f"Wait to retry{self.suffix}"

    @property
    def dispatch(self) -> str:
        return f"Retry the failed step{self.suffix}"


#: Where a caught error of a processing task is noted: which step, how many attempts.
FAILING: Final = "$.run.failing"


def step_retry_states(step: str, *, task: str, scope: RetryScope) -> tuple[str, dict[str, Any]]:
    """A step's own error-handling states: the target of its task's ``Catch
    [States.ALL]`` (noting the step and its attempts for the scope's Choice) and the
    state that counts the attempt and runs ``task`` again."""
    caught, again = f"{step} error", f"Retry {step}"
    return caught, {
        caught: {
            "Type": "Pass",
            "Parameters": {"step": step, "n.$": f"$.run.retries.{step}.n"},
            "ResultPath": FAILING,
            "Next": scope.classify,
        },
        again: {
            "Type": "Pass",
            "Parameters": {"n.$": f"{FAILING}.n"},
            "ResultPath": f"$.run.retries.{step}",
            "Next": task,
        },
    }


def scope_retry_states(scope: RetryScope, steps: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The states ``steps`` (each with :func:`step_retry_states`) share: a Choice on the
    error and its cause, a Pass that counts the attempt and draws the wait (one per kind
    of retry), the Wait, and a Choice back to the failed step; plus the scope's failure
    states (:func:`failure_states`)."""
    attempts = f"{FAILING}.n"
    states: dict[str, dict[str, Any]] = {
        scope.classify: {
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.error.Cause", "IsPresent": True}, "Next": scope.failed},
                {
                    "And": [
                        {"Variable": "$.error.Error", "StringEquals": SAGEMAKER_API_ERROR},
                        {"Not": _cause_matches("ValidationException")},
                        {"Variable": attempts, "NumericLessThan": len(THROTTLING_CAPS)},
                    ],
                    "Next": scope.throttled,
                },
                {
                    "And": [
                        {"Variable": "$.error.Error", "StringEquals": TASK_FAILED},
                        _failure_reason_is(TRANSIENT_FAILURES),
                        {"Variable": attempts, "NumericLessThan": len(CAPACITY_CAPS)},
                    ],
                    "Next": scope.capacity,
                },
            ],
            "Default": scope.failed,
        },
    }
    for name, caps, low in (
        (scope.throttled, THROTTLING_CAPS, 1),
        (scope.capacity, CAPACITY_CAPS, 60),
    ):
        array = ", ".join(str(cap) for cap in caps)
        states[name] = {
            "Type": "Pass",
            "Parameters": {
                "step.$": f"{FAILING}.step",
                "n.$": f"States.MathAdd({attempts}, 1)",
                "seconds.$": (
                    f"States.MathRandom({low}, States.ArrayGetItem(States.Array({array}), "
                    f"{attempts}))"
                ),
            },
            "ResultPath": FAILING,
            "Next": scope.wait,
        }
    states[scope.wait] = {
        "Type": "Wait",
        "SecondsPath": f"{FAILING}.seconds",
        "Next": scope.dispatch,
    }
    states[scope.dispatch] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": f"{FAILING}.step", "StringEquals": step, "Next": f"Retry {step}"}
            for step in steps
        ],
        "Default": scope.failed,
    }
    states.update(failure_states(scope.failed))
    return states


def failure_states(name: str) -> dict[str, dict[str, Any]]:
    """``name``: end the execution with the caught error and its cause, or without a
    cause when the error has none (a ``CausePath`` to a missing field would replace the
    original error with a runtime error)."""
    return {
        name: {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.error.Cause", "IsPresent": True, "Next": f"{name} with cause"}
            ],
            "Default": f"{name} without cause",
        },
        f"{name} with cause": {
            "Type": "Fail",
            "ErrorPath": "$.error.Error",
            "CausePath": "$.error.Cause",
        },
        f"{name} without cause": {"Type": "Fail", "ErrorPath": "$.error.Error"},
    }

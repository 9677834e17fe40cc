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

Attempts are counted in the state (``$.run.retries.<step>.n``, set to 0 for every step
when the execution starts); the wait before the next attempt is drawn at random up to a
cap that doubles with each attempt (``States.MathRandom``: full jitter).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def retry_states(
    step: str, *, task: str, failed_state: str
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The states that decide, from a caught error, whether ``task`` runs again.

    Returns the name of the state a ``Catch [States.ALL]`` of the task goes to, and the
    states: a Choice on the error and its cause, a Pass counting the attempt and drawing
    the wait, and the Wait.
    """
    classify = f"Classify {step} error"
    throttled, capacity = f"Back off {step}", f"Wait for capacity {step}"
    wait = f"Wait to retry {step}"
    counter = f"$.run.retries.{step}"
    attempts = f"{counter}.n"
    states: dict[str, dict[str, Any]] = {
        classify: {
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.error.Cause", "IsPresent": True}, "Next": failed_state},
                {
                    "And": [
                        {"Variable": "$.error.Error", "StringEquals": SAGEMAKER_API_ERROR},
                        {"Not": _cause_matches("ValidationException")},
                        {"Variable": attempts, "NumericLessThan": len(THROTTLING_CAPS)},
                    ],
                    "Next": throttled,
                },
                {
                    "And": [
                        {"Variable": "$.error.Error", "StringEquals": TASK_FAILED},
                        _failure_reason_is(TRANSIENT_FAILURES),
                        {"Variable": attempts, "NumericLessThan": len(CAPACITY_CAPS)},
                    ],
                    "Next": capacity,
                },
            ],
            "Default": failed_state,
        },
    }
    for name, caps, low in ((throttled, THROTTLING_CAPS, 1), (capacity, CAPACITY_CAPS, 60)):
        array = ", ".join(str(cap) for cap in caps)
        states[name] = {
            "Type": "Pass",
            "Parameters": {
                "n.$": f"States.MathAdd({attempts}, 1)",
                "seconds.$": (
                    f"States.MathRandom({low}, States.ArrayGetItem(States.Array({array}), "
                    f"{attempts}))"
                ),
            },
            "ResultPath": counter,
            "Next": wait,
        }
    states[wait] = {"Type": "Wait", "SecondsPath": f"{counter}.seconds", "Next": task}
    return classify, states


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

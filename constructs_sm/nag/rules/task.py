"""Task rules: how the state machine waits for, retries and catches each processing job.

A TimeoutSeconds above the job's own limit, error handling keyed on the names AWS raises
(see :mod:`constructs_sm.retries`) and a Catch for ``States.ALL`` that ends in a Fail
state, checked per processing task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from constructs_sm.nag.rules.base import STATE_MACHINE, Rule, per_task
from constructs_sm.nag.values import as_list, is_static_int, static


def _task_timeout(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    timeout = state.get("TimeoutSeconds")
    if not is_static_int(timeout) or timeout < 1:
        return "the task has no TimeoutSeconds"
    runtime = static(params, "StoppingCondition", "MaxRuntimeInSeconds")
    if is_static_int(runtime) and timeout <= runtime:
        return f"TimeoutSeconds {timeout} does not exceed MaxRuntimeInSeconds {runtime}"
    return None


TIMEOUT: Final = Rule(
    name="TaskTimeout",
    resource_types=STATE_MACHINE,
    info="A processing task has no TimeoutSeconds above the job's MaxRuntimeInSeconds.",
    explanation=(
        "Without a task timeout a lost job completion event stalls the execution for a year."
    ),
    fix="Set TimeoutSeconds on the task, above MaxRuntimeInSeconds plus start-up time.",
    check=per_task(_task_timeout),
)


#: The one error a processing task retries with a Retrier of its own: a Retrier matches
#: error names only, and this one never means a rejected request (constructs_sm.retries).
REQUIRED_RETRIES: Final = ("SageMaker.ResourceLimitExceededException",)
#: Errors a processing task must not retry with a Retrier: a timed-out ``.sync`` job keeps
#: running (a second one would write the same outputs); AmazonSageMakerException is also a
#: rejected request (ValidationException); a failed job (States.TaskFailed) also failed
#: for its code (AlgorithmError, ClientError). Those are retried by their cause, through
#: the Catch (constructs_sm.retries.scope_retry_states).
NEVER_RETRIED: Final = (
    "States.ALL",
    "States.Timeout",
    "States.TaskFailed",
    "SageMaker.AmazonSageMakerException",
)


def _task_retry(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    retried = {
        error
        for retrier in as_list(state.get("Retry"))
        if isinstance(retrier, dict) and retrier.get("MaxAttempts", 3) != 0
        for error in as_list(retrier.get("ErrorEquals"))
    }
    problems = []
    missing = [error for error in REQUIRED_RETRIES if error not in retried]
    if missing:
        problems.append(f"no Retry for {', '.join(missing)}")
    wrong = [error for error in NEVER_RETRIED if error in retried]
    if wrong:
        problems.append(f"a Retry for {', '.join(wrong)} (retried whatever the cause)")
    if not _retries_throttling(state, states):
        problems.append(
            "throttled calls (SageMaker.AmazonSageMakerException) are never run again: no "
            "Catch leads back to the task"
        )
    return "; ".join(problems) or None


def _retries_throttling(state: dict[str, Any], states: Mapping[str, Any]) -> bool:
    """True if a Catch of SageMaker.AmazonSageMakerException (or States.ALL) can lead back
    to the task through Choice, Pass and Wait states (a retry by cause)."""
    targets = [
        catcher.get("Next")
        for catcher in as_list(state.get("Catch"))
        if isinstance(catcher, dict)
        and {"States.ALL", "SageMaker.AmazonSageMakerException"}
        & set(as_list(catcher.get("ErrorEquals")))
    ]
    todo, seen = [t for t in targets if isinstance(t, str)], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        current = states.get(name)
        if current is state:
            return True
        if not isinstance(current, dict) or current.get("Type") not in ("Choice", "Pass", "Wait"):
            continue
        following = [current.get("Next"), current.get("Default")]
        following += [c.get("Next") for c in as_list(current.get("Choices")) if isinstance(c, dict)]
        todo += [n for n in following if isinstance(n, str)]
    return False


RETRY: Final = Rule(
    name="TaskRetry",
    resource_types=STATE_MACHINE,
    info=(
        "A processing task does not handle the errors AWS raises: a Retry for "
        "SageMaker.ResourceLimitExceededException, no Retry for errors that also mean a "
        "rejected request, a failed job or a job still running (States.Timeout), and a "
        "Catch that runs throttled calls again."
    ),
    explanation=(
        "Throttling, quotas and capacity shortages should not fail a run; a rejected "
        "request or a failing script should fail it at once; a timed-out .sync job is not "
        "stopped by Step Functions, so retrying it runs two jobs on one output prefix."
    ),
    fix=(
        "Retry SageMaker.ResourceLimitExceededException; never Retry States.Timeout, "
        "States.TaskFailed, States.ALL or SageMaker.AmazonSageMakerException; Catch "
        "States.ALL into a Choice on $.error.Cause that waits and runs the task again for "
        "throttling (not ValidationException) and for CapacityError/InternalServerError "
        "failures (see constructs_sm.retries)."
    ),
    check=per_task(_task_retry),
)


def _task_catch(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    for catcher in as_list(state.get("Catch")):
        if isinstance(catcher, dict) and "States.ALL" in as_list(catcher.get("ErrorEquals")):
            target = catcher.get("Next")
            if _leads_to_fail(states, target, set(), state):
                return None
            return f"the Catch for States.ALL goes to {target!r}, which does not end in Fail"
    return "no Catch for States.ALL"


def _leads_to_fail(
    states: Mapping[str, Any], name: Any, seen: set[str], task: Mapping[str, Any]
) -> bool:
    """True if every path from state ``name`` (Next, Choice branches) ends in a Fail state
    or runs ``task`` again (a retry, whose next error that same Catch handles); of a
    Choice that runs ``task`` again, a branch may instead run another task again (a retry
    dispatch several tasks share)."""
    state = states.get(name) if isinstance(name, str) else None
    if state is task:
        return True
    if not isinstance(state, dict) or name in seen:
        return False
    seen = seen | {name}
    kind = state.get("Type")
    if kind == "Fail":
        return True
    if kind == "Choice":
        targets = [c.get("Next") for c in as_list(state.get("Choices")) if isinstance(c, dict)]
        targets += [state["Default"]] if "Default" in state else []
        ending = [_leads_to_fail(states, t, seen, task) for t in targets]
        if bool(targets) and all(ending):
            return True
        # A retry dispatch shared by several tasks (constructs_sm.retries.scope_retry_states):
        # one branch runs this task again, each other one a Fail or another task again.
        reached = [_task_after_passes(states, t) for t in targets]
        return any(r is task for r in reached) and all(
            ends or (r is not None and r is not task)
            for ends, r in zip(ending, reached, strict=True)
        )
    if kind == "Succeed" or state.get("End") or "Next" not in state:
        return False
    return _leads_to_fail(states, state["Next"], seen, task)


def _task_after_passes(states: Mapping[str, Any], name: Any) -> Mapping[str, Any] | None:
    """The Task state that state ``name`` leads to through Pass states alone, or None."""
    seen: set[str] = set()
    while isinstance(name, str) and name not in seen:
        seen.add(name)
        state = states.get(name)
        if not isinstance(state, dict) or state.get("Type") not in ("Task", "Pass"):
            return None
        if state["Type"] == "Task":
            return state
        name = state.get("Next")
    return None


CATCH: Final = Rule(
    name="TaskCatch",
    resource_types=STATE_MACHINE,
    info="A processing task has no Catch for States.ALL that ends in a Fail state.",
    explanation=(
        "A caught error ends the execution in a failure state that keeps the error and cause."
    ),
    fix=(
        "Add Catch [{ErrorEquals: [States.ALL], ResultPath: $.error, Next: <Fail state>}] "
        "(or Next: states that end in a Fail state)."
    ),
    check=per_task(_task_catch),
)

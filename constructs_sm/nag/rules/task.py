"""Task rules: how the state machine waits for, retries and catches each processing job.

A TimeoutSeconds above the job's own limit, a Retry for the transient SageMaker errors and
a Catch for ``States.ALL`` that ends in a Fail state, checked per processing task.
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


#: Errors every processing task retries (SECURITY.md "Reliability").
REQUIRED_RETRIES: Final = (
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "ThrottlingException",
    "States.Timeout",
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
    missing = [error for error in REQUIRED_RETRIES if error not in retried]
    return f"no Retry for {', '.join(missing)}" if missing else None


RETRY: Final = Rule(
    name="TaskRetry",
    resource_types=STATE_MACHINE,
    info="A processing task does not retry the SageMaker, throttling and timeout errors.",
    explanation="Transient SageMaker errors, capacity limits and throttling should not fail a run.",
    fix=(
        "Add Retry entries for " + ", ".join(REQUIRED_RETRIES) + " (see constructs_sm.step."
        "JOB_RETRIES)."
    ),
    check=per_task(_task_retry),
)


def _task_catch(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    for catcher in as_list(state.get("Catch")):
        if isinstance(catcher, dict) and "States.ALL" in as_list(catcher.get("ErrorEquals")):
            target = catcher.get("Next")
            if _leads_to_fail(states, target, set()):
                return None
            return f"the Catch for States.ALL goes to {target!r}, which does not end in Fail"
    return "no Catch for States.ALL"


def _leads_to_fail(states: Mapping[str, Any], name: Any, seen: set[str]) -> bool:
    """True if every path from state ``name`` (Next, Choice branches) ends in a Fail state."""
    state = states.get(name) if isinstance(name, str) else None
    if not isinstance(state, dict) or name in seen:
        return False
    seen = seen | {name}
    kind = state.get("Type")
    if kind == "Fail":
        return True
    if kind == "Choice":
        targets = [c.get("Next") for c in as_list(state.get("Choices")) if isinstance(c, dict)]
        targets += [state["Default"]] if "Default" in state else []
        return bool(targets) and all(_leads_to_fail(states, t, seen) for t in targets)
    if kind == "Succeed" or state.get("End") or "Next" not in state:
        return False
    return _leads_to_fail(states, state["Next"], seen)


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

"""The state-machine definition as pure Python data (JSONPath + intrinsic functions).

:func:`build_definition` turns the parameters, the steps' job settings and the plan into
one Step Functions definition:

1. merge the declared defaults into the execution input and type-check every parameter
   (``InvalidParameters`` names the parameter);
2. write the parameters to ``<pipeline>/_run/params/<execution>/params.json`` (every
   step's ``params`` channel, :mod:`constructs_sm.layout`);
3. run the steps as planned (:mod:`constructs_sm.plan`), each as
   ``createProcessingJob.sync`` (:func:`step_states`) followed by reading back its
   returned values.

No CDK object is created here; strings may be tokens, resolved when the construct
hands the definition to CDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from constructs_sm import runtime as _rt
from constructs_sm.fanout import map_state
from constructs_sm.job import JobSettings, render_job_parameters
from constructs_sm.job_logs import log_selector
from constructs_sm.layout import RUN_STEP, channel_key_expression
from constructs_sm.param_checks import defaults_expression, validation_states
from constructs_sm.params import Param
from constructs_sm.plan import Plan, plan
from constructs_sm.retries import (
    JOB_RETRIES,
    S3_RETRIES,
    RetryScope,
    failure_states,
    scope_retry_states,
    step_retry_states,
)
from constructs_sm.returned import result_selector, returned_states

#: Time a job may spend starting (instance provisioning, image pull, input download)
#: and uploading on top of its MaxRuntimeInSeconds before the task times out.
TASK_OVERHEAD_SECONDS: Final = 2 * 3600
#: A Parallel state merges its branches' results in one field with a balanced tree of
#: States.JsonMerge calls; intrinsic functions nest at most 10 deep, so a Parallel state
#: holds at most 2**10 branches (wider fan-outs are split into nested Parallel states).
_MAX_BRANCHES: Final = 1024
#: Step names cannot contain ":", so these never collide with a step's state names.
_FAILED: Final = "Pipeline: failed"
_SUCCEEDED: Final = "Pipeline: succeeded"


def step_states(
    settings: JobSettings,
    *,
    partition: str,
    next_state: str | None,
    scope: RetryScope,
    bucket_name: str = "",
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The states of one step: the job, then reading and checking its returned values.

    Returns the first state's name and the states; the last state goes to
    ``next_state`` (or ends the branch when None). A processing job's errors go to the
    retry policy of :mod:`constructs_sm.retries`, whose states the steps of ``scope``
    share (:func:`~constructs_sm.retries.scope_retry_states`, added by the caller); other
    errors end in the scope's failure states.
    """
    step = settings.step
    run = f"Run {step}"
    if settings.fan_out is not None:
        fan_out = _fan_out_state(
            settings, partition=partition, scope=scope, bucket_name=bucket_name
        )
        if next_state is None:
            fan_out["End"] = True
        else:
            fan_out["Next"] = next_state
        return run, {run: fan_out}
    states: dict[str, dict[str, Any]] = {}
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": scope.failed}]
    classify, retrying = step_retry_states(step, task=run, scope=scope)
    task = _job_task(settings, partition, classify)
    states[run] = task
    states.update(retrying)
    last = task
    if settings.returns:
        first, reading, last_name = returned_states(settings, partition=partition, catch=catch)
        task["ResultSelector"].update(result_selector(settings))
        task["Next"] = first
        states.update(reading)
        last = states[last_name]
    if last["Type"] == "Choice":
        if next_state is None:
            done = f"{step} done"
            states[done] = {"Type": "Succeed"}
            last["Default"] = done
        else:
            last["Default"] = next_state
    elif next_state is None:
        last["End"] = True
    else:
        last["Next"] = next_state
    return run, states


def _job_task(settings: JobSettings, partition: str, catch_target: str) -> dict[str, Any]:
    """The ``createProcessingJob.sync`` task of a step (or of one item of a fan-out)."""
    return {
        "Type": "Task",
        "Resource": f"arn:{partition}:states:::sagemaker:createProcessingJob.sync",
        "Parameters": render_job_parameters(settings),
        "TimeoutSeconds": settings.resources.max_runtime_seconds + TASK_OVERHEAD_SECONDS,
        "ResultSelector": {
            "job_name.$": "$.ProcessingJobName",
            "status.$": "$.ProcessingJobStatus",
            **log_selector(),  # where the job's CloudWatch log streams are
        },
        "ResultPath": f"$.steps.{settings.step}",
        "Retry": JOB_RETRIES,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_target}],
    }


def _fan_out_state(
    settings: JobSettings, *, partition: str, scope: RetryScope, bucket_name: str
) -> dict[str, Any]:
    """A ``for_each`` step: a Distributed Map whose child runs the job for one item, with
    the retry policy's states in the child (:mod:`constructs_sm.fanout`)."""
    assert settings.fan_out is not None
    step = settings.step
    task_name = f"Run {step} item"
    items = RetryScope.of_items(step)
    caught, retrying = step_retry_states(step, task=task_name, scope=items)
    task = _job_task(settings, partition, caught)
    task["End"] = True
    child = {task_name: task, **retrying, **scope_retry_states(items, [step])}
    return map_state(
        pipeline=settings.pipeline,
        step=step,
        fan_out=settings.fan_out,
        partition=partition,
        start_at=task_name,
        states=child,
        failed_state=scope.failed,
        bucket_name=bucket_name,
    )


def _merge_expression(paths: Sequence[str]) -> str:
    """``States.JsonMerge`` of ``paths`` as a balanced tree: ``ceil(log2(n))`` deep."""
    if len(paths) == 1:
        return paths[0]
    middle = (len(paths) + 1) // 2
    first, second = _merge_expression(paths[:middle]), _merge_expression(paths[middle:])
    return f"States.JsonMerge({first}, {second}, false)"


class _DefinitionBuilder:
    def __init__(
        self, settings: Mapping[str, JobSettings], partition: str, bucket_name: str = ""
    ) -> None:
        self.settings = settings
        self.partition = partition
        self.bucket_name = bucket_name
        self.parallels = 0
        self.branches = 0
        self.names: set[str] = set()
        #: The steps emitted in each scope so far.
        self.scope_steps: dict[RetryScope, list[str]] = {}

    def put(self, states: dict[str, Any], new: Mapping[str, Any]) -> None:
        """Add states; state names must be unique across the whole state machine."""
        for name, state in new.items():
            if name in self.names:
                raise ValueError(f"two states would be named {name!r}; rename the step")
            if len(name) > 80:
                raise ValueError(f"state name {name!r} is longer than 80 characters")
            self.names.add(name)
            states[name] = state

    def emit(
        self, node: Plan, next_state: str | None, states: dict[str, Any], scope: RetryScope
    ) -> str:
        if isinstance(node, str):
            first, step = step_states(
                self.settings[node],
                partition=self.partition,
                next_state=next_state,
                scope=scope,
                bucket_name=self.bucket_name,
            )
            self.put(states, step)
            if self.settings[node].fan_out is None:
                self.scope_steps.setdefault(scope, []).append(node)
            else:  # a fan-out retries in its children, whose states are named apart too
                self.put({}, step[first]["ItemProcessor"]["States"])
            return first
        kind, parts = node
        if kind == "seq":
            following = next_state
            for part in reversed(parts):
                following = self.emit(part, following, states, scope)
            assert following is not None
            return following
        if len(parts) > _MAX_BRANCHES:
            size = -(-len(parts) // _MAX_BRANCHES)
            parts = [("par", parts[i : i + size]) for i in range(0, len(parts), size)]
        self.parallels += 1
        name = f"Parallel {self.parallels}"
        branches = []
        for part in parts:
            self.branches += 1
            branch = RetryScope.of_branch(self.branches)
            branch_states: dict[str, Any] = {}
            start = self.emit(part, None, branch_states, branch)
            self.close(branch, branch_states)
            branches.append({"StartAt": start, "States": branch_states})
        state: dict[str, Any] = {
            "Type": "Parallel",
            "Branches": branches,
            "ResultSelector": {
                "params.$": "$[0].params",
                "run.$": "$[0].run",
                "steps.$": _merge_expression([f"$[{i}].steps" for i in range(len(parts))]),
            },
            "ResultPath": "$",
        }
        if next_state is None:
            state["End"] = True
        else:
            state["Next"] = next_state
        self.put(states, {name: state})
        return name

    def close(self, scope: RetryScope, states: dict[str, Any]) -> None:
        """Add the states the steps of ``scope`` share (its failure states at least)."""
        steps = self.scope_steps.get(scope)
        shared = scope_retry_states(scope, steps) if steps else failure_states(scope.failed)
        self.put(states, shared)


def build_definition(
    *,
    pipeline: str,
    bucket_name: str,
    params: Mapping[str, Param],
    steps: Mapping[str, JobSettings],
    deps: Mapping[str, Sequence[str]],
    partition: str,
    timeout_seconds: int | None = None,
    input_locations: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The pipeline's state-machine definition as Python data (strings may be tokens).

    ``input_locations`` maps a string parameter used as a step input to the S3 prefixes
    (``s3://bucket/prefix``) its value must lie under: the steps' roles may read only
    there, so any other URI fails before the first job with ``InvalidParameters``.
    """
    builder = _DefinitionBuilder(steps, partition, bucket_name)
    states: dict[str, Any] = {}
    write, merge = "Write parameters", "Merge defaults"
    check, checks = validation_states(
        params, next_state=write, carry=("run", "steps"), locations=input_locations
    )
    builder.put(
        states,
        {
            merge: {
                "Type": "Pass",
                "Parameters": {
                    **({"params.$": defaults_expression(params)} if params else {"params": {}}),
                    "run": {
                        "bucket": bucket_name,
                        "pipeline": pipeline,
                        "execution.$": "$$.Execution.Name",
                        # Attempts of each step's job (see constructs_sm.retries).
                        "retries": {name: {"n": 0} for name in steps},
                    },
                    "steps": {},
                },
                "Next": check,
            },
            **checks,
        },
    )
    schedule = plan(deps)
    step_states_: dict[str, Any] = {}
    # The last step ends the execution itself (no Succeed state to enter: one transition
    # fewer per execution).
    top = RetryScope(failed=_FAILED)
    first_step = builder.emit(schedule, None, step_states_, top) if schedule else _SUCCEEDED
    builder.put(
        states,
        {
            write: {
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:s3:putObject",
                "Parameters": {
                    "Bucket.$": "$.run.bucket",
                    "Key.$": channel_key_expression(
                        pipeline, RUN_STEP, _rt.PARAMS_CHANNEL, _rt.PARAMS_FILE
                    ),
                    "Body.$": "States.JsonToString($.params)",
                    "ContentType": "application/json",
                },
                # Not None: CDK drops JSON nulls from definitions.
                "ResultPath": "$.run.params_file",
                "TimeoutSeconds": 60,
                "Retry": S3_RETRIES,
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": _FAILED}
                ],
                "Next": first_step,
            },
        },
    )
    states.update(step_states_)
    builder.close(top, states)
    if schedule is None:
        builder.put(states, {_SUCCEEDED: {"Type": "Succeed"}})
    definition: dict[str, Any] = {
        "Comment": f"constructs_sm pipeline {pipeline}",
        "QueryLanguage": "JSONPath",
        "StartAt": merge,
        "States": states,
    }
    if timeout_seconds is not None:
        definition["TimeoutSeconds"] = timeout_seconds
    return definition

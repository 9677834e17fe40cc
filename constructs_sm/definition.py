"""The state-machine definition as pure Python data (JSONPath + intrinsic functions).

:func:`build_definition` turns the parameters, the steps' job settings and the plan into
one Step Functions definition:

1. merge the declared defaults into the execution input and type-check every parameter
   (``InvalidParameters`` names the parameter);
2. write the parameters to ``<pipeline>/<execution>/_run/params.json`` (every step's
   ``params`` channel);
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
from constructs_sm.job import JobSettings, render_job_parameters
from constructs_sm.layout import RUN_STEP, channel_key_expression
from constructs_sm.params import (
    INVALID_PARAMETERS,
    Param,
    glob_literal,
    integer_value_expression,
    validation_states,
)
from constructs_sm.plan import Plan, plan
from constructs_sm.retries import JOB_RETRIES, S3_RETRIES, failure_states, retry_states
from constructs_sm.returned import result_selector, returned_states

#: Time a job may spend starting (instance provisioning, image pull, input download)
#: and uploading on top of its MaxRuntimeInSeconds before the task times out.
TASK_OVERHEAD_SECONDS: Final = 2 * 3600
#: A Parallel state merges its branches' results in one field; intrinsic functions nest
#: at most 10 deep, so wider fan-outs are split into nested Parallel states.
_MAX_BRANCHES: Final = 10
#: Step names cannot contain ":", so these never collide with a step's state names.
_FAILED: Final = "Pipeline: failed"
_SUCCEEDED: Final = "Pipeline: succeeded"
_SELECT: Final = "Pipeline: select parameters"


def step_states(
    settings: JobSettings, *, partition: str, next_state: str | None, failed_state: str
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The states of one step: the job, then reading and checking its returned values.

    Returns the first state's name and the states; the last state goes to
    ``next_state`` (or ends the branch when None). Errors are caught into
    ``failed_state`` (see ``retries.failure_states``), a processing job's after the retry
    policy of :mod:`constructs_sm.retries` decided not to run it again.
    """
    step = settings.step
    run = f"Run {step}"
    states: dict[str, dict[str, Any]] = {}
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed_state}]
    classify, retrying = retry_states(step, task=run, failed_state=failed_state)
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": f"arn:{partition}:states:::sagemaker:createProcessingJob.sync",
        "Parameters": render_job_parameters(settings),
        "TimeoutSeconds": settings.resources.max_runtime_seconds + TASK_OVERHEAD_SECONDS,
        "ResultSelector": {
            "job_name.$": "$.ProcessingJobName",
            "status.$": "$.ProcessingJobStatus",
        },
        "ResultPath": f"$.steps.{step}",
        "Retry": JOB_RETRIES,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": classify}],
    }
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


def _merge_expression(paths: Sequence[str]) -> str:
    expression = paths[0]
    for path in paths[1:]:
        expression = f"States.JsonMerge({expression}, {path}, false)"
    return expression


class _DefinitionBuilder:
    def __init__(self, settings: Mapping[str, JobSettings], partition: str) -> None:
        self.settings = settings
        self.partition = partition
        self.parallels = 0
        self.names: set[str] = set()

    def put(self, states: dict[str, Any], new: Mapping[str, Any]) -> None:
        """Add states; state names must be unique across the whole state machine."""
        for name, state in new.items():
            if name in self.names:
                raise ValueError(f"two states would be named {name!r}; rename the step")
            if len(name) > 80:
                raise ValueError(f"state name {name!r} is longer than 80 characters")
            self.names.add(name)
            states[name] = state

    def emit(self, node: Plan, next_state: str | None, states: dict[str, Any]) -> str:
        if isinstance(node, str):
            failed = f"{node} failed"
            first, step = step_states(
                self.settings[node],
                partition=self.partition,
                next_state=next_state,
                failed_state=failed,
            )
            self.put(states, {**failure_states(failed), **step})
            return first
        kind, parts = node
        if kind == "seq":
            following = next_state
            for part in reversed(parts):
                following = self.emit(part, following, states)
            assert following is not None
            return following
        if len(parts) > _MAX_BRANCHES:
            size = -(-len(parts) // _MAX_BRANCHES)
            parts = [("par", parts[i : i + size]) for i in range(0, len(parts), size)]
        self.parallels += 1
        name = f"Parallel {self.parallels}"
        branches = []
        for part in parts:
            branch_states: dict[str, Any] = {}
            start = self.emit(part, None, branch_states)
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
    builder = _DefinitionBuilder(steps, partition)
    states: dict[str, Any] = {}
    write, merge = "Write parameters", "Merge defaults"
    builder.put(
        states,
        {
            "Read input": {
                "Type": "Pass",
                "Parameters": {
                    "defaults": {n: p.default for n, p in params.items() if p.default is not None},
                    "input.$": "$$.Execution.Input",
                },
                "Next": merge,
            },
            merge: {
                "Type": "Pass",
                "Parameters": {
                    "params.$": "States.JsonMerge($.defaults, $.input, false)",
                    "run": {
                        "bucket": bucket_name,
                        "pipeline": pipeline,
                        "execution.$": "$$.Execution.Name",
                        # Attempts of each step's job (retries.retry_states counts them).
                        "retries": {name: {"n": 0} for name in steps},
                    },
                    "steps": {},
                },
                "Next": "",  # the first validation state, set below
            },
        },
    )
    check, checks = validation_states(params, next_state=_SELECT)
    states[merge]["Next"] = check
    builder.put(states, checks)
    after_select = write
    if input_locations:
        after_select = "Check input locations"
        locations: dict[str, Any] = {}
        locations[after_select] = _location_checks(
            input_locations, next_state=write, states=locations
        )
        builder.put(states, locations)
    builder.put(
        states,
        {
            # Only declared parameters go on: keys of the input that are not parameters
            # are dropped here (the local CLI rejects them before starting).
            _SELECT: {
                "Type": "Pass",
                "Parameters": {
                    # Integral doubles (5.0) go on as integers (5).
                    "params": {
                        f"{n}.$": integer_value_expression(f"$.checks.{n}")
                        if p.type == "integer"
                        else f"$.params.{n}"
                        for n, p in params.items()
                    },
                    "run.$": "$.run",
                    "steps.$": "$.steps",
                },
                "Next": after_select,
            },
        },
    )
    schedule = plan(deps)
    step_states_: dict[str, Any] = {}
    first_step = builder.emit(schedule, _SUCCEEDED, step_states_) if schedule else _SUCCEEDED
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
    builder.put(states, {**failure_states(_FAILED), _SUCCEEDED: {"Type": "Succeed"}})
    definition: dict[str, Any] = {
        "Comment": f"constructs_sm pipeline {pipeline}",
        "QueryLanguage": "JSONPath",
        "StartAt": "Read input",
        "States": states,
    }
    if timeout_seconds is not None:
        definition["TimeoutSeconds"] = timeout_seconds
    return definition


def _location_checks(
    locations: Mapping[str, Sequence[str]], *, next_state: str, states: dict[str, Any]
) -> dict[str, Any]:
    """A Choice failing when an input parameter points outside its allowed prefixes."""
    rules = []
    for name, prefixes in locations.items():
        fail = f"Invalid location {name}"
        tests = [
            {"Variable": f"$.params.{name}", "StringMatches": glob_literal(prefix) + "*"}
            for prefix in prefixes
        ]
        rules.append({"Not": tests[0] if len(tests) == 1 else {"Or": tests}, "Next": fail})
        states[fail] = {
            "Type": "Fail",
            "Error": INVALID_PARAMETERS,
            "Cause": f"parameter '{name}' must be an S3 URI under "
            + " or ".join(prefixes)
            + " (the pipeline's data sources, which its steps may read)",
        }
    return {"Type": "Choice", "Choices": rules, "Default": next_state}

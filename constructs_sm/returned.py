"""Reading a step's returned values back into the state machine (pure data).

A step's script calls ``runtime.emit(...)``. After the job:

- one host: the values come with the job itself. The runtime writes them, as compact
  JSON, to ``/opt/ml/output/message``; SageMaker puts the first 1 KB of that file in the
  job's ``ExitMessage`` ("Save and Access Metadata Information About Your Processing
  Job", https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-metadata.html), which the
  ``.sync`` task returns: the task's ResultSelector parses it, no extra state runs (the
  runtime refuses values over 1 KB);
- several hosts: each host writes its values to
  ``<pipeline>/_returns/<step>/<execution>/values-<host>.json`` (SageMaker uploads every
  host's output directory to one prefix, and concatenates the hosts' messages, so each
  host has a file of its own). The state machine reads every host's file (a Map over
  the hosts) and merges them: a value emitted by one host or by several hosts with the
  same value is taken; a value that no host emitted, or that two hosts emitted with
  different values, fails the step with ``InvalidReturnValues`` (the cause lists each
  host's values);

then one Choice checks every declared value's presence and JSON type, and keeps them at
``$.steps.<step>.returned.values.<name>``. That integers have no fraction is checked by
the runtime when the script emits them (``runtime.emit``).
"""

from __future__ import annotations

import re
from typing import Any, Final

from constructs_sm import runtime as _rt
from constructs_sm.job import JobSettings
from constructs_sm.layout import returns_prefix
from constructs_sm.param_checks import type_test
from constructs_sm.retries import S3_RETRIES

INVALID_RETURN_VALUES: Final = "InvalidReturnValues"
_TYPE_NOUNS: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
}
#: The step an ``InvalidReturnValues`` cause names (the Fail states below write them).
_REFUSED_STEP: Final = re.compile(r"step '(?P<quoted>[^']+)' |step (?P<plain>[^\s:]+): hosts ")
#: At most this many hosts' files are read at once.
_READ_CONCURRENCY: Final = 10


def refused_step(error: str | None, cause: str | None) -> str | None:
    """The step whose returned values the state machine refused, when an execution failed
    with ``error`` and ``cause`` for that reason (else ``None``)."""
    if error != INVALID_RETURN_VALUES or not cause:
        return None
    match = _REFUSED_STEP.match(cause)
    return (match.group("quoted") or match.group("plain")) if match else None


def result_selector(settings: JobSettings) -> dict[str, Any]:
    """Extra fields of the task's ResultSelector: the returned values of a single-host
    job (from its ExitMessage), or the host numbers of a multi-host job."""
    count = settings.resources.instance_count
    if not settings.returns:
        return {}
    if count == 1:
        return {"returned": {"values.$": "States.StringToJson($.ExitMessage)"}}
    return {"hosts.$": f"States.ArrayRange(1, {count}, 1)"}


def _host_key(settings: JobSettings, host: str, execution: str = "$.run.execution") -> str:
    prefix = returns_prefix(settings.pipeline, settings.step)
    return f"States.Format('{prefix}{{}}/{_rt.returns_file_name(host)}', {execution})"


def returned_states(
    settings: JobSettings, *, partition: str, catch: list[dict[str, Any]]
) -> tuple[str, dict[str, dict[str, Any]], str]:
    """The states that read and check a step's returned values.

    Returns the first state's name, the states, and the name of the last state (a Choice
    whose ``Default`` the caller sets to what follows).
    """
    step = settings.step
    check = f"Check {step} values"
    states: dict[str, dict[str, Any]]
    if settings.resources.instance_count == 1:
        first, states = check, {}
    else:
        first, states = _read_every_host(settings, partition, catch, check)
    present: list[dict[str, Any]] = []
    typed: list[dict[str, Any]] = []
    for name, type_name in settings.returns.items():
        path = f"$.steps.{step}.returned.values.{name}"
        missing, invalid = f"{step} did not return {name}", f"{step} returned a bad {name}"
        present.append({"Not": {"Variable": path, "IsPresent": True}, "Next": missing})
        typed.append({"Not": {"Variable": path, type_test(type_name): True}, "Next": invalid})
        noun = _TYPE_NOUNS[type_name]
        states[missing] = {
            "Type": "Fail",
            "Error": INVALID_RETURN_VALUES,
            "Cause": f"step '{step}' did not return {name!r} ({noun}): the script must call "
            f"runtime.emit({name}=...)",
        }
        states[invalid] = {
            "Type": "Fail",
            "Error": INVALID_RETURN_VALUES,
            "Cause": f"step '{step}' returned {name!r} that is not {noun}",
        }
    # A Choice takes the first rule that matches: every presence before any type.
    states[check] = {"Type": "Choice", "Choices": present + typed}
    return first, states, check


def _read_every_host(
    settings: JobSettings,
    partition: str,
    catch: list[dict[str, Any]],
    check: str,
) -> tuple[str, dict[str, dict[str, Any]]]:
    step = settings.step
    base = f"$.steps.{step}"
    read, host_read, host_done = f"Read {step} values", f"Read {step} host", f"{step} host read"
    nothing = f"{step} host wrote nothing"
    collect, count = f"Collect {step} values", f"Count {step} values"
    agree, pick = f"Agree on {step} values", f"Pick {step} values"
    disagree = f"{step} hosts disagree"
    failed = catch[0]["Next"]
    names = list(settings.returns)
    key = _host_key(settings, "algo-{}", "$.execution, $.host")
    states: dict[str, dict[str, Any]] = {
        read: {
            "Type": "Map",
            "ItemsPath": f"{base}.hosts",
            "ItemSelector": {
                "host.$": "$$.Map.Item.Value",
                "bucket.$": "$.run.bucket",
                "execution.$": "$.run.execution",
            },
            "MaxConcurrency": _READ_CONCURRENCY,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": host_read,
                "States": {
                    host_read: {
                        "Type": "Task",
                        "Resource": f"arn:{partition}:states:::aws-sdk:s3:getObject",
                        "Parameters": {"Bucket.$": "$.bucket", "Key.$": key},
                        "ResultSelector": {"values.$": "States.StringToJson($.Body)"},
                        "ResultPath": "$.read",
                        "TimeoutSeconds": 60,
                        "Retry": S3_RETRIES,
                        "Catch": [
                            {
                                "ErrorEquals": ["S3.NoSuchKeyException"],
                                "ResultPath": "$.error",
                                "Next": nothing,
                            }
                        ],
                        "Next": host_done,
                    },
                    # A host that wrote no file returns nothing (its values are {}).
                    nothing: {
                        "Type": "Pass",
                        "Result": {"values": {}},
                        "ResultPath": "$.read",
                        "Next": host_done,
                    },
                    host_done: {
                        "Type": "Pass",
                        "Parameters": {
                            "host.$": "States.Format('algo-{}', $.host)",
                            "values.$": "$.read.values",
                        },
                        "End": True,
                    },
                },
            },
            "ResultPath": f"{base}.hosts",
            "Catch": catch,
            "Next": collect,
        },
        # Every host's value of each name (a host that did not emit it adds nothing).
        collect: {
            "Type": "Pass",
            "Parameters": {f"{n}.$": f"{base}.hosts[*].values.{n}" for n in names},
            "ResultPath": f"{base}.emitted",
            "Next": count,
        },
        count: {
            "Type": "Pass",
            "Parameters": {
                n: {
                    "unique.$": f"States.ArrayUnique({base}.emitted.{n})",
                    "count.$": f"States.ArrayLength(States.ArrayUnique({base}.emitted.{n}))",
                }
                for n in names
            },
            "ResultPath": f"{base}.agreed",
            "Next": agree,
        },
        agree: {
            "Type": "Choice",
            "Choices": [
                *(
                    {
                        "Variable": f"{base}.agreed.{n}.count",
                        "NumericEquals": 0,
                        "Next": f"{step} did not return {n}",
                    }
                    for n in names
                ),
                *(
                    {
                        "Variable": f"{base}.agreed.{n}.count",
                        "NumericGreaterThan": 1,
                        "Next": disagree,
                    }
                    for n in names
                ),
            ],
            "Default": pick,
        },
        pick: {
            "Type": "Pass",
            "Parameters": {
                "values": {
                    f"{n}.$": f"States.ArrayGetItem({base}.agreed.{n}.unique, 0)" for n in names
                }
            },
            "ResultPath": f"{base}.returned",
            "Next": check,
        },
        disagree: {
            "Type": "Pass",
            "Parameters": {
                "Error": INVALID_RETURN_VALUES,
                "Cause.$": (
                    f"States.Format('step {step}: hosts returned different values for the same "
                    f"name; each host returned: {{}}', States.JsonToString({base}.hosts))"
                ),
            },
            "ResultPath": "$.error",
            "Next": failed,
        },
    }
    return read, states

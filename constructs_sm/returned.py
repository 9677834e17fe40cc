"""Reading a step's returned values back into the state machine (pure data).

A step's script calls ``runtime.emit(...)``; each host of its job writes its values to
``<pipeline>/<step>/returns/<execution>/values-<host>.json`` (SageMaker uploads every
host's output directory to one prefix, so each host has a file of its own). After the
job, the state machine:

- one host: reads that host's file (``aws-sdk:s3:getObject``);
- several hosts: reads every host's file (a Map over the hosts) and merges them: a
  value emitted by one host or by several hosts with the same value is taken; a value
  that no host emitted, or that two hosts emitted with different values, fails the step
  with ``InvalidReturnValues`` (the cause lists each host's values);

then checks every declared value's presence and type (integers: no fraction) and keeps
them at ``$.steps.<step>.returned.values.<name>``.
"""

from __future__ import annotations

from typing import Any, Final

from constructs_sm import runtime as _rt
from constructs_sm.job import JobSettings
from constructs_sm.layout import channel_prefix
from constructs_sm.params import integer_text_rules, type_test
from constructs_sm.retries import S3_RETRIES

INVALID_RETURN_VALUES: Final = "InvalidReturnValues"
#: At most this many hosts' files are read at once.
_READ_CONCURRENCY: Final = 10


def result_selector(settings: JobSettings) -> dict[str, str]:
    """Extra fields of the task's ResultSelector: the host numbers of a multi-host job."""
    count = settings.resources.instance_count
    if settings.returns and count > 1:
        return {"hosts.$": f"States.ArrayRange(1, {count}, 1)"}
    return {}


def _host_key(settings: JobSettings, host: str, execution: str = "$.run.execution") -> str:
    prefix = channel_prefix(settings.pipeline, settings.step, _rt.RETURNS_CHANNEL)
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
    missing, invalid = f"{step} returned no values", f"{step} returned invalid values"
    declared = ", ".join(f"{k} ({v})" for k, v in settings.returns.items())
    if settings.resources.instance_count == 1:
        first, states = _read_one_host(settings, partition, catch, check, missing)
    else:
        first, states = _read_every_host(settings, partition, catch, check, missing)
    rules: list[dict[str, Any]] = []
    for name in settings.returns:
        path = f"$.steps.{step}.returned.values.{name}"
        rules.append({"Not": {"Variable": path, "IsPresent": True}, "Next": invalid})
    for name, type_name in settings.returns.items():
        path = f"$.steps.{step}.returned.values.{name}"
        rules.append({"Not": {"Variable": path, type_test(type_name): True}, "Next": invalid})
    states[check] = {"Type": "Choice", "Choices": rules}
    last = check
    integers = [name for name, kind in settings.returns.items() if kind == "integer"]
    if integers:
        # An integer is a number whose text has no fraction or exponent.
        render, bounds = f"Render {step} integer values", f"Check {step} integer values"
        states[check]["Default"] = render
        states[render] = {
            "Type": "Pass",
            "Parameters": {
                f"{name}.$": f"States.Format('{{}}', $.steps.{step}.returned.values.{name})"
                for name in integers
            },
            "ResultPath": "$.checks",
            "Next": bounds,
        }
        states[bounds] = {
            "Type": "Choice",
            "Choices": [
                rule
                for name in integers
                for rule in integer_text_rules(f"$.checks.{name}", invalid)
            ],
        }
        last = bounds
    states[missing] = {
        "Type": "Fail",
        "Error": INVALID_RETURN_VALUES,
        "Cause": f"step '{step}' wrote no return values; it must call runtime.emit() "
        f"with {declared}",
    }
    states[invalid] = {
        "Type": "Fail",
        "Error": INVALID_RETURN_VALUES,
        "Cause": f"step '{step}' must return {declared}",
    }
    return first, states, last


def _read_one_host(
    settings: JobSettings,
    partition: str,
    catch: list[dict[str, Any]],
    check: str,
    missing: str,
) -> tuple[str, dict[str, dict[str, Any]]]:
    read = f"Read {settings.step} values"
    state = {
        "Type": "Task",
        "Resource": f"arn:{partition}:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket.$": "$.run.bucket", "Key.$": _host_key(settings, "algo-1")},
        "ResultSelector": {"values.$": "States.StringToJson($.Body)"},
        "ResultPath": f"$.steps.{settings.step}.returned",
        "TimeoutSeconds": 60,
        "Retry": S3_RETRIES,
        "Catch": [
            {"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.error", "Next": missing},
            *catch,
        ],
        "Next": check,
    }
    return read, {read: state}


def _read_every_host(
    settings: JobSettings,
    partition: str,
    catch: list[dict[str, Any]],
    check: str,
    missing: str,
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
                    {"Variable": f"{base}.agreed.{n}.count", "NumericEquals": 0, "Next": missing}
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

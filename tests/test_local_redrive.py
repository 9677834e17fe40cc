"""RedriveExecution in the offline engine, on hand-written state machines.

Each test checks one rule of AWS's "Restarting state machine executions with redrive"
page (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html)
through the emulator's own API (boto3 against the moto server), in the session's emulator.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from moto.sagemaker.models import sagemaker_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from constructs_sm.job import job_name_expression
from constructs_sm.local import Emulator, cli, redrive
from constructs_sm.local.runner import RunResult, list_tree, start, watch
from tests.local_deployment import Deployed, job_role, machine_role, read_json, run

BUCKET = "redrive-tests"
MARKER = "marker.json"


@pytest.fixture
def aws(deployed: Deployed) -> Iterator[Emulator]:
    """The session's emulator, a bucket without the marker object, Wait states 1000x faster."""
    emulator = deployed.emulator
    s3 = emulator.client("s3")
    with contextlib.suppress(botocore.exceptions.ClientError):  # an earlier test made it
        s3.create_bucket(Bucket=BUCKET)
    s3.delete_object(Bucket=BUCKET, Key=MARKER)
    emulator.time_scale = 0.001
    yield emulator
    emulator.time_scale = 1.0


def _machine(aws: Emulator, states: dict[str, Any], start_at: str) -> str:
    sfn = aws.client("stepfunctions")
    created = sfn.create_state_machine(
        name=f"redrive-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": start_at, "States": states}),
        roleArn=machine_role(aws),
    )
    return str(created["stateMachineArn"])


def _start(aws: Emulator, machine: str, payload: Any = None) -> str:
    sfn = aws.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload or {}))
    return str(started["executionArn"])


def _wait(aws: Emulator, arn: str) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
    return dict(described)


def _redrive(aws: Emulator, arn: str, **kwargs: Any) -> dict[str, Any]:
    aws.client("stepfunctions").redrive_execution(executionArn=arn, **kwargs)
    return _wait(aws, arn)


def _events(aws: Emulator, arn: str) -> list[dict[str, Any]]:
    history = aws.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)
    return list(history["events"])


def _after_redrive(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    marks = [i for i, event in enumerate(events) if event["type"] == "ExecutionRedriven"]
    assert marks, "no ExecutionRedriven event"
    return events[marks[-1] + 1 :]


def _entered(events: list[dict[str, Any]]) -> list[str]:
    return [
        str(event["stateEnteredEventDetails"]["name"])
        for event in events
        if event["type"].endswith("StateEntered")
    ]


def _fix(aws: Emulator) -> None:
    aws.client("s3").put_object(Bucket=BUCKET, Key=MARKER, Body=b'{"fixed": true}')


#: Reads the marker object: fails with S3.NoSuchKeyException until a test writes it.
READ_MARKER: dict[str, Any] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
    "Parameters": {"Bucket": BUCKET, "Key": MARKER},
    "ResultSelector": {
        "body.$": "States.StringToJson($.Body)",
        "entered.$": "$$.State.EnteredTime",
        "redrives.$": "$$.Execution.RedriveCount",
    },
    "ResultPath": "$.read",
}


def test_redrive_continues_at_the_failed_task_with_its_input(aws: Emulator) -> None:
    machine = _machine(
        aws,
        {
            "Before": {
                "Type": "Pass",
                "Parameters": {"entered.$": "$$.State.EnteredTime"},
                "ResultPath": "$.before",
                "Next": "Read",
            },
            "Read": {**READ_MARKER, "Next": "After"},
            "After": {"Type": "Pass", "End": True},
        },
        "Before",
    )
    arn = _start(aws, machine, {"given": 1})
    failed = _wait(aws, arn)
    assert (failed["status"], failed["error"]) == ("FAILED", "S3.NoSuchKeyException")
    assert (failed["redriveCount"], failed["redriveStatus"]) == (0, "REDRIVABLE")
    _fix(aws)
    done = _redrive(aws, arn)
    assert done["status"] == "SUCCEEDED"
    assert done["executionArn"] == arn and done["redriveCount"] == 1 and "redriveDate" in done
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    output = json.loads(done["output"])
    assert output["given"] == 1, "the input of the failed state, as it was"
    assert output["read"]["body"] == {"fixed": True} and output["read"]["redrives"] == 1
    entered = datetime.datetime.fromisoformat(output["read"]["entered"])
    assert entered > failed["stopDate"], "$$.State.EnteredTime is the redrive's"
    after = _after_redrive(_events(aws, arn))
    assert _entered(after) == ["Read", "After"], "Before succeeded: not run again"
    assert after[-1]["type"] == "ExecutionSucceeded"
    redriven = next(e for e in _events(aws, arn) if e["type"] == "ExecutionRedriven")
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}


def test_a_parallel_state_reruns_only_its_failed_and_aborted_branches(aws: Emulator) -> None:
    """The slow branch waits for a time a few seconds ahead, so it is aborted when its
    sibling fails; redriven once that time has passed, its Wait ends at once ("a
    timestamp in the past ... the Wait state is exited")."""
    machine = _machine(
        aws,
        {
            "Fan out": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Read", "States": {"Read": {**READ_MARKER, "End": True}}},
                    {
                        "StartAt": "Slow",
                        "States": {
                            "Slow": {"Type": "Wait", "TimestampPath": "$.until", "Next": "After"},
                            "After": {"Type": "Pass", "End": True},
                        },
                    },
                ],
                "End": True,
            }
        },
        "Fan out",
    )
    aws.time_scale = 1.0
    until = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=3)
    arn = _start(aws, machine, {"until": until.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert _wait(aws, arn)["status"] == "FAILED"
    assert "After" not in _entered(_events(aws, arn)), "the slow branch was aborted"
    _fix(aws)
    time.sleep(max(0.0, (until - datetime.datetime.now(tz=datetime.UTC)).total_seconds() + 1))
    done = _redrive(aws, arn)
    assert done["status"] == "SUCCEEDED"
    entered = _entered(_after_redrive(_events(aws, arn)))
    # the branches run at once: their events interleave in any order
    assert sorted(entered) == ["After", "Fan out", "Read", "Slow"]
    assert entered[0] == "Fan out" and entered.index("Slow") < entered.index("After")
    quick, read, slow = json.loads(done["output"])
    assert quick == {"until": slow["until"]}, "the succeeded branch keeps its result"
    assert read["read"]["body"] == {"fixed": True}


def test_a_fail_state_is_entered_again_and_fails_again(aws: Emulator) -> None:
    """AWS: "Fail state: Reenters the Fail state and fails again" (a caught error is not
    redriven: the task that failed is not run again, even once its cause is fixed)."""
    machine = _machine(
        aws,
        {
            "Read": {
                **READ_MARKER,
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}
                ],
                "End": True,
            },
            "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
        "Read",
    )
    arn = _start(aws, machine)
    assert _wait(aws, arn)["error"] == "S3.NoSuchKeyException"
    _fix(aws)
    again = _redrive(aws, arn)
    assert (again["status"], again["error"]) == ("FAILED", "S3.NoSuchKeyException")
    after = _after_redrive(_events(aws, arn))
    assert _entered(after) == ["Failed"]
    assert not [e for e in after if e["type"] == "TaskScheduled"]


def test_a_stopped_execution_resumes_the_state_it_was_stopped_in(aws: Emulator) -> None:
    machine = _machine(
        aws,
        {
            "Before": {"Type": "Pass", "Next": "Hold"},
            "Hold": {"Type": "Wait", "Seconds": 600, "Next": "After"},
            "After": {"Type": "Pass", "End": True},
        },
        "Before",
    )
    aws.time_scale = 1.0
    arn = _start(aws, machine)
    sfn = aws.client("stepfunctions")
    while "Hold" not in _entered(_events(aws, arn)):
        time.sleep(0.02)
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable, match="RUNNING and cannot be"):
        sfn.redrive_execution(executionArn=arn)
    sfn.stop_execution(executionArn=arn)
    assert _wait(aws, arn)["status"] == "ABORTED"
    aws.time_scale = 0.001
    assert _redrive(aws, arn)["status"] == "SUCCEEDED"
    assert _entered(_after_redrive(_events(aws, arn))) == ["Hold", "After"]


def test_executions_aws_would_not_redrive_are_refused(aws: Emulator) -> None:
    sfn = aws.client("stepfunctions")
    done = _start(aws, _machine(aws, {"Only": {"Type": "Pass", "End": True}}, "Only"))
    assert _wait(aws, done)["status"] == "SUCCEEDED"
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable, match="SUCCEEDED and cannot be"):
        sfn.redrive_execution(executionArn=done)
    old = _start(aws, _machine(aws, {"Read": {**READ_MARKER, "End": True}}, "Read"))
    assert _wait(aws, old)["status"] == "FAILED"
    backend = stepfunctions_parser_backends[aws.account][aws.region]
    execution = backend.describe_execution(old)
    assert execution.stop_date is not None
    execution.stop_date -= redrive.REDRIVABLE_PERIOD + datetime.timedelta(minutes=1)
    described = sfn.describe_execution(executionArn=old)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution redrivable period exceeded"
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable, match="redrivable period exceeded"):
        sfn.redrive_execution(executionArn=old)
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.redrive_execution(executionArn=old.rsplit(":", 1)[0] + ":no-such-execution")


def test_a_failed_map_state_is_refused_offline_with_the_reason(aws: Emulator) -> None:
    """AWS reruns a Map's failed iterations; the engine does not, and says so."""
    iterator = {"StartAt": "Read", "States": {"Read": {**READ_MARKER, "End": True}}}
    machine = _machine(
        aws,
        {"Each": {"Type": "Map", "ItemsPath": "$.items", "Iterator": iterator, "End": True}},
        "Each",
    )
    arn = _start(aws, machine, {"items": [1, 2]})
    assert _wait(aws, arn)["status"] == "FAILED"
    sfn = aws.client("stepfunctions")
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable, match="cannot redrive the fail"):
        sfn.redrive_execution(executionArn=arn)


def test_a_client_token_used_again_does_not_redrive_again(aws: Emulator) -> None:
    sfn = aws.client("stepfunctions")
    arn = _start(aws, _machine(aws, {"Read": {**READ_MARKER, "End": True}}, "Read"))
    _wait(aws, arn)
    first = sfn.redrive_execution(executionArn=arn, clientToken="token-1")
    assert _wait(aws, arn)["status"] == "FAILED"
    second = sfn.redrive_execution(executionArn=arn, clientToken="token-1")
    assert second["redriveDate"] == first["redriveDate"]
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 1
    sfn.redrive_execution(executionArn=arn, clientToken="token-2")
    assert _wait(aws, arn)["redriveCount"] == 2


def test_a_redriven_processing_task_gets_a_new_job_name(aws: Emulator, tmp_path: Path) -> None:
    """The job name hashes $$.State.EnteredTime, which is new when the state runs again:
    the redriven task creates a job of its own instead of colliding with the failed one."""
    fixed = tmp_path / "fixed"
    script = f"import os, sys; sys.exit(0 if os.path.exists({str(fixed)!r}) else 'not fixed')"
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {
            "ProcessingJobName.$": job_name_expression("redrive-names", "job"),
            "RoleArn": job_role(aws),
            "AppSpecification": {
                "ImageUri": "img",
                "ContainerEntrypoint": ["python3", "-c", script],
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.xlarge",
                    "VolumeSizeInGB": 1,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
        "End": True,
    }
    arn = _start(aws, _machine(aws, {"Job": task}, "Job"))
    failed = _wait(aws, arn)
    assert (failed["status"], failed["error"]) == ("FAILED", "States.TaskFailed")
    assert "not fixed" in failed["cause"]
    fixed.touch()
    assert _redrive(aws, arn)["status"] == "SUCCEEDED"
    names = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["ProcessingJobName"]
        for e in _events(aws, arn)
        if e["type"] == "TaskScheduled"
    ]
    assert len(names) == 2 and names[0] != names[1]
    assert all(name.startswith("redrive-names-") for name in names)
    jobs = sagemaker_backends[aws.account][aws.region].processing_jobs
    assert [jobs[name].processing_job_status for name in names] == ["Failed", "Completed"]


def test_the_context_object_has_redrive_count_zero_before_any_redrive(aws: Emulator) -> None:
    machine = _machine(
        aws,
        {"Look": {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.RedriveCount"}, "End": True}},
        "Look",
    )
    arn = _start(aws, machine)
    assert json.loads(_wait(aws, arn)["output"]) == {"n": 0}


# -- a pipeline ----------------------------------------------------------------------


def _scheduled_jobs(aws: Emulator, arn: str) -> list[tuple[str, str]]:
    """(step, job name) of every processing job the execution scheduled, in order."""
    jobs = []
    for event in _events(aws, arn):
        details = event.get("taskScheduledEventDetails") or {}
        if details.get("resourceType") == "sagemaker":
            parameters = json.loads(details["parameters"])
            jobs.append((parameters["Environment"]["CSM_STEP"], parameters["ProcessingJobName"]))
    return jobs


def _wait_for_jobs(aws: Emulator, arn: str, steps: set[str]) -> None:
    sagemaker = aws.client("sagemaker")

    def running(job: str) -> bool:
        try:
            described = sagemaker.describe_processing_job(ProcessingJobName=job)
        except botocore.exceptions.ClientError:
            return False  # scheduled, not created yet
        return bool(described["ProcessingJobStatus"] == "InProgress")

    deadline = time.monotonic() + 60
    while True:
        started = {step for step, job in _scheduled_jobs(aws, arn) if running(job)}
        if steps <= started:
            return
        assert time.monotonic() < deadline, f"jobs of {steps - started} did not start"
        time.sleep(0.1)


def _stopped_probe(deployed: Deployed, fixed: Path) -> tuple[str, dict[str, Any]]:
    """A Probe execution stopped while both branch jobs run; its ARN and input."""
    aws = deployed.emulator
    params = {"sleep": 60.0, "fixed_by": str(fixed), "label": "redriven"}
    arn, _ = start(aws, deployed.pipelines["Probe"], params)
    _wait_for_jobs(aws, arn, {"left", "right"})
    aws.client("stepfunctions").stop_execution(executionArn=arn)
    assert _wait(aws, arn)["status"] == "ABORTED"
    return arn, params


def _outputs(deployed: Deployed, result: RunResult) -> dict[str, Any]:
    """What a Probe run produced: returned values and the seen.json of each branch."""
    values = {step: result.steps[step].values for step in ("first",)}
    seen = {
        step: read_json(deployed, "Probe", result, f"{step}/seen/seen.json")
        for step in ("left", "right")
    }
    keys = sorted(
        key.replace(result.execution_name, "<execution>")
        for key, _ in list_tree(deployed.emulator, deployed.pipelines["Probe"].bucket, "Probe/")
        if result.execution_name in key
    )
    return {"values": values, "seen": seen, "keys": keys}


def test_a_stopped_pipeline_is_redriven_without_running_its_completed_step_again(
    deployed: Deployed, tmp_path: Path
) -> None:
    aws = deployed.emulator
    fixed = tmp_path / "fixed"
    arn, params = _stopped_probe(deployed, fixed)
    stopped = _scheduled_jobs(aws, arn)
    fixed.touch()
    history = len(_events(aws, arn))
    aws.client("stepfunctions").redrive_execution(executionArn=arn)
    result = watch(aws, deployed.pipelines["Probe"], arn, timeout=120, history_from=history)
    assert result.succeeded, result.cause
    jobs = _scheduled_jobs(aws, arn)
    assert sorted(step for step, _ in jobs) == ["first", "left", "left", "right", "right"]
    assert len({job for _, job in jobs}) == 5, "the redriven jobs have names of their own"
    assert {step: r.job_name for step, r in result.steps.items()} == {
        "first": stopped[0][1],
        **dict(jobs[len(stopped) :]),
    }
    assert all(step.status == "Completed" for step in result.steps.values())
    clean = run(deployed, "Probe", params)
    assert clean.succeeded, clean.cause
    assert _outputs(deployed, result) == _outputs(deployed, clean)


def test_a_failed_step_is_not_run_again_by_a_redrive_its_fail_state_fails_again(
    deployed: Deployed, tmp_path: Path
) -> None:
    """As on AWS: the pipeline catches a step's error into a Fail state, and a redrive
    re-enters that Fail state ("Reenters the Fail state and fails again") even once the
    cause is fixed; only the aborted sibling branch runs again."""
    aws = deployed.emulator
    fixed = tmp_path / "fixed"
    params = {"fail": True, "sleep": 60.0, "fixed_by": str(fixed)}
    arn, _ = start(aws, deployed.pipelines["Probe"], params)
    failed = _wait(aws, arn)
    assert failed["status"] == "FAILED"
    fixed.touch()
    again = _redrive(aws, arn)
    assert (again["status"], again["error"]) == ("FAILED", failed["error"])
    steps = [step for step, _ in _scheduled_jobs(aws, arn)]
    assert (steps.count("first"), steps.count("right")) == (1, 1), "not run again"
    events = _events(aws, arn)
    # The aborted branch is entered again (it may be aborted again before its job is
    # scheduled: the other branch re-enters its Fail state at once, on AWS too).
    assert "Run left" in _entered(_after_redrive(events)), "the aborted branch ran again"
    redriven = next(i for i, event in enumerate(events) if event["type"] == "ExecutionRedriven")
    fail_states = [
        str(event["stateEnteredEventDetails"]["name"])
        for event in events[:redriven]
        if event["type"] == "FailStateEntered"
    ]
    assert fail_states, "the first run ended in a Fail state"
    assert fail_states[-1] in _entered(_after_redrive(events))


def test_the_command_line_redrives_an_execution_of_an_emulator_kept_running(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = tmp_path / "fixed"
    arn, _ = _stopped_probe(deployed, fixed)
    fixed.touch()
    name = arn.rsplit(":", 1)[-1]
    # keys the emulator never issued: refused, with the fix
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTTHEEMULATORS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    out = io.StringIO()
    code = cli.main(["redrive", name, "--endpoint", deployed.emulator.endpoint, "--json"], out=out)
    refused = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (code, refused["error"]) == (cli.EXIT_FAILED, "AccessDenied"), out.getvalue()
    assert "as run --keep-running printed it" in refused["cause"]
    # the administrator's keys, as `run --keep-running` prints them before the command
    for key, value in deployed.emulator.credentials.env().items():
        monkeypatch.setenv(key, value)
    out = io.StringIO()
    code = cli.main(["redrive", name, "--endpoint", deployed.emulator.endpoint, "--json"], out=out)
    assert code == 0, out.getvalue()
    document = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (document["status"], document["execution"]) == ("SUCCEEDED", arn)
    assert {step: report["status"] for step, report in document["steps"].items()} == dict.fromkeys(
        ("first", "left", "right"), "Completed"
    )
    text = out.getvalue()
    assert f"redriving execution {name}" in text
    assert " first " not in text.split("redriving", 1)[1].split("execution SUCCEEDED")[0], (
        "the step that was not run again is not reported as running"
    )
    again = cli.main(["redrive", name, "--endpoint", deployed.emulator.endpoint, "--json"], out=out)
    assert again == cli.EXIT_FAILED
    assert json.loads(out.getvalue().strip().splitlines()[-1])["error"] == "NotRedrivable"

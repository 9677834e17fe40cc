"""Find the pipelines of deployed stacks, seed data, run an execution and watch it.

A pipeline is recognised by its state machine's definition (as rendered by
:func:`constructs_sm.pipeline.build_definition`): the channel bucket and run prefix in
the state that sets ``run`` (``Merge defaults``), and one ``createProcessingJob`` task
per step whose ``Environment`` names the step (``CSM_STEP``).

:func:`watch` follows an execution as it happens: a :class:`Progress` event when a step's
job is created (from the execution history) and when it ends (from
``DescribeProcessingJob``), then a :class:`RunResult` with each step's status, job name,
returned values and output URIs; a failed step also keeps its job's FailureReason and
the last lines of its log (:func:`job_log_tail`). A fan-out step's item jobs are followed
by :mod:`constructs_sm.local.fan_out_watch`.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import secrets
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import botocore.exceptions

from constructs_sm.layout import RETURNS_STEP, execution_key
from constructs_sm.local.deploy import DeployedStack
from constructs_sm.local.emulator import Emulator
from constructs_sm.local.fan_out_watch import (
    TERMINAL_JOB,
    FanOutSummary,
    FanOutWatch,
    ItemJob,
    job_duration,
    map_states,
    seconds,
)
from constructs_sm.local.jobs import read_tail, split_s3_uri
from constructs_sm.report import walk_states
from constructs_sm.returned import refused_step
from constructs_sm.runtime import (
    CODE_CHANNEL,
    RETURNS_CHANNEL,
    SPEC_FILE,
    SPECS_DIR,
    STEP_ENV,
)

#: ``States.Format('<job prefix>-{}', ...)``: a step's job-name expression.
_JOB_PREFIX: Final = re.compile(r"^States\.Format\('([a-z0-9-]+)-\{\}'")
#: How many lines of a failed job's log a result keeps.
LOG_TAIL_LINES: Final = 20
#: How many failed items of a fan-out step a result details (each with its log's end).
FAILED_ITEMS: Final = 10
#: How much of the end of a log file is read for its last lines.
_LOG_TAIL_BYTES: Final = 16_384
#: The longest a watch goes without describing the jobs it follows (see ``_Watcher.poll``).
JOB_CHECK_SECONDS: Final = 1.0
#: Events per GetExecutionHistory page while watching: a poll reads the newest page back
#: to the last event it saw, and a page holds what a poll interval usually adds.
_HISTORY_PAGE: Final = 25


@dataclass(frozen=True)
class PipelineInfo:
    """A deployed pipeline: its state machine, channel bucket, run prefix and steps."""

    name: str
    state_machine_arn: str
    bucket: str
    steps: tuple[str, ...]
    stack: str
    #: The S3 URIs of the steps' code zips (their ``code`` inputs), where the step specs
    #: (``csm_step.json``) declare the pipeline's parameters.
    code_uris: tuple[str, ...] = ()
    #: The job-name prefix of each fan-out step (one job per item, run by child
    #: executions whose events the execution's history does not hold).
    fan_outs: Mapping[str, str] = field(default_factory=dict)
    #: The Map state of each fan-out step (state name -> step), as the history names it.
    fan_out_states: Mapping[str, str] = field(default_factory=dict)

    @property
    def run_prefix(self) -> str:
        """``<pipeline>/``: where every execution's handoff data lives."""
        return f"{self.name}/"

    def key(self, execution_name: str, step: str, channel: str, name: str = "") -> str:
        """``<pipeline>/<step>/<channel>/<execution>/<name>`` (see constructs_sm.layout)."""
        return execution_key(self.name, step, channel, execution_name, name)

    def is_run_key(self, execution_name: str, key: str) -> bool:
        """Whether ``key`` belongs to that execution: ``<pipeline>/<x>/<y>/<execution>/...``."""
        parts = key.split("/")
        return len(parts) > 4 and parts[0] == self.name and parts[3] == execution_name


@dataclass
class Progress:
    """A step's job was created (``InProgress``) or ended (``Completed``, ``Failed``...)."""

    step: str
    status: str
    job_name: str
    elapsed: float
    duration: float | None = None
    failure_reason: str | None = None
    #: A fan-out step's item job: its index and item; or the step's end (job_name
    #: ``<prefix>-* (<n> jobs)``): how many jobs it ran, how many did not complete.
    index: int | None = None
    item: str | None = None
    items: int | None = None
    failed_items: int | None = None


@dataclass
class StepResult:
    """What one step did in an execution."""

    status: str = "NotStarted"
    job_name: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    duration: float | None = None
    failure_reason: str | None = None
    #: The last lines of a failed job's log (stderr, else stdout), whole lines.
    log_tail: list[str] = field(default_factory=list)
    #: A fan-out step: how many jobs (items) it ran, and how many did not complete.
    items: int | None = None
    failed_items: int | None = None
    #: A fan-out step's failed or stopped items (the first FAILED_ITEMS by index):
    #: ``{"index", "status", "item", "job_name", "failure_reason", "log_tail"}`` each.
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form: status, job_name, values, outputs, failure_reason and
        log_tail (None and [] unless the step's job failed), and a fan-out's items,
        failed_items and failures (the first one's are its failure_reason and log_tail)."""
        document: dict[str, Any] = {
            "status": self.status,
            "job_name": self.job_name,
            "values": self.values,
            "outputs": self.outputs,
            "failure_reason": self.failure_reason,
            "log_tail": self.log_tail,
        }
        if self.items is not None:
            document["items"] = self.items
            document["failed_items"] = self.failed_items
            document["failures"] = self.failures
        return document


@dataclass
class RunResult:
    """The end of an execution."""

    execution_arn: str
    execution_name: str
    status: str
    error: str | None
    cause: str | None
    steps: dict[str, StepResult]
    output: Any
    seconds: float

    @property
    def succeeded(self) -> bool:
        """True when the execution succeeded."""
        return self.status == "SUCCEEDED"

    @property
    def failure_cause(self) -> str | None:
        """The cause a person acts on: a failed job's FailureReason when the execution's
        cause is its DescribeProcessingJob document (``.sync`` tasks), else the cause."""
        return failure_reason_of(self.cause) or self.cause

    def to_json(self) -> dict[str, Any]:
        """``{"status", "error", "cause", "execution_cause", "execution", "steps": {...}}``:
        ``cause`` is :attr:`failure_cause`, ``execution_cause`` the cause exactly as Step
        Functions reports it (for a failed job, the whole DescribeProcessingJob document)."""
        return {
            "status": self.status,
            "error": self.error,
            "cause": self.failure_cause,
            "execution_cause": self.cause,
            "execution": self.execution_arn,
            "steps": {name: step.to_json() for name, step in self.steps.items()},
        }


# -- finding pipelines --------------------------------------------------------------


def _run_settings(states: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``run`` object a top-level state sets (``{"bucket", "pipeline", ...}``)."""
    for state in states.values():
        parameters = state.get("Parameters") if isinstance(state, dict) else None
        run = parameters.get("run") if isinstance(parameters, dict) else None
        if isinstance(run, dict) and "bucket" in run and isinstance(run.get("pipeline"), str):
            return run
    return None


def describe_pipeline(definition: Mapping[str, Any], arn: str, stack: str) -> PipelineInfo | None:
    """A :class:`PipelineInfo` from a state-machine definition, or None if it is not ours."""
    states = definition.get("States", {})
    run = _run_settings(states)
    if run is None:
        return None
    steps = []
    code_uris = []
    fan_outs: dict[str, str] = {}
    for _name, state, _ in walk_states(definition):
        if ":sagemaker:createProcessingJob" in str(state.get("Resource", "")):
            parameters = state.get("Parameters", {})
            step = parameters.get("Environment", {}).get(STEP_ENV)
            if isinstance(step, str) and step not in steps:
                steps.append(step)
            name = str(parameters.get("ProcessingJobName.$", ""))
            prefix = _JOB_PREFIX.match(name)
            if isinstance(step, str) and "$.index" in name and prefix:
                fan_outs[step] = prefix.group(1)
            for item in parameters.get("ProcessingInputs", []):
                uri = (item.get("S3Input") or {}).get("S3Uri")
                if item.get("InputName") == CODE_CHANNEL and isinstance(uri, str):
                    code_uris.append(uri)
    return PipelineInfo(
        name=str(run["pipeline"]),
        state_machine_arn=arn,
        bucket=str(run["bucket"]),
        steps=tuple(steps),
        stack=stack,
        code_uris=tuple(code_uris),
        fan_outs=fan_outs,
        fan_out_states=map_states(definition, fan_outs),
    )


def find_pipelines(emulator: Emulator, stacks: list[DeployedStack]) -> list[PipelineInfo]:
    """The pipelines among the state machines of ``stacks``."""
    sfn = emulator.client("stepfunctions")
    found = []
    for stack in stacks:
        for arn in stack.physical_ids("AWS::StepFunctions::StateMachine"):
            definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
            info = describe_pipeline(definition, arn, stack.name)
            if info is not None:
                found.append(info)
    return found


def declared_params(emulator: Emulator, pipeline: PipelineInfo) -> dict[str, Any] | None:
    """The pipeline's parameters by name, as its step specs declare them.

    Read from ``csm_step.json`` in the first step code zip found in the emulated S3 (every
    step's spec declares all of the pipeline's parameters); None when none can be read.
    """
    s3 = emulator.client("s3")
    for uri in pipeline.code_uris:
        try:
            bucket, key = split_s3_uri(uri)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                # The pipeline's bundle holds csm_steps/<step>.json (every step's spec
                # declares all the pipeline's parameters); a single step's, csm_step.json.
                names = [n for n in archive.namelist() if n.startswith(f"{SPECS_DIR}/")]
                spec = json.loads(archive.read(names[0] if names else SPEC_FILE))
        except (ValueError, KeyError, zipfile.BadZipFile, botocore.exceptions.ClientError):
            continue
        params = spec.get("params") if isinstance(spec, dict) else None
        if isinstance(params, dict):
            return params
    return None


def unknown_params(params: Mapping[str, Any], declared: Mapping[str, Any]) -> list[str]:
    """The keys of an execution input that are not declared parameters, sorted."""
    return sorted(set(params) - set(declared))


# -- data -----------------------------------------------------------------------------


def seed(emulator: Emulator, local_dir: Path, s3_uri: str) -> list[str]:
    """Upload every file below ``local_dir`` to ``s3_uri`` (a prefix); returns the keys.

    The bucket is created if it does not exist.
    """
    if not local_dir.is_dir():
        raise ValueError(f"--data: {str(local_dir)!r} is not a directory")
    bucket, prefix = split_s3_uri(s3_uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    s3 = emulator.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)
    keys = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        key = prefix + path.relative_to(local_dir).as_posix()
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def list_tree(emulator: Emulator, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """``(key relative to prefix, size)`` of every object below ``prefix``."""
    s3 = emulator.client("s3")
    items = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        items += [(obj["Key"][len(prefix) :], int(obj["Size"])) for obj in page.get("Contents", [])]
    return sorted(items)


# -- executions -----------------------------------------------------------------------


def execution_name() -> str:
    """A readable, unique execution name: ``local-YYYYmmdd-HHMMSS-xxxxxx``."""
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return f"local-{now}-{secrets.token_hex(3)}"


def start(
    emulator: Emulator,
    pipeline: PipelineInfo,
    params: Mapping[str, Any],
    *,
    name: str | None = None,
) -> tuple[str, str]:
    """Start an execution with ``params`` as its input; returns ``(arn, name)``."""
    name = name or execution_name()
    response = emulator.client("stepfunctions").start_execution(
        stateMachineArn=pipeline.state_machine_arn, name=name, input=json.dumps(dict(params))
    )
    return str(response["executionArn"]), name


def failure_reason_of(cause: str | None) -> str | None:
    """The FailureReason inside a ``.sync`` task's cause (DescribeProcessingJob JSON)."""
    if not cause:
        return None
    try:
        data = json.loads(cause)
    except ValueError:
        return None
    return data.get("FailureReason") if isinstance(data, dict) else None


#: History events that end a task (its job's end shows in them for a .sync task).
_TASK_ENDS: Final = frozenset({"TaskSucceeded", "TaskFailed", "TaskTimedOut"})


class _Watcher:
    def __init__(
        self,
        emulator: Emulator,
        pipeline: PipelineInfo,
        arn: str,
        on_progress: Callable[[Progress], None],
        history_from: int = 0,
    ) -> None:
        self.emulator = emulator
        self.pipeline = pipeline
        self.arn = arn
        self.on_progress = on_progress
        self.steps = {step: StepResult() for step in pipeline.steps}
        self.jobs: dict[str, str] = {}  # job name -> step
        self.finished: set[str] = set()
        #: The id of the newest history event read (ids count from 1).
        self.last_event = 0
        #: When the jobs were last described.
        self.checked = 0.0
        #: Events up to this id are an earlier attempt's (a redriven execution): their
        #: jobs are followed without progress reports.
        self.history_from = history_from
        self.quiet: set[str] = set()
        #: True once the execution ended: a scheduled job that does not exist then never
        #: will (its CreateProcessingJob call was rejected).
        self.ended = False
        self.started = time.monotonic()
        self.sfn = emulator.client("stepfunctions")
        self.sagemaker = emulator.client("sagemaker")
        self.fan_out = FanOutWatch(
            self.sagemaker,
            pipeline.fan_outs,
            pipeline.fan_out_states,
            arn.rsplit(":", 1)[-1],
            on_item=self._item_progress,
            on_step=self._fan_out_progress,
            quiet_before=datetime.datetime.now(tz=datetime.UTC) if history_from else None,
        )

    def _item_progress(self, job: ItemJob) -> None:
        elapsed, reason = self.elapsed(), job.failure_reason
        progress = Progress(job.step, job.status, job.job_name, elapsed, job.duration, reason)
        progress.index, progress.item = job.index, job.item
        self.on_progress(progress)

    def _fan_out_progress(self, step: str, jobs: list[ItemJob]) -> None:
        summary = FanOutSummary.of(self.pipeline.fan_outs[step], jobs)
        progress = Progress(step, summary.status, summary.job_name, self.elapsed())
        progress.items, progress.failed_items = summary.items, summary.failed_items
        self.on_progress(progress)

    def _new_events(self) -> list[dict[str, Any]]:
        """The events after the newest one read, oldest first: pages newest first
        (``reverseOrder``) back to it, so a poll reads what is new, not the whole history."""
        newest_first: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {
                "executionArn": self.arn,
                "reverseOrder": True,
                "maxResults": _HISTORY_PAGE,
            }
            if token:
                kwargs["nextToken"] = token
            page = self.sfn.get_execution_history(**kwargs)
            for event in page["events"]:
                if int(event["id"]) <= self.last_event:
                    return newest_first[::-1]
                newest_first.append(event)
            token = page.get("nextToken")
            if not token:
                return newest_first[::-1]

    def poll(self) -> None:
        events = self._new_events()
        # A job's end shows in the history (its .sync task ends): its job is described
        # then, at the end, and at least every JOB_CHECK_SECONDS (a task that timed out
        # leaves its job running), not at every poll.
        look = bool(events) or self.ended or time.monotonic() - self.checked >= JOB_CHECK_SECONDS
        # Jobs already known first, looked at once the history was read: a job that ended
        # before the steps its end lets start were scheduled is reported ended before them.
        if look:
            self._check_jobs()
        # A job can start and end between two polls (0.2 s): when a task ended before a
        # later one was scheduled in this batch, its job is looked at before the later
        # one is reported started.
        ended = False
        for event in events:
            self.last_event = max(self.last_event, int(event["id"]))
            ended = ended or event["type"] in _TASK_ENDS
            if self.fan_out.concerns(event):  # a fan-out step's Map entered or exited
                if ended:
                    self._check_jobs()
                    ended = False
                self.fan_out.see(event, quiet=int(event["id"]) <= self.history_from)
                continue
            details = event.get("taskScheduledEventDetails")
            if event["type"] != "TaskScheduled" or not details:
                continue
            if ended:
                self._check_jobs()
                ended = False
            if details.get("resourceType") != "sagemaker":
                continue
            params = json.loads(details.get("parameters") or "{}")
            job = params.get("ProcessingJobName")
            step = (params.get("Environment") or {}).get(STEP_ENV)
            if not isinstance(job, str) or not isinstance(step, str):
                continue
            self.jobs[job] = step
            result = self.steps.setdefault(step, StepResult())
            result.status, result.job_name = "InProgress", job
            if int(event["id"]) <= self.history_from:
                self.quiet.add(job)
            else:
                self.on_progress(Progress(step, "InProgress", job, self.elapsed()))
        if look:
            self._check_jobs()
        self.fan_out.poll()

    def _check_jobs(self) -> None:
        self.checked = time.monotonic()
        for job, step in list(self.jobs.items()):
            if job not in self.finished:
                self._check_job(job, step)

    def _check_job(self, job: str, step: str) -> None:
        try:
            described = self.sagemaker.describe_processing_job(ProcessingJobName=job)
        except botocore.exceptions.ClientError:
            if self.ended:  # the call was rejected (throttled, invalid): no job was made
                self.finished.add(job)
                result = self.steps[step]
                if result.job_name == job and result.status == "InProgress":
                    result.status = "NotCreated"
            return  # scheduled, not created yet
        status = described["ProcessingJobStatus"]
        result = self.steps[step]
        result.outputs = {
            out["OutputName"]: out["S3Output"]["S3Uri"]
            for out in described.get("ProcessingOutputConfig", {}).get("Outputs", [])
            if out["OutputName"] != RETURNS_CHANNEL and "S3Output" in out
        }
        if status not in TERMINAL_JOB:
            return
        self.finished.add(job)
        result.status = status
        result.duration = job_duration(described)
        result.failure_reason = described.get("FailureReason")
        if job in self.quiet:
            return
        self.on_progress(
            Progress(
                step, status, job, self.elapsed(), result.duration, described.get("FailureReason")
            )
        )

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def watch(
    emulator: Emulator,
    pipeline: PipelineInfo,
    arn: str,
    *,
    on_progress: Callable[[Progress], None] = lambda progress: None,
    timeout: float = 3600.0,
    interval: float = 0.2,
    settle: float = 10.0,
    history_from: int = 0,
) -> RunResult:
    """Follow an execution to its end, reporting each step's job as it starts and ends.

    Jobs still running when the execution ends (a sibling branch of a failed one, being
    stopped) are given up to ``settle`` seconds to reach their end. ``history_from``: the
    number of history events of earlier attempts (of a redriven execution), whose jobs
    count in the result but are not reported again.
    """
    watcher = _Watcher(emulator, pipeline, arn, on_progress, history_from)
    deadline = time.monotonic() + timeout
    while True:
        described = watcher.sfn.describe_execution(executionArn=arn)
        if isinstance(described.get("startDate"), datetime.datetime):
            watcher.fan_out.created_after = described["startDate"]
        watcher.poll()
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {arn} still running after {timeout:.0f}s")
        time.sleep(interval)
    watcher.ended = True
    watcher.poll()
    watcher.fan_out.finish()
    settled = time.monotonic() + settle
    while (
        set(watcher.jobs) - watcher.finished or watcher.fan_out.unfinished()
    ) and time.monotonic() < settled:
        time.sleep(interval)
        watcher.poll()
    watcher.fan_out.close()
    output = json.loads(described["output"]) if described.get("output") else None
    name = str(described["name"])
    refused = refused_step(described.get("error"), described.get("cause"))
    _collect_values(emulator, pipeline, name, output, watcher.steps, refused=refused)
    _fan_out_results(emulator, pipeline, watcher.fan_out, watcher.steps)
    for step in watcher.steps.values():
        if step.status == "Failed" and step.job_name:
            step.log_tail = job_log_tail(emulator, step.job_name)
    start_time = seconds(described.get("startDate"))
    stop_time = seconds(described.get("stopDate"))
    return RunResult(
        execution_arn=arn,
        execution_name=name,
        status=str(described["status"]),
        error=described.get("error"),
        cause=described.get("cause"),
        steps=watcher.steps,
        output=output,
        seconds=(stop_time - start_time) if start_time and stop_time else watcher.elapsed(),
    )


def _collect_values(
    emulator: Emulator,
    pipeline: PipelineInfo,
    execution: str,
    output: Any,
    steps: dict[str, StepResult],
    *,
    refused: str | None = None,
) -> None:
    """Returned values: from the final state when it has them, else from S3 (those of the
    ``refused`` step, which the state machine did not take, are not)."""
    state_steps = output.get("steps", {}) if isinstance(output, dict) else {}
    s3 = emulator.client("s3")
    for step, result in steps.items():
        values = (state_steps.get(step) or {}).get("returned", {}).get("values")
        if isinstance(values, dict):
            result.values = values
            continue
        if result.status != "Completed" or step == refused:
            continue
        # Every host's file (values-<host>.json), merged.
        prefix = pipeline.key(execution, RETURNS_STEP, step)
        for key, _ in list_tree(emulator, pipeline.bucket, prefix):
            try:
                body = s3.get_object(Bucket=pipeline.bucket, Key=prefix + key)["Body"].read()
                data = json.loads(body)
            except (botocore.exceptions.ClientError, ValueError):
                continue
            if isinstance(data, dict):
                result.values.update(data)


def _fan_out_results(
    emulator: Emulator, pipeline: PipelineInfo, fan_out: FanOutWatch, steps: dict[str, StepResult]
) -> None:
    """Each fan-out step's jobs, as ``fan_out`` followed them: how many, their status, and
    its first FAILED_ITEMS failed items with their FailureReason and the end of their log."""
    for step, prefix in pipeline.fan_outs.items():
        if jobs := fan_out.step_jobs(step):
            summary = FanOutSummary.of(prefix, jobs)
            result = steps.setdefault(step, StepResult())
            result.status, result.job_name = summary.status, summary.job_name
            result.items, result.failed_items = summary.items, summary.failed_items
            result.failures = summary.failures(
                lambda job: job_log_tail(emulator, job), FAILED_ITEMS
            )
            if result.failures:
                result.failure_reason = result.failures[0]["failure_reason"]
                result.log_tail = list(result.failures[0]["log_tail"])


def failure_summary(result: RunResult) -> str:
    """``error: cause`` with a job's FailureReason instead of the whole job description."""
    return f"{result.error}: {result.failure_cause}"


def job_logs(emulator: Emulator, job_name: str) -> list[Path]:
    """A local job's log files: ``logs/stderr.log`` of its one host, or of each host."""
    if emulator.jobs_dir is None:
        return []
    job_dir = emulator.jobs_dir / job_name
    return sorted(job_dir.glob("logs/stderr.log")) + sorted(job_dir.glob("algo-*/logs/stderr.log"))


def job_log_tail(emulator: Emulator, job_name: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` whole lines a local job wrote to stderr (stdout when its stderr
    is empty); with several hosts, each line starts with its host (``algo-2: ...``)."""
    tails: list[str] = []
    logs = job_logs(emulator, job_name)
    for stderr in logs:
        text = ""
        for path in (stderr, stderr.with_name("stdout.log")):
            text = read_tail(path, _LOG_TAIL_BYTES)
            if text.strip():
                break
        kept = text.strip().splitlines()[-lines:]
        host = stderr.parent.parent.name if len(logs) > 1 else ""
        tails += [f"{host}: {line}" if host else line for line in kept]
    return tails

"""Follow the item jobs of a pipeline's fan-out steps while an execution runs.

A ``for_each`` step is a Distributed Map: each item runs as a child execution, whose
events (its job's ``TaskScheduled`` among them) are not in the execution's history; the
history only shows the Map's own events (``MapStateEntered`` and ``MapStateExited``,
named after the Map state). So while a fan-out step's Map runs, each poll lists the
jobs named with the step's job-name prefix (one ListProcessingJobs call, which gives
each job's status), describes each new one once (its index and item are in its
environment) and keeps those whose run-parameters input is this execution's
(``.../_run/params/<execution>/``: an earlier execution's jobs have the same prefix).
Each item's job is reported as it is seen and as it ends, and the step once its Map
exits. A pipeline without fan-out steps, or an execution outside them, makes no call.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import botocore.exceptions

from constructs_sm.layout import RUN_STEP
from constructs_sm.report import walk_states
from constructs_sm.runtime import ITEM_ENV, ITEM_INDEX_ENV, PARAMS_CHANNEL, STEP_ENV

#: The statuses a processing job ends in.
TERMINAL_JOB: Final = frozenset({"Completed", "Failed", "Stopped"})
#: Events of a Map state that name it (``MapStateFailed``/``Aborted`` do not).
_MAP_EVENTS: Final = {
    "MapStateEntered": "stateEnteredEventDetails",
    "MapStateExited": "stateExitedEventDetails",
}
#: Jobs created this long before the execution started are not looked at (clock slack).
_CREATED_SLACK: Final = datetime.timedelta(seconds=5)


@dataclass
class ItemJob:
    """One item's job of a fan-out step."""

    step: str
    job_name: str
    index: int | None
    item: str | None
    created: float
    status: str = "InProgress"
    duration: float | None = None
    failure_reason: str | None = None
    #: Not reported (an earlier attempt's job, in a redriven execution).
    quiet: bool = False


def latest_attempts(jobs: Iterable[ItemJob]) -> list[ItemJob]:
    """Each item's last job (by creation), by index; jobs without an index as they are."""
    by_index: dict[int, ItemJob] = {}
    unindexed = []
    for job in sorted(jobs, key=lambda job: job.created):
        if job.index is None:
            unindexed.append(job)
        else:
            by_index[job.index] = job
    return [by_index[index] for index in sorted(by_index)] + unindexed


def aggregate_status(statuses: Iterable[str]) -> str:
    """A fan-out step's status from its jobs': Completed when all completed, InProgress
    while one runs, Failed when none completed, else PartlyFailed."""
    listed = list(statuses)
    if all(status == "Completed" for status in listed):
        return "Completed"
    if any(status not in TERMINAL_JOB for status in listed):
        return "InProgress"
    return "PartlyFailed" if "Completed" in listed else "Failed"


@dataclass(frozen=True)
class FanOutSummary:
    """A fan-out step's jobs, summed up."""

    status: str
    job_name: str
    items: int
    failed_items: int
    jobs: tuple[ItemJob, ...]

    @classmethod
    def of(cls, prefix: str, jobs: list[ItemJob]) -> FanOutSummary:
        """From a step's job-name prefix and its jobs: an item counts by its last attempt
        (a job the step's retry policy ran again, or a redrive's earlier one, does not)."""
        last = latest_attempts(jobs)
        return cls(
            status=aggregate_status(job.status for job in last),
            job_name=f"{prefix}-* ({len(jobs)} jobs)",
            items=len(last),
            failed_items=sum(job.status != "Completed" for job in last),
            jobs=tuple(last),
        )

    def failures(self, log_tail: Callable[[str], list[str]], limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` jobs that failed or were stopped: ``{"index", "status",
        "item", "job_name", "failure_reason", "log_tail"}`` each (``log_tail(job name)``)."""
        failed = [job for job in self.jobs if job.status in ("Failed", "Stopped")][:limit]
        return [
            {
                "index": job.index,
                "status": job.status,
                "item": job.item,
                "job_name": job.job_name,
                "failure_reason": job.failure_reason,
                "log_tail": log_tail(job.job_name),
            }
            for job in failed
        ]


def map_states(definition: Mapping[str, Any], fan_outs: Mapping[str, str]) -> dict[str, str]:
    """The Map state of each of ``fan_outs``' steps in a definition: state name -> step."""
    found = {}
    for name, state, _ in walk_states(definition):
        if state.get("Type") == "Map" and isinstance(state.get("ItemProcessor"), dict):
            for _, inner, _ in walk_states(state["ItemProcessor"]):
                environment = (inner.get("Parameters") or {}).get("Environment") or {}
                if environment.get(STEP_ENV) in fan_outs:
                    found[name] = str(environment[STEP_ENV])
    return found


def seconds(value: Any) -> float | None:
    """A timestamp of the AWS API (a ``datetime``) as seconds; None if it is not one."""
    return value.timestamp() if isinstance(value, datetime.datetime) else None


def job_duration(described: Mapping[str, Any]) -> float | None:
    """A described processing job's run time (start to end), if it has both."""
    begin = seconds(described.get("ProcessingStartTime"))
    end = seconds(described.get("ProcessingEndTime"))
    return end - begin if begin is not None and end is not None else None


def _end(job: Mapping[str, Any]) -> float:
    return seconds(job.get("ProcessingEndTime")) or float("inf")


class FanOutWatch:
    """The item jobs of one execution's fan-out steps, followed poll by poll.

    ``fan_outs``: step -> job-name prefix; ``map_states``: Map state name -> step.
    ``on_item`` gets a job when it is first seen and when it ends; ``on_step`` gets a step
    and its jobs (by index) when its Map exits, or at the end (:meth:`finish`).
    """

    def __init__(
        self,
        sagemaker: Any,
        fan_outs: Mapping[str, str],
        map_states: Mapping[str, str],
        execution: str,
        *,
        on_item: Callable[[ItemJob], None],
        on_step: Callable[[str, list[ItemJob]], None],
        quiet_before: datetime.datetime | None = None,
    ) -> None:
        self.sagemaker = sagemaker
        self.fan_outs = fan_outs
        self.map_states = map_states
        self.marker = f"/{RUN_STEP}/{PARAMS_CHANNEL}/{execution}/"
        self.on_item = on_item
        self.on_step = on_step
        #: Jobs created before this are followed without reports (a redrive's earlier ones).
        self.quiet_before = quiet_before
        #: Jobs created before this are not this execution's (set once it is known).
        self.created_after: datetime.datetime | None = None
        self.jobs: dict[str, ItemJob] = {}
        self.foreign: set[str] = set()
        #: Steps whose Map is running; steps whose end is still to be reported.
        self.active: set[str] = set()
        self.due: set[str] = set()

    def concerns(self, event: Mapping[str, Any]) -> bool:
        """Whether a history event enters or exits a fan-out step's Map."""
        key = _MAP_EVENTS.get(str(event.get("type")))
        return key is not None and (event.get(key) or {}).get("name") in self.map_states

    def see(self, event: Mapping[str, Any], *, quiet: bool = False) -> None:
        """A Map event (see :meth:`concerns`): entered, its jobs are looked at each poll;
        exited, they are looked at once more and the step's end is reported."""
        key = _MAP_EVENTS[str(event["type"])]
        step = self.map_states[str(event[key]["name"])]
        if event["type"] == "MapStateEntered":
            self.active.add(step)
            if not quiet:
                self.due.add(step)
            return
        self.look([step])
        self.active.discard(step)
        self._report_step(step)

    def unfinished(self) -> set[str]:
        """The steps with a job that has not ended."""
        return {job.step for job in self.jobs.values() if job.status not in TERMINAL_JOB}

    def poll(self) -> None:
        """Look at the jobs of the steps whose Map runs or whose jobs run."""
        steps = self.active | self.unfinished()
        if steps:
            self.look(sorted(steps))

    def finish(self) -> None:
        """At the execution's end: every fan-out step's jobs once more (the jobs still
        running are being stopped: :meth:`unfinished`)."""
        self.look(sorted(self.fan_outs))
        self.active.clear()

    def close(self) -> None:
        """Once the jobs have settled: the end of each step whose Map was entered but not
        seen to exit (the execution failed or stopped inside it)."""
        for step in sorted(self.due):
            self._report_step(step)

    def step_jobs(self, step: str) -> list[ItemJob]:
        """A step's jobs by index (then by creation)."""
        jobs = [job for job in self.jobs.values() if job.step == step]
        return sorted(jobs, key=lambda job: (job.index is None, job.index or 0, job.created))

    def _report_step(self, step: str) -> None:
        if step in self.due:
            self.due.discard(step)
            jobs = self.step_jobs(step)
            if jobs:
                self.on_step(step, jobs)

    def look(self, steps: Iterable[str]) -> None:
        """List each step's jobs; report the new ones (by creation), then the ended ones
        (by end)."""
        summaries: list[tuple[str, Mapping[str, Any]]] = []
        # Jobs of earlier executions are not listed once this one's start is known (a kept
        # emulator holds every run's); those created just before, within the slack, are
        # listed and told apart by their run-parameters input.
        window = (
            {"CreationTimeAfter": self.created_after - _CREATED_SLACK}
            if self.created_after is not None
            else {}
        )
        for step in steps:
            pages = self.sagemaker.get_paginator("list_processing_jobs").paginate(
                NameContains=self.fan_outs[step], **window
            )
            for page in pages:
                summaries += [(step, s) for s in page.get("ProcessingJobSummaries", [])]
        ended: list[tuple[float, ItemJob, Mapping[str, Any] | None]] = []
        summaries.sort(key=lambda pair: seconds(pair[1].get("CreationTime")) or 0.0)
        for step, summary in summaries:
            name = str(summary["ProcessingJobName"])
            status = str(summary.get("ProcessingJobStatus"))
            job = self.jobs.get(name)
            if job is None and name not in self.foreign:
                described = self._new(step, name, summary)
                job = self.jobs.get(name)
                if job is not None and described is not None:
                    status = str(described.get("ProcessingJobStatus"))
                    if status in TERMINAL_JOB:
                        ended.append((_end(described), job, described))
                    continue
            if job is not None and job.status not in TERMINAL_JOB and status in TERMINAL_JOB:
                ended.append((_end(summary), job, None))
        for _, job, described in sorted(ended, key=lambda entry: entry[0]):
            described = described or self._describe(job.job_name)
            if described is not None:
                self._ended(job, described)

    def _new(self, step: str, name: str, summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """A job not seen before: followed (and reported) if it is this execution's."""
        created = summary.get("CreationTime")
        if (
            self.created_after is not None
            and isinstance(created, datetime.datetime)
            and created < self.created_after - _CREATED_SLACK
        ):
            self.foreign.add(name)
            return None
        described = self._describe(name)
        if described is None or not self._is_ours(described):
            self.foreign.add(name)
            return None
        job = self._new_job(step, name, described)
        self.jobs[name] = job
        if not job.quiet:
            self.on_item(job)
        return described

    def _describe(self, name: str) -> dict[str, Any] | None:
        try:
            described: dict[str, Any] = self.sagemaker.describe_processing_job(
                ProcessingJobName=name
            )
        except botocore.exceptions.ClientError:
            return None
        return described

    def _is_ours(self, described: Mapping[str, Any]) -> bool:
        return any(
            self.marker in str((item.get("S3Input") or {}).get("S3Uri", ""))
            for item in described.get("ProcessingInputs", [])
        )

    def _new_job(self, step: str, name: str, described: Mapping[str, Any]) -> ItemJob:
        environment = described.get("Environment") or {}
        index = environment.get(ITEM_INDEX_ENV)
        item = environment.get(ITEM_ENV)
        created = described.get("CreationTime")
        quiet = (
            self.quiet_before is not None
            and isinstance(created, datetime.datetime)
            and created < self.quiet_before
        )
        return ItemJob(
            step=step,
            job_name=name,
            index=int(index) if isinstance(index, str) and index.isdigit() else None,
            item=item if isinstance(item, str) else None,
            created=seconds(created) or 0.0,
            quiet=quiet,
        )

    def _ended(self, job: ItemJob, described: Mapping[str, Any]) -> None:
        status = str(described.get("ProcessingJobStatus"))
        if status not in TERMINAL_JOB:
            return
        job.status = status
        job.duration = job_duration(described)
        job.failure_reason = described.get("FailureReason")
        if not job.quiet:
            self.on_item(job)

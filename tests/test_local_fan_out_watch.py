"""The watch of fan-out steps' item jobs, with a fake SageMaker client (the order of
reports, other executions' jobs, and no call outside a fan-out step's Map)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from constructs_sm.local.fan_out_watch import (
    FanOutSummary,
    FanOutWatch,
    ItemJob,
    aggregate_status,
    map_states,
)

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


class FakeSageMaker:
    """ListProcessingJobs (one page) and DescribeProcessingJob over ``jobs``, counted."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.lists = 0
        self.described: list[str] = []
        self.windows: list[datetime.datetime | None] = []

    def add(self, name: str, execution: str, index: int, created: float) -> None:
        uri = f"s3://b/Fan/_run/params/{execution}/"
        self.jobs[name] = {
            "ProcessingJobName": name,
            "ProcessingJobStatus": "InProgress",
            "CreationTime": _at(created),
            "ProcessingInputs": [{"InputName": "params", "S3Input": {"S3Uri": uri}}],
            "Environment": {"CSM_ITEM": f"item{index}", "CSM_ITEM_INDEX": str(index)},
        }

    def end(self, name: str, status: str, at: float, reason: str | None = None) -> None:
        job = self.jobs[name]
        job["ProcessingJobStatus"] = status
        job["ProcessingStartTime"] = job["CreationTime"]
        job["ProcessingEndTime"] = _at(at)
        if reason:
            job["FailureReason"] = reason

    def get_paginator(self, operation: str) -> FakeSageMaker:
        assert operation == "list_processing_jobs"
        return self

    def paginate(
        self,
        NameContains: str,  # noqa: N803
        CreationTimeAfter: datetime.datetime | None = None,  # noqa: N803
    ) -> Iterator[dict[str, Any]]:
        self.lists += 1
        self.windows.append(CreationTimeAfter)
        keys = ("ProcessingJobName", "ProcessingJobStatus", "CreationTime", "ProcessingEndTime")
        yield {
            "ProcessingJobSummaries": [
                {key: job[key] for key in keys if key in job}
                for name, job in self.jobs.items()
                if NameContains in name
                and (CreationTimeAfter is None or job["CreationTime"] > CreationTimeAfter)
            ]
        }

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:  # noqa: N803
        self.described.append(ProcessingJobName)
        return dict(self.jobs[ProcessingJobName])


def _map(kind: str, step: str = "per_part") -> dict[str, Any]:
    key = "stateEnteredEventDetails" if kind == "MapStateEntered" else "stateExitedEventDetails"
    return {"type": kind, key: {"name": f"Run {step}"}}


@pytest.fixture
def fake() -> FakeSageMaker:
    return FakeSageMaker()


def _watch(fake: FakeSageMaker, reports: list[tuple[Any, ...]]) -> FanOutWatch:
    return FanOutWatch(
        fake,
        {"per_part": "fan-part"},
        {"Run per_part": "per_part"},
        "exec-1",
        on_item=lambda job: reports.append((job.index, job.status)),
        on_step=lambda step, jobs: reports.append((step, [job.index for job in jobs])),
    )


def test_no_call_outside_a_fan_out_steps_map(fake: FakeSageMaker) -> None:
    reports: list[tuple[Any, ...]] = []
    watch = _watch(fake, reports)
    fake.add("fan-part-a", "exec-1", 0, 1.0)
    assert not watch.concerns({"type": "TaskScheduled"})
    assert not watch.concerns(
        {"type": "MapStateEntered", "stateEnteredEventDetails": {"name": "x"}}
    )
    watch.poll()
    assert (fake.lists, fake.described, reports) == (0, [], [])


def test_items_are_reported_as_they_start_then_end_and_the_step_at_its_end(
    fake: FakeSageMaker,
) -> None:
    reports: list[tuple[Any, ...]] = []
    watch = _watch(fake, reports)
    watch.created_after = _at(0.0)
    fake.add("fan-part-old", "exec-0", 0, -60.0)  # long before the execution: not described
    fake.add("fan-part-other", "exec-0", 5, 0.5)  # another execution's: described once
    assert watch.concerns(_map("MapStateEntered"))
    watch.see(_map("MapStateEntered"))
    fake.add("fan-part-b", "exec-1", 1, 2.0)
    fake.add("fan-part-a", "exec-1", 0, 1.0)
    fake.end("fan-part-b", "Completed", 3.0)
    fake.end("fan-part-a", "Failed", 4.0, "AlgorithmError: boom")
    fake.add("fan-part-c", "exec-1", 2, 2.5)
    watch.poll()
    # New jobs by creation, then ended ones by end.
    assert reports == [
        (0, "InProgress"),
        (1, "InProgress"),
        (2, "InProgress"),
        (1, "Completed"),
        (0, "Failed"),
    ]
    reports.clear()
    fake.end("fan-part-c", "Completed", 5.0)
    watch.poll()
    watch.see(_map("MapStateExited"))
    assert reports == [(2, "Completed"), ("per_part", [0, 1, 2])]
    assert fake.described.count("fan-part-other") == 1
    assert "fan-part-old" not in fake.described
    # Listed from just before the execution's start: the old job is not even listed.
    assert set(fake.windows) == {_at(0.0) - datetime.timedelta(seconds=5)}
    assert [job.failure_reason for job in watch.step_jobs("per_part")] == [
        "AlgorithmError: boom",
        None,
        None,
    ]
    watch.poll()  # the Map exited and every job ended: nothing more to ask
    lists = fake.lists
    watch.poll()
    assert fake.lists == lists


def test_the_end_of_a_map_not_seen_to_exit_is_reported_once_its_jobs_settled(
    fake: FakeSageMaker,
) -> None:
    reports: list[tuple[Any, ...]] = []
    watch = _watch(fake, reports)
    watch.see(_map("MapStateEntered"))
    fake.add("fan-part-a", "exec-1", 0, 1.0)
    watch.finish()  # the execution ended: its jobs are being stopped
    assert reports == [(0, "InProgress")]
    assert watch.unfinished() == {"per_part"}
    fake.end("fan-part-a", "Stopped", 2.0)
    watch.poll()
    watch.close()
    assert reports == [(0, "InProgress"), (0, "Stopped"), ("per_part", [0])]


def test_an_item_counts_by_its_last_attempt() -> None:
    """A job the retry policy ran again: the item is not failed (nor counted twice)."""
    jobs = [
        ItemJob("s", "p-a1", 0, "x", 1.0, "Failed", failure_reason="CapacityError: none"),
        ItemJob("s", "p-b", 1, "y", 2.0, "Completed"),
        ItemJob("s", "p-a2", 0, "x", 3.0, "Completed"),
    ]
    summary = FanOutSummary.of("p", jobs)
    assert (summary.status, summary.items, summary.failed_items) == ("Completed", 2, 0)
    assert summary.job_name == "p-* (3 jobs)"
    assert [job.job_name for job in summary.jobs] == ["p-a2", "p-b"]
    assert summary.failures(lambda name: [], limit=10) == []


def test_a_summary_counts_and_details_the_failed_items() -> None:
    jobs = [
        ItemJob("s", "p-a", 0, "x", 1.0, "Completed"),
        ItemJob("s", "p-b", 1, "y", 2.0, "Failed", failure_reason="bad"),
        ItemJob("s", "p-c", 2, "z", 3.0, "Stopped"),
    ]
    summary = FanOutSummary.of("p", jobs)
    assert (summary.status, summary.job_name, summary.items, summary.failed_items) == (
        "PartlyFailed",
        "p-* (3 jobs)",
        3,
        2,
    )
    failures = summary.failures(lambda name: [f"log of {name}"], limit=1)
    assert failures == [
        {
            "index": 1,
            "status": "Failed",
            "item": "y",
            "job_name": "p-b",
            "failure_reason": "bad",
            "log_tail": ["log of p-b"],
        }
    ]


@pytest.mark.parametrize(
    ("statuses", "status"),
    [
        (["Completed", "Completed"], "Completed"),
        (["Completed", "InProgress", "Failed"], "InProgress"),
        (["Failed", "Stopped"], "Failed"),
        (["Completed", "Failed"], "PartlyFailed"),
    ],
)
def test_a_fan_out_steps_status(statuses: list[str], status: str) -> None:
    assert aggregate_status(statuses) == status


def test_the_map_state_of_each_fan_out_step_is_found_in_the_definition() -> None:
    task = {
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {"Environment": {"CSM_STEP": "per_part"}},
    }
    definition = {
        "States": {
            "Parallel 1": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "States": {
                            "Run per_part": {
                                "Type": "Map",
                                "ItemProcessor": {"States": {"Job": task}},
                            },
                            "Run other": {"Type": "Map", "ItemProcessor": {"States": {}}},
                        }
                    }
                ],
            }
        }
    }
    assert map_states(definition, {"per_part": "p"}) == {"Run per_part": "per_part"}
    assert map_states(definition, {}) == {}

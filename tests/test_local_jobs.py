"""A local job leaves nothing behind: no process, no partial output.

Each test runs tests/local_jobs/spawn.py as a processing job (a :class:`LocalJob`, with
the session emulator's S3), lets it start processes that try to outlive it, ends the job
one way and looks at the process table (``/proc``) and the output prefix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from constructs_sm.local import processes, sagemaker
from constructs_sm.local.jobs import JobOutcome, LocalJob
from tests.local_deployment import Deployed, job_role, running_with

SPAWN = Path(__file__).parent / "local_jobs" / "spawn.py"
BUCKET = "local-jobs-tests"

pytestmark = pytest.mark.skipif(not processes.supported(), reason="needs /proc (Linux)")


class Job:
    """One spawn.py job: its marker, request, LocalJob and outcome."""

    def __init__(self, deployed: Deployed, tmp: Path, then: str, *, s3: Any = None) -> None:
        self.marker = f"csm-test-{uuid.uuid4().hex}"
        self.prefix = f"out/{self.marker}/"
        self.stop = threading.Event()
        client = deployed.emulator.client("s3")
        client.create_bucket(Bucket=BUCKET)
        self.s3 = client
        request = {
            "ProcessingJobName": self.marker,
            "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", str(SPAWN)]},
            "Environment": {"MARKER": self.marker, "THEN": then},
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": f"s3://{BUCKET}/{self.prefix}",
                            "LocalPath": "/opt/ml/processing/output/out",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 4},
        }
        self.job = LocalJob(request, s3=s3 or client, work_dir=tmp, should_stop=self.stop.is_set)
        self.outcome: JobOutcome | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self.outcome = self.job.run()

    def start(self) -> list[int]:
        """Run the job in a thread; the pids of its sleepers once they all run."""
        self.thread.start()
        ready = self.job.job_dir / "ready.json"
        deadline = time.monotonic() + 20
        while not ready.is_file() or not ready.read_text():
            assert self.thread.is_alive(), self.outcome
            assert time.monotonic() < deadline, "the sleepers did not start"
            time.sleep(0.02)
        pids: list[int] = json.loads(ready.read_text())
        return pids

    def end(self) -> JobOutcome:
        self.thread.join(30)
        assert self.outcome is not None
        return self.outcome

    def uploaded(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=self.prefix)
        return sorted(obj["Key"][len(self.prefix) :] for obj in listing.get("Contents", []))


def _sleepers_ran(job: Job, pids: list[int]) -> None:
    """The three sleepers were there, out of the job's session, before the job ended."""
    assert len(pids) == 3 and all(processes.alive(pid) for pid in pids)
    assert set(pids) <= set(running_with(job.marker))


def test_a_job_that_ends_kills_what_it_left_running(deployed: Deployed, tmp_path: Path) -> None:
    job = Job(deployed, tmp_path, "exit")
    pids = job.start()
    outcome = job.end()
    assert outcome.status == "Completed", outcome.failure_reason
    assert pids and running_with(job.marker) == []
    assert job.uploaded() == ["a.txt", "b.txt", "c.txt"]


def test_a_stopped_job_leaves_no_process(deployed: Deployed, tmp_path: Path) -> None:
    job = Job(deployed, tmp_path, "sleep")
    _sleepers_ran(job, job.start())
    job.stop.set()
    assert job.end().status == "Stopped"
    assert running_with(job.marker) == []
    assert job.uploaded() == []


def test_a_job_out_of_time_leaves_no_process(deployed: Deployed, tmp_path: Path) -> None:
    job = Job(deployed, tmp_path, "sleep")
    _sleepers_ran(job, job.start())
    outcome = job.end()
    assert outcome.status == "Failed"
    assert (outcome.failure_reason or "").startswith("MaxRuntimeExceeded")
    assert running_with(job.marker) == []


def test_a_job_killed_from_another_thread_leaves_no_process(
    deployed: Deployed, tmp_path: Path
) -> None:
    """What the emulator does to the jobs still running when it stops (the CLI's signals)."""
    job = Job(deployed, tmp_path, "sleep")
    _sleepers_ran(job, job.start())
    job.job.kill()
    assert running_with(job.marker) == [], "killed before kill() returns"
    assert job.end().status == "Stopped"


def test_a_failed_job_uploads_nothing(deployed: Deployed, tmp_path: Path) -> None:
    job = Job(deployed, tmp_path, "fail")
    job.start()
    outcome = job.end()
    assert outcome.status == "Failed"
    assert "failed after writing part of the output" in (outcome.failure_reason or "")
    assert (job.job.job_dir / "processing" / "output" / "out" / "a.txt").is_file()
    assert job.uploaded() == []
    assert running_with(job.marker) == []


class _FailingUploads:
    """An S3 client whose ``upload_file`` fails (or stops the job) at the ``at``-th call."""

    def __init__(self, client: Any, at: int, stop: threading.Event | None = None) -> None:
        self._client, self._at, self._stop, self.calls = client, at, stop, 0

    def upload_file(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls == self._at:
            if self._stop is None:
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3")
            self._stop.set()
        self._client.upload_file(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("how", ["fails", "is stopped"])
def test_an_upload_that_ends_part_way_removes_what_it_wrote(
    deployed: Deployed, tmp_path: Path, how: str
) -> None:
    client = deployed.emulator.client("s3")
    stop = threading.Event() if how == "is stopped" else None
    flaky = _FailingUploads(client, at=3 if stop is None else 2, stop=stop)
    job = Job(deployed, tmp_path, "exit", s3=flaky)
    if stop is not None:
        job.stop = stop
        job.job._should_stop = stop.is_set
    job.start()
    outcome = job.end()
    assert outcome.status == ("Failed" if stop is None else "Stopped")
    assert flaky.calls >= 2, "some files were uploaded before the end"
    assert job.uploaded() == []


def test_the_spawn_script_really_escapes_a_process_group_kill(tmp_path: Path) -> None:
    """Without the engine's tree kill, killing the job's group leaves the sleepers: the
    tests above would pass for nothing if spawn.py's processes died with their group."""
    marker = f"csm-test-{uuid.uuid4().hex}"
    env = {**os.environ, "CSM_ML_DIR": str(tmp_path), "MARKER": marker, "THEN": "sleep"}
    (tmp_path / "processing" / "output" / "out").mkdir(parents=True)
    process = subprocess.Popen([sys.executable, str(SPAWN)], env=env, start_new_session=True)
    try:
        ready = tmp_path / "ready.json"
        deadline = time.monotonic() + 20
        while not ready.is_file() or not ready.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        survivors = running_with(marker)
        assert len(survivors) == 3
    finally:
        processes.kill_all(running_with(marker))
        deadline = time.monotonic() + 5
        while running_with(marker) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert running_with(marker) == []


def test_a_job_is_in_progress_from_its_creation(deployed: Deployed) -> None:
    """moto alone reports every job Completed when it is created; a watcher polling then
    would take a job that has not run for a finished one."""
    sagemaker = deployed.emulator.client("sagemaker")
    name = f"created-{uuid.uuid4().hex[:12]}"
    sagemaker.create_processing_job(
        ProcessingJobName=name,
        RoleArn=f"arn:aws:iam::{deployed.emulator.account}:role/job",
        AppSpecification={"ImageUri": "img"},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 1,
            }
        },
    )
    described = sagemaker.describe_processing_job(ProcessingJobName=name)
    assert described["ProcessingJobStatus"] == "InProgress"
    assert "ProcessingEndTime" not in described


def test_a_sync_task_wakes_up_when_its_job_ends(deployed: Deployed, tmp_path: Path) -> None:
    """JobRunner.wait (what a .sync task waits with) returns when the job ends, not when
    its timeout runs out: the job runner tells the waiters."""
    runner = sagemaker._RUNNER
    assert runner is not None
    emulator = deployed.emulator
    gate = tmp_path / "go"
    name = f"wakes-{uuid.uuid4().hex[:12]}"
    # One line (an entrypoint item must match ".*"): sleep until the gate file exists.
    waiting = (
        "import os,time;[time.sleep(0.01) for _ in "
        f"iter(lambda: os.path.exists({str(gate)!r}), True)]"
    )
    runner.create(
        emulator.region,
        {
            "ProcessingJobName": name,
            "RoleArn": job_role(emulator),
            "AppSpecification": {
                "ImageUri": "img",
                "ContainerEntrypoint": ["python3", "-c", waiting],
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.xlarge",
                    "VolumeSizeInGB": 1,
                }
            },
        },
    )
    assert runner.status(emulator.region, name) == "InProgress"
    waiter = threading.Thread(target=runner.wait, args=(emulator.region, name, 600.0))
    waiter.start()
    gate.write_text("go")
    waiter.join(60)
    assert not waiter.is_alive(), "wait() slept on after the job ended"
    assert runner.status(emulator.region, name) == "Completed"

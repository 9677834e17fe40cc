"""A job's processes: waiting for the first to exit, and finding them by their marker.

The kill itself (every process a job left, whichever way it escaped) is pinned by
tests/test_local_jobs.py, which runs whole jobs.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Iterator

import pytest

from constructs_sm.local import processes

pytestmark = pytest.mark.skipif(not processes.supported(), reason="needs /proc (Linux)")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process that runs until the test ends."""
    process = subprocess.Popen(["sleep", "600"])
    yield process
    process.kill()
    process.wait()


def _waited(running: list[subprocess.Popen[bytes]], timeout: float) -> bool:
    """Whether ``wait_any(running, timeout)`` returned within a minute."""
    waiter = threading.Thread(target=processes.wait_any, args=(running, timeout))
    waiter.start()
    waiter.join(60)
    return not waiter.is_alive()


def test_wait_any_returns_when_any_process_exits(sleeper: subprocess.Popen[bytes]) -> None:
    """Not only the first: a job's loop waits on all its hosts' processes at once."""
    quick = subprocess.Popen(["true"])
    assert _waited([sleeper, quick], timeout=600), "wait_any slept on after a process exited"
    assert quick.poll() == 0
    assert sleeper.poll() is None


def test_wait_any_returns_after_its_timeout(sleeper: subprocess.Popen[bytes]) -> None:
    assert _waited([sleeper], timeout=0.05)
    assert sleeper.poll() is None


def test_wait_any_without_pidfds_waits_for_a_running_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where ``pidfd_open`` fails (a kernel before 5.3) it waits as ``Popen.wait`` does."""
    calls: list[int] = []

    def unsupported(pid: int, flags: int = 0) -> int:
        calls.append(pid)
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", unsupported)
    quick = subprocess.Popen(["true"])
    assert _waited([quick], timeout=600)
    assert calls == [quick.pid]
    assert quick.poll() == 0


def test_wait_any_of_exited_processes_returns_at_once() -> None:
    done = subprocess.Popen(["true"])
    done.wait()
    assert _waited([done], timeout=600)


def test_a_marked_process_that_left_the_tree_is_found_and_older_ones_are_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The marker finds a process whose parent exited before it was observed; the
    environments of processes older than the job (this test's, for one) are not read,
    since they cannot hold a token made after they started."""
    job = processes.JobProcesses(f"test-{uuid.uuid4().hex}")
    name, token = job.marker
    read: list[int] = []
    environ_has = processes.environ_has

    def recording(pid: int, entry: bytes) -> bool:
        read.append(pid)
        return environ_has(pid, entry)

    monkeypatch.setattr(processes, "environ_has", recording)
    root = subprocess.Popen(
        ["sh", "-c", "sleep 600 </dev/null >/dev/null 2>&1 & echo $!"],
        env={**os.environ, name: token},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    job.add_root(root.pid)
    assert root.stdout is not None
    orphan = int(root.stdout.readline())
    root.wait()
    root.stdout.close()
    job.forget_root(root.pid)
    try:
        assert processes.alive(orphan)
        assert job.members() == {orphan}
        assert orphan in read
        assert os.getpid() not in read and 1 not in read
    finally:
        job.kill()
    assert not processes.alive(orphan)

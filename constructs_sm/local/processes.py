"""Every process a local job started, found through ``/proc`` and killed as a whole.

On SageMaker a job's processes live in its containers, which end with the job: nothing
it started outlives it. Locally a job is a process of this machine, and what it starts
can leave its process group and session (``setsid``, a daemon's double fork), so
killing the group is not enough. :class:`JobProcesses` finds a job's processes three
ways, each covering what the others miss:

- its **marker**: every job process gets ``CSM_LOCAL_JOB=<token>`` in its environment,
  which children inherit through ``fork``/``exec``, ``setsid`` and double forks alike
  and which stays readable in ``/proc/<pid>/environ`` (the environment a process was
  started with) for processes of this user, wherever they were re-parented (only the
  processes started since the job's first one are read: no older one can carry it);
- the **tree** below the job's root processes (``/proc/<pid>/stat``'s parent pid), for
  a child started with an environment of its own while its parent still runs;
- what the tree held when last **observed** (:meth:`JobProcesses.observe`, called while
  the job runs), pid and start time together so that a reused pid is never taken for
  a job's process.

Killing stops every member first (``SIGSTOP``), looks again for what they started in the
meantime, then sends ``SIGKILL`` to all: a process that forks while being killed cannot
leave a child behind. Alternatives weighed: a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``) re-parents orphans to the engine but does not say
which of several concurrent jobs they came from, and leaves their zombies to the engine
to reap; cgroups would be exact but need a delegated cgroup v2 hierarchy, which
unprivileged users and containers rarely have. The command line uses a subreaper on top
(:func:`become_subreaper`) to catch the rest of what it started (the ``cdk`` CLI).

What escapes: a process that clears its environment *and* outlives its parent before
it was observed, or that runs as another user. Linux only (``/proc``); elsewhere only
the job's process group is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

#: The environment variable that marks a local job's processes.
MARKER_ENV: Final = "CSM_LOCAL_JOB"
_PROC: Final = Path("/proc")
#: prctl(2) option: orphaned descendants are re-parented to this process, not to init.
_PR_SET_CHILD_SUBREAPER: Final = 36
_KILL_ROUNDS: Final = 20


@dataclass(frozen=True)
class ProcessInfo:
    """One line of the process table: pid, parent pid, state letter, start time (ticks)."""

    pid: int
    ppid: int
    state: str
    start: int


def supported() -> bool:
    """True where ``/proc`` describes processes (Linux)."""
    return sys.platform.startswith("linux") and (_PROC / "self" / "stat").is_file()


def _read_stat(pid: int) -> ProcessInfo | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return ProcessInfo(pid, int(fields[1]), fields[0], int(fields[19]))
    except (IndexError, ValueError):
        return None


_snapshot: tuple[float, dict[int, ProcessInfo]] = (0.0, {})
_snapshot_lock = threading.Lock()


def process_table(max_age: float = 0.0) -> dict[int, ProcessInfo]:
    """Every process: pid -> :class:`ProcessInfo` (empty where unsupported); read at
    most ``max_age`` seconds ago (concurrent jobs observing their trees share a reading)."""
    global _snapshot
    if not supported():
        return {}
    with _snapshot_lock:
        taken, table = _snapshot
        if max_age > 0 and time.monotonic() - taken <= max_age:
            return table
    table = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            info = _read_stat(int(entry.name))
            if info is not None:
                table[info.pid] = info
    with _snapshot_lock:
        _snapshot = (time.monotonic(), table)
    return table


def descendants(table: Mapping[int, ProcessInfo], roots: Iterable[int]) -> set[int]:
    """The pids below ``roots`` in ``table`` (the roots included when present)."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: set[int] = set()
    todo = [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def environ_has(pid: int, entry: bytes) -> bool:
    """True if process ``pid`` was started with ``entry`` (``b"NAME=value"``)."""
    try:
        data = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return entry in data.split(b"\0")


def alive(pid: int, start: int | None = None) -> bool:
    """True if ``pid`` runs (a zombie does not), and started at ``start`` if given."""
    info = _read_stat(pid)
    return info is not None and info.state != "Z" and (start is None or info.start == start)


def become_subreaper() -> bool:
    """Make this process the child subreaper of what it starts (Linux); True if it is."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def kill_all(members: Iterable[int], *, find_more: bool = True) -> None:
    """Stop then kill ``members`` and whatever they started meanwhile (see the module)."""
    targets = set(members) - {os.getpid()}
    for _ in range(_KILL_ROUNDS if find_more else 1):
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        more = descendants(process_table(), targets) - targets - {os.getpid()}
        if not more:
            break
        targets |= more
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    _reap(targets)


def _reap(pids: Iterable[int]) -> None:
    """Reap the killed processes this process became the parent of (as a subreaper)."""
    me = os.getpid()
    for pid in pids:
        info = _read_stat(pid)
        if info is not None and info.ppid == me and pid not in _OWN_CHILDREN:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def wait_any(running: Iterable[subprocess.Popen[bytes]], timeout: float) -> None:
    """Return as soon as one of ``running`` has exited (then its ``poll()`` says so), or
    after ``timeout`` seconds.

    Linux: the processes' pidfds (``pidfd_open(2)``) become readable when they exit, so
    one ``poll`` wakes up at the exit itself. ``Popen.wait(timeout)`` sleeps between
    ``waitpid`` calls instead (1, 2, 4 ... up to 50 ms), which made a job notice its
    process's end about 7 ms late on average. Where pidfds are missing (not Linux, a
    kernel before 5.3) it waits for the first one that runs, as ``Popen.wait`` does.
    """
    waiting = [process for process in running if process.returncode is None]
    if not waiting:
        return
    descriptors: list[int] = []
    try:
        try:
            poller = select.poll()  # (select.select refuses descriptors past 1023)
            for process in waiting:
                descriptors.append(os.pidfd_open(process.pid))
                poller.register(descriptors[-1], select.POLLIN)
        except ProcessLookupError:  # reaped meanwhile: its poll() says it exited
            return
        except (AttributeError, OSError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                waiting[0].wait(timeout)
            return
        poller.poll(max(0, math.ceil(timeout * 1000)))
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


#: Pids of processes a ``subprocess.Popen`` of this engine waits for itself.
_OWN_CHILDREN: set[int] = set()


@dataclass
class JobProcesses:
    """The processes of one job (one host of it): its roots, marker and what was seen."""

    token: str
    roots: dict[int, int] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)
    #: The earliest start time of the job's roots (None before the first, -1 when one was
    #: not known): a process started before it cannot carry the job's marker (its token is
    #: new, and an environment is fixed at ``exec``), so its environment is not read.
    since: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def marker(self) -> tuple[str, str]:
        """The environment entry every process of the job carries."""
        return MARKER_ENV, self.token

    def add_root(self, pid: int) -> None:
        """A process the engine started for the job (waited for by its ``Popen``)."""
        info = _read_stat(pid)
        start = info.start if info is not None else -1
        with self._lock:
            self.roots[pid] = start
            self.since = start if self.since is None else min(self.since, start)
        _OWN_CHILDREN.add(pid)

    def forget_root(self, pid: int) -> None:
        """The root ``pid`` was waited for: its number may be reused from now on."""
        with self._lock:
            self.roots.pop(pid, None)
        _OWN_CHILDREN.discard(pid)

    def _live_roots(self, table: Mapping[int, ProcessInfo]) -> list[int]:
        return [pid for pid, start in self.roots.items() if _started(table, pid, start)]

    def observe(self, max_age: float = 0.1) -> None:
        """Remember the job's tree as it is now (call while the job runs)."""
        table = process_table(max_age)
        with self._lock:
            for pid in descendants(table, self._live_roots(table)):
                self.seen[pid] = table[pid].start

    def members(self) -> set[int]:
        """The job's live processes now (roots included), by tree, memory and marker."""
        table = process_table()
        with self._lock:
            found = descendants(table, self._live_roots(table))
            seen = [pid for pid, start in self.seen.items() if _started(table, pid, start)]
            since = -1 if self.since is None else self.since
        found.update(seen)
        entry = f"{MARKER_ENV}={self.token}".encode()
        uid = os.getuid() if supported() else -1
        for pid, info in table.items():
            if pid in found or info.start < since:
                continue
            if _owned_by(pid, uid) and environ_has(pid, entry):
                found.add(pid)
        return {pid for pid in found if pid in table and table[pid].state != "Z"}

    def kill(self) -> None:
        """Kill every process of the job (see the module); a no-op when none is left."""
        if not supported():
            return
        for _ in range(3):
            members = self.members() - {os.getpid()}
            if not members:
                return
            kill_all(members)
            deadline = time.monotonic() + 2.0
            while any(alive(pid) for pid in members) and time.monotonic() < deadline:
                time.sleep(0.01)


def _started(table: Mapping[int, ProcessInfo], pid: int, start: int) -> bool:
    return pid in table and table[pid].start == start


def _owned_by(pid: int, uid: int) -> bool:
    try:
        return (_PROC / str(pid)).stat().st_uid == uid
    except OSError:
        return False

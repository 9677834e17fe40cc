"""Ctrl-C and ``kill``: the command line stops cleanly, whatever it was doing.

While :func:`interrupt_on` is active, SIGINT and SIGTERM raise :class:`Interrupted` in
the main thread (a ``BaseException``, so no ``except Exception`` swallows it). The stack
unwinds through the emulator's context manager, which kills every running job with
everything it started and removes the temporary work directory
(:meth:`~constructs_sm.local.emulator.Emulator.stop`); further signals are ignored until
then, so a second Ctrl-C cannot cut that cleanup short. :func:`kill_descendants` then
kills whatever else the command started (the ``cdk`` CLI, if it was deploying): the
command is the child subreaper of its descendants (:func:`~constructs_sm.local.processes.
become_subreaper`), so those orphaned on the way are still found below it.

The exit code of an interrupted command is 128 + the signal number (130 for SIGINT, 143
for SIGTERM), as shells report a process killed by that signal.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final

from constructs_sm.local import processes

HANDLED: Final = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; :attr:`exit_code` is what the command returns."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal number."""
        return 128 + self.signum


def _raise(signum: int, frame: FrameType | None) -> None:
    for handled in HANDLED:  # one cleanup: later signals wait for it
        signal.signal(handled, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def interrupt_on() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` inside the block (main thread only);
    the previous handlers are back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {handled: signal.getsignal(handled) for handled in HANDLED}
    for handled in HANDLED:
        signal.signal(handled, _raise)
    try:
        yield
    finally:
        for handled, handler in previous.items():
            signal.signal(handled, handler)


def kill_descendants() -> int:
    """Kill every process below this one; returns how many there were."""
    me = os.getpid()
    found = processes.descendants(processes.process_table(), [me]) - {me}
    processes.kill_all(found)
    return len(found)

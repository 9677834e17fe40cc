"""Ctrl-C and ``kill`` while jobs run: ``python -m constructs_sm.local run`` as a process.

Each test starts the command line on the probe pipeline (the session's synthesized
tests/local_app, deployed into the command's own emulator) with branches that sleep and
start a sleeper in a session of their own, waits until those run, sends the signal and
looks at the exit code, the message, the process table and the temporary directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from constructs_sm.local import processes
from tests.local_deployment import ROOT, Deployed, running_with

pytestmark = pytest.mark.skipif(not processes.supported(), reason="needs /proc (Linux)")


class Command:
    """One ``run`` of the probe pipeline in a process of its own, with its own TMPDIR."""

    def __init__(self, deployed: Deployed, tmp_path: Path, name: str) -> None:
        self.marker = f"csm-signal-{uuid.uuid4().hex}"
        self.tmp = tmp_path / name
        self.tmp.mkdir()
        params = {"sleep": 120.0, "spawn": self.marker}
        env = {**os.environ, "TMPDIR": str(self.tmp)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "constructs_sm.local",
                "run",
                "--app",
                str(deployed.assembly),
                "--stack",
                "ProbePipeline",
                "--pipeline",
                "Probe",
                "--input",
                json.dumps(params),
                "--json",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def jobs(self) -> list[int]:
        """The processes of the command's jobs (their sleepers included)."""
        return running_with(f"TMPDIR={self.tmp}/", where="environ")  # not the CLI itself

    def wait_for_jobs(self) -> None:
        """Both branch jobs run, and their sleepers."""
        deadline = time.monotonic() + 90
        while len(running_with(self.marker)) < 2 or len(self.jobs()) < 4:
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, "the branch jobs did not start"
            time.sleep(0.1)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


def test_sigterm_and_sigint_stop_the_command_its_jobs_and_all_and_remove_its_files(
    deployed: Deployed, tmp_path: Path
) -> None:
    """SIGTERM (``kill``) to one command, SIGINT (Ctrl-C) to another, both mid-run."""
    commands = {
        signum: Command(deployed, tmp_path, signum.name)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    for command in commands.values():
        command.wait_for_jobs()
    for signum, command in commands.items():
        command.process.send_signal(signum)
    for signum, command in commands.items():
        code, out, err = command.finish()
        assert code == 128 + signum
        assert f"error: interrupted by {signum.name}: stopped the emulator, killed 2 " in err
        assert "running job(s) with every process they started" in err
        assert "removed its temporary files" in err
        document = json.loads(out.strip().splitlines()[-1])
        assert (document["status"], document["error"]) == ("ERROR", "Interrupted")
        assert running_with(command.marker) == [], "the sleepers in sessions of their own"
        assert command.jobs() == [], "the jobs' processes"
        # node-compile-cache: Node.js's compile cache (of the cdk CLI), kept to be reused.
        assert [p.name for p in command.tmp.iterdir() if p.name != "node-compile-cache"] == []

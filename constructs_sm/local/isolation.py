"""Each offline job's own ``/opt/ml``: a private mount namespace per job process.

A SageMaker Processing container sees its channels at fixed paths below ``/opt/ml``, so
ported scripts read ``/opt/ml/processing/input/...`` and write
``/opt/ml/processing/output/...`` directly. Offline, every job process starts as::

    unshare --mount --propagation private -- \\
        sh -c 'mount --bind "$0" /opt/ml && exec "$@"' <host dir> <command...>

(util-linux ``unshare(1)`` and ``mount(8)``): the process gets a mount namespace of its
own in which its job directory is bound on ``/opt/ml``. The mount is private (nothing
propagates back to this machine) and ends with the process tree, so concurrent jobs, and
the hosts of one multi-instance job, never see each other's files, and the script sees
the paths it would see in SageMaker.

That needs the right to make mount namespaces (``CAP_SYS_ADMIN``: root, as on these
Linux machines) and a directory to mount on: ``/opt/ml`` is created (empty) on this
machine if it does not exist. :func:`probe` tries it once per process. Where it is not
allowed (no root, no ``unshare``, not Linux, or ``CSM_LOCAL_ISOLATION=mapped``), jobs fall
back to mapping: each job process gets ``CSM_ML_DIR=<job dir>`` and its channel paths are
mapped into the job directory, so scripts that find their files through
:mod:`constructs_sm.runtime` run unchanged, but a script with fixed ``/opt/ml/...`` paths
does not find them. :meth:`Isolation.describe` says which applies (the CLI prints it).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Where a processing container's files are; each job's directory is bound here.
MOUNT_POINT: Final = Path("/opt/ml")
#: ``CSM_LOCAL_ISOLATION=mapped`` makes jobs use the mapping even where namespaces work.
ISOLATION_ENV: Final = "CSM_LOCAL_ISOLATION"
#: Bind the directory given as $0 on the mount point, then become the job's command.
_BIND_AND_EXEC: Final = 'mount --bind "$0" {mount_point} && exec "$@"'
_PROBE_FILE: Final = "csm-isolation-probe"


@dataclass(frozen=True)
class Isolation:
    """How offline jobs get their ``/opt/ml``: ``private`` (a mount namespace each) or,
    when that is not allowed (``reason`` says why), a mapped ``CSM_ML_DIR``."""

    private: bool
    reason: str = ""
    mount_point: Path = MOUNT_POINT

    def wrap(self, command: Sequence[str], host_dir: Path) -> list[str]:
        """``command`` run with ``host_dir`` as its ``/opt/ml`` (unchanged when mapped)."""
        if not self.private:
            return list(command)
        script = _BIND_AND_EXEC.format(mount_point=self.mount_point)
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            str(host_dir),
            *command,
        ]

    def describe(self) -> str:
        """One line for the output: which isolation jobs get."""
        if self.private:
            return (
                f"jobs: each job has its own {self.mount_point} (a private mount namespace), "
                "scripts may use fixed /opt/ml/processing/... paths"
            )
        return (
            f"jobs: no private {self.mount_point} ({self.reason}); channel paths are mapped "
            "into each job's directory (CSM_ML_DIR): scripts must find their files through "
            "constructs_sm.runtime, fixed /opt/ml/processing/... paths will not exist"
        )


def probe(mount_point: Path = MOUNT_POINT, unshare: str = "unshare") -> Isolation:
    """Whether job processes can get a private ``mount_point``: tries it once."""
    if os.environ.get(ISOLATION_ENV) == "mapped":
        return Isolation(False, f"{ISOLATION_ENV}=mapped", mount_point)
    if not sys.platform.startswith("linux"):
        return Isolation(False, f"mount namespaces are Linux only, this is {sys.platform}")
    missing = [tool for tool in (unshare, "mount", "sh") if shutil.which(tool) is None]
    if missing:
        return Isolation(False, f"{', '.join(missing)} not found", mount_point)
    try:
        mount_point.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return Isolation(
            False, f"cannot create {mount_point}: {error.strerror or error}", mount_point
        )
    trial = Isolation(True, "", mount_point)
    with tempfile.TemporaryDirectory(prefix="csm-isolation-") as directory:
        (Path(directory) / _PROBE_FILE).write_text("ok")
        command = trial.wrap(["test", "-f", str(mount_point / _PROBE_FILE)], Path(directory))
        command[0] = unshare
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            return Isolation(False, f"{unshare} failed: {error}", mount_point)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return Isolation(False, f"no mount namespace: {detail}", mount_point)
    return trial


@functools.cache
def current() -> Isolation:
    """The isolation of this process's jobs (probed once)."""
    return probe()

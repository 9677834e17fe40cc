"""The offline engine's test deployment, shared by the tests/test_local_*.py modules.

One emulator and one deploy of tests/local_app/app.py (the example stack plus
ProbePipeline) per test session: the ``deployed`` fixture of tests/conftest.py. The
helpers run an execution to its end and read what it wrote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_sm.local import Emulator, processes
from constructs_sm.local.deploy import CdkDeployer, DeployedStack
from constructs_sm.local.runner import PipelineInfo, RunResult, find_pipelines, seed, start, watch

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Deployed:
    """The running emulator and the deployed pipelines, by name."""

    emulator: Emulator
    stacks: list[DeployedStack]
    pipelines: dict[str, PipelineInfo]
    #: The synthesized tests/local_app (a cloud assembly directory, for ``--app``).
    assembly: Path


@contextmanager
def deploy_local_app() -> Iterator[Deployed]:
    """Start the emulator, deploy tests/local_app once, seed the example's raw data."""
    with Emulator() as emulator:
        deployer = CdkDeployer(
            emulator, project_dir=ROOT, app=f"python {ROOT / 'tests' / 'local_app' / 'app.py'}"
        )
        assembly = deployer.synth(emulator.work_dir / "cdk.out")
        deployer.bootstrap(assembly)
        stacks = deployer.deploy(assembly)
        pipelines = {p.name: p for p in find_pipelines(emulator, stacks)}
        churn = pipelines["Churn"]
        seed(emulator, ROOT / "stacks" / "data" / "raw", f"s3://{churn.bucket}/data/raw/")
        yield Deployed(emulator, stacks, pipelines, assembly)


def run(deployed: Deployed, pipeline: str, params: dict[str, Any]) -> RunResult:
    """One execution, watched to its end."""
    info = deployed.pipelines[pipeline]
    arn, _ = start(deployed.emulator, info, params)
    return watch(deployed.emulator, info, arn, timeout=120)


def read_json(deployed: Deployed, pipeline: str, result: RunResult, path: str) -> Any:
    """A JSON file the run wrote, as ``<step>/<channel>/<name>`` (its key is
    ``<pipeline>/<step>/<channel>/<execution>/<name>``)."""
    info = deployed.pipelines[pipeline]
    step, channel, name = path.split("/", 2)
    s3 = deployed.emulator.client("s3")
    body = s3.get_object(
        Bucket=info.bucket, Key=info.key(result.execution_name, step, channel, name)
    )
    return json.loads(body["Body"].read())


def running_with(marker: str, where: str = "cmdline") -> list[int]:
    """The pids of live processes (zombies are not) with ``marker`` in their command line
    (``where="environ"``: in the environment they were started with)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            data = (entry / where).read_bytes()
        except OSError:
            continue
        if marker.encode() in data and processes.alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)

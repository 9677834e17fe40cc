"""The offline engine's test deployment, shared by the tests/test_local_*.py modules.

One emulator and one deploy of tests/local_app/app.py (the example stack plus
ProbePipeline) per test session: the ``deployed`` fixture of tests/conftest.py. The
helpers run an execution to its end and read what it wrote.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_sm.local import Emulator, processes
from constructs_sm.local.deploy import CdkDeployer, DeployedStack
from constructs_sm.local.runner import (
    PipelineInfo,
    RunResult,
    find_pipelines,
    list_tree,
    seed,
    start,
    watch,
)

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


def run_many(
    deployed: Deployed, pipeline: str, inputs: list[dict[str, Any]], timeout: float = 600
) -> list[RunResult]:
    """Start one execution per input at once, wait for them all (one ListExecutions call
    a second, so that the waiting does not load the emulator), then read their results."""
    info = deployed.pipelines[pipeline]
    arns = [start(deployed.emulator, info, params)[0] for params in inputs]
    sfn = deployed.emulator.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=info.state_machine_arn, statusFilter="RUNNING"
        )
        running = {e["executionArn"] for page in pages for e in page["executions"]}
        if not running & set(arns):
            break
        assert time.monotonic() < deadline, f"{len(running & set(arns))} still running"
        time.sleep(1.0)
    return [watch(deployed.emulator, info, arn, timeout=60) for arn in arns]


def run_keys(deployed: Deployed, pipeline: str, result: RunResult) -> list[str]:
    """The handoff keys of one execution, with its name replaced by ``<execution>``."""
    info = deployed.pipelines[pipeline]
    return sorted(
        f"{info.run_prefix}{key}".replace(result.execution_name, "<execution>")
        for key, _ in list_tree(deployed.emulator, info.bucket, info.run_prefix)
        if info.is_run_key(result.execution_name, info.run_prefix + key)
    )


def shared_keys(deployed: Deployed, pipeline: str, results: list[RunResult]) -> list[str]:
    """Keys under the pipeline's prefix that more than one of ``results`` would claim."""
    info = deployed.pipelines[pipeline]
    names = [result.execution_name for result in results]
    shared = []
    for key, _ in list_tree(deployed.emulator, info.bucket, info.run_prefix):
        owners = [name for name in names if info.is_run_key(name, info.run_prefix + key)]
        if len(owners) > 1:
            shared.append(key)
    return shared


def job_processes(emulator: Emulator) -> list[int]:
    """Live processes of the emulator's jobs (started with a TMPDIR below its work dir: each
    job's temporary files stay in its job directory, whether or not it has its own /opt/ml)."""
    return running_with(f"TMPDIR={emulator.work_dir}/", where="environ")


def machine_role(emulator: Emulator) -> str:
    """The ARN of a role for the tests' hand-written state machines (see :func:`_role`)."""
    return _role(emulator, "csm-test-state-machines", "states.amazonaws.com")


def job_role(emulator: Emulator) -> str:
    """The ARN of a role for the tests' hand-written processing jobs (see :func:`_role`)."""
    return _role(emulator, "csm-test-jobs", "sagemaker.amazonaws.com")


def _role(emulator: Emulator, name: str, service: str) -> str:
    """A role ``service`` may assume (for anything) that may do anything, created once.
    IAM is enforced in the emulator: a state machine or a job whose role does not exist,
    or does not trust its service, cannot call AWS."""
    client = emulator.client("iam")
    try:
        return str(client.get_role(RoleName=name)["Role"]["Arn"])
    except client.exceptions.NoSuchEntityException:
        pass
    trust = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return create_role(emulator, name, trust, {"Effect": "Allow", "Action": "*", "Resource": "*"})


def create_role(
    emulator: Emulator,
    name: str,
    trust: dict[str, Any],
    *statements: dict[str, Any],
    path: str = "/",
) -> str:
    """Create role ``name`` with one ``trust`` statement and an inline policy ``p`` of
    ``statements``; returns its ARN."""
    client = emulator.client("iam")
    arn = client.create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    client.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return str(arn)


def count_definition_parses(monkeypatch: Any) -> list[str]:
    """The definitions moto's parser is handed from now on (the engine's cache in
    ``constructs_sm.local.asl_fixes`` calls it once per new text), in order."""
    from constructs_sm.local import asl_fixes

    parsed: list[str] = []
    original = asl_fixes._original_parse
    assert original is not None

    def counting(definition: str) -> tuple[Any, Any]:
        parsed.append(definition)
        return original(definition)

    monkeypatch.setattr(asl_fixes, "_original_parse", counting)
    return parsed

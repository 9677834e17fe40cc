"""End to end: the example app and a probe app deployed with the cdk CLI into one emulator.

One emulator and one deploy for the module (tests/local_app/app.py: the example stack
plus ProbePipeline, whose scripts record what they received).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.sagemaker.models import sagemaker_backends

from constructs_sm.local import Emulator
from constructs_sm.local.deploy import CdkDeployer, DeployedStack
from constructs_sm.local.runner import (
    PipelineInfo,
    Progress,
    RunResult,
    find_pipelines,
    list_tree,
    seed,
    start,
    watch,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_cdk_cli_is_installed() -> None:
    """`make test` installs the pinned CLI; without it these tests would prove nothing."""
    assert shutil.which("npx") is not None
    assert (ROOT / "node_modules" / "aws-cdk").is_dir(), "run `make setup` (npm ci)"


@dataclass
class Deployed:
    """The running emulator and the deployed pipelines, by name."""

    emulator: Emulator
    stacks: list[DeployedStack]
    pipelines: dict[str, PipelineInfo]


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
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
        yield Deployed(emulator, stacks, pipelines)


def run(deployed: Deployed, pipeline: str, params: dict[str, Any]) -> RunResult:
    """One execution, watched to its end."""
    info = deployed.pipelines[pipeline]
    arn, _ = start(deployed.emulator, info, params)
    return watch(deployed.emulator, info, arn, timeout=120)


def read_json(deployed: Deployed, pipeline: str, result: RunResult, key: str) -> Any:
    """A JSON file below the run's prefix."""
    info = deployed.pipelines[pipeline]
    s3 = deployed.emulator.client("s3")
    body = s3.get_object(Bucket=info.bucket, Key=info.run_prefix(result.execution_name) + key)
    return json.loads(body["Body"].read())


def test_deploy_handles_every_bucket_policy_moto_skips(deployed: Deployed) -> None:
    churn = next(s for s in deployed.stacks if s.name == "ChurnPipeline")
    policies = {
        logical
        for logical, (rtype, _) in churn.resources.items()
        if rtype == "AWS::S3::BucketPolicy"
    }
    assert len(policies) == 2
    assert set(churn.api_created) | set(churn.not_created) == policies
    s3 = deployed.emulator.client("s3")
    for logical in churn.api_created:
        bucket = churn.resources[logical][1]
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert all("aws:SecureTransport" not in json.dumps(st) for st in policy["Statement"])


def test_example_pipeline_succeeds_with_typed_values(deployed: Deployed) -> None:
    bucket = deployed.pipelines["Churn"].bucket
    events: list[Progress] = []
    info = deployed.pipelines["Churn"]
    arn, _ = start(deployed.emulator, info, {"raw_uri": f"s3://{bucket}/data/raw/", "epochs": 20})
    result = watch(deployed.emulator, info, arn, on_progress=events.append, timeout=120)
    assert result.succeeded, result.cause
    assert {s: r.status for s, r in result.steps.items()} == dict.fromkeys(
        ("prepare", "profile", "train", "evaluate"), "Completed"
    )
    assert isinstance(result.steps["prepare"].values["rows"], int)
    assert result.steps["prepare"].values["rows"] == 240
    assert isinstance(result.steps["evaluate"].values["accuracy"], float)
    assert isinstance(result.steps["evaluate"].values["passed"], bool)
    assert [(e.step, e.status) for e in events if e.step == "prepare"] == [
        ("prepare", "InProgress"),
        ("prepare", "Completed"),
    ]
    document = result.to_json()
    assert set(document) == {"status", "error", "cause", "steps"}
    assert set(document["steps"]["train"]) == {"status", "job_name", "values", "outputs"}
    prefix = info.run_prefix(result.execution_name)
    assert document["steps"]["train"]["outputs"] == {"model": f"s3://{bucket}/{prefix}train/model/"}
    tree = dict(list_tree(deployed.emulator, bucket, prefix))
    assert {"prepare/train/train.csv", "train/model/model.json", "_run/params.json"} <= set(tree)


def test_scripts_see_typed_params_env_values_and_returned_values(deployed: Deployed) -> None:
    label = 'it\'s a "quoted"  string, with spaces'
    result = run(deployed, "Probe", {"count": 4, "ratio": 0.5, "flag": True, "label": label})
    assert result.succeeded, result.cause
    seen = read_json(deployed, "Probe", result, "first/data/seen.json")
    assert seen["params"] == {
        "count": [4, "int"],
        "ratio": [0.5, "float"],
        "flag": [True, "bool"],
        "label": [label, "str"],
        "sleep": [0.0, "float"],
        "fail": [False, "bool"],
    }
    assert seen["env"] == {
        "COUNT": [4, "int"],
        "RATIO": [0.5, "float"],
        "FLAG": [True, "bool"],
        "LABEL": [label, "str"],
        "LIT_INT": [7, "int"],
        "LIT_FLOAT": [2.5, "float"],
        "LIT_BOOL": [True, "bool"],
        "LIT_STR": ["x y 'z'", "str"],
    }
    assert result.steps["first"].values == {"n": 8, "x": 1.0, "ok": False, "s": label + "!"}
    for branch in ("left", "right"):
        branch_seen = read_json(deployed, "Probe", result, f"{branch}/seen/seen.json")
        assert branch_seen["env"] == {
            "N": [8, "int"],
            "X": [1.0, "float"],
            "OK": [False, "bool"],
            "S": [label + "!", "str"],
        }
        assert branch_seen["upstream_label"] == label


def test_parallel_branches_overlap_in_time(deployed: Deployed) -> None:
    result = run(deployed, "Probe", {"sleep": 1.0})
    assert result.succeeded, result.cause
    left, right = (result.steps[s].values for s in ("left", "right"))
    assert max(left["started"], right["started"]) < min(left["ended"], right["ended"])


def test_concurrent_executions_keep_their_prefixes_apart(deployed: Deployed) -> None:
    results: dict[str, RunResult] = {}

    def one(label: str) -> None:
        results[label] = run(deployed, "Probe", {"label": label, "sleep": 0.3})

    threads = [threading.Thread(target=one, args=(label,)) for label in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.succeeded for r in results.values())
    assert results["one"].execution_name != results["two"].execution_name
    for label, result in results.items():
        seen = read_json(deployed, "Probe", result, "left/seen/seen.json")
        assert seen["upstream_label"] == label
        assert result.steps["first"].values["s"] == label + "!"


def test_failing_script_fails_the_execution_and_keeps_completed_outputs(
    deployed: Deployed,
) -> None:
    result = run(deployed, "Probe", {"fail": True})
    assert result.status == "FAILED"
    assert result.error == "States.TaskFailed"
    assert result.steps["right"].status == "Failed"
    reason = result.steps["right"].failure_reason or ""
    assert "exited with code 1" in reason
    assert "probe failure: asked to fail" in reason
    assert "probe failure: asked to fail" in (result.cause or "")
    assert result.steps["first"].status == "Completed"
    assert read_json(deployed, "Probe", result, "first/data/seen.json")["params"]["fail"] == [
        True,
        "bool",
    ]


def test_bad_input_fails_before_any_job_is_created(deployed: Deployed) -> None:
    jobs = sagemaker_backends[deployed.emulator.account][deployed.emulator.region].processing_jobs
    before = set(jobs)
    result = run(deployed, "Probe", {"count": "three"})
    assert result.status == "FAILED"
    assert result.error == "InvalidParameters"
    assert "count" in (result.cause or "")
    assert set(jobs) == before
    assert all(step.status == "NotStarted" for step in result.steps.values())

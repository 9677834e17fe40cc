"""End to end: the example app and a probe app deployed with the cdk CLI into one emulator.

One emulator and one deploy for the session (the ``deployed`` fixture, see
tests/local_deployment.py: tests/local_app/app.py, the example stack plus ProbePipeline,
whose pipelines Probe and Silent record what they received or return nothing). The
command-line tests run ``python -m constructs_sm.local run``'s ``main`` in that emulator,
on the stacks deployed there.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.sagemaker.models import sagemaker_backends

from constructs_sm.local import Emulator, Fault, cli, deploy
from constructs_sm.local.cdk_cli import find_cdk
from constructs_sm.local.cfn_deploy import AssemblyDeployer
from constructs_sm.local.deploy import CdkDeployer, DeployError
from constructs_sm.local.isolation import current as current_isolation
from constructs_sm.local.runner import (
    Progress,
    RunResult,
    list_tree,
    seed,
    start,
    watch,
)
from constructs_sm.retries import CAPACITY_CAPS, RetryScope, failure_states
from tests.assemblies import stacks_output, write_assembly
from tests.local_deployment import (
    ROOT,
    Deployed,
    count_definition_parses,
    machine_role,
    read_json,
    run,
)

#: The keys of each step in the --json line.
STEP_KEYS = {"status", "job_name", "values", "outputs", "failure_reason", "log_tail"}
#: moto warns about the resource types it skips each time it parses a stack's template
#: (the deployer handles them; see constructs_sm.local.deploy).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")


def test_the_cdk_cli_is_installed() -> None:
    """`make test` installs the pinned CLI; without it these tests would prove nothing."""
    assert shutil.which("npx") is not None
    assert (ROOT / "node_modules" / "aws-cdk").is_dir(), "run `make setup` (npm ci)"


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
    # A step is reported ended before the steps its end lets start are reported started.
    order = [(e.step, e.status) for e in events]
    for before, after in (("prepare", "train"), ("prepare", "profile"), ("train", "evaluate")):
        assert order.index((before, "Completed")) < order.index((after, "InProgress")), order
    # Each step's result in the state locates its job's CloudWatch log streams.
    for step, report in result.steps.items():
        located = result.output["steps"][step]
        assert located["job_name"] == report.job_name
        assert located["log_group"] == "/aws/sagemaker/ProcessingJobs"
        assert located["log_stream_prefix"] == f"{report.job_name}/"
    document = result.to_json()
    assert set(document) == {"status", "error", "cause", "execution_cause", "execution", "steps"}
    assert set(document["steps"]["train"]) == STEP_KEYS
    execution = result.execution_name
    assert document["steps"]["train"]["outputs"] == {
        "model": f"s3://{bucket}/Churn/train/model/{execution}/"
    }
    tree = dict(list_tree(deployed.emulator, bucket, "Churn/"))
    assert {
        f"prepare/train/{execution}/train.csv",
        f"train/model/{execution}/model.json",
        f"_run/params/{execution}/params.json",
    } <= set(tree)


def test_scripts_see_typed_params_env_values_and_returned_values(deployed: Deployed) -> None:
    label = 'it\'s a "quoted"  string, with spaces'
    result = run(deployed, "Probe", {"count": 4, "ratio": 0.5, "flag": True, "label": label})
    assert result.succeeded, result.cause
    seen = read_json(deployed, "Probe", result, "first/data/seen.json")
    assert seen["credentials"] == [], "a job with network isolation gets no AWS keys"
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


def test_integral_doubles_are_integers_and_fractions_are_refused(deployed: Deployed) -> None:
    result = run(deployed, "Probe", {"count": 4.0})
    assert result.succeeded, result.cause
    # The state machine normalises 4.0 to 4 before the params file and the environment.
    assert read_json(deployed, "Probe", result, "_run/params/params.json")["count"] == 4
    seen = read_json(deployed, "Probe", result, "first/data/seen.json")
    assert seen["params"]["count"] == [4, "int"] and seen["env"]["COUNT"] == [4, "int"]
    refused = run(deployed, "Probe", {"count": 4.5})
    assert (refused.status, refused.error) == ("FAILED", "InvalidParameters")
    assert "parameter 'count' must be an integer" in (refused.cause or "")


def test_every_host_of_a_job_returns_values(deployed: Deployed) -> None:
    """Two hosts, one file each: values emitted by one host, or by both alike, are kept."""
    result = run(deployed, "Hosts", {})
    assert result.succeeded, result.cause
    assert result.steps["pair"].values == {"n": 1, "leader": "algo-1"}
    refused = run(deployed, "Hosts", {"disagree": True})
    assert (refused.status, refused.error) == ("FAILED", "InvalidReturnValues")
    cause = refused.cause or ""
    assert "hosts returned different values" in cause
    assert '"host":"algo-1"' in cause.replace(" ", "") and '"host":"algo-2"' in cause.replace(
        " ", ""
    )
    # The values the state machine refused are not shown as returned.
    assert refused.steps["pair"].status == "Completed"
    assert refused.steps["pair"].values == {}


# -- aborted branches ------------------------------------------------------------------


def _pid(deployed: Deployed, job_name: str) -> int:
    log = deployed.emulator.work_dir / "jobs" / job_name / "logs" / "stdout.log"
    match = re.search(r"pid=(\d+)", log.read_text())
    assert match, log.read_text()
    return int(match.group(1))


def test_a_failed_branch_stops_its_sibling_job_and_kills_its_process(deployed: Deployed) -> None:
    """As on AWS: the Parallel state fails, the sibling's .sync task is aborted and its
    job stopped (StopProcessingJob): Stopped, its process gone, long before it would end."""
    begin = time.monotonic()
    result = run(deployed, "Probe", {"fail": True, "sleep": 60.0})
    assert result.status == "FAILED"
    assert result.error == "States.TaskFailed"
    assert result.steps["right"].status == "Failed"
    assert result.steps["left"].status == "Stopped"
    assert time.monotonic() - begin < 30
    job = result.steps["left"].job_name
    assert job is not None
    pid = _pid(deployed, job)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    sagemaker = deployed.emulator.client("sagemaker")
    described = sagemaker.describe_processing_job(ProcessingJobName=job)
    assert described["ProcessingJobStatus"] == "Stopped"
    assert "ProcessingEndTime" in described


# -- return values ---------------------------------------------------------------------


def _task_errors(deployed: Deployed, result: RunResult) -> list[str]:
    sfn = deployed.emulator.client("stepfunctions")
    history = sfn.get_execution_history(executionArn=result.execution_arn, maxResults=1000)
    return [
        str(event["taskFailedEventDetails"].get("error"))
        for event in history["events"]
        if event["type"] == "TaskFailed"
    ]


def test_a_step_that_emits_nothing_fails_with_invalid_return_values(deployed: Deployed) -> None:
    result = run(deployed, "Silent", {})
    assert result.status == "FAILED"
    assert result.error == "InvalidReturnValues", result.cause
    assert re.search(r"\bx\b", result.cause or ""), result.cause
    assert result.steps["silent"].status == "Completed"


def test_a_script_removing_its_returns_still_leaves_a_readable_exit_message(
    deployed: Deployed,
) -> None:
    """The launcher writes the ExitMessage when the script ends: removing the files
    fails the step with InvalidReturnValues, not with an unreadable ExitMessage."""
    result = run(deployed, "Silent", {"mode": "erase"})
    assert result.status == "FAILED"
    assert result.error == "InvalidReturnValues", result.cause
    assert result.cause == (
        "step 'silent' did not return 'x' (an integer): the script must call runtime.emit(x=...)"
    )


# -- the command line ------------------------------------------------------------------


@dataclass
class CliRun:
    """What one ``main(argv)`` call returned and printed."""

    code: int
    out: str
    document: dict[str, Any]


def cli_run(deployed: Deployed, *argv: str) -> CliRun:
    """``python -m constructs_sm.local run --json ...`` in the module's emulator."""
    out = io.StringIO()
    code = cli.main(["run", "--json", *argv], out=out, emulator=deployed.emulator)
    text = out.getvalue()
    return CliRun(code, text, json.loads(text.strip().splitlines()[-1]))


@pytest.fixture
def example_args(deployed: Deployed) -> list[str]:
    """``--app`` (the app as deployed: its example stack is used as it is), ``--stack`` and
    ``--data`` of the example."""
    return [
        "--app",
        str(deployed.assembly),
        "--stack",
        "ChurnPipeline",
        "--data",
        f"{ROOT / 'stacks' / 'data' / 'raw'}=s3://{{bucket}}/data/raw/",
    ]


def test_cli_runs_the_example_app(deployed: Deployed, example_args: list[str]) -> None:
    ran = cli_run(deployed, *example_args, "--input", '{"raw_uri": "s3://{bucket}/data/raw/"}')
    assert ran.code == 0, ran.out
    document = ran.document
    assert set(document) == {"status", "error", "cause", "execution_cause", "execution", "steps"}
    assert document["status"] == "SUCCEEDED"
    assert set(document["steps"]) == {"prepare", "profile", "train", "evaluate"}
    bucket = deployed.pipelines["Churn"].bucket
    for step, report in document["steps"].items():
        assert set(report) == STEP_KEYS
        assert (report["failure_reason"], report["log_tail"]) == (None, [])
        assert report["status"] == "Completed"
        assert isinstance(report["job_name"], str) and report["job_name"]
        assert isinstance(report["values"], dict) and report["values"], step
        for uri in report["outputs"].values():
            assert uri.startswith(f"s3://{bucket}/Churn/")
    assert document["steps"]["prepare"]["values"]["rows"] == 240
    assert isinstance(document["steps"]["evaluate"]["values"]["passed"], bool)
    assert (
        "ChurnPipeline: deployed in this emulator from the same template: not deployed again"
        in (ran.out)
    )
    # --app names an assembly: the run says it was not synthesized again
    assert f"(--app {deployed.assembly} is a synthesized assembly, taken as it is" in ran.out
    assert "bootstrapped" not in ran.out and "deployed ChurnPipeline in" not in ran.out
    assert "execution SUCCEEDED" in ran.out
    # Which /opt/ml the jobs get is said (here, as root: a private one each).
    assert current_isolation().describe() in ran.out


def test_cli_reports_invalid_parameters(deployed: Deployed, example_args: list[str]) -> None:
    ran = cli_run(
        deployed, *example_args, "--input", '{"raw_uri": "s3://{bucket}/data/raw/", "epochs": 0}'
    )
    assert ran.code != 0
    assert ran.document["status"] == "FAILED"
    assert ran.document["error"] == "InvalidParameters"
    assert "epochs" in ran.document["cause"]
    assert all(step["status"] == "NotStarted" for step in ran.document["steps"].values())


def test_cli_refuses_undeclared_input_keys_before_starting(
    deployed: Deployed, example_args: list[str]
) -> None:
    sfn = deployed.emulator.client("stepfunctions")
    arn = deployed.pipelines["Churn"].state_machine_arn
    before = len(sfn.list_executions(stateMachineArn=arn)["executions"])
    ran = cli_run(
        deployed, *example_args, "--input", '{"raw_uri": "s3://{bucket}/data/raw/", "epoch": 5}'
    )
    assert ran.code == cli.EXIT_FAILED
    assert ran.document == {
        "status": cli.STATUS_ERROR,
        "error": "InvalidParameters",
        "cause": ran.document["cause"],
        "steps": {},
    }
    cause = ran.document["cause"]
    assert "'epoch'" in cause
    for declared in ("raw_uri", "epochs", "learning_rate", "min_accuracy"):
        assert declared in cause
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == before


@pytest.mark.parametrize(
    ("argv", "error", "words"),
    [
        (["--stack", "NoSuchStack"], "UnknownStack", ["NoSuchStack", "ChurnPipeline"]),
        (["--stack", "ChurnPipeline", "--pipeline", "Nope"], "PipelineChoiceError", ["Nope"]),
    ],
)
def test_cli_errors_end_with_the_json_line(
    deployed: Deployed, argv: list[str], error: str, words: list[str]
) -> None:
    ran = cli_run(deployed, "--app", str(deployed.assembly), *argv)
    assert ran.code == cli.EXIT_FAILED
    assert ran.document["status"] == cli.STATUS_ERROR
    assert ran.document["error"] == error
    assert ran.document["steps"] == {}
    for word in words:
        assert word in ran.document["cause"]


def test_cli_deploy_failure_ends_with_the_json_line(deployed: Deployed) -> None:
    ran = cli_run(deployed, "--app", "python -c 'raise SystemExit(3)'", "--project-dir", str(ROOT))
    assert ran.code == cli.EXIT_FAILED
    assert ran.document["status"] == cli.STATUS_ERROR
    assert ran.document["error"] == "DeployError"
    assert "synth" in ran.document["cause"]


@pytest.fixture
def probe_args(deployed: Deployed) -> list[str]:
    """``--app`` (tests/local_app as deployed), ``--stack`` and ``--pipeline`` of Probe."""
    assembly = deployed.emulator.work_dir / "cdk.out"
    return ["--app", str(assembly), "--stack", "ProbePipeline", "--pipeline", "Probe"]


def test_cli_shows_the_failed_jobs_reason_and_the_end_of_its_log(
    deployed: Deployed, probe_args: list[str]
) -> None:
    ran = cli_run(deployed, *probe_args, "--input", '{"fail": true}')
    assert ran.code == cli.EXIT_FAILED
    document = ran.document
    assert (document["status"], document["error"]) == ("FAILED", "States.TaskFailed")
    right = document["steps"]["right"]
    reason = right["failure_reason"]
    # the first line, what a report shows, ends with the script's error (stderr's last line)
    first = reason.splitlines()[0]
    assert first == "AlgorithmError: process exited with code 1: probe failure: asked to fail"
    # The cause is what a person acts on; the whole job description stays available.
    assert document["cause"] == reason
    assert json.loads(document["execution_cause"])["FailureReason"] == reason
    log = deployed.emulator.work_dir / "jobs" / right["job_name"] / "logs" / "stderr.log"
    whole_lines = log.read_text().splitlines()
    assert right["log_tail"] and right["log_tail"][-1] == "probe failure: asked to fail"
    assert all(line in whole_lines for line in right["log_tail"])
    human = "\n".join(ran.out.splitlines()[:-1])  # the report before the --json line
    assert f"step right failed (job {right['job_name']}):" in human
    assert "\n  AlgorithmError: process exited with code 1" in human
    assert "\n  | probe failure: asked to fail" in human
    assert "the job's files and logs:" in human
    assert "ProcessingJobArn" not in human  # no DescribeProcessingJob document


def test_cli_fills_only_the_bucket_of_s3_uris(deployed: Deployed, probe_args: list[str]) -> None:
    """``s3://{{bucket}}`` writes ``s3://{bucket}``; a ``{bucket}`` elsewhere is text."""
    label = "s3://{{bucket}}/k {bucket}"
    ran = cli_run(deployed, *probe_args, "--input", json.dumps({"label": label}))
    assert ran.code == 0, ran.out
    assert ran.document["steps"]["first"]["values"]["s"] == "s3://{bucket}/k {bucket}!"


@pytest.mark.parametrize(
    ("given", "messages"),
    [
        (
            '{"count": 10000000.0, "ratio": NaN, "sleep": 1e400, "label": "a\\u0000b"}',
            [
                "parameter 'count' must be an integer written without a fraction, got "
                "10000000.0 (Step Functions prints",
                "parameter 'ratio' must be a finite number, got nan",
                "parameter 'sleep' must be a finite number, got inf",
                "parameter 'label' must not contain the NUL character",
            ],
        ),
        ('{"label": "%s"}' % ("x" * 65), ["parameter 'label' must be at most 64 characters"]),
    ],
)
def test_cli_refuses_values_an_execution_input_cannot_carry(
    deployed: Deployed, probe_args: list[str], given: str, messages: list[str]
) -> None:
    sfn = deployed.emulator.client("stepfunctions")
    arn = deployed.pipelines["Probe"].state_machine_arn
    before = len(sfn.list_executions(stateMachineArn=arn)["executions"])
    ran = cli_run(deployed, *probe_args, "--input", given)
    assert ran.code == cli.EXIT_FAILED
    assert ran.document["status"] == cli.STATUS_ERROR
    assert ran.document["error"] == "InvalidParameters"
    assert ran.document["cause"].startswith("--input: parameter")
    for message in messages:
        assert message in ran.document["cause"]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == before


# -- deploying without the cdk CLI -------------------------------------------------------


def test_the_built_in_deployer_publishes_assets_and_deploys_in_dependency_order(
    deployed: Deployed, tmp_path: Path
) -> None:
    assembly = write_assembly(tmp_path)
    lines: list[str] = []
    deployer = AssemblyDeployer(deployed.emulator, project_dir=tmp_path, log=lines.append)
    deployer.bootstrap(assembly)
    stacks = deployer.deploy(assembly, ["CsmAsmTop"])
    assert [s.name for s in stacks] == ["CsmAsmTop"]
    emulator = deployed.emulator
    cloudformation = emulator.client("cloudformation")
    for name in ("CsmAsmBase", "CsmAsmTop"):
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        assert status == "CREATE_COMPLETE"
    ssm = emulator.client("ssm")
    assert ssm.get_parameter(Name="/cdk-bootstrap/csmtest/version")["Parameter"]["Value"] == "6"
    # Top imports Base's export: Base was deployed first.
    base_bucket = stacks_output(cloudformation, "CsmAsmBase", "BucketName")
    assert ssm.get_parameter(Name="/csmtest/base-bucket")["Parameter"]["Value"] == base_bucket
    s3 = emulator.client("s3")
    staging = f"cdk-csmtest-assets-{emulator.account}-{emulator.region}"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=staging)["Contents"]}
    assert {"base.json", "top.json", "nested.json", "dir.zip", "generated.txt"} <= keys
    nested = [
        s["StackName"]
        for s in cloudformation.describe_stacks()["Stacks"]
        if s["StackName"].startswith("CsmAsmBase-Nested")
    ]
    assert len(nested) == 1
    nested_resources = cloudformation.describe_stack_resources(StackName=nested[0])
    assert [r["ResourceType"] for r in nested_resources["StackResources"]] == ["AWS::SQS::Queue"]
    zipped = s3.get_object(Bucket=staging, Key="dir.zip")["Body"].read()
    archive = zipfile.ZipFile(io.BytesIO(zipped))
    assert sorted(archive.namelist()) == ["a.txt", "sub/b.txt"]
    assert s3.get_object(Bucket=staging, Key="generated.txt")["Body"].read() == b"generated\n"
    assert "2 Docker image asset(s) not built" not in lines[-1]
    assert "1 Docker image asset(s) not built" in lines[-1]
    # Again: nothing to upload, nothing to update.
    deployer.deploy(assembly, ["CsmAsmTop"])
    assert "(0 file asset(s) uploaded" in lines[-1]


def test_the_built_in_deployer_reports_a_failed_stack(deployed: Deployed, tmp_path: Path) -> None:
    assembly = write_assembly(tmp_path, broken=True)
    deployer = AssemblyDeployer(deployed.emulator, project_dir=tmp_path)
    deployer.bootstrap(assembly)
    with pytest.raises(DeployError, match="CsmAsmBroken"):
        deployer.deploy(assembly, ["CsmAsmBroken"])


@pytest.mark.parametrize("with_cli", [False, True])
def test_stacks_with_custom_resources_are_refused_without_docker(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_cli: bool
) -> None:
    """moto runs a custom resource's Lambda function in Docker: without a daemon the
    stack would stay CREATE_IN_PROGRESS, so it is refused at once, naming them."""
    assembly = write_assembly(tmp_path)
    template = json.loads((assembly / "Base.template.json").read_text())
    template["Resources"]["Cleanup"] = {"Type": "Custom::Cleanup", "Properties": {}}
    (assembly / "Base.template.json").write_text(json.dumps(template))
    monkeypatch.setattr(deploy, "docker_daemon", lambda: False)
    deployer: deploy.Deployer = (
        CdkDeployer(deployed.emulator, project_dir=ROOT)
        if with_cli
        else AssemblyDeployer(deployed.emulator, project_dir=tmp_path)
    )
    with pytest.raises(DeployError, match=r"custom resources \(Cleanup \(Custom::Cleanup\)\)"):
        deployer.deploy(assembly, ["CsmAsmBase"])


@pytest.mark.parametrize(
    ("app", "cdk_json", "match"),
    [
        ("python -c 'raise SystemExit(3)'", False, r"synth: the app .* failed \(3\)"),
        ("true", False, "wrote no cloud assembly .* app.synth"),
        (None, False, "has no cdk.json; run the command in your CDK project folder"),
        (None, True, 'has no "app" command'),
    ],
)
def test_the_built_in_synth_says_what_is_wrong(
    deployed: Deployed, tmp_path: Path, app: str | None, cdk_json: bool, match: str
) -> None:
    if cdk_json:
        (tmp_path / "cdk.json").write_text('{"context": {}}')
    deployer = AssemblyDeployer(deployed.emulator, project_dir=tmp_path, app=app)
    with pytest.raises(DeployError, match=match):
        deployer.synth(tmp_path / "cdk.out")


@pytest.mark.parametrize("with_cli", [False, True])
def test_an_app_naming_no_assembly_and_no_command_is_refused_before_it_runs(
    deployed: Deployed, tmp_path: Path, with_cli: bool
) -> None:
    """``--app cdk.out`` before any synth: the shell would say "cdk.out: not found"."""
    empty = tmp_path / "empty.out"
    empty.mkdir()
    cases = {
        "gone.out": r"no such cloud assembly directory \(\S+/gone\.out or "
        + re.escape(f"{tmp_path.resolve()}/gone.out)"),
        str(tmp_path / "cdk.out"): "no such cloud assembly directory .* and no such command",
        str(empty): "is a directory without manifest.json, not a cloud assembly",
    }
    for app, match in cases.items():
        deployer: deploy.Deployer = (
            CdkDeployer(deployed.emulator, project_dir=tmp_path, app=app, cdk=find_cdk(ROOT))
            if with_cli
            else AssemblyDeployer(deployed.emulator, project_dir=tmp_path, app=app)
        )
        with pytest.raises(DeployError, match=match):
            deployer.synth(tmp_path / "out")


def test_the_cli_does_not_bootstrap_over_a_deploy_without_it(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A staging bucket without the CDKToolkit stack (a run with --cdk none deployed into
    this emulator): the CLI's bootstrap would fail "bucket name is not available" and
    leave CDKToolkit ROLLBACK_COMPLETE; the deployer says what happened instead."""
    deployer = CdkDeployer(deployed.emulator, project_dir=tmp_path, cdk=find_cdk(ROOT))
    monkeypatch.setattr(deploy, "stack_status", lambda emulator, name: None)
    monkeypatch.setattr(deployer, "_cdk", lambda *args: pytest.fail("cdk bootstrap ran"))
    with pytest.raises(DeployError, match=r"without the CDKToolkit stack .* --cdk none"):
        deployer.bootstrap(tmp_path)


def test_an_assembly_named_from_the_project_folder_is_found(
    deployed: Deployed, tmp_path: Path
) -> None:
    """``--project-dir X --app built.out`` run from another folder: X/built.out."""
    (tmp_path / "built.out").mkdir()
    (tmp_path / "built.out" / "manifest.json").write_text('{"version": "55.0.0", "artifacts": {}}')
    assert not Path("built.out").exists()  # not in the current folder
    deployer = AssemblyDeployer(deployed.emulator, project_dir=tmp_path, app="built.out")
    assert deployer.synth(tmp_path / "out") == (tmp_path / "built.out").resolve()


def test_the_built_in_synth_gives_the_app_the_clis_environment(
    deployed: Deployed, tmp_path: Path
) -> None:
    """The app gets CDK_OUTDIR, the context of cdk.json and cdk.context.json, and the
    emulator's account and region, as the CLI gives them."""
    (tmp_path / "cdk.json").write_text(
        json.dumps({"app": "python record.py", "context": {"from-cdk-json": 1, "both": "json"}})
    )
    (tmp_path / "cdk.context.json").write_text(json.dumps({"both": "context"}))
    (tmp_path / "record.py").write_text(
        "import json, os, pathlib\n"
        "out = pathlib.Path(os.environ['CDK_OUTDIR'])\n"
        "seen = {k: os.environ[k] for k in ('CDK_CONTEXT_JSON', 'CDK_DEFAULT_ACCOUNT', "
        "'CDK_DEFAULT_REGION', 'AWS_ENDPOINT_URL')}\n"
        "(out / 'seen.json').write_text(json.dumps(seen))\n"
        '(out / \'manifest.json\').write_text(\'{"version": "55.0.0", "artifacts": {}}\')\n'
    )
    deployer = AssemblyDeployer(deployed.emulator, project_dir=tmp_path)
    out = deployer.synth(tmp_path / "out")
    seen = json.loads((out / "seen.json").read_text())
    context = json.loads(seen["CDK_CONTEXT_JSON"])
    assert context["from-cdk-json"] == 1 and context["both"] == "context"
    assert context["aws:cdk:enable-path-metadata"] is True
    assert seen["CDK_DEFAULT_ACCOUNT"] == deployed.emulator.account
    assert seen["CDK_DEFAULT_REGION"] == deployed.emulator.region
    assert seen["AWS_ENDPOINT_URL"] == deployed.emulator.endpoint


# -- AWS's errors, injected: each retry path of constructs_sm.retries --------------------


@pytest.fixture
def fast(deployed: Deployed) -> Iterator[Emulator]:
    """The emulator with Wait states and Retry intervals 1000x shorter, no faults left."""
    emulator = deployed.emulator
    emulator.time_scale = 0.001
    yield emulator
    emulator.time_scale = 1.0
    emulator.faults.faults.clear()


def _history(emulator: Emulator, result: RunResult) -> list[dict[str, Any]]:
    pages = emulator.client("stepfunctions").get_paginator("get_execution_history")
    return [e for page in pages.paginate(executionArn=result.execution_arn) for e in page["events"]]


def _entered(events: list[dict[str, Any]], state: str) -> int:
    return sum(
        1
        for event in events
        if event["type"].endswith("StateEntered")
        and event["stateEnteredEventDetails"]["name"] == state
    )


def _run_to_end(sfn: Any, machine_arn: str) -> dict[str, Any]:
    """Start an execution of a hand-written state machine and wait for its end."""
    arn = sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.1)
    return dict(described)


def _jobs_of(deployed: Deployed, pipeline: str, step: str) -> list[Any]:
    jobs = sagemaker_backends[deployed.emulator.account][deployed.emulator.region].processing_jobs
    return [
        job
        for job in jobs.values()
        if (getattr(job, "environment", None) or {}).get("CSM_STEP") == step
        and (getattr(job, "environment", None) or {}).get("CSM_PIPELINE") == pipeline
    ]


def test_a_definition_hosted_in_s3_is_created_with_its_substitutions(deployed: Deployed) -> None:
    """The probe stack's definitions are file assets (DefinitionS3Location): CloudFormation
    offline reads the object and fills the placeholders, as it does on AWS."""
    template = json.loads(
        (deployed.emulator.work_dir / "cdk.out" / "ProbePipeline.template.json").read_text()
    )
    machines = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    assert machines and all("DefinitionS3Location" in m for m in machines)
    sfn = deployed.emulator.client("stepfunctions")
    described = sfn.describe_state_machine(
        stateMachineArn=deployed.pipelines["Probe"].state_machine_arn
    )
    definition = json.loads(described["definition"])
    role = definition["States"]["Run first"]["Parameters"]["RoleArn"]
    assert role.startswith(f"arn:aws:iam::{deployed.emulator.account}:role/")
    assert "${" not in described["definition"]


def test_throttled_calls_are_retried_with_backoff(deployed: Deployed, fast: Emulator) -> None:
    fault = fast.inject(Fault("throttling", step="first", times=2))
    result = run(deployed, "Probe", {})
    assert result.succeeded, result.cause
    assert fault.fired == 2
    events = _history(fast, result)
    # The scope's shared states back off, then run the failed step's task again.
    assert _entered(events, RetryScope().throttled) == 2
    assert _entered(events, "Retry first") == 2
    assert _entered(events, "Run first") == 3
    failures = [e for e in events if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == [
        "SageMaker.AmazonSageMakerException"
    ] * 2
    assert "Error Code: ThrottlingException" in failures[0]["taskFailedEventDetails"]["cause"]


def test_a_throttled_call_in_a_parallel_branch_is_retried_there(
    deployed: Deployed, fast: Emulator
) -> None:
    """Each branch has its own shared retry states; the retry runs the branch's step."""
    fault = fast.inject(Fault("throttling", step="left", times=1))
    result = run(deployed, "Probe", {})
    assert result.succeeded, result.cause
    assert fault.fired == 1
    events = _history(fast, result)
    backed_off = [
        e["stateEnteredEventDetails"]["name"]
        for e in events
        if e["type"].endswith("StateEntered")
        and e["stateEnteredEventDetails"]["name"].startswith("Back off")
    ]
    assert len(backed_off) == 1 and backed_off[0].startswith("Back off (branch ")
    assert _entered(events, "Retry left") == 1
    assert (_entered(events, "Run left"), _entered(events, "Run right")) == (2, 1)


def test_a_rejected_request_is_not_retried(deployed: Deployed, fast: Emulator) -> None:
    fast.inject(Fault("validation", step="first"))
    result = run(deployed, "Probe", {})
    assert (result.status, result.error) == ("FAILED", "SageMaker.AmazonSageMakerException")
    assert "Error Code: ValidationException" in (result.cause or "")
    events = _history(fast, result)
    assert _entered(events, "Run first") == 1
    assert _entered(events, RetryScope().throttled) == 0
    assert _entered(events, "Retry first") == 0


def test_a_quota_error_is_retried_by_the_tasks_retrier(deployed: Deployed, fast: Emulator) -> None:
    fault = fast.inject(Fault("resource_limit", step="first"))
    result = run(deployed, "Probe", {})
    assert result.succeeded, result.cause
    assert fault.fired == 1
    events = _history(fast, result)
    # The Retrier runs the same state again (no re-entry), the job name hashes RetryCount.
    assert _entered(events, "Run first") == 1
    errors = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert errors == ["SageMaker.ResourceLimitExceededException"]


def test_a_capacity_failure_runs_a_new_job(deployed: Deployed, fast: Emulator) -> None:
    fast.inject(Fault("job_failure", step="first", reason="CapacityError: no ml.m5.xlarge"))
    before = {job.processing_job_name for job in _jobs_of(deployed, "Probe", "first")}
    result = run(deployed, "Probe", {})
    assert result.succeeded, result.cause
    jobs = [j for j in _jobs_of(deployed, "Probe", "first") if j.processing_job_name not in before]
    assert sorted(j.processing_job_status for j in jobs) == ["Completed", "Failed"]
    assert len({j.processing_job_name for j in jobs}) == 2, "the retry has a new job name"
    events = _history(fast, result)
    assert _entered(events, RetryScope().capacity) == 1
    assert _entered(events, "Retry first") == 1


def test_a_fan_out_item_retried_after_a_capacity_failure_is_not_a_failed_item(
    deployed: Deployed, fast: Emulator
) -> None:
    """Its first job failed, its retry completed: the step has 2 items, none failed."""
    fast.inject(Fault("job_failure", step="per_region", reason="CapacityError: no capacity"))
    result = run(deployed, "Fan", {"regions": ["eu", "us"], "parts": 1})
    assert result.succeeded, result.cause
    step = result.steps["per_region"]
    assert (step.status, step.items, step.failed_items, step.failures) == ("Completed", 2, 0, [])
    assert step.job_name is not None and step.job_name.endswith("(3 jobs)")


@pytest.mark.parametrize("reason", ["AlgorithmError: exit code 1", "ClientError: bad input"])
def test_a_job_failing_for_its_code_is_not_retried(
    deployed: Deployed, fast: Emulator, reason: str
) -> None:
    fast.inject(Fault("job_failure", step="first", reason=reason))
    result = run(deployed, "Probe", {})
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert reason in (result.cause or "")
    assert _entered(_history(fast, result), "Run first") == 1


def test_transient_failures_stop_after_their_attempts(deployed: Deployed, fast: Emulator) -> None:
    fast.inject(Fault("job_failure", step="first", reason="InternalServerError: oops", times=9))
    result = run(deployed, "Probe", {})
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert _entered(_history(fast, result), "Run first") == 1 + len(CAPACITY_CAPS)


def test_an_error_without_a_cause_keeps_its_name(deployed: Deployed) -> None:
    """The Fail states never lose the original error, even when it has no cause."""
    sfn = deployed.emulator.client("stepfunctions")
    definition = {
        "StartAt": "Raise",
        "States": {
            "Raise": {
                "Type": "Pass",
                "Result": {"Error": "Custom.NoCause"},
                "ResultPath": "$.error",
                "Next": "step failed",
            },
            **failure_states("step failed"),
        },
    }
    machine = sfn.create_state_machine(
        name="no-cause",
        definition=json.dumps(definition),
        roleArn=machine_role(deployed.emulator),
    )
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn["executionArn"]))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (described["status"], described.get("error")) == ("FAILED", "Custom.NoCause")
    assert not described.get("cause")


def test_an_execution_starts_from_the_program_its_creation_parsed(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto parses a definition when the state machine is created and again when each
    execution starts; the engine keeps the first (constructs_sm.local.asl_fixes)."""
    parsed = count_definition_parses(monkeypatch)
    sfn = deployed.emulator.client("stepfunctions")
    definition = json.dumps(
        {
            "Comment": f"parsed once {time.time_ns()}",
            "StartAt": "Twice",
            "States": {
                "Twice": {
                    "Type": "Pass",
                    "Parameters": {"n.$": "States.MathAdd($.n, $.n)"},
                    "End": True,
                }
            },
        }
    )
    machine = sfn.create_state_machine(
        name=f"parsed-once-{time.time_ns()}", definition=definition,
        roleArn=machine_role(deployed.emulator),
    )  # fmt: skip
    outputs = []
    for n in (1, 2):
        arn = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], name=f"n{n}", input=json.dumps({"n": n})
        )["executionArn"]
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        outputs.append(json.loads(described["output"]))
    assert outputs == [{"n": 2}, {"n": 4}]
    assert parsed == [definition]


def test_the_engine_rejects_requests_sagemaker_would_reject(deployed: Deployed) -> None:
    """The strict validator runs in the engine: a FastFile input fails as on AWS."""
    sfn = deployed.emulator.client("stepfunctions")
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {
            "ProcessingJobName": "strict-check-1",
            "RoleArn": f"arn:aws:iam::{deployed.emulator.account}:role/job",
            "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3"]},
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.xlarge",
                    "VolumeSizeInGB": 1,
                }
            },
            "ProcessingInputs": [
                {
                    "InputName": "in",
                    "S3Input": {
                        "S3Uri": "s3://b/k/",
                        "LocalPath": "/opt/ml/processing/input/in",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "FastFile",
                    },
                }
            ],
        },
        "End": True,
    }
    machine = sfn.create_state_machine(
        name="strict",
        definition=json.dumps({"StartAt": "Job", "States": {"Job": task}}),
        roleArn=machine_role(deployed.emulator),
    )
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn["executionArn"]))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert described.get("error") == "SageMaker.AmazonSageMakerException"
    cause = described.get("cause", "")
    assert "at 'processingInputs.1.member.s3Input.s3InputMode'" in cause
    assert "Member must satisfy enum value set: [Pipe, File]" in cause
    assert "Error Code: ValidationException" in cause


# -- fan-out (a Distributed Map per for_each step) ------------------------------------------


def _item_records(deployed: Deployed, result: RunResult, step: str) -> list[dict[str, Any]]:
    """Each item's ``out/<index>/item.json`` of a fan-out step, by index."""
    info = deployed.pipelines["Fan"]
    prefix = info.key(result.execution_name, step, "out", "")
    s3 = deployed.emulator.client("s3")
    listed = s3.list_objects_v2(Bucket=info.bucket, Prefix=prefix).get("Contents", [])
    records = [
        json.loads(s3.get_object(Bucket=info.bucket, Key=item["Key"])["Body"].read())
        for item in listed
        if item["Key"].endswith("/item.json")
    ]
    keys = sorted(item["Key"][len(prefix) :] for item in listed)
    assert keys == [f"{r['index']}/item.json" for r in sorted(records, key=lambda r: r["index"])]
    return sorted(records, key=lambda r: r["index"])


def test_fan_out_runs_one_job_per_item_and_a_later_step_reads_them_all(
    deployed: Deployed,
) -> None:
    info = deployed.pipelines["Fan"]
    arn, _ = start(deployed.emulator, info, {"regions": ["eu", "us", "ap"], "parts": 2})
    events: list[Progress] = []
    result = watch(deployed.emulator, info, arn, on_progress=events.append, timeout=120)
    assert result.succeeded, result.cause
    # Each item's job is reported as it starts and ends, with its index and item, then
    # the step's end, before the step its end lets start.
    items = [(e.index, e.item, e.status) for e in events if e.step == "per_region"]
    assert sorted(items[:-1]) == [
        (0, "eu", "Completed"),
        (0, "eu", "InProgress"),
        (1, "us", "Completed"),
        (1, "us", "InProgress"),
        (2, "ap", "Completed"),
        (2, "ap", "InProgress"),
    ]
    for index, region in enumerate(["eu", "us", "ap"]):
        started = items.index((index, region, "InProgress"))
        assert started < items.index((index, region, "Completed"))
    end = events[[i for i, e in enumerate(events) if e.step == "per_region"][-1]]
    assert (end.status, end.index, end.items, end.failed_items) == ("Completed", None, 3, 0)
    assert end.job_name == f"{info.fan_outs['per_region']}-* (3 jobs)"
    order = [(e.step, e.status, e.index) for e in events]
    for step in ("per_region", "per_part"):
        assert order.index((step, "Completed", None)) < order.index(("join", "InProgress", None))
    assert order.index(("split", "Completed", None)) < order.index(("per_part", "InProgress", 0))
    regions = _item_records(deployed, result, "per_region")
    assert [(r["item"], r["index"], r["env"]) for r in regions] == [
        ("eu", 0, "eu"),
        ("us", 1, "us"),
        ("ap", 2, "ap"),
    ]
    parts = _item_records(deployed, result, "per_part")
    assert [r["object"] for r in parts] == ["part 0\n", "part 1\n"]
    assert all(r["item"].endswith(f"/part-{i}.txt") for i, r in enumerate(parts))
    assert result.steps["join"].values == {"regions": "ap,eu,us", "parts": 2, "first": "part 0"}
    # One job per item, each with its own name; the watcher finds them.
    assert (result.steps["per_region"].items, result.steps["per_region"].failed_items) == (3, 0)
    assert result.steps["per_part"].items == 2
    # The step's result in the state is its map run.
    assert "mapRun" in result.output["steps"]["per_region"]["map_run"]


def test_fan_out_over_no_objects_runs_no_job(deployed: Deployed) -> None:
    """No object, no job: the Map succeeds; a later step reading its (empty) output then
    fails as SageMaker fails a job whose input prefix holds no object."""
    result = run(deployed, "Fan", {"regions": ["eu"], "parts": 0})
    assert "per_part" not in result.steps or result.steps["per_part"].items is None
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert result.steps["join"].failure_reason is not None
    assert "input 'parts': no objects under" in result.steps["join"].failure_reason


def test_a_failed_item_within_the_tolerance_does_not_fail_the_step(deployed: Deployed) -> None:
    result = run(deployed, "Fan", {"regions": ["eu", "bad", "us"], "parts": 1})
    assert result.succeeded, result.cause
    assert [r["item"] for r in _item_records(deployed, result, "per_region")] == ["eu", "us"]
    assert (result.steps["per_region"].items, result.steps["per_region"].failed_items) == (3, 1)
    assert result.steps["join"].values["regions"] == "eu,us"


def test_more_failed_items_than_tolerated_fail_the_step(deployed: Deployed) -> None:
    """The report names each failed item (index, item, job, FailureReason) and shows the
    end of the first one's log; --json gives each failed item's log_tail."""
    assembly = deployed.emulator.work_dir / "cdk.out"
    ran = cli_run(
        deployed,
        *("--app", str(assembly), "--stack", "ProbePipeline", "--pipeline", "Fan"),
        *("--input", json.dumps({"regions": ["bad", "eu", "bad"], "parts": 1})),
    )
    document = ran.document
    assert (document["status"], document["error"]) == (
        "FAILED",
        "States.ExceedToleratedFailureThreshold",
    )
    assert "2 of 3 items failed" in (document["cause"] or "")
    assert document["steps"]["join"]["status"] == "NotStarted"
    step = document["steps"]["per_region"]
    # "eu" ends Completed, or Stopped when the Map failed before its job ended (the Map's
    # failure aborts the running children, and their jobs are stopped).
    eu_stopped = step["failed_items"] == 3
    assert (step["items"], step["failed_items"]) in ((3, 2), (3, 3))
    reason = "AlgorithmError: process exited with code 1: this item fails on purpose"
    failed = [f for f in step["failures"] if f["status"] == "Failed"]
    assert [(f["index"], f["item"], f["failure_reason"]) for f in failed] == [
        (0, "bad", reason),
        (2, "bad", reason),
    ]
    assert [f["item"] for f in step["failures"] if f["status"] == "Stopped"] == (
        ["eu"] if eu_stopped else []
    )
    assert all(f["log_tail"] == ["this item fails on purpose"] for f in failed)
    assert (step["failure_reason"], step["log_tail"]) == (reason, ["this item fails on purpose"])
    human = "\n".join(ran.out.splitlines()[:-1])
    prefix = deployed.pipelines["Fan"].fan_outs["per_region"]
    first, second = (f["job_name"] for f in failed)
    count = f"{step['failed_items']} of 3 items failed"
    assert f"step per_region: {count} ({prefix}-*):" in human
    assert f'\n  item 0: "bad" (job {first}): {reason}' in human
    assert f'\n  item 2: "bad" (job {second}): {reason}' in human
    assert "\n  last line of item 0's log:\n  | this item fails on purpose" in human
    # Live progress: each item's job as it starts and ends, then the step's end.
    progress = [line.split("] ", 1)[1] for line in human.splitlines() if line.startswith("  [")]
    mine = [line.split() for line in progress if line.startswith("per_region ")]
    assert [words[1] for words in mine].count("InProgress") == 3
    assert [words[1] for words in mine].count("Failed") == 2
    assert " ".join(mine[-1][2:7]) == count


@pytest.mark.parametrize("regions", ["eu", ["eu", 1], ["a", "b", "c", "d", "e", "f"], {"eu": 1}])
def test_a_bad_list_parameter_fails_before_any_job(deployed: Deployed, regions: Any) -> None:
    result = run(deployed, "Fan", {"regions": regions})
    assert (result.status, result.error) == ("FAILED", "InvalidParameters"), result.cause
    assert "parameter 'regions' must be a list of at most 5 strings" in (result.cause or "")
    assert all(step.job_name is None for step in result.steps.values())


# -- the porting guide's pipeline (tests/local_app/ported_stack.py, the README's block) -----

PORTED = ROOT / "tests" / "local_app" / "ported"


def _csv_rows(deployed: Deployed, result: RunResult, step: str, channel: str) -> list[str]:
    info = deployed.pipelines["Preprocess"]
    key = info.key(result.execution_name, step, channel, f"{channel}.csv")
    body = deployed.emulator.client("s3").get_object(Bucket=info.bucket, Key=key)["Body"]
    return [line.split(",")[0] for line in body.read().decode().splitlines()[1:]]


def test_the_ported_script_runs_unmodified_with_its_helper_package(deployed: Deployed) -> None:
    """preprocessing.py, as it ran under ScriptProcessor, reads and writes fixed
    /opt/ml/processing paths and imports my_pkg from beside it; two runs at once, each
    with its own per-run split, see only their own files."""
    source = (PORTED / "src" / "preprocessing.py").read_text()
    assert '"/opt/ml/processing/input"' in source and "constructs_sm" not in source
    seed(deployed.emulator, PORTED / "data", "s3://my-ml-bucket/raw/")
    results: dict[float, RunResult] = {}

    def one(ratio: float) -> None:
        results[ratio] = run(deployed, "Preprocess", {"split_ratio": ratio})

    threads = [threading.Thread(target=one, args=(ratio,)) for ratio in (0.25, 0.5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ratio, test_ids in ((0.25, ["c04", "c08"]), (0.5, ["c02", "c04", "c06", "c08"])):
        result = results[ratio]
        assert result.succeeded, result.cause
        train_ids = sorted({f"c0{i}" for i in range(1, 9)} - set(test_ids))
        assert _csv_rows(deployed, result, "preprocess", "test") == test_ids
        assert _csv_rows(deployed, result, "preprocess", "train") == train_ids
        # The bash step read the channels and returned its counts through the runtime.
        assert result.steps["summarize"].values == {
            "train_rows": len(train_ids),
            "test_rows": len(test_ids),
        }
        info = deployed.pipelines["Preprocess"]
        report = (
            deployed.emulator.client("s3")
            .get_object(
                Bucket=info.bucket,
                Key=info.key(result.execution_name, "summarize", "report", "report.txt"),
            )["Body"]
            .read()
        )
        assert report.decode() == (
            f"train={len(train_ids)} test={len(test_ids)} host=algo-1 of algo-1\n"
        )


# -- IAM, enforced: each actor with its own role -----------------------------------------


def test_a_steps_own_calls_reach_only_its_own_channels(deployed: Deployed) -> None:
    """Peek's step calls S3 itself (network isolation off) with its role's credentials:
    its own channels yes; a sibling step's channel, another pipeline's channel, the whole
    bucket and a bucket outside its grants no, although each object exists."""
    probe, churn = deployed.pipelines["Probe"].bucket, deployed.pipelines["Churn"].bucket
    s3 = deployed.emulator.client("s3")
    planted = "Probe/first/data/planted/seen.json"
    s3.put_object(Bucket=probe, Key=planted, Body=b"{}")
    foreign = [f"s3://{probe}/{planted}", f"s3://{churn}/data/raw/customers.csv"]
    for uri in foreign:  # the administrator can read both
        bucket, _, key = uri[len("s3://") :].partition("/")
        assert s3.get_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    result = run(deployed, "Peek", {"foreign": " ".join(foreign)})
    assert result.succeeded, result.cause
    answers = read_json(deployed, "Peek", result, "peek/answers/answers.json")
    assert answers == {
        "get own input": "allowed",
        "list own input": "allowed",
        "put own output": "allowed",
        "get sibling channel": "AccessDenied",
        "list sibling channel": "AccessDenied",
        "put sibling channel": "AccessDenied",
        "list whole bucket": "AccessDenied",
        **{f"get {uri}": "AccessDenied" for uri in foreign},
    }
    sibling = deployed.pipelines["Peek"].key(result.execution_name, "source", "private", "x")
    assert "Contents" not in s3.list_objects_v2(Bucket=probe, Prefix=sibling)


def _jobs(deployed: Deployed) -> set[str]:
    return set(
        sagemaker_backends[deployed.emulator.account][deployed.emulator.region].processing_jobs
    )


@pytest.mark.parametrize(
    "where",
    ["another step's channel", "another pipeline's prefix", "a bucket outside the data sources"],
)
def test_inputs_outside_the_data_sources_are_refused_before_any_job(
    deployed: Deployed, where: str
) -> None:
    churn, probe = deployed.pipelines["Churn"].bucket, deployed.pipelines["Probe"].bucket
    uri = {
        "another step's channel": f"s3://{churn}/Churn/prepare/train/",
        "another pipeline's prefix": f"s3://{probe}/Probe/first/data/",
        "a bucket outside the data sources": f"s3://{probe}/data/raw/",
    }[where]
    before = _jobs(deployed)
    result = run(deployed, "Churn", {"raw_uri": uri})
    assert (result.status, result.error) == ("FAILED", "InvalidParameters")
    assert f"parameter 'raw_uri' must be an S3 URI under s3://{churn}/data/" in (result.cause or "")
    assert _jobs(deployed) == before
    assert all(step.status == "NotStarted" for step in result.steps.values())


def _step_task(deployed: Deployed, pipeline: str, step: str) -> dict[str, Any]:
    """The Parameters of a step's CreateProcessingJob task in the deployed definition."""
    sfn = deployed.emulator.client("stepfunctions")
    arn = deployed.pipelines[pipeline].state_machine_arn
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])

    def tasks(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for state in states.values():
            yield state.get("Parameters") or {}
            for branch in state.get("Branches", []):
                yield from tasks(branch["States"])

    return next(
        p for p in tasks(definition["States"]) if p.get("Environment", {}).get("CSM_STEP") == step
    )


def _job_prefix(deployed: Deployed, role_arn: str) -> str:
    """The job-name prefix a step role's trust allows (its aws:SourceArn pattern)."""
    role = deployed.emulator.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])
    (statement,) = role["Role"]["AssumeRolePolicyDocument"]["Statement"]
    pattern = str(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    return pattern.split("processing-job/", 1)[1].rstrip("*")


@pytest.mark.parametrize(
    ("index", "case", "status", "reason"),
    [
        (1, "its own data source", "Completed", None),
        (2, "another step's channel", "Failed", "(AccessDenied) when calling the ListObjectsV2"),
        (3, "another step's job name", "Failed", "SageMaker was unable to assume the role"),
    ],
)
def test_a_job_moves_data_with_its_steps_role(
    deployed: Deployed, index: int, case: str, status: str, reason: str | None
) -> None:
    """A request the pipeline would never make (a hand-written state machine reusing
    prepare's role): the job's download uses that role, assumed as SageMaker assumes it,
    only for jobs named as the role's trust allows."""
    churn = deployed.pipelines["Churn"].bucket
    prepare = _step_task(deployed, "Churn", "prepare")
    role_arn = prepare["RoleArn"]
    own = _job_prefix(deployed, role_arn)
    other = _job_prefix(deployed, _step_task(deployed, "Churn", "train")["RoleArn"])
    prefix = other if case == "another step's job name" else own
    name = f"{prefix}-{index:032x}"
    location = "Churn/train/model/" if case == "another step's channel" else "data/raw/"
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {
            "ProcessingJobName": name,
            "RoleArn": role_arn,
            "AppSpecification": {
                "ImageUri": prepare["AppSpecification"]["ImageUri"],
                "ContainerEntrypoint": ["python3", "-c", "pass"],
            },
            "ProcessingResources": prepare["ProcessingResources"],
            "ProcessingInputs": [
                {
                    "InputName": "raw",
                    "S3Input": {
                        "S3Uri": f"s3://{churn}/{location}",
                        "LocalPath": "/opt/ml/processing/input/raw",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        },
        "End": True,
    }
    deployed.emulator.client("s3").put_object(Bucket=churn, Key=f"{location}x.txt", Body=b"x")
    sfn = deployed.emulator.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"reuse-role-{index}",
        definition=json.dumps({"StartAt": "Job", "States": {"Job": task}}),
        roleArn=machine_role(deployed.emulator),
    )
    _run_to_end(sfn, machine["stateMachineArn"])
    job = deployed.emulator.client("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == status, job.get("FailureReason")
    if reason is not None:
        assert reason in job["FailureReason"]
        assert job["FailureReason"].startswith("ClientError: ")

"""Runs in an emulator that already holds the app (constructs_sm.local.kept): an unchanged
stack is neither bootstrapped nor deployed again, a changed one is, in the session's
emulator and through ``--endpoint`` as another process would attach to it."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.local import Emulator, cli, kept, signals
from constructs_sm.local.cfn_deploy import AssemblyDeployer
from constructs_sm.local.deploy import CdkDeployer, deployed_template, stack_templates
from constructs_sm.local.runner import start
from tests.conftest import cdk_json_context
from tests.local_deployment import Deployed, run

STACK = "WarmRunProbe"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/warm:1"
SCRIPT = "from constructs_sm import runtime\n\nruntime.emit(version={version})\n"
#: moto warns about the resource types it skips each time it parses a stack's template.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")


@dataclass
class Ran:
    """What one ``run --json`` printed."""

    code: int
    out: str
    document: dict[str, Any]


def _run(emulator: Emulator | None, *argv: str) -> Ran:
    out = io.StringIO()
    code = cli.main(["run", "--json", *argv], out=out, emulator=emulator)
    text = out.getvalue()
    return Ran(code, text, json.loads(text.strip().splitlines()[-1]))


def _app(folder: Path, version: int, stack_name: str = STACK) -> Path:
    """A one-step pipeline whose step returns ``version``, synthesized into ``folder``."""
    script = folder / "step" / "answer.py"
    script.parent.mkdir(parents=True)
    script.write_text(SCRIPT.format(version=version))
    app = cdk.App(outdir=str(folder / "cdk.out"), context=cdk_json_context())
    stack = cdk.Stack(app, stack_name)
    pipeline = ProcessingPipeline(
        stack,
        "Warm",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE),
    )
    pipeline.add_step("answer", code=script, returns={"version": int})
    app.synth()
    return folder / "cdk.out"


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The app, and the same app with its step's script changed."""
    return (
        _app(tmp_path_factory.mktemp("warm-v1"), 1),
        _app(tmp_path_factory.mktemp("warm-v2"), 2),
    )


def _version(ran: Ran) -> Any:
    assert ran.code == 0, ran.out
    return ran.document["steps"]["answer"]["values"]["version"]


def _keys(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    """This environment holds the emulator's administrator keys, as run --keep-running
    prints them."""
    for key, value in deployed.emulator.credentials.env().items():
        monkeypatch.setenv(key, value)


def test_an_unchanged_app_is_not_deployed_again_and_a_changed_one_is(
    deployed: Deployed, versions: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, changed = versions
    args = ["--stack", STACK, "--cdk", "none"]
    ran = _run(deployed.emulator, "--app", str(first), *args)
    assert f"{STACK}: not in this emulator: deploying it" in ran.out
    assert _version(ran) == 1
    # The same app again, in this process's emulator and from "another process" (through
    # --endpoint): neither bootstrapped nor deployed.
    deploys: list[str] = []
    real_deploy, real_bootstrap = AssemblyDeployer.deploy, AssemblyDeployer.bootstrap

    def deploy(*args: Any) -> list[Any]:
        deploys.append("deploy")
        return []

    monkeypatch.setattr(AssemblyDeployer, "deploy", deploy)
    monkeypatch.setattr(AssemblyDeployer, "bootstrap", lambda *a: deploys.append("bootstrap"))
    ran = _run(deployed.emulator, "--app", str(first), *args)
    _keys(deployed, monkeypatch)
    attached = _run(None, "--endpoint", deployed.emulator.endpoint, "--app", str(first), *args)
    assert deploys == []
    for again in (ran, attached):
        assert f"{STACK}: deployed in this emulator from the same template: not deployed" in (
            again.out
        )
        assert _version(again) == 1
    assert "another process keeps it running" in attached.out
    # The step's script changed: so did the template (the code bundle's key is its hash).
    monkeypatch.setattr(AssemblyDeployer, "deploy", real_deploy)
    monkeypatch.setattr(AssemblyDeployer, "bootstrap", real_bootstrap)
    assert stack_templates(changed)[STACK] != stack_templates(first)[STACK]
    ran = _run(None, "--endpoint", deployed.emulator.endpoint, "--app", str(changed), *args)
    assert f"{STACK}: changed since it was deployed (CREATE_COMPLETE): deploying it" in ran.out
    assert _version(ran) == 2, "the changed script ran"
    assert deployed_template(deployed.emulator, STACK) == stack_templates(changed)[STACK]
    # The stack's bucket policies were applied by the emulator's CloudFormation (this
    # process only called its API).
    storage = next(
        physical
        for rtype, physical in kept.stacks_to_deploy(deployed.emulator, changed, [STACK])
        .unchanged[STACK]
        .resources.values()
        if rtype == "AWS::S3::BucketPolicy"
    )
    policy = deployed.emulator.client("s3").get_bucket_policy(Bucket=storage)["Policy"]
    assert "aws:SecureTransport" not in policy


def test_the_cdk_cli_deploys_a_changed_app_again_in_a_kept_emulator(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's second deploy of a stack deletes its change set "if it exists" and waits
    for DescribeChangeSet to say ChangeSetNotFound: that works in the emulator
    (constructs_sm.local.change_sets; moto answered a ValidationError, then a server
    error, and the run failed)."""
    stack = f"{STACK}Cli"
    first, changed = _app(tmp_path / "v1", 1, stack), _app(tmp_path / "v2", 2, stack)
    ran = _run(deployed.emulator, "--app", str(first), "--stack", stack)
    assert "cdk CLI: " in ran.out
    assert _version(ran) == 1
    _keys(deployed, monkeypatch)
    ran = _run(
        None, "--endpoint", deployed.emulator.endpoint, "--app", str(changed), "--stack", stack
    )
    assert f"{stack}: changed since it was deployed (CREATE_COMPLETE): deploying it" in ran.out
    assert _version(ran) == 2, ran.out
    assert deployed_template(deployed.emulator, stack) == stack_templates(changed)[stack]


def test_the_cdk_cli_is_not_run_to_bootstrap_an_emulator_it_bootstrapped(
    deployed: Deployed,
) -> None:
    deployer = CdkDeployer(deployed.emulator, project_dir=Path.cwd())
    assert deployer.bootstrapped()
    assert not AssemblyDeployer(deployed.emulator, project_dir=Path.cwd()).bootstrapped()


@pytest.mark.parametrize(
    ("argv", "error", "words"),
    [
        (["--keep-running"], "UsageError", ["--keep-running", "already kept running"]),
        (["--work-dir", "x"], "UsageError", ["--work-dir", "that emulator's process"]),
    ],
)
def test_options_of_this_process_emulator_do_not_go_with_endpoint(
    argv: list[str], error: str, words: list[str]
) -> None:
    ran = _run(None, "--endpoint", "http://localhost:9", *argv)
    assert (ran.code, ran.document["error"]) == (cli.EXIT_USAGE, error)
    for word in words:
        assert word in ran.document["cause"]


def test_nothing_at_the_endpoint_is_no_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAANY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "any")
    # An app command (an --app path naming nothing is a usage error, found first).
    ran = _run(None, "--endpoint", "http://localhost:9", "--app", "python3 app.py")
    assert (ran.code, ran.document["error"]) == (cli.EXIT_FAILED, "NoEmulator")
    assert "run --keep-running" in ran.document["cause"]


def test_keys_the_emulator_never_issued_are_refused(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTTHEEMULATORS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    ran = _run(None, "--endpoint", deployed.emulator.endpoint, "--app", str(deployed.assembly))
    assert (ran.code, ran.document["error"]) == (cli.EXIT_FAILED, "AccessDenied")
    assert "as run --keep-running printed it" in ran.document["cause"]


def test_an_attached_run_reads_the_failed_jobs_log_where_the_emulator_keeps_it(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed.emulator.publish_jobs_dir()
    _keys(deployed, monkeypatch)
    argv = ["--app", str(deployed.assembly), "--stack", "ProbePipeline", "--pipeline", "Probe"]
    ran = _run(None, "--endpoint", deployed.emulator.endpoint, *argv, "--input", '{"fail": true}')
    assert ran.document["status"] == "FAILED"
    right = ran.document["steps"]["right"]
    assert right["status"] == "Failed"
    assert any("asked to fail" in line for line in right["log_tail"]), right
    assert f"the job's files and logs: {deployed.emulator.jobs_dir}/<job>/" in ran.out


def test_an_interrupted_attached_run_stops_its_execution(deployed: Deployed) -> None:
    """Ctrl-C in ``run --endpoint``: its execution is stopped in the emulator (its jobs
    with it, as on AWS), and the emulator keeps running."""
    probe = deployed.pipelines["Probe"]
    arn, name = start(deployed.emulator, probe, {"sleep": 60.0})
    session = cli._Session()
    session.attached, session.execution = deployed.emulator, arn
    said = session.interrupted(signals.Interrupted(2))
    assert f"stopped execution {name}" in said
    assert "keeps running" in said
    sfn = deployed.emulator.client("stepfunctions")
    deadline = time.monotonic() + 30
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == "ABORTED"
    assert run(deployed, "Probe", {}).succeeded, "the emulator still runs executions"


def test_keep_running_says_how_to_run_the_app_again_in_it(deployed: Deployed) -> None:
    args = cli.parser().parse_args(
        ["run", "--keep-running", "--app", "cdk.out", "--stack", "S", "--input", '{"a": 1}']
    )
    lines = kept.kept_running_lines(deployed.emulator, "arn:x", args)
    keys = " ".join(f"{k}={v}" for k, v in deployed.emulator.credentials.env().items())
    rerun = next(line for line in lines if " run --endpoint " in line)
    assert rerun.strip() == (
        f"{keys} python -m constructs_sm.local run --endpoint {deployed.emulator.endpoint} "
        "--app cdk.out --stack S --input '{\"a\": 1}'"
    )
    assert any(f"redrive arn:x --endpoint {deployed.emulator.endpoint}" in x for x in lines)

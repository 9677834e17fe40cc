"""The offline engine's pure parts and the moto internals it relies on (fast, no deploy)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import subprocess
import sys
import threading
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from moto.cloudformation import parsing as cfn_parsing
from moto.iam.models import ManagedPolicy, iam_backends
from moto.s3.models import s3_backends
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.eval.states import ExecutionData
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.responses import StepFunctionResponse

from constructs_sm.local import (
    asl_fixes,
    cfn_fixes,
    cli,
    docker_standin,
    redrive,
    sagemaker,
    server,
)
from constructs_sm.local.cfn_fixes import plain_http_policy
from constructs_sm.local.emulator import ACCOUNT
from constructs_sm.local.extra import INSTALL_LOCAL, missing_local_extra
from constructs_sm.local.jobs import (
    command_line,
    failure_reason,
    last_lines,
    local_path,
    relative_key,
)
from constructs_sm.local.runner import describe_pipeline, job_log_tail, unknown_params
from tests.local_deployment import count_definition_parses

FACTORY = "state_task_service_for"


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5", "constructs_sm.local patches moto 5.2.5 internals"


def test_integration_points_exist_with_the_expected_shape() -> None:
    sagemaker.check_integration_points()
    asl_fixes.check_integration_points()
    server.check_integration_points()
    factory = state_task_service_factory.state_task_service_for
    assert list(inspect.signature(factory).parameters) == ["service_name"]
    assert "sagemaker" in state_task_service_factory._UNSUPPORTED_SERVICE_NAMES
    assert getattr(state_task_factory, FACTORY) in (factory, sagemaker._factory)


def test_moto_lacks_redrive_and_the_engine_adds_it() -> None:
    """moto 5.2.5 answers RedriveExecution with NotImplementedError and its context object
    has no RedriveCount: constructs_sm.local.redrive adds both. If moto grows its own, this
    fails and the patch can go."""
    redrive.check_integration_points()
    assert StepFunctionResponse.__dict__.get("redrive_execution") in (
        None,
        redrive._response_redrive_execution,
    )
    assert "RedriveCount" not in ExecutionData.__annotations__


def test_install_routes_sagemaker_and_aws_sdk_tasks_and_uninstall_restores() -> None:
    running = sagemaker._RUNNER  # the session's emulator may be up: put it back after
    if running is not None:
        sagemaker.uninstall()
    original = getattr(state_task_factory, FACTORY)
    runner = sagemaker.JobRunner(
        client=lambda service, region: None, work_dir=Path(), job_env={}, account="1"
    )
    sagemaker.install(runner)
    try:
        make = getattr(state_task_factory, FACTORY)
        assert isinstance(make(service_name="sagemaker"), sagemaker.SageMakerTaskService)
        assert isinstance(make(service_name="aws-sdk"), sagemaker.AwsSdkTaskService)
    finally:
        sagemaker.uninstall()
        assert getattr(state_task_factory, FACTORY) is original
        if running is not None:
            sagemaker.install(running)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("ResourceInUse", "SageMaker.ResourceInUseException"),
        ("ResourceLimitExceeded", "SageMaker.ResourceLimitExceededException"),
        ("ValidationException", "SageMaker.AmazonSageMakerException"),
    ],
)
def test_sagemaker_error_names(code: str, name: str) -> None:
    assert sagemaker.error_name(code) == name


@pytest.mark.parametrize(
    ("service", "name"),
    [
        ("s3", "S3"),
        ("dynamodb", "DynamoDb"),
        ("sfn", "Sfn"),
        ("sagemaker", "SageMaker"),
        ("ec2", "Ec2"),
        ("acmpca", "AcmPca"),
        ("lambda", "Lambda"),
    ],
)
def test_aws_sdk_errors_use_the_services_pascal_case_name(service: str, name: str) -> None:
    """AWS: ``S3.NoSuchKeyException``; moto 5.2.5 alone: ``s3.NoSuchKeyException``."""
    assert sagemaker.sdk_service_error_name(service) == name
    assert sagemaker.AwsSdkTaskService._normalise_service_error_name(service) == name


def test_definite_paths_return_their_single_match() -> None:
    installed = asl_fixes._original is not None  # by the session's emulator: keep them
    asl_fixes.install()
    try:
        data = [{"steps": {"a": 1}}, {"steps": {"b": 2}}]
        assert asl_fixes.extract_json("$[1].steps", data) == {"b": 2}
        assert asl_fixes.extract_json("$[*].steps", data) == [{"a": 1}, {"b": 2}]
        # Indefinite paths are lists, one match or none (Jayway JsonPath, as on AWS).
        hosts = {"hosts": [{"values": {"n": 1}}, {"values": {}}]}
        assert asl_fixes.extract_json("$.hosts[*].values.n", hosts) == [1]
        assert asl_fixes.extract_json("$.hosts[*].values.m", hosts) == []
    finally:
        if not installed:
            asl_fixes.uninstall()
    assert asl_fixes.is_definite("$.a[0].b")
    assert not asl_fixes.is_definite("$.a[*].b")


def test_a_stopped_task_still_gets_its_timeout_value() -> None:
    """moto skips evaluating TimeoutSeconds once the program stopped, while the task pops
    the value anyway (and took its parameters for a timeout)."""

    class StoppedEnvironment:
        def __init__(self) -> None:
            self.stack: list[Any] = ["parameters"]

        def is_running(self) -> bool:
            return False

    installed = asl_fixes._original is not None  # by the session's emulator: keep them
    asl_fixes.install()
    try:
        env = StoppedEnvironment()
        TimeoutSeconds(timeout_seconds=5).eval(env)  # type: ignore[arg-type]
        assert env.stack.pop() == 5
    finally:
        if not installed:
            asl_fixes.uninstall()


def test_a_stopped_program_is_not_failed_or_timed_out_later() -> None:
    """StopExecution ends an execution ABORTED: a stopped job's failure reaching the
    program afterwards (its .sync task failing) leaves it stopped, as a timeout does."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import (
        ProgramError,
        ProgramRunning,
        ProgramStopped,
    )

    def bare(state: Any) -> Any:
        env: Any = Environment.__new__(Environment)  # the state it keeps, nothing else
        env._state_mutex = threading.RLock()
        env._program_state = state
        env._frames = []
        env.program_state_event = threading.Event()
        return env

    installed = asl_fixes._original is not None  # by the session's emulator: keep them
    asl_fixes.install()
    try:
        stopped = bare(ProgramStopped(stop_date=None, error="Interrupted", cause=None))  # type: ignore[arg-type]
        stopped.set_error({"error": "States.TaskFailed"})
        stopped.set_timed_out()
        assert isinstance(stopped.program_state(), ProgramStopped)
        running = bare(ProgramRunning())  # type: ignore[no-untyped-call]
        running.set_error({"error": "States.TaskFailed"})
        assert isinstance(running.program_state(), ProgramError)
    finally:
        if not installed:
            asl_fixes.uninstall()


def _pass_machine(comment: str) -> str:
    return json.dumps(
        {"Comment": comment, "StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    )


def test_a_definition_is_parsed_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = asl_fixes._original is not None  # by the session's emulator: keep them
    asl_fixes.install()
    try:
        parsed = count_definition_parses(monkeypatch)
        first, second = _pass_machine(str(uuid.uuid4())), _pass_machine(str(uuid.uuid4()))
        program = AmazonStateLanguageParser.parse(first)
        assert AmazonStateLanguageParser.parse(first) is program
        assert AmazonStateLanguageParser.parse(second) is not program  # another text
        assert parsed == [first, second]
        # Every component's heap key is drawn once, before two executions could share it.
        components = _components(program[0])
        assert len(components) > 3
        assert all(vars(c).get("_EvalComponent__heap_key") for c in components)
    finally:
        if not installed:
            asl_fixes.uninstall()


def test_a_jsonpath_is_parsed_once_per_text_and_finds_what_it_found() -> None:
    installed = asl_fixes._original is not None
    asl_fixes.install()
    try:
        for name, parser in asl_fixes.PATH_PARSERS.items():
            parse = importlib.import_module(name).parse
            path = f"$.steps.s{uuid.uuid4().hex[:6]}.values"
            assert parse(path) is parse(path)
            fresh = importlib.import_module(parser).parse(path)
            data = {"steps": {path.split(".")[2]: {"values": [1, 2]}}}
            assert [m.value for m in parse(path).find(data)] == [m.value for m in fresh.find(data)]
    finally:
        if not installed:
            asl_fixes.uninstall()
            for name, parser in asl_fixes.PATH_PARSERS.items():
                own = importlib.import_module(parser).parse
                assert importlib.import_module(name).parse is own


def _components(root: Any) -> list[EvalComponent]:
    found: list[EvalComponent] = []
    todo, seen = [root], set()
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Component):
            if isinstance(item, EvalComponent):
                found.append(item)
            todo.extend(vars(item).values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())
    return found


def test_the_parsed_programs_are_bounded_and_forgotten_with_the_fixes() -> None:
    installed = asl_fixes._original is not None
    asl_fixes.install()
    try:
        for _ in range(asl_fixes.PARSED_KEPT + 5):
            AmazonStateLanguageParser.parse(_pass_machine(str(uuid.uuid4())))
        assert asl_fixes.parse.cache_info().currsize == asl_fixes.PARSED_KEPT
    finally:
        if not installed:
            asl_fixes.uninstall()
            assert asl_fixes.parse.cache_info().currsize == 0
            assert AmazonStateLanguageParser.parse is not asl_fixes.parse


@pytest.mark.parametrize(
    ("prefix", "key", "expected"),
    [
        ("data/raw/", "data/raw/2024/a.csv", "2024/a.csv"),
        ("code/abc.zip", "code/abc.zip", "abc.zip"),
        ("abc.zip", "abc.zip", "abc.zip"),
        ("Churn/run/_run/params.json", "Churn/run/_run/params.json", "params.json"),
    ],
)
def test_relative_key(prefix: str, key: str, expected: str) -> None:
    assert relative_key(prefix, key) == expected


def test_relative_key_refuses_to_leave_the_channel() -> None:
    with pytest.raises(ValueError, match="cannot be stored"):
        relative_key("data/", "data/../../etc/passwd")


def test_local_path_maps_opt_ml_into_the_job_dir(tmp_path: Path) -> None:
    assert local_path(tmp_path, "/opt/ml/processing/input/raw") == (
        tmp_path / "processing" / "input" / "raw"
    )
    assert local_path(tmp_path, "/data/x") == tmp_path / "fs" / "data" / "x"


def test_command_line_runs_python_as_this_interpreter() -> None:
    app = {"ContainerEntrypoint": ["python3", "-c", "pass"], "ContainerArguments": ["a b"]}
    assert command_line(app) == [sys.executable, "-c", "pass", "a b"]
    with pytest.raises(ValueError, match="ContainerEntrypoint is required"):
        command_line({"ImageUri": "x"})


def test_failure_reason_has_exit_code_and_stderr_tail_within_1024() -> None:
    """The exception (stderr's last line) comes first: a report shows the first line
    (it showed the traceback's last frame, ``_run_python(script, ...)``)."""
    traceback = 'Traceback (most recent call last):\n  File "x.py"\n    run()\nValueError: boom\n'
    assert failure_reason(3, traceback) == (
        "AlgorithmError: process exited with code 3: ValueError: boom\n"
        'Traceback (most recent call last):\n  File "x.py"\n    run()'
    )
    assert failure_reason(3, "boom\n") == "AlgorithmError: process exited with code 3: boom"
    assert len(failure_reason(1, "x" * 5000)) <= 1024
    long = failure_reason(1, "x\n" * 5000 + "ValueError: " + "y" * 5000)
    assert len(long) <= 1024
    assert long.startswith("AlgorithmError: process exited with code 1: ValueError: yyy")
    assert long.endswith("...")
    assert failure_reason(2, "") == "AlgorithmError: process exited with code 2"


def test_failure_reason_keeps_whole_lines_of_a_long_log() -> None:
    log = "".join(f"line {i:03d} " + "y" * 40 + "\n" for i in range(100))
    reason = failure_reason(1, log)
    assert len(reason) <= 1024
    headline, *kept = reason.splitlines()
    assert headline == "AlgorithmError: process exited with code 1: " + log.splitlines()[-1]
    assert kept[0].startswith("line "), reason[:80]
    assert all(line in log.splitlines() for line in kept)
    assert kept[-1] == log.splitlines()[-2]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("a\nbb\nccc\n", 6, "bb\nccc"),
        ("a\nbb\nccc", 100, "a\nbb\nccc"),
        ("a\nbb\nccccccccc\n", 6, "...ccc"),
    ],
)
def test_last_lines_never_start_inside_a_line(text: str, limit: int, expected: str) -> None:
    assert last_lines(text, limit) == expected


def _job_logs(work: Path, job: str, hosts: dict[str, tuple[str, str]]) -> None:
    for host, (stderr, stdout) in hosts.items():
        logs = work / "jobs" / job / host / "logs"
        logs.mkdir(parents=True)
        (logs / "stderr.log").write_text(stderr)
        (logs / "stdout.log").write_text(stdout)


def test_a_jobs_log_tail_is_whole_lines_of_stderr_else_stdout(tmp_path: Path) -> None:
    from constructs_sm.local import Emulator

    emulator = Emulator(work_dir=tmp_path)
    long = "".join(f"{i:05d} " + "z" * 50 + "\n" for i in range(2000))  # > 16 KiB
    _job_logs(tmp_path, "one", {"": (long, "")})
    tail = job_log_tail(emulator, "one")
    assert tail == long.splitlines()[-20:]
    _job_logs(tmp_path, "two", {"algo-1": ("", "out 1\nout 2\n"), "algo-2": ("err\n", "x\n")})
    assert job_log_tail(emulator, "two", lines=1) == ["algo-1: out 2", "algo-2: err"]
    assert job_log_tail(emulator, "missing") == []


def test_moto_skips_bucket_policies_and_managed_policy_updates_and_the_engine_adds_them() -> None:
    """If moto grows its own, cfn_fixes says so and its versions can go."""
    cfn_fixes.check_integration_points()
    assert cfn_fixes.BUCKET_POLICY not in cfn_parsing.get_model_map()
    own = ManagedPolicy.__dict__.get("update_from_cloudformation_json")
    assert own is None or own.__func__ is cfn_fixes._policy_update


def test_a_bucket_policy_resource_puts_updates_and_removes_the_policy() -> None:
    backend = s3_backends[ACCOUNT]["aws"]
    first, second = (f"csm-policy-{uuid.uuid4().hex[:12]}" for _ in range(2))
    for bucket in (first, second):
        backend.create_bucket(bucket, "us-east-1")
    allow = {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": "*"}  # fmt: skip
    tls = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*",
           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip

    def template(bucket: str, *statements: dict[str, Any]) -> dict[str, Any]:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        return {"Properties": {"Bucket": bucket, "PolicyDocument": document}}

    policy = cfn_fixes.BucketPolicy.create_from_cloudformation_json(
        "P", template(first, allow, tls), ACCOUNT, "us-east-1"
    )
    assert policy.physical_resource_id == first
    assert json.loads(backend.get_bucket_policy(first) or b"{}")["Statement"] == [allow]
    # A new bucket replaces the resource: the old bucket loses its policy.
    policy = cfn_fixes.BucketPolicy.update_from_cloudformation_json(
        policy, "P", template(second, allow), ACCOUNT, "us-east-1"
    )
    assert backend.get_bucket_policy(first) is None
    assert json.loads(backend.get_bucket_policy(second) or b"{}")["Statement"] == [allow]
    # Only TLS-only statements: nothing the plain-HTTP emulator can apply.
    policy = cfn_fixes.BucketPolicy.update_from_cloudformation_json(
        policy, "P", template(second, tls), ACCOUNT, "us-east-1"
    )
    assert backend.get_bucket_policy(second) is None
    policy.delete(ACCOUNT, "us-east-1")
    for bucket in (first, second):
        backend.delete_bucket(bucket)


def test_a_managed_policy_update_makes_a_new_default_version_and_moves_attachments() -> None:
    """CloudFormation's update of AWS::IAM::ManagedPolicy (moto 5.2.5 has none)."""
    backend = iam_backends[ACCOUNT]["aws"]
    tag = uuid.uuid4().hex[:10]
    roles = [f"csm-r{i}-{tag}" for i in range(2)]
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    for role in roles:
        backend.create_role(role, trust, "/", None, "", [], None)

    def document(n: int) -> dict[str, Any]:
        return {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                               "Resource": f"arn:aws:s3:::b/{n}"}]}  # fmt: skip

    policy = backend.create_policy("", "/", json.dumps(document(0)), f"csm-p-{tag}", [])
    backend.attach_role_policy(policy.arn, roles[0])
    setattr(policy, cfn_fixes._POLICY_ATTACHED, cfn_fixes._attachments({"Roles": [roles[0]]}))
    for n in range(1, 8):  # more versions than IAM keeps
        properties = {"PolicyDocument": document(n), "Roles": [roles[n % 2]]}
        updated = cfn_fixes._policy_update(
            ManagedPolicy, policy, "new-name", {"Properties": properties}, ACCOUNT, "us-east-1"
        )
        assert updated is policy, "a new document does not replace the policy"
        assert len(policy.versions) <= cfn_fixes.MAX_POLICY_VERSIONS
        default = backend.get_policy_version(policy.arn, policy.default_version_id)
        assert json.loads(default.document) == document(n)
        attached = {r for r in roles if policy.arn in backend.get_role(r).managed_policies}
        assert attached == {roles[n % 2]}
    replaced = cfn_fixes._policy_update(
        ManagedPolicy, policy, f"csm-q-{tag}",
        {"Properties": {"PolicyDocument": document(9), "Description": "new", "Roles": []}},
        ACCOUNT, "us-east-1",
    )  # fmt: skip
    assert replaced.arn != policy.arn, "a new Description replaces the policy"
    assert policy.arn not in backend.managed_policies
    assert not any(policy.arn in backend.get_role(r).managed_policies for r in roles)
    backend.delete_policy(replaced.arn)
    for role in roles:
        backend.delete_role(role)


def test_plain_http_policy_drops_only_tls_denials() -> None:
    allow: dict[str, Any] = {"Effect": "Allow", "Action": "s3:PutObject", "Principal": "*"}
    deny_tls = {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    deny_version = {"Effect": "Deny", "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}
    policy = plain_http_policy({"Statement": [deny_tls, allow, deny_version]})
    assert policy["Statement"] == [allow]


def test_docker_standin_accepts_only_what_cdk_publishing_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (["login", "-u", "AWS", "x"], ["inspect", "img"], ["tag", "a", "b"]):
        assert docker_standin.main(command) == 0
    assert docker_standin.main(["build", "--tag", "x", "."]) == 0
    assert "skipped" in capsys.readouterr().out
    assert docker_standin.main(["run", "img"]) == 1


def test_describe_pipeline_reads_bucket_prefix_and_steps() -> None:
    definition = {
        "States": {
            "Merge defaults": {
                "Parameters": {
                    "run": {
                        "bucket": "bkt",
                        "pipeline": "Churn",
                        "execution.$": "$$.Execution.Name",
                    }
                }
            },
            "Parallel 1": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "States": {
                            "Run a": {
                                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                                "Parameters": {
                                    "Environment": {"CSM_STEP": "a"},
                                    "ProcessingInputs": [
                                        {"InputName": "code", "S3Input": {"S3Uri": "s3://a/c.zip"}},
                                        {"InputName": "x", "S3Input": {"S3Uri": "s3://a/x/"}},
                                    ],
                                },
                            }
                        }
                    }
                ],
            },
        }
    }
    info = describe_pipeline(definition, "arn", "Stack")
    assert info is not None
    assert (info.name, info.bucket, info.steps) == ("Churn", "bkt", ("a",))
    assert info.code_uris == ("s3://a/c.zip",)
    assert info.run_prefix == "Churn/"
    assert info.key("e1", "a", "out", "f.csv") == "Churn/a/out/e1/f.csv"
    assert info.is_run_key("e1", "Churn/a/out/e1/f.csv")
    assert not info.is_run_key("e1", "Churn/a/out/e10/f.csv")
    assert describe_pipeline({"States": {}}, "arn", "Stack") is None
    assert json.dumps(info.steps)


def test_unknown_params_are_the_undeclared_keys() -> None:
    declared: dict[str, Any] = {"epochs": {}, "raw_uri": {}}
    assert unknown_params({"epochs": 1, "epoch": 2, "zz": 3}, declared) == ["epoch", "zz"]
    assert unknown_params({"epochs": 1}, declared) == []


def _last_json(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    return document


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--json", "--no-such-option"],
        ["run", "--json", "--input", "[1, 2]"],
        ["run", "--json", "--input", "{not json"],
        ["run", "--json", "--data", "dir-without-uri"],
        ["run", "--json", "--app", "no-such-assembly.out"],
    ],
)
def test_cli_usage_errors_end_with_the_json_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Usage errors are found before the emulator starts; --json still answers."""
    assert cli.main(argv) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    document = _last_json(captured.out)
    assert document["status"] == cli.STATUS_ERROR
    assert document["error"] == "UsageError"
    assert document["cause"] and document["steps"] == {}
    assert "error" in captured.err


def test_a_folder_without_cdk_json_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --app and no cdk.json: refused before the emulator starts (it was a DeployError,
    exit code 1, after the emulator started)."""
    argv = ["run", "--json", "--project-dir", str(tmp_path)]
    assert cli.main(argv) == cli.EXIT_USAGE
    document = _last_json(capsys.readouterr().out)
    assert document["error"] == "UsageError"
    assert f"{tmp_path} has no cdk.json" in document["cause"]


def test_a_data_directory_is_found_in_the_project_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A relative --data directory: the current folder's, else --project-dir's; neither is
    a usage error before the emulator starts (it was a DataError after the deploy)."""
    (tmp_path / "project" / "raw").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    args = cli.parser().parse_args(["run", "--project-dir", "project", "--data", "raw=s3://b/raw/"])
    assert cli._data_args(args.data, args.project_dir) == [
        (tmp_path / "project" / "raw", "s3://b/raw/")
    ]
    assert cli.main(["run", "--json", "--data", "missing=s3://b/x/"]) == cli.EXIT_USAGE
    document = _last_json(capsys.readouterr().out)
    assert document["error"] == "UsageError"
    missing = tmp_path / "missing"
    assert document["cause"] == f"--data 'missing=s3://b/x/': no directory {missing}"


def test_stacks_without_a_pipeline_say_to_name_the_stack() -> None:
    with pytest.raises(ValueError, match="hold no constructs_sm pipeline; name the stack"):
        cli._choose([], None)


def test_a_malformed_input_names_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--json", "--input", "{n: 1"]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    cause = _last_json(captured.out)["cause"]
    assert cause.startswith("--input is not valid JSON (Expecting property name")
    assert "'{n: 1'" in cause
    assert f"error: {cause}" in captured.err


def test_a_cdk_that_names_no_executable_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["run", "--json", "--cdk", "/no/such/cdk"]) == cli.EXIT_USAGE
    document = _last_json(capsys.readouterr().out)
    assert document["error"] == "UsageError"
    assert "--cdk is '/no/such/cdk', which names no executable" in document["cause"]


def test_relative_directories_are_made_absolute(tmp_path: Path) -> None:
    """Jobs run in their own directory: a relative --work-dir would point elsewhere."""
    from constructs_sm.local import Emulator

    args = cli.parser().parse_args(["run", "--work-dir", "relwork", "--project-dir", "proj"])
    assert args.work_dir == Path.cwd() / "relwork"
    assert args.project_dir == Path.cwd() / "proj"
    assert Emulator(work_dir=Path("relwork")).work_dir == Path.cwd() / "relwork"


def test_the_missing_local_extra_is_named_with_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    assert missing_local_extra() is None
    real = importlib.import_module

    def without_moto(name: str, package: str | None = None) -> Any:
        if name.split(".")[0] == "moto":
            raise ModuleNotFoundError(f"No module named {name!r}", name="moto")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_moto)
    problem = missing_local_extra()
    assert problem is not None
    assert "missing: moto (moto cannot be imported), moto[server]" in problem
    assert problem.endswith(f"install it with: {INSTALL_LOCAL}")
    monkeypatch.setattr(importlib, "import_module", real)
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "5.0.0")
    assert "needs moto 5.2.5 (it patches that release's internals), found moto 5.0.0" in (
        missing_local_extra() or ""
    )


def test_cli_usage_error_without_json_prints_no_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--input", "[1]"]) == cli.EXIT_USAGE
    assert capsys.readouterr().out == ""


def test_python_m_constructs_sm_local_ends_with_the_json_line(root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "constructs_sm.local", "run", "--json", "--input", "nope"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == cli.EXIT_USAGE
    assert _last_json(result.stdout)["error"] == "UsageError"


def test_input_words_split_by_a_shell_are_joined() -> None:
    """`make demo ARGS='--input {...}'` reaches the CLI as several words."""
    from constructs_sm.local.cli import _parse_inputs, parser

    args = parser().parse_args(
        ["run", "--input", "{}", "--input", '{"epochs":', "0,", '"raw_uri":', '"s3://b/k"}']
    )
    params, _ = _parse_inputs(args)
    assert params == {"epochs": 0, "raw_uri": "s3://b/k"}


def test_the_readme_lists_every_run_option_and_json_error(root: Path) -> None:
    readme = (root / "README.md").read_text()
    (run,) = [
        action.choices["run"]
        for action in cli.parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    options = {
        option
        for action in run._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    assert "--endpoint" in options
    rows = set(re.findall(r"^\| `(--[a-z-]+)", readme, flags=re.MULTILINE))
    assert options <= rows, options - rows
    for error in cli.ERRORS:
        assert f"`{error}`" in readme, error


def test_a_job_that_ended_between_two_polls_is_reported_before_the_next_one_starts() -> None:
    """One poll reads: train scheduled, its task succeeded, evaluate scheduled (train's
    job ran within the 0.2 s between polls). train is reported started, then ended, then
    evaluate started, as the steps ran."""
    from types import SimpleNamespace

    from constructs_sm.local import runner
    from constructs_sm.runtime import STEP_ENV

    def scheduled(event_id: int, step: str) -> dict[str, Any]:
        parameters = {"ProcessingJobName": f"job-{step}", "Environment": {STEP_ENV: step}}
        details = {"resourceType": "sagemaker", "parameters": json.dumps(parameters)}
        return {"id": event_id, "type": "TaskScheduled", "taskScheduledEventDetails": details}

    history = [scheduled(1, "train"), {"id": 2, "type": "TaskSucceeded"}, scheduled(3, "evaluate")]
    jobs = {"job-train": "Completed", "job-evaluate": "InProgress"}

    class Clients:
        def client(self, service: str) -> Any:
            return SimpleNamespace(
                get_execution_history=lambda **_: {"events": history[::-1]},
                describe_processing_job=lambda **call: {
                    "ProcessingJobStatus": jobs[call["ProcessingJobName"]]
                },
            )

    seen: list[tuple[str, str]] = []
    pipeline = SimpleNamespace(steps=["train", "evaluate"], fan_outs={}, fan_out_states={})
    watcher = runner._Watcher(
        Clients(),  # type: ignore[arg-type]
        pipeline,  # type: ignore[arg-type]
        "arn:x",
        lambda progress: seen.append((progress.step, progress.status)),
    )
    watcher.poll()
    assert seen == [
        ("train", "InProgress"),
        ("train", "Completed"),
        ("evaluate", "InProgress"),
    ]


def test_a_fix_whose_moto_internals_moved_fails_naming_them() -> None:
    """Every fix's check_integration_points ends in require_unmoved: nothing moved passes,
    anything moved fails naming the pinned moto and each moved name."""
    from constructs_sm.local.extra import MOTO_VERSION, require_unmoved

    require_unmoved([], "its IAM internals changed")
    with pytest.raises(RuntimeError) as raised:
        require_unmoved(["Role.put_policy", "IAMBackend.create_role"], "its IAM internals changed")
    assert str(raised.value) == (
        f"constructs_sm.local supports moto {MOTO_VERSION} only; its IAM internals changed: "
        "Role.put_policy; IAMBackend.create_role"
    )


def test_patches_replace_once_keep_the_original_and_put_everything_back() -> None:
    """How the fixes patch moto (extra.Patches): a second install replaces without losing
    the original, the original is at hand, restore puts each attribute back."""
    from types import SimpleNamespace

    from constructs_sm.local.extra import Patches

    owner, other = SimpleNamespace(f="f0", g="g0"), SimpleNamespace(f="other0")
    patches = Patches()
    assert not patches and patches.original(owner, "f") == "f0"
    assert patches.original(owner, "missing") is None
    patches.replace(owner, "f", "f1")
    patches.replace(owner, "f", "f2")
    patches.replace(other, "f", "other1")
    assert patches and (owner.f, other.f) == ("f2", "other1")
    assert (patches.original(owner, "f"), patches.original(other, "f")) == ("f0", "other0")
    assert patches.original(owner, "g") == "g0"
    patches.restore()
    assert not patches and (owner.f, owner.g, other.f) == ("f0", "g0", "other0")

"""``python -m constructs_sm.local run``: deploy a CDK app into the emulator and run it.

::

    python -m constructs_sm.local run [--app "python app.py"] [--stack NAME]
        [--pipeline NAME] [--input JSON] [--data LOCAL_DIR=s3://bucket/prefix/ ...]
        [--json] [--work-dir DIR] [--project-dir DIR] [--cdk COMMAND|none]
        [--keep-running | --endpoint URL]
    python -m constructs_sm.local redrive EXECUTION --endpoint URL [--json]

1. start the emulator (:class:`~constructs_sm.local.emulator.Emulator`);
2. synthesize the app (``--app``: a command as in ``cdk.json``, or an assembly
   directory such as ``cdk.out``; default: the project's ``cdk.json``) and deploy it into
   the emulator: with the cdk CLI when one is found (``--cdk``, ``$CSM_CDK``,
   ``node_modules/.bin`` of the project or above, ``PATH``: ``cdk synth``, ``cdk
   bootstrap``, ``cdk deploy``), else through the emulator's CloudFormation API
   (:mod:`constructs_sm.local.cfn_deploy`);
3. upload each ``--data`` directory (``s3://{bucket}`` at the start of the URI stands
   for the pipeline's channel bucket, whose name is generated at deploy time; also at
   the start of a string value of ``--input``; see :mod:`constructs_sm.local.inputs`);
4. start one execution with ``--input`` and print each step's job as it starts and
   ends, then the returned values and the S3 tree of the run's handoff prefixes; a
   failed step's FailureReason and the last lines of its log;
5. stop the emulator. ``--json`` ends the output with one line holding
   ``{"status", "error", "cause", "execution_cause", "execution", "steps": {step: {"status",
   "job_name", "values", "outputs", "failure_reason", "log_tail"}}}``. The exit code is 0
   only when the execution succeeded.
   ``--keep-running`` keeps the emulator up after the execution, until SIGINT or
   SIGTERM, so that the execution can be redriven and the app run again in it:
   ``run --endpoint URL`` does steps 2-5 in that emulator (started by another process),
   deploying only the stacks whose template changed (:mod:`constructs_sm.local.kept`).

``redrive`` redrives a failed, aborted or timed-out execution (its ARN or name) of an
emulator kept running at ``--endpoint`` (``RedriveExecution``: the execution goes on
from the state that failed; see :mod:`constructs_sm.local.redrive`) and follows it to its
end as ``run`` does (the steps not run again keep their first attempt's result).

SIGINT (Ctrl-C) and SIGTERM stop the command at any point: the running jobs are killed
with every process they started, the emulator's temporary files are removed, the
command says so on stderr (and in the ``--json`` line, error ``Interrupted``) and exits
with 128 + the signal number (:mod:`constructs_sm.local.signals`).

An ``--input`` key that is not a declared parameter of the pipeline (as its step specs
declare them), or a value an AWS execution input cannot carry (NaN, infinities, NUL
characters, strings over their length limit, integral doubles of 1e7 and more for
integers), is refused before any execution starts. When the command fails before an
execution ends (a usage error, an unknown stack, a failed deploy, no such pipeline...),
``--json`` still ends the output with one line: ``{"status": "ERROR", "error": NAME,
"cause": MESSAGE, "steps": {}}`` where NAME is one of :data:`ERRORS`.

From Python, :func:`main` also accepts a running :class:`Emulator`: the command runs in
it (and leaves it running), and stacks deployed there from the same template are used as
they are, as with ``--endpoint``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO

import botocore.exceptions

from constructs_sm.local import kept, processes, signals
from constructs_sm.local.cdk_cli import CdkCli, CdkNotFoundError, find_cdk
from constructs_sm.local.cfn_deploy import AssemblyDeployer
from constructs_sm.local.deploy import (
    CdkDeployer,
    DeployedStack,
    Deployer,
    DeployError,
    assembly_dir,
    check_app,
    looked_in,
    not_created_resources,
    project_paths,
    stack_names,
    stack_templates,
)
from constructs_sm.local.emulator import Emulator
from constructs_sm.local.inputs import (
    InputError,
    fill_bucket,
    fill_input,
    inexpressible,
    parse_input,
)
from constructs_sm.local.isolation import current as current_isolation
from constructs_sm.local.printer import Printer
from constructs_sm.local.runner import (
    PipelineInfo,
    RunResult,
    declared_params,
    describe_pipeline,
    find_pipelines,
    seed,
    start,
    unknown_params,
    watch,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
#: ``status`` of the ``--json`` line when the command failed before an execution ended.
STATUS_ERROR: Final = "ERROR"
#: ``error`` of the ``--json`` line when the command failed before an execution ended.
ERRORS: Final = {
    "UsageError": "bad command line, --input, --data, --cdk or --app",
    "UnknownStack": "a --stack the app does not have",
    "DeployError": "synthesizing or deploying the app failed (with or without the cdk CLI)",
    "PipelineChoiceError": "no pipeline, several without --pipeline, or an unknown --pipeline",
    "DataError": "a --data directory could not be uploaded",
    "InvalidParameters": "--input keys that are not declared parameters of the pipeline, "
    "or values an AWS execution input cannot carry",
    "MissingDependency": "the [local] extra is not installed (python -m constructs_sm.local)",
    "NotRedrivable": "redrive: no such execution, or one AWS would not redrive",
    "AccessDenied": "--endpoint: the emulator refused the keys (use those run --keep-running "
    "printed)",
    "NoEmulator": "--endpoint: no emulator answers at that URL",
    "Interrupted": "SIGINT or SIGTERM: running jobs were killed, temporary files removed",
    "InternalError": "anything else (the traceback is on stderr)",
}


class CommandError(Exception):
    """The command failed before an execution ended; ``error`` is one of :data:`ERRORS`."""

    def __init__(self, error: str, cause: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(cause)
        self.error = error
        self.cause = cause
        self.exit_code = exit_code

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` line: ``{"status": "ERROR", "error", "cause", "steps": {}}``."""
        return {"status": STATUS_ERROR, "error": self.error, "cause": self.cause, "steps": {}}


class _ArgumentParser(argparse.ArgumentParser):
    """Raises a usage :class:`CommandError` instead of exiting (so ``--json`` can answer)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise CommandError("UsageError", f"{self.prog}: {message}", EXIT_USAGE)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    main = _ArgumentParser(
        prog="python -m constructs_sm.local",
        description="Run constructs_sm pipelines offline: an embedded AWS emulator (moto), "
        "its Step Functions interpreter and processing jobs as local processes.",
    )
    commands = main.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="deploy a CDK app into the emulator and run one pipeline execution",
        description="Deploy a CDK app into the emulator (with the cdk CLI when one is "
        "found, else through the emulator's CloudFormation API) and run one execution. "
        "s3://{bucket} at the start of a --data URI or of an --input string value stands "
        "for the pipeline's channel bucket; s3://{{bucket}} is a literal s3://{bucket}.",
    )
    run.add_argument(
        "--app",
        metavar="COMMAND|DIR",
        help="CDK app command as in cdk.json, or a cloud assembly directory "
        "(default: the project's cdk.json)",
    )
    run.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="NAME",
        help="stack to deploy (repeatable; default: every stack of the app)",
    )
    run.add_argument(
        "--pipeline", metavar="NAME", help="the pipeline to run when the stacks hold several"
    )
    run.add_argument(
        "--input",
        nargs="+",
        default=["{}"],
        metavar="JSON",
        help="execution input, a JSON object (words after --input are joined with spaces, "
        "so an unquoted object split by a shell still parses; the last --input wins)",
    )
    run.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="LOCAL_DIR=S3_URI",
        help="upload LOCAL_DIR to the S3 prefix before the run (repeatable)",
    )
    run.add_argument("--json", action="store_true", help="end with one line of JSON")
    run.add_argument(
        "--work-dir",
        type=_absolute,
        metavar="DIR",
        help="keep job directories (inputs, outputs, logs) here instead of a temporary one",
    )
    run.add_argument(
        "--project-dir",
        type=_absolute,
        metavar="DIR",
        default=Path.cwd(),
        help="the CDK project folder, where the app runs and cdk.json is read (default: .)",
    )
    run.add_argument(
        "--cdk",
        metavar="COMMAND",
        help="the cdk CLI to deploy with, or 'none' to deploy through the emulator's "
        "CloudFormation API (default: $CSM_CDK, node_modules/.bin/cdk in the project or "
        "above, cdk on PATH, else none)",
    )
    run.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the emulator up after the execution (until Ctrl-C), to redrive it or to "
        "run the app again in it with --endpoint",
    )
    run.add_argument(
        "--endpoint",
        metavar="URL",
        help="run in the emulator another run --keep-running keeps at URL, with the keys it "
        "printed in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: the stacks it holds from "
        "the same template are used as they are (no bootstrap, no deploy), the others are "
        "deployed",
    )
    redrive = commands.add_parser(
        "redrive",
        help="redrive a failed execution in an emulator kept running by run --keep-running",
        description="Redrive (RedriveExecution) a failed, aborted or timed-out execution: "
        "it goes on from the state that failed, with the same input; steps that "
        "succeeded are not run again.",
    )
    redrive.add_argument("execution", help="the execution's ARN or name")
    redrive.add_argument(
        "--endpoint", required=True, help="the emulator's endpoint (http://localhost:PORT)"
    )
    redrive.add_argument("--json", action="store_true", help="end with one line of JSON")
    return main


def _absolute(value: str) -> Path:
    """A path argument made absolute against the current directory (jobs run elsewhere)."""
    return Path(value).expanduser().absolute()


def _data_args(values: Sequence[str], project_dir: Path) -> list[tuple[Path, str]]:
    """Each ``LOCAL_DIR=s3://...`` of ``--data``; a relative ``LOCAL_DIR`` is looked for in
    the current folder, then in the project's (as ``--app``)."""
    pairs = []
    for value in values:
        local, sep, uri = value.partition("=")
        if not sep or not uri.startswith("s3://"):
            raise ValueError(f"--data must be LOCAL_DIR=s3://bucket/prefix/, got {value!r}")
        places = project_paths(local, project_dir)
        found = next((place for place in places if place.is_dir()), None)
        if found is None:
            raise ValueError(f"--data {value!r}: no directory {looked_in(places)}")
        pairs.append((found, uri))
    return pairs


def _choose(pipelines: list[PipelineInfo], wanted: str | None) -> PipelineInfo:
    names = ", ".join(p.name for p in pipelines) or "(none)"
    if wanted:
        for pipeline in pipelines:
            if pipeline.name == wanted:
                return pipeline
        raise ValueError(f"--pipeline {wanted!r} is not deployed; pipelines: {names}")
    if not pipelines:
        raise ValueError(
            "the stacks deployed hold no constructs_sm pipeline; name the stack that holds "
            "one with --stack"
        )
    if len(pipelines) != 1:
        raise ValueError(
            f"the stacks hold {len(pipelines)} constructs_sm pipelines ({names}); "
            "choose one with --pipeline"
        )
    return pipelines[0]


def run(args: argparse.Namespace, out: TextIO, *, emulator: Emulator | None = None) -> int:
    """The ``run`` and ``redrive`` commands; returns the exit code.

    :param emulator: a running emulator to use (left running) instead of starting one;
        the stacks deployed in it from the same template are used as they are.
    """
    printer = Printer(out)
    session = _Session()
    try:
        with signals.interrupt_on():
            if args.command == "redrive":
                result = _redrive(args, printer, emulator)
            else:
                result = _run(args, printer, emulator, session)
    except signals.Interrupted as interrupted:
        failed = CommandError(
            "Interrupted", session.interrupted(interrupted), interrupted.exit_code
        )
        print(f"error: {failed.cause}", file=sys.stderr, flush=True)
        if args.json:
            printer.line(json.dumps(failed.to_json(), sort_keys=True))
        return failed.exit_code
    except CommandError as error:
        print(f"error: {error.cause}", file=sys.stderr)
        if args.json:
            printer.line(json.dumps(error.to_json(), sort_keys=True))
        return error.exit_code
    except Exception as error:  # --json must answer whatever went wrong
        traceback.print_exc()
        if args.json:
            failed = CommandError("InternalError", f"{type(error).__name__}: {error}")
            printer.line(json.dumps(failed.to_json(), sort_keys=True))
        return EXIT_FAILED
    if args.json:
        printer.line(json.dumps(result.to_json(), sort_keys=True))
    return 0 if result.succeeded else EXIT_FAILED


class _Session:
    """What an interrupted command had: its emulator (if it started one), or the execution
    it started in an emulator of another process (``--endpoint``), which it stopped."""

    def __init__(self) -> None:
        self.emulator: Emulator | None = None
        self.attached: Emulator | None = None
        self.execution: str | None = None

    def interrupted(self, interrupted: signals.Interrupted) -> str:
        if self.attached is not None:
            return f"{interrupted}: {self._stop_execution(self.attached)}"
        emulator = self.emulator
        if emulator is None:
            return f"{interrupted} before the emulator started"
        files = (
            f"removed its temporary files ({emulator.work_dir})"
            if emulator.owns_work_dir
            else f"kept --work-dir {emulator.work_dir}"
        )
        return (
            f"{interrupted}: stopped the emulator, killed {emulator.stopped_jobs} running "
            f"job(s) with every process they started, {files}"
        )

    def _stop_execution(self, emulator: Emulator) -> str:
        """StopExecution of the execution this command started, if any: its jobs are
        stopped there (their processes killed), as on AWS; the emulator keeps running."""
        kept_running = f"the emulator at {emulator.endpoint} keeps running"
        if self.execution is None:
            return f"no execution was started; {kept_running}"
        name = self.execution.rsplit(":", 1)[-1]
        try:
            emulator.client("stepfunctions").stop_execution(
                executionArn=self.execution, error="Interrupted", cause="run was interrupted"
            )
        except botocore.exceptions.ClientError as error:  # it had ended meanwhile
            return f"execution {name} was not stopped ({error}); {kept_running}"
        return f"stopped execution {name} (StopExecution: its jobs are stopped); {kept_running}"


def _parse_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[Path, str]]]:
    try:
        return parse_input(" ".join(args.input)), _data_args(args.data, args.project_dir)
    except (InputError, ValueError) as error:
        raise CommandError("UsageError", str(error), EXIT_USAGE) from error


def _find_cdk(args: argparse.Namespace) -> CdkCli | None:
    """The cdk CLI to deploy with (None: the built-in deployer); checked before anything
    starts, so a ``--cdk`` or ``$CSM_CDK`` naming no executable is a usage error."""
    try:
        return find_cdk(args.project_dir, explicit=args.cdk)
    except CdkNotFoundError as error:
        raise CommandError("UsageError", str(error), EXIT_USAGE) from error


def _check_app(args: argparse.Namespace) -> None:
    """No app (no ``--app`` and no ``cdk.json``), or an ``--app`` naming no assembly and
    no command, is a usage error, found before the emulator starts."""
    if args.app is not None and assembly_dir(args.app, args.project_dir) is not None:
        return
    try:
        check_app(args.project_dir, args.app)
    except DeployError as error:
        raise CommandError("UsageError", str(error), EXIT_USAGE) from error


def _deploy(
    emulator: Emulator,
    args: argparse.Namespace,
    printer: Printer,
    reuse: bool,
    cdk: CdkCli | None,
) -> list[DeployedStack]:
    deployer: Deployer
    if cdk is not None:
        printer.line(f"cdk CLI: {cdk}")
        deployer = CdkDeployer(
            emulator, project_dir=args.project_dir, app=args.app, log=printer.line, cdk=cdk
        )
    else:
        printer.line(
            "no cdk CLI (--cdk, $CSM_CDK, node_modules/.bin, PATH): deploying through the "
            "emulator's CloudFormation API"
        )
        deployer = AssemblyDeployer(
            emulator, project_dir=args.project_dir, app=args.app, log=printer.line
        )
    try:
        assembly = deployer.synth(emulator.work_dir / "cdk.out")
        names = stack_names(assembly)
        unknown = [name for name in args.stack if name not in names]
        if unknown:
            raise CommandError(
                "UnknownStack",
                f"no stack {', '.join(map(repr, unknown))} in the app; its stacks: "
                f"{', '.join(names) or '(none)'}",
            )
        wanted = list(args.stack) or names
        plan = kept.stacks_to_deploy(emulator, assembly, wanted) if reuse else None
        templates = stack_templates(assembly)
        for name in list(plan.deploy) if plan is not None else wanted:
            if skipped := not_created_resources(templates.get(name, {})):
                printer.line(
                    f"  {name}: not created offline (moto's CloudFormation has no such "
                    f"resource; a Ref or GetAtt of them is empty): {', '.join(skipped)}"
                )
        if plan is not None:
            for name in plan.unchanged:
                printer.line(
                    f"{name}: deployed in this emulator from the same template: not deployed again"
                )
            if plan.unchanged and assembly_dir(args.app, args.project_dir) is not None:
                printer.line(
                    f"  (--app {args.app} is a synthesized assembly, taken as it is: an edit of "
                    "the app or its scripts since it was synthesized is not in it; leave --app "
                    "out to synthesize the app each run)"
                )
            if not plan.deploy:
                return list(plan.unchanged.values())
            for name, why in plan.deploy.items():
                printer.line(f"{name}: {why}: deploying it")
        if plan is not None and deployer.bootstrapped():
            printer.line("CDKToolkit is in this emulator: not bootstrapped again")
        else:
            deployer.bootstrap(assembly)
        deployed = deployer.deploy(assembly, list(plan.deploy) if plan is not None else wanted)
    except DeployError as error:
        raise CommandError("DeployError", str(error)) from error
    stacks = deployed + list(plan.unchanged.values()) if plan is not None else deployed
    for stack in stacks:
        if stack.api_created:
            printer.line(
                f"  {stack.name}: bucket policies applied without their TLS-only statements "
                f"(the emulator is plain HTTP): {', '.join(stack.api_created)}"
            )
        if stack.not_created:
            printer.line(
                f"  {stack.name}: not applied (TLS-only, the emulator is plain HTTP): "
                f"{', '.join(stack.not_created)}"
            )
    return stacks


def _check_params(
    emulator: Emulator, pipeline: PipelineInfo, params: dict[str, Any], printer: Printer
) -> None:
    declared = declared_params(emulator, pipeline)
    if declared is None:
        printer.line("(the pipeline's step specs could not be read: --input keys not checked)")
    unknown = unknown_params(params, declared) if declared is not None else []
    if unknown:
        verb = "is not a declared parameter" if len(unknown) == 1 else "are not declared parameters"
        raise CommandError(
            "InvalidParameters",
            f"--input: {', '.join(map(repr, unknown))} {verb} of pipeline {pipeline.name}; "
            f"it declares: {', '.join(declared or {}) or '(none)'}",
        )
    problems = inexpressible(params, declared or {})
    if problems:
        raise CommandError("InvalidParameters", "--input: " + "; ".join(problems))


def _run(
    args: argparse.Namespace, printer: Printer, emulator: Emulator | None, session: _Session
) -> RunResult:
    params, data = _parse_inputs(args)
    cdk = _find_cdk(args)
    _check_endpoint_options(args)
    _check_app(args)
    begin = time.monotonic()
    with contextlib.ExitStack() as stack:
        reuse = emulator is not None or args.endpoint is not None
        if args.endpoint is not None:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="csm-run-")))
            emulator = session.attached = _attach(args.endpoint, scratch)
            printer.line(f"emulator at {emulator.endpoint} (another process keeps it running)")
        else:
            if emulator is None:
                session.emulator = Emulator(work_dir=args.work_dir)
                emulator = stack.enter_context(session.emulator)
            printer.line(f"emulator at {emulator.endpoint} (moto, region {emulator.region})")
            printer.line(current_isolation().describe())
        if (args.work_dir is not None or reuse) and emulator.jobs_dir is not None:
            printer.log_hint = f"the job's files and logs: {emulator.jobs_dir}/<job>/"
        stacks = _deploy(emulator, args, printer, reuse, cdk)
        try:
            pipeline = _choose(find_pipelines(emulator, stacks), args.pipeline)
        except ValueError as error:
            raise CommandError("PipelineChoiceError", str(error)) from error
        for local, uri in data:
            target = fill_bucket(uri, pipeline.bucket)
            try:
                keys = seed(emulator, local, target)
            except (ValueError, botocore.exceptions.ClientError) as error:
                raise CommandError("DataError", str(error)) from error
            printer.line(f"uploaded {len(keys)} file(s) from {local} to {target}")
        params = fill_input(params, pipeline.bucket)
        _check_params(emulator, pipeline, params, printer)
        printer.width = max([len(s) for s in pipeline.steps] + [4])
        arn, name = start(emulator, pipeline, params)
        session.execution = arn
        printer.line(f"execution {name} of pipeline {pipeline.name}, input {json.dumps(params)}")
        result = watch(emulator, pipeline, arn, on_progress=printer.progress)
        printer.result(result, pipeline, emulator)
        session.execution = None  # it ended: nothing to stop
        if args.keep_running:
            result = _keep_running(emulator, args, result, printer)
    printer.line(f"total {time.monotonic() - begin:.1f}s")
    return result


def _check_endpoint_options(args: argparse.Namespace) -> None:
    """``--endpoint`` runs in an emulator of another process: options about this one's
    emulator do not apply."""
    if args.endpoint is None:
        return
    for given, option, why in (
        (args.keep_running, "--keep-running", "that emulator is already kept running"),
        (args.work_dir is not None, "--work-dir", "the jobs run in that emulator's process, "
         "with its work directory"),
    ):  # fmt: skip
        if given:
            raise CommandError(
                "UsageError",
                f"{option} cannot be used with --endpoint {args.endpoint}: {why}",
                EXIT_USAGE,
            )


def _attach(endpoint: str, scratch: Path) -> Emulator:
    try:
        return kept.attach(endpoint, scratch)
    except kept.NoEmulatorError as error:
        raise CommandError("NoEmulator", str(error)) from error
    except kept.KeysRefusedError as error:
        raise CommandError("AccessDenied", str(error)) from error


def _keep_running(
    emulator: Emulator, args: argparse.Namespace, result: RunResult, printer: Printer
) -> RunResult:
    """Wait for SIGINT/SIGTERM; the result is then the execution's state (redriven?)."""
    emulator.publish_jobs_dir()
    for line in kept.kept_running_lines(emulator, result.execution_arn, args):
        printer.line(line)
    try:
        while True:
            time.sleep(3600)
    except signals.Interrupted:
        described = emulator.client("stepfunctions").describe_execution(
            executionArn=result.execution_arn
        )
        status = str(described["status"])
        printer.line(f"stopping: execution {result.execution_name} is {status}")
        result.status = status
        result.error, result.cause = described.get("error"), described.get("cause")
        return result


def _redrive(args: argparse.Namespace, printer: Printer, emulator: Emulator | None) -> RunResult:
    """``redrive EXECUTION``: RedriveExecution, then follow the execution to its end."""
    if emulator is None:
        emulator = Emulator.attach(args.endpoint)
    sfn = emulator.client("stepfunctions")
    try:
        arn = _execution_arn(sfn, args.execution)
        machine = sfn.describe_state_machine_for_execution(executionArn=arn)
        newest = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)
        history = max((int(event["id"]) for event in newest["events"]), default=0)
        sfn.redrive_execution(executionArn=arn)
    except botocore.exceptions.EndpointConnectionError as error:
        raise CommandError("NoEmulator", f"no emulator answers at {args.endpoint}") from error
    except botocore.exceptions.ClientError as error:
        if kept.refused(error):
            raise CommandError(
                "AccessDenied", kept.refused_message(args.endpoint, error, "redrive")
            ) from error
        raise CommandError("NotRedrivable", str(error)) from error
    definition = json.loads(machine["definition"])
    pipeline = describe_pipeline(definition, str(machine["stateMachineArn"]), "")
    if pipeline is None:
        raise CommandError("NotRedrivable", f"{arn} is not a constructs_sm pipeline's execution")
    printer.width = max([len(s) for s in pipeline.steps] + [4])
    printer.line(f"redriving execution {arn.rsplit(':', 1)[-1]} of pipeline {pipeline.name}")
    result = watch(emulator, pipeline, arn, on_progress=printer.progress, history_from=history)
    printer.result(result, pipeline, emulator)
    return result


def _execution_arn(sfn: Any, execution: str) -> str:
    """The ARN of ``execution`` (an ARN, or the name of an execution of the emulator)."""
    if execution.startswith("arn:"):
        return execution
    for machines in sfn.get_paginator("list_state_machines").paginate():
        for machine in machines["stateMachines"]:
            pages = sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"]
            )
            for page in pages:
                for item in page["executions"]:
                    if item["name"] == execution:
                        return str(item["executionArn"])
    raise CommandError("NotRedrivable", f"no execution named {execution!r} in the emulator")


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    *,
    emulator: Emulator | None = None,
) -> int:
    """Entry point of ``python -m constructs_sm.local``.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :param out: where the report goes (default: stdout); errors go to stderr.
    :param emulator: a running emulator to use instead of starting one (see :func:`run`).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    try:
        args = parser().parse_args(arguments)
    except CommandError as error:
        print(f"error: {error.cause}", file=sys.stderr)
        if "--json" in arguments:
            print(json.dumps(error.to_json(), sort_keys=True), file=out, flush=True)
        return error.exit_code
    return run(args, out, emulator=emulator)


def main_process() -> int:
    """``python -m constructs_sm.local`` as a process of its own: :func:`main`, as the
    child subreaper of what it starts, killing whatever is left of it when interrupted."""
    processes.become_subreaper()
    code = main()
    if code >= 128:
        signals.kill_descendants()
    return code

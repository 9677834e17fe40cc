"""Scale: build+synth time, template size, resources and IAM sizes for N-step pipelines.

Run from the repository root after ``make setup`` (``make bench`` runs it)::

    .venv/bin/python -m tests.benchmarks.bench_scale [--steps 1 50 100 200] [--runs 3]

For each N it synthesizes, in fresh processes taken in turn (library, floor, floor with
roles, library, ...: the machines are noisy, so ratios are taken within a round), three
apps:

- library: a ``ProcessingPipeline`` of N steps shaped as chains, a fan-out and a fan-in
  (one source step, four chains, one joining step), every step with an input, an output
  and an environment value, one in ten returning a value;
- floor: the same N ``createProcessingJob.sync`` tasks written by hand as ``CustomState``s
  with inline JSON, one role and one bucket (what the library saves a user from writing);
- floor with roles: the floor with one least-privilege role per task instead of the one
  role, written by hand as the cheapest CDK form there is (``CfnRole``s of literal JSON:
  a trust for the task's jobs only, an inline policy of the task's prefixes only). It
  tells what least privilege costs by itself, in any app, library or not: the library
  gives each step such a role (an ``iam.Role``, so ``step.role`` takes grants).

It prints, per N: the median build+synth time of the library and the floor (app creation
to the end of ``app.synth()``; the ``constructs_sm`` or ``aws_cdk.aws_*`` imports inside
the app function count, ``import aws_cdk`` does not) and the median of the per-round
ratios, the template's bytes as written and without whitespace (what
``suppress_template_indentation`` writes) and its resources, the largest inline policy of
a role, the managed policies per role and the state-machine definition's bytes, against
the limits (CloudFormation: 500 resources, 1,000,000 bytes; IAM: 10,240 characters of
inline policies per role, 10 managed policies per role; Step Functions: 1,048,576
characters of definition). Then the floor with roles: its time, its ratio to the floor
and the library's ratio to it.

``--without-cdk-validation`` times every pair a second time with aws-cdk-lib's built-in
template validation off (``CDK_VALIDATION=false``; since aws-cdk-lib 2.27x every synth
runs ``@aws/cloudformation-validate`` on every template by default), and prints those
ratios and the validation's share of the library's time: which part of the time is the
library's own, and which aws-cdk-lib spends checking what the library generated.

The largest N's library template is synthesized once more (untimed) and linted with
cfn-lint; its errors and warnings are printed ("clean" when there are none).

``--offline N [N ...]`` also deploys each N-step library app (and the 1-step one) into the
offline engine and runs one execution of each, reporting the state transitions per step
and the fixed overhead::

    .venv/bin/python -m tests.benchmarks.bench_scale --steps 1 --runs 1 --offline 20

Each offline run is a fresh process (like the synth runs) with a fresh ``Emulator()`` (IAM
enforced): a temporary directory gets a CDK app calling :func:`library_stack` with N and a
step script that works for every step (it reads the step's spec, counts its input files,
writes one file per output channel and returns ``rows`` where the step declares it: the
bench's own ``code``, stacks/scripts/prepare.py, needs the example's raw data and
environment); ``cdk synth``, ``bootstrap`` and ``deploy`` put it into the emulator, and
one execution with the parameters' defaults is started and watched to its end (no data
is seeded: the first step has no inputs). The timeout is 600 s + 6 s per step.

Transitions are counted as Step Functions bills them, one per state entered: the events
of GetExecutionHistory (every page) whose type ends with ``StateEntered``, states inside
Parallel branches included. A Distributed Map's child executions (``for_each`` steps)
have histories of their own, which are *not* counted; the bench app has none (the number
of ``MapRunStarted`` events is printed, 0).

Per step and overhead, two methods:

- by state name (the figures compared with the targets): a state entered belongs to step
  ``sK`` when ``sK`` is one of the words of its name (``Run sK``, ``Check sK values``,
  ``sK error``, ``Retry sK``...); per step = the steps' transitions / N, which is
  (total - overhead) / N, and the overhead is every other transition, listed by name
  (the parameter states before the first step, and one per Parallel state: the app's
  fan-out/fan-in, which does not grow with N once N >= 6);
- differential, for N > 1: N = 1 is run as well, and per step = (T(N) - T(1)) / (N - 1),
  overhead = T(1) - per step. This charges the Parallel state and the returned-value
  checks (one step in ten) to the steps, so it is printed only as a check.

The targets (at most 1 transition per processing step, 2 for a step that returns values;
a fixed per-execution overhead of at most 5 transitions) are printed with each result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from constructs_sm.assembly import with_hosted_definitions
from tests.benchmarks import ROOT, environment

SCRIPT = ROOT / "stacks" / "scripts" / "prepare.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:1"
CONTEXT = {"@aws-cdk/core:stackResourceLimit": 0}  # measure past 500; the limit is reported
_MACHINE = "AWS::StepFunctions::StateMachine"
#: Set to 1 in a library child's environment: it also runs cfn-lint on its template.
LINT_VARIABLE = "BENCH_CFN_LINT"
#: The ``--child`` kinds of the floor with one least-privilege role per task, by the role's
#: CDK form.
ROLE_FLOORS = {"floor-cfn-roles": "CfnRole", "floor-iam-roles": "iam.Role"}
SAGEMAKER = "sagemaker.amazonaws.com"
TRUST_SID = "SageMakerRunsThisStepsJobs"  # the library's
#: The IAM path of the floor's task roles (the library's step roles have one too).
TASK_ROLE_PATH = "/floor-tasks/"
#: SageMaker's log group (and metrics namespace) of processing jobs.
JOB_LOGS = "/aws/sagemaker/ProcessingJobs"


# -- the two apps (run inside a child process) ---------------------------------------------


def library_stack(app: Any, steps: int, code: Path = SCRIPT) -> Any:
    """A ProcessingPipeline of ``steps`` steps: source -> 4 chains -> join, every step
    running ``code``."""
    import aws_cdk as cdk

    from constructs_sm import ChannelBucket, Param, ProcessingImage, ProcessingPipeline

    stack = cdk.Stack(app, "Bench")
    pipeline = ProcessingPipeline(
        stack,
        "Bench",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE),
        params=[
            Param.integer("epochs", default=3, minimum=1),
            Param.string("mode", default="a", max_length=32),
        ],
    )
    first = pipeline.add_step(
        "s0", code=code, outputs=["out"], env={"EPOCHS": pipeline.param("epochs")}
    )
    if steps == 1:
        return stack
    middle = steps - 2
    chains = [list(range(1 + c, 1 + middle, 4)) for c in range(4)]
    ends = []
    for chain in chains:
        previous = first
        for index in chain:
            previous = pipeline.add_step(
                f"s{index}",
                code=code,
                inputs={"data": previous.output("out")},
                outputs=["out"],
                env={"MODE": pipeline.param("mode")},
                returns={"rows": int} if index % 10 == 0 else None,
            )
        if chain:
            ends.append(previous)
    pipeline.add_step(
        f"s{steps - 1}",
        code=code,
        inputs={f"in{i}": end.output("out") for i, end in enumerate(ends or [first])},
    )
    return stack


def floor_stack(app: Any, steps: int, *, roles: str | None = None) -> Any:
    """The same number of processing tasks, written by hand: one role, one bucket.

    With ``roles`` (``"CfnRole"`` or ``"iam.Role"``), each task gets a role of its own
    instead, in that CDK form, as each step role the library writes: SageMaker may assume
    it only for that task's jobs (``aws:SourceAccount``, ``aws:SourceArn``), its inline
    policy reaches only that task's S3 prefixes, it carries one managed policy shared by
    all (logs, image, metrics) and the state machine's role passes only roles of their
    path and starts only their jobs. What least privilege costs a hand-written app,
    without the library.
    """
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_stepfunctions as sfn

    stack = cdk.Stack(app, "Bench")
    bucket = s3.Bucket(stack, "Bucket")
    task_roles = _task_role_arns(stack, bucket, steps, style=roles) if roles else None
    if task_roles is None:
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal(SAGEMAKER))
        bucket.grant_read_write(role)
    chain: Any = None
    for index in range(steps):
        state = sfn.CustomState(
            stack,
            f"s{index}",
            state_json={
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    # With roles, each task's jobs are named as its role's trust expects.
                    "ProcessingJobName.$": f"States.Format('job-{index}-{{}}', $$.Execution.Name)"
                    if roles
                    else "States.Format('job-{}', $$.Execution.Name)",
                    # (the one role's ARN read per task, as the floor always has)
                    "RoleArn": task_roles[index] if task_roles else role.role_arn,
                    "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3"]},
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceCount": 1,
                            "InstanceType": "ml.m5.xlarge",
                            "VolumeSizeInGB": 30,
                        }
                    },
                    "ProcessingInputs": [
                        {
                            "InputName": "data",
                            "S3Input": {
                                "S3Uri": f"s3://{bucket.bucket_name}/in/",
                                "LocalPath": "/opt/ml/processing/input/data",
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
                                    "S3Uri": f"s3://{bucket.bucket_name}/out/{index}/",
                                    "LocalPath": "/opt/ml/processing/output/out",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ]
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                },
                "ResultPath": f"$.s{index}",
            },
        )
        chain = state if chain is None else chain.next(state)
    machine_role = iam.Role(
        stack, "MachineRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com")
    )
    for statement in _machine_statements(stack, least_privilege=roles is not None):
        machine_role.add_to_policy(statement)
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(chain),
        role=machine_role,
    )
    return stack


def _machine_statements(stack: Any, *, least_privilege: bool) -> list[Any]:
    """The floor's state-machine role: ``sagemaker:*`` and ``iam:PassRole`` on ``*``; with
    least privilege, the job actions on the tasks' job names and PassRole of the task
    roles' path to SageMaker only, as the library scopes them."""
    from aws_cdk import Aws
    from aws_cdk import aws_iam as iam

    if not least_privilege:
        return [iam.PolicyStatement(actions=["sagemaker:*", "iam:PassRole"], resources=["*"])]

    def arn(service: str, resource: str) -> str:
        return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"

    return [
        iam.PolicyStatement(
            actions=[
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
                "sagemaker:AddTags",
            ],
            resources=[arn("sagemaker", "processing-job/job-*")],
        ),
        iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[arn("events", "rule/StepFunctionsGetEventsForSageMaker*")],
        ),
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role{TASK_ROLE_PATH}*"],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
        ),
    ]


def _shared_task_policy(stack: Any, bucket: Any) -> Any:
    """What every task role needs besides its prefixes, once, as the library's shared
    managed policy: its job logs, the image, the ECR token, metrics."""
    from aws_cdk import Aws
    from aws_cdk import aws_iam as iam

    logs = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{JOB_LOGS}"
    repository = IMAGE.split(":")[0].split("/", 1)[1]
    return iam.ManagedPolicy(
        stack,
        "TaskPolicy",
        statements=[
            iam.PolicyStatement(
                sid="WriteJobLogStreams",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{logs}:log-stream:job-*"],
            ),
            iam.PolicyStatement(
                sid="CreateJobLogGroup",
                actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
                resources=[f"{logs}:*"],
            ),
            iam.PolicyStatement(
                sid="PullImage",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                resources=[
                    f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{Aws.ACCOUNT_ID}:repository/{repository}"
                ],
            ),
            iam.PolicyStatement(
                sid="EcrAuthorizationToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]
            ),
            iam.PolicyStatement(
                sid="PutJobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": JOB_LOGS}},
            ),
        ],
    )


def _task_role_arns(stack: Any, bucket: Any, steps: int, *, style: str) -> list[str]:
    """One least-privilege role per task of :func:`floor_stack`; their ARNs. ``style``:
    ``CfnRole`` (an L1 of literal JSON) or ``iam.Role`` (as the library writes a step's:
    the trust's conditions on the principal, the inline policy from JSON, the trust
    statement's ``Sid`` by override)."""
    from aws_cdk import Aws
    from aws_cdk import aws_iam as iam

    bucket_arn = bucket.bucket_arn
    account = Aws.ACCOUNT_ID
    jobs = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{account}:processing-job"
    shared = _shared_task_policy(stack, bucket)
    shared_arn = shared.managed_policy_arn
    arns = []
    for index in range(steps):
        conditions = {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"{jobs}/job-{index}-*"},
        }
        channels = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadObjects",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/in/*",
                },
                {
                    "Sid": "ReadList",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": ["in/*"]}},
                },
                {
                    "Sid": "WriteObjects",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                    "Resource": f"{bucket_arn}/out/{index}/*",
                },
            ],
        }
        if style == "iam.Role":
            role = iam.Role(
                stack,
                f"Role{index}",
                assumed_by=iam.ServicePrincipal(SAGEMAKER, conditions=conditions),
                path=TASK_ROLE_PATH,
                inline_policies={"Channels": iam.PolicyDocument.from_json(channels)},
                managed_policies=[shared],
            )
            resource = role.node.default_child
            assert isinstance(resource, iam.CfnRole)
            resource.add_property_override("AssumeRolePolicyDocument.Statement.0.Sid", TRUST_SID)
            arns.append(role.role_arn)
            continue
        trust = {
            "Sid": TRUST_SID,
            "Effect": "Allow",
            "Principal": {"Service": SAGEMAKER},
            "Action": "sts:AssumeRole",
            "Condition": conditions,
        }
        cfn_role = iam.CfnRole(
            stack,
            f"Role{index}",
            assume_role_policy_document={"Version": "2012-10-17", "Statement": [trust]},
            path=TASK_ROLE_PATH,
            policies=[{"policyName": "Channels", "policyDocument": channels}],
            managed_policy_arns=[shared_arn],
        )
        arns.append(cfn_role.attr_arn)
    return arns


def child(kind: str, steps: int, outdir: str) -> None:
    """Build and synthesize one app; print the timing and sizes as one JSON line."""
    import aws_cdk as cdk

    begin = time.perf_counter()
    app = cdk.App(outdir=outdir, context=CONTEXT)
    if kind == "library":
        stack = library_stack(app, steps)
    else:
        stack = floor_stack(app, steps, roles=ROLE_FLOORS.get(kind))
    app.synth()
    elapsed = time.perf_counter() - begin
    text = (Path(outdir) / f"{stack.artifact_id}.template.json").read_text()
    parsed = json.loads(text)
    # What suppress_template_indentation=True would write (JSON without whitespace).
    compact = len(json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode())
    template = with_hosted_definitions(parsed, Path(outdir))
    figures = measure(template, len(text.encode()))
    if os.environ.get(LINT_VARIABLE) == "1":
        figures["cfn_lint"] = lint(text)
    print(json.dumps({"seconds": elapsed, "compact_bytes": compact, **figures}))


def lint(text: str) -> list[str]:
    """cfn-lint's errors and warnings on a template (informational matches left out), as
    ``make test`` holds the example's templates to."""
    import cfnlint.api

    return [
        f"{match.rule.id} {match.message}"
        for match in cfnlint.api.lint_all(text)
        if not match.rule.id.startswith("I")
    ]


def measure(template: dict[str, Any], size: int) -> dict[str, Any]:
    """Template bytes and resources, IAM sizes, definition bytes."""
    resources = template["Resources"]
    inline: dict[str, int] = {}
    managed: dict[str, int] = {}
    for logical_id, resource in resources.items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                inline[logical_id] = inline.get(logical_id, 0) + _chars(policy["PolicyDocument"])
            for _ in props.get("ManagedPolicyArns", []):
                managed[logical_id] = managed.get(logical_id, 0) + 1
        if kind == "AWS::IAM::Policy":
            for role in props.get("Roles", []):
                name = str(role.get("Ref") if isinstance(role, dict) else role)
                inline[name] = inline.get(name, 0) + _chars(props["PolicyDocument"])
        if kind == "AWS::IAM::ManagedPolicy":
            for role in props.get("Roles", []):
                name = str(role.get("Ref") if isinstance(role, dict) else role)
                managed[name] = managed.get(name, 0) + 1
    machines = [r["Properties"] for r in resources.values() if r["Type"] == _MACHINE]
    # The definition's characters (a hosted one read back from its asset; an inline one
    # as the JSON text of its DefinitionString, Fn::Join included).
    definitions = [
        len(p["DefinitionString"])
        if isinstance(p.get("DefinitionString"), str)
        else len(json.dumps(p.get("DefinitionString", "")))
        for p in machines
    ]
    return {
        "template_bytes": size,
        "resources": len(resources),
        "largest_inline_policy": max(inline.values(), default=0),
        "most_managed_policies": max(managed.values(), default=0),
        "definition_bytes": max(definitions, default=0),
        "hosted": any("DefinitionS3Location" in p for p in machines),
    }


def _chars(document: Any) -> int:
    """IAM counts policy characters without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


# -- offline: one execution in the engine (run inside a child process) ----------------------

#: A step script for every step of the bench app (written next to the app).
STEP_SCRIPT = '''"""A bench step: count its input files, write its outputs, return rows."""

from constructs_sm import runtime

spec = runtime.spec() or {}
runtime.params()
files = sum(
    1 for name in spec.get("inputs") or [] for p in runtime.input_dir(name).rglob("*")
    if p.is_file()
)
for name in spec.get("outputs") or []:
    (runtime.output_dir(name) / "part.txt").write_text(f"{runtime.step_name()}: {files}\\n")
if "rows" in (spec.get("returns") or {}):
    runtime.emit(rows=files)
'''

#: The CDK app ``cdk synth`` runs: the bench's library app of N steps.
APP = """import sys
from pathlib import Path

sys.path.insert(0, {root!r})

import aws_cdk as cdk

from tests.benchmarks.bench_scale import CONTEXT, library_stack

app = cdk.App(context=CONTEXT)
library_stack(app, {steps}, code=Path({code!r}))
app.synth()
"""

#: A state's name mentions its step as a word (``Run s3``, ``Check s3 values``, ``s3 error``).
_WORD = re.compile(r"[^\s()]+")
#: The issue's targets.
TARGET_PER_STEP, TARGET_PER_RETURNING_STEP, TARGET_OVERHEAD = 1, 2, 5


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of an execution's history (GetExecutionHistory, all pages)."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def transitions(events: list[dict[str, Any]], steps: set[str]) -> dict[str, Any]:
    """State transitions (``*StateEntered`` events), by step and outside the steps."""
    entered = [e for e in events if str(e["type"]).endswith("StateEntered")]
    by_step: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    for event in entered:
        name = str((event.get("stateEnteredEventDetails") or {}).get("name", "?"))
        owners = set(_WORD.findall(name)) & steps
        if len(owners) == 1:
            by_step[owners.pop()] += 1
        else:
            outside[name] += 1
    return {
        "total": len(entered),
        "by_step": dict(by_step),
        "outside": dict(outside),
        "map_runs": sum(e["type"] == "MapRunStarted" for e in events),
        "events": len(events),
    }


def offline_child(steps: int, workdir: str) -> None:
    """Deploy the N-step library app into a fresh emulator, run one execution to its end;
    print what was measured as one JSON line (also when it failed part way)."""
    from constructs_sm.local import Emulator
    from constructs_sm.local.deploy import CdkDeployer
    from constructs_sm.local.runner import Progress, find_pipelines, start, watch

    folder = Path(workdir)
    script = folder / "scripts" / "step.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(STEP_SCRIPT)
    app = folder / "app.py"
    app.write_text(APP.format(root=str(ROOT), steps=steps, code=str(script)))
    timeout = 600.0 + 6.0 * steps
    report: dict[str, Any] = {"steps": steps, "status": None, "timeout": timeout}
    done: list[str] = []

    def progress(event: Progress) -> None:
        if event.status == "InProgress":
            return
        done.append(event.step)
        if event.status != "Completed" or len(done) % max(1, steps // 10) == 0:
            reason = f": {event.failure_reason}" if event.failure_reason else ""
            _log(
                f"  [{event.elapsed:7.1f}s] {event.step} {event.status}{reason} "
                f"({len(done)}/{steps} jobs ended)"
            )

    try:
        with Emulator() as emulator:
            deployer = CdkDeployer(emulator, project_dir=ROOT, app=f"python {app}", log=_log)
            begin = time.perf_counter()
            try:
                assembly = deployer.synth(emulator.work_dir / "cdk.out")
                deployer.bootstrap(assembly)
                stacks = deployer.deploy(assembly)
            finally:
                report["deploy_seconds"] = time.perf_counter() - begin
                report["timings"] = vars(deployer.timings)
            (pipeline,) = find_pipelines(emulator, stacks)
            sfn = emulator.client("stepfunctions")
            begin = time.perf_counter()
            arn, _ = start(emulator, pipeline, {})
            _log(f"  started {arn}")
            try:
                result = watch(emulator, pipeline, arn, timeout=timeout, on_progress=progress)
                report.update(
                    status=result.status,
                    error=result.error,
                    cause=result.failure_cause,
                    execution_seconds=result.seconds,
                    jobs={s: r.status for s, r in result.steps.items()},
                    returned=sorted(s for s, r in result.steps.items() if r.values),
                )
            except TimeoutError as error:
                report.update(status="TIMED_OUT (still running)", error=str(error))
                sfn.stop_execution(executionArn=arn, error="Bench.Timeout")
            finally:
                report["run_seconds"] = time.perf_counter() - begin
                report["jobs_ended"] = len(done)
            report["transitions"] = transitions(history(sfn, arn), set(pipeline.steps))
    except Exception as error:  # reported, with what was measured before it
        report["failure"] = f"{type(error).__name__}: {error}"
    print(json.dumps(report))


def _run_offline(steps: int, env: dict[str, str]) -> dict[str, Any]:
    """One offline run in a fresh process (its progress on this one's stderr)."""
    _log(f"offline N={steps}: deploying and running one execution...")
    with tempfile.TemporaryDirectory(prefix="bench-offline-") as workdir:
        command = [sys.executable, "-m", "tests.benchmarks.bench_scale", "--child", "offline"]
        done = subprocess.run(
            [*command, str(steps), workdir],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"steps": steps, "status": None, "failure": f"exit {done.returncode}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_offline(report: dict[str, Any], single: dict[str, Any] | None) -> None:
    """The offline run's figures, against the targets."""
    steps = report["steps"]
    timings = report.get("timings") or {}
    print(f"offline N={steps}: status {report.get('status')}")
    if report.get("failure"):
        print(f"  failure: {report['failure']}")
    if report.get("error") or report.get("cause"):
        print(f"  error: {report.get('error')}: {str(report.get('cause'))[:2000]}")
    if "deploy_seconds" in report:
        print(
            f"  deploy {report['deploy_seconds']:.1f} s (synth {timings.get('synth', 0):.1f}, "
            f"bootstrap {timings.get('bootstrap', 0):.1f}, deploy {timings.get('deploy', 0):.1f})"
        )
    if "run_seconds" in report:
        execution = report.get("execution_seconds")
        print(
            f"  run {report['run_seconds']:.1f} s (start to watched end; the execution "
            f"{execution:.1f} s), {report.get('jobs_ended', 0)}/{steps} jobs ended"
            if execution is not None
            else f"  run {report['run_seconds']:.1f} s, {report.get('jobs_ended', 0)} jobs ended"
        )
    counted = report.get("transitions")
    if not counted:
        return
    total, by_step, outside = counted["total"], counted["by_step"], counted["outside"]
    overhead = sum(outside.values())
    per_step = (total - overhead) / steps
    returning = set(report.get("returned") or [])
    plain = [n for s, n in by_step.items() if s not in returning]
    with_values = [n for s, n in by_step.items() if s in returning]
    shape = ", ".join(f"{c} step(s) x{n}" for n, c in sorted(Counter(plain).items()))
    shape_values = ", ".join(f"{c} x{n}" for n, c in sorted(Counter(with_values).items()))
    print(
        f"  transitions {total} ({counted['events']} history events; map runs "
        f"{counted['map_runs']}, whose child executions are not counted)"
    )
    print(
        f"  per step (by state name) ({total} - {overhead}) / {steps} = {per_step:.3f}: "
        f"{shape or 'none'}; returning values: {shape_values or 'none'}; "
        f"{steps - len(by_step)} step(s) entered no state"
    )
    names = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in outside.items())
    print(f"  overhead (outside the steps) {overhead}: {names}")
    if single is not None and single.get("transitions") and steps > 1:
        one = single["transitions"]["total"]
        slope = (total - one) / (steps - 1)
        print(
            f"  differential with N=1 (T(1) = {one}): per step ({total} - {one}) / "
            f"({steps} - 1) = {slope:.3f}, overhead {one} - {slope:.3f} = {one - slope:.3f}"
        )
    worst_plain = max(plain, default=0)
    worst_values = max(with_values, default=0)
    print(
        f"  target <= {TARGET_PER_STEP} transition per processing step "
        f"(worst {worst_plain}): {_met(worst_plain <= TARGET_PER_STEP)}; "
        f"<= {TARGET_PER_RETURNING_STEP} with returned values (worst {worst_values}): "
        f"{_met(worst_values <= TARGET_PER_RETURNING_STEP)}; "
        f"fixed overhead <= {TARGET_OVERHEAD} (measured {overhead}): "
        f"{_met(overhead <= TARGET_OVERHEAD)}"
    )


# -- the driver --------------------------------------------------------------------------


def _median(results: list[dict[str, Any]]) -> float:
    return statistics.median(float(r["seconds"]) for r in results)


def _ratios(library: list[dict[str, Any]], floor: list[dict[str, Any]]) -> list[float]:
    """The per-round ratios (each round's apps ran back to back)."""
    return [float(a["seconds"]) / float(b["seconds"]) for a, b in zip(library, floor, strict=True)]


def _ratio(library: list[dict[str, Any]], floor: list[dict[str, Any]]) -> float:
    """The median of the per-round ratios."""
    return statistics.median(_ratios(library, floor))


def _run_child(kind: str, steps: int, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as outdir:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.bench_scale",
                "--child",
                kind,
                str(steps),
                outdir,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        sys.exit(f"{kind} {steps} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 50, 100, 200])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--offline",
        type=int,
        nargs="+",
        metavar="N",
        help="also deploy each N-step library app offline and run one execution (N = 1 "
        "is run too, for the differential check)",
    )
    parser.add_argument(
        "--without-cdk-validation",
        action="store_true",
        help="also time each pair with aws-cdk-lib's built-in template validation off "
        "(CDK_VALIDATION=false), to tell its share from the library's own",
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "STEPS", "OUTDIR"))
    args = parser.parse_args(argv)
    if args.child:
        if args.child[0] == "offline":
            offline_child(int(args.child[1]), args.child[2])
        else:
            child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    if args.offline is not None and min(args.offline) < 1:
        parser.error("--offline N: N must be at least 1")
    env = environment()
    quiet = {**env, "CDK_VALIDATION": "false"}  # aws-cdk-lib's switch for its validation
    rows = []
    role_floors: dict[tuple[str, int], list[dict[str, Any]]] = {
        (kind, steps): [] for kind in ROLE_FLOORS for steps in args.steps
    }
    for steps in args.steps:
        library: list[dict[str, Any]] = []
        floor: list[dict[str, Any]] = []
        library_quiet: list[dict[str, Any]] = []
        floor_quiet: list[dict[str, Any]] = []
        kinds = ["library", "floor", *ROLE_FLOORS]
        for round_index in range(args.runs):
            # each round in another order (the machines are noisy, and a slot may be too)
            turn = round_index % len(kinds)
            for kind in kinds[turn:] + kinds[:turn]:
                result = _run_child(kind, steps, env)
                if kind in ROLE_FLOORS:
                    role_floors[kind, steps].append(result)
                else:
                    (library if kind == "library" else floor).append(result)
            if args.without_cdk_validation:
                library_quiet.append(_run_child("library", steps, quiet))
                floor_quiet.append(_run_child("floor", steps, quiet))
        rows.append((steps, library, floor, _ratio(library, floor), library_quiet, floor_quiet))
    # The largest library template, linted once (not timed).
    linted = _run_child("library", args.steps[-1], {**env, LINT_VARIABLE: "1"})["cfn_lint"]
    print(
        f"{'N':>4} {'library s':>9} {'floor s':>8} {'ratio':>6} {'template B':>11} "
        f"{'compact B':>10} {'resources':>9} {'inline max':>10} {'managed':>7} "
        f"{'definition B':>12}"
    )
    base = _median(rows[0][1])
    for steps, library, floor, ratio, _, _ in rows:
        last = library[-1]
        print(
            f"{steps:>4} {_median(library):>9.2f} {_median(floor):>8.2f} {ratio:>5.2f}x "
            f"{last['template_bytes']:>11,} {last['compact_bytes']:>10,} {last['resources']:>9} "
            f"{last['largest_inline_policy']:>10,} {last['most_managed_policies']:>7} "
            f"{last['definition_bytes']:>12,}{' (S3)' if last['hosted'] else ''}"
        )
    print("library / floor, each round (the machines are noisy: the spread is the error bar):")
    for steps, library, floor, _, _, _ in rows:
        print(f"{steps:>4} " + " ".join(f"{r:.2f}x" for r in _ratios(library, floor)))
    if args.without_cdk_validation:
        print("without aws-cdk-lib's built-in template validation (CDK_VALIDATION=false):")
        print(f"{'N':>4} {'library s':>9} {'floor s':>8} {'ratio':>6} {'its share, library':>19}")
        for steps, library, _, _, library_quiet, floor_quiet in rows:
            share = _median(library) - _median(library_quiet)
            print(
                f"{steps:>4} {_median(library_quiet):>9.2f} {_median(floor_quiet):>8.2f} "
                f"{_ratio(library_quiet, floor_quiet):>5.2f}x {share:>18.2f}s"
            )
    print("the floor with one least-privilege role per task, written by hand as")
    print(f"{'N':>4} {'form':>9} {'its s':>7} {'/ floor':>8} {'library / it':>13}")
    for steps, library, floor, _, _, _ in rows:
        for kind, style in ROLE_FLOORS.items():
            own = role_floors[kind, steps]
            print(
                f"{steps:>4} {style:>9} {_median(own):>7.2f} {_ratio(own, floor):>7.2f}x "
                f"{_ratio(library, own):>12.2f}x"
            )
    print(
        f"cfn-lint on the {args.steps[-1]}-step template: "
        + ("clean (no error, no warning)" if not linted else f"{len(linted)} findings")
    )
    for finding in linted[:20]:
        print(f"  {finding}")
    top = _median(rows[-1][1])
    print(f"synth({rows[-1][0]}) / synth({rows[0][0]}) = {top / base:.2f}")
    print("limits: 500 resources, 1,000,000 template bytes, 10,240 inline policy characters")
    print("per role, 10 managed policies per role, 1,048,576 definition characters")
    sys.stdout.flush()  # before the offline runs' progress on stderr
    if args.offline is None:
        return 0
    single = _run_offline(1, env)
    print_offline(single, None)
    reports = [single]
    for steps in sorted(set(args.offline) - {1}):
        reports.append(_run_offline(steps, env))
        print_offline(reports[-1], single)
        sys.stdout.flush()
    return 0 if all(r.get("status") == "SUCCEEDED" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())

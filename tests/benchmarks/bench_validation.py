"""What aws-cdk-lib's built-in template validation costs on a pipeline's template, and why.

Run from the repository root after ``make setup``::

    .venv/bin/python -m tests.benchmarks.bench_validation [--steps 200] [--runs 5]

Since aws-cdk-lib 2.27x every ``app.synth()`` runs ``CloudFormationValidatePlugin``
(``@aws/cloudformation-validate``, a WebAssembly rule engine) on every template, unless
``CDK_VALIDATION=false``. ``bench_scale`` shows its share of a synth; this script shows
what in the library's template that share is spent on. It synthesizes (validation off,
untimed) the N-step apps of :mod:`tests.benchmarks.bench_scale`:

- ``floor``: the hand-written processing tasks, one role;
- ``library``: the ``ProcessingPipeline``, one least-privilege role per step;
- ``library, no channel policies``: the same template with each step role's inline
  ``Channels`` policy (the S3 prefixes that step reads and writes) removed: not
  deployable, measured only to tell what those policies cost.

Then, in fresh processes taken in turn (floor, library, library without channel policies,
floor, ...), it creates the plugin as a synth does and times its one ``validate`` call on
one template, cold, as in a synth (the engine's set-up, the same for every template, is
timed apart). It prints the median of each and of the per-round differences.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks import checked, environment

#: The IAM path of the step roles the library creates (``roles.py``).
STEP_ROLE_PATH = "/constructs-sm/"
KINDS = ("floor", "library", "library, no channel policies")


def without_channel_policies(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` with the inline policies of the library's step roles removed."""
    resources = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role" and str(properties.get("Path", "")).startswith(
            STEP_ROLE_PATH
        ):
            properties = {k: v for k, v in properties.items() if k != "Policies"}
            resource = {**resource, "Properties": properties}
        resources[logical_id] = resource
    return {**template, "Resources": resources}


def child(template: str) -> None:
    """Create aws-cdk-lib's validation plugin and validate ``template`` once; print the
    set-up and validation seconds and the findings as one JSON line."""
    import aws_cdk as cdk
    import jsii

    @jsii.implements(cdk.IPolicyValidationContext)
    class Context:
        def __init__(self, app: cdk.App) -> None:
            self._app = app

        @property
        def app_construct(self) -> Any:
            return self._app

        @property
        def stack_templates(self) -> list[cdk.PolicyValidationStack]:
            return [
                cdk.PolicyValidationStack(
                    stack_construct_path="Bench",
                    template_path=template,
                    account_id="123456789012",
                    region="us-east-1",
                )
            ]

        @property
        def template_paths(self) -> list[str]:
            return [template]

        @property
        def account_id(self) -> str | None:
            return None

        @property
        def region(self) -> str | None:
            return None

    context = Context(cdk.App())
    begin = time.perf_counter()
    plugin = cdk.CloudFormationValidatePlugin()
    ready = time.perf_counter()
    report = plugin.validate(context)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "setup": ready - begin,
                "validate": done - ready,
                "findings": len(report.violations),
            }
        )
    )


def _synthesize(kind: str, steps: int, outdir: Path) -> Path:
    env = {**environment(), "CDK_VALIDATION": "false"}
    command = [sys.executable, "-m", "tests.benchmarks.bench_scale", "--child", kind]
    checked([*command, str(steps), str(outdir)], env)
    return outdir / "Bench.template.json"


def _validate(template: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "tests.benchmarks.bench_validation", "--child"]
    output = checked([*command, str(template)], environment())
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", metavar="TEMPLATE")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as directory:
        root = Path(directory)
        floor = _synthesize("floor", args.steps, root / "floor")
        library = _synthesize("library", args.steps, root / "library")
        stripped = root / "stripped.template.json"
        stripped.write_text(
            json.dumps(without_channel_policies(json.loads(library.read_text())), indent=1)
        )
        templates = dict(zip(KINDS, (floor, library, stripped), strict=True))
        sizes = {kind: len(path.read_bytes()) for kind, path in templates.items()}
        results: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
        for _ in range(args.runs):
            for kind, template in templates.items():
                results[kind].append(_validate(template))
    print(f"aws-cdk-lib's template validation, {args.steps} steps, median of {args.runs}:")
    print(f"{'template':<30} {'bytes':>9} {'set-up s':>9} {'validate s':>11} {'findings':>8}")
    for kind, runs in results.items():
        print(
            f"{kind:<30} {sizes[kind]:>9,} {_median(runs, 'setup'):>9.2f} "
            f"{_median(runs, 'validate'):>11.2f} {int(runs[-1]['findings']):>8}"
        )
    print("per round, validate s (median):")
    for label, a, b in (
        ("library - floor", "library", "floor"),
        ("its step roles' channel policies", "library", "library, no channel policies"),
    ):
        differences = [
            x["validate"] - y["validate"] for x, y in zip(results[a], results[b], strict=True)
        ]
        print(f"  {label:<34} {statistics.median(differences):>6.2f}")
    return 0


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


if __name__ == "__main__":
    sys.exit(main())

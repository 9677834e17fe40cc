"""Load: many concurrent executions of the example pipeline in one emulator.

Run from the repository root after `make setup`:

    .venv/bin/python -m tests.benchmarks.bench_load [--executions 50]

Deploys tests/local_app (the example stack) into one emulator, starts ``--executions``
executions of the example pipeline at once (``epochs`` from 1 to 10 in turn, so groups of
executions share an input), follows them all to their end and checks that

- every execution succeeded, under a name of its own;
- no key of the channel bucket belongs to two executions, and each execution wrote the
  same set of files (with its own name in their keys);
- no output was mixed: each execution's parameters file holds its own input, and the
  executions with the same input returned the same values and wrote the same model;
- no job process is left.

Prints the wall time from the first start to the last end (the figure the README and
the report quote), with the spread of the executions' own durations. The machines are
noisy: compare runs of one machine, not single absolute figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

from constructs_sm.local.runner import RunResult
from tests.local_deployment import (
    Deployed,
    deploy_local_app,
    job_processes,
    read_json,
    run_keys,
    run_many,
    shared_keys,
)

PIPELINE = "Churn"


def _inputs(deployed: Deployed, count: int) -> list[dict[str, Any]]:
    bucket = deployed.pipelines[PIPELINE].bucket
    return [
        {"raw_uri": f"s3://{bucket}/data/raw/", "epochs": 1 + i % 10, "learning_rate": 0.5}
        for i in range(count)
    ]


def check(deployed: Deployed, inputs: list[dict[str, Any]], results: list[RunResult]) -> list[str]:
    """What went wrong (nothing: an empty list)."""
    problems = [f"{r.execution_name}: {r.status} {r.error}" for r in results if not r.succeeded]
    if len({r.execution_name for r in results}) != len(results):
        problems.append("two executions share a name")
    shared = shared_keys(deployed, PIPELINE, results)
    if shared:
        problems.append(f"keys claimed by two executions: {shared[:5]}")
    if len({tuple(run_keys(deployed, PIPELINE, r)) for r in results}) != 1:
        problems.append("the executions did not all write the same set of files")
    by_input: dict[str, set[str]] = defaultdict(set)
    for params, result in zip(inputs, results, strict=True):
        if not result.succeeded:
            continue
        written = read_json(deployed, PIPELINE, result, "_run/params/params.json")
        if any(written.get(key) != value for key, value in params.items()):
            problems.append(f"{result.execution_name} read another execution's parameters")
        model = read_json(deployed, PIPELINE, result, "train/model/model.json")
        values = {step: r.values for step, r in result.steps.items()}
        by_input[json.dumps(params, sort_keys=True)].add(
            json.dumps({"values": values, "model": model}, sort_keys=True)
        )
    mixed = [key for key, outputs in by_input.items() if len(outputs) != 1]
    if mixed:
        problems.append(f"executions with one input wrote different outputs: {mixed[:3]}")
    left = job_processes(deployed.emulator)
    if left:
        problems.append(f"job processes left: {left}")
    return problems


def main() -> int:
    """Run the load once; exit 1 if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=50)
    args = parser.parse_args()
    with deploy_local_app() as deployed:
        inputs = _inputs(deployed, args.executions)
        begin = time.perf_counter()
        results = run_many(deployed, PIPELINE, inputs, timeout=1800)
        wall = time.perf_counter() - begin
        problems = check(deployed, inputs, results)
    durations = [r.seconds for r in results]
    print(f"{args.executions} concurrent executions of {PIPELINE}: wall time {wall:.1f}s")
    print(
        f"  execution durations: min {min(durations):.1f}s, median "
        f"{statistics.median(durations):.1f}s, max {max(durations):.1f}s"
    )
    for problem in problems:
        print(f"  FAILED: {problem}", file=sys.stderr)
    if not problems:
        print("  all succeeded; no prefix shared, no output mixed, no process left")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

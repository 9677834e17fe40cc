"""Time `make demo`'s phases: synth, report, and the offline run (deploy + execution).

Run from the repository root after `make setup`:

    .venv/bin/python -m tests.benchmarks.bench_demo [--runs 3]

Prints the minimum, median and maximum wall time of each phase over the runs, and the
deploy and execution times the offline CLI reports. The machines are noisy: compare
medians, and phases of one run with each other, not single absolute figures.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

from tests.benchmarks import ROOT, checked, demo_run_args, environment


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = checked(command, env)
    return time.perf_counter() - start, out


def one_run(env: dict[str, str]) -> dict[str, float]:
    """One demo: the wall time of each phase and the times the CLI reports."""
    python = str(ROOT / ".venv" / "bin" / "python")
    figures: dict[str, float] = {}
    figures["synth"], _ = _timed(["npx", "--no-install", "cdk", "synth", "--quiet"], env)
    figures["report"], _ = _timed([python, "-m", "constructs_sm.report", "cdk.out"], env)
    figures["offline run"], out = _timed(
        [python, "-m", "constructs_sm.local", "run", *demo_run_args("cdk.out")], env
    )
    for label, pattern in (
        ("  bootstrap (CLI)", r"bootstrapped .* in ([\d.]+)s"),
        ("  deploy (CLI)", r"deployed ChurnPipeline in ([\d.]+)s"),
        ("  execution (CLI)", r"execution SUCCEEDED in ([\d.]+)s"),
    ):
        match = re.search(pattern, out)
        if match is None:
            sys.exit(f"no {label.strip()} figure in the offline run's output:\n{out}")
        figures[label] = float(match.group(1))
    figures["demo total"] = figures["synth"] + figures["report"] + figures["offline run"]
    return figures


def main() -> int:
    """Run the demo's phases ``--runs`` times and print their spread."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = environment()
    runs = [one_run(env) for _ in range(args.runs)]
    print(f"{'phase':<20} {'min':>7} {'median':>7} {'max':>7}  (seconds, {args.runs} runs)")
    for phase in runs[0]:
        values = [run[phase] for run in runs]
        print(f"{phase:<20} {min(values):7.1f} {statistics.median(values):7.1f} {max(values):7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

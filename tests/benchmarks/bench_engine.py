"""Offline engine speed: issue 9's three targets, each measured and printed against it.

Run from the repository root after ``make setup`` (not a test: the machines are noisy,
compare medians of one run with each other)::

    .venv/bin/python -m tests.benchmarks.bench_engine [--runs 3] [--chain 20]
        [--only example chain warm]

- **example** (target: execution phase <= 1.5 s): ``make demo``'s offline run, ``--runs``
  times, each a fresh ``python -m constructs_sm.local run`` process (emulator, bootstrap,
  deploy, one execution of the example pipeline with the demo's data and input) on one
  ``cdk synth`` of the project's app. The figure is the execution phase the command
  prints (``execution SUCCEEDED in X s``: the execution's start to stop date, 0.1 s
  resolution); its total, bootstrap and deploy times are printed beside it.
- **chain** (target: <= 0.15 s per no-op step): ``tests/benchmarks/engine/app.py``
  (pipelines ``Chain1`` and ``Chain<N>``, each step a script that does nothing, each
  after the one before) deployed once into one emulator (IAM enforced, as by default)
  in this process; then ``--runs`` pairs of executions, ``Chain1`` and ``Chain<N>`` in
  turn, each started and watched to its end as the command does (``runner.start`` and
  ``runner.watch``). Per step = (T(N) - T(1)) / (N - 1) of each pair's execution phases
  (start to stop date, millisecond resolution); the median over the pairs is the figure.
- **warm** (target: a re-run of an unchanged app skips bootstrap and deploy): ``run
  --keep-running`` of the example in one process, then ``--runs`` times ``run --endpoint
  URL`` with the same app in another (the administrator's keys the first one printed in
  its environment), timed from the start of the process to its end; it passes when its
  output says the stack was not deployed again and names no bootstrap or deploy.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tests.benchmarks import ROOT, checked, demo_run_args, environment

PYTHON = str(ROOT / ".venv" / "bin" / "python")
ENGINE_APP = ROOT / "tests" / "benchmarks" / "engine" / "app.py"
#: The issue's targets.
TARGET_EXECUTION, TARGET_PER_STEP = 1.5, 0.15
_EXECUTION = re.compile(r"execution SUCCEEDED in ([\d.]+)s")
_BOOTSTRAP = re.compile(r"bootstrapped .* in ([\d.]+)s")
_DEPLOY = re.compile(r"^deployed .* in ([\d.]+)s", re.MULTILINE)
_TOTAL = re.compile(r"^total ([\d.]+)s", re.MULTILINE)
_NOT_DEPLOYED = re.compile(r"not deployed again")
_ENDPOINT = re.compile(r"emulator kept running at (http://localhost:\d+)")
_KEY = re.compile(r"\b(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)=(\S+)")


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def synth(
    outdir: Path, env: dict[str, str], *, app: str | None = None, context: str | None = None
) -> Path:
    """``cdk synth`` of the project's app (or ``app``) into ``outdir``, with a
    ``KEY=VALUE`` CDK ``context`` value."""
    command = ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(outdir)]
    if app is not None:
        command += ["--app", app]
    if context is not None:
        command += ["--context", context]
    checked(command, env)
    return outdir


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _figure(pattern: re.Pattern[str], text: str) -> float | None:
    match = pattern.search(text)
    return float(match.group(1)) if match else None


# -- (a) the example's execution phase ---------------------------------------------------


def example(assembly: Path, runs: int, env: dict[str, str]) -> list[dict[str, float | None]]:
    """``runs`` cold offline runs of the example: what each one printed."""
    results = []
    for index in range(runs):
        command = [PYTHON, "-m", "constructs_sm.local", "run", *demo_run_args(assembly)]
        begin = time.perf_counter()
        out = checked(command, env)
        wall = time.perf_counter() - begin
        figures = {
            "execution": _figure(_EXECUTION, out),
            "bootstrap": _figure(_BOOTSTRAP, out),
            "deploy": _figure(_DEPLOY, out),
            "wall": wall,
        }
        _log(f"  example run {index + 1}/{runs}: {figures}")
        results.append(figures)
    return results


def print_example(results: list[dict[str, float | None]]) -> None:
    """The example's figures, against the target."""
    executions = [r["execution"] for r in results if r["execution"] is not None]
    if len(executions) != len(results):
        print("(a) example: an execution did not succeed")
        return
    median = statistics.median(executions)
    print(
        f"(a) example execution phase: median {median:.1f} s of {len(results)} cold runs "
        f"({', '.join(f'{e:.1f}' for e in executions)}); target <= {TARGET_EXECUTION} s: "
        f"{_met(median <= TARGET_EXECUTION)}"
    )
    for phase in ("bootstrap", "deploy", "wall"):
        values = [value for r in results if (value := r[phase]) is not None]
        if values:
            print(f"    {phase:<9} median {statistics.median(values):5.1f} s")


# -- (b) per no-op step in a chain ---------------------------------------------------------


def chain(length: int, runs: int, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """T(1) and T(N) of ``runs`` interleaved pairs of executions in one emulator."""
    from constructs_sm.local import Emulator
    from constructs_sm.local.deploy import CdkDeployer
    from constructs_sm.local.runner import find_pipelines, start, watch

    assembly = synth(
        workdir / "engine.out", env, app=f"python {ENGINE_APP}", context=f"chains=1,{length}"
    )
    pairs: list[tuple[float, float]] = []
    with Emulator() as emulator:
        deployer = CdkDeployer(emulator, project_dir=ROOT, app=str(assembly))
        deployer.bootstrap(assembly)
        stacks = deployer.deploy(assembly)
        pipelines = {p.name: p for p in find_pipelines(emulator, stacks)}

        def execution(name: str) -> float:
            arn, _ = start(emulator, pipelines[name], {})
            result = watch(emulator, pipelines[name], arn, timeout=600)
            if not result.succeeded:
                sys.exit(f"{name}: {result.status} {result.failure_cause}")
            return result.seconds

        execution("Chain1")  # warm-up: the first execution loads what later ones reuse
        for index in range(runs):
            pair = execution("Chain1"), execution(f"Chain{length}")
            _log(f"  chain pair {index + 1}/{runs}: T(1) {pair[0]:.3f} s, T(N) {pair[1]:.3f} s")
            pairs.append(pair)
    return {"length": length, "pairs": pairs}


def print_chain(report: dict[str, Any]) -> None:
    """The per-step figure, against the target."""
    length, pairs = report["length"], report["pairs"]
    per_step = [(long - one) / (length - 1) for one, long in pairs]
    median = statistics.median(per_step)
    print(
        f"(b) per no-op step: median {median:.3f} s of {len(pairs)} pairs "
        f"({', '.join(f'{p:.3f}' for p in per_step)}); T(1) median "
        f"{statistics.median(p[0] for p in pairs):.2f} s, T({length}) median "
        f"{statistics.median(p[1] for p in pairs):.2f} s; target <= {TARGET_PER_STEP} s: "
        f"{_met(median <= TARGET_PER_STEP)}"
    )


# -- (c) a warm re-run -------------------------------------------------------------------


@contextlib.contextmanager
def kept_running(assembly: Path, env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """``run --keep-running`` of the example: its endpoint and administrator keys."""
    command = [
        PYTHON,
        "-m",
        "constructs_sm.local",
        "run",
        "--keep-running",
        *demo_run_args(assembly),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        endpoint, keys = _wait_for_keys(process.stdout)
        yield endpoint, keys
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_keys(stdout: IO[str] | None) -> tuple[str, dict[str, str]]:
    assert stdout is not None
    endpoint = None
    seen = []
    for line in stdout:
        seen.append(line)
        endpoint = endpoint or (m.group(1) if (m := _ENDPOINT.search(line)) else None)
        keys = dict(_KEY.findall(line))
        if endpoint and "AWS_ACCESS_KEY_ID" in keys:
            return endpoint, keys
    sys.exit("run --keep-running ended without printing its endpoint and keys:\n" + "".join(seen))


def warm(assembly: Path, runs: int, env: dict[str, str]) -> list[dict[str, Any]]:
    """``runs`` re-runs of the unchanged example in an emulator kept running."""
    results = []
    with kept_running(assembly, env) as (endpoint, keys):
        for index in range(runs):
            command = [
                PYTHON, "-m", "constructs_sm.local", "run", "--endpoint", endpoint,
                *demo_run_args(assembly),
            ]  # fmt: skip
            begin = time.perf_counter()
            done = subprocess.run(
                command, cwd=ROOT, env={**env, **keys}, capture_output=True, text=True, check=False
            )
            wall = time.perf_counter() - begin
            out = done.stdout
            result = {
                "code": done.returncode,
                "wall": wall,
                "execution": _figure(_EXECUTION, out),
                "skipped": bool(_NOT_DEPLOYED.search(out))
                and not _BOOTSTRAP.search(out)
                and not _DEPLOY.search(out),
                "error": done.stderr.strip().splitlines()[-1:] if done.returncode else [],
            }
            _log(f"  warm run {index + 1}/{runs}: {result}")
            results.append(result)
    return results


def print_warm(results: list[dict[str, Any]], cold: list[dict[str, float | None]]) -> None:
    """The warm re-runs' figures, against the target (and the cold runs' wall time)."""
    failed = [r for r in results if r["code"] != 0]
    if failed:
        print(f"(c) warm re-run: FAILED ({failed[0]['error']}); target NOT MET")
        return
    walls = [r["wall"] for r in results]
    skipped = all(r["skipped"] for r in results)
    cold_walls = [wall for r in cold if (wall := r["wall"]) is not None]
    versus = f" (a cold run: {statistics.median(cold_walls):.1f} s)" if cold_walls else ""
    print(
        f"(c) warm re-run of the unchanged example: median {statistics.median(walls):.1f} s "
        f"wall of {len(results)}{versus}, execution "
        f"{statistics.median(r['execution'] for r in results):.1f} s; bootstrap and deploy "
        f"skipped: {'yes' if skipped else 'NO'}; target: {_met(skipped)}"
    )


def main() -> int:
    """Measure the parts asked for and print each figure against its target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs (pairs) per figure")
    parser.add_argument("--chain", type=int, default=20, help="N of the long chain")
    parser.add_argument("--only", nargs="+", choices=("example", "chain", "warm"), default=None)
    args = parser.parse_args()
    if args.chain < 2 or args.runs < 1:
        parser.error("--chain must be at least 2 and --runs at least 1")
    parts = set(args.only or ("example", "chain", "warm"))
    env = environment()
    printed: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as directory:
        workdir = Path(directory)
        cold: list[dict[str, float | None]] = []
        if parts & {"example", "warm"}:
            _log("synthesizing the example app...")
            assembly = synth(workdir / "cdk.out", env)
        if "example" in parts:
            cold = example(assembly, args.runs, env)
            printed.append(lambda: print_example(cold))
        if "chain" in parts:
            report = chain(args.chain, args.runs, env, workdir)
            printed.append(lambda: print_chain(report))
        if "warm" in parts:
            results = warm(assembly, args.runs, env)
            printed.append(lambda: print_warm(results, cold))
    for show in printed:
        show()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

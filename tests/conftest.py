"""Shared fixtures. aws-cdk-lib starts one Node process per test process (imported once)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_sm.local import Emulator
from stacks.pipeline_stack import ChurnPipelineStack
from tests.local_deployment import Deployed, deploy_local_app

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "stacks" / "scripts"


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def script() -> Path:
    """A real step script of the example app."""
    return SCRIPTS / "prepare.py"


@dataclass(frozen=True)
class Assembly:
    """The example app synthesized into a cloud assembly directory."""

    outdir: Path
    stack: ChurnPipelineStack


def cdk_json_context() -> dict[str, Any]:
    """The feature flags the project commits in cdk.json."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@pytest.fixture(scope="session")
def example_assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """The example app synthesized once per test session (with cdk.json's context)."""
    outdir = tmp_path_factory.mktemp("example-app")
    app = cdk.App(outdir=str(outdir), context=cdk_json_context())
    stack = ChurnPipelineStack(app, "ChurnPipeline")
    app.synth()
    return Assembly(outdir, stack)


@pytest.fixture(scope="session")
def deployed() -> Iterator[Deployed]:
    """The offline engine's emulator with tests/local_app deployed, once per session."""
    with deploy_local_app() as deployment:
        yield deployment


@pytest.fixture(scope="session")
def aws(deployed: Deployed) -> Emulator:
    """The session's emulator (a module may define its own, with more set up)."""
    return deployed.emulator

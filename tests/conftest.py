"""Shared fixtures. aws-cdk-lib starts one Node process per test process (imported once)."""

from __future__ import annotations

from pathlib import Path

import pytest

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

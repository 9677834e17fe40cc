"""Fixtures of the runtime's tests: a fresh container root and a step spec pointing into it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from constructs_sm import runtime
from tests.runtime.support import CSM_VARIABLES, SPEC, SpecWriter


@pytest.fixture
def ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh container root, with no spec and no CSM variables from the outside."""
    for name in CSM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "ml"
    root.mkdir()
    monkeypatch.setenv(runtime.ML_DIR_ENV, str(root))
    return root


@pytest.fixture
def use_spec(ml: Path, monkeypatch: pytest.MonkeyPatch) -> SpecWriter:
    """Write a spec (``SPEC`` with top-level overrides) and point CSM_STEP_SPEC at it."""

    def write(**overrides: Any) -> Path:
        data = copy.deepcopy(SPEC)
        data.update(overrides)
        path = ml.parent / runtime.SPEC_FILE
        path.write_text(json.dumps(data), encoding="utf-8")
        monkeypatch.setenv(runtime.SPEC_ENV, str(path))
        return path

    return write

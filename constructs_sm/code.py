"""A pipeline's code channel: every step's script, the runtime and the step specs, staged.

One code bundle per pipeline (not one per step): it holds the runtime package, each
distinct script once (``scripts/<content hash>/<name>``) and each step's spec
(``csm_steps/<step>.json``, which the runtime reads for ``$CSM_STEP``). The staged
directory becomes the pipeline's S3 code asset (zipped by CDK), mounted in every job as
the ``code`` input channel; each job runs its own script from it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_sm import runtime as _rt

#: Where the step specs are in the bundle (``csm_steps/<step>.json``).
SPECS_DIR = "csm_steps"


@dataclass(frozen=True)
class StepCode:
    """One step's part of the bundle: its script and its spec."""

    step: str
    script: Path
    spec: Mapping[str, Any]


def script_path(script: Path) -> str:
    """Where ``script`` is in the bundle: ``scripts/<hash of its content>/<name>``."""
    digest = hashlib.sha256(script.read_bytes()).hexdigest()[:16]
    return f"scripts/{digest}/{script.name}"


def bundle_files(steps: Sequence[StepCode]) -> dict[str, bytes]:
    """Every file of a pipeline's code bundle, by path in the bundle."""
    runtime_dir = Path(_rt.__file__).parent
    files: dict[str, bytes] = {
        "constructs_sm/__init__.py": b'"""constructs_sm runtime, as shipped to the container."""\n',
        "__main__.py": _rt.ZIP_MAIN.encode(),
    }
    for source in sorted(runtime_dir.glob("*.py")):
        files[f"constructs_sm/runtime/{source.name}"] = source.read_bytes()
    for step in steps:
        files[script_path(step.script)] = step.script.read_bytes()
        files[f"{SPECS_DIR}/{step.step}.json"] = json.dumps(step.spec, indent=2).encode()
    return files


def stage_files(files: Mapping[str, bytes]) -> Path:
    """A directory holding ``files``, named by a hash of their content.

    Re-synthesizing reuses it, so the asset hash changes only when a script, the runtime
    or a spec does.
    """
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    target = Path(tempfile.gettempdir()) / "constructs-sm-code" / digest.hexdigest()[:32]
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=target.parent))
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        try:
            staging.rename(target)
        except OSError:  # another process staged the same content first
            shutil.rmtree(staging, ignore_errors=True)
    return target


def stage_code(script: Path, spec: Mapping[str, Any], step: str = "step") -> Path:
    """A bundle of one step (for tests and tools): :func:`stage_files` of its files."""
    return stage_files(bundle_files([StepCode(step, script, spec)]))

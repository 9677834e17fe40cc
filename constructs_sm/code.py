"""A pipeline's code channel: every step's code, the runtime and the step specs, staged.

One code bundle per pipeline (not one per step): it holds the runtime package, each
distinct step code once (``scripts/<content hash>/<its tree>``: one script, or a code
directory's files, see :mod:`constructs_sm.step_code`) and each step's spec
(``csm_steps/<step>.json``, which the runtime reads for ``$CSM_STEP``). The staged
directory becomes the pipeline's S3 code asset (zipped by CDK), mounted in every job as
the ``code`` input channel; each job runs its own entry point from it.
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
from constructs_sm.paths import default_path
from constructs_sm.step_code import DEFAULT_COMMAND, StepSource
from constructs_sm.validation import ValidatedStep

#: Where the step specs are in the bundle (``csm_steps/<step>.json``).
SPECS_DIR = "csm_steps"


@dataclass(frozen=True)
class StepCode:
    """One step's part of the bundle: its code and its spec."""

    step: str
    source: StepSource
    spec: Mapping[str, Any]


def step_spec(
    *,
    pipeline: str,
    step: str,
    params: Mapping[str, Any],
    env: Mapping[str, Any],
    checked: ValidatedStep,
    hosts: int,
) -> dict[str, Any]:
    """A step's spec (``csm_steps/<step>.json``): what the runtime checks in the container.

    ``params`` and ``env`` are the declared parameters' and environment values' specs;
    ``local_paths`` holds every channel's container path, ``command`` what runs the entry
    point, ``returned_via`` how the values come back (one host: the job's ExitMessage;
    several: S3).
    """
    source = checked.source
    return {
        "version": 1,
        "pipeline": pipeline,
        "step": step,
        "params": dict(params),
        "env": dict(env),
        "inputs": list(checked.inputs),
        "outputs": list(checked.outputs),
        "local_paths": {
            "inputs": {
                channel: item.local_path or default_path("input", channel)
                for channel, item in checked.inputs.items()
            },
            "outputs": {
                channel: checked.output_paths.get(channel, default_path("output", channel))
                for channel in checked.outputs
            },
        },
        "command": list(source.command if source is not None else DEFAULT_COMMAND),
        "returns": dict(checked.returns),
        "returned_via": "s3" if hosts > 1 else "message",
    }


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
        for name, data in step.source.files.items():
            files[f"{step.source.directory}/{name}"] = data
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
    """A bundle of one step running one script (for tests and tools)."""
    source = StepSource({script.name: script.read_bytes()}, script.name)
    return stage_files(bundle_files([StepCode(step, source, spec)]))

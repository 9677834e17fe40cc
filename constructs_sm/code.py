"""A step's code channel: the script, the runtime and the step spec, staged for the asset.

The staged directory becomes the step's S3 code asset (zipped by CDK) and is mounted in
the container as the ``code`` input channel.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from constructs_sm import runtime as _rt


def stage_code(script: Path, spec: Mapping[str, Any]) -> Path:
    """A directory with the script, the runtime package and the step spec, for the asset.

    The directory is named by a hash of its content, so re-synthesizing reuses it and
    the asset hash only changes when the code, the runtime or the spec does.
    """
    runtime_dir = Path(_rt.__file__).parent
    files: dict[str, bytes] = {
        script.name: script.read_bytes(),
        _rt.SPEC_FILE: json.dumps(spec, indent=2).encode(),
        "constructs_sm/__init__.py": b'"""constructs_sm runtime, as shipped to the container."""\n',
        "__main__.py": _rt.ZIP_MAIN.encode(),
    }
    for source in sorted(runtime_dir.glob("*.py")):
        files[f"constructs_sm/runtime/{source.name}"] = source.read_bytes()
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    target = Path(tempfile.gettempdir()) / "constructs-sm-code" / digest.hexdigest()[:32]
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=target.parent.parent))
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(target)
        except OSError:  # another process staged the same content first
            shutil.rmtree(staging, ignore_errors=True)
    return target

"""The container root and the runtime's JSON files: strict reads, atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from constructs_sm.runtime._constants import DEFAULT_ML_DIR, ML_DIR_ENV
from constructs_sm.runtime._errors import RuntimeConfigError


def container_root() -> Path:
    """The container root: ``$CSM_ML_DIR``, else ``/opt/ml`` (read at every call)."""
    return Path(os.environ.get(ML_DIR_ENV) or DEFAULT_ML_DIR)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _read_json(path: Path, error: type[RuntimeConfigError]) -> object:
    """Parse a JSON file strictly (no NaN/Infinity); a missing file is the caller's job."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise error(f"{path} is not valid JSON: {exc}") from None


def read_json_object(
    path: Path, error: type[RuntimeConfigError] = RuntimeConfigError
) -> dict[str, Any] | None:
    """Read a JSON object from ``path``; ``None`` when the file does not exist."""
    if not path.is_file():
        return None
    data = _read_json(path, error)
    if not isinstance(data, dict):
        raise error(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory + os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, allow_nan=False, sort_keys=True, indent=2) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        tmp.replace(path)  # os.replace: atomic within one file system
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise

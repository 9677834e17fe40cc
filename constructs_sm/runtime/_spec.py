"""The step spec (``csm_step.json``): where it is, its shape, and what it says about the step.

The pipeline writes the spec into the step's code zip at synth time; it declares the
step's parameters, environment values, channels and return values. Outside the
pipeline (a script run by hand) there is no spec and nothing is declared.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from constructs_sm.runtime._constants import (
    CODE_DIR_ENV,
    SPEC_ENV,
    SPEC_FILE,
    SPEC_VERSION,
    SPECS_DIR,
    STEP_ENV,
    TYPES,
)
from constructs_sm.runtime._errors import RuntimeConfigError
from constructs_sm.runtime._files import read_json_object


def _spec_path() -> Path | None:
    explicit = os.environ.get(SPEC_ENV)
    if explicit:
        return Path(explicit)
    code_dir = os.environ.get(CODE_DIR_ENV)
    if code_dir:
        # A pipeline's code bundle holds every step's spec, csm_steps/<step>.json.
        step = os.environ.get(STEP_ENV)
        if step:
            own = Path(code_dir) / SPECS_DIR / f"{step}.json"
            if own.is_file():
                return own
        return Path(code_dir) / SPEC_FILE
    return None


def _validate_spec(data: dict[str, Any], path: Path) -> None:
    """Check the shape of a spec so that later lookups can trust it."""
    problems: list[str] = []
    version = data.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        problems.append(f"version must be {SPEC_VERSION}, got {version!r}")
    for key in ("params", "env", "returns"):
        section = {} if data.get(key) is None else data[key]
        if not isinstance(section, dict):
            problems.append(f"{key} must be an object, got {section!r}")
            continue
        for name, entry in section.items():
            if key == "returns":
                where, type_name = f"returns.{name}", entry
            elif isinstance(entry, dict):
                where, type_name = f"{key}.{name}.type", entry.get("type")
            else:
                problems.append(f"{key}.{name} must be an object, got {entry!r}")
                continue
            if type_name not in TYPES:
                problems.append(f"{where} must be one of {', '.join(TYPES)}, got {type_name!r}")
    for key in ("inputs", "outputs"):
        channels = [] if data.get(key) is None else data[key]
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            problems.append(f"{key} must be a list of channel names, got {channels!r}")
    local_paths = {} if data.get("local_paths") is None else data["local_paths"]
    if not isinstance(local_paths, dict):
        problems.append(f"local_paths must be an object, got {local_paths!r}")
    else:
        for key, paths in local_paths.items():
            if key not in ("inputs", "outputs") or not isinstance(paths, dict):
                problems.append(f"local_paths.{key} is not an object of inputs or outputs")
            elif not all(isinstance(p, str) and p.startswith("/opt/ml/") for p in paths.values()):
                problems.append(f"local_paths.{key} must map channels to paths below /opt/ml/")
    if problems:
        raise RuntimeConfigError(f"invalid step spec {path}: " + "; ".join(problems))


def spec() -> dict[str, Any] | None:
    """Return the step spec (``csm_step.json``), or ``None`` outside the pipeline.

    The spec is read from ``$CSM_STEP_SPEC`` if that is set (the file must then
    exist), else from ``$CSM_CODE_DIR/csm_step.json`` if that exists. A spec that is
    not valid JSON, has an unknown ``version`` or declares an unknown type raises
    :class:`RuntimeConfigError`. A fresh dict is returned on every call.
    """
    path = _spec_path()
    data = None if path is None else read_json_object(path)
    if path is None or data is None:
        if os.environ.get(SPEC_ENV):
            raise RuntimeConfigError(f"{SPEC_ENV} names {path}, which does not exist")
        return None
    _validate_spec(data, path)
    return data


def step_name() -> str | None:
    """Return this step's name: the spec's ``step``, else ``$CSM_STEP``, else ``None``."""
    current = spec()
    if current is not None and isinstance(current.get("step"), str):
        return str(current["step"])
    return os.environ.get(STEP_ENV) or None


def step_label(current: Mapping[str, Any]) -> str:
    """Name the step in a message: ``step 'train'``, else ``this step``."""
    name = current.get("step") or os.environ.get(STEP_ENV)
    return f"step {name!r}" if name else "this step"


def quoted_names(names: object) -> str:
    """List declared names in a message: ``'train', 'test'``, else ``none``."""
    listed = [repr(n) for n in names] if isinstance(names, list | dict | tuple) else []
    return ", ".join(listed) if listed else "none"

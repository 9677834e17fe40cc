"""The step's inputs and outputs by file: the directories of its S3 channels.

A channel's directory is its ``LocalPath`` in the job: ``/opt/ml/processing/input/<name>``
or ``/opt/ml/processing/output/<name>`` unless the step gave it another one
(``StepInput(..., local_path=...)``, ``StepOutput(..., local_path=...)``; the step spec
lists every channel's path under ``local_paths``). The pipeline's own channels (``code``,
``params``, ``returns``) live in ``/opt/ml/processing/csm/``. Paths below ``/opt/ml`` are
read below the container root (``$CSM_ML_DIR`` when the offline engine maps them).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from constructs_sm.runtime._constants import (
    CODE_CHANNEL,
    DEFAULT_ML_DIR,
    PARAMS_CHANNEL,
    RESERVED_DIR,
    RETURNS_CHANNEL,
)
from constructs_sm.runtime._errors import ChannelError, RuntimeConfigError
from constructs_sm.runtime._files import container_root
from constructs_sm.runtime._spec import quoted_names, spec, step_label

_RESERVED_INPUTS = (CODE_CHANNEL, PARAMS_CHANNEL)
_KIND_KEYS = {"input": "inputs", "output": "outputs"}


def reserved_dir(channel: str) -> Path:
    """The directory of one of the pipeline's own channels (``code``, ``params``,
    ``returns``): ``<root>/processing/csm/<channel>``."""
    return container_root() / RESERVED_DIR / channel


def in_container(path: str) -> Path:
    """A container path (``/opt/ml/processing/input``) below the container root."""
    pure = PurePosixPath(path)
    root = PurePosixPath(DEFAULT_ML_DIR)
    if root not in pure.parents:
        raise RuntimeConfigError(f"channel path {path!r} is not below {DEFAULT_ML_DIR}")
    return container_root().joinpath(*pure.relative_to(root).parts)


def declared_path(current: dict[str, Any] | None, kind: str, name: str) -> Path:
    """Where channel ``name`` of ``kind`` (``input``/``output``) is: the spec's
    ``local_paths`` entry, else ``<root>/processing/<kind>/<name>``."""
    paths = ((current or {}).get("local_paths") or {}).get(_KIND_KEYS[kind]) or {}
    given = paths.get(name)
    if isinstance(given, str):
        return in_container(given)
    return container_root() / "processing" / kind / name


def _channel_path(kind: str, name: str, reserved: tuple[str, ...]) -> Path:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ChannelError(f"{kind} channel name must be a plain directory name, got {name!r}")
    if name in reserved:
        return reserved_dir(name)
    current = spec()
    declared_key = _KIND_KEYS[kind]
    if current is not None:
        declared = current.get(declared_key) or []
        if name not in declared:
            raise ChannelError(
                f"{step_label(current)} has no {kind} channel {name!r}; "
                f"declared {declared_key}: {quoted_names(declared)}"
            )
    return declared_path(current, kind, name)


def input_dir(name: str) -> Path:
    """Return the directory of input channel ``name``.

    That is its ``LocalPath``: ``<root>/processing/input/NAME`` unless the step gave the
    channel another path (``StepInput(..., local_path=...)``). With a spec, ``name`` must
    be one of the step's declared inputs (or a reserved channel: ``code``, ``params``,
    which are in ``<root>/processing/csm/``), else :class:`ChannelError` names the step,
    the channel and the declared inputs. The directory must exist.
    """
    path = _channel_path("input", name, _RESERVED_INPUTS)
    if not path.is_dir():
        raise ChannelError(f"input channel {name!r}: directory {path} does not exist")
    return path


def output_dir(name: str) -> Path:
    """Return the directory of output channel ``name``, creating it if needed.

    That is its ``LocalPath``: ``<root>/processing/output/NAME`` unless the step gave the
    channel another path (``StepOutput(..., local_path=...)``). With a spec, ``name`` must
    be one of the step's declared outputs, else :class:`ChannelError` names the step, the
    channel and the declared outputs. The reserved ``returns`` channel is written by
    :func:`emit` only.
    """
    if name == RETURNS_CHANNEL:
        raise ChannelError(f"output channel {RETURNS_CHANNEL!r} is reserved; use emit()")
    path = _channel_path("output", name, ())
    path.mkdir(parents=True, exist_ok=True)
    return path

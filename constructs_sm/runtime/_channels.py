"""The step's inputs and outputs by file: the directories of its S3 channels."""

from __future__ import annotations

from pathlib import Path

from constructs_sm.runtime._constants import CODE_CHANNEL, PARAMS_CHANNEL, RETURNS_CHANNEL
from constructs_sm.runtime._errors import ChannelError
from constructs_sm.runtime._files import container_root
from constructs_sm.runtime._spec import quoted_names, spec, step_label

_RESERVED_INPUTS = (CODE_CHANNEL, PARAMS_CHANNEL)


def _channel_path(kind: str, name: str, declared_key: str, reserved: tuple[str, ...]) -> Path:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ChannelError(f"{kind} channel name must be a plain directory name, got {name!r}")
    current = spec()
    if current is not None and name not in reserved:
        declared = current.get(declared_key) or []
        if name not in declared:
            raise ChannelError(
                f"{step_label(current)} has no {kind} channel {name!r}; "
                f"declared {declared_key}: {quoted_names(declared)}"
            )
    return container_root() / "processing" / kind / name


def input_dir(name: str) -> Path:
    """Return the directory of input channel ``name`` (``<root>/processing/input/NAME``).

    With a spec, ``name`` must be one of the step's declared inputs (or a reserved
    channel: ``code``, ``params``), else :class:`ChannelError` names the step, the
    channel and the declared inputs. The directory must exist.
    """
    path = _channel_path("input", name, "inputs", _RESERVED_INPUTS)
    if not path.is_dir():
        raise ChannelError(f"input channel {name!r}: directory {path} does not exist")
    return path


def output_dir(name: str) -> Path:
    """Return the directory of output channel ``name``, creating it if needed.

    The directory is ``<root>/processing/output/NAME``. With a spec, ``name`` must be
    one of the step's declared outputs, else :class:`ChannelError` names the step,
    the channel and the declared outputs. The reserved ``returns`` channel is written
    by :func:`emit` only.
    """
    if name == RETURNS_CHANNEL:
        raise ChannelError(f"output channel {RETURNS_CHANNEL!r} is reserved; use emit()")
    path = _channel_path("output", name, "outputs", ())
    path.mkdir(parents=True, exist_ok=True)
    return path

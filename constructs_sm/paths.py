"""Where a step's channels are inside the container (pure): defaults, the pipeline's own
directory, and the rules a channel's path must follow.

A channel's ``LocalPath`` is ``/opt/ml/processing/input/<name>`` or
``/opt/ml/processing/output/<name>`` unless the step gives it one
(``StepInput(source, local_path=...)``, ``StepOutput(name, local_path=...)``), as a
ported ScriptProcessor program does (``destination="/opt/ml/processing/input"``). The
pipeline's own channels (``code``, ``params``, ``returns``) live in
``/opt/ml/processing/csm/``, which no step channel may use, so any other path under
``/opt/ml/processing/`` is free for the step's own.

SageMaker's rules (the API model's ``ProcessingLocalPath`` shape and documentation, see
:func:`constructs_sm.service_model.processing_path_problems`): an absolute path beginning
with ``/opt/ml/processing/``, at most 256 characters, no two inputs on one path, no input
and output on one path. The pipeline is stricter: a path names a directory below
``/opt/ml/processing/`` without ``.``/``..``/empty segments, and no channel's path is
inside another's (SageMaker uploads an output directory whole, so a channel nested in an
output would be uploaded with it, and one channel's files would appear in another's).
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Sequence
from typing import Final, Literal

from constructs_sm import runtime as _rt
from constructs_sm.limits import local_path_limits

#: The container root SageMaker mounts; the runtime reads channels below it.
CONTAINER_ROOT: Final = _rt.DEFAULT_ML_DIR
#: Every channel's LocalPath begins with this.
PROCESSING_PREFIX: Final = f"{CONTAINER_ROOT}/processing/"
#: The pipeline's own channels: /opt/ml/processing/csm/<channel>.
RESERVED_ROOT: Final = f"{CONTAINER_ROOT}/{_rt.RESERVED_DIR}"

ChannelKind = Literal["input", "output"]


def default_path(kind: ChannelKind, channel: str) -> str:
    """``/opt/ml/processing/<kind>/<channel>``: a channel's path when the step gives none."""
    return f"{PROCESSING_PREFIX}{kind}/{channel}"


def reserved_path(channel: str) -> str:
    """``/opt/ml/processing/csm/<channel>``: one of the pipeline's own channels."""
    return f"{RESERVED_ROOT}/{channel}"


def normalized(path: str) -> str:
    """``path`` without a trailing ``/`` (``/opt/ml/processing/input/`` names the same
    directory as ``/opt/ml/processing/input``)."""
    return path.rstrip("/") if path.rstrip("/") else path


def _matches_model_pattern(path: str, pattern: str) -> bool:
    """The model's pattern is a Java regular expression (``.*``: any characters but line
    terminators); control and line-separator characters are refused in any case."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in path):
        return False
    try:
        return re.fullmatch(pattern, path) is not None
    except re.error:  # a Java-only construct: the character check above stands
        return True


def local_path_problems(path: object, where: str) -> list[str]:
    """Why ``path`` cannot be a channel's ``LocalPath`` (empty when it can).

    ``where`` names the argument (``StepInput.local_path``).
    """
    if not isinstance(path, str):
        return [f"{where} must be a str, got {type(path).__name__}"]
    max_length, pattern = local_path_limits()
    problems = []
    if not path.startswith(PROCESSING_PREFIX):
        problems.append(
            f"{where} must begin with {PROCESSING_PREFIX} (SageMaker's rule for every "
            f"processing input and output), got {path!r}"
        )
    if len(path) > max_length:
        problems.append(f"{where} is {len(path)} characters; at most {max_length} are allowed")
    if not _matches_model_pattern(path, pattern):
        problems.append(
            f"{where} must be one line of printable characters (the API's pattern "
            f"{pattern}), got {path!r}"
        )
    if problems:
        return problems
    plain = normalized(path)
    if plain == PROCESSING_PREFIX.rstrip("/") or posixpath.normpath(plain) != plain:
        problems.append(
            f"{where} must name a directory below {PROCESSING_PREFIX} without '.', '..' or "
            f"empty segments, got {path!r}"
        )
    elif plain == RESERVED_ROOT or plain.startswith(RESERVED_ROOT + "/"):
        problems.append(
            f"{where} {path!r} is inside {RESERVED_ROOT}/, where the pipeline keeps its own "
            f"channels ({_rt.CODE_CHANNEL}, {_rt.PARAMS_CHANNEL}, {_rt.RETURNS_CHANNEL}); "
            "choose another directory"
        )
    return problems


def path_conflicts(channels: Sequence[tuple[str, str]]) -> list[str]:
    """Channels of one step whose paths are equal or nested, as ``(label, path)`` pairs
    (``inputs['raw']``, ``/opt/ml/processing/input``)."""
    problems = []
    plain = [(label, normalized(path)) for label, path in channels]
    for index, (label, path) in enumerate(plain):
        for other_label, other in plain[:index]:
            if path == other:
                problems.append(
                    f"{other_label} and {label} both use {path}; each channel needs a "
                    "directory of its own"
                )
            elif path.startswith(other + "/") or other.startswith(path + "/"):
                inner, outer = (
                    (label, other_label) if path.startswith(other + "/") else (other_label, label)
                )
                inner_path, outer_path = (path, other) if inner == label else (other, path)
                problems.append(
                    f"{inner} ({inner_path}) is inside {outer} ({outer_path}); channels may "
                    "not nest (an output directory is uploaded whole, and one channel's "
                    "files would appear in the other's): give every channel of the step "
                    "its own directory"
                )
    return problems

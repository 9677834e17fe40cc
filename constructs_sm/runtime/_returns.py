"""Values returned to the state machine: :func:`emit` and the returns file.

The only state the runtime keeps between calls lives here: the values this process
already emitted, per returns file, so that a value survives even if the file is
removed or replaced between two :func:`emit` calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from constructs_sm.runtime._constants import (
    MAX_MESSAGE_BYTES,
    MESSAGE_FILE,
    RESERVED_DIR,
    RETURNS_CHANNEL,
    returns_file_name,
)
from constructs_sm.runtime._errors import ReturnValueError
from constructs_sm.runtime._files import container_root, read_json_object, write_json_atomically
from constructs_sm.runtime._job import current_host
from constructs_sm.runtime._spec import quoted_names, spec, step_label
from constructs_sm.runtime._values import Value, convert, describe

#: Returned strings may become another step's environment value (at most 256 characters).
MAX_RETURNED_STRING = 256

# Values emitted by this process, per returns file (see emit()).
_EMITTED: dict[str, dict[str, Value]] = {}


def _check_return(name: str, value: object, declared: Mapping[str, Any] | None) -> Value:
    what = f"return value {name!r}"
    if isinstance(value, str) and len(value) > MAX_RETURNED_STRING:
        raise ReturnValueError(
            f"{what} is {len(value)} characters; returned strings are at most "
            f"{MAX_RETURNED_STRING} (they may become environment values): write long "
            "results to an output channel"
        )
    if declared is not None:
        return convert(value, str(declared[name]), what=what, error=ReturnValueError)
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return convert(value, "number", what=what, error=ReturnValueError)
    raise ReturnValueError(
        f"{what} must be a string, integer, number or boolean, got {describe(value)}"
    )


def emit(**values: object) -> None:
    """Return values to the state machine: ``emit(accuracy=0.93, rows=1200)``.

    With a spec each name must be declared under ``returns`` and each value must have
    the declared type (an ``int`` is accepted for a number and stored as ``float``;
    a ``bool`` is never an integer or a number; numbers must be finite). Values are
    merged with those already emitted by this process and those already in
    ``<root>/processing/csm/returns/values-<host>.json`` (this host's file: each host
    of a multi-instance job has its own), and the file is replaced
    atomically. Nothing is written if any value is rejected; all problems are
    reported together in one :class:`ReturnValueError`.
    """
    current = spec()
    declared: dict[str, Any] | None = None
    if current is not None:
        declared = dict(current.get("returns") or {})
    checked: dict[str, Value] = {}
    problems: list[str] = []
    for name, value in values.items():
        if declared is not None and name not in declared:
            problems.append(
                f"unknown return value {name!r} for {step_label(current or {})}; "
                f"declared returns: {quoted_names(declared)}"
            )
            continue
        try:
            checked[name] = _check_return(name, value, declared)
        except ReturnValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ReturnValueError("; ".join(problems))
    path = _returns_path()
    emitted = _EMITTED.setdefault(str(path), {})
    merged: dict[str, Any] = read_json_object(path, ReturnValueError) or {}
    merged.update(emitted)
    merged.update(checked)
    message = _message(merged) if _through_message(current) else None
    write_json_atomically(path, merged)
    if message is not None:
        _write_message(message)
    emitted.update(checked)


def _through_message(current: dict[str, Any] | None) -> bool:
    """Whether the values go back in the job's ExitMessage (one host; see the spec)."""
    return current is None or current.get("returned_via", "message") == "message"


def _message(values: Mapping[str, Any]) -> bytes:
    """The values as the ExitMessage carries them: compact UTF-8 JSON of at most 1 KB."""
    data = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) > MAX_MESSAGE_BYTES:
        raise ReturnValueError(
            f"the returned values are {len(data)} bytes of JSON; a single-instance step "
            f"returns at most {MAX_MESSAGE_BYTES} (SageMaker's ExitMessage): return fewer "
            "or shorter values, or write larger results to an output channel"
        )
    return data


def _write_message(data: bytes) -> None:
    path = container_root() / MESSAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def returns_path() -> Path:
    """This host's returns file: ``<root>/processing/csm/returns/values-<host>.json``."""
    return _returns_path()


def _returns_path() -> Path:
    directory = container_root() / RESERVED_DIR / RETURNS_CHANNEL
    return directory / returns_file_name(current_host())


def start_returns() -> None:
    """Write an empty returns file when the step declares returns (the launcher calls it).

    A script that emits nothing then leaves ``{}`` (and, for a single host, an ExitMessage
    of ``{}``), and the state machine's checks fail the step with ``InvalidReturnValues``
    naming the missing values, instead of a missing object. An existing file is kept.
    """
    current = spec()
    if not current or not current.get("returns"):
        return
    path = _returns_path()
    if not path.exists():
        write_json_atomically(path, {})
    if _through_message(current):
        _write_message(_message(read_json_object(path, ReturnValueError) or {}))


def finish_returns() -> None:
    """Write the ExitMessage from this host's returns file (the launcher calls it when the
    script ends, however it ends), so the message the state machine reads is always the
    values file's, even if the script removed or replaced ``/opt/ml/output/message``."""
    current = spec()
    if not current or not current.get("returns") or not _through_message(current):
        return
    path = _returns_path()
    values = read_json_object(path, ReturnValueError) if path.exists() else None
    _write_message(_message(values or {}))


def check_returns_file() -> str | None:
    """Check the returns file a non-Python entry point wrote (``$CSM_RETURNS_FILE``) as
    :func:`emit` checks values; the launcher calls it when such a script ends.

    Returns ``None`` when the values are fine (the file then holds them as :func:`emit`
    writes them), else what is wrong; the file is then reset to ``{}``, so that the step
    fails rather than return values nobody checked.
    """
    current = spec()
    if not current or not current.get("returns"):
        return None
    path = _returns_path()
    try:
        values = read_json_object(path, ReturnValueError) or {}
        write_json_atomically(path, {})
        _EMITTED.pop(str(path), None)
        emit(**values)
    except ReturnValueError as exc:
        write_json_atomically(path, {})
        _EMITTED.pop(str(path), None)
        return f"the values in {path}: {exc}"
    return None

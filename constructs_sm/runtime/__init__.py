"""Container-side runtime of ``constructs_sm``: typed parameters, channels and return values.

This package runs *inside* the processing container. It uses the Python standard
library only (Python >= 3.10) and never imports CDK, so the pipeline can ship it in
the step's code zip next to the user's script.

Usage in a step script::

    from constructs_sm import runtime

    p = runtime.params()                  # typed, validated: p.epochs is an int
    lr = runtime.env("LEARNING_RATE")     # "1.0E-4" in the environment -> 0.0001
    raw = runtime.input_dir("raw")        # /opt/ml/processing/input/raw
    out = runtime.output_dir("train")     # /opt/ml/processing/output/train (created)
    (out / "rows.csv").write_text((raw / "rows.csv").read_text())
    runtime.emit(accuracy=0.93)           # read back by the state machine

Where things are:

- the container root is ``$CSM_ML_DIR`` (default ``/opt/ml``);
- parameters: ``<root>/processing/input/params/params.json``;
- return values: ``<root>/processing/output/returns/values.json``;
- the step spec (``csm_step.json``, written by the pipeline at synth time) is read
  from ``$CSM_STEP_SPEC`` if set, else from ``$CSM_CODE_DIR/csm_step.json``
  (``CSM_CODE_DIR`` is set by :mod:`constructs_sm.runtime.launch`).

Without a spec (a script run by hand, outside the pipeline) nothing is declared:
:func:`params` returns the JSON values as parsed, :func:`env` returns strings, any
channel name is accepted and :func:`emit` accepts any string, integer, finite
number or boolean.

Everything is read at call time; the only state kept between calls is the set of
values already emitted, per returns file.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, TypeAlias

__all__ = [
    "CODE_CHANNEL",
    "CODE_DIR_ENV",
    "DEFAULT_ML_DIR",
    "ML_DIR_ENV",
    "PARAMS_CHANNEL",
    "PARAMS_FILE",
    "PIPELINE_ENV",
    "RETURNS_CHANNEL",
    "RETURNS_FILE",
    "SPEC_ENV",
    "SPEC_FILE",
    "SPEC_VERSION",
    "STEP_ENV",
    "TYPES",
    "ChannelError",
    "ParameterError",
    "Params",
    "ReturnValueError",
    "RuntimeConfigError",
    "Value",
    "convert",
    "current_host",
    "emit",
    "env",
    "hosts",
    "input_dir",
    "job_config",
    "job_name",
    "output_dir",
    "params",
    "parse_env_string",
    "spec",
    "start_returns",
    "step_name",
]

SPEC_FILE = "csm_step.json"
"""Name of the step spec inside the code zip."""
SPEC_VERSION = 1
"""The spec ``version`` this runtime understands."""
PARAMS_CHANNEL = "params"
"""Reserved input channel holding :data:`PARAMS_FILE`."""
PARAMS_FILE = "params.json"
"""The execution parameters, one JSON object, in the ``params`` input channel."""
CODE_CHANNEL = "code"
"""Reserved input channel holding the step's code zip."""
RETURNS_CHANNEL = "returns"
"""Reserved output channel holding :data:`RETURNS_FILE`."""
RETURNS_FILE = "values.json"
"""The values written by :func:`emit`, one JSON object, in the ``returns`` output channel."""
ML_DIR_ENV = "CSM_ML_DIR"
"""Environment variable overriding the container root."""
DEFAULT_ML_DIR = "/opt/ml"
"""The container root used by SageMaker Processing."""
STEP_ENV = "CSM_STEP"
"""Environment variable holding the step name (set by the pipeline)."""
PIPELINE_ENV = "CSM_PIPELINE"
"""Environment variable holding the pipeline id (set by the pipeline)."""
CODE_DIR_ENV = "CSM_CODE_DIR"
"""Environment variable holding the directory the code zip was extracted to."""
SPEC_ENV = "CSM_STEP_SPEC"
"""Environment variable naming a spec file explicitly (takes precedence)."""
TYPES = ("string", "integer", "number", "boolean")
"""The declared value types, as they appear in the spec."""

#: A step's ContainerEntrypoint is ``["python3", "-c", BOOTSTRAP, SCRIPT, *ARGS]``: it
#: extracts the code channel's zip into a temporary directory and runs the zip's
#: ``__main__.py`` (``ZIP_MAIN``), which hands over to :mod:`constructs_sm.runtime.launch`.
#: It must stay within the 256 characters of one entrypoint item.
BOOTSTRAP = (
    "import glob,os,runpy,tempfile as t,zipfile as z;d=t.mkdtemp();"
    "z.ZipFile(glob.glob(os.getenv('CSM_ML_DIR','/opt/ml')+'/processing/input/code/*.zip')[0])"
    ".extractall(d);runpy.run_path(d,run_name='__main__')"
)
#: The ``__main__.py`` at the root of every step's code zip.
ZIP_MAIN = (
    '"""Entry point of a step\'s code channel: runs the step\'s script via the launcher."""\n'
    "from constructs_sm.runtime.launch import main\n\n"
    "raise SystemExit(main())\n"
)

Value: TypeAlias = "str | int | float | bool"
"""A typed scalar: what parameters, environment values and return values convert to."""

_DEFAULT_HOST = "algo-1"
_PROCESSING_CONFIG = "processingjobconfig.json"
_RESOURCE_CONFIG = "resourceconfig.json"
_RESERVED_INPUTS = (CODE_CHANNEL, PARAMS_CHANNEL)
_TYPE_NOUNS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
}
_ENV_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_ENV_INTEGER = re.compile(r"[+-]?[0-9]+")

# Values emitted by this process, per returns file (see emit()).
_EMITTED: dict[str, dict[str, Value]] = {}


# --------------------------------------------------------------------------- errors


class RuntimeConfigError(Exception):
    """Base class of the runtime's errors (also raised for a broken spec or config file)."""


class ParameterError(RuntimeConfigError, ValueError):
    """An execution parameter or environment value is missing or not allowed by the spec."""


class ChannelError(RuntimeConfigError, LookupError):
    """A channel is not declared for this step, or its input directory does not exist."""


class ReturnValueError(RuntimeConfigError, ValueError):
    """A value passed to :func:`emit` is not declared or has the wrong type."""


# --------------------------------------------------------------------------- conversion


def _describe(value: object) -> str:
    """Show a value with its Python type: ``'ten' (str)``, ``True (bool)``."""
    return f"{value!r} ({type(value).__name__})"


def _fail(error: type[RuntimeConfigError], what: str, type_name: str, value: object) -> NoReturn:
    raise error(f"{what} must be {_TYPE_NOUNS[type_name]}, got {_describe(value)}")


def _check_type_name(type_name: str) -> None:
    if type_name not in TYPES:
        allowed = ", ".join(repr(t) for t in TYPES)
        raise RuntimeConfigError(f"unknown type {type_name!r}; allowed: {allowed}")


def convert(
    value: object,
    type_name: str,
    *,
    what: str,
    error: type[RuntimeConfigError] = ParameterError,
) -> Value:
    """Check a JSON-decoded ``value`` against a declared type and return it typed.

    - ``"integer"``: an ``int`` (``10.0`` is accepted as ``10``; booleans and
      non-integral numbers are rejected);
    - ``"number"``: a finite ``float`` (an ``int`` is converted; booleans are rejected);
    - ``"boolean"``: a ``bool`` only;
    - ``"string"``: a ``str`` only.

    ``what`` names the value in the message (``"parameter 'epochs'"``) and ``error`` is
    the exception class raised when the value is not allowed, e.g.
    ``ParameterError("parameter 'epochs' must be an integer, got 'ten' (str)")``.
    An unknown ``type_name`` raises :class:`RuntimeConfigError`.
    """
    _check_type_name(type_name)
    if type_name == "string":
        if isinstance(value, str):
            return value
    elif type_name == "boolean":
        if isinstance(value, bool):
            return value
    elif isinstance(value, bool):
        pass  # bool is an int subclass, but never a number here
    elif type_name == "integer":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
    elif isinstance(value, int):  # number
        try:
            return float(value)
        except OverflowError:
            raise error(f"{what} is too large for a number, got {value!r}") from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise error(f"{what} must be a finite number, got {value!r}")
        return value
    _fail(error, what, type_name, value)


def parse_env_string(
    text: str,
    type_name: str,
    *,
    what: str = "value",
    error: type[RuntimeConfigError] = ParameterError,
) -> Value:
    """Convert an environment string back to its declared type.

    The pipeline turns every environment value into a string; this reverses it:
    ``"10"`` -> ``10`` for an integer (``"10.0"`` too), ``"0.01"``, ``"1.0E-4"`` or
    ``"10"`` -> ``float`` for a number, ``"true"``/``"false"`` (any case) -> ``bool``
    for a boolean, and a string stays as it is. Surrounding whitespace is ignored
    except for strings. Not-a-number and infinity are rejected.
    """
    _check_type_name(type_name)
    if type_name == "string":
        return text
    stripped = text.strip()
    if type_name == "boolean":
        lowered = stripped.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    elif type_name == "integer":
        if _ENV_INTEGER.fullmatch(stripped):
            with contextlib.suppress(ValueError):  # beyond int()'s digit limit
                return int(stripped)
        elif _ENV_NUMBER.fullmatch(stripped):
            number = float(stripped)
            if math.isfinite(number) and number.is_integer():
                return int(number)
    elif _ENV_NUMBER.fullmatch(stripped):  # number
        number = float(stripped)
        if math.isfinite(number):
            return number
        raise error(f"{what} is too large for a number, got {text!r}")
    raise error(f"{what} must be {_TYPE_NOUNS[type_name]}, got {text!r}")


# --------------------------------------------------------------------------- files


def _root() -> Path:
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


def _read_json_object(
    path: Path, error: type[RuntimeConfigError] = RuntimeConfigError
) -> dict[str, Any] | None:
    """Read a JSON object from ``path``; ``None`` when the file does not exist."""
    if not path.is_file():
        return None
    data = _read_json(path, error)
    if not isinstance(data, dict):
        raise error(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def _write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
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


# --------------------------------------------------------------------------- spec


def _spec_path() -> Path | None:
    explicit = os.environ.get(SPEC_ENV)
    if explicit:
        return Path(explicit)
    code_dir = os.environ.get(CODE_DIR_ENV)
    if code_dir:
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
    data = None if path is None else _read_json_object(path)
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


def _step_label(current: Mapping[str, Any]) -> str:
    name = current.get("step") or os.environ.get(STEP_ENV)
    return f"step {name!r}" if name else "this step"


def _names(names: object) -> str:
    listed = [repr(n) for n in names] if isinstance(names, list | dict | tuple) else []
    return ", ".join(listed) if listed else "none"


# --------------------------------------------------------------------------- params


class Params(Mapping[str, Any]):
    """The execution parameters of a step, read-only.

    Values are reachable as attributes (``p.epochs``) and as a mapping
    (``p["epochs"]``, ``"epochs" in p``, iteration, ``len(p)``, :meth:`as_dict`).
    A parameter whose name clashes with a mapping method (``items``, ``get``, ...)
    is reachable by subscript only.
    """

    __slots__ = ("_values",)
    _values: Mapping[str, Any]

    def __init__(self, values: Mapping[str, Any]) -> None:
        """Wrap a copy of ``values``."""
        object.__setattr__(self, "_values", MappingProxyType(copy.deepcopy(dict(values))))

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_values":
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"no parameter {name!r}; parameters: {_names(list(self._values))}"
            ) from None

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Params is read-only; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Params is read-only; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Params], tuple[dict[str, Any]]]:
        return (Params, (dict(self._values),))

    def __repr__(self) -> str:
        return f"Params({dict(self._values)!r})"

    def as_dict(self) -> dict[str, Any]:
        """Return a new, independent ``dict`` of the parameters."""
        return copy.deepcopy(dict(self._values))


def _range_text(type_name: str, minimum: object, maximum: object) -> str:
    noun = _TYPE_NOUNS[type_name]
    if minimum is not None and maximum is not None:
        return f"{noun} between {minimum} and {maximum}"
    if minimum is not None:
        return f"{noun} >= {minimum}"
    return f"{noun} <= {maximum}"


def _check_param(name: str, raw: object, declared: Mapping[str, Any]) -> Value:
    """Convert one parameter and apply its choices, pattern and range."""
    what = f"parameter {name!r}"
    type_name = str(declared["type"])
    value = convert(raw, type_name, what=what)
    choices = declared.get("choices")
    if choices is not None and value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{what} must be one of {allowed}, got {value!r}")
    max_length = declared.get("max_length")
    if isinstance(max_length, int) and isinstance(value, str) and len(value) > max_length:
        raise ParameterError(f"{what} must be at most {max_length} characters, got {len(value)}")
    pattern = declared.get("pattern")
    if pattern is not None and isinstance(value, str):
        try:
            matched = re.search(pattern, value)
        except re.error as exc:
            raise RuntimeConfigError(f"{what} has an invalid pattern {pattern!r}: {exc}") from None
        if matched is None:
            raise ParameterError(f"{what} must match pattern {pattern!r}, got {value!r}")
    minimum = declared.get("minimum")
    maximum = declared.get("maximum")
    if type_name in ("integer", "number") and isinstance(value, int | float):
        too_low = minimum is not None and value < minimum
        too_high = maximum is not None and value > maximum
        if too_low or too_high:
            raise ParameterError(
                f"{what} must be {_range_text(type_name, minimum, maximum)}, got {value!r}"
            )
    return value


def params() -> Params:
    """Read, validate and type the execution parameters of this step.

    Reads ``<root>/processing/input/params/params.json`` (a JSON object). With a spec,
    every declared parameter is converted by :func:`convert` and checked against its
    ``choices``, ``pattern`` (``re.search``: write anchors yourself) and
    ``minimum``/``maximum``; a parameter missing from the file takes its declared
    default, and one without a default is an error. Keys not declared in the spec are
    dropped. All problems are reported together in one :class:`ParameterError`, e.g.
    ``parameter 'epochs' must be an integer >= 1, got 0``.

    Without a spec the file's values are returned as JSON parsed them. A missing file
    counts as an empty object (a pipeline without parameters has no params channel).
    """
    path = _root() / "processing" / "input" / PARAMS_CHANNEL / PARAMS_FILE
    given = _read_json_object(path, ParameterError) or {}
    current = spec()
    if current is None:
        return Params(given)
    declared: dict[str, Any] = current.get("params") or {}
    values: dict[str, Value] = {}
    problems: list[str] = []
    for name, entry in declared.items():
        if name in given:
            raw = given[name]
        elif entry.get("default") is not None:
            raw = entry["default"]
        else:
            problems.append(f"parameter {name!r} is required but missing from {path}")
            continue
        try:
            values[name] = _check_param(name, raw, entry)
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))
    return Params(values)


# --------------------------------------------------------------------------- env


def env(name: str) -> Value:
    """Return environment variable ``name`` converted back to its declared type.

    With a spec that declares ``name`` under ``env``, the string is converted by
    :func:`parse_env_string` (``"10"`` -> ``10``, ``"1.0E-4"`` -> ``0.0001``,
    ``"TRUE"`` -> ``True``). An undeclared name, or no spec, gives the plain string.
    A variable that is not set, or not convertible, raises :class:`ParameterError`.
    """
    current = spec()
    entry = ((current or {}).get("env") or {}).get(name)
    type_name = str(entry["type"]) if entry else "string"
    text = os.environ.get(name)
    if text is None:
        declared = f" (declared as {type_name})" if entry else ""
        raise ParameterError(f"environment variable {name!r} is not set{declared}")
    return parse_env_string(text, type_name, what=f"environment variable {name!r}")


# --------------------------------------------------------------------------- channels


def _channel_path(kind: str, name: str, declared_key: str, reserved: tuple[str, ...]) -> Path:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ChannelError(f"{kind} channel name must be a plain directory name, got {name!r}")
    current = spec()
    if current is not None and name not in reserved:
        declared = current.get(declared_key) or []
        if name not in declared:
            raise ChannelError(
                f"{_step_label(current)} has no {kind} channel {name!r}; "
                f"declared {declared_key}: {_names(declared)}"
            )
    return _root() / "processing" / kind / name


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


# --------------------------------------------------------------------------- returns


#: Returned strings may become another step's environment value (at most 256 characters).
MAX_RETURNED_STRING = 256


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
        f"{what} must be a string, integer, number or boolean, got {_describe(value)}"
    )


def emit(**values: object) -> None:
    """Return values to the state machine: ``emit(accuracy=0.93, rows=1200)``.

    With a spec each name must be declared under ``returns`` and each value must have
    the declared type (an ``int`` is accepted for a number and stored as ``float``;
    a ``bool`` is never an integer or a number; numbers must be finite). Values are
    merged with those already emitted by this process and those already in
    ``<root>/processing/output/returns/values.json``, and the file is replaced
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
                f"unknown return value {name!r} for {_step_label(current or {})}; "
                f"declared returns: {_names(declared)}"
            )
            continue
        try:
            checked[name] = _check_return(name, value, declared)
        except ReturnValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ReturnValueError("; ".join(problems))
    path = _root() / "processing" / "output" / RETURNS_CHANNEL / RETURNS_FILE
    emitted = _EMITTED.setdefault(str(path), {})
    merged: dict[str, Any] = _read_json_object(path, ReturnValueError) or {}
    merged.update(emitted)
    merged.update(checked)
    _write_json_atomically(path, merged)
    emitted.update(checked)


def start_returns() -> None:
    """Write an empty returns file when the step declares returns (the launcher calls it).

    A script that emits nothing then leaves ``{}``, and the state machine's checks fail
    the step with ``InvalidReturnValues`` naming the missing values, instead of a
    missing object. An existing file is kept.
    """
    current = spec()
    if not current or not current.get("returns"):
        return
    path = _root() / "processing" / "output" / RETURNS_CHANNEL / RETURNS_FILE
    if not path.exists():
        _write_json_atomically(path, {})


# --------------------------------------------------------------------------- job config


def _config(name: str) -> dict[str, Any]:
    return _read_json_object(_root() / "config" / name) or {}


def job_config() -> dict[str, Any]:
    """Return ``<root>/config/processingjobconfig.json`` as a dict (``{}`` when absent).

    SageMaker writes the job's CreateProcessingJob request there
    (``ProcessingJobName``, ``Environment``, ``ProcessingInputs``, ...).
    """
    return _config(_PROCESSING_CONFIG)


def job_name() -> str | None:
    """Return the processing job's name, or ``None`` when there is no job config."""
    name = job_config().get("ProcessingJobName")
    return name if isinstance(name, str) else None


def current_host() -> str:
    """Return this instance's host name (``algo-1`` when there is no resource config)."""
    host = _config(_RESOURCE_CONFIG).get("current_host", _DEFAULT_HOST)
    if not isinstance(host, str) or not host:
        raise RuntimeConfigError(f"current_host in {_RESOURCE_CONFIG} must be a string")
    return host


def hosts() -> list[str]:
    """Return all host names of the job (``["algo-1"]`` when there is no resource config)."""
    names = _config(_RESOURCE_CONFIG).get("hosts", [_DEFAULT_HOST])
    if not isinstance(names, list) or not names or not all(isinstance(h, str) for h in names):
        raise RuntimeConfigError(f"hosts in {_RESOURCE_CONFIG} must be a list of strings")
    return list(names)

"""What the user declares: the value types of a pipeline's steps (pure, no CDK objects).

``Resources`` (compute), ``StepInput`` (an input channel with its settings),
``StepOutput`` (an output channel with its container path),
``OutputRef`` and ``ValueRef`` (references to another step's output channel or returned
value), ``DataSource`` (where parameter-supplied inputs may point) and the name rules the
validation applies. Each type checks itself when it is created.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from constructs_sm import runtime as _rt
from constructs_sm.limits import MAX_RUNTIME_LIMIT, has_local_storage, instance_type_problem
from constructs_sm.params import ParamRef, ParamType
from constructs_sm.paths import local_path_problems, normalized

if TYPE_CHECKING:
    from aws_cdk import aws_s3 as s3

    from constructs_sm.step import ProcessingStep

#: Step names are JSONPath segments ($.steps.<step>...) and S3 key segments: no hyphens.
STEP_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
CHANNEL_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
ENV_KEY: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,255}$")
RESERVED_INPUTS: Final = frozenset({_rt.CODE_CHANNEL, _rt.PARAMS_CHANNEL})
RESERVED_OUTPUTS: Final = frozenset({_rt.RETURNS_CHANNEL})
RESERVED_ENV_PREFIX: Final = "CSM_"

RETURN_TYPES: Final[Mapping[type, ParamType]] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
}


@dataclass(frozen=True)
class Resources:
    """The compute a step's processing job runs on.

    Defaults: one ``ml.m5.xlarge`` with a 30 GiB KMS-encrypted volume, stopped after
    24 hours.
    """

    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int = 24 * 3600

    def __post_init__(self) -> None:
        problems = []
        problem = instance_type_problem(self.instance_type)
        if problem:
            problems.append(problem)
        for label, value, low, high in (
            ("instance_count", self.instance_count, 1, 100),
            ("volume_size_gb", self.volume_size_gb, 1, 16384),
            ("max_runtime_seconds", self.max_runtime_seconds, 1, MAX_RUNTIME_LIMIT),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(f"{label} must be an int, got {value!r}")
            elif not low <= value <= high:
                problems.append(f"{label} must be between {low} and {high}, got {value}")
        if problems:
            raise ValueError("Resources: " + "; ".join(problems))

    @property
    def local_storage(self) -> bool:
        """True for instance types with local NVMe storage (no VolumeKmsKeyId allowed)."""
        return has_local_storage(self.instance_type)


@dataclass(frozen=True)
class OutputRef:
    """A step's output channel, usable as another step's input (``step.output(name)``).

    At run time it is the prefix ``s3://<bucket>/<pipeline>/<step>/<channel>/<execution>/``
    (see :mod:`constructs_sm.layout`).
    """

    step: ProcessingStep
    channel: str

    @property
    def key_suffix(self) -> str:
        """``<step>/<channel>/``: the channel below the pipeline's run prefix."""
        return f"{self.step.step_name}/{self.channel}/"


@dataclass(frozen=True)
class ValueRef:
    """A value a step returns (``step.value(name)``), readable once the step finished.

    Usable as a later step's environment value; :attr:`json_path` locates it in the
    state for your own ``Choice`` states.
    """

    step: ProcessingStep
    name: str
    type: ParamType

    @property
    def json_path(self) -> str:
        """Where the returned, type-checked value lives in the state machine's state."""
        return f"$.steps.{self.step.step_name}.returned.values.{self.name}"


#: SageMaker Processing's S3InputMode (FastFile is a training-job mode, not a processing one).
InputMode = Literal["File", "Pipe"]
Distribution = Literal["FullyReplicated", "ShardedByS3Key"]
DataType = Literal["S3Prefix", "ManifestFile"]
InputSource = OutputRef | ParamRef | str


@dataclass(frozen=True)
class StepInput:
    """An input channel with explicit settings; a bare source means File/FullyReplicated.

    ``source`` is another step's output, a string parameter holding an S3 URI, or a
    literal ``s3://`` URI. ``distribution="ShardedByS3Key"`` gives each instance of a
    multi-instance job its share of the objects. ``local_path`` is where the job finds the
    data (ScriptProcessor's ``destination``): a directory below ``/opt/ml/processing/``;
    by default ``/opt/ml/processing/input/<channel>``.
    """

    source: InputSource
    mode: InputMode = "File"
    distribution: Distribution = "FullyReplicated"
    data_type: DataType = "S3Prefix"
    local_path: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.local_path is not None:
            problems += local_path_problems(self.local_path, "local_path")
            if not problems:
                object.__setattr__(self, "local_path", normalized(self.local_path))
        mode: str = self.mode
        if mode == "FastFile":
            problems.append(
                "mode 'FastFile' is a training-job input mode; SageMaker Processing accepts "
                "File (download before the script starts) or Pipe: use mode='File'"
            )
        elif mode not in ("File", "Pipe"):
            problems.append(f"mode must be File or Pipe, got {self.mode!r}")
        if self.distribution not in ("FullyReplicated", "ShardedByS3Key"):
            problems.append(
                f"distribution must be FullyReplicated or ShardedByS3Key, got {self.distribution!r}"
            )
        if self.data_type not in ("S3Prefix", "ManifestFile"):
            problems.append(f"data_type must be S3Prefix or ManifestFile, got {self.data_type!r}")
        if problems:
            raise ValueError("StepInput: " + "; ".join(problems))


@dataclass(frozen=True)
class ItemRef:
    """The item a ``for_each`` step's job runs for (``pipeline.item()``), as a string.

    An environment value or container argument of a ``for_each`` step: an item of the
    list parameter, or the S3 key of the object (for ``for_each=step.output(...)``). In
    the script, ``runtime.item()`` returns it.
    """

    type: ParamType = "string"

    @property
    def json_path(self) -> str:
        """Where the item lives in the state of its child execution."""
        return "$.item"


#: At most this many jobs of one ``for_each`` step run at once by default (a Distributed
#: Map runs up to 10,000 child executions at once; a SageMaker account runs far fewer
#: processing instances of a type).
DEFAULT_MAX_CONCURRENCY: Final = 10
#: Distributed Map: MaxConcurrency 0 (no limit) to 10,000.
MAX_MAP_CONCURRENCY: Final = 10_000


@dataclass(frozen=True)
class FanOut:
    """How a ``for_each`` step fans out: one processing job per item, each a child
    execution of a Distributed Map (see :mod:`constructs_sm.fanout`).

    ``source`` is a ``string_list`` parameter or another step's output channel (each
    object under it is an item); at most ``max_concurrency`` jobs run at once; the step
    still succeeds when at most ``tolerated_failure_percentage`` percent or
    ``tolerated_failure_count`` items failed (neither: none may fail).
    """

    source: ParamRef | OutputRef
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    tolerated_failure_percentage: float | None = None
    tolerated_failure_count: int | None = None

    @property
    def over_objects(self) -> bool:
        """True when the items are the objects under an output channel."""
        return isinstance(self.source, OutputRef)


@dataclass(frozen=True)
class StepOutput:
    """An output channel at a path of the step's choosing, wherever an output name is
    accepted (``outputs=[StepOutput("processed", local_path=...)]``).

    ``local_path`` is the directory SageMaker uploads when the job ends (ScriptProcessor's
    ``ProcessingOutput(source=...)``): below ``/opt/ml/processing/``; by default
    ``/opt/ml/processing/output/<name>``. Its files go to the channel's handoff prefix as
    for any output.
    """

    name: str
    local_path: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.name, str) or not CHANNEL_NAME.match(self.name):
            problems.append(f"name must match {CHANNEL_NAME.pattern}, got {self.name!r}")
        if self.local_path is not None:
            problems += local_path_problems(self.local_path, "local_path")
        if problems:
            raise ValueError(f"StepOutput({self.name!r}): " + "; ".join(problems))
        if self.local_path is not None:
            object.__setattr__(self, "local_path", normalized(self.local_path))


OutputSpec = str | StepOutput
"""An output as ``add_step`` takes it: a channel name, or a :class:`StepOutput`."""

EnvValue = str | int | float | bool | ParamRef | ValueRef | ItemRef


def shown(value: object) -> str:
    """A declared value as an error message names it: a step by its name, a reference by
    what it refers to, never an object's repr with its address."""
    if isinstance(value, ParamRef):
        return f"param {value.name!r}"
    if isinstance(value, OutputRef):
        return f"output {value.channel!r} of step {value.step.step_name!r}"
    if isinstance(value, ValueRef):
        return f"value {value.name!r} of step {value.step.step_name!r}"
    step_name = getattr(value, "step_name", None)
    if isinstance(step_name, str):
        return f"step {step_name!r}"
    node = getattr(value, "node", None)
    path = getattr(node, "path", None)
    if isinstance(path, str):
        return f"{type(value).__name__} {path!r}"
    text = repr(value)
    if " object at 0x" in text:
        return f"a {type(value).__module__}.{type(value).__qualname__}"
    return text if len(text) <= 200 else f"{text[:197]}..."


def literal_type(value: object) -> ParamType | None:
    """The declared type of a literal environment value, or None if it is not one."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


#: How a CDK token (a CloudFormation value resolved at deploy) is written in a string.
_STRING_TOKEN = "${Token["


def env_spec(value: EnvValue) -> dict[str, str]:
    """An environment value as a step's spec records it: its type and where it comes from
    (``param:<name>``, ``value:<step>.<name>``, ``item``, ``reference`` for a string
    holding a CloudFormation value such as ``table.table_name``, or ``literal``)."""
    if isinstance(value, ParamRef):
        return {"type": value.type, "source": f"param:{value.name}"}
    if isinstance(value, ValueRef):
        return {"type": value.type, "source": f"value:{value.step.step_name}.{value.name}"}
    if isinstance(value, ItemRef):
        return {"type": value.type, "source": "item"}
    kind = literal_type(value)
    assert kind is not None  # validated by add_step
    reference = isinstance(value, str) and _STRING_TOKEN in value
    return {"type": kind, "source": "reference" if reference else "literal"}


def env_literal(value: str | int | float | bool) -> str:
    """How a literal environment value reaches the container (as the state machine would)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    return str(value)


@dataclass(frozen=True)
class DataSource:
    """Where a step input given as a parameter (an S3 URI at run time) may point.

    Steps that read a parameter-supplied URI get read access to these prefixes only:
    ``s3:GetObject`` on ``<prefix>*`` and ``s3:ListBucket`` limited to it. The default
    ``prefix=""`` is the whole bucket: those steps may then read every object in it
    (not allowed for the channel bucket, whose run prefixes hold other runs' data).
    """

    bucket: s3.IBucket
    prefix: str = ""


@dataclass(frozen=True)
class PrefixClaim:
    """A key prefix of a channel bucket that a pipeline uses.

    ``kind`` is ``"run"`` for the prefix its runs write (a lifecycle rule expires
    everything under it) or ``"data"`` for input data its steps read (a data source).
    """

    prefix: str
    kind: Literal["run", "data"]
    owner: str

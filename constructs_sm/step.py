"""One processing step: its settings, references and the Step Functions states it renders.

The pure functions here turn a step's settings into the ``createProcessingJob.sync``
task (every relevant CreateProcessingJob field), the states that read the container's
returned values back, and the job name expression. :class:`ProcessingStep` is the
construct ``ProcessingPipeline.add_step`` creates: it owns the step's execution role
and code asset.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from constructs_sm import runtime as _rt
from constructs_sm.limits import (
    INSTANCE_TYPE,
    MAX_RUNTIME_LIMIT,
    has_local_storage,
)
from constructs_sm.params import ParamRef, ParamType, integer_text_rules, type_test
from constructs_sm.roles import create_step_role

if TYPE_CHECKING:
    from constructs_sm.pipeline import ProcessingPipeline

#: Processing jobs run ``python3 -c BOOTSTRAP <script> [args...]`` (see the runtime).
BOOTSTRAP: Final = _rt.BOOTSTRAP

PROCESSING_ROOT: Final = "/opt/ml/processing"
#: Below each run's root, the files the state machine writes itself (the params file).
RUN_DIR: Final = "_run"
INVALID_RETURN_VALUES: Final = "InvalidReturnValues"
#: Time a job may spend starting (instance provisioning, image pull, input download)
#: and uploading on top of its MaxRuntimeInSeconds before the task times out.
TASK_OVERHEAD_SECONDS: Final = 2 * 3600

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
        if not isinstance(self.instance_type, str) or not INSTANCE_TYPE.match(self.instance_type):
            problems.append(
                f"instance_type must look like 'ml.<family>.<size>', got {self.instance_type!r}"
            )
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

    At run time it is the prefix ``s3://<bucket>/<pipeline>/<execution>/<step>/<channel>/``.
    """

    step: ProcessingStep
    channel: str

    @property
    def key_suffix(self) -> str:
        """The prefix below the run's root: ``<step>/<channel>/``."""
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


InputMode = Literal["File", "Pipe", "FastFile"]
Distribution = Literal["FullyReplicated", "ShardedByS3Key"]
DataType = Literal["S3Prefix", "ManifestFile"]
InputSource = OutputRef | ParamRef | str


@dataclass(frozen=True)
class StepInput:
    """An input channel with explicit settings; a bare source means File/FullyReplicated.

    ``source`` is another step's output, a string parameter holding an S3 URI, or a
    literal ``s3://`` URI. ``distribution="ShardedByS3Key"`` gives each instance of a
    multi-instance job its share of the objects.
    """

    source: InputSource
    mode: InputMode = "File"
    distribution: Distribution = "FullyReplicated"
    data_type: DataType = "S3Prefix"

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in ("File", "Pipe", "FastFile"):
            problems.append(f"mode must be File, Pipe or FastFile, got {self.mode!r}")
        if self.distribution not in ("FullyReplicated", "ShardedByS3Key"):
            problems.append(
                f"distribution must be FullyReplicated or ShardedByS3Key, got {self.distribution!r}"
            )
        if self.data_type not in ("S3Prefix", "ManifestFile"):
            problems.append(f"data_type must be S3Prefix or ManifestFile, got {self.data_type!r}")
        if problems:
            raise ValueError("StepInput: " + "; ".join(problems))


EnvValue = str | int | float | bool | ParamRef | ValueRef


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


def env_literal(value: str | int | float | bool) -> str:
    """How a literal environment value reaches the container (as the state machine would)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    return str(value)


def job_name_prefix(pipeline: str, step: str, identity: str) -> str:
    """The start of a step's job names: readable part and a hash, 30 characters at most.

    ``identity`` tells steps apart beyond their names (the pipeline's construct path):
    the 8-hex hash keeps prefixes distinct when readable parts are truncated or equal
    (``Train``/``train``, ``a_b``/``a-b``) and keeps one prefix from matching another's
    jobs (``p-train-*`` would match ``p-train-big-...``), so IAM scoping by prefix holds.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", f"{pipeline}-{step}".lower()).strip("-")
    digest = hashlib.sha256(f"{identity}\0{pipeline}\0{step}".encode()).hexdigest()[:8]
    return f"{readable[:21].rstrip('-') or 'job'}-{digest}"


def job_name_expression(prefix: str, step: str) -> str:
    """Intrinsic expression of a job name: ``<prefix>-<md5>`` (at most 63 characters).

    The hash covers the execution ARN, the step, the time the state was entered (new on
    a redrive) and the retry count, so neither a retry nor a redrive reuses a name.
    """
    return (
        f"States.Format('{prefix}-{{}}', States.Hash(States.Format('{{}}/{step}/{{}}/{{}}', "
        "$$.Execution.Id, $$.State.EnteredTime, $$.State.RetryCount), 'MD5'))"
    )


def run_uri_expression(suffix: str) -> str:
    """Intrinsic expression of ``s3://<bucket>/<pipeline>/<execution>/<suffix>``."""
    return f"States.Format('s3://{{}}/{{}}/{suffix}', $.run.bucket, $.run.root)"


def env_entry(key: str, value: EnvValue) -> tuple[str, Any]:
    """One ``Environment`` entry: literals as strings, references converted by the state."""
    if isinstance(value, ParamRef | ValueRef):
        path = value.json_path
        if value.type == "string":
            return f"{key}.$", path
        return f"{key}.$", f"States.Format('{{}}', {path})"
    return key, env_literal(value)


@dataclass(frozen=True)
class JobSettings:
    """Everything a step's CreateProcessingJob request needs, resolved at synth time.

    Strings may be CDK tokens (role ARN, image URI, bucket and key ARNs).
    """

    pipeline: str
    step: str
    job_prefix: str
    image_uri: str
    role_arn: str
    code_uri: str
    script: str
    kms_key_arn: str | None
    resources: Resources
    inputs: Mapping[str, StepInput] = field(default_factory=dict)
    outputs: Sequence[str] = ()
    environment: Mapping[str, EnvValue] = field(default_factory=dict)
    arguments: Sequence[str | ParamRef] = ()
    returns: Mapping[str, ParamType] = field(default_factory=dict)
    network_isolation: bool = True
    subnet_ids: Sequence[str] = ()
    security_group_ids: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def _input_uri(source: InputSource) -> tuple[str, str]:
    if isinstance(source, OutputRef):
        return "S3Uri.$", run_uri_expression(source.key_suffix)
    if isinstance(source, ParamRef):
        return "S3Uri.$", source.json_path
    return "S3Uri", source


def _processing_input(
    name: str, spec: StepInput, uri: tuple[str, str] | None = None
) -> dict[str, Any]:
    """One ProcessingInput; ``uri`` (key, value) overrides the one of ``spec.source``."""
    key, value = uri or _input_uri(spec.source)
    s3_input: dict[str, Any] = {
        key: value,
        "LocalPath": f"{PROCESSING_ROOT}/input/{name}",
        "S3DataType": spec.data_type,
        "S3InputMode": spec.mode,
        "S3DataDistributionType": spec.distribution,
    }
    return {"InputName": name, "AppManaged": False, "S3Input": s3_input}


def _processing_output(step: str, name: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {
            "S3Uri.$": run_uri_expression(f"{step}/{name}/"),
            "LocalPath": f"{PROCESSING_ROOT}/output/{name}",
            "S3UploadMode": "EndOfJob",
        },
    }


def render_job_parameters(settings: JobSettings) -> dict[str, Any]:
    """The ``Parameters`` of a step's ``createProcessingJob.sync`` task."""
    step = settings.step
    inputs = [
        _processing_input(_rt.CODE_CHANNEL, StepInput(settings.code_uri)),
        # The run's _run/ prefix, where the state machine writes the params file.
        _processing_input(
            _rt.PARAMS_CHANNEL, StepInput(""), ("S3Uri.$", run_uri_expression(f"{RUN_DIR}/"))
        ),
        *(_processing_input(name, spec) for name, spec in settings.inputs.items()),
    ]
    channels = [*settings.outputs, *([_rt.RETURNS_CHANNEL] if settings.returns else [])]
    outputs = [_processing_output(step, name) for name in channels]
    environment: dict[str, Any] = {
        _rt.STEP_ENV: step,
        _rt.PIPELINE_ENV: settings.pipeline,
    }
    for key, value in settings.environment.items():
        entry_key, entry_value = env_entry(key, value)
        environment[entry_key] = entry_value
    app: dict[str, Any] = {
        "ImageUri": settings.image_uri,
        "ContainerEntrypoint": ["python3", "-c", BOOTSTRAP, settings.script],
    }
    if any(isinstance(argument, ParamRef) for argument in settings.arguments):
        app["ContainerArguments.$"] = _arguments_expression(settings.arguments)
    elif settings.arguments:
        app["ContainerArguments"] = list(settings.arguments)
    cluster: dict[str, Any] = {
        "InstanceCount": settings.resources.instance_count,
        "InstanceType": settings.resources.instance_type,
        "VolumeSizeInGB": settings.resources.volume_size_gb,
    }
    if settings.kms_key_arn is not None and not settings.resources.local_storage:
        cluster["VolumeKmsKeyId"] = settings.kms_key_arn
    output_config: dict[str, Any] = {"Outputs": outputs}
    if settings.kms_key_arn is not None:
        output_config["KmsKeyId"] = settings.kms_key_arn
    network: dict[str, Any] = {
        "EnableNetworkIsolation": settings.network_isolation,
        "EnableInterContainerTrafficEncryption": settings.resources.instance_count > 1,
    }
    if settings.subnet_ids:
        network["VpcConfig"] = {
            "SecurityGroupIds": list(settings.security_group_ids),
            "Subnets": list(settings.subnet_ids),
        }
    parameters: dict[str, Any] = {
        "ProcessingJobName.$": job_name_expression(settings.job_prefix, step),
        "RoleArn": settings.role_arn,
        "AppSpecification": app,
        "Environment": environment,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": output_config,
        "ProcessingResources": {"ClusterConfig": cluster},
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.resources.max_runtime_seconds},
        "NetworkConfig": network,
        "Tags": [{"Key": k, "Value": v} for k, v in settings.tags.items()],
    }
    if not parameters["Tags"]:
        del parameters["Tags"]
    return parameters


def _arguments_expression(args: Sequence[str | ParamRef]) -> str:
    """``States.Array(...)`` of literal and parameter arguments (numbers formatted)."""
    parts = []
    for arg in args:
        if isinstance(arg, ParamRef):
            parts.append(
                arg.json_path if arg.type == "string" else f"States.Format('{{}}', {arg.json_path})"
            )
        else:
            parts.append("'" + _escape_intrinsic(arg) + "'")
    return "States.Array(" + ", ".join(parts) + ")"


def _escape_intrinsic(text: str) -> str:
    """Escape a literal for use inside an intrinsic function's single-quoted string."""
    return re.sub(r"([\\'{}])", r"\\\1", text)


#: Retries of the processing task (SECURITY.md "Reliability").
JOB_RETRIES: Final[list[dict[str, Any]]] = [
    {
        "ErrorEquals": ["SageMaker.AmazonSageMakerException"],
        "IntervalSeconds": 1,
        "BackoffRate": 1.1,
        "MaxAttempts": 5,
        "MaxDelaySeconds": 30,
    },
    {
        "ErrorEquals": ["SageMaker.ResourceLimitExceededException"],
        "IntervalSeconds": 60,
        "BackoffRate": 1.5,
        "MaxAttempts": 8,
        "MaxDelaySeconds": 1800,
    },
    {
        "ErrorEquals": ["ThrottlingException", "SageMaker.ThrottlingException"],
        "IntervalSeconds": 2,
        "BackoffRate": 1.5,
        "MaxAttempts": 6,
        "JitterStrategy": "FULL",
    },
    {
        "ErrorEquals": ["States.Timeout"],
        "IntervalSeconds": 30,
        "BackoffRate": 1.5,
        "MaxAttempts": 2,
    },
]

#: Retries of the small S3 reads and writes the state machine makes itself.
S3_RETRIES: Final[list[dict[str, Any]]] = [
    {
        "ErrorEquals": ["S3.SdkClientException", "S3.S3Exception", "States.Timeout"],
        "IntervalSeconds": 1,
        "BackoffRate": 1.5,
        "MaxAttempts": 3,
    }
]


def step_states(
    settings: JobSettings, *, partition: str, next_state: str | None, failed_state: str
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The states of one step: the job, then reading and checking its returned values.

    Returns the first state's name and the states; the last state goes to
    ``next_state`` (or ends the branch when None). Errors are caught into
    ``failed_state``, a ``Fail`` that keeps the error and cause (see ``failure_state``).
    """
    step = settings.step
    run = f"Run {step}"
    states: dict[str, dict[str, Any]] = {}
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed_state}]
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": f"arn:{partition}:states:::sagemaker:createProcessingJob.sync",
        "Parameters": render_job_parameters(settings),
        "TimeoutSeconds": settings.resources.max_runtime_seconds + TASK_OVERHEAD_SECONDS,
        "ResultSelector": {
            "job_name.$": "$.ProcessingJobName",
            "status.$": "$.ProcessingJobStatus",
        },
        "ResultPath": f"$.steps.{step}",
        "Retry": JOB_RETRIES,
        "Catch": catch,
    }
    states[run] = task
    last = task
    if settings.returns:
        read, check = f"Read {step} values", f"Check {step} values"
        missing, invalid = f"{step} returned no values", f"{step} returned invalid values"
        task["Next"] = read
        declared = ", ".join(f"{k} ({v})" for k, v in settings.returns.items())
        states[read] = {
            "Type": "Task",
            "Resource": f"arn:{partition}:states:::aws-sdk:s3:getObject",
            "Parameters": {
                "Bucket.$": "$.run.bucket",
                "Key.$": f"States.Format('{{}}/{step}/{_rt.RETURNS_CHANNEL}/{_rt.RETURNS_FILE}', "
                "$.run.root)",
            },
            "ResultSelector": {"values.$": "States.StringToJson($.Body)"},
            "ResultPath": f"$.steps.{step}.returned",
            "TimeoutSeconds": 60,
            "Retry": S3_RETRIES,
            "Catch": [
                {
                    "ErrorEquals": ["S3.NoSuchKeyException"],
                    "ResultPath": "$.error",
                    "Next": missing,
                },
                *catch,
            ],
            "Next": check,
        }
        rules: list[dict[str, Any]] = []
        for name in settings.returns:
            path = f"$.steps.{step}.returned.values.{name}"
            rules.append({"Not": {"Variable": path, "IsPresent": True}, "Next": invalid})
        for name, type_name in settings.returns.items():
            path = f"$.steps.{step}.returned.values.{name}"
            rules.append({"Not": {"Variable": path, type_test(type_name): True}, "Next": invalid})
        states[check] = {"Type": "Choice", "Choices": rules}
        last = states[check]
        integers = [name for name, kind in settings.returns.items() if kind == "integer"]
        if integers:
            # An integer is a number whose text has no fraction or exponent.
            render, bounds = f"Render {step} integer values", f"Check {step} integer values"
            last["Default"] = render
            states[render] = {
                "Type": "Pass",
                "Parameters": {
                    f"{name}.$": f"States.Format('{{}}', $.steps.{step}.returned.values.{name})"
                    for name in integers
                },
                "ResultPath": "$.checks",
                "Next": bounds,
            }
            states[bounds] = {
                "Type": "Choice",
                "Choices": [
                    rule
                    for name in integers
                    for rule in integer_text_rules(f"$.checks.{name}", invalid)
                ],
            }
            last = states[bounds]
        states[missing] = {
            "Type": "Fail",
            "Error": INVALID_RETURN_VALUES,
            "Cause": f"step '{step}' wrote no return values; it must call runtime.emit() "
            f"with {declared}",
        }
        states[invalid] = {
            "Type": "Fail",
            "Error": INVALID_RETURN_VALUES,
            "Cause": f"step '{step}' must return {declared}",
        }
    if last["Type"] == "Choice":
        if next_state is None:
            done = f"{step} done"
            states[done] = {"Type": "Succeed"}
            last["Default"] = done
        else:
            last["Default"] = next_state
    elif next_state is None:
        last["End"] = True
    else:
        last["Next"] = next_state
    return run, states


def failure_state() -> dict[str, Any]:
    """A ``Fail`` state that ends the execution with the caught error and cause."""
    return {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


# -- the construct ------------------------------------------------------------------


def _stage_code(script: Path, spec: Mapping[str, Any]) -> Path:
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


class ProcessingStep(Construct):
    """A step of a :class:`~constructs_sm.ProcessingPipeline`; create it with ``add_step``.

    It owns the step's execution role (``role``) and its code asset (``code_asset``),
    and hands out references to its outputs (:meth:`output`) and returned values
    (:meth:`value`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        owner: ProcessingPipeline,
        script: Path,
        spec: Mapping[str, Any],
        job_prefix: str,
        inputs: Mapping[str, StepInput],
        outputs: Sequence[str],
        environment: Mapping[str, EnvValue],
        arguments: Sequence[str | ParamRef],
        returns: Mapping[str, ParamType],
        resources: Resources,
        depends_on: Sequence[ProcessingStep],
        network_isolation: bool,
        role: iam.IRole | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._owner = owner
        self._name = construct_id
        self._pipeline_name = pipeline_name
        self._script = script
        self._inputs = dict(inputs)
        self._outputs = tuple(outputs)
        self._environment = dict(environment)
        self._arguments = tuple(arguments)
        self._returns = dict(returns)
        self._resources = resources
        self._depends_on = tuple(depends_on)
        self._network_isolation = network_isolation
        self._job_prefix = job_prefix
        self._code = s3_assets.Asset(self, "Code", path=str(_stage_code(script, spec)))
        self._role = role or create_step_role(
            self,
            "Role",
            job_prefix=job_prefix,
            description=f"Execution role of step {construct_id} of pipeline {pipeline_name}",
        )
        self._role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self._code.bucket.arn_for_objects(self._code.s3_object_key)],
            )
        )
        self._role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self._code.bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": [self._code.s3_object_key]}},
            )
        )

    # -- read-only views -------------------------------------------------------------
    @property
    def step_name(self) -> str:
        """The step's name: its construct id, state names and S3 prefix segment."""
        return self._name

    @property
    def role(self) -> iam.IRole:
        """The execution role SageMaker assumes for this step's jobs."""
        return self._role

    @property
    def code_asset(self) -> s3_assets.Asset:
        """The zipped code channel: the script, the runtime and the step spec."""
        return self._code

    @property
    def job_prefix(self) -> str:
        """Every job of this step is named ``<job_prefix>-<32 hex characters>``."""
        return self._job_prefix

    @property
    def inputs(self) -> Mapping[str, StepInput]:
        """The step's input channels (without the reserved ``code`` and ``params``)."""
        return dict(self._inputs)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The step's output channels (without the reserved ``returns``)."""
        return self._outputs

    @property
    def returns(self) -> Mapping[str, ParamType]:
        """The values the step returns, by name and type."""
        return dict(self._returns)

    @property
    def resources(self) -> Resources:
        """The compute the step's job runs on."""
        return self._resources

    @property
    def depends_on(self) -> tuple[ProcessingStep, ...]:
        """Steps that must finish first: data sources, value sources and ``after``."""
        return self._depends_on

    @property
    def pipeline(self) -> ProcessingPipeline:
        """The pipeline the step belongs to."""
        return self._owner

    def output(self, channel: str) -> OutputRef:
        """A reference to one of this step's output channels, for another step's inputs."""
        if channel not in self._outputs:
            raise ValueError(
                f"step {self._name!r} has no output {channel!r}; its outputs: "
                f"{', '.join(self._outputs) or '(none)'}"
            )
        return OutputRef(self, channel)

    def value(self, name: str) -> ValueRef:
        """A reference to a value this step returns, for later steps and ``Choice`` states."""
        if name not in self._returns:
            raise ValueError(
                f"step {self._name!r} returns no value {name!r}; it returns: "
                f"{', '.join(self._returns) or '(nothing)'}"
            )
        return ValueRef(self, name, self._returns[name])

    def job_settings(
        self,
        *,
        image_uri: str,
        kms_key_arn: str | None,
        subnet_ids: Sequence[str],
        security_group_ids: Sequence[str],
        tags: Mapping[str, str],
    ) -> JobSettings:
        """The settings its CreateProcessingJob request is rendered from."""
        return JobSettings(
            pipeline=self._pipeline_name,
            step=self._name,
            job_prefix=self._job_prefix,
            image_uri=image_uri,
            role_arn=self._role.role_arn,
            code_uri=self._code.s3_object_url,
            script=self._script.name,
            kms_key_arn=kms_key_arn,
            resources=self._resources,
            inputs=self._inputs,
            outputs=self._outputs,
            environment=self._environment,
            arguments=self._arguments,
            returns=self._returns,
            network_isolation=self._network_isolation,
            subnet_ids=subnet_ids,
            security_group_ids=security_group_ids,
            tags=tags,
        )

"""One step's CreateProcessingJob request (pure): the ``Parameters`` of its task.

Where are job names made, where does a channel's container path come from, how do
environment values become strings? Here. Small ``_render*``-style functions turn a
step's :class:`JobSettings` into the request's fields; strings may be CDK tokens.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from constructs_sm import runtime as _rt
from constructs_sm.layout import RETURNS_STEP, RUN_STEP, channel_prefix, channel_uri_expression
from constructs_sm.model import (
    EnvValue,
    FanOut,
    InputSource,
    ItemRef,
    OutputRef,
    Resources,
    StepInput,
    ValueRef,
    env_literal,
)
from constructs_sm.params import ParamRef, ParamType
from constructs_sm.paths import default_path, reserved_path
from constructs_sm.step_code import DEFAULT_COMMAND, container_entrypoint

#: Processing jobs run ``python3 -c BOOTSTRAP <script> [args...]`` (see the runtime;
#: another command wraps it, see :func:`constructs_sm.step_code.container_entrypoint`).
BOOTSTRAP: Final = _rt.BOOTSTRAP


def pipeline_job_prefix(pipeline: str, identity: str) -> str:
    """The start of every job name of a pipeline: readable part and a hash (15 at most).

    ``identity`` tells pipelines apart beyond their names (the stack and construct path):
    the 6-hex hash keeps prefixes distinct when readable parts are truncated or equal, so
    the state machine's permissions can cover all the pipeline's jobs, and only them, by
    this prefix.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", pipeline.lower()).strip("-")[:8].rstrip("-")
    digest = hashlib.sha256(f"{identity}\0{pipeline}".encode()).hexdigest()[:6]
    return f"{readable or 'job'}-{digest}"


def job_name_prefix(pipeline_prefix: str, step: str) -> str:
    """The start of a step's job names: ``<pipeline prefix>-<step segment>`` (28 at most).

    The step segment is up to 6 readable characters and a 6-hex hash, without hyphens, so
    ``<prefix>-*`` (a step role's trust) never matches another step's jobs.
    """
    readable = re.sub(r"[^a-z0-9]", "", step.lower())[:6]
    digest = hashlib.sha256(f"{pipeline_prefix}\0{step}".encode()).hexdigest()[:6]
    return f"{pipeline_prefix}-{readable}{digest}"


def job_name_expression(prefix: str, step: str, *, per_item: bool = False) -> str:
    """Intrinsic expression of a job name: ``<prefix>-<md5>`` (at most 63 characters).

    The hash covers the execution ARN, the step, the time the state was entered (new on
    a redrive) and the retry count, so neither a retry nor a redrive reuses a name; for a
    ``for_each`` step (``per_item``) also the item's index, the execution being the item's
    child execution.
    """
    if per_item:
        return (
            f"States.Format('{prefix}-{{}}', States.Hash(States.Format("
            f"'{{}}/{step}/{{}}/{{}}/{{}}', $$.Execution.Id, $.index, $$.State.EnteredTime, "
            "$$.State.RetryCount), 'MD5'))"
        )
    return (
        f"States.Format('{prefix}-{{}}', States.Hash(States.Format('{{}}/{step}/{{}}/{{}}', "
        "$$.Execution.Id, $$.State.EnteredTime, $$.State.RetryCount), 'MD5'))"
    )


def text_expression(value: ParamRef | ValueRef | ItemRef) -> str:
    """Intrinsic expression of a reference as text: strings as they are, numbers and
    booleans formatted, integer parameters without the ``.0`` an integral double given
    for them carries (``5.0`` -> ``"5"``; the state machine refused other fractions)."""
    path = value.json_path
    if value.type == "string":
        return path
    text = f"States.Format('{{}}', {path})"
    if isinstance(value, ParamRef) and value.type == "integer":
        return f"States.ArrayGetItem(States.StringSplit({text}, '.'), 0)"
    return text


def env_entry(key: str, value: EnvValue) -> tuple[str, Any]:
    """One ``Environment`` entry: literals as strings, references converted by the state."""
    if isinstance(value, ParamRef | ValueRef | ItemRef):
        return f"{key}.$", text_expression(value)
    return key, env_literal(value)


@dataclass(frozen=True)
class JobSettings:
    """Everything a step's CreateProcessingJob request needs, resolved at synth time.

    Strings may be CDK tokens (role ARN, image URI, bucket and key ARNs). ``script`` is
    the entry point's path in the code bundle, ``command`` what runs it; ``output_paths``
    holds the outputs given a ``local_path`` (the others use the default path).
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
    arguments: Sequence[str | ParamRef | ItemRef] = ()
    returns: Mapping[str, ParamType] = field(default_factory=dict)
    network_isolation: bool = True
    subnet_ids: Sequence[str] = ()
    security_group_ids: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    fan_out: FanOut | None = None
    command: Sequence[str] = DEFAULT_COMMAND
    output_paths: Mapping[str, str] = field(default_factory=dict)


#: A for_each step's item object, in its child execution: ``s3://<bucket>/<key>``.
_ITEM_OBJECT_URI: Final = "States.Format('s3://{}/{}', $.run.bucket, $.item)"


def output_uri_expression(settings: JobSettings, channel: str) -> str:
    """Intrinsic expression of an output channel's S3 URI: the execution's prefix of the
    channel, and for a ``for_each`` step below it the item's index (``.../<execution>/3/``),
    so that a later step reading the channel gets every item's output."""
    if settings.fan_out is None:
        return channel_uri_expression(settings.pipeline, settings.step, channel)
    prefix = channel_prefix(settings.pipeline, settings.step, channel)
    return f"States.Format('s3://{{}}/{prefix}{{}}/{{}}/', $.run.bucket, $.run.execution, $.index)"


def _input_uri(pipeline: str, source: InputSource) -> tuple[str, str]:
    if isinstance(source, OutputRef):
        return "S3Uri.$", channel_uri_expression(pipeline, source.step.step_name, source.channel)
    if isinstance(source, ParamRef):
        return "S3Uri.$", source.json_path
    return "S3Uri", source


def _processing_input(
    pipeline: str, name: str, spec: StepInput, uri: tuple[str, str] | None = None, path: str = ""
) -> dict[str, Any]:
    """One ProcessingInput; ``uri`` (key, value) overrides the one of ``spec.source``,
    ``path`` the LocalPath (of the pipeline's own channels)."""
    key, value = uri or _input_uri(pipeline, spec.source)
    s3_input: dict[str, Any] = {
        key: value,
        "LocalPath": path or spec.local_path or default_path("input", name),
        "S3DataType": spec.data_type,
        "S3InputMode": spec.mode,
        "S3DataDistributionType": spec.distribution,
    }
    return {"InputName": name, "S3Input": s3_input}


def _processing_output(name: str, uri_expression: str, path: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "S3Output": {
            "S3Uri.$": uri_expression,
            "LocalPath": path,
            "S3UploadMode": "EndOfJob",
        },
    }


def returns_in_s3(settings: JobSettings) -> bool:
    """Whether the step's returned values go through S3: several hosts return values
    (a single host returns them in the job's ExitMessage, see constructs_sm.returned)."""
    return bool(settings.returns) and settings.resources.instance_count > 1


def render_job_parameters(settings: JobSettings) -> dict[str, Any]:
    """The ``Parameters`` of a step's ``createProcessingJob.sync`` task."""
    step, pipeline = settings.step, settings.pipeline
    params_uri = channel_uri_expression(pipeline, RUN_STEP, _rt.PARAMS_CHANNEL)
    fan_out = settings.fan_out
    # A for_each step over objects gets its item's object alone, in the channel named
    # after the output it lists.
    item_channel = (
        fan_out.source.channel
        if fan_out is not None and isinstance(fan_out.source, OutputRef)
        else None
    )
    code, params = _rt.CODE_CHANNEL, _rt.PARAMS_CHANNEL
    inputs = [
        _processing_input(pipeline, code, StepInput(settings.code_uri), path=reserved_path(code)),
        # The run's parameters file, written by the state machine before the first job.
        _processing_input(
            pipeline, params, StepInput(""), ("S3Uri.$", params_uri), reserved_path(params)
        ),
        *(
            _processing_input(
                pipeline,
                name,
                spec,
                ("S3Uri.$", _ITEM_OBJECT_URI) if name == item_channel else None,
            )
            for name, spec in settings.inputs.items()
        ),
    ]
    outputs = [
        _processing_output(
            name,
            output_uri_expression(settings, name),
            settings.output_paths.get(name) or default_path("output", name),
        )
        for name in settings.outputs
    ]
    if returns_in_s3(settings):
        returned = channel_uri_expression(pipeline, RETURNS_STEP, step)
        channel = _rt.RETURNS_CHANNEL
        outputs.append(_processing_output(channel, returned, reserved_path(channel)))
    environment: dict[str, Any] = {
        _rt.STEP_ENV: step,
        _rt.PIPELINE_ENV: settings.pipeline,
    }
    if fan_out is not None:
        environment[f"{_rt.ITEM_ENV}.$"] = "$.item"
        environment[f"{_rt.ITEM_INDEX_ENV}.$"] = "States.Format('{}', $.index)"
    for key, value in settings.environment.items():
        entry_key, entry_value = env_entry(key, value)
        environment[entry_key] = entry_value
    app: dict[str, Any] = {
        "ImageUri": settings.image_uri,
        "ContainerEntrypoint": container_entrypoint(settings.command, settings.script),
    }
    if any(isinstance(argument, ParamRef | ItemRef) for argument in settings.arguments):
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
        "ProcessingJobName.$": job_name_expression(
            settings.job_prefix, step, per_item=fan_out is not None
        ),
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


def _arguments_expression(args: Sequence[str | ParamRef | ItemRef]) -> str:
    """``States.Array(...)`` of literal and parameter arguments (numbers formatted)."""
    parts = [
        text_expression(arg)
        if isinstance(arg, ParamRef | ItemRef)
        else "'" + _escape_intrinsic(arg) + "'"
        for arg in args
    ]
    return "States.Array(" + ", ".join(parts) + ")"


#: A CDK token inside a string (``${Token[TOKEN.123]}``): resolved by CDK at synth, so it
#: must reach the definition unescaped.
_TOKEN: Final = re.compile(r"(\$\{Token\[[^\]]+\]\})")


def _escape_intrinsic(text: str) -> str:
    """Escape a literal for use inside an intrinsic function's single-quoted string.

    CDK tokens are kept as they are (CDK replaces them with their value at synth); only
    the text around them is escaped.
    """
    parts = _TOKEN.split(text)
    return "".join(
        part if index % 2 else re.sub(r"([\\'{}])", r"\\\1", part)
        for index, part in enumerate(parts)
    )

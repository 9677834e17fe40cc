"""Synth-time validation of a pipeline's declarations (pure, no CDK objects created).

Every check names the argument, shows the value and says what is allowed; all problems
of one call are reported together. CDK tokens are skipped. The constructs call these
before creating any child, so a bad declaration fails the synth early.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aws_cdk import Token

from constructs_sm.limits import (
    MAX_ARGUMENT,
    MAX_CHANNELS,
    MAX_ENV,
    MAX_ENV_VALUE,
    MAX_SECURITY_GROUPS,
    MAX_SUBNETS,
    S3_URI,
    is_tag_text,
)
from constructs_sm.model import (
    CHANNEL_NAME,
    DEFAULT_MAX_CONCURRENCY,
    ENV_KEY,
    MAX_MAP_CONCURRENCY,
    RESERVED_ENV_PREFIX,
    RESERVED_INPUTS,
    RESERVED_OUTPUTS,
    RETURN_TYPES,
    STEP_NAME,
    DataSource,
    EnvValue,
    FanOut,
    ItemRef,
    OutputRef,
    OutputSpec,
    PrefixClaim,
    Resources,
    StepInput,
    StepOutput,
    ValueRef,
    env_literal,
    literal_type,
    shown,
)
from constructs_sm.params import Param, ParamRef, ParamType
from constructs_sm.paths import default_path, path_conflicts
from constructs_sm.step_code import DEFAULT_COMMAND, StepSource, is_python, load_source

if TYPE_CHECKING:
    from constructs_sm.step import ProcessingStep

PIPELINE_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
_BUCKET_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: Environment variables the pipeline sets on every job itself.
_OWN_ENV: Final = 2
#: A for_each step's jobs also get CSM_ITEM and CSM_ITEM_INDEX.
_ITEM_ENV: Final = 2


def _item_problems(where: str, fans_out: bool) -> list[str]:
    if fans_out:
        return []
    return [
        f"{where} is pipeline.item(), the item of a for_each step's job; this step has no for_each"
    ]


@dataclass(frozen=True)
class ValidatedStep:
    """An ``add_step`` call's arguments, checked and normalised.

    ``outputs`` are the output channel names, ``output_paths`` the container paths of
    those given a ``local_path``; ``source`` is the step's code (``None`` only when the
    call had problems).
    """

    inputs: dict[str, StepInput]
    env: dict[str, EnvValue]
    returns: dict[str, ParamType]
    depends_on: tuple[ProcessingStep, ...]
    outputs: tuple[str, ...] = ()
    output_paths: dict[str, str] = field(default_factory=dict)
    source: StepSource | None = None


class StepValidator:
    """Checks ``add_step`` arguments against one pipeline's parameters and steps.

    ``owner`` is the pipeline: references to steps of another pipeline are refused.
    """

    def __init__(
        self,
        *,
        owner: object,
        pipeline_name: str,
        params: Mapping[str, Param],
        steps: Collection[str],
    ) -> None:
        self.owner = owner
        self.pipeline_name = pipeline_name
        self.params = params
        self.steps = steps

    def validate(
        self,
        name: str,
        code: str | Path,
        inputs: Mapping[str, OutputRef | ParamRef | StepInput | str] | None,
        outputs: Sequence[OutputSpec],
        env: Mapping[str, EnvValue] | None,
        returns: Mapping[str, type] | None,
        resources: Resources | None,
        arguments: Sequence[str | ParamRef | ItemRef],
        entry_point: str | Path | None = None,
        command: Sequence[str] = DEFAULT_COMMAND,
        *,
        fans_out: bool = False,
    ) -> tuple[list[str], ValidatedStep]:
        """Every problem of the call (empty when valid) and the normalised arguments.

        ``fans_out``: the step has a ``for_each`` (``pipeline.item()`` may be used).
        """
        problems: list[str] = []
        deps: list[ProcessingStep] = []

        def depend(ref_step: ProcessingStep) -> None:
            if ref_step not in deps:
                deps.append(ref_step)

        if not isinstance(name, str) or not STEP_NAME.match(name):
            problems.append(f"name must match {STEP_NAME.pattern}, got {name!r}")
        elif name in self.steps:
            problems.append(f"name {name!r} is already a step of pipeline {self.pipeline_name!r}")
        code_problems, step_source = load_source(code, entry_point, command)
        problems += code_problems
        spec_inputs: dict[str, StepInput] = {}
        for channel, source in (inputs or {}).items():
            where = f"inputs[{channel!r}]"
            problems += channel_problems(channel, where, RESERVED_INPUTS)
            spec = source if isinstance(source, StepInput) else None
            if spec is None:
                if not isinstance(source, OutputRef | ParamRef | str):
                    problems.append(
                        f"{where} must be a step output, a param, an s3:// URI or a "
                        f"StepInput, got {shown(source)}"
                        + (
                            " (use step.output(<channel>))"
                            if isinstance(getattr(source, "step_name", None), str)
                            else ""
                        )
                    )
                    continue
                spec = StepInput(source)
            problems += self._source_problems(spec.source, where, depend)
            if spec.data_type == "ManifestFile" and not isinstance(spec.source, str):
                problems.append(
                    f"{where}: a ManifestFile input must be a literal s3:// URI of the "
                    "manifest (IAM is granted below its prefix)"
                )
            spec_inputs[channel] = spec
        if len(spec_inputs) + len(RESERVED_INPUTS) > MAX_CHANNELS:
            problems.append(
                f"inputs has {len(spec_inputs)} channels; at most "
                f"{MAX_CHANNELS - len(RESERVED_INPUTS)} are allowed (a job has at most "
                f"{MAX_CHANNELS}, of which {', '.join(sorted(RESERVED_INPUTS))} are the "
                "pipeline's)"
            )
        declared_outputs, output_paths = self._outputs(outputs, problems)
        outputs = declared_outputs
        input_paths = [
            (f"inputs[{channel!r}]", spec.local_path or default_path("input", channel))
            for channel, spec in spec_inputs.items()
        ]
        output_paths_seen = [
            (f"outputs[{channel!r}]", output_paths.get(channel, default_path("output", channel)))
            for channel in dict.fromkeys(declared_outputs)
            if isinstance(channel, str)
        ]
        problems += path_conflicts(input_paths + output_paths_seen)
        if step_source is not None and not is_python(step_source.command):
            problems += _variable_clashes(spec_inputs, declared_outputs)
        spec_returns: dict[str, ParamType] = {}
        for value_name, kind in (returns or {}).items():
            if not isinstance(value_name, str) or not re.match(
                r"^[A-Za-z][A-Za-z0-9_]{0,39}$", value_name
            ):
                problems.append(
                    "returns key must be an identifier (a letter, then up to 39 letters, "
                    f"digits or _), got {value_name!r}"
                )
            elif kind not in RETURN_TYPES:
                problems.append(
                    f"returns[{value_name!r}] must be float, int, str or bool, got {kind!r}"
                )
            else:
                spec_returns[value_name] = RETURN_TYPES[kind]
        # Several hosts return their values through an output channel of their own.
        hosts = resources.instance_count if isinstance(resources, Resources) else 1
        returns_channel = bool(spec_returns) and hosts > 1
        if len(outputs) + returns_channel > MAX_CHANNELS:
            problems.append(
                f"outputs has {len(outputs)} channels"
                + (" plus the returns channel of a multi-instance step" if returns_channel else "")
                + f"; a job has at most {MAX_CHANNELS}"
            )
        spec_env: dict[str, EnvValue] = {}
        for key, value in (env or {}).items():
            where = f"env[{key!r}]"
            if not isinstance(key, str) or not ENV_KEY.match(key):
                problems.append(f"env key must match {ENV_KEY.pattern}, got {key!r}")
                continue
            if key.startswith(RESERVED_ENV_PREFIX):
                problems.append(f"env key {key!r} uses the reserved prefix {RESERVED_ENV_PREFIX}")
                continue
            if isinstance(value, ParamRef):
                problems += self._param_problems(value, where)
                if value.type == "string" and value.param.longest > MAX_ENV_VALUE:
                    problems.append(
                        f"{where} uses string param {value.name!r}, which may be "
                        f"{value.param.longest} characters; environment values are at most "
                        f"{MAX_ENV_VALUE}: declare it with max_length={MAX_ENV_VALUE} or "
                        "less, or read it from runtime.params()"
                    )
            elif isinstance(value, ValueRef):
                problem = self._reference_problem(value, where)
                if problem:
                    problems.append(problem)
                else:
                    depend(value.step)
            elif isinstance(value, ItemRef):
                problems += _item_problems(where, fans_out)
            elif literal_type(value) is not None:
                assert isinstance(value, str | int | float | bool)
                text = env_literal(value)
                if isinstance(value, float) and not math.isfinite(value):
                    problems.append(f"{where} must be a finite number, got {value!r}")
                elif not Token.is_unresolved(text) and len(text) > MAX_ENV_VALUE:
                    problems.append(
                        f"{where} is {len(text)} characters; values are at most "
                        f"{MAX_ENV_VALUE} (pass long values as params: every step reads "
                        "them from its params channel)"
                    )
            else:
                problems.append(
                    f"{where} must be a str, int, float, bool, param or step value, "
                    f"got {shown(value)} ({type(value).__name__})"
                )
                continue
            spec_env[key] = value
        own = _OWN_ENV + (_ITEM_ENV if fans_out else 0)
        if len(env or {}) + own > MAX_ENV:
            problems.append(
                f"env has {len(env or {})} entries; at most {MAX_ENV - own} are "
                f"allowed (a job has at most {MAX_ENV}, {own} are the pipeline's)"
            )
        if resources is not None and not isinstance(resources, Resources):
            problems.append(f"resources must be a Resources, got {shown(resources)}")
        if isinstance(arguments, str) or not isinstance(arguments, Sequence):
            problems.append(f"arguments must be a list, got {shown(arguments)}")
        else:
            if len(arguments) > 100:
                problems.append(f"arguments has {len(arguments)} items; at most 100 are allowed")
            for position, argument in enumerate(arguments):
                where = f"arguments[{position}]"
                if isinstance(argument, ParamRef):
                    problems += self._param_problems(argument, where)
                    if argument.type == "string" and argument.param.longest > MAX_ARGUMENT:
                        problems.append(
                            f"{where} uses string param {argument.name!r}, which may be "
                            f"{argument.param.longest} characters; container arguments are at "
                            f"most {MAX_ARGUMENT}: declare it with max_length={MAX_ARGUMENT} "
                            "or less, or read it from runtime.params()"
                        )
                elif isinstance(argument, ItemRef):
                    problems += _item_problems(where, fans_out)
                elif not isinstance(argument, str):
                    problems.append(f"{where} must be a str or param, got {shown(argument)}")
                elif not Token.is_unresolved(argument) and not 1 <= len(argument) <= MAX_ARGUMENT:
                    problems.append(
                        f"{where} must be 1 to {MAX_ARGUMENT} characters, got {len(argument)}"
                    )
        return problems, ValidatedStep(
            spec_inputs,
            spec_env,
            spec_returns,
            tuple(deps),
            tuple(declared_outputs),
            output_paths,
            step_source,
        )

    def _outputs(self, outputs: object, problems: list[str]) -> tuple[list[str], dict[str, str]]:
        """The output names and the paths of those given one (problems appended)."""
        if isinstance(outputs, str) or not isinstance(outputs, Sequence):
            problems.append(
                f"outputs must be a list of channel names or StepOutputs, got {shown(outputs)}"
            )
            return [], {}
        names: list[str] = []
        paths: dict[str, str] = {}
        for entry in outputs:
            channel = entry.name if isinstance(entry, StepOutput) else entry
            problems += channel_problems(channel, f"outputs entry {channel!r}", RESERVED_OUTPUTS)
            names.append(channel)
            if isinstance(entry, StepOutput) and entry.local_path is not None:
                paths[entry.name] = entry.local_path
        duplicates = sorted({c for c in names if isinstance(c, str) and names.count(c) > 1})
        if duplicates:
            problems.append(f"outputs has duplicate channels: {', '.join(duplicates)}")
        return names, paths

    def _reference_problem(self, ref: OutputRef | ValueRef, where: str) -> str | None:
        if ref.step.pipeline is not self.owner:
            return f"{where} refers to step {ref.step.step_name!r} of another pipeline"
        return None

    def _param_problems(self, ref: ParamRef, where: str) -> list[str]:
        if self.params.get(ref.name) is not ref.param:
            return [f"{where} refers to param {ref.name!r}, which is not declared by this pipeline"]
        if ref.type == "string_list":
            return [
                f"{where} uses string_list param {ref.name!r}: a list fans a step out "
                f"(for_each=pipeline.param({ref.name!r}), each job gets pipeline.item()), or "
                "the script reads it from runtime.params()"
            ]
        return []

    def fan_out_problems(
        self,
        for_each: object,
        max_concurrency: object,
        tolerated_failure_percentage: object,
        tolerated_failure_count: object,
        *,
        returns: bool,
        inputs: Mapping[str, StepInput],
    ) -> tuple[list[str], FanOut | None]:
        """Check a ``for_each`` and its settings; return the problems and the fan-out."""
        if for_each is None:
            settings = (max_concurrency, tolerated_failure_percentage, tolerated_failure_count)
            if any(value is not None for value in settings):
                return [
                    "max_concurrency and tolerated_failure_* apply to a step with for_each"
                ], None
            return [], None
        problems: list[str] = []
        if isinstance(for_each, ParamRef):
            if self.params.get(for_each.name) is not for_each.param:
                problems.append(
                    f"for_each refers to param {for_each.name!r}, which is not declared by "
                    "this pipeline"
                )
            elif for_each.type != "string_list":
                problems.append(
                    f"for_each param {for_each.name!r} is of type {for_each.type}; declare the "
                    "items as Param.string_list"
                )
        elif isinstance(for_each, OutputRef):
            problem = self._reference_problem(for_each, "for_each")
            if problem:
                problems.append(problem)
            elif for_each.channel in inputs:
                problems.append(
                    f"for_each lists the objects of {for_each.step.step_name}/"
                    f"{for_each.channel}, which each job gets in the input channel "
                    f"{for_each.channel!r}; inputs already has a channel of that name"
                )
        else:
            problems.append(
                "for_each must be a string_list param (pipeline.param(...)) or another step's "
                f"output (step.output(...)), got {shown(for_each)}"
            )
        if returns:
            problems.append(
                "a for_each step cannot return values (each of its jobs would return its own); "
                "write them to an output channel that a later step reads"
            )
        concurrency = DEFAULT_MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        if (
            isinstance(concurrency, bool)
            or not isinstance(concurrency, int)
            or not 0 <= concurrency <= MAX_MAP_CONCURRENCY
        ):
            problems.append(
                f"max_concurrency must be an int from 0 (no limit) to {MAX_MAP_CONCURRENCY}, "
                f"got {max_concurrency!r}"
            )
        percentage = tolerated_failure_percentage
        if percentage is not None and (
            isinstance(percentage, bool)
            or not isinstance(percentage, int | float)
            or not 0 <= percentage <= 100
        ):
            problems.append(
                f"tolerated_failure_percentage must be a number from 0 to 100, got {percentage!r}"
            )
        count = tolerated_failure_count
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 0
        ):
            problems.append(f"tolerated_failure_count must be an int >= 0, got {count!r}")
        if percentage is not None and count is not None:
            problems.append(
                "give tolerated_failure_percentage or tolerated_failure_count, not both (how "
                "Step Functions combines the two thresholds is not documented)"
            )
        if problems or not isinstance(for_each, ParamRef | OutputRef):
            return problems, None
        assert isinstance(concurrency, int)
        assert percentage is None or isinstance(percentage, int | float)
        assert count is None or isinstance(count, int)
        return [], FanOut(
            for_each, concurrency, None if percentage is None else float(percentage), count
        )

    def _source_problems(self, source: object, where: str, depend: Any) -> list[str]:
        if isinstance(source, OutputRef):
            problem = self._reference_problem(source, where)
            if problem:
                return [problem]
            depend(source.step)
            return []
        if isinstance(source, ParamRef):
            problems = self._param_problems(source, where)
            if not problems and source.type != "string":
                problems.append(
                    f"{where} uses param {source.name!r} of type {source.type}; an input "
                    "param must be a string holding an S3 URI"
                )
            return problems
        if isinstance(source, str):
            if Token.is_unresolved(source):
                return []
            bucket = source[len("s3://") :].split("/", 1)[0]
            if (
                len(source) > 1024
                or not source.startswith("s3://")
                or not S3_URI.match(source)
                or not _BUCKET_NAME.match(bucket)
            ):
                return [
                    f"{where} must be an s3://<bucket>/<prefix> URI of at most 1024 "
                    f"characters with a valid bucket name, got {shown(source)}"
                ]
            return []
        return [f"{where} has an unsupported source {shown(source)}"]


def _variable_clashes(inputs: Mapping[str, StepInput], outputs: Sequence[str]) -> list[str]:
    """A non-Python entry point finds its channels in ``CSM_INPUT_<name>`` and
    ``CSM_OUTPUT_<name>`` (``-`` becomes ``_``): two channels may not share a variable."""
    problems = []
    for kind, names in (("inputs", list(inputs)), ("outputs", list(outputs))):
        seen: dict[str, str] = {}
        for name in names:
            if not isinstance(name, str):
                continue
            key = name.replace("-", "_")
            if key in seen:
                problems.append(
                    f"{kind} {seen[key]!r} and {name!r} would share the variable of a "
                    f"non-Python entry point ({key}: '-' becomes '_'); rename one"
                )
            seen.setdefault(key, name)
    return problems


def network_problems(
    subnet_ids: Sequence[str], security_groups: Sequence[object] | None
) -> list[str]:
    """A job's VpcConfig takes 1 to 16 subnets and 1 to 5 security groups (API model)."""
    problems = []
    if not Token.is_unresolved(subnet_ids) and not 1 <= len(subnet_ids) <= MAX_SUBNETS:
        problems.append(
            f"vpc_subnets selects {len(subnet_ids)} subnets; a processing job runs in 1 to "
            f"{MAX_SUBNETS} (VpcConfig.Subnets): choose them with vpc_subnets"
        )
    if security_groups is not None and not 1 <= len(security_groups) <= MAX_SECURITY_GROUPS:
        problems.append(
            f"security_groups has {len(security_groups)} groups; a processing job takes 1 to "
            f"{MAX_SECURITY_GROUPS} (VpcConfig.SecurityGroupIds)"
        )
    return problems


#: A job has at most 50 tags; the pipeline adds two of its own.
_MAX_TAGS: Final = 48


def tag_problems(tags: Mapping[str, str]) -> list[str]:
    problems = []
    if len(tags) > _MAX_TAGS:
        problems.append(f"tags has {len(tags)} entries; at most {_MAX_TAGS} are allowed")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(f"tags must map str to str, got {key!r}: {value!r}")
        elif (
            key.lower().startswith("aws:")
            or not 1 <= len(key) <= 128
            or len(value) > 256
            or not is_tag_text(key)
            or not is_tag_text(value)
        ):
            problems.append(
                f"tag {key!r}: {value!r} is invalid: keys are 1-128 characters not starting "
                "with 'aws:', values at most 256, both Unicode letters, numbers and spaces "
                "(not tabs or newlines) and _.:/=+-@"
            )
    return problems


def data_source_problems(sources: Sequence[DataSource]) -> list[str]:
    """Each data source must be a DataSource with a directory prefix (or ``""``)."""
    problems = []
    for index, source in enumerate(sources):
        where = f"data_sources[{index}]"
        if not isinstance(source, DataSource):
            problems.append(f"{where} must be a DataSource, got {shown(source)}")
            continue
        prefix = source.prefix
        if Token.is_unresolved(prefix) or prefix == "":
            continue
        if not prefix.endswith("/") or prefix.startswith("/") or "*" in prefix:
            problems.append(
                f"{where}.prefix must be a key prefix ending with '/' (e.g. 'data/') or '' "
                f"for the whole bucket, got {prefix!r}: steps may read everything under it"
            )
    return problems


def _overlap(first: str, second: str) -> bool:
    return first.startswith(second) or second.startswith(first)


def _claim_text(claim: PrefixClaim) -> str:
    what = "run prefix" if claim.kind == "run" else "data-source prefix"
    return f"the {what} {claim.prefix!r} of {claim.owner}"


def prefix_conflicts(existing: Sequence[PrefixClaim], new: Sequence[PrefixClaim]) -> list[str]:
    """Overlaps between a pipeline's prefixes and those already used on its channel bucket.

    Run prefixes may overlap nothing: their lifecycle rule would expire another
    pipeline's run data or input data, and their steps could read another pipeline's
    runs. Data-source prefixes may overlap each other (two pipelines reading one data
    set), never a run prefix. Prefixes that are tokens are not compared.
    """
    problems = []
    seen = list(existing)
    for claim in new:
        if Token.is_unresolved(claim.prefix):
            continue
        for other in seen:
            if Token.is_unresolved(other.prefix) or not _overlap(claim.prefix, other.prefix):
                continue
            if claim.kind == "data" and other.kind == "data":
                continue
            if "data" in (claim.kind, other.kind):
                why = (
                    "the run prefix's lifecycle rule would delete that input data, and the "
                    "pipeline's steps could read it as run data"
                )
            else:
                why = "each pipeline's lifecycle rule and steps would reach the other's runs"
            problems.append(
                f"{_claim_text(claim)} overlaps {_claim_text(other)} on the same channel "
                f"bucket: {why}; give each pipeline its own pipeline_name and keep data "
                "sources outside every run prefix"
            )
        seen.append(claim)
    return problems


def channel_problems(channel: object, where: str, reserved: frozenset[str]) -> list[str]:
    if not isinstance(channel, str) or not CHANNEL_NAME.match(channel):
        return [f"{where}: channel names must match {CHANNEL_NAME.pattern}, got {channel!r}"]
    if channel in reserved:
        return [f"{where}: channel {channel!r} is reserved ({', '.join(sorted(reserved))})"]
    return []

"""The arguments of ``ProcessingPipeline`` and of its ``add_step`` checked before
anything is created.

Every problem of one call is reported together in one ``ValueError`` naming the
argument, the value and what is allowed: the pipeline name, the storage and image types,
VPC settings (subnets 1-16, security groups 1-5), tags, data sources, run and data
prefixes that would overlap another pipeline's on the same bucket, and a state machine
name another pipeline of the stack already has.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from constructs import Construct

from constructs_sm.image import ProcessingImage
from constructs_sm.machine import state_machine_name
from constructs_sm.model import (
    DataSource,
    EnvValue,
    FanOut,
    ItemRef,
    OutputRef,
    OutputSpec,
    PrefixClaim,
    Resources,
    StepInput,
    shown,
)
from constructs_sm.params import ParamRef
from constructs_sm.step import ProcessingStep
from constructs_sm.storage import ChannelBucket
from constructs_sm.validation import (
    PIPELINE_NAME,
    StepValidator,
    ValidatedStep,
    data_source_problems,
    network_problems,
    prefix_conflicts,
    tag_problems,
)

if TYPE_CHECKING:  # aws_ec2 (0.1 s to import) is loaded only for a VPC: network
    from aws_cdk import aws_ec2 as ec2


@dataclass(frozen=True)
class PipelineArguments:
    """What the checks derived: the name, the data sources (by default ``data/`` of the
    channel bucket), the prefixes the pipeline claims on its bucket, the state machine's
    physical name (None when the stack name is a token) and the jobs' subnets."""

    name: str
    sources: tuple[DataSource, ...]
    claims: list[PrefixClaim]
    machine_name: str | None
    subnet_ids: list[str]


def check_pipeline_arguments(
    scope: Construct,
    construct_id: str,
    *,
    pipeline_name: str | None,
    storage: object,
    image: object,
    data_sources: Sequence[DataSource] | None,
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
    security_groups: Sequence[ec2.ISecurityGroup] | None,
    tags: Mapping[str, str] | None,
    taken_machine_names: Collection[str | None],
) -> PipelineArguments:
    """Check a ``ProcessingPipeline(scope, construct_id, ...)`` call; raises one
    ``ValueError`` listing every problem."""
    name = construct_id if pipeline_name is None else pipeline_name
    problems = []
    if not isinstance(name, str) or not PIPELINE_NAME.match(name):
        problems.append(
            f"pipeline_name must match {PIPELINE_NAME.pattern}, got {name!r}"
            + (" (the construct id; pass pipeline_name)" if pipeline_name is None else "")
        )
    if not isinstance(storage, ChannelBucket):
        problems.append(f"storage must be a ChannelBucket, got {shown(storage)}")
    if not isinstance(image, ProcessingImage):
        problems.append(f"image must be a ProcessingImage, got {shown(image)}")
    if security_groups is not None and vpc is None:
        problems.append("security_groups needs vpc")
    if vpc_subnets is not None and vpc is None:
        problems.append("vpc_subnets needs vpc")
    problems += tag_problems(tags or {})
    sources = (
        tuple(data_sources)
        if data_sources is not None
        else (DataSource(storage.bucket, "data/"),)
        if isinstance(storage, ChannelBucket)
        else ()
    )
    problems += data_source_problems(sources)
    claims: list[PrefixClaim] = []
    if isinstance(name, str) and isinstance(storage, ChannelBucket) and not problems:
        owner = f"pipeline {name!r} ({scope.node.path}/{construct_id})"
        claims = [
            PrefixClaim(f"{name}/", "run", owner),
            *(
                PrefixClaim(source.prefix, "data", owner)
                for source in sources
                if source.bucket is storage.bucket
            ),
        ]
        problems += prefix_conflicts(storage.prefix_claims, claims)
    machine_name = state_machine_name(scope, name) if isinstance(name, str) else None
    if machine_name is not None and machine_name in taken_machine_names:
        problems.append(
            f"the stack already has a pipeline whose state machine is named "
            f"{machine_name!r}; give each pipeline its own pipeline_name"
        )
    subnet_ids: list[str] = []
    if vpc is not None:
        from constructs_sm.network import selected_subnets

        subnet_ids = selected_subnets(vpc, vpc_subnets)
        problems += network_problems(subnet_ids, security_groups)
    if problems:
        raise ValueError("ProcessingPipeline: " + "; ".join(problems))
    assert isinstance(name, str) and isinstance(storage, ChannelBucket)
    return PipelineArguments(name, sources, claims, machine_name, subnet_ids)


def check_step_arguments(
    validator: StepValidator,
    name: str,
    code: str | Path,
    inputs: Mapping[str, OutputRef | ParamRef | StepInput | str] | None,
    outputs: Sequence[OutputSpec],
    env: Mapping[str, EnvValue] | None,
    returns: Mapping[str, type] | None,
    resources: Resources | None,
    arguments: Sequence[str | ParamRef | ItemRef],
    after: Sequence[ProcessingStep],
    image: ProcessingImage | None,
    fan_out_settings: tuple[object, object, object, object],
    *,
    entry_point: str | Path | None,
    command: Sequence[str],
) -> tuple[ValidatedStep, FanOut | None]:
    """Check an ``add_step`` call with the pipeline's ``validator``; raises one
    ``ValueError`` listing every problem, else returns the checked step and its fan-out
    (its listed output becomes an input channel, its source and ``after`` steps
    dependencies)."""
    for_each = fan_out_settings[0]
    problems, checked = validator.validate(
        name,
        code,
        inputs,
        outputs,
        env,
        returns,
        resources,
        arguments,
        fans_out=for_each is not None,
        entry_point=entry_point,
        command=command,
    )
    fan_problems, fan_out = validator.fan_out_problems(
        *fan_out_settings, returns=bool(returns), inputs=checked.inputs
    )
    problems += fan_problems
    deps = list(checked.depends_on)
    checked_inputs = dict(checked.inputs)
    if fan_out is not None and isinstance(fan_out.source, OutputRef):
        # Each job gets its object in the channel named after the output it lists.
        checked_inputs[fan_out.source.channel] = StepInput(fan_out.source)
        if fan_out.source.step not in deps:
            deps.append(fan_out.source.step)
    for position, other in enumerate(after):
        if not isinstance(other, ProcessingStep) or other.pipeline is not validator.owner:
            problems.append(
                f"after[{position}] must be a step of this pipeline, got {shown(other)}"
            )
        elif other not in deps:
            deps.append(other)
    if image is not None and not isinstance(image, ProcessingImage):
        problems.append(f"image must be a ProcessingImage, got {shown(image)}")
    if problems:
        raise ValueError(f"add_step({name!r}): " + "; ".join(problems))
    return replace(checked, inputs=checked_inputs, depends_on=tuple(deps)), fan_out

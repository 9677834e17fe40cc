"""The step construct: one processing step of a pipeline and its execution role.

:class:`ProcessingStep` is what ``ProcessingPipeline.add_step`` creates: it owns the
step's execution role and hands out references to its outputs and returned values. What
its job request looks like is rendered by :mod:`constructs_sm.job`; its code lives in
the pipeline's code bundle (:mod:`constructs_sm.code`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from constructs_sm.job import JobSettings
from constructs_sm.model import (
    EnvValue,
    FanOut,
    ItemRef,
    OutputRef,
    Resources,
    StepInput,
    StepOutput,
    ValueRef,
)
from constructs_sm.params import ParamRef, ParamType
from constructs_sm.paths import default_path
from constructs_sm.step_code import DEFAULT_COMMAND

if TYPE_CHECKING:
    from constructs_sm.pipeline import ProcessingPipeline


class ProcessingStep(Construct):
    """A step of a :class:`~constructs_sm.ProcessingPipeline`; create it with ``add_step``.

    It owns the step's execution role (``role``) and hands out references to its
    outputs (:meth:`output`) and returned values (:meth:`value`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        owner: ProcessingPipeline,
        script: str,
        job_prefix: str,
        inputs: Mapping[str, StepInput],
        outputs: Sequence[str],
        environment: Mapping[str, EnvValue],
        arguments: Sequence[str | ParamRef | ItemRef],
        returns: Mapping[str, ParamType],
        resources: Resources,
        depends_on: Sequence[ProcessingStep],
        network_isolation: bool,
        role: iam.IRole | None,
        make_role: Callable[[Construct], iam.Role],
        fan_out: FanOut | None = None,
        command: Sequence[str] = DEFAULT_COMMAND,
        output_paths: Mapping[str, str] | None = None,
    ) -> None:
        """``script`` is the entry point's path in the pipeline's code bundle and
        ``command`` what runs it; ``output_paths`` the outputs' own container paths;
        ``make_role`` creates the step's role under it when ``role`` is None."""
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
        self._fan_out = fan_out
        self._command = tuple(command)
        self._output_paths = dict(output_paths or {})
        self._role = role or make_role(self)

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
        """The zipped code channel: the pipeline's bundle (every step's script, the runtime
        and the step specs), staged when the app is synthesized."""
        return self._owner.code_asset

    @property
    def job_prefix(self) -> str:
        """Every job of this step is named ``<job_prefix>-<32 hex characters>``; the
        pipeline's job-name prefix, then a segment of this step's own."""
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
    def command(self) -> tuple[str, ...]:
        """What runs the step's entry point (``("python3",)`` unless ``command`` was given)."""
        return self._command

    def local_path(self, channel: str, *, output: bool = False) -> str:
        """Where input (or, with ``output=True``, output) ``channel`` is in the container."""
        if output:
            if channel not in self._outputs:
                raise ValueError(f"step {self._name!r} has no output {channel!r}")
            return self._output_paths.get(channel) or default_path("output", channel)
        if channel not in self._inputs:
            raise ValueError(f"step {self._name!r} has no input {channel!r}")
        return self._inputs[channel].local_path or default_path("input", channel)

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
    def environment(self) -> Mapping[str, EnvValue]:
        """The container environment as declared: literals, params and returned values."""
        return dict(self._environment)

    @property
    def arguments(self) -> tuple[str | ParamRef | ItemRef, ...]:
        """The container arguments after the script, as declared (literals or params)."""
        return self._arguments

    @property
    def fan_out(self) -> FanOut | None:
        """How a ``for_each`` step fans out (one job per item), or None."""
        return self._fan_out

    @property
    def pipeline(self) -> ProcessingPipeline:
        """The pipeline the step belongs to."""
        return self._owner

    def output(self, channel: str | StepOutput) -> OutputRef:
        """A reference to one of this step's output channels, for another step's inputs
        (by name, or the :class:`StepOutput` it was declared with)."""
        if isinstance(channel, StepOutput):
            channel = channel.name
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
        code_uri: str,
    ) -> JobSettings:
        """The settings its CreateProcessingJob request is rendered from."""
        return JobSettings(
            pipeline=self._pipeline_name,
            step=self._name,
            job_prefix=self._job_prefix,
            image_uri=image_uri,
            role_arn=self._role.role_arn,
            code_uri=code_uri,
            script=self._script,
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
            fan_out=self._fan_out,
            command=self._command,
            output_paths=self._output_paths,
        )

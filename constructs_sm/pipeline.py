"""The pipeline construct: typed parameters, steps and the state machine that runs them.

``ProcessingPipeline`` wires the pure layers into CDK resources: it validates every
declaration (:mod:`constructs_sm.validation`), creates each step (:mod:`constructs_sm.step`)
and grants it exactly its channels (:mod:`constructs_sm.grants`), and hands the
definition (:mod:`constructs_sm.definition`, scheduled by :mod:`constructs_sm.plan`) to
a Step Functions state machine once, at synth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import (
    Aspects,
    Aws,
    Duration,
    IAspect,
    IStableStringProducer,
    Lazy,
    Stack,
    Token,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from constructs_sm.code import StepCode, bundle_files, stage_files, step_spec
from constructs_sm.definition import build_definition
from constructs_sm.diagram_synth import PipelinePicture
from constructs_sm.fanout import listed_prefixes, maps_prefix
from constructs_sm.grants import (
    PREFIX_GRANT_REASON,
    FindingNames,
    StepAccess,
    channels_document,
    step_access,
    whole_bucket_policy,
)
from constructs_sm.hosting import (
    DEFINITION_FILE,
    INLINE_LIMIT_CONTEXT,
    HostedDefinition,
    definition_text,
    estimated_size,
    host_definition,
    inline_limit,
    size_problem,
)
from constructs_sm.image import ProcessingImage
from constructs_sm.job import job_name_prefix, pipeline_job_prefix
from constructs_sm.layout import params_prefix, returns_reading_prefix
from constructs_sm.machine import create_state_machine
from constructs_sm.model import (
    DataSource,
    EnvValue,
    FanOut,
    ItemRef,
    OutputRef,
    OutputSpec,
    Resources,
    StepInput,
    env_spec,
)
from constructs_sm.nag.acknowledge import acknowledge
from constructs_sm.observability import PipelineObservability, add_outputs
from constructs_sm.params import Param, ParamRef, validate_params
from constructs_sm.passed import grant_passed_role, log_group_key, warn_jobs_without_key
from constructs_sm.pipeline_args import check_pipeline_arguments, check_step_arguments
from constructs_sm.plan import Plan, plan
from constructs_sm.roles import (
    Arns,
    SharedAccess,
    acknowledge_machine_policies,
    create_state_machine_role,
    create_step_role,
    fill_steps_policy,
    grant_map_runs,
    grant_run_jobs,
    grant_tracing_and_log_delivery,
    pass_given_role,
    repository_arns,
)
from constructs_sm.step import ProcessingStep
from constructs_sm.step_code import DEFAULT_COMMAND
from constructs_sm.storage import ChannelBucket
from constructs_sm.template_limits import check_template_size
from constructs_sm.validation import (
    StepValidator,
)

if TYPE_CHECKING:  # aws_ec2 takes 0.1 s to import: loaded only for a VPC (network)
    from aws_cdk import aws_ec2 as ec2

__all__ = ["DataSource", "ProcessingPipeline"]


@jsii.implements(IStableStringProducer)
class _LazyDefinition:
    def __init__(self, pipeline: ProcessingPipeline) -> None:
        self._pipeline = pipeline

    def produce(self) -> str:
        return Stack.of(self._pipeline).to_json_string(self._pipeline.inline_definition())


class ProcessingPipeline(PipelineObservability, Construct):
    """A typed SageMaker Processing pipeline run by a Step Functions state machine.

    Declare typed ``params``, then add steps with :meth:`add_step`. The state machine
    (``state_machine``) merges defaults into the execution input, validates every
    parameter before the first job, hands data between steps through per-execution S3
    prefixes of ``storage`` and reads values returned by containers back into its state.
    Its metrics, failure alarm and stack outputs: :mod:`constructs_sm.observability`.

    :param storage: the channel bucket; its run prefix ``<pipeline_name>/`` gets a
        lifecycle expiry.
    :param image: the container image every step runs unless ``add_step`` overrides it.
    :param params: the execution-input parameters.
    :param pipeline_name: the S3 prefix and job-name prefix; defaults to the construct id.
    :param data_sources: where parameter-supplied input URIs may point; by default the
        ``data/`` prefix of ``storage``.
    :param vpc: run jobs in this VPC: private subnets by default (``vpc_subnets``), and a
        security group created unless ``security_groups`` is given, with no inbound rule
        unless a step runs on several instances (then TCP, IKE and ESP from itself only:
        see :mod:`constructs_sm.network`).
    :param timeout: a limit on the whole execution; by default none (each job has its own).
    :param tags: tags on every processing job (plus ``constructs-sm:pipeline`` and
        ``constructs-sm:step``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: ChannelBucket,
        image: ProcessingImage,
        params: Sequence[Param] = (),
        pipeline_name: str | None = None,
        data_sources: Sequence[DataSource] | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        timeout: Duration | None = None,
        tags: Mapping[str, str] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        checked = check_pipeline_arguments(
            scope,
            construct_id,
            pipeline_name=pipeline_name,
            storage=storage,
            image=image,
            data_sources=data_sources,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
            tags=tags,
            taken_machine_names={
                other.state_machine_name
                for other in Stack.of(scope).node.find_all()
                if isinstance(other, ProcessingPipeline)
            },
        )
        name, sources, claims = checked.name, checked.sources, checked.claims
        machine_name, subnet_ids = checked.machine_name, checked.subnet_ids
        self._params = validate_params(params)
        super().__init__(scope, construct_id)
        check_template_size(self)
        self._name = name
        self._storage = storage
        self._image = image
        self._steps: dict[str, ProcessingStep] = {}
        self._specs: dict[str, StepCode] = {}
        self._data_sources = sources
        self._step_images: dict[str, ProcessingImage] = {}
        self._tags = dict(tags or {})
        self._timeout = timeout
        self._subnet_ids: list[str] = []
        self._security_group_ids: list[str] = []
        self._vpc = vpc
        self._job_group: ec2.SecurityGroup | None = None
        self._job_groups: list[ec2.ISecurityGroup] = []
        self._connections: ec2.Connections | None = None
        if vpc is not None:
            from constructs_sm.network import job_security_group

            groups = list(security_groups or [])
            if not groups:
                # No inbound rule until a multi-instance step needs one (add_step).
                self._job_group = job_security_group(
                    self, "JobSecurityGroup", vpc=vpc, pipeline_name=name
                )
                groups = [self._job_group]
            self._job_groups = groups
            self._security_group_ids = [g.security_group_id for g in groups]
            self._subnet_ids = subnet_ids
        storage.claim_prefixes(claims)
        if storage.key is None:
            warn_jobs_without_key(self)

        # A physical name derived from the stack and the pipeline lets the role's trust
        # name exactly this state machine (aws:SourceArn).
        self._machine_name = machine_name
        self._role = create_state_machine_role(
            self, "StateMachineRole", state_machine_name=machine_name
        )
        stack = Stack.of(self)
        identity = self.node.path
        if not Token.is_unresolved(stack.stack_name):  # dev and prod stacks of one app differ
            identity = f"{stack.stack_name}:{identity}"
        # Every job name starts with the pipeline's prefix, every step role lives under
        # the pipeline's IAM path: the state machine's permissions cover them by prefix,
        # whatever the number of steps.
        self._job_prefix = pipeline_job_prefix(name, identity)
        self._role_path = f"/constructs-sm/{self._job_prefix}/"
        self._arns = Arns.of(self)
        self._findings = FindingNames(stack)
        self._bucket_arn = storage.bucket.bucket_arn
        grant_run_jobs(
            self._role, arns=self._arns, job_prefix=self._job_prefix, role_path=self._role_path
        )
        storage.grant_put(self._role, params_prefix(name), sid="WriteRunParameters")
        # What every step needs (logs, code, key, image, network) once, for all steps:
        # filled in when the code bundle is staged (see _stage_code).
        self._steps_policy: iam.ManagedPolicy | None = None
        self._code_asset: s3_assets.Asset | None = None
        self._definition: dict[str, Any] | None = None
        self._definition_asset: s3_assets.Asset | None = None
        self._hosted: HostedDefinition | None = None
        self._finalized = False
        self._machine_reads_returns = False
        # The prefix grants of the step roles, acknowledged once for the pipeline (not per
        # role; IamStepObjectAccess still checks that each reaches only its channels).
        # Inline policies are acknowledged on each policy the pipeline writes, never on
        # the pipeline: a policy the app adds to one of its roles is still reported.
        self._prefix_findings: set[str] = set()
        self._fan_outs: list[FanOut] = []
        self._passing: iam.PolicyStatement | None = None  # PassRole of roles given to steps
        _Finalizer(self, "CodeBundle")
        self._log_group, self._state_machine = create_state_machine(
            self,
            definition=sfn.DefinitionBody.from_string(Lazy.string(_LazyDefinition(self))),
            role=self._role,
            pipeline_name=name,
            machine_name=machine_name,
            log_key=log_group_key(self, storage.key, owned=storage.owns_key),
            log_retention=log_retention,
        )
        self._tracing_policy = grant_tracing_and_log_delivery(self._role)
        add_outputs(self, machine=self._state_machine, storage=storage, pipeline=name)
        PipelinePicture(self, "Picture")  # cdk.out/<stack>.<pipeline>.diagram.{md,svg}

    # -- read-only views ---------------------------------------------------------------
    @property
    def pipeline_name(self) -> str:
        """The pipeline's S3 prefix and job-name prefix."""
        return self._name

    @property
    def state_machine_name(self) -> str | None:
        """The state machine's name, ``<stack name>-<pipeline>`` (None in a stack whose
        name is a token, such as a nested stack: CloudFormation names it then)."""
        return self._machine_name

    @property
    def state_machine(self) -> sfn.StateMachine:
        """The state machine (STANDARD, logging ALL without execution data, tracing on).

        Its ``role`` is an immutable view of :attr:`role`: add permissions there.
        """
        return self._state_machine

    @property
    def connections(self) -> ec2.Connections:
        """The jobs' security groups (none without ``vpc``), e.g. for VPC endpoints:
        ``endpoint.connections.allow_default_port_from(pipeline.connections)``."""
        if self._connections is None:
            from aws_cdk import aws_ec2 as ec2

            self._connections = ec2.Connections(security_groups=self._job_groups)
        return self._connections

    @property
    def role(self) -> iam.IRole:
        """The role the state machine runs as."""
        return self._role

    @property
    def log_group(self) -> logs.ILogGroup:
        """Where the state machine's execution events are logged."""
        return self._log_group

    @property
    def storage(self) -> ChannelBucket:
        """The channel bucket holding the runs' handoff data."""
        return self._storage

    @property
    def params(self) -> Mapping[str, Param]:
        """The declared parameters by name."""
        return dict(self._params)

    @property
    def steps(self) -> Mapping[str, ProcessingStep]:
        """The steps in the order they were added."""
        return dict(self._steps)

    def item(self) -> ItemRef:
        """The item of a ``for_each`` step's job, for that step's ``env`` and ``arguments``
        (``env={"REGION": pipeline.item()}``); an error in any other step."""
        return ItemRef()

    def param(self, name: str) -> ParamRef:
        """A reference to a declared parameter, for inputs, env values and arguments."""
        if name not in self._params:
            raise ValueError(
                f"unknown param {name!r}; declared params: {', '.join(self._params) or '(none)'}"
            )
        return ParamRef(self._params[name])

    def dependencies(self) -> dict[str, list[str]]:
        """Each step's names of the steps that must finish before it starts."""
        return {n: [d.step_name for d in s.depends_on] for n, s in self._steps.items()}

    def plan(self) -> Plan | None:
        """How the steps are scheduled (see :func:`plan`)."""
        return plan(self.dependencies())

    def render_definition(self) -> dict[str, Any]:
        """The state-machine definition as Python data (CDK tokens unresolved)."""
        subnets, groups = self._subnet_ids, self._security_group_ids
        key = self._storage.key
        key_arn = key.key_arn if key is not None else None
        code_uri = self.code_asset.s3_object_url
        settings = {
            name: step.job_settings(
                image_uri=self._step_images[name].image_uri,
                kms_key_arn=key_arn,
                subnet_ids=subnets,
                security_group_ids=groups,
                tags={
                    **self._tags,
                    "constructs-sm:pipeline": self._name,
                    "constructs-sm:step": name,
                },
                code_uri=code_uri,
            )
            for name, step in self._steps.items()
        }
        return build_definition(
            pipeline=self._name,
            bucket_name=self._storage.bucket.bucket_name,
            params=self._params,
            steps=settings,
            deps=self.dependencies(),
            partition=Aws.PARTITION,
            timeout_seconds=int(self._timeout.to_seconds()) if self._timeout else None,
            input_locations=self._input_locations(),
        )

    def _input_locations(self) -> dict[str, list[str]]:
        locations = [f"s3://{d.bucket.bucket_name}/{d.prefix}" for d in self._data_sources]
        return {
            spec.source.name: locations
            for step in self._steps.values()
            for spec in step.inputs.values()
            if isinstance(spec.source, ParamRef)
        }

    # -- steps -----------------------------------------------------------------------
    def add_step(
        self,
        name: str,
        *,
        code: str | Path,
        inputs: Mapping[str, OutputRef | ParamRef | StepInput | str] | None = None,
        outputs: Sequence[OutputSpec] = (),
        env: Mapping[str, EnvValue] | None = None,
        returns: Mapping[str, type] | None = None,
        resources: Resources | None = None,
        arguments: Sequence[str | ParamRef | ItemRef] = (),
        after: Sequence[ProcessingStep] = (),
        image: ProcessingImage | None = None,
        network_isolation: bool = True,
        role: iam.IRole | None = None,
        entry_point: str | Path | None = None,
        command: Sequence[str] = DEFAULT_COMMAND,
        for_each: ParamRef | OutputRef | None = None,
        max_concurrency: int | None = None,
        tolerated_failure_percentage: float | None = None,
        tolerated_failure_count: int | None = None,
    ) -> ProcessingStep:
        """Add a processing step running ``code``: a Python script, or a directory whose
        ``entry_point`` runs (see :mod:`constructs_sm.step_code`).

        :param inputs: channel name to source: another step's ``output(...)``, a string
            parameter (an S3 URI within ``data_sources``), a literal ``s3://`` URI, or a
            :class:`StepInput` with explicit mode, distribution or ``local_path``.
        :param outputs: output channel names, or :class:`StepOutput` with a ``local_path``;
            each is uploaded to ``<pipeline>/<step>/<channel>/<execution>/``.
        :param env: environment values: literals, ``pipeline.param(...)`` or another
            step's ``value(...)`` (numbers and booleans become strings; the runtime's
            ``env()`` converts them back).
        :param returns: values the script emits with ``runtime.emit``, by type
            (``float``, ``int``, ``str``, ``bool``); read back into the state.
        :param resources: compute; by default one ml.m5.xlarge for at most 24 hours.
        :param arguments: container arguments after the script (literals or params).
        :param after: steps that must finish first although no data flows from them.
        :param image: this step's image; by default the pipeline's.
        :param network_isolation: on by default; turning it off lets the container reach
            the network (and must be acknowledged in the nag checks).
        :param role: an existing execution role; by default one scoped to this step's
            prefixes is created. What a passed role gets, a warning says
            (:mod:`constructs_sm.passed`).
        :param entry_point: with ``code`` a directory: the script to run, relative to it.
            The whole directory is shipped and is on ``sys.path``.
        :param command: what runs the entry point, as ScriptProcessor's ``command``: the
            image's ``python3`` by default, a Python with options (``["python3", "-u"]``)
            or another program (``["bash"]``; it finds the step's values in ``CSM_*``
            environment variables, see :mod:`constructs_sm.runtime`). The image needs
            ``python3`` in any case, for the bootstrap.
        :param for_each: run one job per item (a Distributed Map, see
            :mod:`constructs_sm.fanout`): the items of a ``Param.string_list`` parameter
            (``pipeline.param(...)``), or the objects under another step's output
            (``step.output(...)``; each job gets its object in the input channel of that
            output's name). Each job's item is ``pipeline.item()`` in ``env`` and
            ``arguments`` and ``runtime.item()`` in the script; its outputs go below the
            item's index, so a later step reading them gets every item's.
        :param max_concurrency: jobs running at once (default 10; 0: no limit).
        :param tolerated_failure_percentage: the step still succeeds when at most this
            percentage of its items failed.
        :param tolerated_failure_count: ... or at most this many.
        """
        checked, fan_out = check_step_arguments(
            StepValidator(
                owner=self, pipeline_name=self._name, params=self._params, steps=self._steps
            ),
            name,
            code,
            inputs,
            outputs,
            env,
            returns,
            resources,
            arguments,
            after,
            image,
            (for_each, max_concurrency, tolerated_failure_percentage, tolerated_failure_count),
            entry_point=entry_point,
            command=command,
        )
        if self._code_asset is not None:
            raise ValueError(
                f"add_step({name!r}): the pipeline's code bundle is already staged (the "
                "app was synthesized or render_definition() was called); add every step "
                "first"
            )
        source = checked.source
        assert source is not None  # validated
        channels = checked.outputs
        step_resources = resources or Resources()
        job_prefix = job_name_prefix(self._job_prefix, name)
        clash = [s.step_name for s in self._steps.values() if s.job_prefix == job_prefix]
        if clash:  # a 24-bit hash collision: vanishingly rare, but IAM scoping relies on it
            raise ValueError(
                f"add_step({name!r}): its job-name prefix {job_prefix!r} equals step "
                f"{clash[0]!r}'s; rename the step"
            )
        spec = step_spec(
            pipeline=self._name,
            step=name,
            params={n: p.spec() for n, p in self._params.items()},
            env={k: env_spec(v) for k, v in (env or {}).items()},
            checked=checked,
            hosts=step_resources.instance_count,
        )
        in_s3 = bool(checked.returns) and step_resources.instance_count > 1
        access = step_access(
            pipeline=self._name,
            step=name,
            inputs=checked.inputs,
            outputs=channels,
            returns=bool(checked.returns),
            data_sources=self._data_sources,
            channel_bucket=self._storage.bucket,
            returns_in_s3=in_s3,
        )
        self._specs[name] = StepCode(name, source, spec)
        step = ProcessingStep(
            self,
            name,
            pipeline_name=self._name,
            owner=self,
            script=source.script,
            command=source.command,
            output_paths=checked.output_paths,
            job_prefix=job_prefix,
            inputs=checked.inputs,
            outputs=channels,
            environment=checked.env,
            arguments=arguments,
            returns=checked.returns,
            resources=step_resources,
            depends_on=checked.depends_on,
            network_isolation=network_isolation,
            role=role,
            make_role=lambda scope: self._step_role(scope, name, job_prefix, access),
            fan_out=fan_out,
        )
        if role is not None:
            grant_passed_role(
                step,
                role,
                step=name,
                pipeline=self._name,
                channels=channels_document(access, channel_bucket_arn=self._bucket_arn),
                shared=self._shared_policy(),
            )
            self._passing = pass_given_role(self._role, role, self._passing)
        if self._job_group is not None and step_resources.instance_count > 1:
            from constructs_sm.network import allow_between_instances

            allow_between_instances(self._job_group)
        self._step_images[name] = image or self._image
        if access.machine_reads:
            self._machine_reads_returns = True
        if fan_out is not None:
            self._fan_outs.append(fan_out)
        self._steps[name] = step
        return step

    def _step_role(
        self, scope: Construct, name: str, job_prefix: str, access: StepAccess
    ) -> iam.Role:
        """The step's own role: its channels inline, the pipeline's shared policy; reads of
        a whole-bucket data source in a policy of their own (see
        :func:`~constructs_sm.grants.whole_bucket_policy`)."""
        whole = tuple(r for r in access.reads if r.bucket_arn is not None and not r.prefix)
        scoped = replace(access, reads=tuple(r for r in access.reads if r not in whole))
        role = create_step_role(
            scope,
            "Role",
            arns=self._arns,
            job_prefix=job_prefix,
            path=self._role_path,
            channels=channels_document(scoped, channel_bucket_arn=self._bucket_arn),
            shared=self._shared_policy(),
            description=f"Execution role of step {name} of pipeline {self._name}",
        )
        if whole:
            whole_bucket_policy(role, [r.bucket_arn for r in whole if r.bucket_arn])
        self._prefix_findings.update(
            self._findings.findings(scoped, channel_bucket_arn=self._bucket_arn)
        )
        return role

    def _shared_policy(self) -> iam.ManagedPolicy:
        if self._steps_policy is None:
            self._steps_policy = iam.ManagedPolicy(
                self,
                "StepsPolicy",
                description=f"What every step of pipeline {self._name} needs",
            )
        return self._steps_policy

    @property
    def code_asset(self) -> s3_assets.Asset:
        """The pipeline's code bundle (every step's script, the runtime and the step
        specs): staged on first use, when the app is synthesized; no step can be added
        after."""
        if self._code_asset is None:
            self._stage_code()
        assert self._code_asset is not None
        return self._code_asset

    @property
    def definition_asset(self) -> s3_assets.Asset | None:
        """The file asset holding the state machine's definition when it is too large for
        the template (see :mod:`constructs_sm.hosting`), else None. Known at synth."""
        return self._definition_asset

    @property
    def hosted_definition(self) -> HostedDefinition | None:
        """The definition as the file asset holds it, with its substitutions, when it is
        hosted in S3 (see :attr:`definition_asset`), else None. Known at synth."""
        return self._hosted

    def inline_definition(self) -> dict[str, Any]:
        """The definition placed in the template (rendered once, when the app is
        synthesized)."""
        if self._definition is None:
            self._definition = self.render_definition()
        return self._definition

    def _finalize(self) -> None:
        """Once every step is known (at synth): stage the code bundle, then place the
        definition in the template or, when large, in S3 (:mod:`constructs_sm.hosting`)."""
        if self._finalized:
            return
        self._finalized = True
        definition = self.inline_definition()
        text = definition_text(definition)
        problem = size_problem(text, pipeline=self._name, steps=len(self._steps))
        if problem:
            raise ValueError(problem)
        limit = inline_limit(self.node.try_get_context(INLINE_LIMIT_CONTEXT))
        if estimated_size(text)[0] <= limit:
            return
        hosted = host_definition(text)
        self._hosted = hosted
        directory = stage_files({DEFINITION_FILE: hosted.text.encode()})
        asset = s3_assets.Asset(self, "Definition", path=str(directory / DEFINITION_FILE))
        self._definition_asset = asset
        machine = self._state_machine.node.default_child
        assert isinstance(machine, sfn.CfnStateMachine)
        machine.definition_string = None
        machine.definition_s3_location = sfn.CfnStateMachine.S3LocationProperty(
            bucket=asset.s3_bucket_name, key=asset.s3_object_key
        )
        machine.definition_substitutions = dict(hosted.substitutions)

    def _stage_code(self) -> None:
        """Stage the code bundle and give the shared policy what every step needs."""
        directory = stage_files(bundle_files(list(self._specs.values())))
        self._code_asset = s3_assets.Asset(self, "Code", path=str(directory))
        key = self._storage.key
        images = [image.repository_arn for image in self._step_images.values()]
        access = SharedAccess(
            job_prefix=self._job_prefix,
            key_arn=key.key_arn if key is not None else None,
            code_object_arn=self._code_asset.bucket.arn_for_objects(self._code_asset.s3_object_key),
            code_bucket_arn=self._code_asset.bucket.bucket_arn,
            code_key=self._code_asset.s3_object_key,
            repository_arns=repository_arns(images),
            in_vpc=self._vpc is not None,
        )
        if self._steps:
            fill_steps_policy(self._shared_policy(), arns=self._arns, access=access)
        if self._machine_reads_returns:
            self._storage.grant_read(
                self._role, returns_reading_prefix(self._name), sid="ReadReturnedValues"
            )
        if self._prefix_findings:
            acknowledge(self, sorted(self._prefix_findings), PREFIX_GRANT_REASON)
        if self._fan_outs:
            self._grant_fan_outs()
        acknowledge_machine_policies(self._role, self._tracing_policy)

    def _grant_fan_outs(self) -> None:
        """What the state machine needs for its fan-out steps: run its child executions,
        list the objects a fan-out iterates, write the map runs' results."""
        grant_map_runs(self._role, arns=self._arns, state_machine_name=self._machine_name)
        if listed := listed_prefixes(self._name, self._fan_outs):
            self._storage.grant_list(self._role, listed)
        # Map runs write their results (a manifest and result files) there.
        self._storage.grant_write(self._role, maps_prefix(self._name))

    @property
    def job_prefix(self) -> str:
        """Every job of this pipeline is named ``<job_prefix>-<step segment>-<hash>``."""
        return self._job_prefix

    @property
    def role_path(self) -> str:
        """The IAM path of the step roles the pipeline creates (and only those)."""
        return self._role_path


@jsii.implements(IAspect)
class _Visitor:
    def __init__(self, pipeline: ProcessingPipeline) -> None:
        self._pipeline = pipeline

    def visit(self, node: IConstruct) -> None:
        # Once every step is known: stage the bundle, place the definition.
        self._pipeline._finalize()


class _Finalizer(Construct):
    """A leaf whose aspect finalizes the pipeline when the app is synthesized: stages its
    code bundle and places its definition (an aspect on a leaf visits one construct, not
    every step's)."""

    def __init__(self, pipeline: ProcessingPipeline, construct_id: str) -> None:
        super().__init__(pipeline, construct_id)
        Aspects.of(self).add(_Visitor(pipeline))

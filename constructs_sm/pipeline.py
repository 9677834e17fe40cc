"""The processing pipeline: steps, their data flow and the state machine that runs them.

``ProcessingPipeline`` validates every ``add_step`` call at synth time, wires IAM for
exactly the prefixes each step reads and writes, and renders one Step Functions
definition (JSONPath + intrinsic functions) with :func:`build_definition`:

1. merge the declared defaults into the execution input and type-check every parameter
   (``InvalidParameters`` names the parameter);
2. write the parameters to ``<pipeline>/<execution>/_run/params.json`` (every step's
   ``params`` channel);
3. run the steps, in parallel where no data dependency orders them (:func:`plan`),
   each as ``createProcessingJob.sync`` followed by reading back its returned values.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

import jsii
from aws_cdk import (
    Aws,
    CfnResource,
    Duration,
    Fn,
    IStableStringProducer,
    Lazy,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_sm import runtime as _rt
from constructs_sm.image import ProcessingImage
from constructs_sm.limits import MAX_CHANNELS, MAX_ENV, MAX_ENV_VALUE, S3_URI
from constructs_sm.nag.acknowledge import acknowledge_wildcards
from constructs_sm.params import (
    INVALID_PARAMETERS,
    Param,
    ParamRef,
    ParamType,
    glob_literal,
    validate_params,
    validation_states,
)
from constructs_sm.roles import (
    allow_log_encryption,
    create_state_machine_role,
    grant_job_events,
    grant_run_step,
    grant_tracing_and_log_delivery,
    grant_vpc_access,
)
from constructs_sm.step import (
    CHANNEL_NAME,
    ENV_KEY,
    RESERVED_ENV_PREFIX,
    RESERVED_INPUTS,
    RESERVED_OUTPUTS,
    RETURN_TYPES,
    RUN_DIR,
    S3_RETRIES,
    STEP_NAME,
    EnvValue,
    JobSettings,
    OutputRef,
    ProcessingStep,
    Resources,
    StepInput,
    ValueRef,
    env_literal,
    failure_state,
    job_name_prefix,
    literal_type,
    step_states,
)
from constructs_sm.storage import ChannelBucket, grant_prefix_read

PIPELINE_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
_BUCKET_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: Environment variables the pipeline sets on every job itself.
_OWN_ENV: Final = 2
#: A Parallel state merges its branches' results in one field; intrinsic functions nest
#: at most 10 deep, so wider fan-outs are split into nested Parallel states.
_MAX_BRANCHES: Final = 10
#: Step names cannot contain ":", so these never collide with a step's state names.
_FAILED: Final = "Pipeline: failed"
_SUCCEEDED: Final = "Pipeline: succeeded"
_SELECT: Final = "Pipeline: select parameters"


@dataclass(frozen=True)
class DataSource:
    """Where a step input given as a parameter (an S3 URI at run time) may point.

    Steps that read a parameter-supplied URI get read access to these prefixes only.
    """

    bucket: s3.IBucket
    prefix: str = ""


# -- scheduling ---------------------------------------------------------------------

#: A schedule: a step name, ("seq", [...]) run one after another, ("par", [...]) at once.
Plan: TypeAlias = str | tuple[str, list["Plan"]]


def _topological(deps: Mapping[str, Sequence[str]]) -> list[str]:
    unknown = sorted({d for ds in deps.values() for d in ds if d not in deps})
    if unknown:
        raise ValueError(f"steps depend on unknown steps: {', '.join(unknown)}")
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = [*trail[trail.index(node) :], node]
            raise ValueError(f"steps form a dependency cycle: {' -> '.join(cycle)}")
        state[node] = 1
        for dep in deps[node]:
            visit(dep, [*trail, node])
        state[node] = 2
        order.append(node)

    for node in deps:
        visit(node, [])
    return order


def plan(deps: Mapping[str, Sequence[str]]) -> Plan | None:
    """Schedule steps so that those without a data dependency run in parallel.

    Independent groups become parallel branches; inside a group, the steps with no
    pending dependency run first (in parallel), then the rest is planned again. The
    wall time equals the critical path for series-parallel graphs; for other graphs the
    schedule is still correct, and a step may wait for an unrelated sibling.
    Raises ``ValueError`` on a cycle or an unknown step.
    """
    order = _topological(deps)
    if not order:
        return None
    index = {name: position for position, name in enumerate(order)}
    return _plan(set(deps), deps, index)


def _components(nodes: set[str], deps: Mapping[str, Sequence[str]]) -> list[set[str]]:
    neighbours: dict[str, set[str]] = {n: set() for n in nodes}
    for node in nodes:
        for dep in deps[node]:
            if dep in nodes:
                neighbours[node].add(dep)
                neighbours[dep].add(node)
    groups: list[set[str]] = []
    seen: set[str] = set()
    for node in nodes:
        if node in seen:
            continue
        group, todo = set(), [node]
        while todo:
            current = todo.pop()
            if current not in group:
                group.add(current)
                todo.extend(neighbours[current] - group)
        seen |= group
        groups.append(group)
    return groups


def _closure(start: str, edges: Mapping[str, Sequence[str]], nodes: set[str]) -> set[str]:
    found: set[str] = set()
    todo = [start]
    while todo:
        for other in edges.get(todo.pop(), ()):
            if other in nodes and other not in found:
                found.add(other)
                todo.append(other)
    return found


def _plan(nodes: set[str], deps: Mapping[str, Sequence[str]], index: Mapping[str, int]) -> Plan:
    def ordered(items: set[str]) -> list[str]:
        return sorted(items, key=index.__getitem__)

    def sub(items: set[str]) -> list[Plan]:
        if not items:
            return []
        part = _plan(items, deps, index)
        return list(part[1]) if isinstance(part, tuple) and part[0] == "seq" else [part]

    if len(nodes) == 1:
        return next(iter(nodes))
    groups = _components(nodes, deps)
    if len(groups) > 1:
        groups.sort(key=lambda g: min(index[n] for n in g))
        return ("par", [_plan(g, deps, index) for g in groups])
    dependents: dict[str, list[str]] = {n: [] for n in nodes}
    for node in nodes:
        for dep in deps[node]:
            if dep in nodes:
                dependents[dep].append(node)
    before = {n: _closure(n, deps, nodes) for n in nodes}
    after = {n: _closure(n, dependents, nodes) for n in nodes}
    # A bottleneck is ordered against every other step: the graph is a series there.
    bottlenecks = [n for n in ordered(nodes) if before[n] | after[n] | {n} == nodes]
    if bottlenecks:
        parts: list[Plan] = [*sub(before[bottlenecks[0]]), bottlenecks[0]]
        for previous, current in itertools.pairwise(bottlenecks):
            parts += [*sub(after[previous] & before[current]), current]
        parts += sub(after[bottlenecks[-1]])
        return ("seq", parts)
    # No series split (e.g. a->c, b->c, b->d): start the sources together, then the rest.
    first = {n for n in nodes if not before[n]}
    head: Plan = ordered(first)[0] if len(first) == 1 else ("par", list(ordered(first)))
    return ("seq", [head, *sub(nodes - first)])


def critical_path_steps(plan_: Plan | None) -> list[list[str]]:
    """The plan as stages of steps that run together (for reports)."""
    if plan_ is None:
        return []
    if isinstance(plan_, str):
        return [[plan_]]
    kind, parts = plan_
    if kind == "seq":
        return [stage for part in parts for stage in critical_path_steps(part)]
    return [[s for part in parts for stage in critical_path_steps(part) for s in stage]]


# -- definition ---------------------------------------------------------------------


def _merge_expression(paths: Sequence[str]) -> str:
    expression = paths[0]
    for path in paths[1:]:
        expression = f"States.JsonMerge({expression}, {path}, false)"
    return expression


class _DefinitionBuilder:
    def __init__(self, settings: Mapping[str, JobSettings], partition: str) -> None:
        self.settings = settings
        self.partition = partition
        self.parallels = 0
        self.names: set[str] = set()

    def put(self, states: dict[str, Any], new: Mapping[str, Any]) -> None:
        """Add states; state names must be unique across the whole state machine."""
        for name, state in new.items():
            if name in self.names:
                raise ValueError(f"two states would be named {name!r}; rename the step")
            if len(name) > 80:
                raise ValueError(f"state name {name!r} is longer than 80 characters")
            self.names.add(name)
            states[name] = state

    def emit(self, node: Plan, next_state: str | None, states: dict[str, Any]) -> str:
        if isinstance(node, str):
            failed = f"{node} failed"
            first, step = step_states(
                self.settings[node],
                partition=self.partition,
                next_state=next_state,
                failed_state=failed,
            )
            self.put(states, {failed: failure_state(), **step})
            return first
        kind, parts = node
        if kind == "seq":
            following = next_state
            for part in reversed(parts):
                following = self.emit(part, following, states)
            assert following is not None
            return following
        if len(parts) > _MAX_BRANCHES:
            size = -(-len(parts) // _MAX_BRANCHES)
            parts = [("par", parts[i : i + size]) for i in range(0, len(parts), size)]
        self.parallels += 1
        name = f"Parallel {self.parallels}"
        branches = []
        for part in parts:
            branch_states: dict[str, Any] = {}
            start = self.emit(part, None, branch_states)
            branches.append({"StartAt": start, "States": branch_states})
        state: dict[str, Any] = {
            "Type": "Parallel",
            "Branches": branches,
            "ResultSelector": {
                "params.$": "$[0].params",
                "run.$": "$[0].run",
                "steps.$": _merge_expression([f"$[{i}].steps" for i in range(len(parts))]),
            },
            "ResultPath": "$",
        }
        if next_state is None:
            state["End"] = True
        else:
            state["Next"] = next_state
        self.put(states, {name: state})
        return name


def build_definition(
    *,
    pipeline: str,
    bucket_name: str,
    params: Mapping[str, Param],
    steps: Mapping[str, JobSettings],
    deps: Mapping[str, Sequence[str]],
    partition: str = Aws.PARTITION,
    timeout_seconds: int | None = None,
    input_locations: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The pipeline's state-machine definition as Python data (strings may be tokens).

    ``input_locations`` maps a string parameter used as a step input to the S3 prefixes
    (``s3://bucket/prefix``) its value must lie under: the steps' roles may read only
    there, so any other URI fails before the first job with ``InvalidParameters``.
    """
    builder = _DefinitionBuilder(steps, partition)
    states: dict[str, Any] = {}
    write, merge = "Write parameters", "Merge defaults"
    builder.put(
        states,
        {
            "Read input": {
                "Type": "Pass",
                "Parameters": {
                    "defaults": {n: p.default for n, p in params.items() if p.default is not None},
                    "input.$": "$$.Execution.Input",
                },
                "Next": merge,
            },
            merge: {
                "Type": "Pass",
                "Parameters": {
                    "params.$": "States.JsonMerge($.defaults, $.input, false)",
                    "run": {
                        "bucket": bucket_name,
                        "root.$": f"States.Format('{pipeline}/{{}}', $$.Execution.Name)",
                    },
                    "steps": {},
                },
                "Next": "",  # the first validation state, set below
            },
        },
    )
    check, checks = validation_states(params, next_state=_SELECT)
    states[merge]["Next"] = check
    builder.put(states, checks)
    after_select = write
    if input_locations:
        after_select = "Check input locations"
        locations: dict[str, Any] = {}
        locations[after_select] = _location_checks(
            input_locations, next_state=write, states=locations
        )
        builder.put(states, locations)
    builder.put(
        states,
        {
            # Only declared parameters go on: keys of the input that are not parameters
            # are dropped here (the local CLI rejects them before starting).
            _SELECT: {
                "Type": "Pass",
                "Parameters": {
                    "params": {f"{n}.$": f"$.params.{n}" for n in params},
                    "run.$": "$.run",
                    "steps.$": "$.steps",
                },
                "Next": after_select,
            },
        },
    )
    schedule = plan(deps)
    step_states_: dict[str, Any] = {}
    first_step = builder.emit(schedule, _SUCCEEDED, step_states_) if schedule else _SUCCEEDED
    builder.put(
        states,
        {
            write: {
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:s3:putObject",
                "Parameters": {
                    "Bucket.$": "$.run.bucket",
                    "Key.$": f"States.Format('{{}}/{RUN_DIR}/{_rt.PARAMS_FILE}', $.run.root)",
                    "Body.$": "States.JsonToString($.params)",
                    "ContentType": "application/json",
                },
                # Not None: CDK drops JSON nulls from definitions.
                "ResultPath": "$.run.params_file",
                "TimeoutSeconds": 60,
                "Retry": S3_RETRIES,
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": _FAILED}
                ],
                "Next": first_step,
            },
        },
    )
    states.update(step_states_)
    builder.put(states, {_FAILED: failure_state(), _SUCCEEDED: {"Type": "Succeed"}})
    definition: dict[str, Any] = {
        "Comment": f"constructs_sm pipeline {pipeline}",
        "QueryLanguage": "JSONPath",
        "StartAt": "Read input",
        "States": states,
    }
    if timeout_seconds is not None:
        definition["TimeoutSeconds"] = timeout_seconds
    return definition


def _location_checks(
    locations: Mapping[str, Sequence[str]], *, next_state: str, states: dict[str, Any]
) -> dict[str, Any]:
    """A Choice failing when an input parameter points outside its allowed prefixes."""
    rules = []
    for name, prefixes in locations.items():
        fail = f"Invalid location {name}"
        tests = [
            {"Variable": f"$.params.{name}", "StringMatches": glob_literal(prefix) + "*"}
            for prefix in prefixes
        ]
        rules.append({"Not": tests[0] if len(tests) == 1 else {"Or": tests}, "Next": fail})
        states[fail] = {
            "Type": "Fail",
            "Error": INVALID_PARAMETERS,
            "Cause": f"parameter '{name}' must be an S3 URI under "
            + " or ".join(prefixes)
            + " (the pipeline's data sources, which its steps may read)",
        }
    return {"Type": "Choice", "Choices": rules, "Default": next_state}


# -- the construct ------------------------------------------------------------------


@jsii.implements(IStableStringProducer)
class _LazyDefinition:
    def __init__(self, pipeline: ProcessingPipeline) -> None:
        self._pipeline = pipeline

    def produce(self) -> str:
        return Stack.of(self._pipeline).to_json_string(self._pipeline.render_definition())


def _reference_problem(pipeline: object, ref: OutputRef | ValueRef, where: str) -> str | None:
    if ref.step.pipeline is not pipeline:
        return f"{where} refers to step {ref.step.step_name!r} of another pipeline"
    return None


class ProcessingPipeline(Construct):
    """A typed SageMaker Processing pipeline run by a Step Functions state machine.

    Declare typed ``params``, then add steps with :meth:`add_step`. The state machine
    (``state_machine``) merges defaults into the execution input, validates every
    parameter before the first job, hands data between steps through per-execution S3
    prefixes of ``storage`` and reads values returned by containers back into its state.

    :param storage: the channel bucket; its run prefix ``<pipeline_name>/`` gets a
        lifecycle expiry.
    :param image: the container image every step runs unless ``add_step`` overrides it.
    :param params: the execution-input parameters.
    :param pipeline_name: the S3 prefix and job-name prefix; defaults to the construct id.
    :param data_sources: where parameter-supplied input URIs may point; by default the
        ``data/`` prefix of ``storage``.
    :param vpc: run jobs in this VPC (private subnets by default, a security group with
        no inbound rules is created unless ``security_groups`` is given).
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
        name = construct_id if pipeline_name is None else pipeline_name
        problems = []
        if not isinstance(name, str) or not PIPELINE_NAME.match(name):
            problems.append(
                f"pipeline_name must match {PIPELINE_NAME.pattern}, got {name!r}"
                + (" (the construct id; pass pipeline_name)" if pipeline_name is None else "")
            )
        if not isinstance(storage, ChannelBucket):
            problems.append(f"storage must be a ChannelBucket, got {storage!r}")
        if not isinstance(image, ProcessingImage):
            problems.append(f"image must be a ProcessingImage, got {image!r}")
        if security_groups is not None and vpc is None:
            problems.append("security_groups needs vpc")
        if vpc_subnets is not None and vpc is None:
            problems.append("vpc_subnets needs vpc")
        problems += _tag_problems(tags or {})
        sources = (
            tuple(data_sources)
            if data_sources is not None
            else (DataSource(storage.bucket, "data/"),)
            if isinstance(storage, ChannelBucket)
            else ()
        )
        if isinstance(name, str) and isinstance(storage, ChannelBucket):
            problems += _data_source_problems(sources, storage, f"{name}/")
            if f"{name}/" in storage.run_prefixes:
                problems.append(
                    f"pipeline_name {name!r} is already used with this storage (its runs live "
                    f"under '{name}/'); give each pipeline its own pipeline_name"
                )
        machine_name = _state_machine_name(scope, name) if isinstance(name, str) else None
        if machine_name is not None and any(
            isinstance(other, ProcessingPipeline) and other.state_machine_name == machine_name
            for other in Stack.of(scope).node.find_all()
        ):
            problems.append(
                f"the stack already has a pipeline whose state machine is named "
                f"{machine_name!r}; give each pipeline its own pipeline_name"
            )
        if problems:
            raise ValueError("ProcessingPipeline: " + "; ".join(problems))
        self._params = validate_params(params)
        super().__init__(scope, construct_id)
        self._name = name
        self._storage = storage
        self._image = image
        self._steps: dict[str, ProcessingStep] = {}
        self._data_sources = sources
        self._step_images: dict[str, ProcessingImage] = {}
        self._tags = dict(tags or {})
        self._timeout = timeout
        self._subnet_ids: list[str] = []
        self._security_group_ids: list[str] = []
        self._vpc = vpc
        if vpc is not None:
            groups = list(security_groups or [])
            if not groups:
                group = ec2.SecurityGroup(
                    self,
                    "JobSecurityGroup",
                    vpc=vpc,
                    description=f"Processing jobs of pipeline {name} (inbound from itself)",
                    allow_all_outbound=True,
                )
                # Instances of a multi-instance job talk to each other; nothing else may
                # connect (SageMaker's processing-in-VPC guidance).
                group.add_ingress_rule(
                    group, ec2.Port.all_traffic(), "between the instances of one job"
                )
                groups = [group]
            self._security_group_ids = [g.security_group_id for g in groups]
            chosen = vpc_subnets or ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
            selected = vpc.select_subnets(
                availability_zones=chosen.availability_zones,
                one_per_az=chosen.one_per_az,
                subnet_filters=chosen.subnet_filters,
                subnet_group_name=chosen.subnet_group_name,
                subnets=chosen.subnets,
                subnet_type=chosen.subnet_type,
            )
            self._subnet_ids = list(selected.subnet_ids)
        storage.add_run_prefix(f"{name}/")

        # A physical name derived from the stack and the pipeline lets the role's trust
        # name exactly this state machine (aws:SourceArn).
        self._machine_name = machine_name
        self._role = create_state_machine_role(
            self, "StateMachineRole", state_machine_name=machine_name
        )
        grant_job_events(self._role, scope=self)
        storage.grant_write(self._role, f"{name}/*/{RUN_DIR}/")
        self._log_group = logs.LogGroup(
            self,
            "Logs",
            # Under /aws/vendedlogs/states/, Step Functions needs no entry per log group in
            # the account's size-limited CloudWatch Logs resource policy; the stack id's
            # GUID keeps a retained group from blocking a redeploy of the stack.
            log_group_name=Fn.join(
                "",
                [
                    f"/aws/vendedlogs/states/{machine_name or name}-",
                    Fn.select(2, Fn.split("/", Aws.STACK_ID)),
                ],
            ),
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN,
            encryption_key=storage.key if allow_log_encryption(self, storage.key) else None,
        )
        self._state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_string(Lazy.string(_LazyDefinition(self))),
            # An immutable view: the tracing and log-delivery statements aws-cdk-lib would
            # add to the role's default policy go to a dedicated policy instead (below),
            # so the "*" they need is acknowledged on that policy alone.
            role=self._role.without_policy_updates(),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self._log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
            comment=f"constructs_sm pipeline {name}",
            state_machine_name=machine_name,
        )
        self._tracing_policy = grant_tracing_and_log_delivery(self._role)
        machine = self._state_machine.node.default_child
        assert isinstance(machine, CfnResource)
        # aws-cdk-lib makes the state machine depend on its role and the role's policies
        # (the log-delivery policy must exist before it); the role's dependency is
        # redundant with RoleArn, which cfn-lint reports (W3005). Keep every dependency.
        machine.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

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
        settings = {
            name: step.job_settings(
                image_uri=self._step_images[name].image_uri,
                kms_key_arn=key.key_arn if key is not None else None,
                subnet_ids=subnets,
                security_group_ids=groups,
                tags={
                    **self._tags,
                    "constructs-sm:pipeline": self._name,
                    "constructs-sm:step": name,
                },
            )
            for name, step in self._steps.items()
        }
        return build_definition(
            pipeline=self._name,
            bucket_name=self._storage.bucket.bucket_name,
            params=self._params,
            steps=settings,
            deps=self.dependencies(),
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
        outputs: Sequence[str] = (),
        env: Mapping[str, EnvValue] | None = None,
        returns: Mapping[str, type] | None = None,
        resources: Resources | None = None,
        arguments: Sequence[str | ParamRef] = (),
        after: Sequence[ProcessingStep] = (),
        image: ProcessingImage | None = None,
        network_isolation: bool = True,
        role: iam.IRole | None = None,
    ) -> ProcessingStep:
        """Add a processing step running the Python script ``code``.

        :param inputs: channel name to source: another step's ``output(...)``, a string
            parameter (an S3 URI within ``data_sources``), a literal ``s3://`` URI, or a
            :class:`StepInput` with explicit mode and distribution.
        :param outputs: output channel names; each is uploaded to
            ``<pipeline>/<execution>/<step>/<channel>/``.
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
            prefixes is created.
        """
        spec_inputs, spec_env, spec_returns, deps = self._validate_step(
            name, code, inputs, outputs, env, returns, resources, arguments, after, image
        )
        script = Path(code)
        step_resources = resources or Resources()
        stack_name = Stack.of(self).stack_name
        identity = self.node.path
        if not Token.is_unresolved(stack_name):  # dev and prod stacks of one app differ
            identity = f"{stack_name}:{identity}"
        job_prefix = job_name_prefix(self._name, name, identity=identity)
        clash = [s.step_name for s in self._steps.values() if s.job_prefix == job_prefix]
        if clash:  # a 32-bit hash collision: vanishingly rare, but IAM scoping relies on it
            raise ValueError(
                f"add_step({name!r}): its job-name prefix {job_prefix!r} equals step "
                f"{clash[0]!r}'s; rename the step"
            )
        spec = {
            "version": 1,
            "pipeline": self._name,
            "step": name,
            "params": {n: p.spec() for n, p in self._params.items()},
            "env": {k: self._env_spec(v) for k, v in (env or {}).items()},
            "inputs": list(spec_inputs),
            "outputs": list(outputs),
            "returns": dict(spec_returns),
        }
        step = ProcessingStep(
            self,
            name,
            pipeline_name=self._name,
            owner=self,
            script=script,
            spec=spec,
            job_prefix=job_prefix,
            inputs=spec_inputs,
            outputs=outputs,
            environment=spec_env,
            arguments=arguments,
            returns=spec_returns,
            resources=step_resources,
            depends_on=deps,
            network_isolation=network_isolation,
            role=role,
        )
        self._step_images[name] = image or self._image
        self._grant_step(step, image or self._image)
        self._steps[name] = step
        return step

    def _env_spec(self, value: EnvValue) -> dict[str, str]:
        if isinstance(value, ParamRef):
            return {"type": value.type, "source": f"param:{value.name}"}
        if isinstance(value, ValueRef):
            return {"type": value.type, "source": f"value:{value.step.step_name}.{value.name}"}
        kind = literal_type(value)
        assert kind is not None  # validated by add_step
        return {"type": kind, "source": "literal"}

    def _grant_step(self, step: ProcessingStep, image: ProcessingImage) -> None:
        role, name = step.role, self._name
        storage = self._storage
        storage.grant_read(role, f"{name}/*/{RUN_DIR}/")
        for spec in step.inputs.values():
            source = spec.source
            if isinstance(source, OutputRef):
                storage.grant_read(role, f"{name}/*/{source.key_suffix}")
            elif isinstance(source, ParamRef):
                for data in self._data_sources:
                    if data.bucket is storage.bucket:
                        storage.grant_read(role, data.prefix)
                    else:
                        _grant_bucket_read(role, data.bucket.bucket_arn, data.prefix)
            elif not Token.is_unresolved(source):
                bucket, _, key_prefix = source[len("s3://") :].partition("/")
                _grant_bucket_read(role, f"arn:{Aws.PARTITION}:s3:::{bucket}", key_prefix)
        for channel in step.outputs:
            storage.grant_write(role, f"{name}/*/{step.step_name}/{channel}/")
        if step.returns:
            storage.grant_write(role, f"{name}/*/{step.step_name}/{_rt.RETURNS_CHANNEL}/")
            storage.grant_read(self._role, f"{name}/*/{step.step_name}/{_rt.RETURNS_CHANNEL}/")
        channel_key = storage.key
        if channel_key is not None:
            # VolumeKmsKeyId: SageMaker creates a grant for the job's volume with the
            # execution role's credentials.
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:CreateGrant"],
                    resources=[channel_key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            )
        image.grant_pull(role)
        if self._vpc is not None:
            grant_vpc_access(role)
        grant_run_step(
            self._role,
            scope=self,
            job_prefix=step.job_prefix,
            execution_role=role,
            tagging=True,
        )

    def _validate_step(
        self,
        name: str,
        code: str | Path,
        inputs: Mapping[str, OutputRef | ParamRef | StepInput | str] | None,
        outputs: Sequence[str],
        env: Mapping[str, EnvValue] | None,
        returns: Mapping[str, type] | None,
        resources: Resources | None,
        arguments: Sequence[str | ParamRef],
        after: Sequence[ProcessingStep],
        image: ProcessingImage | None,
    ) -> tuple[dict[str, StepInput], dict[str, EnvValue], dict[str, ParamType], list[Any]]:
        problems: list[str] = []
        deps: list[ProcessingStep] = []

        def depend(ref_step: ProcessingStep) -> None:
            if ref_step not in deps:
                deps.append(ref_step)

        if not isinstance(name, str) or not STEP_NAME.match(name):
            problems.append(f"name must match {STEP_NAME.pattern}, got {name!r}")
        elif name in self._steps:
            problems.append(f"name {name!r} is already a step of pipeline {self._name!r}")
        script = Path(code) if isinstance(code, str | Path) else None
        if script is None:
            problems.append(f"code must be a path to a Python script, got {code!r}")
        elif not script.is_file():
            problems.append(f"code {str(code)!r} is not a file")
        elif script.suffix != ".py":
            problems.append(f"code must be a Python script (*.py), got {str(code)!r}")
        spec_inputs: dict[str, StepInput] = {}
        for channel, source in (inputs or {}).items():
            where = f"inputs[{channel!r}]"
            problems += _channel_problems(channel, where, RESERVED_INPUTS)
            spec = source if isinstance(source, StepInput) else None
            if spec is None:
                if not isinstance(source, OutputRef | ParamRef | str):
                    problems.append(
                        f"{where} must be a step output, a param, an s3:// URI or a "
                        f"StepInput, got {source!r}"
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
        if isinstance(outputs, str) or not isinstance(outputs, Sequence):
            problems.append(f"outputs must be a list of channel names, got {outputs!r}")
            outputs = ()
        for channel in outputs:
            problems += _channel_problems(channel, f"outputs entry {channel!r}", RESERVED_OUTPUTS)
        duplicates = sorted({c for c in outputs if list(outputs).count(c) > 1})
        if duplicates:
            problems.append(f"outputs has duplicate channels: {', '.join(duplicates)}")
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
        out_count = len(outputs) + (1 if spec_returns else 0)
        if out_count > MAX_CHANNELS:
            problems.append(
                f"outputs has {len(outputs)} channels"
                + (" plus the returns channel" if spec_returns else "")
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
                problem = _reference_problem(self, value, where)
                if problem:
                    problems.append(problem)
                else:
                    depend(value.step)
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
                    f"got {value!r} ({type(value).__name__})"
                )
                continue
            spec_env[key] = value
        if len(env or {}) + _OWN_ENV > MAX_ENV:
            problems.append(
                f"env has {len(env or {})} entries; at most {MAX_ENV - _OWN_ENV} are "
                f"allowed (a job has at most {MAX_ENV}, {_OWN_ENV} are the pipeline's)"
            )
        if resources is not None and not isinstance(resources, Resources):
            problems.append(f"resources must be a Resources, got {resources!r}")
        if isinstance(arguments, str) or not isinstance(arguments, Sequence):
            problems.append(f"arguments must be a list, got {arguments!r}")
        else:
            if len(arguments) > 100:
                problems.append(f"arguments has {len(arguments)} items; at most 100 are allowed")
            for position, argument in enumerate(arguments):
                if isinstance(argument, ParamRef):
                    problems += self._param_problems(argument, f"arguments[{position}]")
                elif not isinstance(argument, str):
                    problems.append(
                        f"arguments[{position}] must be a str or param, got {argument!r}"
                    )
                elif not Token.is_unresolved(argument) and not 1 <= len(argument) <= 256:
                    problems.append(
                        f"arguments[{position}] must be 1 to 256 characters, got {len(argument)}"
                    )
        for position, other in enumerate(after):
            if not isinstance(other, ProcessingStep) or other.pipeline is not self:
                problems.append(f"after[{position}] must be a step of this pipeline, got {other!r}")
            else:
                depend(other)
        if image is not None and not isinstance(image, ProcessingImage):
            problems.append(f"image must be a ProcessingImage, got {image!r}")
        if problems:
            raise ValueError(f"add_step({name!r}): " + "; ".join(problems))
        return spec_inputs, spec_env, spec_returns, deps

    def _param_problems(self, ref: ParamRef, where: str) -> list[str]:
        if self._params.get(ref.name) is not ref.param:
            return [f"{where} refers to param {ref.name!r}, which is not declared by this pipeline"]
        return []

    def _source_problems(self, source: object, where: str, depend: Any) -> list[str]:
        if isinstance(source, OutputRef):
            problem = _reference_problem(self, source, where)
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
                    f"characters with a valid bucket name, got {source!r}"
                ]
            return []
        return [f"{where} has an unsupported source {source!r}"]


#: SageMaker tag keys and values: letters, digits, spaces and _ . : / = + - @.
_TAG_TEXT: Final = re.compile(r"^[\w\s.:/=+\-@]*$")
#: A job has at most 50 tags; the pipeline adds two of its own.
_MAX_TAGS: Final = 48


def _state_machine_name(scope: Construct, pipeline_name: str) -> str | None:
    """``<stack name>-<pipeline>`` (at most 80 characters), or None when the name is a token.

    Longer names keep their start and end with a hash of the whole, so they stay unique.
    """
    stack_name = Stack.of(scope).stack_name
    if Token.is_unresolved(stack_name):
        return None
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{stack_name}-{pipeline_name}")
    if len(name) <= 80:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:71]}-{digest}"


def _tag_problems(tags: Mapping[str, str]) -> list[str]:
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
            or not _TAG_TEXT.match(key)
            or not _TAG_TEXT.match(value)
        ):
            problems.append(
                f"tag {key!r} is invalid: keys are 1-128 characters not starting with "
                "'aws:', values at most 256, both letters, digits, spaces and _.:/=+-@"
            )
    return problems


def _data_source_problems(
    sources: Sequence[DataSource], storage: ChannelBucket, run_prefix: str
) -> list[str]:
    problems = []
    for index, source in enumerate(sources):
        where = f"data_sources[{index}]"
        if not isinstance(source, DataSource):
            problems.append(f"{where} must be a DataSource, got {source!r}")
            continue
        prefix = source.prefix
        if Token.is_unresolved(prefix):
            continue
        if not prefix or not prefix.endswith("/") or prefix.startswith("/") or "*" in prefix:
            problems.append(
                f"{where}.prefix must be a key prefix ending with '/' (e.g. 'data/'), "
                f"got {prefix!r}: steps may read everything under it"
            )
        elif source.bucket is storage.bucket and (
            prefix.startswith(run_prefix) or run_prefix.startswith(prefix)
        ):
            problems.append(
                f"{where}.prefix {prefix!r} overlaps the pipeline's run prefix "
                f"{run_prefix!r}, whose data expires; choose another pipeline_name or prefix"
            )
    return problems


def _channel_problems(channel: object, where: str, reserved: frozenset[str]) -> list[str]:
    if not isinstance(channel, str) or not CHANNEL_NAME.match(channel):
        return [f"{where}: channel names must match {CHANNEL_NAME.pattern}, got {channel!r}"]
    if channel in reserved:
        return [f"{where}: channel {channel!r} is reserved ({', '.join(sorted(reserved))})"]
    return []


def _grant_bucket_read(role: iam.IRole, bucket_arn: str, prefix: str) -> None:
    """Read access below ``prefix`` of a bucket that is not the channel bucket."""
    grant_prefix_read(role, bucket_arn, prefix)
    acknowledge_wildcards(
        role,
        [f"{bucket_arn}/{prefix}*"],
        f"Input data is read from the data source prefix {prefix!r} only; IAM scopes a "
        "prefix with a trailing '*'.",
    )

"""Least-privilege IAM roles: one execution role per step, one for the state machine.

What scales with the number of steps is one role per step: its trust (SageMaker, only for
that step's jobs) and an inline policy with exactly its channels (constructs_sm.grants).
Everything the steps share lives once per pipeline: a managed policy attached to every
step role (logs, metrics, the code object, the channel key, image pulls and, in a VPC, the
network interfaces) and the state machine's statements, which cover all the pipeline's
jobs by their name prefix and all its step roles by their IAM path. Trust policies carry
confused-deputy conditions (``aws:SourceAccount`` and ``aws:SourceArn``); ``iam:PassRole``
carries ``iam:PassedToService``. ``"*"`` appears only where the service requires it,
each with a comment and an acknowledgment of that finding alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Aws, CfnResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_sm.job_logs import PROCESSING_LOG_GROUP
from constructs_sm.nag.acknowledge import (
    INLINE_POLICY_FINDINGS,
    acknowledge,
    acknowledge_wildcards,
    skip_checkov,
)

SAGEMAKER: str = "sagemaker.amazonaws.com"
STATES: str = "states.amazonaws.com"
#: The EventBridge rule Step Functions manages to learn when a processing job ends.
PROCESSING_EVENTS_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
#: Pulling an image from ECR (the authorization token needs Resource "*").
ECR_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
)
#: SageMaker creates a job's network interfaces in a VPC with the execution role.
_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)

INLINE_POLICY_REASON = (
    "The role's permissions are an inline policy generated for this one role from the "
    "exact prefixes, jobs and image it uses; a customer managed policy would be a "
    "separately attachable copy of the same statements (and is limited to 6,144 "
    "characters, an inline policy to 10,240)."
)


@dataclass(frozen=True)
class Arns:
    """ARNs of one stack's account, region and partition (tokens, fetched once)."""

    partition: str
    region: str
    account: str

    @classmethod
    def of(cls, scope: Construct) -> Arns:
        return cls(Aws.PARTITION, Aws.REGION, Aws.ACCOUNT_ID)

    def processing_jobs(self, prefix: str) -> str:
        """The processing jobs whose names start with ``<prefix>-``."""
        return (
            f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:processing-job/{prefix}-*"
        )

    def log_group(self) -> str:
        """SageMaker Processing's log group."""
        return (
            f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:"
            f"{PROCESSING_LOG_GROUP}"
        )

    def roles_under(self, path: str) -> str:
        """Every role whose IAM path is ``path`` (``/constructs-sm/<hash>/``)."""
        return f"arn:{self.partition}:iam::{self.account}:role{path}*"


def attach_wildcard_policy(
    role: iam.IRole,
    construct_id: str,
    statement: iam.PolicyStatement,
    reason: str,
    *,
    checkov: Mapping[str, str] | None = None,
) -> iam.Policy | None:
    """Attach a statement that needs ``Resource: "*"`` as a dedicated policy of its own.

    The ``AwsSolutions-IAM5[Resource::*]`` finding is acknowledged on that policy only,
    never on the role: a ``"*"`` grant added to the role later is still reported. The
    policy is created once per role and ``construct_id`` (under the role's node).
    """
    if not isinstance(role, Construct) or role.node.try_find_child(construct_id) is not None:
        return None
    policy = iam.Policy(role, construct_id, roles=[role], statements=[statement])
    acknowledge(policy, ["AwsSolutions-IAM5[Resource::*]"], reason)
    if checkov:
        skip_checkov(policy, checkov)
    return policy


def _confused_deputy(account: str, source_arn: str) -> dict[str, dict[str, str]]:
    return {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": source_arn},
    }


def create_step_role(
    scope: Construct,
    construct_id: str,
    *,
    arns: Arns,
    job_prefix: str,
    path: str,
    channels: Mapping[str, Any],
    shared: iam.IManagedPolicy,
    description: str,
) -> iam.Role:
    """An execution role SageMaker assumes for this step's jobs only.

    ``channels`` is the inline policy document of the step's S3 access
    (constructs_sm.grants); ``shared`` the pipeline's managed policy with what every step
    needs. The role lives under the pipeline's IAM ``path``, by which the state machine
    may pass it (and only its siblings) to SageMaker. Its inline policy's findings are
    acknowledged once for the whole pipeline (the caller's job).
    """
    principal = iam.ServicePrincipal(
        SAGEMAKER, conditions=_confused_deputy(arns.account, arns.processing_jobs(job_prefix))
    )
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=principal,
        description=description,
        path=path,
        inline_policies={"Channels": iam.PolicyDocument.from_json(channels)},
        managed_policies=[shared],
    )
    resource = name_trust(role, "SageMakerRunsThisStepsJobs")
    # On the role's resource alone: a policy the app attaches to the role later (a grant
    # to step.role) is still reported.
    acknowledge(resource, INLINE_POLICY_FINDINGS, INLINE_POLICY_REASON)
    return role


def name_trust(role: iam.Role, sid: str) -> CfnResource:
    """Give the role's one trust statement (which aws-cdk-lib writes without one) a
    ``Sid``; the role's resource."""
    resource = role.node.default_child
    assert isinstance(resource, CfnResource)
    resource.add_property_override("AssumeRolePolicyDocument.Statement.0.Sid", sid)
    return resource


@dataclass(frozen=True)
class SharedAccess:
    """What every step of a pipeline may do, as one managed policy."""

    job_prefix: str
    key_arn: str | None
    code_object_arn: str
    code_bucket_arn: str
    code_key: str
    repository_arns: tuple[str, ...]
    in_vpc: bool


def fill_steps_policy(policy: iam.ManagedPolicy, *, arns: Arns, access: SharedAccess) -> None:
    """The statements of the managed policy every step role of a pipeline carries (see
    :class:`SharedAccess`), with the acknowledgments of their findings.

    ``"*"`` only for the actions that support no resource: the ECR authorization token,
    metrics (narrowed by namespace) and, in a VPC, the network interfaces SageMaker
    creates for the job.
    """
    log_group = arns.log_group()
    streams = f"{log_group}:log-stream:{access.job_prefix}-*"
    statements = [
        iam.PolicyStatement(
            sid="WriteJobLogStreams",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[streams],
        ),
        iam.PolicyStatement(
            sid="CreateJobLogGroup",
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            resources=[f"{log_group}:*"],
        ),
        iam.PolicyStatement(
            sid="ReadCodeBundle", actions=["s3:GetObject"], resources=[access.code_object_arn]
        ),
        iam.PolicyStatement(
            sid="ListCodeBundle",
            actions=["s3:ListBucket"],
            resources=[access.code_bucket_arn],
            conditions={"StringEquals": {"s3:prefix": [access.code_key]}},
        ),
        iam.PolicyStatement(
            sid="PullStepImages",
            actions=list(ECR_PULL_ACTIONS),
            resources=list(access.repository_arns),
        ),
        # ecr:GetAuthorizationToken supports no resource-level permission: IAM requires
        # Resource "*". The token alone grants no access to any repository.
        iam.PolicyStatement(
            sid="EcrAuthorizationToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]
        ),
        # PutMetricData has no resource type: "*" is required, narrowed by namespace.
        iam.PolicyStatement(
            sid="PutJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": PROCESSING_LOG_GROUP}},
        ),
    ]
    if access.key_arn is not None:
        statements += [
            # Reading and writing channel data encrypted with the channel key (multipart
            # uploads need kms:Decrypt; SageMaker asks for kms:Encrypt with KmsKeyId).
            iam.PolicyStatement(
                sid="UseChannelKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[access.key_arn],
            ),
            # VolumeKmsKeyId: SageMaker creates a grant for the job's volume with the
            # execution role's credentials.
            iam.PolicyStatement(
                sid="EncryptJobVolumes",
                actions=["kms:CreateGrant"],
                resources=[access.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
        ]
    if access.in_vpc:
        # The EC2 network-interface and Describe* actions support no resource-level
        # scoping at creation time: "*" is required by the service.
        statements.append(
            iam.PolicyStatement(
                sid="JobNetworkInterfaces", actions=list(_ENI_ACTIONS), resources=["*"]
            )
        )
    policy.add_statements(*statements)
    acknowledge(
        policy,
        ["AwsSolutions-IAM5[Resource::*]"],
        "ecr:GetAuthorizationToken and cloudwatch:PutMetricData (restricted by the "
        "cloudwatch:namespace condition), and in a VPC the EC2 network-interface actions "
        "SageMaker uses for the job, support no resource-level permission (IAM requires "
        "Resource '*').",
    )
    acknowledge_wildcards(
        policy,
        [streams],
        "SageMaker names a job's log streams <job name>/<host>-<timestamp>; the job names "
        f"of this pipeline start with '{access.job_prefix}-', so the streams are scoped by "
        "that prefix.",
    )
    acknowledge_wildcards(
        policy,
        [f"{log_group}:*"],
        "logs:CreateLogGroup and logs:DescribeLogStreams act on the log group "
        f"{PROCESSING_LOG_GROUP} that SageMaker Processing writes to; the ARN of a log group "
        "ends in ':*' in IAM.",
    )
    if access.in_vpc:
        reason = (
            "SageMaker creates the job's network interfaces in the pipeline's VPC, and the "
            "permissions to attach them, with the execution role; these EC2 actions take "
            "Resource '*'. The roles can only be assumed by SageMaker for this pipeline's "
            "jobs (aws:SourceAccount, aws:SourceArn)."
        )
        skip_checkov(policy, {"CKV_AWS_109": reason, "CKV_AWS_111": reason})


def grant_tracing_and_log_delivery(role: iam.IRole) -> iam.Policy | None:
    """X-Ray tracing and execution logging of a state machine (a policy of its own).

    The same actions aws-cdk-lib's StateMachine adds when tracing and logging are on;
    the pipeline hands the StateMachine an immutable view of its role, so they land here
    instead of the role's default policy.
    """
    return attach_wildcard_policy(
        role,
        "TracingAndLogDeliveryPolicy",
        iam.PolicyStatement(
            sid="TracingAndExecutionLogDelivery",
            actions=[
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            ],
            resources=["*"],
        ),
        "The state machine's X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, "
        "GetSamplingRules, GetSamplingTargets) and execution logging through CloudWatch "
        "Logs log deliveries (logs:CreateLogDelivery, ..., DescribeLogGroups) support no "
        "resource-level permission: IAM requires Resource '*' for them.",
    )


def acknowledge_machine_policies(role: iam.IRole, tracing: iam.Policy | None) -> None:
    """The inline-policy findings of the state machine role's policies, each on its own
    resource: its default policy (every grant the pipeline makes it; one of the app's
    lands there too, adding no resource) and its tracing policy."""
    for policy in (role.node.try_find_child("DefaultPolicy"), tracing):
        if policy is not None:
            acknowledge(policy, INLINE_POLICY_FINDINGS, INLINE_POLICY_REASON)


def create_state_machine_role(
    scope: Construct, construct_id: str, *, state_machine_name: str | None
) -> iam.Role:
    """The role Step Functions assumes, trusted only from the pipeline's state machine.

    With ``state_machine_name`` the trust's ``aws:SourceArn`` is that state machine's
    ARN; without it (a name that is a token) any state machine of this account and
    region.
    """
    stack = Stack.of(scope)
    state_machines = stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name or "*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    principal = iam.ServicePrincipal(STATES).with_conditions(
        _confused_deputy(Aws.ACCOUNT_ID, state_machines)
    )
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=principal,
        description="Runs the pipeline's SageMaker processing jobs",
    )
    name_trust(role, "StepFunctionsRunsThisStateMachine")
    return role


def grant_run_jobs(
    role: iam.IRole, *, arns: Arns, job_prefix: str, role_path: str, tagging: bool = True
) -> None:
    """Let the state machine create, watch and stop the pipeline's jobs and pass its step
    roles: one statement for every job (by name prefix) and one for every step role (by
    IAM path), whatever the number of steps."""
    actions = [
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    ]
    if tagging:
        actions += ["sagemaker:AddTags", "sagemaker:ListTags"]
    jobs = arns.processing_jobs(job_prefix)
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="RunPipelineJobs", actions=actions, resources=[jobs])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="WatchJobsForSyncTasks",
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[
                f"arn:{arns.partition}:events:{arns.region}:{arns.account}:rule/"
                f"{PROCESSING_EVENTS_RULE}"
            ],
        )
    )
    step_roles = arns.roles_under(role_path)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PassStepRolesToSageMaker",
            actions=["iam:PassRole"],
            resources=[step_roles],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
        )
    )
    acknowledge_wildcards(
        role,
        [jobs],
        f"Every job of this pipeline is named '{job_prefix}-<step>-<hash of execution, "
        "step, entry time and retry count>', unknown until run time: the processing-job "
        "ARNs are scoped by that prefix.",
    )
    acknowledge_wildcards(
        role,
        [step_roles],
        f"The pipeline's step roles, and only they, live under the IAM path {role_path}; "
        "the state machine may pass them to SageMaker (iam:PassedToService) only.",
    )


def grant_map_runs(role: iam.IRole, *, arns: Arns, state_machine_name: str | None) -> None:
    """Let the state machine run its fan-out steps' child executions (Distributed Map):
    start executions of itself, describe, stop and redrive them
    (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).

    Without a name (a stack whose name is a token) the ARNs cover the account's state
    machines of the region.
    """
    name = state_machine_name or "*"
    base = f"arn:{arns.partition}:states:{arns.region}:{arns.account}"
    machine = f"{base}:stateMachine:{name}"
    # A Distributed Map's child executions: execution:<machine>/<map run label>:<id>.
    children = f"{base}:execution:{name}/*"
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="StartItemExecutions", actions=["states:StartExecution"], resources=[machine]
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="WatchItemExecutions",
            actions=[
                "states:DescribeExecution",
                "states:StopExecution",
                "states:RedriveExecution",
            ],
            resources=[children],
        )
    )
    acknowledge_wildcards(
        role,
        [children, machine],
        "A fan-out step's items run as child executions of this state machine, named by "
        "Step Functions at run time (execution:<state machine>/<map run>:<id>): the ARNs are "
        "scoped to this state machine's own executions.",
    )


def allow_log_encryption(scope: Construct, key: kms.IKey | None) -> bool:
    """Let CloudWatch Logs encrypt this account's log groups in this region with ``key``.

    Adds a key policy statement for ``logs.<region>.amazonaws.com``, limited by the
    encryption context to log groups of this account and region (a log group's own ARN
    would make the key and the log group depend on each other). Returns False when the
    policy cannot be changed here (an imported key, or none): the log group then stays
    encrypted by CloudWatch Logs' own key, and the compliance packs report it.
    """
    if key is None:
        return False
    log_groups = Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    result = key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryption",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )
    return result.statement_added


def pass_given_role(
    role: iam.IRole, execution_role: iam.IRole, statement: iam.PolicyStatement | None
) -> iam.PolicyStatement:
    """PassRole for a role the app passed in for a step (outside the pipeline's IAM path).

    One statement per pipeline, ``PassRolesGivenForSteps``, names each such role once,
    however many steps it runs: a statement per step would grow the state machine's
    policy past IAM's 10,240 characters per role at about 50 steps sharing one role.
    Pass ``statement`` (None for the pipeline's first) and keep what is returned.
    """
    arn = execution_role.role_arn
    if statement is None:
        statement = iam.PolicyStatement(
            sid="PassRolesGivenForSteps",
            actions=["iam:PassRole"],
            resources=[arn],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
        )
        role.add_to_principal_policy(statement)
    elif arn not in statement.resources:
        statement.add_resources(arn)
    return statement


def repository_arns(arns: Sequence[str]) -> tuple[str, ...]:
    """Distinct repository ARNs, in order."""
    return tuple(dict.fromkeys(arns))

"""Least-privilege IAM roles: one execution role per step, one for the state machine.

Trust policies carry confused-deputy conditions (``aws:SourceAccount`` and
``aws:SourceArn``); ``iam:PassRole`` carries ``iam:PassedToService``; resources are
scoped to the pipeline's job-name prefixes, log streams and S3 prefixes. ``"*"``
appears only where the service requires it, each with a comment. Grants whose resource
ends in a wildcard go to a policy of their own (:func:`prefix_scoped`), and so do
``"*"`` grants (:func:`attach_wildcard_policy`): their acknowledgments never cover a
statement added to the role by someone else.
"""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

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
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def processing_job_arn(scope: Construct, job_prefix: str) -> str:
    """ARN pattern of the processing jobs whose names start with ``job_prefix``."""
    return Stack.of(scope).format_arn(
        service="sagemaker", resource="processing-job", resource_name=f"{job_prefix}-*"
    )


_INLINE_POLICY_REASON = (
    "The role's permissions are an inline policy generated for this one role from the "
    "exact prefixes, jobs and image it uses; a customer managed policy would be a "
    "separately attachable copy of the same statements (and is limited to 6,144 "
    "characters, an inline policy to 10,240)."
)


def acknowledge_inline_policy(role: iam.IRole) -> None:
    """Acknowledge the compliance packs' inline-policy findings on a role we grant to."""
    if isinstance(role, Construct):
        acknowledge(role, INLINE_POLICY_FINDINGS, _INLINE_POLICY_REASON)


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
    policy is created once per role and ``construct_id`` (under the role's node); the
    inline-policy findings of a role we create are acknowledged on the role itself.
    """
    if not isinstance(role, Construct) or role.node.try_find_child(construct_id) is not None:
        return None
    policy = iam.Policy(role, construct_id, roles=[role], statements=[statement])
    acknowledge(policy, ["AwsSolutions-IAM5[Resource::*]"], reason)
    if checkov:
        skip_checkov(policy, checkov)
    return policy


#: The id of the policy (under the role) that holds a role's prefix-scoped grants.
PREFIX_SCOPED_POLICY = "PrefixScopedPolicy"


@jsii.implements(iam.IPrincipal)
class _PolicyPrincipal:
    """A role whose grants land in one policy of its own, not in its default policy."""

    def __init__(self, role: iam.Role, policy: iam.Policy) -> None:
        self._role = role
        self._policy = policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def assume_role_action(self) -> str:
        return self._role.assume_role_action

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._role.policy_fragment

    @property
    def principal_account(self) -> str | None:
        return self._role.principal_account

    def add_to_principal_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToPrincipalPolicyResult:
        self._policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._policy)


def prefix_scoped(grantee: iam.IGrantable) -> tuple[iam.IGrantable, iam.Policy | None]:
    """Where the constructs grant a statement whose resource ends in a prefix and ``*``,
    and where they acknowledge its ``AwsSolutions-IAM5`` finding.

    cdk-nag's finding ids are per resource, not per action, and an acknowledgment covers
    every statement under the construct it is on. So for a role of the app
    (``iam.Role``) the statements go to its policy ``PrefixScopedPolicy`` (created once,
    under the role) and the acknowledgments on that policy: a statement added to the
    role later (its default policy) on the same resource, e.g. ``s3:DeleteObject`` on a
    handoff prefix, is still reported. Returns ``(grantee to grant to, policy)``; for any
    other grantee ``(grantee, None)``: it is granted as usual and nothing is acknowledged.
    """
    role = grantee.grant_principal
    if not isinstance(role, iam.Role):
        return grantee, None
    policy = role.node.try_find_child(PREFIX_SCOPED_POLICY)
    if not isinstance(policy, iam.Policy):
        policy = iam.Policy(role, PREFIX_SCOPED_POLICY, roles=[role])
    return _PolicyPrincipal(role, policy), policy


def _confused_deputy(source_arn: str) -> dict[str, dict[str, str]]:
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": source_arn},
    }


def create_step_role(
    scope: Construct, construct_id: str, *, job_prefix: str, description: str
) -> iam.Role:
    """An execution role SageMaker assumes for this step's jobs only.

    It may write the step's logs and metrics; S3, KMS and ECR access are added by the
    pipeline for exactly the prefixes and image the step uses.
    """
    stack = Stack.of(scope)
    principal = iam.ServicePrincipal(SAGEMAKER).with_conditions(
        _confused_deputy(processing_job_arn(scope, job_prefix))
    )
    role = iam.Role(scope, construct_id, assumed_by=principal, description=description)
    log_group = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=PROCESSING_LOG_GROUP,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    scoped, policy = prefix_scoped(role)
    scoped.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            sid="JobLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group}:log-stream:{job_prefix}-*"],
        )
    )
    scoped.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            sid="JobLogGroup",
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            resources=[f"{log_group}:*"],
        )
    )
    attach_wildcard_policy(
        role,
        "MetricsPolicy",
        iam.PolicyStatement(
            # PutMetricData has no resource type: "*" is required, narrowed by namespace.
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/ProcessingJobs"}},
        ),
        "cloudwatch:PutMetricData supports no resource-level permission (IAM requires "
        "Resource '*'); it is restricted by the condition cloudwatch:namespace "
        "/aws/sagemaker/ProcessingJobs.",
    )
    acknowledge_wildcards(
        policy,
        [f"{log_group}:log-stream:{job_prefix}-*"],
        "SageMaker names a job's log streams <job name>/<host>-<timestamp>; the job names "
        f"of this step start with '{job_prefix}-', so the streams are scoped by that prefix.",
    )
    acknowledge_wildcards(
        policy,
        [f"{log_group}:*"],
        "logs:CreateLogGroup and logs:DescribeLogStreams act on the log group "
        f"{PROCESSING_LOG_GROUP} that SageMaker Processing writes to; the ARN of a log group "
        "ends in ':*' in IAM.",
    )
    acknowledge_inline_policy(role)
    return role


def grant_vpc_access(role: iam.IRole) -> None:
    """What SageMaker needs to attach a job to the pipeline's VPC (a policy of its own)."""
    checkov_reason = (
        "SageMaker creates the job's network interfaces in the pipeline's VPC, and the "
        "permissions to attach them, with the execution role; these EC2 actions take "
        "Resource '*'. The role can only be assumed by SageMaker for this step's jobs "
        "(aws:SourceAccount, aws:SourceArn)."
    )
    attach_wildcard_policy(
        role,
        "NetworkInterfacesPolicy",
        iam.PolicyStatement(
            # The EC2 network-interface and Describe* actions support no resource-level
            # scoping at creation time: "*" is required by the service.
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            resources=["*"],
        ),
        "SageMaker creates and deletes the job's network interfaces in the pipeline's VPC "
        "with the execution role: the EC2 network-interface and Describe* actions support "
        "no resource-level scoping at creation time (IAM requires Resource '*').",
        checkov={"CKV_AWS_109": checkov_reason, "CKV_AWS_111": checkov_reason},
    )


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
    principal = iam.ServicePrincipal(STATES).with_conditions(_confused_deputy(state_machines))
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=principal,
        description="Runs the pipeline's SageMaker processing jobs",
    )
    acknowledge_inline_policy(role)
    return role


def grant_job_events(role: iam.IRole, *, scope: Construct) -> None:
    """Let ``.sync`` tasks manage the EventBridge rule that reports processing-job ends."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[
                Stack.of(scope).format_arn(
                    service="events", resource="rule", resource_name=PROCESSING_EVENTS_RULE
                )
            ],
        )
    )


def grant_run_step(
    role: iam.IRole,
    *,
    scope: Construct,
    job_prefix: str,
    execution_role: iam.IRole,
    tagging: bool,
) -> None:
    """Let the state machine create, watch and stop one step's jobs and pass its role."""
    actions = [
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    ]
    if tagging:
        actions += ["sagemaker:AddTags", "sagemaker:ListTags"]
    scoped, policy = prefix_scoped(role)
    scoped.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=actions, resources=[processing_job_arn(scope, job_prefix)])
    )
    acknowledge_wildcards(
        policy,
        [processing_job_arn(scope, job_prefix)],
        f"Every job of this step is named '{job_prefix}-<hash of execution, step, entry time "
        "and retry count>', unknown until run time: the processing-job ARNs are scoped by "
        "that prefix.",
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}},
        )
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

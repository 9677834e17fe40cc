"""Watching a pipeline: its metrics, an alarm on failed runs, and the stack outputs.

Where do ``pipeline.metric_failed()``, ``pipeline.alarm_on_failure()`` and the stack
outputs come from? Here: :class:`PipelineObservability` is mixed into
:class:`~constructs_sm.ProcessingPipeline`.

* Metrics are the state machine's, in the ``AWS/States`` namespace with the dimension
  ``StateMachineArn`` (aws-cdk-lib's ``StateMachine.metric_*``, which this delegates to):
  ``ExecutionsFailed``, ``ExecutionsSucceeded``, ``ExecutionsTimedOut``,
  ``ExecutionsAborted`` (sums) and ``ExecutionTime`` (milliseconds, average). Options are
  those of CDK's own metric methods.
* :meth:`~PipelineObservability.alarm_on_failure` is one alarm on the math expression
  ``FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0) >= 1`` over 5 minutes (a period
  with no execution is not a failure), notifying an SNS topic. Without a topic the
  pipeline creates one, encrypted with a rotating KMS key of its own whose policy lets
  CloudWatch alarms use it (an AWS managed ``aws/sns`` key would refuse them:
  https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns), TLS-only, and whose
  policy lets only this alarm publish
  (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger).
* :func:`add_outputs` writes three ``CfnOutput`` per pipeline, ids ``StateMachineArn``,
  ``ChannelBucketName`` and ``HandoffRoot`` under the pipeline's construct (their
  logical ids follow its path: stable across synths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_sm.policies import key_administration_policy

if TYPE_CHECKING:
    # Loaded when an alarm is made (:meth:`PipelineObservability.alarm_on_failure`), not
    # by every synth: aws_cloudwatch with its actions and aws_sns take 0.1 s to import.
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_stepfunctions as sfn

    from constructs_sm.storage import ChannelBucket

#: The window the failure alarm sums executions over.
ALARM_PERIOD: Final = Duration.minutes(5)


class PipelineObservability:
    """Metrics and the failure alarm of a pipeline's state machine (a mixin: the class
    using it provides ``state_machine``, ``pipeline_name`` and is a ``Construct``)."""

    _failure_alarm: cloudwatch.Alarm | None = None
    _alarm_topic: sns.Topic | None = None
    _alarm_topics: tuple[str, ...] = ()

    @property
    def state_machine(self) -> sfn.StateMachine:
        raise NotImplementedError

    @property
    def pipeline_name(self) -> str:
        raise NotImplementedError

    # -- metrics ---------------------------------------------------------------------------
    def metric_failed(self, **options: Any) -> cloudwatch.Metric:
        """Executions that failed (``ExecutionsFailed``, sum over 5 minutes by default).

        :param options: as CDK's ``StateMachine.metric_failed``: ``period``,
            ``statistic``, ``label``, ``unit``, ``color``, ``account``, ``region``...
        """
        return self.state_machine.metric_failed(**options)

    def metric_succeeded(self, **options: Any) -> cloudwatch.Metric:
        """Executions that succeeded (``ExecutionsSucceeded``, sum over 5 minutes)."""
        return self.state_machine.metric_succeeded(**options)

    def metric_timed_out(self, **options: Any) -> cloudwatch.Metric:
        """Executions that reached the pipeline's ``timeout`` (``ExecutionsTimedOut``)."""
        return self.state_machine.metric_timed_out(**options)

    def metric_aborted(self, **options: Any) -> cloudwatch.Metric:
        """Executions that were stopped (``ExecutionsAborted``, sum over 5 minutes)."""
        return self.state_machine.metric_aborted(**options)

    def metric_duration(self, **options: Any) -> cloudwatch.Metric:
        """How long executions take (``ExecutionTime`` in milliseconds, average over 5
        minutes; pass ``statistic="p90"`` or ``"Maximum"`` for others)."""
        return self.state_machine.metric_time(**options)

    # -- alarm -----------------------------------------------------------------------------
    @property
    def alarm_topic(self) -> sns.Topic | None:
        """The topic :meth:`alarm_on_failure` created (None until then, or when it was
        given one): subscribe to it, e.g. ``topic.add_subscription(...)``."""
        return self._alarm_topic

    def alarm_on_failure(self, topic: sns.ITopic | None = None) -> cloudwatch.Alarm:
        """An alarm when executions fail, time out or are aborted, notifying ``topic``.

        One alarm per pipeline, on ``failed + timed out + aborted >= 1`` within 5 minutes;
        calling again adds the new topic as another action and returns the same alarm.

        :param topic: where the alarm notifies; by default a topic is created, encrypted
            with a rotating KMS key of its own, TLS-only, which only this alarm may
            publish to (:attr:`alarm_topic`).
        """
        from aws_cdk import aws_cloudwatch as cloudwatch
        from aws_cdk import aws_cloudwatch_actions as actions

        scope = self._as_construct()
        alarm = self._failure_alarm
        if alarm is None:
            failures = cloudwatch.MathExpression(
                expression="FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)",
                using_metrics={
                    "failed": self.metric_failed(period=ALARM_PERIOD),
                    "timed_out": self.metric_timed_out(period=ALARM_PERIOD),
                    "aborted": self.metric_aborted(period=ALARM_PERIOD),
                },
                label="Failed, timed-out and aborted executions",
                period=ALARM_PERIOD,
            )
            alarm = failures.create_alarm(
                scope,
                "FailureAlarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=(
                    f"Executions of pipeline {self.pipeline_name} failed, timed out or were "
                    "aborted (constructs_sm)"
                ),
            )
            self._failure_alarm = alarm
        if topic is None:
            if self._alarm_topic is not None:
                return alarm
            topic = self._alarm_topic = _encrypted_topic(scope, alarm, self.pipeline_name)
        if topic.topic_arn in self._alarm_topics:
            return alarm
        self._alarm_topics = (*self._alarm_topics, topic.topic_arn)
        alarm.add_alarm_action(actions.SnsAction(topic))
        return alarm

    def _as_construct(self) -> Construct:
        assert isinstance(self, Construct)
        return self


def _encrypted_topic(scope: Construct, alarm: cloudwatch.Alarm, pipeline: str) -> sns.Topic:
    """A topic only ``alarm`` may publish to, encrypted with a key of its own."""
    from aws_cdk import aws_sns as sns

    key_policy = key_administration_policy()
    key_policy.add_statements(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsUseKey",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
    )
    key = kms.Key(
        scope,
        "AlarmTopicKey",
        description=f"Encrypts the failure alarms of pipeline {pipeline} (constructs_sm)",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
        policy=key_policy,
    )
    topic = sns.Topic(
        scope,
        "AlarmTopic",
        display_name=f"Pipeline {pipeline} failures",
        master_key=key,
        enforce_ssl=True,
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="FailureAlarmPublishes",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "ArnLike": {"aws:SourceArn": alarm.alarm_arn},
                "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
            },
        )
    )
    return topic


def add_outputs(
    scope: Construct, *, machine: sfn.StateMachine, storage: ChannelBucket, pipeline: str
) -> None:
    """The pipeline's stack outputs: its state machine, channel bucket and handoff root."""
    CfnOutput(
        scope,
        "StateMachineArn",
        value=machine.state_machine_arn,
        description=f"The state machine of pipeline {pipeline}: start its executions here",
    )
    CfnOutput(
        scope,
        "ChannelBucketName",
        value=storage.bucket_name,
        description=f"The channel bucket of pipeline {pipeline} (parameters, handoffs, data)",
    )
    CfnOutput(
        scope,
        "HandoffRoot",
        value=Fn.join("", ["s3://", storage.bucket_name, f"/{pipeline}/"]),
        description=(
            f"Where the runs of pipeline {pipeline} keep their handoff data: "
            "<root><step>/<channel>/<execution name>/"
        ),
    )

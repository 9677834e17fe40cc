"""Watching a pipeline: metrics of its state machine, the failure alarm and its encrypted
topic, and the stack outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline
from constructs_sm.nag.pack import default_packs

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/processing:1"
ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _pipeline(script: Path, app: cdk.App | None = None) -> ProcessingPipeline:
    stack = cdk.Stack(app or cdk.App(), "Watched", env=ENV)
    pipeline = ProcessingPipeline(
        stack,
        "Pipeline",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
    )
    pipeline.add_step("only", code=script)
    return pipeline


def _resolved(pipeline: ProcessingPipeline, metric: cloudwatch.Metric) -> dict[str, Any]:
    stack = cdk.Stack.of(pipeline)
    return {
        "namespace": metric.namespace,
        "name": metric.metric_name,
        "statistic": metric.statistic,
        "period": metric.period.to_seconds(),
        "dimensions": stack.resolve(metric.dimensions),
    }


@pytest.mark.parametrize(
    ("method", "name", "statistic"),
    [
        ("metric_failed", "ExecutionsFailed", "Sum"),
        ("metric_succeeded", "ExecutionsSucceeded", "Sum"),
        ("metric_timed_out", "ExecutionsTimedOut", "Sum"),
        ("metric_aborted", "ExecutionsAborted", "Sum"),
        ("metric_duration", "ExecutionTime", "Average"),
    ],
)
def test_metrics_are_the_state_machines_in_aws_states(
    script: Path, method: str, name: str, statistic: str
) -> None:
    pipeline = _pipeline(script)
    machine = cdk.Stack.of(pipeline).resolve(pipeline.state_machine.state_machine_arn)
    assert _resolved(pipeline, getattr(pipeline, method)()) == {
        "namespace": "AWS/States",
        "name": name,
        "statistic": statistic,
        "period": 300,
        "dimensions": {"StateMachineArn": machine},
    }


def test_metric_options_are_cdks(script: Path) -> None:
    pipeline = _pipeline(script)
    metric = pipeline.metric_duration(
        period=cdk.Duration.hours(1), statistic="p90", label="run time"
    )
    assert (metric.period.to_seconds(), metric.statistic, metric.label) == (3600, "p90", "run time")


def test_the_failure_alarm_sums_failed_timed_out_and_aborted_runs(script: Path) -> None:
    pipeline = _pipeline(script)
    alarm = pipeline.alarm_on_failure()
    assert pipeline.alarm_on_failure() is alarm  # one alarm, one created topic
    template = assertions.Template.from_stack(cdk.Stack.of(pipeline))
    (properties,) = (
        r["Properties"] for r in template.find_resources("AWS::CloudWatch::Alarm").values()
    )
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["Threshold"] == 1 and properties["EvaluationPeriods"] == 1
    assert properties["TreatMissingData"] == "notBreaching"
    metrics = {m["Id"]: m for m in properties["Metrics"]}
    (expression,) = (m for m in metrics.values() if "Expression" in m)
    assert expression["Expression"] == "FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)"
    names = {
        i: m["MetricStat"]["Metric"]["MetricName"]
        for i, m in metrics.items()
        if i != expression["Id"]
    }
    assert names == {
        "failed": "ExecutionsFailed",
        "timed_out": "ExecutionsTimedOut",
        "aborted": "ExecutionsAborted",
    }
    topic = pipeline.alarm_topic
    assert topic is not None
    resource = topic.node.default_child
    assert isinstance(resource, cdk.CfnElement)
    assert properties["AlarmActions"] == [{"Ref": cdk.Stack.of(pipeline).get_logical_id(resource)}]


def test_the_created_topic_is_encrypted_tls_only_and_only_the_alarm_publishes(
    script: Path,
) -> None:
    pipeline = _pipeline(script)
    alarm = pipeline.alarm_on_failure()
    stack = cdk.Stack.of(pipeline)
    template = assertions.Template.from_stack(stack)
    topic = pipeline.alarm_topic
    assert topic is not None
    key_arn = stack.resolve(topic.master_key.key_arn)  # type: ignore[union-attr]
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": key_arn})
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": assertions.Match.array_with(
                    [
                        {
                            "Sid": "CloudWatchAlarmsUseKey",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                        }
                    ]
                )
            },
        },
    )
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["AllowPublishThroughSSLOnly"]["Effect"] == "Deny"
    publish = statements["FailureAlarmPublishes"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Condition"]["ArnLike"] == {"aws:SourceArn": stack.resolve(alarm.alarm_arn)}


def test_a_given_topic_is_used_and_nothing_is_created(script: Path) -> None:
    pipeline = _pipeline(script)
    stack = cdk.Stack.of(pipeline)
    theirs = sns.Topic.from_topic_arn(stack, "Theirs", "arn:aws:sns:us-east-1:123456789012:oncall")
    alarm = pipeline.alarm_on_failure(theirs)
    assert pipeline.alarm_on_failure(theirs) is alarm
    template = assertions.Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::KMS::Key", 1)  # the channel key only
    (properties,) = (
        r["Properties"] for r in template.find_resources("AWS::CloudWatch::Alarm").values()
    )
    assert properties["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:oncall"]
    assert pipeline.alarm_topic is None


def test_the_alarm_and_its_topic_pass_every_nag_pack(script: Path) -> None:
    app = cdk.App()
    _pipeline(script, app).alarm_on_failure()
    found = [
        f"{violation.rule_name}: {resource.construct_path}"
        for pack in default_packs(app)
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
        if any(part in (resource.construct_path or "") for part in ("Alarm", "Topic"))
    ]
    assert found == []


def test_the_stack_outputs_the_state_machine_bucket_and_handoff_root(script: Path) -> None:
    pipeline = _pipeline(script)
    stack = cdk.Stack.of(pipeline)
    outputs = assertions.Template.from_stack(stack).to_json()["Outputs"]
    by_id = {
        output.node.id: stack.get_logical_id(output)
        for output in pipeline.node.children
        if isinstance(output, cdk.CfnOutput)
    }
    assert set(by_id) == {"StateMachineArn", "ChannelBucketName", "HandoffRoot"}
    bucket = stack.resolve(pipeline.storage.bucket_name)
    assert outputs[by_id["StateMachineArn"]]["Value"] == stack.resolve(
        pipeline.state_machine.state_machine_arn
    )
    assert outputs[by_id["ChannelBucketName"]]["Value"] == bucket
    assert outputs[by_id["HandoffRoot"]]["Value"] == {
        "Fn::Join": ["", ["s3://", bucket, "/Pipeline/"]]
    }
    assert all(output["Description"] for output in outputs.values())
    assert json.dumps(outputs).count("Pipeline") >= 3

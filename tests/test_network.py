"""The job security group a pipeline creates in a VPC: inbound rules only for
multi-instance jobs, from the group itself, and clean under every nag pack."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_ec2 as ec2

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline, Resources
from constructs_sm.nag.pack import default_packs

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/processing:1"
ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _vpc_pipeline(app: cdk.App, *counts: int, script: Path) -> cdk.Stack:
    stack = cdk.Stack(app, "Network", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    pipeline = ProcessingPipeline(
        stack,
        "Pipeline",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
        vpc=vpc,
    )
    for index, count in enumerate(counts):
        pipeline.add_step(f"s{index}", code=script, resources=Resources(instance_count=count))
    return stack


def _group_id(template: assertions.Template) -> str:
    (group,) = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": assertions.Match.string_like_regexp("Pipeline")}},
    )
    return group


def test_single_instance_jobs_get_a_group_without_inbound_rules(script: Path) -> None:
    template = assertions.Template.from_stack(_vpc_pipeline(cdk.App(), 1, 1, script=script))
    group = template.find_resources("AWS::EC2::SecurityGroup")[_group_id(template)]
    assert "SecurityGroupIngress" not in group["Properties"]
    template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)


def test_a_multi_instance_step_opens_tcp_ike_and_esp_from_the_group_itself(script: Path) -> None:
    template = assertions.Template.from_stack(_vpc_pipeline(cdk.App(), 1, 2, 3, script=script))
    group = _group_id(template)
    rules = template.find_resources("AWS::EC2::SecurityGroupIngress")
    properties = [rule["Properties"] for rule in rules.values()]
    found = sorted((p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in properties)
    # Once, however many multi-instance steps; never "all traffic" (IpProtocol -1).
    assert found == [("50", None, None), ("tcp", 0, 65535), ("udp", 500, 500)]
    for rule in rules.values():
        assert rule["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
        assert rule["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [group, "GroupId"]}


def test_the_job_group_passes_every_nag_pack(script: Path) -> None:
    """NIST, HIPAA and PCI reject an all-traffic rule (EC2RestrictedCommonPorts), whatever
    its source; the distributed-job rules are port- and protocol-scoped."""
    app = cdk.App()
    _vpc_pipeline(app, 1, 2, script=script)
    found = [
        f"{violation.rule_name}: {resource.construct_path}"
        for pack in default_packs(app)
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
        if "/Pipeline/JobSecurityGroup" in (resource.construct_path or "")
    ]
    assert found == []

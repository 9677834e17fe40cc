"""The security group a pipeline creates for its jobs in a VPC (when none is passed).

What inbound rules do processing jobs need? None for a job on one instance: SageMaker
attaches the job's network interfaces to the group for outbound calls (S3, ECR, CloudWatch
through endpoints or NAT), and nothing connects to a job. The instances of one
multi-instance job talk to each other: "In distributed processing, you must allow
communication between the different containers in the same processing job ... a rule for
your security group that allows inbound connections between members of the same security
group" (AWS, "Give SageMaker Processing Jobs Access to Resources in Your Amazon VPC",
https://docs.aws.amazon.com/sagemaker/latest/dg/process-vpc.html). The pipeline turns
inter-container traffic encryption on for such jobs, which SageMaker carries over IPsec:
its page on that setting asks for UDP 500 (IKE) and IP protocol 50 (ESP) from the group
itself (https://docs.aws.amazon.com/sagemaker/latest/dg/train-encrypt.html).

So the group starts with no inbound rule, and the first step with ``instance_count > 1``
adds three, each from the group itself: every TCP port (the container's own protocol,
unknown here), UDP 500 and ESP. None is "all traffic" (IpProtocol -1), which the NIST,
HIPAA and PCI packs' ``EC2RestrictedCommonPorts`` rule rejects whatever the source.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

#: The rules between the instances of one multi-instance job (source: the group itself).
DISTRIBUTED_JOB_PORTS: tuple[tuple[ec2.Port, str], ...] = (
    (ec2.Port.all_tcp(), "between the instances of a multi-instance job"),
    (ec2.Port.udp(500), "IKE of inter-container traffic encryption (IPsec)"),
    (
        ec2.Port(protocol=ec2.Protocol.ESP, string_representation="ESP"),
        "ESP of inter-container traffic encryption (IPsec)",
    ),
)


def job_security_group(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, pipeline_name: str
) -> ec2.SecurityGroup:
    """The pipeline's job security group: all outbound, no inbound rule (until a
    multi-instance step needs one, see :func:`allow_between_instances`)."""
    return ec2.SecurityGroup(
        scope,
        construct_id,
        vpc=vpc,
        description=f"Processing jobs of pipeline {pipeline_name} (inbound only from itself, "
        "for multi-instance jobs)",
        allow_all_outbound=True,
    )


def allow_between_instances(group: ec2.SecurityGroup) -> None:
    """Let the instances of one multi-instance job reach each other (once per group)."""
    if group.node.try_find_child("FromItselfForDistributedJobs") is not None:
        return
    # A marker child: the rules are added once, however many multi-instance steps there are.
    Construct(group, "FromItselfForDistributedJobs")
    for port, description in DISTRIBUTED_JOB_PORTS:
        group.add_ingress_rule(group, port, description)


def selected_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> list[str]:
    """The subnets jobs run in: ``selection``, by default the VPC's private subnets."""
    chosen = selection or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    selected = vpc.select_subnets(
        availability_zones=chosen.availability_zones,
        one_per_az=chosen.one_per_az,
        subnet_filters=chosen.subnet_filters,
        subnet_group_name=chosen.subnet_group_name,
        subnets=chosen.subnets,
        subnet_type=chosen.subnet_type,
    )
    return list(selected.subnet_ids)

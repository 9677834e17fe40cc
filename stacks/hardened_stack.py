"""The example pipeline, hardened: jobs in a VPC without internet access, customer keys.

What changes against ``pipeline_stack.py``:

- the processing jobs run in private isolated subnets (no NAT, no internet gateway) and
  reach AWS through VPC endpoints only: an S3 gateway endpoint (inputs, outputs, image
  layers) and interface endpoints for ECR (``ecr.api``, ``ecr.dkr``: image pulls) and
  CloudWatch (``logs``, ``monitoring``: job logs and metrics);
- the channel data is encrypted with a customer managed key passed to ``ChannelBucket``
  (or created here, with rotation); VPC flow logs go to a log group encrypted with a
  second customer managed key;
- the VPC's default security group allows nothing (CDK's restrict-default-SG custom
  resource) and every rejected or accepted flow is logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Annotations, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline, nag
from constructs_sm.passed import KEY_POLICY_CHANGED
from constructs_sm.policies import key_administration_policy
from constructs_sm.roles import allow_log_encryption
from stacks.pipeline_stack import add_churn_steps, churn_params

HERE = Path(__file__).parent

#: Interface endpoints a SageMaker Processing job in an isolated subnet needs.
JOB_ENDPOINTS = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
}


def _rotating_key(scope: Construct, construct_id: str, description: str) -> kms.Key:
    return kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
        policy=key_administration_policy(),
    )


class HardenedPipelineStack(Stack):
    """prepare -> train -> evaluate in an isolated VPC, encrypted with customer keys.

    :param data_key: the customer managed key of the channel data (volumes, outputs,
        bucket, execution logs); by default a rotating key is created in this stack.
    :param logs_key: the customer managed key of the VPC flow logs; by default a rotating
        key is created in this stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_key: kms.IKey | None = None,
        logs_key: kms.IKey | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.endpoints: list[ec2.InterfaceVpcEndpoint] = []
        data_key = data_key or _rotating_key(self, "DataKey", "Channel data of the pipeline")
        logs_key = logs_key or _rotating_key(self, "LogsKey", "VPC flow logs of the pipeline")
        self.vpc = self._network(logs_key)
        jobs = ec2.SecurityGroup(
            self,
            "JobSecurityGroup",
            vpc=self.vpc,
            description="Processing jobs of the isolated churn pipeline (no inbound)",
            allow_all_outbound=True,
        )
        for endpoint in self.endpoints:
            endpoint.connections.allow_default_port_from(jobs, "HTTPS from processing jobs")

        storage = ChannelBucket(self, "Storage", encryption_key=data_key)
        # The data key is this stack's, made for the pipeline: the statement the pipeline
        # adds to its policy (CloudWatch Logs encrypts the execution logs with it) is wanted.
        Annotations.of(self).acknowledge_warning(
            KEY_POLICY_CHANGED, "the data key is created here for the pipeline's logs too"
        )
        image = ProcessingImage.from_asset(self, "Image", directory=str(HERE / "image"))
        pipeline = ProcessingPipeline(
            self,
            "Churn",
            storage=storage,
            image=image,
            pipeline_name="ChurnIsolated",
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[jobs],
            params=churn_params(),
        )
        add_churn_steps(pipeline, profile=False)
        pipeline.alarm_on_failure()
        self.storage = storage
        self.pipeline = pipeline

    def _network(self, logs_key: kms.IKey) -> ec2.Vpc:
        """Isolated subnets in two AZs, endpoints for S3, ECR and CloudWatch, flow logs."""
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        allow_log_encryption(self, logs_key)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Jobs", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
                )
            ],
            restrict_default_security_group=True,
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        # Endpoints accept HTTPS from the jobs' security group only (open=False).
        self.endpoints = [
            vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                private_dns_enabled=True,
                open=False,
            )
            for name, service in JOB_ENDPOINTS.items()
        ]
        nag.acknowledge(
            vpc.node.find_child("All"),
            nag.INLINE_POLICY_FINDINGS,
            "The flow log's role gets an inline policy generated by CDK for this one role: "
            "write access to the flow-log group and passing itself to the flow-logs service.",
        )
        handler = self.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        if handler is not None:
            function = handler.node.find_child("Handler")
            # Its Role is referenced by GetAtt already (cfn-lint W3005).
            assert isinstance(function, CfnResource)
            function.add_deletion_override("DependsOn")
            nag.skip_checkov(
                function,
                {
                    "CKV_AWS_115": "CDK's handler that removes the default security group's "
                    "rules runs once per deployment, invoked by CloudFormation only.",
                    "CKV_AWS_116": "CloudFormation invokes the handler synchronously and "
                    "reports its errors in the stack events; a dead-letter queue adds nothing.",
                    "CKV_AWS_117": "The handler calls the EC2 API once per deployment; inside "
                    "the isolated VPC it would need an EC2 endpoint for that call alone.",
                },
            )
        return vpc

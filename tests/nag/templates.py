"""CloudFormation written by hand for the rule tests: no Stack, no synth, fast.

:class:`Pipeline` is a compliant processing pipeline as raw resources (a channel bucket
with its key, policy and access-log bucket, a job role with its grants, a state machine
with one processing task); a test changes one part and :func:`findings` tells which
rules fire on which resource. :func:`role` and :func:`policy` write single IAM resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from constructs_sm.nag import PACK_NAME, REQUIRED_RETRIES, check_stack, model_from_template

Json = dict[str, Any]

#: Trust conditions that constrain the source (what the IAM rules expect).
SOURCE: Json = {"StringEquals": {"aws:SourceAccount": "1"}, "ArnLike": {"aws:SourceArn": "a"}}
JOB_RESOURCE = "arn:aws:states:::sagemaker:createProcessingJob.sync"


def findings(resources: Json) -> dict[str, dict[str, list[str]]]:
    """Logical id -> rule name (without the pack prefix) -> sorted finding ids."""
    results = check_stack(model_from_template({"Resources": resources}))
    return {
        lid: {rule.removeprefix(f"{PACK_NAME}-"): sorted(f) for rule, f in rules.items()}
        for lid, rules in results.items()
    }


def role(
    condition: Json | None = SOURCE,
    service: Any = "sagemaker.amazonaws.com",
    extra: list[Json] | None = None,
) -> Json:
    """An ``AWS::IAM::Role`` that ``service`` may assume (with ``condition``, if any);
    ``extra`` statements follow in its trust policy."""
    trust: Json = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition is not None:
        trust["Condition"] = condition
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Statement": [trust, *(extra or [])]}},
    }


def policy(statement: Json, kind: str = "AWS::IAM::Policy") -> Json:
    """A policy of kind ``kind`` with one statement, attached to ``R`` (``U``, ``G``)."""
    attachments: dict[str, Json] = {
        "AWS::IAM::Policy": {"Roles": [{"Ref": "R"}]},
        "AWS::IAM::RolePolicy": {"RoleName": {"Ref": "R"}},
        "AWS::IAM::UserPolicy": {"UserName": {"Ref": "U"}},
        "AWS::IAM::GroupPolicy": {"GroupName": {"Ref": "G"}},
    }
    return {
        "Type": kind,
        "Properties": {
            "PolicyName": "p",
            "PolicyDocument": {"Statement": [statement]},
            **attachments[kind],
        },
    }


def _objects(prefix: str) -> Json:
    return {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, f"/{prefix}"]]}


def _bucket() -> Json:
    return {
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {
                    "ServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": {"Fn::GetAtt": ["K", "Arn"]},
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}},
        "LifecycleConfiguration": {
            "Rules": [
                {
                    "Status": "Enabled",
                    "Prefix": "runs/",
                    "ExpirationInDays": 30,
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    }


def _tls_only() -> list[Json]:
    return [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": ["B", "Arn"]}, _objects("*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def _grants() -> list[Json]:
    return [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": _objects("runs/in/*")},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": _objects("runs/out/*")},
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": {"Fn::GetAtt": ["B", "Arn"]},
            "Condition": {"StringLike": {"s3:prefix": ["runs/*"]}},
        },
    ]


def _parameters() -> Json:
    return {
        "ProcessingJobName.$": "$$.Execution.Name",
        "RoleArn": "${Role}",
        "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1"},
        "ProcessingInputs": [{"InputName": "in", "S3Input": {"S3Uri": "s3://${Bucket}/runs/in/"}}],
        "ProcessingOutputConfig": {
            "Outputs": [{"OutputName": "out", "S3Output": {"S3Uri": "s3://${Bucket}/runs/out/"}}],
            "KmsKeyId": "${Key}",
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": "${Key}",
            }
        },
        "NetworkConfig": {"EnableNetworkIsolation": True},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def _task() -> Json:
    return {
        "Type": "Task",
        "Resource": JOB_RESOURCE,
        "TimeoutSeconds": 4000,
        "Retry": [{"ErrorEquals": list(REQUIRED_RETRIES), "MaxAttempts": 3}],
        "Catch": [
            {
                "ErrorEquals": ["SageMaker.AmazonSageMakerException"],
                "ResultPath": "$.error",
                "Next": "Throttled",
            },
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"},
        ],
        "End": True,
    }


def _retry_loop() -> Json:
    return {
        "Throttled": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.error.Cause",
                    "StringMatches": "*ValidationException*",
                    "Next": "Rejected",
                }
            ],
            "Default": "Back off",
        },
        "Back off": {"Type": "Wait", "Seconds": 10, "Next": "Job"},
        "Rejected": {"Type": "Fail"},
    }


def _machine() -> Json:
    return {
        "StateMachineType": "STANDARD",
        "LoggingConfiguration": {
            "Level": "ALL",
            "IncludeExecutionData": False,
            "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": "arn:aws:logs:x"}}],
        },
        "TracingConfiguration": {"Enabled": True},
        "DefinitionSubstitutions": {
            "Bucket": {"Ref": "B"},
            "Role": {"Fn::GetAtt": ["R", "Arn"]},
            "Key": {"Fn::GetAtt": ["K", "Arn"]},
        },
    }


@dataclass
class Pipeline:
    """A compliant processing pipeline as raw CloudFormation, in parts a test may change.

    Resources: ``B`` (the channel bucket), ``K`` (its key), ``BP`` (its policy), ``Logs``
    (its access-log bucket), ``R`` (the job role; ``trust_extra`` are more statements of
    its trust policy), ``P`` (R's grants), ``M`` (the state machine; its processing task is
    the state ``Job``, its Catch of throttling goes to the ``retry_loop`` and of
    States.ALL to ``Failed``; ``states`` are more states, e.g. a data-source check).
    """

    bucket: Json = field(default_factory=_bucket)
    key: Json = field(default_factory=lambda: {"EnableKeyRotation": True})
    bucket_policy: list[Json] = field(default_factory=_tls_only)
    trust: Json | None = field(default_factory=lambda: dict(SOURCE))
    trust_extra: list[Json] = field(default_factory=list)
    grants: list[Json] = field(default_factory=_grants)
    parameters: Json = field(default_factory=_parameters)
    task: Json = field(default_factory=_task)
    states: Json = field(default_factory=lambda: {"Failed": {"Type": "Fail"}})
    #: The retry by cause: a throttled call waits and runs ``Job`` again, a rejected one
    #: fails.
    retry_loop: Json = field(default_factory=_retry_loop)
    machine: Json = field(default_factory=_machine)

    def resources(self) -> Json:
        """The resources of the template, as the parts say."""
        definition = {
            "StartAt": "Job",
            "States": {
                "Job": {**self.task, "Parameters": self.parameters},
                **self.retry_loop,
                **self.states,
            },
        }
        return {
            "K": {"Type": "AWS::KMS::Key", "Properties": self.key},
            "B": {"Type": "AWS::S3::Bucket", "Properties": self.bucket},
            "BP": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "B"},
                    "PolicyDocument": {"Statement": self.bucket_policy},
                },
            },
            "Logs": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "R": role(self.trust, extra=self.trust_extra),
            "P": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "grants",
                    "PolicyDocument": {"Statement": self.grants},
                    "Roles": [{"Ref": "R"}],
                },
            },
            "M": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {**self.machine, "DefinitionString": json.dumps(definition)},
            },
        }

    def findings(self) -> dict[str, dict[str, list[str]]]:
        """What the rules find in :meth:`resources`."""
        return findings(self.resources())


def check_input_location(prefix: str, bucket: str = "${Bucket}") -> Json:
    """A Choice state that fails unless ``$.params.raw`` is under ``s3://<bucket>/<prefix>``:
    a data source, as constructs_sm writes it (``Check input locations``)."""
    return {
        "Type": "Choice",
        "Choices": [
            {
                "Not": {"Variable": "$.params.raw", "StringMatches": f"s3://{bucket}/{prefix}*"},
                "Next": "Failed",
            }
        ],
        "Default": "Job",
    }

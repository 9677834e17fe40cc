"""The model of a synthesized template (``constructs_sm.nag.template``): resources and
their paths, channel buckets, run prefixes and buckets imported across templates."""

from __future__ import annotations

import json
from typing import Any

from constructs_sm.nag import PACK_NAME, check_templates, model_from_template
from constructs_sm.nag.rules import bucket
from tests.nag.templates import SOURCE, Pipeline, policy, role

ROLE_ARN = {"Fn::GetAtt": ["R", "Arn"]}


def _job_machine(parameters: dict[str, Any], substitutions: Any = None) -> dict[str, Any]:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": parameters,
        "End": True,
    }
    properties: dict[str, Any] = {
        "DefinitionString": json.dumps({"StartAt": "Job", "States": {"Job": state}})
    }
    if substitutions:
        properties["DefinitionSubstitutions"] = substitutions
    return {"Type": "AWS::StepFunctions::StateMachine", "Properties": properties}


def _io(input_uri: Any, output_uri: Any) -> dict[str, Any]:
    def uri(value: Any) -> dict[str, Any]:
        return {"S3Uri.$": value[1:]} if str(value).startswith("$") else {"S3Uri": value}

    return {
        "RoleArn": "${Role}",
        "ProcessingInputs": [{"InputName": "in", "S3Input": uri(input_uri)}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "o", "S3Output": uri(output_uri)}]},
    }


def test_a_resource_path_is_its_cdk_path_else_its_logical_id() -> None:
    model = model_from_template(
        {
            "Resources": {
                "A": {"Type": "AWS::S3::Bucket", "Metadata": {"aws:cdk:path": "Stack/A/Resource"}},
                "B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}},
                "Broken": "not a resource",
            }
        }
    )
    assert {lid: r.path for lid, r in model.resources.items()} == {
        "A": "Stack/A/Resource",
        "B": "B",
    }
    assert model.resources["A"].properties == {}
    assert [r.logical_id for r in model.of_type("AWS::S3::Bucket")] == ["A", "B"]


def test_channel_buckets_by_literal_name_grant_and_import() -> None:
    """Channel buckets: a literal s3://<BucketName>/ URI, a bucket the job role may read or
    write (what tells the bucket when the URIs come from the execution input), a bucket
    another stack's state machine imports; not a bucket the jobs have nothing to do with."""
    named = {
        "Named": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "my-channel"}},
        "Granted": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Unrelated": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "R": role(SOURCE),
        "P": policy(
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Granted", "Arn"]}, "/out/*"]]},
            }
        ),
        "M": _job_machine(
            _io("s3://my-channel/in/", "$$.Execution.Input.output_uri"), {"Role": ROLE_ARN}
        ),
    }
    model = model_from_template({"Resources": named})
    assert model.channel_buckets() == {"Named", "Granted"}
    # The output's bucket is not known: the run prefixes are what the role may write.
    assert model.run_prefixes("Granted") == {"out/"}
    storage = {
        "Resources": {"Data": {"Type": "AWS::S3::Bucket", "Properties": {}}},
        "Outputs": {"Out": {"Value": {"Ref": "Data"}, "Export": {"Name": "Storage:Data"}}},
    }
    uri = {"Fn::Join": ["", ["s3://", {"Fn::ImportValue": "Storage:Data"}, "/runs/"]]}
    machine = _job_machine(_io(uri, uri))
    machine["Properties"] = {"Definition": json.loads(machine["Properties"]["DefinitionString"])}
    jobs = {"Resources": {"M": machine}}
    results = check_templates({"Storage": storage, "Jobs": jobs})
    assert f"{PACK_NAME}-ChannelBucketSseKms" in results["Storage"]["Data"]


def test_run_prefixes_come_from_the_output_uris_and_the_root_they_are_built_from() -> None:
    definition = {
        "StartAt": "Init",
        "States": {
            "Init": {
                "Type": "Pass",
                "Parameters": {
                    "run": {
                        "bucket": "${Bucket}",
                        "root.$": "States.Format('Churn/{}', $$.Execution.Name)",
                    }
                },
                "Next": "Job",
            },
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    "RoleArn": "${Role}",
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "S3Output": {
                                    "S3Uri.$": "States.Format('s3://{}/{}/train/model/', "
                                    "$.run.bucket, $.run.root)"
                                }
                            }
                        ]
                    },
                },
                "End": True,
            },
        },
    }
    machine = {
        "DefinitionString": json.dumps(definition),
        "DefinitionSubstitutions": {"Bucket": {"Ref": "B"}, "Role": ROLE_ARN},
    }

    def model(prefix: str) -> Any:
        rule = {
            "Status": "Enabled",
            "Prefix": prefix,
            "ExpirationInDays": 30,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        lifecycle = {"LifecycleConfiguration": {"Rules": [rule]}}
        resources = {
            "B": {"Type": "AWS::S3::Bucket", "Properties": lifecycle},
            "M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": machine},
        }
        return model_from_template({"Resources": resources})

    covered = model("Churn/")
    [location] = covered.locations()
    assert (location.bucket, location.key, location.output) == ("<B>", "Churn/*/train/model/", True)
    assert covered.run_prefixes("B") == {"Churn/"}
    assert bucket.LIFECYCLE.check(covered.resources["B"], covered) == {}
    elsewhere = model("tmp/")
    assert bucket.LIFECYCLE.check(elsewhere.resources["B"], elsewhere) == {
        "": "no enabled lifecycle rule for expiry of current objects, expiry of noncurrent "
        "versions, abort of incomplete multipart uploads on the run prefix 'Churn/'"
    }


def test_relations_of_the_compliant_pipeline() -> None:
    model = model_from_template({"Resources": Pipeline().resources()})
    assert model.channel_buckets() == {"B"}  # not the access-log bucket
    assert model.pipeline_roles() == {"R"}
    assert set(model.processing_machines()) == {"M"}
    assert model.bucket_id("<B.Arn>") == model.bucket_id("<B>") == "B"
    assert model.bucket_id("<R.Arn>") is None
    inputs, outputs = model.role_locations("R") or ([], [])
    assert [(loc.bucket, loc.key) for loc in inputs] == [("<B>", "runs/in/")]
    assert [(loc.bucket, loc.key) for loc in outputs] == [("<B>", "runs/out/")]
    assert model.role_locations("Other") is None

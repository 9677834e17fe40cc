"""Resources whose template names none get the names CloudFormation gives them, kept
across updates (constructs_sm.local.cfn_names), and those moto cannot create are named
by the run (constructs_sm.local.deploy.not_created_resources), on the session's
emulator."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from constructs_sm.local import Emulator, cfn_names, cli
from constructs_sm.local.deploy import not_created_resources
from tests.assemblies import write_one_stack
from tests.local_deployment import Deployed

STACK = "cfn-names-a"


def _template(value: str, mutability: str) -> str:
    resources = {
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": value}},
        "Repo": {"Type": "AWS::ECR::Repository", "Properties": {"ImageTagMutability": mutability}},
        # moto replaces a topic on update (a new ARN, unless the name is kept)
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": value}},
    }
    outputs = {name: {"Value": {"Ref": name}} for name in resources}
    return json.dumps({"Resources": resources, "Outputs": outputs})


@pytest.fixture
def cfn(aws: Emulator) -> Iterator[Any]:
    client = aws.client("cloudformation")
    client.create_stack(StackName=STACK, TemplateBody=_template("one", "MUTABLE"))
    yield client
    if any(stack["StackName"] == STACK for stack in client.describe_stacks()["Stacks"]):
        client.delete_stack(StackName=STACK)


def _stack(cfn: Any) -> tuple[str, dict[str, str]]:
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    return stack["StackStatus"], {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def _parameters(aws: Emulator) -> list[str]:
    described = aws.client("ssm").describe_parameters()["Parameters"]
    return [p["Name"] for p in described if p["Name"].startswith("CFN-Param-")]


def test_unnamed_parameter_and_repository_are_named_as_cloudformation_names_them(
    cfn: Any, aws: Emulator
) -> None:
    status, names = _stack(cfn)
    assert status == "CREATE_COMPLETE"
    assert re.fullmatch(r"CFN-Param-[A-Za-z0-9]{12}", names["Param"])
    assert re.fullmatch(rf"{STACK}-repo-[a-z0-9]{{12}}", names["Repo"])
    parameter = aws.client("ssm").get_parameter(Name=names["Param"])["Parameter"]
    assert parameter["Value"] == "one"
    repositories = aws.client("ecr").describe_repositories(repositoryNames=[names["Repo"]])
    assert repositories["repositories"][0]["imageTagMutability"] == "MUTABLE"


def test_an_update_keeps_the_generated_names(cfn: Any, aws: Emulator) -> None:
    """The parameter, the repository and the topic keep their names (moto alone put the
    parameter again under a new name, replaced the repository and the topic)."""
    _, before = _stack(cfn)
    cfn.update_stack(StackName=STACK, TemplateBody=_template("two", "IMMUTABLE"))
    status, after = _stack(cfn)
    assert status == "UPDATE_COMPLETE"
    assert after == before
    assert aws.client("ssm").get_parameter(Name=after["Param"])["Parameter"]["Value"] == "two"
    assert _parameters(aws) == [after["Param"]]  # not put again under another name
    repository = aws.client("ecr").describe_repositories(repositoryNames=[after["Repo"]])
    assert repository["repositories"][0]["imageTagMutability"] == "IMMUTABLE"
    topic = aws.client("sns").get_topic_attributes(TopicArn=after["Topic"])["Attributes"]
    assert topic["DisplayName"] == "two"


def test_deleting_the_stack_deletes_them(cfn: Any, aws: Emulator) -> None:
    _, names = _stack(cfn)
    cfn.delete_stack(StackName=STACK)
    assert _parameters(aws) == []
    listed = aws.client("ecr").describe_repositories()["repositories"]
    assert names["Repo"] not in [r["repositoryName"] for r in listed]


def test_other_types_keep_motos_generated_names() -> None:
    assert re.fullmatch(r"CFN-Logical-[A-Za-z0-9]{12}", cfn_names.parameter_name("Logical"))
    assert cfn_names.generate_resource_name("AWS::SNS::Topic", "Stack", "Topic").startswith(
        "Stack-Topic-"
    )


def test_resources_moto_cannot_create_are_named() -> None:
    """moto skips them and the stack still ends CREATE_COMPLETE: the run says which."""
    template = {
        "Resources": {
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
            "Wait": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "BucketPolicy": {"Type": "AWS::S3::BucketPolicy"},  # the emulator applies it
            "Metadata": {"Type": "AWS::CDK::Metadata"},
            "Cleanup": {"Type": "Custom::Cleanup"},  # refused without Docker, by itself
        }
    }
    assert not_created_resources(template) == [
        "Secret (AWS::SecretsManager::Secret)",
        "Wait (AWS::CloudFormation::WaitConditionHandle)",
    ]


def test_a_run_names_the_resources_it_cannot_create(deployed: Deployed, tmp_path: Path) -> None:
    """Before it deploys (a failure they cause later, such as a policy naming a secret
    that has no ARN offline, is then understood)."""
    secret = {"Type": "AWS::SecretsManager::Secret", "Properties": {}}
    parameter = {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v"}}
    assembly = write_one_stack(tmp_path, "CsmNotCreated", {"Secret": secret, "P": parameter})
    out = io.StringIO()
    argv = ["run", "--app", str(assembly), "--cdk", "none", "--project-dir", str(tmp_path)]
    cli.main(argv, out=out, emulator=deployed.emulator)
    assert (
        "  CsmNotCreated: not created offline (moto's CloudFormation has no such resource; "
        "a Ref or GetAtt of them is empty): Secret (AWS::SecretsManager::Secret)"
    ) in out.getvalue().splitlines()
    deployed.emulator.client("cloudformation").delete_stack(StackName="CsmNotCreated")


def test_a_stack_of_the_same_name_in_another_region_keeps_its_own_names(aws: Emulator) -> None:
    """Names are kept by stack id, not stack name (the update of one took the other's)."""
    properties = {"DisplayName": "one"}
    topic = {"Type": "AWS::SNS::Topic", "Properties": properties}
    template = {"Resources": {"Topic": topic}, "Outputs": {"Arn": {"Value": {"Ref": "Topic"}}}}
    arns = {}
    for region in ("us-east-1", "us-west-2"):
        cfn = aws.client_in("cloudformation", region)
        cfn.create_stack(StackName="names-dup", TemplateBody=json.dumps(template))
        arns[region] = cfn.describe_stacks(StackName="names-dup")["Stacks"][0]["Outputs"][0]
    properties["DisplayName"] = "two"
    east = aws.client_in("cloudformation", "us-east-1")
    east.update_stack(StackName="names-dup", TemplateBody=json.dumps(template))
    assert (
        east.describe_stacks(StackName="names-dup")["Stacks"][0]["Outputs"][0] == arns["us-east-1"]
    )
    for region in arns:
        aws.client_in("cloudformation", region).delete_stack(StackName="names-dup")

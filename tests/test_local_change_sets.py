"""Change sets in the emulator addressed, described, deleted and executed as
CloudFormation does (constructs_sm.local.change_sets), on the session's emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from constructs_sm.local import Emulator

NAME = "cdk-deploy-change-set"


def _template(value: str) -> str:
    properties = {"Name": f"change-sets-{value}", "Type": "String", "Value": value}
    return json.dumps(
        {"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": properties}}}
    )


@pytest.fixture
def cfn(aws: Emulator) -> Iterator[Any]:
    client = aws.client("cloudformation")
    yield client
    for stack in client.describe_stacks()["Stacks"]:
        if stack["StackName"].startswith("change-sets-"):
            client.delete_stack(StackName=stack["StackName"])


def _created(cfn: Any, stack: str, value: str) -> str:
    """``stack`` created through an executed change set named NAME; its change set id."""
    created = cfn.create_change_set(
        StackName=stack, ChangeSetName=NAME, ChangeSetType="CREATE", TemplateBody=_template(value)
    )
    cfn.execute_change_set(StackName=stack, ChangeSetName=NAME)
    return str(created["Id"])


def _error(caught: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, str, int]:
    response = caught.value.response
    error = response["Error"]
    return error["Code"], error["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_change_set_the_stack_does_not_have_is_not_found(cfn: Any) -> None:
    _created(cfn, "change-sets-a", "a")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        cfn.describe_change_set(StackName="change-sets-a", ChangeSetName="other")
    assert _error(caught) == ("ChangeSetNotFound", "ChangeSet [other] does not exist", 404)


def test_deleting_one_that_does_not_exist_succeeds_as_the_cdk_cli_expects(cfn: Any) -> None:
    """The cdk CLI's second deploy of a stack: delete NAME "if it exists", then wait until
    DescribeChangeSet says ChangeSetNotFound (moto failed both calls)."""
    executed = _created(cfn, "change-sets-b", "b")
    cfn.create_change_set(
        StackName="change-sets-b",
        ChangeSetName="pending",
        ChangeSetType="UPDATE",
        TemplateBody=_template("b2"),
    )
    for name in ("pending", "pending", NAME):  # one to delete, then none, an executed one
        cfn.delete_change_set(StackName="change-sets-b", ChangeSetName=name)
        with pytest.raises(cfn.exceptions.ChangeSetNotFoundException):
            cfn.describe_change_set(StackName="change-sets-b", ChangeSetName=name)
    assert cfn.describe_change_set(ChangeSetName=executed)["ChangeSetName"] == NAME


def test_a_stack_that_does_not_exist_is_a_validation_error(cfn: Any) -> None:
    for call in (cfn.delete_change_set, cfn.describe_change_set, cfn.execute_change_set):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            call(StackName="change-sets-none", ChangeSetName=NAME)
        assert _error(caught) == ("ValidationError", "Stack [change-sets-none] does not exist", 400)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        cfn.describe_change_set(ChangeSetName=NAME)
    assert _error(caught)[:2] == (
        "ValidationError",
        "StackName must be specified if ChangeSetName is not specified as an ARN.",
    )


def test_a_name_is_the_stacks_own_and_an_arn_names_one_change_set(cfn: Any) -> None:
    """Two stacks with a change set of the same name: each is its stack's (moto answered
    the last one created for both)."""
    ids = {}
    for stack in ("change-sets-c", "change-sets-d"):
        ids[stack] = cfn.create_change_set(
            StackName=stack,
            ChangeSetName=NAME,
            ChangeSetType="CREATE",
            TemplateBody=_template(stack),
        )["Id"]
    for stack, change_set in ids.items():
        assert (
            cfn.describe_change_set(StackName=stack, ChangeSetName=NAME)["ChangeSetId"]
            == change_set
        )
        assert cfn.describe_change_set(ChangeSetName=change_set)["StackName"] == stack
    with pytest.raises(cfn.exceptions.ChangeSetNotFoundException):
        cfn.describe_change_set(StackName="change-sets-c", ChangeSetName=ids["change-sets-d"])
    cfn.delete_change_set(StackName="change-sets-d", ChangeSetName=NAME)
    assert cfn.describe_change_set(StackName="change-sets-c", ChangeSetName=NAME)
    listed = cfn.list_change_sets(StackName="change-sets-c")["Summaries"]
    assert [(c["ChangeSetName"], c["StackName"]) for c in listed] == [(NAME, "change-sets-c")]


def test_executing_a_change_set_deletes_the_stacks_others(aws: Emulator, cfn: Any) -> None:
    """The others are deleted; the executed one is found by its ARN only, and listed no
    more (riff-raff pull 672 shows AWS answering ChangeSetNotFound for its name)."""
    _created(cfn, "change-sets-e", "e")
    ids = {
        name: cfn.create_change_set(
            StackName="change-sets-e",
            ChangeSetName=name,
            ChangeSetType="UPDATE",
            TemplateBody=_template(value),
        )["Id"]
        for name, value in (("one", "e1"), ("two", "e2"))
    }
    assert len(cfn.list_change_sets(StackName="change-sets-e")["Summaries"]) == 2
    cfn.execute_change_set(StackName="change-sets-e", ChangeSetName="two")
    assert cfn.list_change_sets(StackName="change-sets-e")["Summaries"] == []
    with pytest.raises(cfn.exceptions.ChangeSetNotFoundException):
        cfn.describe_change_set(ChangeSetName=ids["one"])
    with pytest.raises(cfn.exceptions.ChangeSetNotFoundException):
        cfn.describe_change_set(StackName="change-sets-e", ChangeSetName="two")
    assert (
        cfn.describe_change_set(ChangeSetName=ids["two"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    )
    ssm = aws.client("ssm")
    assert ssm.get_parameter(Name="change-sets-e2")["Parameter"]["Value"] == "e2"


def test_a_deleted_stacks_change_sets_are_gone(cfn: Any) -> None:
    executed = _created(cfn, "change-sets-h", "h")
    cfn.delete_stack(StackName="change-sets-h")
    for call in (cfn.describe_change_set, cfn.execute_change_set):
        with pytest.raises(cfn.exceptions.ChangeSetNotFoundException):
            call(ChangeSetName=executed)


def test_a_previous_value_is_the_one_given_not_the_one_resolved(aws: Emulator, cfn: Any) -> None:
    """The cdk CLI updates a stack with ``UsePreviousValue`` for ``BootstrapVersion``, an
    SSM-typed parameter: the previous value is the SSM parameter's name, looked up again
    (moto took the resolved value for a name, and its update failed)."""
    aws.client("ssm").put_parameter(Name="/change-sets/version", Value="7", Type="String")

    def template(suffix: str) -> str:
        value = {"Fn::Join": ["-", [{"Ref": "V"}, suffix]]}
        properties = {"Name": f"change-sets-g-{suffix}", "Type": "String", "Value": value}
        resource = {"Type": "AWS::SSM::Parameter", "Properties": properties}
        parameter = {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/change-sets/version",
        }
        return json.dumps({"Parameters": {"V": parameter}, "Resources": {"P": resource}})

    cfn.create_change_set(
        StackName="change-sets-g",
        ChangeSetName=NAME,
        ChangeSetType="CREATE",
        TemplateBody=template("a"),
    )
    cfn.execute_change_set(StackName="change-sets-g", ChangeSetName=NAME)
    for suffix in ("b", "c"):  # the second time, after an UPDATE change set gave the value
        cfn.delete_change_set(StackName="change-sets-g", ChangeSetName=NAME)
        cfn.create_change_set(
            StackName="change-sets-g",
            ChangeSetName=NAME,
            ChangeSetType="UPDATE",
            TemplateBody=template(suffix),
            Parameters=[{"ParameterKey": "V", "UsePreviousValue": True}],
        )
        cfn.execute_change_set(StackName="change-sets-g", ChangeSetName=NAME)
        stack = cfn.describe_stacks(StackName="change-sets-g")["Stacks"][0]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
        value = aws.client("ssm").get_parameter(Name=f"change-sets-g-{suffix}")["Parameter"][
            "Value"
        ]
        assert value == f"7-{suffix}"

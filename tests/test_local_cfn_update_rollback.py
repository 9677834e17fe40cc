"""A stack update whose resource fails rolls back to the stack as it was
(constructs_sm.local.cfn_update_rollback), on the session's emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from constructs_sm.local import Emulator
from tests.test_local_iam_quotas import TRUST, document

STACK = "update-rollback"
#: A repository name ECR refuses (capitals): the resource that fails.
BAD_NAME = "Not_Lowercase"
#: The stack event's reason once a resource fails an update.
UPDATE_REASON = "The following resource(s) failed to update: [{}]. "


def _parameter(name: str, value: str) -> dict[str, Any]:
    properties = {"Name": f"{STACK}-{name}", "Type": "String", "Value": value}
    return {"Type": "AWS::SSM::Parameter", "Properties": properties}


def _repository(name: str) -> dict[str, Any]:
    return {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": name}}


def _template(**resources: dict[str, Any]) -> str:
    return json.dumps({"Resources": resources})


FIRST = _template(Kept=_parameter("kept", "one"), Dropped=_parameter("dropped", "d"))


@pytest.fixture
def cfn(aws: Emulator) -> Iterator[Any]:
    client = aws.client("cloudformation")
    client.create_stack(StackName=STACK, TemplateBody=FIRST)
    yield client
    client.delete_stack(StackName=STACK)


def _status(cfn: Any) -> str:
    return str(cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"])


def _values(aws: Emulator) -> dict[str, str]:
    described = aws.client("ssm").describe_parameters()["Parameters"]
    names = [p["Name"] for p in described if p["Name"].startswith(f"{STACK}-")]
    ssm = aws.client("ssm")
    return {
        n.removeprefix(f"{STACK}-"): ssm.get_parameter(Name=n)["Parameter"]["Value"] for n in names
    }


def _events(cfn: Any) -> list[tuple[str, str, str]]:
    """The events since the last update began, oldest first."""
    events = cfn.describe_stack_events(StackName=STACK)["StackEvents"][::-1]
    begun = max(i for i, e in enumerate(events) if e["ResourceStatus"] == "UPDATE_IN_PROGRESS")
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
        for e in events[begun:]
    ]


def test_a_failed_update_rolls_back_to_the_stack_as_it_was(cfn: Any, aws: Emulator) -> None:
    """UpdateStack answers; what the update created is deleted, what it left out is still
    there (removal is its last phase), the template is the previous one; the stack ends
    UPDATE_ROLLBACK_COMPLETE with the resource's CREATE_FAILED and can be updated again
    (moto alone failed the call, kept New and deleted Dropped, status CREATE_COMPLETE)."""
    update = _template(
        Kept=_parameter("kept", "one"), New=_parameter("new", "n"), Bad=_repository(BAD_NAME)
    )
    assert cfn.update_stack(StackName=STACK, TemplateBody=update)["StackId"]
    assert _status(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    assert _values(aws) == {"kept": "one", "dropped": "d"}
    assert cfn.get_template(StackName=STACK)["TemplateBody"] == json.loads(FIRST)
    events = _events(cfn)
    assert [(logical, status) for logical, status, _ in events] == [
        (STACK, "UPDATE_IN_PROGRESS"),
        ("Bad", "CREATE_FAILED"),
        (STACK, "UPDATE_ROLLBACK_IN_PROGRESS"),
        (STACK, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"),
        (STACK, "UPDATE_ROLLBACK_COMPLETE"),
    ]
    assert events[1][2].startswith('Resource handler returned message: "Invalid parameter')
    assert events[2][2] == "The following resource(s) failed to create: [Bad]. "
    cfn.update_stack(StackName=STACK, TemplateBody=_template(Kept=_parameter("kept", "two")))
    assert _status(cfn) == "UPDATE_COMPLETE"
    assert _values(aws) == {"kept": "two"}


def _role(policy_size: int) -> dict[str, Any]:
    policy = {"PolicyName": "Channels", "PolicyDocument": document(policy_size)}
    properties = {"RoleName": f"{STACK}-role", "AssumeRolePolicyDocument": TRUST}
    return {"Type": "AWS::IAM::Role", "Properties": {**properties, "Policies": [policy]}}


def test_resources_the_update_changed_are_put_back(cfn: Any, aws: Emulator) -> None:
    """A step role's inline policy outgrows IAM's 10,240 characters in an update (a
    pipeline grown by many channels): the parameter the update changed first, and the
    role, are put back as they were."""
    first = {"Kept": _parameter("kept", "one"), "Role": _role(500)}
    cfn.update_stack(StackName=STACK, TemplateBody=_template(**first))
    assert _status(cfn) == "UPDATE_COMPLETE"
    cfn.update_stack(
        StackName=STACK, TemplateBody=_template(Kept=_parameter("kept", "two"), Role=_role(10241))
    )
    assert _status(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    assert _values(aws) == {"kept": "one"}
    iam = aws.client("iam")
    policy = iam.get_role_policy(RoleName=f"{STACK}-role", PolicyName="Channels")
    assert policy["PolicyDocument"] == document(500)
    failed = [e for e in _events(cfn) if e[1] == "UPDATE_FAILED"]
    assert failed == [
        (
            "Role",
            "UPDATE_FAILED",
            'Resource handler returned message: "Maximum policy size of 10240 bytes exceeded '
            f'for role {STACK}-role" (LimitExceeded)',
        )
    ]
    assert (STACK, "UPDATE_ROLLBACK_IN_PROGRESS", UPDATE_REASON.format("Role")) in _events(cfn)


def test_an_update_change_set_that_fails_rolls_back(cfn: Any, aws: Emulator) -> None:
    """The cdk CLI's path: ExecuteChangeSet is accepted, the change set ends
    EXECUTE_FAILED and the stack UPDATE_ROLLBACK_COMPLETE."""
    update = _template(Kept=_parameter("kept", "two"), Bad=_repository(BAD_NAME))
    cfn.create_change_set(
        StackName=STACK, ChangeSetName="failing", ChangeSetType="UPDATE", TemplateBody=update
    )
    cfn.execute_change_set(StackName=STACK, ChangeSetName="failing")
    assert _status(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    change_set = cfn.describe_change_set(StackName=STACK, ChangeSetName="failing")
    assert change_set["ExecutionStatus"] == "EXECUTE_FAILED"
    assert _values(aws) == {"kept": "one", "dropped": "d"}


def test_an_error_no_resource_raised_still_fails_the_update(cfn: Any, aws: Emulator) -> None:
    """A template refused before anything changes (a parameter without a value) fails the
    call, as on AWS, and leaves the stack as it was (moto alone kept the new template)."""
    refused = json.loads(FIRST) | {"Parameters": {"Required": {"Type": "String"}}}
    with pytest.raises(botocore.exceptions.ClientError, match="Missing parameter Required"):
        cfn.update_stack(StackName=STACK, TemplateBody=json.dumps(refused))
    assert _status(cfn) == "CREATE_COMPLETE"
    assert cfn.get_template(StackName=STACK)["TemplateBody"] == json.loads(FIRST)
    cfn.update_stack(StackName=STACK, TemplateBody=_template(Kept=_parameter("kept", "two")))
    assert _status(cfn) == "UPDATE_COMPLETE"
    assert _values(aws) == {"kept": "two"}


def _vpc(cidr: str) -> dict[str, Any]:
    return {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}}


def _subnet(cidr: str) -> dict[str, Any]:
    properties = {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr}
    return {"Type": "AWS::EC2::Subnet", "Properties": properties}


def _vpcs(aws: Emulator) -> set[str]:
    return {v["CidrBlock"] for v in aws.client("ec2").describe_vpcs()["Vpcs"]}


def test_the_cleanup_deletes_in_passes(cfn: Any, aws: Emulator) -> None:
    """A VPC and its subnet left out: the VPC is deleted once the subnet is (a first
    attempt fails on the dependency)."""
    with_vpc = json.loads(FIRST)["Resources"] | {
        "Vpc": _vpc("10.71.0.0/16"),
        "Sub": _subnet("10.71.1.0/24"),
    }
    cfn.update_stack(StackName=STACK, TemplateBody=_template(**with_vpc))
    assert "10.71.0.0/16" in _vpcs(aws)
    cfn.update_stack(StackName=STACK, TemplateBody=_template(Kept=_parameter("kept", "two")))
    assert _status(cfn) == "UPDATE_COMPLETE"
    assert "10.71.0.0/16" not in _vpcs(aws)


def test_what_the_cleanup_leaves(cfn: Any, aws: Emulator) -> None:
    """A resource left out with DeletionPolicy Retain is kept (CloudFormation retains it),
    and so is a named resource moved to another logical id (the new one holds it)."""
    retained = _parameter("retained", "r") | {"DeletionPolicy": "Retain"}
    machine = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineName": f"{STACK}-machine",
            "DefinitionString": json.dumps(
                {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
            ),
            "RoleArn": "arn:aws:iam::123456789012:role/machine",
        },
    }
    cfn.update_stack(
        StackName=STACK,
        TemplateBody=_template(Kept=_parameter("kept", "one"), Retained=retained, Old=machine),
    )
    cfn.update_stack(
        StackName=STACK, TemplateBody=_template(Kept=_parameter("kept", "one"), New=machine)
    )
    assert _status(cfn) == "UPDATE_COMPLETE"
    assert _values(aws) == {"kept": "one", "retained": "r"}
    machines = aws.client("stepfunctions").list_state_machines()["stateMachines"]
    assert f"{STACK}-machine" in [m["name"] for m in machines]
    aws.client("ssm").delete_parameter(Name=f"{STACK}-retained")


def test_an_undo_resolves_the_previous_templates_conditions(cfn: Any, aws: Emulator) -> None:
    """The update drops a condition the previous template's values use, changes such a
    value, then fails: putting the value back resolves it against the previous template
    (it failed with KeyError 'Yes', UPDATE_ROLLBACK_FAILED, the new value kept)."""
    conditional = _parameter("kept", "")
    conditional["Properties"]["Value"] = {"Fn::If": ["Yes", "from-condition", "other"]}
    first = {
        "Conditions": {"Yes": {"Fn::Equals": ["a", "a"]}},
        "Resources": {"Kept": conditional, "Role": _role(500)},
    }
    cfn.update_stack(StackName=STACK, TemplateBody=json.dumps(first))
    assert _values(aws) == {"kept": "from-condition"}
    cfn.update_stack(
        StackName=STACK, TemplateBody=_template(Kept=_parameter("kept", "two"), Role=_role(10241))
    )
    assert _status(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    assert _values(aws) == {"kept": "from-condition"}


def test_an_undo_deletes_what_it_created_last_first(cfn: Any, aws: Emulator) -> None:
    """A subnet listed before its VPC, both added by an update that fails: moto creates
    the VPC first (the subnet refers to it); the undo deletes the subnet first."""
    update = json.loads(FIRST)["Resources"] | {
        "Sub": _subnet("10.72.1.0/24"),
        "Vpc": _vpc("10.72.0.0/16"),
        "Bad": _repository(BAD_NAME),
    }
    cfn.update_stack(StackName=STACK, TemplateBody=_template(**update))
    assert _status(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    assert "10.72.0.0/16" not in _vpcs(aws)


def test_what_the_cleanup_cannot_delete_is_reported(
    cfn: Any, aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update succeeds; the resource gets a DELETE_FAILED event with the reason."""
    from moto.ssm import models as ssm_models

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected: cannot delete")

    monkeypatch.setattr(
        ssm_models.Parameter, "delete_from_cloudformation_json", classmethod(refuse)
    )
    monkeypatch.setattr(ssm_models.Parameter, "delete", refuse, raising=False)
    cfn.update_stack(StackName=STACK, TemplateBody=_template(Kept=_parameter("kept", "one")))
    monkeypatch.undo()
    assert _status(cfn) == "UPDATE_COMPLETE"
    failed = [e for e in _events(cfn) if e[1] == "DELETE_FAILED"]
    assert failed == [
        (
            "Dropped",
            "DELETE_FAILED",
            'Resource handler returned message: "injected: cannot delete" (RuntimeError)',
        )
    ]
    aws.client("ssm").delete_parameter(Name=f"{STACK}-dropped")

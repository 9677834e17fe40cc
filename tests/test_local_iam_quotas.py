"""IAM's size quotas enforced in the emulator (constructs_sm.local.iam_quotas) and a stack
whose resource IAM refuses rolled back (constructs_sm.local.cfn_rollback), on the session's
emulator: each limit passes at the quota and fails one character (or policy) over."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from constructs_sm.local import Emulator, cfn_rollback, iam_quotas
from constructs_sm.local.cfn_deploy import AssemblyDeployer
from constructs_sm.local.deploy import DeployError
from tests.assemblies import write_one_stack
from tests.local_deployment import Deployed

TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def document(size: int, *, pad: str = "x") -> dict[str, Any]:
    """A policy of exactly ``size`` characters as IAM counts them (no white space)."""
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::"}
    base: dict[str, Any] = {"Version": "2012-10-17", "Statement": [statement]}
    missing = size - iam_quotas.policy_size(json.dumps(base, separators=(",", ":")))
    assert missing >= 0
    statement["Resource"] += pad * missing
    return base


def trust(size: int) -> dict[str, Any]:
    """A trust policy of exactly ``size`` characters as IAM counts them."""
    base: dict[str, Any] = json.loads(json.dumps(TRUST))
    base["Statement"][0]["Sid"] = ""
    missing = size - iam_quotas.policy_size(json.dumps(base, separators=(",", ":")))
    base["Statement"][0]["Sid"] = "A" * missing
    return base


def pretty(policy: dict[str, Any]) -> str:
    """The document with white space IAM does not count."""
    return json.dumps(policy, indent=4)


@pytest.fixture
def role(aws: Emulator, request: pytest.FixtureRequest) -> Iterator[str]:
    """A role of this test's own, deleted afterwards with its policies."""
    name = f"quota-{request.node.name[5:45]}".replace("[", "-").replace("]", "")
    client = aws.client("iam")
    client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    yield name
    for policy in client.list_role_policies(RoleName=name)["PolicyNames"]:
        client.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        client.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    client.delete_role(RoleName=name)


def _refused(error: pytest.ExceptionInfo[botocore.exceptions.ClientError], message: str) -> None:
    response = error.value.response
    assert response["Error"]["Code"] == "LimitExceeded"
    assert response["Error"]["Message"] == message
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_white_space_is_not_counted_anywhere_and_everything_else_is() -> None:
    assert iam_quotas.policy_size('{"a": "b c"}') == len('{"a":"bc"}')
    assert iam_quotas.policy_size('{\n\t"a":\r\n "b"}') == len('{"a":"b"}')
    assert iam_quotas.policy_size('{"a":"\\u00e9\u00a0"}') == len('{"a":"\\u00e9"}') + 1
    assert iam_quotas.policy_size({"a": "b"}) == len('{"a":"b"}')


def test_the_quotas_are_those_get_account_summary_reports(aws: Emulator) -> None:
    summary = aws.client("iam").get_account_summary()["SummaryMap"]
    assert {key: summary[key] for key in iam_quotas.QUOTA_ATTRIBUTES} == {
        "RolePolicySizeQuota": 10240,
        "PolicySizeQuota": 6144,
        "AttachedPoliciesPerRoleQuota": 10,
        "AssumeRolePolicySizeQuota": 2048,
    }


def test_a_roles_inline_policies_hold_10240_characters_together(aws: Emulator, role: str) -> None:
    client = aws.client("iam")
    client.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=pretty(document(4000)))
    client.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=pretty(document(6240)))
    # Replacing a policy counts its new document only.
    client.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=pretty(document(6240)))
    with pytest.raises(botocore.exceptions.ClientError) as error:
        client.put_role_policy(RoleName=role, PolicyName="c", PolicyDocument=pretty(document(200)))
    _refused(error, f"Maximum policy size of 10240 bytes exceeded for role {role}")
    with pytest.raises(botocore.exceptions.ClientError) as error:
        client.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=pretty(document(6241)))
    _refused(error, f"Maximum policy size of 10240 bytes exceeded for role {role}")
    assert sorted(client.list_role_policies(RoleName=role)["PolicyNames"]) == ["a", "b"]


def test_a_managed_policy_holds_6144_characters(aws: Emulator) -> None:
    client = aws.client("iam")
    arn = client.create_policy(PolicyName="quota-6144", PolicyDocument=pretty(document(6144)))[
        "Policy"
    ]["Arn"]
    try:
        with pytest.raises(botocore.exceptions.ClientError) as error:
            client.create_policy(PolicyName="quota-6145", PolicyDocument=pretty(document(6145)))
        _refused(error, "Cannot exceed quota for PolicySize: 6144")
        with pytest.raises(botocore.exceptions.ClientError) as error:
            client.create_policy_version(
                PolicyArn=arn, PolicyDocument=pretty(document(6145)), SetAsDefault=True
            )
        _refused(error, "Cannot exceed quota for PolicySize: 6144")
        client.create_policy_version(
            PolicyArn=arn, PolicyDocument=pretty(document(6144, pad="y")), SetAsDefault=True
        )
    finally:
        for version in client.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                client.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        client.delete_policy(PolicyArn=arn)


def test_a_role_has_at_most_10_managed_policies(aws: Emulator, role: str) -> None:
    client = aws.client("iam")
    arns = [
        client.create_policy(
            PolicyName=f"quota-attach-{n}", PolicyDocument=json.dumps(document(200))
        )["Policy"]["Arn"]
        for n in range(11)
    ]
    try:
        for arn in arns[:10]:
            client.attach_role_policy(RoleName=role, PolicyArn=arn)
        client.attach_role_policy(RoleName=role, PolicyArn=arns[0])  # already attached
        with pytest.raises(botocore.exceptions.ClientError) as error:
            client.attach_role_policy(RoleName=role, PolicyArn=arns[10])
        _refused(error, "Cannot exceed quota for PoliciesPerRole: 10")
        attached = client.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert len(attached) == 10
    finally:
        for arn in arns:
            with contextlib.suppress(client.exceptions.NoSuchEntityException):
                client.detach_role_policy(RoleName=role, PolicyArn=arn)
            client.delete_policy(PolicyArn=arn)


def test_a_trust_policy_holds_2048_characters(aws: Emulator, role: str) -> None:
    client = aws.client("iam")
    client.update_assume_role_policy(RoleName=role, PolicyDocument=pretty(trust(2048)))
    with pytest.raises(botocore.exceptions.ClientError) as error:
        client.update_assume_role_policy(RoleName=role, PolicyDocument=pretty(trust(2049)))
    _refused(error, "Cannot exceed quota for ACLSizePerRole: 2048")
    with pytest.raises(botocore.exceptions.ClientError) as error:
        client.create_role(
            RoleName="quota-trust-2049", AssumeRolePolicyDocument=pretty(trust(2049))
        )
    _refused(error, "Cannot exceed quota for ACLSizePerRole: 2048")
    client.create_role(RoleName="quota-trust-2048", AssumeRolePolicyDocument=pretty(trust(2048)))
    client.delete_role(RoleName="quota-trust-2048")


def _role_resource(name: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"RoleName": name, "AssumeRolePolicyDocument": TRUST, **properties},
    }


def _managed(size: int, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": document(size), **properties},
    }


CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "role Policies": (
        {
            "Role": _role_resource(
                "quota-cfn-inline",
                Policies=[
                    {"PolicyName": "a", "PolicyDocument": document(5120)},
                    {"PolicyName": "b", "PolicyDocument": document(5121)},
                ],
            )
        },
        "Role",
        "Maximum policy size of 10240 bytes exceeded for role quota-cfn-inline",
    ),
    "AWS::IAM::Policy": (
        {
            "Role": _role_resource(
                "quota-cfn-policy",
                Policies=[{"PolicyName": "a", "PolicyDocument": document(10000)}],
            ),
            "Extra": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "Extra",
                    "PolicyDocument": document(300),
                    "Roles": [{"Ref": "Role"}],
                },
            },
        },
        "Extra",
        "Maximum policy size of 10240 bytes exceeded for role quota-cfn-policy",
    ),
    "AWS::IAM::ManagedPolicy": (
        {"Shared": _managed(6145)},
        "Shared",
        "Cannot exceed quota for PolicySize: 6144",
    ),
    "ManagedPolicyArns": (
        {
            **{f"P{n}": _managed(200) for n in range(11)},
            "Role": _role_resource(
                "quota-cfn-arns", ManagedPolicyArns=[{"Ref": f"P{n}"} for n in range(11)]
            ),
        },
        "Role",
        "Cannot exceed quota for PoliciesPerRole: 10",
    ),
}


def _failure_reasons(cfn: Any, stack: str) -> dict[str, str]:
    """The ``ResourceStatusReason`` of each resource of ``stack`` that ended CREATE_FAILED."""
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return {
        e["LogicalResourceId"]: e["ResourceStatusReason"]
        for e in events
        if e["ResourceStatus"] == "CREATE_FAILED"
    }


@pytest.mark.parametrize("case", list(CASES))
def test_a_stack_iam_refuses_rolls_back_naming_the_quota(aws: Emulator, case: str) -> None:
    """CreateStack succeeds; the resource ends CREATE_FAILED with IAM's message and the
    stack ROLLBACK_COMPLETE, nothing it created left (moto alone answered CreateStack
    with the error and left the stack CREATE_IN_PROGRESS)."""
    resources, failed, message = CASES[case]
    cfn, client = aws.client("cloudformation"), aws.client("iam")
    name = "quota-" + case.replace(" ", "-").replace(":", "")
    before = {p["Arn"] for p in client.list_policies(Scope="Local")["Policies"]}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": resources}))
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = _failure_reasons(cfn, name)
    assert reasons == {failed: f'Resource handler returned message: "{message}" (LimitExceeded)'}
    roles = [r["RoleName"] for r in client.list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith("quota-cfn-")]
    assert {p["Arn"] for p in client.list_policies(Scope="Local")["Policies"]} == before
    cfn.delete_stack(StackName=name)


def test_a_change_set_creating_a_stack_iam_refuses_rolls_back(aws: Emulator) -> None:
    """The cdk CLI's path (a CREATE change set, then ExecuteChangeSet): the execution is
    accepted, the change set ends EXECUTE_FAILED and the stack ROLLBACK_COMPLETE, the
    resource CREATE_FAILED with IAM's message (moto alone failed ExecuteChangeSet)."""
    resources, failed, message = CASES["role Policies"]
    cfn, client = aws.client("cloudformation"), aws.client("iam")
    name = "quota-change-set"
    cfn.create_change_set(
        StackName=name,
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": resources}),
    )
    cfn.execute_change_set(ChangeSetName="create", StackName=name)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    change_set = cfn.describe_change_set(ChangeSetName="create", StackName=name)
    assert change_set["ExecutionStatus"] == "EXECUTE_FAILED"
    reasons = _failure_reasons(cfn, name)
    assert reasons == {failed: f'Resource handler returned message: "{message}" (LimitExceeded)'}
    assert "quota-cfn-inline" not in [r["RoleName"] for r in client.list_roles()["Roles"]]
    cfn.delete_stack(StackName=name)


def test_an_error_no_resource_raised_still_fails_the_call(aws: Emulator) -> None:
    """A template CloudFormation refuses before creating anything: the call fails."""
    assert cfn_rollback.failed_resource(RuntimeError("not a resource's")) is None
    with pytest.raises(botocore.exceptions.ClientError):
        aws.client("cloudformation").create_stack(
            StackName="quota-bad",
            TemplateBody=json.dumps(
                {"Parameters": {"P": {"Type": "String"}},
                 "Resources": {"R": {"Type": "AWS::SSM::Parameter",
                                     "Properties": {"Type": "String", "Value": {"Ref": "P"}}}}}
            ),
        )  # fmt: skip


def test_the_deployer_reports_a_role_over_its_inline_quota(
    deployed: Deployed, tmp_path: Path
) -> None:
    """A hand-written assembly deployed by the built-in deployer: the deploy fails, naming
    the resource and IAM's limit; deployed again (fixed), the rolled-back stack is
    replaced."""
    policies = [
        {"PolicyName": "a", "PolicyDocument": document(6000)},
        {"PolicyName": "b", "PolicyDocument": document(4241)},
    ]
    resources = {"StepRole": _role_resource("quota-deploy-role", Policies=policies)}
    assembly = write_one_stack(tmp_path, "CsmQuotaRole", resources)
    deployer = AssemblyDeployer(deployed.emulator, project_dir=tmp_path)
    deployer.bootstrap(assembly)
    with pytest.raises(
        DeployError,
        match=r"(?s)CsmQuotaRole' ended ROLLBACK_COMPLETE.*StepRole: .*"
        r"Maximum policy size of 10240 bytes exceeded for role quota-deploy-role",
    ):
        deployer.deploy(assembly, ["CsmQuotaRole"])
    policies[1]["PolicyDocument"] = document(4240)
    assembly = write_one_stack(tmp_path, "CsmQuotaRole", resources)
    deployer.deploy(assembly, ["CsmQuotaRole"])
    client = deployed.emulator.client("iam")
    assert sorted(client.list_role_policies(RoleName="quota-deploy-role")["PolicyNames"]) == [
        "a",
        "b",
    ]
    deployed.emulator.client("cloudformation").delete_stack(StackName="CsmQuotaRole")

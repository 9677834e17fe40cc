"""IAM enforced in the emulator: the moto patches, the engine acting as SageMaker and Step
Functions, and what moto 5.2.5 alone got wrong (one bare emulator, no deploy)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from typing import Any

import botocore.config
import botocore.exceptions
import pytest

from constructs_sm.local import Emulator, iam
from tests.local_deployment import ROOT, Deployed, create_role

ACCOUNT = "123456789012"
BUCKET = "iam-probe-bucket"


def _code(error: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_integration_points_exist_with_the_expected_shape() -> None:
    iam.check_integration_points()
    for name in iam.CLIENT_USERS:
        assert hasattr(importlib.import_module(name), "boto_client_for"), name


def test_without_enforcement_nothing_is_checked_and_moto_is_untouched() -> None:
    _in_own_process("without_enforcement")


def test_the_emulator_enforces_iam_by_default_and_restores_moto_when_it_stops() -> None:
    _in_own_process("enforced_by_default")


def _in_own_process(check: str) -> None:
    """Run a check of tests/local_iam_lifecycle.py in a process of its own: it starts and
    stops an emulator, and one process holds one (the session's is running here)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.local_iam_lifecycle", check],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"{check}: ok"


@pytest.fixture(scope="module")
def aws(deployed: Deployed) -> Emulator:
    """The session's emulator (IAM enforced), with a bucket of this module's own."""
    emulator = deployed.emulator
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    for key in ("Churn/a/b/e1/x.csv", "Churn/a/c/e1/x.csv", "allowed/x.json", "other/x.json"):
        emulator.client("s3").put_object(Bucket=BUCKET, Key=key, Body=b'{"v": 1}')
    return emulator


def _client(aws: Emulator, service: str, credentials: iam.Credentials) -> Any:
    return credentials.session(aws.region).client(service, endpoint_url=aws.endpoint)


def _user(aws: Emulator, name: str, *statements: dict[str, Any]) -> iam.Credentials:
    client = aws.client("iam")
    client.create_user(UserName=name)
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    client.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    key = client.create_access_key(UserName=name)["AccessKey"]
    return iam.Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _role(aws: Emulator, name: str, trust: dict[str, Any], *statements: dict[str, Any]) -> str:
    return create_role(aws, name, trust, *statements, path="/constructs-sm/probe/")


def test_s3_prefix_conditions_limit_listing(aws: Emulator) -> None:
    """A step's read grant; moto alone let it list (and its Allow read) every prefix."""
    reader = _user(
        aws,
        "reader",
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/Churn/a/b/*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{BUCKET}",
            "Condition": {"StringLike": {"s3:prefix": ["Churn/a/b/*"]}},
        },
    )
    s3 = _client(aws, "s3", reader)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="Churn/a/b/")["Contents"]]
    assert s3.get_object(Bucket=BUCKET, Key="Churn/a/b/e1/x.csv")["ContentLength"] == 8
    for prefix in ("Churn/a/c/", "Churn/", ""):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        assert _code(refused) == "AccessDenied", prefix
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key="Churn/a/c/e1/x.csv")
    assert _code(refused) == "AccessDenied"


def test_a_tls_only_deny_refuses_every_call_on_plain_http(aws: Emulator) -> None:
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    tls_only = {
        "Effect": "Deny",
        "Action": "s3:PutObject",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3 = _client(aws, "s3", _user(aws, "tls", everything, tls_only))
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.put_object(Bucket=BUCKET, Key="other/y", Body=b"y")
    assert _code(refused) == "AccessDenied"
    secure_only = {**tls_only, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    s3 = _client(aws, "s3", _user(aws, "tls-true", everything, secure_only))
    s3.put_object(Bucket=BUCKET, Key="other/y", Body=b"y")


def test_a_grant_for_aws_resources_only_refuses_a_direct_create_grant(aws: Emulator) -> None:
    key_id = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    condition = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    grant = {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*"}
    kms = _client(aws, "kms", _user(aws, "granter", {**grant, "Condition": condition}))
    arguments = {
        "KeyId": key_id,
        "GranteePrincipal": "arn:aws:iam::1:root",
        "Operations": ["Decrypt"],
    }
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        kms.create_grant(**arguments)
    # moto answers JSON services' denials with an XML body: botocore sees only the 403.
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    _client(aws, "kms", _user(aws, "granter-any", grant)).create_grant(**arguments)


def test_assume_role_through_the_api_checks_the_trust(aws: Emulator) -> None:
    """moto alone answers a 500 (TypeError) for a role trusted by a service only."""
    service_only = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    read = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/allowed/*",
    }
    service_role = _role(aws, "service-only", service_only, read)
    sts = aws.client("sts")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        sts.assume_role(RoleArn=service_role, RoleSessionName="session")
    assert _code(refused) == "AccessDenied"
    admin = f"arn:aws:iam::{ACCOUNT}:user/{iam.ADMIN_USER}"
    user_trust = {"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "sts:AssumeRole"}
    user_role = _role(aws, "user-trusted", user_trust, read)
    keys = sts.assume_role(RoleArn=user_role, RoleSessionName="session")["Credentials"]
    s3 = _client(
        aws,
        "s3",
        iam.Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"]),
    )
    assert s3.get_object(Bucket=BUCKET, Key="allowed/x.json")["ContentLength"] == 8
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key="other/x.json")
    assert _code(refused) == "AccessDenied"


def _sagemaker_trust(pattern: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": pattern},
        },
    }


def test_the_engine_assumes_a_step_role_as_sagemaker_for_its_jobs_only(aws: Emulator) -> None:
    jobs = f"arn:aws:sagemaker:{aws.region}:{ACCOUNT}:processing-job/probe-step-"
    read = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/allowed/*",
    }
    role = _role(aws, "step-role", _sagemaker_trust(jobs + "*"), read)
    credentials = iam.assume_as_service(
        service=iam.SAGEMAKER, role_arn=role, source_arn=jobs + "0a1b", session_name="job-1"
    )
    assert credentials.session_token
    s3 = _client(aws, "s3", credentials)
    assert s3.get_object(Bucket=BUCKET, Key="allowed/x.json")["ContentLength"] == 8
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket=BUCKET, Key="other/x.json")
    refusals = [
        (iam.SAGEMAKER, role, jobs.replace("probe-step", "other-step") + "0a1b"),
        (iam.SAGEMAKER, role, jobs.replace(ACCOUNT, "999999999999") + "0a1b"),
        (iam.STATES, role, jobs + "0a1b"),
        (iam.SAGEMAKER, role.replace("step-role", "no-such-role"), jobs + "0a1b"),
    ]
    for service, role_arn, source_arn in refusals:
        with pytest.raises(iam.AccessDeniedError):
            iam.assume_as_service(
                service=service, role_arn=role_arn, source_arn=source_arn, session_name="job"
            )


def _run(aws: Emulator, machine_arn: str) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
    return dict(described)


def test_aws_sdk_tasks_sign_with_the_execution_role(aws: Emulator) -> None:
    """moto signs them with the fixed keys ak/sk; AWS with the state machine's role."""
    machine_arn = f"arn:aws:states:{aws.region}:{ACCOUNT}:stateMachine:sdk-probe"
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "states.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": machine_arn},
        },
    }
    read = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/allowed/*",
    }
    role = _role(aws, "machine-role", trust, read)

    def get(key: str, next_state: str) -> dict[str, Any]:
        result = f"$.{key.split('/')[0]}"
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": BUCKET, "Key": key},
            "ResultSelector": {"body.$": "States.StringToJson($.Body)"},
            "ResultPath": result,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": result, "Next": next_state}],
            "Next": next_state,
        }

    definition = {
        "StartAt": "Allowed",
        "States": {
            "Allowed": get("allowed/x.json", "Other"),
            "Other": get("other/x.json", "Done"),
            "Done": {"Type": "Pass", "End": True},
        },
    }
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="sdk-probe", definition=json.dumps(definition), roleArn=role
    )
    assert machine["stateMachineArn"] == machine_arn
    output = json.loads(_run(aws, machine_arn)["output"])
    assert output["allowed"] == {"body": {"v": 1}}
    assert "AccessDenied" in output["other"]["Error"], output["other"]
    # Another state machine cannot use the role: its trust names sdk-probe only.
    other = sfn.create_state_machine(
        name="sdk-other", definition=json.dumps(definition), roleArn=role
    )
    output = json.loads(_run(aws, other["stateMachineArn"])["output"])
    assert "is not authorized to perform sts:AssumeRole" in output["allowed"]["Cause"]


def test_calls_without_a_state_machine_act_for_the_one_machine_of_their_role(
    aws: Emulator,
) -> None:
    """A Map's ItemReader (and other non-aws-sdk calls) name no state machine in moto: the
    role is assumed for the one state machine it runs, and for none when it runs several."""
    sfn = aws.client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    own = f"arn:aws:iam::{ACCOUNT}:role/one-machine"
    shared = f"arn:aws:iam::{ACCOUNT}:role/two-machines"
    arns = [
        sfn.create_state_machine(name=name, definition=definition, roleArn=role)["stateMachineArn"]
        for name, role in (("only", own), ("first", shared), ("second", shared))
    ]
    assert iam._machine_of_role(own, aws.region) == arns[0]
    assert iam._machine_of_role(shared, aws.region).endswith(":stateMachine:")


def test_a_cloudformation_role_holds_its_inline_and_managed_policies(aws: Emulator) -> None:
    """moto alone stores ``Policies`` as a Python dict and ignores ``ManagedPolicyArns``;
    the deployed role holds both as the IAM API would (constructs_sm.local.cfn_fixes)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
             "Action": "sts:AssumeRole"}
        ],
    }  # fmt: skip
    template = {
        "Resources": {
            "Shared": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"PolicyDocument": document},
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "cfn-policies-role",
                    "AssumeRolePolicyDocument": trust,
                    "Policies": [{"PolicyName": "Inline", "PolicyDocument": document}],
                    "ManagedPolicyArns": [
                        {"Ref": "Shared"},
                        "arn:aws:iam::aws:policy/NotInTheEmulator",
                    ],
                },
            },
        }
    }
    cfn = aws.client("cloudformation")
    cfn.create_stack(StackName="cfn-role-policies", TemplateBody=json.dumps(template))
    client = aws.client("iam")
    inline = client.get_role_policy(RoleName="cfn-policies-role", PolicyName="Inline")
    assert inline["PolicyDocument"] == document
    attached = client.list_attached_role_policies(RoleName="cfn-policies-role")
    assert [p["PolicyArn"].split("/")[-1] for p in attached["AttachedPolicies"]] == [
        p["PhysicalResourceId"].split("/")[-1]
        for p in cfn.describe_stack_resources(StackName="cfn-role-policies")["StackResources"]
        if p["LogicalResourceId"] == "Shared"
    ]


def _wait_stack(cfn: Any, name: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        except botocore.exceptions.ClientError:
            return "DELETED"
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status


def test_a_role_update_changes_only_what_its_properties_gave_and_a_delete_detaches(
    aws: Emulator,
) -> None:
    """An update (moto passes its arguments by keyword) replaces the role's own inline and
    managed policies and leaves a policy another resource put on it; a delete detaches
    the managed policies first (IAM refuses to delete a role with attached ones); a state
    machine's changed definition is updated too."""
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }

    def template(inline: str, managed: str, definition: str) -> str:
        resources: dict[str, Any] = {
            "First": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": allow}},
            "Second": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": allow}},
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "cfn-updated-role",
                    "AssumeRolePolicyDocument": trust,
                    "Policies": [{"PolicyName": inline, "PolicyDocument": allow}],
                    "ManagedPolicyArns": [{"Ref": managed}],
                },
            },
            "Extra": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "Extra",
                    "PolicyDocument": allow,
                    "Roles": [{"Ref": "Role"}],
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "cfn-updated-machine",
                    "DefinitionString": definition,
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            },
        }
        return json.dumps({"Resources": resources})

    def pass_state(name: str) -> str:
        return json.dumps({"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}})

    cfn, client = aws.client("cloudformation"), aws.client("iam")
    stack = "cfn-role-update"
    cfn.create_stack(StackName=stack, TemplateBody=template("Old", "First", pass_state("A")))
    assert _wait_stack(cfn, stack) == "CREATE_COMPLETE"
    cfn.update_stack(StackName=stack, TemplateBody=template("New", "Second", pass_state("B")))
    assert _wait_stack(cfn, stack) == "UPDATE_COMPLETE"
    names = client.list_role_policies(RoleName="cfn-updated-role")["PolicyNames"]
    assert sorted(names) == ["Extra", "New"]
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
    }
    attached = client.list_attached_role_policies(RoleName="cfn-updated-role")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [physical["Second"]]
    sfn = aws.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=physical["Machine"])
    assert json.loads(machine["definition"])["StartAt"] == "B"
    cfn.delete_stack(StackName=stack)
    assert _wait_stack(cfn, stack) in ("DELETE_COMPLETE", "DELETED")
    with pytest.raises(botocore.exceptions.ClientError):
        client.get_role(RoleName="cfn-updated-role")


def test_clients_from_the_shared_session_sign_with_their_own_keys(aws: Emulator) -> None:
    """Credentials.client makes every client from one session: each must still sign with
    the keys it was made for (a job's with its role's, the next one's with its own)."""
    allowed = _user(aws, "lister", {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
    nobody = _user(aws, "nobody", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    config = botocore.config.Config(retries={"max_attempts": 1})
    clients = [
        (keys, keys.client("s3", aws.region, endpoint_url=aws.endpoint, config=config))
        for keys in (allowed, nobody, allowed, nobody)
    ]
    for keys, s3 in clients:
        if keys is allowed:
            s3.list_objects_v2(Bucket=BUCKET, Prefix="other/")
        else:
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                s3.list_objects_v2(Bucket=BUCKET, Prefix="other/")
            assert _code(refused) == "AccessDenied"


def test_a_pooled_client_signs_with_the_keys_it_is_lent_with(aws: Emulator) -> None:
    """ClientPool lends the same client to one job after another (the jobs' channels):
    each time it signs with its borrower's keys, and given back it signs with none."""
    allowed = _user(aws, "pool-lister", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    nobody = _user(aws, "pool-nobody", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    config = botocore.config.Config(retries={"max_attempts": 1})
    pool = iam.ClientPool("s3", aws.region, endpoint_url=aws.endpoint, config=config)
    first = pool.take(allowed)
    first.list_objects_v2(Bucket=BUCKET, Prefix="other/")
    pool.give_back(first)
    with pytest.raises(botocore.exceptions.NoCredentialsError):
        first.list_objects_v2(Bucket=BUCKET, Prefix="other/")
    second = pool.take(nobody)
    assert second is first
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        second.list_objects_v2(Bucket=BUCKET, Prefix="other/")
    assert _code(refused) == "AccessDenied"
    assert pool.take(allowed) is not second  # lent out: a new one
    pool.give_back(second)
    assert pool.take(allowed) is second
    second.list_objects_v2(Bucket=BUCKET, Prefix="other/")

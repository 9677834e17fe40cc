"""Negative tests of our pack (``ProcessingPipelineChecks``), on stacks that do not use
constructs_sm (``tests.nag.handmade``): a hand-made bucket (L2 ``s3.Bucket`` or raw
``CfnBucket``), hand-written IAM and a hand-written ``sfn.CustomState`` processing job.

One app holds a compliant baseline stack and one stack per insecure variant; the pack
validates the whole app once (``pack.validate_scope(app)``) and each test asserts on the
report's violations of one stack: an insecure variant makes exactly its rule fire, the
baseline makes none fire.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from constructs_sm.nag import (
    PACK_NAME,
    REQUIRED_RETRIES,
    RULES,
    ProcessingPipelineChecks,
    Rule,
    acknowledge,
    check_stack,
    model_from_template,
)
from constructs_sm.nag import pack as pack_module
from constructs_sm.nag.rules import bucket, job, state_machine, task
from constructs_sm.nag.rules import iam as iam_rules
from tests.nag.handmade import (
    JOB_RESOURCE,
    STATE,
    Variant,
    build,
    build_hand_made,
    build_unrelated,
    job_parameters,
)

#: Object actions added to a job role on its own output prefix (issue 10).
OBJECT_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging")
#: Bucket administration allowed to a job role on the channel bucket (issue 10).
BUCKET_ADMIN = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:DeleteBucket",
)


def rule(name: str) -> str:
    return f"{PACK_NAME}-{name}"


def job_rule(name: str) -> str:
    """A per-state finding: the state's name with ``-`` for spaces."""
    return f"{PACK_NAME}-{name}[{STATE.replace(' ', '-')}]"


#: Variant name -> (settings, the rule ids that must fire).
VARIANTS: Mapping[str, tuple[Variant, set[str]]] = {
    "Baseline": (Variant(), set()),
    "RawL1Bucket": (Variant(raw_bucket=True), set()),
    "NvmeWithoutVolumeKey": (Variant(instance_type="ml.m5d.xlarge", volume_key=False), set()),
    "MultiInstanceEncrypted": (Variant(instance_count=2, inter_container=True), set()),
    "SseS3": (Variant(kms_encryption=False), {rule("ChannelBucketSseKms")}),
    "NoKeyRotation": (Variant(key_rotation=False), {rule("ChannelBucketKeyRotation")}),
    "NoBucketKey": (Variant(bucket_key=False), {rule("ChannelBucketBucketKey")}),
    "NoTlsPolicy": (Variant(enforce_ssl=False), {rule("ChannelBucketTlsOnly")}),
    "TlsOnObjectsOnly": (Variant(ssl_objects_only=True), {rule("ChannelBucketTlsOnly")}),
    "PublicAccessAllowed": (
        Variant(block_public_access=False),
        {rule("ChannelBucketPublicAccessBlock")},
    ),
    "AclsEnabled": (Variant(owner_enforced=False), {rule("ChannelBucketOwnerEnforced")}),
    "Unversioned": (
        # Noncurrent versions cannot exist without versioning; the rule stays as it is.
        Variant(versioned=False),
        {rule("ChannelBucketVersioning")},
    ),
    "NoAccessLogs": (Variant(access_logs=False), {rule("ChannelBucketAccessLogs")}),
    "NoRunExpiry": (Variant(expire_current=False), {rule("ChannelBucketLifecycle")}),
    "NoNoncurrentExpiry": (Variant(expire_noncurrent=False), {rule("ChannelBucketLifecycle")}),
    "NoMultipartAbort": (Variant(abort_multipart=False), {rule("ChannelBucketLifecycle")}),
    "LifecycleOnOtherPrefix": (
        Variant(lifecycle_prefix="unrelated/"),
        {rule("ChannelBucketLifecycle")},
    ),
    "LifecycleOnWholeBucket": (Variant(lifecycle_prefix=""), set()),
    "PolicyAllowsAnotherAccount": (
        Variant(bucket_policy_account="111122223333"),
        {rule("ChannelBucketPolicyPrincipals[AWS::arn:aws:iam::111122223333:root]")},
    ),
    "DataSourceKept": (Variant(data_source="landing/"), set()),
    "LifecycleExpiresDataSource": (
        Variant(data_source="landing/", lifecycle_prefix=""),
        {rule("ChannelBucketDataSourceExpiry[DataSource::landing/]")},
    ),
    "S3Wildcard": (Variant(s3_wildcard=True), {rule("IamNoS3Wildcard[Action::s3:*]")}),
    "JobDeletesAndTagsItsOutputs": (
        Variant(job_object_actions=OBJECT_ACTIONS),
        {
            rule(
                f"IamChannelBucketActions[Action::{a}::Resource::<Channel{{hash}}.Arn>/runs/*/output/*]"
            )
            for a in OBJECT_ACTIONS
        },
    ),
    "JobAdministersTheBucket": (
        Variant(job_bucket_actions=BUCKET_ADMIN),
        {
            rule(f"IamChannelBucketActions[Action::{a}::Resource::<Channel{{hash}}.Arn>]")
            for a in BUCKET_ADMIN
        },
    ),
    "JobWritesAsGranted": (
        Variant(job_object_actions=("s3:PutObject", "s3:AbortMultipartUpload")),
        set(),
    ),
    "ListWithoutPrefix": (
        Variant(list_with_prefix=False),
        {rule("IamListBucketPrefix[Resource::<Channel{hash}.Arn>]")},
    ),
    "ReadWholeBucket": (
        Variant(read_whole_bucket=True),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/*]")},
    ),
    "WriteOutsideOutputs": (
        Variant(write_outside_outputs=True),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/runs/*]")},
    ),
    "PassRoleAnyService": (Variant(pass_role_condition=False), {rule("IamPassRoleService")}),
    "JobTrustWithoutConditions": (
        Variant(job_trust_conditions=False),
        {rule("IamTrustConfusedDeputy[Service::sagemaker.amazonaws.com]")},
    ),
    "MachineTrustWithoutConditions": (
        Variant(machine_trust_conditions=False),
        {rule("IamTrustConfusedDeputy[Service::states.amazonaws.com]")},
    ),
    "JobTrustsAnyone": (Variant(job_trust_anyone=True), {rule("IamTrustServiceOnly[AWS::*]")}),
    "NoNetworkIsolation": (Variant(network_isolation=False), {job_rule("JobNetworkIsolation")}),
    "NoVolumeKey": (Variant(volume_key=False), {job_rule("JobVolumeEncryption")}),
    "NoOutputKey": (Variant(output_key=False), {job_rule("JobOutputEncryption")}),
    "MultiInstancePlaintext": (
        Variant(instance_count=3),
        {job_rule("JobInterContainerEncryption")},
    ),
    "NoMaxRuntime": (Variant(max_runtime=False), {job_rule("JobMaxRuntime")}),
    "NoTimeout": (Variant(timeout=None), {job_rule("TaskTimeout")}),
    "TimeoutBelowRuntime": (Variant(timeout=600), {job_rule("TaskTimeout")}),
    "MissingRetries": (Variant(retries=()), {job_rule("TaskRetry")}),
    "NoRetryByCause": (Variant(retry_by_cause=False), {job_rule("TaskRetry")}),
    "NoCatch": (Variant(catch=False), {job_rule("TaskCatch")}),
    "CatchToSuccess": (Variant(catch_target="pass-end"), {job_rule("TaskCatch")}),
    "CatchThroughPassToFail": (Variant(catch_target="pass-fail"), set()),
    "DefinitionInS3": (Variant(definition_in_s3=True), {rule("StateMachineDefinitionReadable")}),
    "Express": (
        Variant(machine_type=sfn.StateMachineType.EXPRESS),
        {rule("StateMachineStandard")},
    ),
    "LogErrorsOnly": (Variant(log_level=sfn.LogLevel.ERROR), {rule("StateMachineLogAll")}),
    "LogsExecutionData": (
        Variant(include_execution_data=True),
        {rule("StateMachineLogNoExecutionData")},
    ),
    "NoTracing": (Variant(tracing=False), {rule("StateMachineTracing")}),
}


ENV = cdk.Environment(account="123456789012", region="eu-west-1")
#: Stacks with ``env`` (CDK writes the account as a literal) -> the rule ids that fire.
WITH_ENV: Mapping[str, tuple[Variant, set[str]]] = {
    "PolicyAllowsOwnAccountWithEnv": (Variant(bucket_policy_account="123456789012"), set()),
    "PolicyAllowsAnotherAccountWithEnv": (
        Variant(bucket_policy_account="111122223333"),
        {rule("ChannelBucketPolicyPrincipals[AWS::arn:aws:iam::111122223333:root]")},
    ),
}


def _l1(stack: cdk.Stack, path: str) -> cdk.CfnResource:
    construct: IConstruct = stack
    for child in path.split("/"):
        construct = construct.node.find_child(child)
    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    return resource


def _find_job_role(stack: cdk.Stack) -> iam.Role:
    role = stack.node.find_child("JobRole")
    assert isinstance(role, iam.Role)
    return role


def _find_channel(stack: cdk.Stack) -> s3.Bucket:
    bucket = stack.node.find_child("Channel")
    assert isinstance(bucket, s3.Bucket)
    return bucket


def _override_definition(stack: cdk.Stack) -> None:
    """Replace the whole DefinitionString: the same task, without network isolation."""
    key = stack.node.find_child("Key")
    assert isinstance(key, kms.Key)
    state = {
        "Type": "Task",
        "Resource": JOB_RESOURCE,
        "TimeoutSeconds": 4 * 3600,
        "Parameters": job_parameters(
            Variant(network_isolation=False), _find_channel(stack), key, _find_job_role(stack)
        ),
        "Retry": [{"ErrorEquals": [error]} for error in REQUIRED_RETRIES],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Throttled"}],
        "End": True,
    }
    retry = {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.error.Cause",
                "StringMatches": "*ValidationException*",
                "Next": "Failed",
            }
        ],
        "Default": "Back off",
    }
    definition = {
        "StartAt": STATE,
        "States": {
            STATE: state,
            "Throttled": retry,
            "Back off": {"Type": "Wait", "Seconds": 10, "Next": STATE},
            "Failed": {"Type": "Fail"},
        },
    }
    _l1(stack, "Machine").add_property_override(
        "DefinitionString", stack.to_json_string(definition)
    )


def _grant(stack: cdk.Stack, statement: iam.PolicyStatement) -> None:
    _find_job_role(stack).add_to_policy(statement)


def _machine_role_policy(stack: cdk.Stack, conditions: dict[str, Any]) -> None:
    role = stack.node.find_child("MachineRole")
    assert isinstance(role, iam.Role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[_find_job_role(stack).role_arn],
            conditions=conditions,
        )
    )


def _role_policy_s3_wildcard(stack: cdk.Stack) -> None:
    iam.CfnRolePolicy(
        stack,
        "ExtraPolicy",
        role_name=_find_job_role(stack).role_name,
        policy_name="extra",
        policy_document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": _find_channel(stack).arn_for_objects("runs/*/output/*"),
                    "Condition": {"StringLike": {"s3:prefix": ["runs/*/output/*"]}},
                }
            ],
        },
    )


def _analyst(stack: cdk.Stack, actions: list[str]) -> None:
    analyst = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    analyst.add_to_policy(
        iam.PolicyStatement(
            actions=actions,
            resources=[_find_channel(stack).arn_for_objects("runs/*")],
            conditions={"StringLike": {"s3:prefix": ["runs/*"]}},
        )
    )


def _include_data_parameter(stack: cdk.Stack) -> None:
    parameter = cdk.CfnParameter(stack, "IncludeData", type="String", default="false")
    _l1(stack, "Machine").add_property_override(
        "LoggingConfiguration.IncludeExecutionData", parameter.value_as_string
    )


#: Changes made after ``build(stack, Variant())`` -- escape-hatch overrides (the rules read
#: the synthesized template) and extra grants -- and the rule ids that must fire.
MUTATIONS: Mapping[str, tuple[Callable[[cdk.Stack], None], set[str]]] = {
    "OverrideLogLevel": (
        lambda st: _l1(st, "Machine").add_property_override("LoggingConfiguration.Level", "ERROR"),
        {rule("StateMachineLogAll")},
    ),
    "OverrideIncludeExecutionData": (
        lambda st: _l1(st, "Machine").add_property_override(
            "LoggingConfiguration.IncludeExecutionData", True
        ),
        {rule("StateMachineLogNoExecutionData")},
    ),
    "TokenIncludeExecutionData": (
        _include_data_parameter,
        {rule("StateMachineLogNoExecutionData")},
    ),
    "OverrideDefinition": (_override_definition, {job_rule("JobNetworkIsolation")}),
    "OverrideSseS3": (
        lambda st: _l1(st, "Channel").add_property_override(
            "BucketEncryption.ServerSideEncryptionConfiguration",
            [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
        ),
        {rule("ChannelBucketSseKms")},
    ),
    "OverrideLifecycleDeleted": (
        lambda st: _l1(st, "Channel").add_deletion_override("Properties.LifecycleConfiguration"),
        {rule("ChannelBucketLifecycle")},
    ),
    "OverrideLogDestinationDeleted": (
        lambda st: _l1(st, "Channel").add_property_deletion_override(
            "LoggingConfiguration.DestinationBucketName"
        ),
        {rule("ChannelBucketAccessLogs")},
    ),
    "OverrideTrustConditionDeleted": (
        lambda st: _l1(st, "JobRole").add_property_deletion_override(
            "AssumeRolePolicyDocument.Statement.0.Condition"
        ),
        {rule("IamTrustConfusedDeputy[Service::sagemaker.amazonaws.com]")},
    ),
    "OverridePolicyWholeBucket": (
        lambda st: _l1(st, "JobRole/DefaultPolicy").add_property_override(
            "PolicyDocument.Statement.0.Resource", _find_channel(st).arn_for_objects("*")
        ),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/*]")},
    ),
    "ReadAllRuns": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[_find_channel(st).arn_for_objects("runs/*")]
            ),
        ),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/runs/*]")},
    ),
    "WriteUnderOtherPrefixSameEnding": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[_find_channel(st).arn_for_objects("archive/runs/*/output/*")],
            ),
        ),
        {rule("IamStepObjectAccess[Resource::<Channel{hash}.Arn>/archive/runs/*/output/*]")},
    ),
    "NotResourceGrant": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                not_resources=[_find_channel(st).arn_for_objects("secret/*")],
            ),
        ),
        {rule("IamStepObjectAccess[NotResource::<Channel{hash}.Arn>/secret/*]")},
    ),
    "ListPrefixWildcard": (
        lambda st: _grant(
            st,
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[_find_channel(st).bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["*"]}},
            ),
        ),
        {rule("IamListBucketPrefix[Resource::<Channel{hash}.Arn>]")},
    ),
    "RolePolicyS3Wildcard": (_role_policy_s3_wildcard, {rule("IamNoS3Wildcard[Action::s3:*]")}),
    "PassRoleNegated": (
        lambda st: _machine_role_policy(
            st, {"StringNotEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        ),
        {rule("IamPassRoleService")},
    ),
    "PassRoleToEc2": (
        lambda st: _machine_role_policy(
            st, {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        ),
        {rule("IamPassRoleService")},
    ),
    "PassRoleUrlSuffix": (
        lambda st: _machine_role_policy(
            st, {"StringEquals": {"iam:PassedToService": f"sagemaker.{cdk.Aws.URL_SUFFIX}"}}
        ),
        set(),
    ),
    "AnalystS3WildcardOnChannel": (
        lambda st: _analyst(st, ["s3:*"]),
        {rule("IamNoS3Wildcard[Action::s3:*]")},
    ),
    "AnalystReadsChannel": (lambda st: _analyst(st, ["s3:GetObject", "s3:ListBucket"]), set()),
}


HAND_MADE_RULES = {
    rule("ChannelBucketSseKms"),
    rule("ChannelBucketTlsOnly"),
    rule("ChannelBucketPublicAccessBlock"),
    rule("ChannelBucketOwnerEnforced"),
    rule("ChannelBucketVersioning"),
    rule("ChannelBucketAccessLogs"),
    rule("ChannelBucketLifecycle"),
    # grant_read_write: more than a job needs, on the bucket and its objects.
    *(
        rule(f"IamChannelBucketActions[Action::{action}::Resource::<Data{{hash}}.Arn>{objects}]")
        for action in (
            "s3:Abort*",
            "s3:DeleteObject*",
            "s3:GetBucket*",
            "s3:GetObject*",
            "s3:List*",
            "s3:PutObjectLegalHold",
            "s3:PutObjectRetention",
            "s3:PutObjectTagging",
            "s3:PutObjectVersionTagging",
        )
        for objects in ("", "/*")
    ),
    rule("IamListBucketPrefix[Resource::<Data{hash}.Arn>]"),
    rule("IamListBucketPrefix[Resource::<Data{hash}.Arn>/*]"),
    rule("IamStepObjectAccess[Resource::<Data{hash}.Arn>/*]"),
    # The StateMachine's default role already has the conditions (aws-cdk-lib >= 2.2xx).
    rule("IamTrustConfusedDeputy[Service::sagemaker.amazonaws.com]"),
    job_rule("JobNetworkIsolation"),
    job_rule("JobVolumeEncryption"),
    job_rule("JobOutputEncryption"),
    job_rule("JobInterContainerEncryption"),
    job_rule("JobMaxRuntime"),
    job_rule("TaskTimeout"),
    job_rule("TaskRetry"),
    job_rule("TaskCatch"),
    rule("StateMachineLogAll"),
    rule("StateMachineTracing"),
}


@pytest.fixture(scope="module")
def fired() -> dict[str, set[str]]:
    """Stack name -> the rule ids our pack reported on it (one validation of one app)."""
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    for name, (variant, _) in VARIANTS.items():
        build(cdk.Stack(app, name), variant)
    for name, (variant, _) in WITH_ENV.items():
        build(cdk.Stack(app, name, env=ENV), variant)
    build_hand_made(cdk.Stack(app, "HandMade"))
    opted_out = cdk.Stack(app, "OptOutAcknowledged")
    build(opted_out, Variant(network_isolation=False))
    acknowledge(
        opted_out.node.find_child("Machine"),
        [job_rule("JobNetworkIsolation")],
        "The job calls a licensed service over the internet; egress is filtered by the VPC.",
    )
    for name, (mutate, _) in MUTATIONS.items():
        stack = cdk.Stack(app, name)
        build(stack, Variant())
        mutate(stack)
    build_unrelated(cdk.Stack(app, "Unrelated"))
    report = ProcessingPipelineChecks(app).validate_scope(app)
    names = [*VARIANTS, *WITH_ENV, *MUTATIONS, "HandMade", "OptOutAcknowledged", "Unrelated"]
    result: dict[str, set[str]] = {name: set() for name in names}
    for violation in report.violations:
        assert violation.severity == "error", violation.rule_name
        for resource in violation.violating_resources:
            assert resource.construct_path, violation.rule_name
            result[resource.construct_path.split("/")[0]].add(violation.rule_name)
    return result


def _matches(expected: set[str], actual: set[str]) -> bool:
    """Rule ids are equal; ``{hash}`` in an expected id stands for a logical id's hash."""
    patterns = [
        re.compile(re.escape(e).replace(r"\{hash\}", "[A-F0-9]{8}") + "$") for e in expected
    ]
    return (
        len(expected) == len(actual)
        and all(any(p.match(a) for a in actual) for p in patterns)
        and all(any(p.match(a) for p in patterns) for a in actual)
    )


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_fires_exactly_its_rule(fired: dict[str, set[str]], name: str) -> None:
    expected = VARIANTS[name][1]
    assert _matches(expected, fired[name]), f"{name}: expected {expected}, got {fired[name]}"


@pytest.mark.parametrize("name", list(WITH_ENV))
def test_the_account_of_a_stack_with_env_is_its_own(fired: dict[str, set[str]], name: str) -> None:
    expected = WITH_ENV[name][1]
    assert _matches(expected, fired[name]), f"{name}: expected {expected}, got {fired[name]}"


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutation_fires_exactly_its_rule(fired: dict[str, set[str]], name: str) -> None:
    expected = MUTATIONS[name][1]
    assert _matches(expected, fired[name]), f"{name}: expected {expected}, got {fired[name]}"


def test_unrelated_stack_is_not_checked_as_a_pipeline(fired: dict[str, set[str]]) -> None:
    """A BucketDeployment and an analyst's grant_read in a stack without processing jobs."""
    assert fired["Unrelated"] == set()


def test_every_rule_has_an_insecure_variant() -> None:
    covered = {
        re.sub(r"\[.*$", "", rule_id) for _, expected in VARIANTS.values() for rule_id in expected
    }
    assert covered == {r.rule_id for r in RULES}


def test_hand_made_pipeline_fires_the_expected_rules(fired: dict[str, set[str]]) -> None:
    actual = fired["HandMade"]
    assert _matches(HAND_MADE_RULES, actual), "\n".join(sorted(actual ^ HAND_MADE_RULES))


def test_variants_differ_from_the_baseline_in_one_setting() -> None:
    baseline = dataclasses.asdict(Variant())
    for name, (variant, _) in VARIANTS.items():
        changed = [k for k, value in dataclasses.asdict(variant).items() if baseline[k] != value]
        assert len(changed) <= 2, f"{name} changes {changed}"


def test_an_acknowledged_opt_out_is_not_reported(fired: dict[str, set[str]]) -> None:
    """Opting out of network isolation is an explicit, reasoned, per-state acknowledgment."""
    assert fired["OptOutAcknowledged"] == set()
    assert fired["NoNetworkIsolation"] == {job_rule("JobNetworkIsolation")}


# -- the list of rules --------------------------------------------------------------------


def test_rule_ids_are_unique_and_documented() -> None:
    ids = [rule.rule_id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.info.endswith(".") and rule.fix and rule.explanation, rule.name


def test_the_pack_lists_every_rule_of_every_family_in_family_order() -> None:
    declared = [
        value
        for family in (bucket, iam_rules, job, task, state_machine)
        for value in vars(family).values()
        if isinstance(value, Rule)
    ]
    assert list(RULES) == declared
    assert len(RULES) == 31


def test_a_rule_that_cannot_evaluate_a_resource_is_a_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(resource: object, model: object) -> dict[str, str]:
        raise KeyError("Properties")

    rule = Rule("Broken", frozenset({"AWS::S3::Bucket"}), "i.", "e", "f", broken)
    monkeypatch.setitem(pack_module._RULES_BY_TYPE, "AWS::S3::Bucket", [rule])
    model = model_from_template({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    assert check_stack(model) == {
        "B": {
            f"{PACK_NAME}-Broken": {
                "": "the rule could not evaluate the resource: KeyError('Properties')"
            }
        }
    }

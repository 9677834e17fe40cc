"""Pure parts of ``constructs_sm.nag``: definition parsing, finding ids, rules on templates,
and the ``acknowledge`` helper's validation."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs_sm.nag import (
    PACK_NAME,
    RULES,
    CfnModelResource,
    StackModel,
    acknowledge,
    acknowledge_wildcards,
    check_stack,
    check_templates,
    collect_acknowledgments,
    flatten_reference,
    model_from_template,
    parse_definition,
    skip_checkov,
)
from constructs_sm.nag.rules.bucket import _check_access_logs, _check_lifecycle

BUCKET_ARN = {"Fn::GetAtt": ["Bucket83908E77", "Arn"]}
ROLE_ARN = {"Fn::GetAtt": ["JobRole5C3DD1A9", "Arn"]}


def test_parse_definition_substitutes_references_in_and_out_of_strings() -> None:
    document = {
        "StartAt": "Job",
        "States": {
            "Job": {
                "Type": "Task",
                "Resource": "arn:@PARTITION@:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    "RoleArn": "@ROLE@",
                    "StoppingCondition": {"MaxRuntimeInSeconds": "@RUNTIME@"},
                    "Out": "s3://${Bucket}/runs/",
                },
                "End": True,
            }
        },
    }
    text = json.dumps(document).replace('"@RUNTIME@"', "@RUNTIME@")
    parts: list[Any] = []
    for name, value in {
        "PARTITION": {"Ref": "AWS::Partition"},
        "ROLE": ROLE_ARN,
        "RUNTIME": {"Ref": "Runtime"},
    }.items():
        before, _, text = text.partition(f"@{name}@")
        parts += [before, value]
    properties = {
        "DefinitionString": {"Fn::Join": ["", [*parts, text]]},
        "DefinitionSubstitutions": {"Bucket": {"Ref": "Bucket83908E77"}},
    }
    definition = parse_definition(properties)
    assert definition is not None
    [(name, params)] = definition.processing_tasks()
    assert name == "Job"
    assert definition.reference_id(params["RoleArn"]) == "JobRole5C3DD1A9"
    runtime = params["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert definition.reference_id(runtime) == "Runtime"  # a number token became a marker
    assert definition.referenced_ids() == {"JobRole5C3DD1A9", "Runtime", "Bucket83908E77"}


@pytest.mark.parametrize(
    "properties",
    [
        {"DefinitionS3Location": {"Bucket": "b", "Key": "k"}},
        {"DefinitionString": "{not json"},
        {"DefinitionString": {"Fn::Join": ["", ['{"States": ', {"Ref": "X"}]]}},
        {"DefinitionString": "[1, 2]"},
    ],
)
def test_unreadable_definitions_are_none(properties: dict[str, Any]) -> None:
    assert parse_definition(properties) is None


def test_definition_object_form_and_nested_states() -> None:
    inner = {
        "Type": "Task",
        "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::x"]]},
    }
    job = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:createProcessingJob"}
    definition = parse_definition(
        {
            "Definition": {
                "StartAt": "P",
                "States": {
                    "P": {
                        "Type": "Parallel",
                        "Branches": [
                            {"StartAt": "J", "States": {"J": job}},
                            {
                                "StartAt": "M",
                                "States": {
                                    "M": {
                                        "Type": "Map",
                                        "ItemProcessor": {"StartAt": "I", "States": {"I": inner}},
                                    }
                                },
                            },
                        ],
                    }
                },
            }
        }
    )
    assert definition is not None
    assert [name for name, _ in definition.states()] == ["P", "J", "M", "I"]
    assert [name for name, _ in definition.processing_tasks()] == ["J"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("*", "*"),
        ({"Fn::Join": ["", [BUCKET_ARN, "/runs/*"]]}, "<Bucket83908E77.Arn>/runs/*"),
        (
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b/*"]]},
            "arn:<AWS::Partition>:s3:::b/*",
        ),
        ({"Fn::Sub": "arn:${AWS::Partition}:logs:*"}, "arn:<AWS::Partition>:logs:*"),
        ({"Fn::ImportValue": "Shared"}, "Shared"),
        ({"Fn::Select": [0, ["a"]]}, '{"Fn::Select":[0,["a"]]}'),
    ],
)
def test_flatten_reference_matches_cdk_nag_finding_ids(value: Any, text: str) -> None:
    assert flatten_reference(value) == text


def _template(statement: dict[str, Any], trust_conditions: bool = True) -> dict[str, Any]:
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if trust_conditions:
        trust["Condition"] = {
            "StringEquals": {"aws:SourceAccount": "1"},
            "ArnLike": {"aws:SourceArn": "a"},
        }
    return {
        "Resources": {
            "JobRole5C3DD1A9": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Statement": [trust]}},
            },
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {"Statement": [statement]},
                    "Roles": [{"Ref": "JobRole5C3DD1A9"}],
                },
            },
        }
    }


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/in/*"}, {}),
        (
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
            {"Policy": {"IamStepObjectAccess": ["Resource::arn:aws:s3:::b/*"]}},
        ),
        (
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {
                "Policy": {
                    "IamListBucketPrefix": [""],
                    "IamNoS3Wildcard": ["NotAction::iam:*"],
                    "IamStepObjectAccess": ["Resource::*"],
                }
            },
        ),
        ({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, {}),
        (
            {"Effect": "Allow", "Action": ["S3:*"], "Resource": "arn:aws:s3:::b/x/*"},
            {"Policy": {"IamNoS3Wildcard": ["Action::S3:*"], "IamListBucketPrefix": [""]}},
        ),
    ],
)
def test_iam_rules_on_a_template(statement: dict[str, Any], expected: dict[str, Any]) -> None:
    results = check_stack(model_from_template(_template(statement)))
    found = {
        lid: {rule.removeprefix(f"{PACK_NAME}-"): sorted(f) for rule, f in rules.items()}
        for lid, rules in results.items()
    }
    assert found == expected


def test_rule_ids_are_unique_and_documented() -> None:
    ids = [rule.rule_id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.info.endswith(".") and rule.fix and rule.explanation, rule.name


def test_acknowledge_records_reasoned_findings() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    acknowledge(stack, ["AwsSolutions-IAM5[Resource::<B.Arn>/p/*]"], "  scoped to one prefix  ")
    assert collect_acknowledgments(app) == [
        {
            "path": "Stack",
            "id": "AwsSolutions-IAM5[Resource::<B.Arn>/p/*]",
            "reason": "scoped to one prefix",
        }
    ]


@pytest.mark.parametrize(
    ("finding_ids", "reason", "error", "message"),
    [
        ([], "a good reason", ValueError, r"finding_ids must name at least one finding"),
        ([""], "a good reason", ValueError, r"must not hold empty ids, got ''"),
        (["X-Y"], "short", ValueError, r"reason must say why .* got 'short'"),
        ("X-Y", "a good reason", TypeError, r"finding_ids must be a list of ids, not a str"),
        ([3], "a good reason", TypeError, r"finding_ids must hold strings, got 3"),
    ],
)
def test_acknowledge_rejects_bad_arguments(
    finding_ids: Any, reason: str, error: type[Exception], message: str
) -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    with pytest.raises(error, match=message):
        acknowledge(stack, finding_ids, reason)
    assert collect_acknowledgments(stack) == []


def test_acknowledge_wildcards_names_the_iam5_finding_of_each_wildcard() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    bucket = s3.Bucket(stack, "Bucket")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    logical_id = stack.resolve(bucket.node.default_child.logical_id)  # type: ignore[union-attr]
    resources = [bucket.arn_for_objects("runs/*"), bucket.bucket_arn, "*"]
    acknowledge_wildcards(role, resources, "each resource is scoped as tightly as IAM allows")
    acknowledge_wildcards(iam.AnyPrincipal(), ["*"], "not a construct: no policy, no finding")
    assert [a["id"] for a in collect_acknowledgments(app)] == [
        "AwsSolutions-IAM5[Resource::*]",
        f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/runs/*]",
    ]


def test_skip_checkov_merges_reasoned_skips_into_the_metadata() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Bucket")
    skip_checkov(bucket, {"CKV_AWS_18": "first reason, long enough"})
    skip_checkov(bucket, {"CKV_AWS_21": "second reason, long enough"})
    skip_checkov(bucket, {"CKV_AWS_18": "replaced reason, long enough"})
    resource = bucket.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    assert resource.get_metadata("checkov") == {
        "skip": [
            {"id": "CKV_AWS_21", "comment": "second reason, long enough"},
            {"id": "CKV_AWS_18", "comment": "replaced reason, long enough"},
        ]
    }
    with pytest.raises(
        ValueError, match=r"every skip needs a reason, got none for \['CKV_AWS_1'\]"
    ):
        skip_checkov(bucket, {"CKV_AWS_1": " "})
    with pytest.raises(TypeError, match=r"resource must be a CfnResource or an L2 construct"):
        skip_checkov(stack, {"CKV_AWS_1": "a reason that is long enough"})


# -- rules on templates: conditions, policy resources, channel buckets, definitions --------

_SOURCE = {"StringEquals": {"aws:SourceAccount": "1"}, "ArnLike": {"aws:SourceArn": "a"}}


def _role(condition: dict[str, Any] | None, service: Any = "sagemaker.amazonaws.com") -> Any:
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        trust["Condition"] = condition
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Statement": [trust]}},
    }


def _found(resources: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    results = check_stack(model_from_template({"Resources": resources}))
    return {
        lid: {rule.removeprefix(f"{PACK_NAME}-"): sorted(f) for rule, f in rules.items()}
        for lid, rules in results.items()
    }


_URL_SUFFIX_SAGEMAKER = {"Fn::Join": ["", ["sagemaker.", {"Ref": "AWS::URLSuffix"}]]}
_TRUST = {"R": {"IamTrustConfusedDeputy": ["Service::sagemaker.amazonaws.com"]}}


@pytest.mark.parametrize(
    ("condition", "service", "expected"),
    [
        (_SOURCE, "sagemaker.amazonaws.com", {}),
        (_SOURCE, {"Fn::Sub": "sagemaker.${AWS::URLSuffix}"}, {}),
        (
            {"StringLike": {"aws:SourceAccount": "*", "aws:SourceArn": "*"}},
            "sagemaker.amazonaws.com",
            _TRUST,
        ),
        (
            {"StringNotEquals": {"aws:SourceAccount": "1"}, "ArnNotLike": {"aws:SourceArn": "a"}},
            "sagemaker.amazonaws.com",
            _TRUST,
        ),
        (
            {
                "StringEqualsIfExists": {"aws:SourceAccount": "1"},
                "ArnLikeIfExists": {"aws:SourceArn": "a"},
            },
            "sagemaker.amazonaws.com",
            _TRUST,
        ),
        ({"StringEquals": {"aws:SourceAccount": "1"}}, "sagemaker.amazonaws.com", _TRUST),
        (None, _URL_SUFFIX_SAGEMAKER, _TRUST),
        (None, {"Fn::Sub": "sagemaker.${AWS::URLSuffix}"}, _TRUST),
        (None, "lambda.amazonaws.com", {}),
    ],
)
def test_trust_conditions_must_constrain_the_source(
    condition: dict[str, Any] | None, service: Any, expected: dict[str, Any]
) -> None:
    """Only positive operators with a value that is not a wildcard count; the service
    principal is recognised in its ``${AWS::URLSuffix}`` forms."""
    assert _found({"R": _role(condition, service)}) == expected


def _policy(statement: dict[str, Any], kind: str = "AWS::IAM::Policy") -> dict[str, Any]:
    attachments: dict[str, dict[str, Any]] = {
        "AWS::IAM::Policy": {"Roles": [{"Ref": "R"}]},
        "AWS::IAM::RolePolicy": {"RoleName": {"Ref": "R"}},
        "AWS::IAM::UserPolicy": {"UserName": {"Ref": "U"}},
        "AWS::IAM::GroupPolicy": {"GroupName": {"Ref": "G"}},
    }
    attach = attachments[kind]
    return {
        "Type": kind,
        "Properties": {"PolicyName": "p", "PolicyDocument": {"Statement": [statement]}, **attach},
    }


def _pass_role(condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
    if condition is not None:
        statement["Condition"] = condition
    return statement


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, False),
        (
            {"StringEquals": {"iam:PassedToService": {"Fn::Sub": "sagemaker.${AWS::URLSuffix}"}}},
            False,
        ),
        ({"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}}, False),
        ({"StringNotEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, True),
        ({"StringLike": {"iam:PassedToService": "*"}}, True),
        ({"StringEqualsIfExists": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, True),
        (
            {
                "StringEquals": {
                    "iam:PassedToService": ["sagemaker.amazonaws.com", "ec2.amazonaws.com"]
                }
            },
            True,
        ),
        (None, True),
    ],
)
def test_pass_role_must_name_sagemaker_or_step_functions(
    condition: dict[str, Any] | None, fires: bool
) -> None:
    found = _found({"R": _role(_SOURCE), "P": _policy(_pass_role(condition))})
    assert found == ({"P": {"IamPassRoleService": [""]}} if fires else {})


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        ({"StringLike": {"s3:prefix": ["runs/*"]}}, False),
        ({"StringEquals": {"s3:prefix": ""}}, False),
        ({"StringLike": {"s3:prefix": "*"}}, True),
        ({"StringLike": {"s3:prefix": ["runs/*", "*/x"]}}, True),
        ({"StringLikeIfExists": {"s3:prefix": "runs/*"}}, True),
        ({"StringNotLike": {"s3:prefix": "secret/*"}}, True),
        ({"ForAllValues:StringLike": {"s3:prefix": "runs/*"}}, True),
    ],
)
def test_list_bucket_needs_a_positive_prefix_condition(
    condition: dict[str, Any], fires: bool
) -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::b",
        "Condition": condition,
    }
    found = _found({"R": _role(_SOURCE), "P": _policy(statement)})
    assert found == ({"P": {"IamListBucketPrefix": [""]}} if fires else {})


def test_role_user_and_group_policies_are_checked() -> None:
    """AWS::IAM::RolePolicy (RoleName) is a policy of its role; User and Group policies
    are checked for their statements on channel buckets."""
    wildcard = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    found = _found({"R": _role(_SOURCE), "P": _policy(wildcard, "AWS::IAM::RolePolicy")})
    assert found == {
        "P": {
            "IamListBucketPrefix": [""],
            "IamNoS3Wildcard": ["Action::s3:*"],
            "IamStepObjectAccess": ["Resource::*"],
        }
    }
    on_channel = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::channel/*"}
    resources = {
        "B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "channel"}},
        "R": _role(_SOURCE),
        "Read": _policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::channel/in/*"}
        ),
        "U": {"Type": "AWS::IAM::User", "Properties": {}},
        "G": {"Type": "AWS::IAM::Group", "Properties": {}},
        "UP": _policy(on_channel, "AWS::IAM::UserPolicy"),
        "GP": _policy(on_channel, "AWS::IAM::GroupPolicy"),
        "Other": _policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*"},
            "AWS::IAM::UserPolicy",
        ),
    }
    found = {k: v for k, v in _found(resources).items() if k != "B"}
    iam_findings = {"IamListBucketPrefix": [""], "IamNoS3Wildcard": ["Action::s3:*"]}
    assert found == {"UP": iam_findings, "GP": iam_findings}


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


def test_channel_buckets_by_literal_name_grant_and_import() -> None:
    """Channel buckets: a literal s3://<BucketName>/ URI, a bucket the job role may read or
    write (what tells the bucket when the URIs come from the execution input), a bucket
    another stack's state machine imports; not a bucket the jobs have nothing to do with."""
    role_arn = {"R": {"Fn::GetAtt": ["R", "Arn"]}}
    named = {
        "Named": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "my-channel"}},
        "Granted": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Unrelated": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "R": _role(_SOURCE),
        "P": _policy(
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Granted", "Arn"]}, "/out/*"]]},
            }
        ),
        "M": _job_machine(_io("s3://my-channel/in/", "$$.Execution.Input.output_uri"), role_arn),
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
    parsed = parse_definition(machine)
    assert parsed is not None
    [location] = parsed.locations()
    assert (location.bucket, location.key, location.output) == ("<B>", "Churn/*/train/model/", True)

    def model(prefix: str) -> StackModel:
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
    assert covered.run_prefixes("B") == {"Churn/"}
    assert _check_lifecycle(covered.resources["B"], covered) == {}
    elsewhere = model("tmp/")
    assert _check_lifecycle(elsewhere.resources["B"], elsewhere) == {
        "": "no enabled lifecycle rule for expiry of current objects, expiry of noncurrent "
        "versions, abort of incomplete multipart uploads on the run prefix 'Churn/'"
    }


@pytest.mark.parametrize(
    ("logging", "expected"),
    [
        ({"DestinationBucketName": {"Ref": "Logs"}}, []),
        ({}, ["LoggingConfiguration names no DestinationBucketName"]),
        (
            {"DestinationBucketName": {"Ref": "B"}},
            ["the bucket writes its access logs into itself"],
        ),
    ],
)
def test_access_logs_need_another_destination(logging: dict[str, Any], expected: list[str]) -> None:
    bucket = CfnModelResource("B", "AWS::S3::Bucket", {"LoggingConfiguration": logging}, "B")
    model = StackModel({"B": bucket})
    assert list(_check_access_logs(bucket, model).values()) == expected


def test_task_resources_from_definition_substitutions() -> None:
    """A Resource substituted from DefinitionSubstitutions is read; a Resource that cannot
    be read is reported (StateMachineDefinitionReadable, per state)."""
    partition = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":states:::sagemaker:createProcessingJob.sync"],
        ]
    }
    definition = {
        "StartAt": "Job",
        "States": {
            "Job": {"Type": "Task", "Resource": "${JobResource}", "Next": "Hidden"},
            "Hidden": {"Type": "Task", "Resource": "${FromParameter}", "Next": "Fn"},
            "Fn": {"Type": "Task", "Resource": "${Function}", "Next": "Invoke"},
            "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True},
        },
    }
    properties = {
        "DefinitionString": json.dumps(definition),
        "DefinitionSubstitutions": {
            "JobResource": partition,
            "FromParameter": {"Ref": "ResourceParameter"},
            "Function": {"Fn::GetAtt": ["Fn", "Arn"]},
        },
    }
    parsed = parse_definition(properties)
    assert parsed is not None
    assert [name for name, _ in parsed.processing_tasks()] == ["Job"]
    assert [name for name, _ in parsed.unreadable_tasks()] == ["Hidden"]
    found = _found({"M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": properties}})
    assert found["M"]["StateMachineDefinitionReadable"] == ["Hidden"]

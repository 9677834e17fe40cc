"""Tests for constructs_sm.storage.ChannelBucket.

aws-cdk-lib runs in a Node process: the synthesized templates are module-scoped fixtures
(one small App each), and validation tests construct into one scratch stack that is never
synthesized.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Aws, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Capture, Match, Template
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from constructs_sm.nag import wildcard_finding
from constructs_sm.storage import ChannelBucket
from tests.cfn import actions, logical_id, role_statements

READ_PREFIX = "Pipeline/*/prepare/train/"
WRITE_PREFIX = "Pipeline/*/train/model/"
IMPORTED_BUCKET_ARN = "arn:aws:s3:::imported-channel-bucket"
IMPORTED_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
Json = dict[str, Any]


def _role(stack: Stack, construct_id: str) -> iam.Role:
    return iam.Role(stack, construct_id, assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))


def _objects_arn(bucket_id: str, prefix: str) -> Json:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}*"]]}


def _bucket_id_by_sse(template: Template, algorithm: str) -> str:
    return _only_id(
        {
            logical_id: bucket
            for logical_id, bucket in template.find_resources("AWS::S3::Bucket").items()
            if bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
                "ServerSideEncryptionByDefault"
            ]["SSEAlgorithm"]
            == algorithm
        }
    )


def _only_id(resources: Mapping[str, Any]) -> str:
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources))


@dataclass(frozen=True)
class Built:
    stack: Stack
    storage: ChannelBucket
    template: Template
    key_id: str
    bucket_id: str
    log_bucket_id: str
    added: tuple[bool, ...]
    reader: iam.Role
    writer: iam.Role
    putter: iam.Role


@pytest.fixture(scope="module")
def default() -> Built:
    """A default ChannelBucket with two run prefixes, a reader role and a writer role."""
    stack = Stack(App(), "Default")
    storage = ChannelBucket(stack, "Storage")
    added = (
        storage.add_run_prefix("Pipeline/"),
        storage.add_run_prefix("Pipeline/"),
        storage.add_run_prefix("Other/"),
    )
    reader = _role(stack, "Reader")
    writer = _role(stack, "Writer")
    read_grant = storage.grant_read(reader, READ_PREFIX)
    write_grant = storage.grant_write(writer, WRITE_PREFIX)
    putter = _role(stack, "Putter")
    assert storage.grant_put(putter, WRITE_PREFIX).success
    assert read_grant.success
    assert write_grant.success
    template = Template.from_stack(stack)
    return Built(
        stack=stack,
        storage=storage,
        template=template,
        key_id=_only_id(template.find_resources("AWS::KMS::Key")),
        bucket_id=_bucket_id_by_sse(template, "aws:kms"),
        log_bucket_id=_bucket_id_by_sse(template, "AES256"),
        added=added,
        reader=reader,
        writer=writer,
        putter=putter,
    )


@pytest.fixture(scope="module")
def scratch() -> Stack:
    """A stack for validation tests; never synthesized."""
    return Stack(App(), "Scratch")


@pytest.fixture(scope="module")
def scratch_storage(scratch: Stack) -> ChannelBucket:
    return ChannelBucket(scratch, "Storage")


@pytest.fixture(scope="module")
def scratch_role(scratch: Stack) -> iam.Role:
    return _role(scratch, "Role")


# --- defaults of a created bucket ---------------------------------------------------------


def test_creates_one_key_two_buckets_and_exposes_them(default: Built) -> None:
    default.template.resource_count_is("AWS::KMS::Key", 1)
    default.template.resource_count_is("AWS::KMS::Alias", 0)
    default.template.resource_count_is("AWS::S3::Bucket", 2)
    storage = default.storage
    assert storage.key is not None
    assert storage.log_bucket is not None
    assert storage.bucket_name == storage.bucket.bucket_name
    assert Token.is_unresolved(storage.bucket_name)
    assert default.stack.resolve(storage.bucket.bucket_arn) == {
        "Fn::GetAtt": [default.bucket_id, "Arn"]
    }
    assert default.stack.resolve(storage.key.key_arn) == {"Fn::GetAtt": [default.key_id, "Arn"]}
    assert default.stack.resolve(storage.log_bucket.bucket_name) == {"Ref": default.log_bucket_id}


def test_key_rotates_and_is_retained(default: Built) -> None:
    default.template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like(
                {"EnableKeyRotation": True, "Description": Match.string_like_regexp("channel")}
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_bucket_uses_sse_kms_with_the_key_and_a_bucket_key(default: Built) -> None:
    default.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": [default.key_id, "Arn"]},
                        },
                    }
                ]
            }
        },
    )


@pytest.mark.parametrize("which", ["bucket_id", "log_bucket_id"])
def test_bucket_policy_denies_non_tls_and_old_tls_on_bucket_and_objects(
    default: Built, which: str
) -> None:
    bucket_id = getattr(default, which)
    resources = [
        {"Fn::GetAtt": [bucket_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
    ]
    deny = {"Action": "s3:*", "Effect": "Deny", "Principal": {"AWS": "*"}, "Resource": resources}
    default.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {**deny, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                        {**deny, "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}},
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize("which", ["bucket_id", "log_bucket_id"])
def test_bucket_blocks_public_access_enforces_owner_is_versioned_and_retained(
    default: Built, which: str
) -> None:
    bucket = default.template.to_json()["Resources"][getattr(default, which)]
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["Properties"]["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "AccessControl" not in bucket["Properties"]


def test_bucket_logs_to_log_bucket_which_lets_only_this_bucket_deliver(default: Built) -> None:
    prefix = Capture()
    default.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": default.log_bucket_id},
                "LogFilePrefix": prefix,
            }
        },
    )
    assert prefix.as_string().endswith("/")
    default.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": default.log_bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "s3:PutObject",
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Resource": _objects_arn(default.log_bucket_id, prefix.as_string()),
                            "Condition": {
                                "ArnLike": {
                                    "aws:SourceArn": {"Fn::GetAtt": [default.bucket_id, "Arn"]}
                                },
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            },
                        }
                    ]
                )
            },
        },
    )


def test_log_bucket_uses_sse_s3_does_not_log_itself_and_expires_logs(default: Built) -> None:
    props = default.template.to_json()["Resources"][default.log_bucket_id]["Properties"]
    assert "LoggingConfiguration" not in props
    assert sorted(props["LifecycleConfiguration"]["Rules"], key=lambda r: r["Id"]) == [
        {
            "Id": "ExpireAccessLogs",
            "Status": "Enabled",
            "ExpirationInDays": 365,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {
            "Id": "RemoveExpiredDeleteMarkers",
            "Status": "Enabled",
            "ExpiredObjectDeleteMarker": True,
        },
    ]


def test_lifecycle_expires_run_prefixes_noncurrent_versions_and_uploads(default: Built) -> None:
    assert default.added == (True, False, True)
    assert default.storage.run_prefixes == ("Pipeline/", "Other/")
    props = default.template.to_json()["Resources"][default.bucket_id]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    run_rule = {
        "Status": "Enabled",
        "ExpirationInDays": 30,
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    assert sorted(rules, key=lambda r: r["Id"]) == [
        {
            "Id": "NoncurrentVersionsAndIncompleteUploads",
            "Status": "Enabled",
            "ExpiredObjectDeleteMarker": True,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {"Id": "RunData-Other", "Prefix": "Other/", **run_rule},
        {"Id": "RunData-Pipeline", "Prefix": "Pipeline/", **run_rule},
    ]


# --- grants -------------------------------------------------------------------------------


def test_grant_read_gets_objects_lists_with_prefix_condition_and_decrypts(default: Built) -> None:
    statements = role_statements(default.template, default.stack, default.reader)
    assert statements == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": _objects_arn(default.bucket_id, READ_PREFIX),
        },
        {
            "Action": "s3:ListBucket",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [default.bucket_id, "Arn"]},
            "Condition": {"StringLike": {"s3:prefix": [f"{READ_PREFIX}*"]}},
        },
        {
            "Action": "kms:Decrypt",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [default.key_id, "Arn"]},
        },
    ]


def test_grant_write_puts_objects_and_uses_the_key(default: Built) -> None:
    statements = role_statements(default.template, default.stack, default.writer)
    assert statements == [
        {
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Effect": "Allow",
            "Resource": _objects_arn(default.bucket_id, WRITE_PREFIX),
        },
        {
            "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [default.key_id, "Arn"]},
        },
    ]


def test_grant_put_is_one_put_object_and_a_data_key(default: Built) -> None:
    statements = role_statements(default.template, default.stack, default.putter)
    assert statements == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": _objects_arn(default.bucket_id, WRITE_PREFIX),
        },
        {
            "Action": "kms:GenerateDataKey",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [default.key_id, "Arn"]},
        },
    ]


def test_grants_never_use_s3_wildcards_delete_or_acl_actions(default: Built) -> None:
    granted = [
        action
        for policy in default.template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in actions(statement)
    ]
    assert granted, "the fixture grants something"
    assert [a for a in granted if "*" in a or "Delete" in a or "Acl" in a] == []


def test_grants_leave_the_key_policy_alone(default: Built) -> None:
    key = default.template.to_json()["Resources"][default.key_id]["Properties"]
    assert len(key["KeyPolicy"]["Statement"]) == 1


# --- passed bucket, key and log bucket ------------------------------------------------------


@dataclass(frozen=True)
class Custom:
    stack: Stack
    template: Template
    storage: ChannelBucket
    user_key: kms.Key
    user_logs: s3.Bucket
    token_prefix: str
    token_reader: iam.Role


@pytest.fixture(scope="module")
def custom() -> Custom:
    """A ChannelBucket that creates its bucket with the user's key and log bucket."""
    # A log bucket outside the ChannelBucket gets the delivery policy from the app's flag.
    app = App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    stack = Stack(app, "Custom")
    user_key = kms.Key(stack, "UserKey", enable_key_rotation=True)
    user_logs = s3.Bucket(
        stack,
        "UserLogs",
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    )
    storage = ChannelBucket(
        stack,
        "Storage",
        encryption_key=user_key,
        server_access_logs_bucket=user_logs,
        run_data_expiration=Duration.days(3),
        noncurrent_version_expiration=Duration.days(2),
        abort_incomplete_multipart_upload_after=Duration.days(4),
        removal_policy=RemovalPolicy.DESTROY,
    )
    token_prefix = f"{Aws.STACK_NAME}/"
    assert storage.add_run_prefix(token_prefix)
    assert not storage.add_run_prefix(token_prefix)
    assert storage.add_run_prefix(f"{'a' * 300}/")
    token_reader = _role(stack, "TokenReader")
    storage.grant_read(token_reader, f"{token_prefix}*/step/")
    return Custom(
        stack=stack,
        template=Template.from_stack(stack),
        storage=storage,
        user_key=user_key,
        user_logs=user_logs,
        token_prefix=token_prefix,
        token_reader=token_reader,
    )


def test_passed_key_and_log_bucket_are_used_not_created(custom: Custom) -> None:
    custom.template.resource_count_is("AWS::KMS::Key", 1)
    custom.template.resource_count_is("AWS::S3::Bucket", 2)
    assert custom.storage.key is custom.user_key
    assert custom.storage.log_bucket is None
    key_id = logical_id(custom.stack, custom.user_key)
    logs_id = logical_id(custom.stack, custom.user_logs)
    custom.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                            }
                        }
                    )
                ]
            },
            "LoggingConfiguration": Match.object_like({"DestinationBucketName": {"Ref": logs_id}}),
        },
    )
    custom.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": logs_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Principal": {"Service": "logging.s3.amazonaws.com"}})]
                )
            },
        },
    )


def test_removal_policy_and_lifecycle_durations_apply(custom: Custom) -> None:
    custom.template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "LifecycleConfiguration": {
                        "Rules": Match.array_with(
                            [
                                {
                                    "Id": "NoncurrentVersionsAndIncompleteUploads",
                                    "Status": "Enabled",
                                    "ExpiredObjectDeleteMarker": True,
                                    "NoncurrentVersionExpiration": {"NoncurrentDays": 2},
                                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 4},
                                },
                                {
                                    "Id": "RunDataToken1",
                                    "Status": "Enabled",
                                    "Prefix": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "/"]]},
                                    "ExpirationInDays": 3,
                                    "NoncurrentVersionExpiration": {"NoncurrentDays": 2},
                                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 4},
                                },
                            ]
                        )
                    }
                }
            ),
            "DeletionPolicy": "Delete",
        },
    )
    assert custom.storage.run_prefixes == (custom.token_prefix, f"{'a' * 300}/")


def test_long_prefix_gets_a_unique_rule_id_within_the_s3_limit(custom: Custom) -> None:
    buckets = custom.template.find_resources("AWS::S3::Bucket").values()
    ids = [
        rule["Id"]
        for bucket in buckets
        for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    ]
    long_ids = [rule_id for rule_id in ids if rule_id.startswith("RunData-aaa")]
    assert len(long_ids) == 1
    assert len(long_ids[0]) == 255
    assert len(set(ids)) == len(ids)


def test_grant_read_accepts_token_prefixes(custom: Custom) -> None:
    statements = role_statements(custom.template, custom.stack, custom.token_reader)
    condition = {
        "StringLike": {"s3:prefix": [{"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "/*/step/*"]]}]}
    }
    assert [s.get("Condition") for s in statements if s["Action"] == "s3:ListBucket"] == [condition]


@dataclass(frozen=True)
class Imported:
    stack: Stack
    template: Template
    with_key: ChannelBucket
    passed_key: ChannelBucket
    without_key: ChannelBucket
    imported_key: kms.IKey
    other_key: kms.IKey
    reader: iam.Role
    writer: iam.Role
    keyless_writer: iam.Role
    added: bool


@pytest.fixture(scope="module")
def imported() -> Imported:
    """ChannelBuckets over imported buckets: with the bucket's key, a passed key, no key."""
    stack = Stack(App(), "Imported")
    imported_key = kms.Key.from_key_arn(stack, "ImportedKey", IMPORTED_KEY_ARN)
    other_key = kms.Key.from_key_arn(stack, "OtherKey", IMPORTED_KEY_ARN.replace("1234abcd", "f"))
    with_key = ChannelBucket(
        stack,
        "WithKey",
        bucket=s3.Bucket.from_bucket_attributes(
            stack, "Bucket", bucket_arn=IMPORTED_BUCKET_ARN, encryption_key=imported_key
        ),
    )
    passed_key = ChannelBucket(
        stack,
        "PassedKey",
        bucket=s3.Bucket.from_bucket_attributes(
            stack, "Bucket2", bucket_arn=IMPORTED_BUCKET_ARN, encryption_key=imported_key
        ),
        encryption_key=other_key,
        run_data_expiration=Duration.days(30),  # equal to the default: accepted
    )
    without_key = ChannelBucket(
        stack, "WithoutKey", bucket=s3.Bucket.from_bucket_arn(stack, "Bucket3", IMPORTED_BUCKET_ARN)
    )
    added = with_key.add_run_prefix("Pipeline/")
    reader = _role(stack, "Reader")
    writer = _role(stack, "Writer")
    keyless_writer = _role(stack, "KeylessWriter")
    with_key.grant_read(reader, READ_PREFIX)
    with_key.grant_write(writer, WRITE_PREFIX)
    without_key.grant_write(keyless_writer, WRITE_PREFIX)
    return Imported(
        stack=stack,
        template=Template.from_stack(stack),
        with_key=with_key,
        passed_key=passed_key,
        without_key=without_key,
        imported_key=imported_key,
        other_key=other_key,
        reader=reader,
        writer=writer,
        keyless_writer=keyless_writer,
        added=added,
    )


def test_imported_bucket_creates_nothing_and_manages_no_lifecycle(imported: Imported) -> None:
    for resource_type in ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::KMS::Key"):
        imported.template.resource_count_is(resource_type, 0)
    assert imported.added is False
    assert imported.with_key.run_prefixes == ()
    assert imported.with_key.log_bucket is None
    assert imported.with_key.bucket_name == "imported-channel-bucket"


def test_imported_bucket_key_is_the_passed_key_or_the_buckets_own(imported: Imported) -> None:
    resolve = imported.stack.resolve
    assert imported.with_key.key is not None
    assert resolve(imported.with_key.key.key_arn) == IMPORTED_KEY_ARN
    assert imported.passed_key.key is imported.other_key
    assert imported.without_key.key is None


def test_imported_bucket_grants_use_its_arn_and_key(imported: Imported) -> None:
    read = role_statements(imported.template, imported.stack, imported.reader)
    write = role_statements(imported.template, imported.stack, imported.writer)
    keyless = role_statements(imported.template, imported.stack, imported.keyless_writer)
    assert read == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": f"{IMPORTED_BUCKET_ARN}/{READ_PREFIX}*",
        },
        {
            "Action": "s3:ListBucket",
            "Effect": "Allow",
            "Resource": IMPORTED_BUCKET_ARN,
            "Condition": {"StringLike": {"s3:prefix": [f"{READ_PREFIX}*"]}},
        },
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": IMPORTED_KEY_ARN},
    ]
    assert write[1] == {
        "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
        "Effect": "Allow",
        "Resource": IMPORTED_KEY_ARN,
    }
    assert keyless == [
        {
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Effect": "Allow",
            "Resource": f"{IMPORTED_BUCKET_ARN}/{WRITE_PREFIX}*",
        }
    ]


# --- cdk-nag ------------------------------------------------------------------------------


def test_default_storage_passes_the_nag_packs_with_reasoned_acknowledgments() -> None:
    app = App()
    storage = ChannelBucket(Stack(app, "Nag"), "Storage")
    storage.add_run_prefix("Pipeline/")
    packs = [
        AwsSolutionsChecks(app),
        NIST80053R5Checks(app),
        HIPAASecurityChecks(app),
        PCIDSS321Checks(app),
        ServerlessChecks(app),
    ]
    violations = {
        f"{violation.rule_name} {resource.construct_path or resource.resource_logical_id}"
        for pack in packs
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
    }
    assert violations == set()


def _iam5(app: App) -> set[tuple[str, str]]:
    return {
        (violation.rule_name, resource.construct_path or "")
        for violation in AwsSolutionsChecks(app).validate_scope(app).violations
        for resource in violation.violating_resources
        if violation.rule_name.startswith("AwsSolutions-IAM5")
    }


def test_a_grant_acknowledgment_hides_no_statement_added_to_the_role() -> None:
    """The IAM5 finding of a prefix grant is acknowledged on the role's
    ``PrefixScopedPolicy``, which holds the library's grants alone: an ``s3:DeleteObject``
    added to the role on the very same objects (its default policy) is still reported."""
    app = App()
    stack = Stack(app, "Added")
    storage = ChannelBucket(stack, "Storage")
    role = _role(stack, "Writer")
    storage.grant_write(role, "Pipeline/step/out/")
    storage.grant_read(role, "Pipeline/step/in/")
    objects = storage.bucket.arn_for_objects("Pipeline/step/out/*")
    assert _iam5(app) == set()
    role.add_to_policy(iam.PolicyStatement(actions=["s3:DeleteObject"], resources=[objects]))
    assert _iam5(app) == {(wildcard_finding(role, objects), "Added/Writer/DefaultPolicy/Resource")}
    scoped = role.node.find_child("PrefixScopedPolicy")
    assert isinstance(scoped, iam.Policy)
    text = json.dumps(stack.resolve(scoped.document.to_json()))
    assert "s3:PutObject" in text and "s3:GetObject" in text and "s3:ListBucket" in text
    assert "s3:DeleteObject" not in text and "kms:" not in text


def test_grants_to_other_principals_are_made_as_usual_and_not_acknowledged() -> None:
    """An imported role gets the statements in its own policy, and its finding stays."""
    app = App()
    stack = Stack(app, "Imported")
    storage = ChannelBucket(stack, "Storage")
    imported = iam.Role.from_role_arn(stack, "Other", "arn:aws:iam::123456789012:role/other")
    assert storage.grant_read(imported, "Pipeline/in/").success
    assert imported.node.try_find_child("PrefixScopedPolicy") is None
    objects = storage.bucket.arn_for_objects("Pipeline/in/*")
    assert _iam5(app) == {(wildcard_finding(stack, objects), "Imported/Other/Policy/Resource")}


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("", r"prefix must not be empty"),
        ("/Pipeline/", r"prefix must not start with '/', got '/Pipeline/'"),
        ("Pipeline", r"prefix must end with '/', got 'Pipeline'"),
        ("/Pipeline", r"prefix must not start with '/' and must end with '/'"),
        (f"{'x' * 1024}/", r"prefix must be at most 1024 characters, got 1025"),
        ("Pipeline/*/", r"prefix must not contain '\*' \(lifecycle filters are literal"),
    ],
)
def test_add_run_prefix_rejects_bad_prefixes(
    scratch_storage: ChannelBucket, prefix: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        scratch_storage.add_run_prefix(prefix)
    assert scratch_storage.run_prefixes == ()


@pytest.mark.parametrize("method", ["grant_read", "grant_write"])
@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("", r"prefix must not be empty"),
        ("/Pipeline/*/", r"prefix must not start with '/'"),
        ("Pipeline/*", r"prefix must end with '/', got 'Pipeline/\*'"),
        (f"{'x' * 1100}/", r"prefix must be at most 1024 characters, got 1101"),
        ("*/", r"prefix must start with a literal segment"),
        ("Pip*/x/", r"prefix must start with a literal segment"),
    ],
)
def test_grants_reject_bad_prefixes(
    scratch_storage: ChannelBucket, scratch_role: iam.Role, method: str, prefix: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        getattr(scratch_storage, method)(scratch_role, prefix)


def test_prefix_must_be_a_string(scratch_storage: ChannelBucket, scratch_role: iam.Role) -> None:
    with pytest.raises(TypeError, match=r"prefix must be a str, got int: 3"):
        scratch_storage.add_run_prefix(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"prefix must be a str, got NoneType"):
        scratch_storage.grant_read(scratch_role, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"run_data_expiration": Duration.hours(36)},
            r"run_data_expiration must be a whole number of days, at least 1, got 1 day 12 hours",
        ),
        (
            {"noncurrent_version_expiration": Duration.days(0)},
            r"noncurrent_version_expiration must be a whole number of days, at least 1",
        ),
        (
            {"abort_incomplete_multipart_upload_after": Duration.hours(1)},
            r"abort_incomplete_multipart_upload_after must be a whole number of days",
        ),
    ],
)
def test_lifecycle_durations_must_be_whole_days(
    scratch: Stack, kwargs: dict[str, Any], message: str
) -> None:
    before = len(scratch.node.children)
    with pytest.raises(ValueError, match=message):
        ChannelBucket(scratch, "BadDuration", **kwargs)
    assert len(scratch.node.children) == before, "validation runs before creating children"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        pytest.param(
            lambda passed: {"server_access_logs_bucket": passed},
            r"server_access_logs_bucket cannot be set with bucket",
            id="server_access_logs_bucket",
        ),
        pytest.param(
            lambda _: {"run_data_expiration": Duration.days(10)},
            r"run_data_expiration cannot be set with bucket .*got 10 days",
            id="run_data_expiration",
        ),
        pytest.param(
            lambda _: {"noncurrent_version_expiration": Duration.days(1)},
            r"noncurrent_version_expiration cannot be set with bucket",
            id="noncurrent_version_expiration",
        ),
        pytest.param(
            lambda _: {"abort_incomplete_multipart_upload_after": Duration.days(2)},
            r"abort_incomplete_multipart_upload_after cannot be set with bucket",
            id="abort_incomplete_multipart_upload_after",
        ),
        pytest.param(
            lambda _: {"removal_policy": RemovalPolicy.DESTROY},
            r"removal_policy cannot be set with bucket.*got DESTROY",
            id="removal_policy",
        ),
    ],
)
def test_settings_for_created_buckets_are_rejected_with_a_passed_bucket(
    scratch: Stack, setting: Callable[[s3.IBucket], dict[str, Any]], message: str
) -> None:
    bucket = s3.Bucket.from_bucket_name(
        scratch, f"Passed{len(scratch.node.children)}", "passed-bucket"
    )
    before = len(scratch.node.children)
    with pytest.raises(ValueError, match=message):
        ChannelBucket(scratch, "Conflict", bucket=bucket, **setting(bucket))
    assert len(scratch.node.children) == before, "validation runs before creating children"


def test_all_conflicts_are_reported_in_one_error(scratch: Stack) -> None:
    bucket = s3.Bucket.from_bucket_name(scratch, "PassedAll", "passed-bucket")
    with pytest.raises(ValueError) as raised:
        ChannelBucket(
            scratch,
            "AllConflicts",
            bucket=bucket,
            server_access_logs_bucket=bucket,
            run_data_expiration=Duration.hours(5),
            removal_policy=RemovalPolicy.DESTROY,
        )
    message = str(raised.value)
    for fragment in (
        "run_data_expiration must be a whole number of days",
        "server_access_logs_bucket cannot be set with bucket",
        "run_data_expiration cannot be set with bucket",
        "removal_policy cannot be set with bucket",
    ):
        assert fragment in message

"""Channel bucket rules (``constructs_sm.nag.rules.bucket``) on hand-written templates:
the compliant pipeline passes, each change makes exactly its rule fire on the bucket (or
none, for a compliant variant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from constructs_sm.nag.rules.bucket import _check_access_logs, _check_policy_principals
from constructs_sm.nag.template import CfnModelResource, StackModel, model_from_template
from tests.nag.templates import Pipeline, check_input_location


def _sse(pipeline: Pipeline) -> dict[str, Any]:
    config: dict[str, Any] = pipeline.bucket["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ][0]
    return config


def _lifecycle(pipeline: Pipeline) -> dict[str, Any]:
    rule: dict[str, Any] = pipeline.bucket["LifecycleConfiguration"]["Rules"][0]
    return rule


def _sse_s3(p: Pipeline) -> None:
    _sse(p)["ServerSideEncryptionByDefault"] = {"SSEAlgorithm": "AES256"}


def _external_key(p: Pipeline) -> None:
    _sse(p)["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] = "arn:aws:kms:eu-west-1:1:key/x"


def _tls_on_objects_only(p: Pipeline) -> None:
    p.bucket_policy[0]["Resource"] = p.bucket_policy[0]["Resource"][1:]


def _allow(principal: Any, condition: dict[str, Any] | None = None) -> Callable[[Pipeline], None]:
    """Add an Allow of GetObject and PutObject on the objects to the bucket policy."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, "/*"]]},
    }
    if condition is not None:
        statement["Condition"] = condition
    return lambda p: p.bucket_policy.append(statement)


def _data_source(
    prefix: str = "landing/", lifecycle: str | None = None
) -> Callable[[Pipeline], None]:
    """Add a data-source check (``s3://<B>/<prefix>*``) and, if given, a lifecycle rule on
    ``lifecycle`` that expires current objects."""

    def change(p: Pipeline) -> None:
        p.states["Check input locations"] = check_input_location(prefix)
        if lifecycle is not None:
            p.bucket["LifecycleConfiguration"]["Rules"].append(
                {"Id": "Tmp", "Status": "Enabled", "Prefix": lifecycle, "ExpirationInDays": 1}
            )

    return change


def _noncurrent_only(p: Pipeline) -> None:
    _data_source()(p)
    p.bucket["LifecycleConfiguration"]["Rules"].append(
        {"Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 7}}
    )


def _other_bucket_source(p: Pipeline) -> None:
    """A data source in another bucket; the channel bucket expires everything."""
    p.states["Check input locations"] = check_input_location("landing/", bucket="team-landing")
    _lifecycle(p).update(Prefix="")


def _format_check(p: Pipeline) -> None:
    """``StringMatches 's3://*'`` checks a parameter's format: it names no bucket."""
    p.states["Check input locations"] = check_input_location("", bucket="*")
    _lifecycle(p).update(Prefix="")


_OWN_ACCOUNT = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"],
    ]
}
_ANOTHER_ACCOUNT = "arn:aws:iam::111122223333:root"

#: Change -> the findings on the channel bucket (rule name -> finding ids).
CASES: dict[str, tuple[Callable[[Pipeline], None], dict[str, list[str]]]] = {
    "Compliant": (lambda p: None, {}),
    "SseS3": (_sse_s3, {"ChannelBucketSseKms": [""]}),
    "KeyNotRotated": (
        lambda p: p.key.update(EnableKeyRotation=False),
        {"ChannelBucketKeyRotation": [""]},
    ),
    "KeyOutsideTheStack": (_external_key, {"ChannelBucketKeyRotation": [""]}),
    "NoBucketKey": (
        lambda p: _sse(p).update(BucketKeyEnabled=False),
        {"ChannelBucketBucketKey": [""]},
    ),
    "BucketKeyAsString": (lambda p: _sse(p).update(BucketKeyEnabled="true"), {}),
    "NoTlsPolicy": (lambda p: p.bucket_policy.clear(), {"ChannelBucketTlsOnly": [""]}),
    "TlsOnObjectsOnly": (_tls_on_objects_only, {"ChannelBucketTlsOnly": [""]}),
    "PublicPolicyAllowed": (
        lambda p: p.bucket["PublicAccessBlockConfiguration"].update(BlockPublicPolicy=False),
        {"ChannelBucketPublicAccessBlock": [""]},
    ),
    "AclsEnabled": (
        lambda p: p.bucket["OwnershipControls"]["Rules"][0].update(
            ObjectOwnership="BucketOwnerPreferred"
        ),
        {"ChannelBucketOwnerEnforced": [""]},
    ),
    "VersioningSuspended": (
        lambda p: p.bucket["VersioningConfiguration"].update(Status="Suspended"),
        {"ChannelBucketVersioning": [""]},
    ),
    "NoAccessLogs": (
        lambda p: p.bucket.pop("LoggingConfiguration"),
        {"ChannelBucketAccessLogs": [""]},
    ),
    "LifecycleOnOtherPrefix": (
        lambda p: _lifecycle(p).update(Prefix="tmp/"),
        {"ChannelBucketLifecycle": [""]},
    ),
    "LifecycleOnWholeBucket": (lambda p: _lifecycle(p).update(Prefix=""), {}),
    "NoMultipartAbort": (
        lambda p: _lifecycle(p).pop("AbortIncompleteMultipartUpload"),
        {"ChannelBucketLifecycle": [""]},
    ),
    "LifecycleDisabled": (
        lambda p: _lifecycle(p).update(Status="Disabled"),
        {"ChannelBucketLifecycle": [""]},
    ),
    # The channel bucket policy granting another account GetObject/PutObject.
    "PolicyAllowsAnotherAccount": (
        _allow({"AWS": _ANOTHER_ACCOUNT}),
        {"ChannelBucketPolicyPrincipals": [f"AWS::{_ANOTHER_ACCOUNT}"]},
    ),
    "PolicyAllowsAnotherAccountId": (
        _allow({"AWS": ["111122223333"]}),
        {"ChannelBucketPolicyPrincipals": ["AWS::111122223333"]},
    ),
    "PolicyAllowsAnyone": (_allow("*"), {"ChannelBucketPolicyPrincipals": ["AWS::*"]}),
    "PolicyAllowsAnyoneInTheOrganization": (
        _allow({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}),
        {"ChannelBucketPolicyPrincipals": ["AWS::*"]},
    ),
    "PolicyAllowsAnyoneOfThisAccount": (
        _allow("*", {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}),
        {},
    ),
    "PolicyAllowsThisAccount": (_allow({"AWS": _OWN_ACCOUNT}), {}),
    "PolicyAllowsTheJobRole": (_allow({"AWS": {"Fn::GetAtt": ["R", "Arn"]}}), {}),
    "PolicyAllowsAServiceForAnyone": (
        _allow({"Service": "logging.s3.amazonaws.com"}),
        {"ChannelBucketPolicyPrincipals": ["Service::logging.s3.amazonaws.com"]},
    ),
    "PolicyAllowsAServiceForThisAccount": (
        _allow(
            {"Service": "logging.s3.amazonaws.com"},
            {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        ),
        {},
    ),
    "PolicyAllowsAFederatedUser": (
        _allow({"Federated": "cognito-identity.amazonaws.com"}),
        {"ChannelBucketPolicyPrincipals": ["Federated::cognito-identity.amazonaws.com"]},
    ),
    # Issue 8: a lifecycle rule that expires a data-source prefix.
    "DataSourceKept": (_data_source(), {}),
    "LifecycleExpiresTheWholeBucket": (
        _data_source(lifecycle=""),
        {"ChannelBucketDataSourceExpiry": ["DataSource::landing/"]},
    ),
    "LifecycleEqualsADataSource": (
        _data_source(lifecycle="landing/"),
        {"ChannelBucketDataSourceExpiry": ["DataSource::landing/"]},
    ),
    "LifecycleContainsADataSource": (
        _data_source(lifecycle="land"),
        {"ChannelBucketDataSourceExpiry": ["DataSource::landing/"]},
    ),
    "LifecycleInsideADataSource": (
        _data_source(lifecycle="landing/2026/"),
        {"ChannelBucketDataSourceExpiry": ["DataSource::landing/"]},
    ),
    "DataSourceInsideTheRunPrefix": (
        _data_source(prefix="runs/in/"),
        {"ChannelBucketDataSourceExpiry": ["DataSource::runs/in/"]},
    ),
    "LifecycleOnAnotherPrefix": (_data_source(lifecycle="landed/"), {}),
    "NoncurrentVersionsOnlyOnTheDataSource": (_noncurrent_only, {}),
    "DataSourceInAnotherBucket": (_other_bucket_source, {}),
    "ParameterFormatCheckIsNoDataSource": (_format_check, {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_change_makes_exactly_its_rule_fire(name: str) -> None:
    change, expected = CASES[name]
    pipeline = Pipeline()
    change(pipeline)
    found = pipeline.findings()
    assert found.get("B", {}) == expected
    assert set(found) <= {"B"}, found


def test_every_bucket_rule_has_a_failing_case() -> None:
    fired = {rule for _, expected in CASES.values() for rule in expected}
    assert fired == {
        "ChannelBucketSseKms",
        "ChannelBucketKeyRotation",
        "ChannelBucketBucketKey",
        "ChannelBucketTlsOnly",
        "ChannelBucketPublicAccessBlock",
        "ChannelBucketOwnerEnforced",
        "ChannelBucketVersioning",
        "ChannelBucketAccessLogs",
        "ChannelBucketLifecycle",
        "ChannelBucketPolicyPrincipals",
        "ChannelBucketDataSourceExpiry",
    }


def test_a_bucket_the_jobs_do_not_use_is_not_judged() -> None:
    """The access-log bucket has none of the settings and is not a channel bucket."""
    pipeline = Pipeline()
    assert pipeline.resources()["Logs"]["Properties"] == {}
    assert "Logs" not in pipeline.findings()


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


def test_a_principal_of_the_stack_account_given_as_a_literal_is_in_the_account() -> None:
    """With ``env``, CDK writes the stack's account as a literal: it is the own account
    when the pack knows it, another one otherwise."""
    pipeline = Pipeline()
    _allow({"AWS": "arn:aws:iam::123456789012:root"})(pipeline)
    resources = pipeline.resources()
    bucket = CfnModelResource("B", "AWS::S3::Bucket", resources["B"]["Properties"], "B")
    for account, expected in (
        ("123456789012", {}),
        (None, ["AWS::arn:aws:iam::123456789012:root"]),
    ):
        model = model_from_template({"Resources": resources}, account)
        assert list(_check_policy_principals(bucket, model)) == (expected or []), account


def test_escaped_wildcards_in_a_data_source_are_literal() -> None:
    """``glob_literal`` escapes ``*`` in a prefix; the data source is what precedes the
    first unescaped one."""
    pipeline = Pipeline()
    pipeline.states["Check input locations"] = check_input_location("a\\*b/")
    definition = model_from_template({"Resources": pipeline.resources()}).definition("M")
    assert definition is not None
    assert definition.data_sources() == [("<B>", "a*b/")]

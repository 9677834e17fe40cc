"""Channel bucket rules (``constructs_sm.nag.rules.bucket``) on hand-written templates:
the compliant pipeline passes, each change makes exactly its rule fire on the bucket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from constructs_sm.nag.rules.bucket import _check_access_logs
from constructs_sm.nag.template import CfnModelResource, StackModel
from tests.nag.templates import Pipeline


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

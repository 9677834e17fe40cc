"""The emulator's IAM policy evaluation (pure): operators, missing keys, strictness."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs_sm.local.policies import (
    Decision,
    Principal,
    Request,
    arn_match,
    condition_holds,
    evaluate,
    statement_applies,
    wildcard_match,
)

BUCKET = "arn:aws:s3:::bkt"


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def listing(prefix: str | None) -> Request:
    context = {} if prefix is None else {"s3:prefix": prefix}
    return Request("s3:ListBucket", BUCKET, context)


def test_wildcards_are_star_and_question_mark_only() -> None:
    assert wildcard_match("Churn/prepare/train/*", "Churn/prepare/train/e1/a.csv")
    assert wildcard_match("a?c", "abc") and not wildcard_match("a?c", "ac")
    assert not wildcard_match("a.c", "abc"), "a dot is literal, not a regex"
    assert not wildcard_match("data/[ab]", "data/a")
    assert wildcard_match("S3:GETOBJECT", "s3:GetObject", ignore_case=True)
    assert not wildcard_match("arn:aws:s3:::BKT/*", "arn:aws:s3:::bkt/x")


def test_arn_like_matches_each_component_on_its_own() -> None:
    pattern = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/churn-prepare-*"
    assert arn_match(pattern, pattern[:-1] + "0123")
    assert not arn_match(pattern, pattern.replace("us-east-1", "eu-west-1")[:-1] + "x")
    # "*" in the region component cannot swallow the account separator.
    assert not arn_match("arn:aws:states:*:stateMachine:x", "arn:aws:states:r:1:stateMachine:x")
    assert not arn_match("arn:aws:states", "arn:aws:states:r:1:stateMachine:x")


def test_string_like_on_s3_prefix_limits_listing() -> None:
    """moto 5.2.5 alone treats StringLike as satisfied: every prefix was listable."""
    grant = policy(
        allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["Churn/a/b/*"]}})
    )
    assert evaluate([grant], listing("Churn/a/b/e1/")) is Decision.ALLOW
    assert evaluate([grant], listing("Churn/a/b/")) is Decision.ALLOW
    assert evaluate([grant], listing("Churn/a/c/")) is Decision.IMPLICIT_DENY
    assert evaluate([grant], listing("")) is Decision.IMPLICIT_DENY
    assert evaluate([grant], listing(None)) is Decision.IMPLICIT_DENY


def test_a_failing_condition_of_one_allow_does_not_block_another() -> None:
    """moto 5.2.5 turns a statement whose condition fails into an explicit deny."""
    grants = policy(
        allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "P/_run/*"}}),
        allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "P/a/b/*"}}),
    )
    assert evaluate([grants], listing("P/a/b/e1/")) is Decision.ALLOW


def test_tls_only_deny_applies_on_the_plain_http_emulator() -> None:
    tls_only = deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})
    documents = [policy(allow("s3:*"), tls_only)]
    plain = Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "false"})
    secure = Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "true"})
    assert evaluate(documents, plain) is Decision.DENY
    assert evaluate(documents, secure) is Decision.ALLOW


def test_grant_for_aws_resource_only_is_refused_to_a_direct_call() -> None:
    grant = policy(
        allow("kms:CreateGrant", Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}})
    )
    assert evaluate([grant], Request("kms:CreateGrant", None)) is Decision.IMPLICIT_DENY
    via_service = Request("kms:CreateGrant", None, {"kms:GrantIsForAWSResource": "true"})
    assert evaluate([grant], via_service) is Decision.ALLOW


@pytest.mark.parametrize(
    ("operator", "wanted", "context", "expected"),
    [
        ("StringEquals", "a", {"k": "a"}, True),
        ("StringEquals", ["x", "a"], {"k": "a"}, True),
        ("StringEquals", "A", {"k": "a"}, False),
        ("StringEqualsIgnoreCase", "A", {"k": "a"}, True),
        ("StringNotEquals", ["x", "y"], {"k": "a"}, True),
        ("StringNotEquals", ["x", "a"], {"k": "a"}, False),
        ("StringNotEqualsIgnoreCase", "A", {"k": "a"}, False),
        ("StringLike", "a*", {"k": "abc"}, True),
        ("StringNotLike", "a*", {"k": "abc"}, False),
        ("ArnEquals", "arn:aws:s:r:1:x", {"k": "arn:aws:s:r:1:x"}, True),
        ("ArnNotLike", "arn:aws:s:r:1:x*", {"k": "arn:aws:s:r:1:y"}, True),
        ("Bool", "true", {"k": "TRUE"}, True),
        ("Bool", True, {"k": "true"}, True),
        ("NumericLessThan", "10", {"k": "9"}, True),
        ("NumericGreaterThanEquals", "10", {"k": "9"}, False),
        ("NumericEquals", "10", {"k": "ten"}, False),
        ("NumericNotEquals", "10", {"k": "9"}, True),
        # a key absent from the request: positive operators fail, negated ones hold
        ("StringEquals", "a", {}, False),
        ("StringNotEquals", "a", {}, True),
        ("ArnNotLike", "arn:*", {}, True),
        ("StringEqualsIfExists", "a", {}, True),
        ("StringEqualsIfExists", "a", {"k": "b"}, False),
        ("Null", "true", {}, True),
        ("Null", "false", {}, False),
        ("Null", "false", {"k": "v"}, True),
        # multivalued keys
        ("ForAnyValue:StringEquals", "a", {"k": ["b", "a"]}, True),
        ("ForAllValues:StringEquals", "a", {"k": ["b", "a"]}, False),
        ("ForAllValues:StringLike", "a*", {"k": ["ab", "a"]}, True),
        ("ForAllValues:StringEquals", "a", {}, True),
        ("ForAnyValue:StringNotEquals", "a", {}, False),
        ("StringEquals", "a", {"k": ["a", "b"]}, False),
    ],
)
def test_condition_operators(
    operator: str, wanted: Any, context: dict[str, Any], expected: bool
) -> None:
    assert condition_holds(operator, "k", wanted, Request("x:Y", None, context)) is expected


def test_condition_keys_are_case_insensitive() -> None:
    request = Request("s3:ListBucket", BUCKET, {"S3:Prefix": "a/"})
    assert condition_holds("StringLike", "s3:prefix", "a/*", request) is True


@pytest.mark.parametrize(
    ("operator", "wanted"),
    [
        ("DateGreaterThan", "2020-01-01T00:00:00Z"),
        ("IpAddress", "10.0.0.0/8"),
        ("StringEquals", "${aws:username}"),
    ],
)
def test_what_cannot_be_evaluated_denies_rather_than_allows(operator: str, wanted: str) -> None:
    request = Request("s3:GetObject", f"{BUCKET}/k", {"k": "v"})
    assert condition_holds(operator, "k", wanted, request) is None
    condition = {operator: {"k": wanted}}
    assert not statement_applies(allow("s3:GetObject", Condition=condition), request)
    assert statement_applies(deny("s3:GetObject", Condition=condition), request)


def test_an_unknown_resource_matches_only_star() -> None:
    """moto authorizes most non-S3 actions against '*': a scoped Allow never applies."""
    request = Request("states:StartExecution", None)
    scoped = "arn:aws:states:us-east-1:1:stateMachine:x"
    assert evaluate([policy(allow("states:StartExecution", scoped))], request) is (
        Decision.IMPLICIT_DENY
    )
    assert evaluate([policy(allow("states:*"))], request) is Decision.ALLOW
    assert evaluate([policy(allow("*"), deny("states:*", scoped))], request) is Decision.DENY
    not_resource = {"Effect": "Allow", "Action": "states:*", "NotResource": scoped}
    assert evaluate([policy(not_resource)], request) is Decision.IMPLICIT_DENY


def test_actions_and_not_actions() -> None:
    request = Request("s3:GetObject", f"{BUCKET}/k")
    assert evaluate([policy(allow("s3:Get*"))], request) is Decision.ALLOW
    assert evaluate([policy(allow(["s3:PutObject"]))], request) is Decision.IMPLICIT_DENY
    everything_but = {"Effect": "Allow", "NotAction": "s3:Put*", "Resource": "*"}
    assert evaluate([policy(everything_but)], request) is Decision.ALLOW
    assert evaluate([policy(allow("*"), deny("s3:getobject"))], request) is Decision.DENY


def test_principals_of_trust_policies() -> None:
    user = "arn:aws:iam::1:user/u"
    role = "arn:aws:iam::1:role/path/r"
    session = Principal(arns=("arn:aws:sts::1:assumed-role/r/s", role))
    trust = {"Effect": "Allow", "Action": "sts:AssumeRole"}

    def applies(principal_spec: Any, principal: Principal | None) -> bool:
        request = Request("sts:AssumeRole", "arn:aws:iam::1:role/t", principal=principal)
        return statement_applies({**trust, "Principal": principal_spec}, request)

    assert applies({"AWS": user}, Principal(arns=(user,)))
    assert applies({"AWS": [role]}, session)
    assert applies("*", Principal(arns=(user,)))
    assert applies(
        {"Service": ["sagemaker.amazonaws.com"]}, Principal.of_service("sagemaker.amazonaws.com")
    )
    assert not applies({"Service": "sagemaker.amazonaws.com"}, Principal(arns=(user,)))
    assert not applies(
        {"Service": "sagemaker.amazonaws.com"}, Principal.of_service("states.amazonaws.com")
    )
    assert not applies({"AWS": "arn:aws:iam::1:root"}, Principal(arns=(user,))), "stricter"
    assert not applies({"AWS": user}, None)


def test_a_service_trust_with_confused_deputy_conditions() -> None:
    job = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/churn-prepare-1-"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": job + "*"},
            },
        }
    )

    def decide(source_arn: str, account: str = "123456789012") -> Decision:
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": account}
        sagemaker = Principal.of_service("sagemaker.amazonaws.com")
        return evaluate([trust], Request("sts:AssumeRole", "arn:r", context, sagemaker))

    assert decide(job + "abc") is Decision.ALLOW
    assert decide(job.replace("prepare", "train") + "abc") is Decision.IMPLICIT_DENY
    assert decide(job + "abc", account="999999999999") is Decision.IMPLICIT_DENY


def test_documents_may_be_json_text_with_a_single_statement() -> None:
    text = json.dumps({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
    assert evaluate([text], Request("s3:GetObject", f"{BUCKET}/k")) is Decision.ALLOW
    assert evaluate([], Request("s3:GetObject", f"{BUCKET}/k")) is Decision.IMPLICIT_DENY


def test_a_statement_cloudformation_removed_is_skipped() -> None:
    """moto's template parser leaves ``Fn::If`` -> ``AWS::NoValue`` (the CDK bootstrap
    template's trust policies) as a null statement; CloudFormation drops it."""
    document = {"Statement": [None, {"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert evaluate([document], Request("s3:GetObject", f"{BUCKET}/k")) is Decision.ALLOW
    assert evaluate([{"Statement": [None]}], Request("s3:GetObject", f"{BUCKET}/k")) is (
        Decision.IMPLICIT_DENY
    )

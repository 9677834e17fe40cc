"""Checks that start and stop an emulator of their own, run by tests/test_local_iam.py in
a process of their own (one process holds one emulator; the test session's is running).

    python -m tests.local_iam_lifecycle without_enforcement|enforced_by_default

prints ``<check>: ok`` when the check holds, else fails with its assertion.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

import botocore.exceptions
from moto.iam import access_control
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    StateTaskServiceAwsSdk,
)

from constructs_sm.local import Emulator, iam


def without_enforcement() -> None:
    """``enforce_iam=False``: nothing is checked and moto is left as it is."""
    original = access_control.IAMRequestBase.check_action_permitted
    with Emulator(enforce_iam=False) as aws:
        assert not iam.enforced()
        assert access_control.IAMRequestBase.check_action_permitted is original
        anyone = iam.Credentials("anyone", "anything").session(aws.region)
        anyone.client("s3", endpoint_url=aws.endpoint).create_bucket(Bucket="open-bucket")


def enforced_by_default() -> None:
    """IAM is enforced from the start, and moto is restored when the emulator stops."""
    original = access_control.IAMRequestBase.check_action_permitted
    client_source = importlib.import_module("moto.stepfunctions.parser.asl.utils.boto_client")
    with Emulator() as aws:
        assert iam.enforced()
        assert access_control.IAMRequestBase.check_action_permitted is iam.check_action_permitted
        assert aws.env["AWS_ACCESS_KEY_ID"] == aws.credentials.access_key_id
        aws.client("s3").create_bucket(Bucket="admin-bucket")
        fake = iam.Credentials("testing", "testing").session(aws.region)
        try:
            fake.client("s3", endpoint_url=aws.endpoint).list_buckets()
        except botocore.exceptions.ClientError as refused:
            assert refused.response["Error"]["Code"] == "InvalidAccessKeyId"
        else:
            raise AssertionError("a key the emulator never issued was accepted")
    assert not iam.enforced()
    assert access_control.IAMRequestBase.check_action_permitted is original
    for name in iam.CLIENT_USERS:
        module = importlib.import_module(name)
        assert module.boto_client_for is client_source.boto_client_for, name
    assert StateTaskServiceAwsSdk._eval_service_task is not iam._eval_service_task


CHECKS: dict[str, Callable[[], None]] = {
    "without_enforcement": without_enforcement,
    "enforced_by_default": enforced_by_default,
}

if __name__ == "__main__":
    name = sys.argv[1]
    CHECKS[name]()
    print(f"{name}: ok")

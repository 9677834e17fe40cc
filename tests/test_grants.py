"""What each role may reach, computed from a step's channels (pure, no Stack); and how
the grants are acknowledged (pipelines in a Stack, under the nag packs)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from constructs_sm import ChannelBucket, Param, ProcessingImage, ProcessingPipeline
from constructs_sm.grants import S3Read, step_access
from constructs_sm.model import DataSource, OutputRef, StepInput
from constructs_sm.nag import (
    INLINE_POLICY_FINDINGS,
    ProcessingPipelineChecks,
    collect_acknowledgments,
    default_packs,
    wildcard_finding,
)
from constructs_sm.params import ParamRef
from tests.samples import fake_step

CHANNEL = object()


class _Bucket:
    bucket_arn = "arn:aws:s3:::landing"


def test_step_access_is_exactly_the_steps_channels() -> None:
    other = DataSource(cast(Any, _Bucket()), "2026/")
    on_channel = DataSource(cast(Any, CHANNEL), "data/")
    access = step_access(
        pipeline="Churn",
        step="train",
        inputs={
            "train": StepInput(OutputRef(fake_step("prepare"), "train")),
            "raw": StepInput(ParamRef(Param.string("raw_uri"))),
            "ref": StepInput("s3://reference-data/tables/"),
        },
        outputs=["model"],
        returns=True,
        data_sources=[on_channel, other],
        channel_bucket=CHANNEL,
    )
    assert access.reads[:4] == (
        S3Read(None, "Churn/_run/params/"),
        S3Read(None, "Churn/prepare/train/"),
        S3Read(None, "data/"),
        S3Read("arn:aws:s3:::landing", "2026/"),
    )
    literal = access.reads[4]  # the partition is a token: arn:${Token[AWS.Partition...]}
    assert literal.prefix == "tables/" and len(access.reads) == 5
    assert literal.bucket_arn is not None and literal.bucket_arn.endswith(":s3:::reference-data")
    # Several hosts write their returned values under one literal prefix of their own.
    assert access.channel_writes == ("Churn/train/model/", "Churn/_returns/train/")
    assert access.machine_reads == ("Churn/_returns/train/",)


def test_a_step_without_returns_gives_the_state_machine_nothing_to_read() -> None:
    access = step_access(
        pipeline="P",
        step="s",
        inputs={},
        outputs=[],
        returns=False,
        data_sources=[],
        channel_bucket=CHANNEL,
    )
    assert access.reads == (S3Read(None, "P/_run/params/"),)
    assert access.channel_writes == () and access.machine_reads == ()


# -- no role reaches into another step's channel, whatever the key ------------------------

#: A diamond with a fan-in, a step named like another's prefix and one channel named like
#: another step: prepare -> (train | train2) -> evaluate.
_STEPS: dict[str, tuple[dict[str, tuple[str, str]], list[str], bool]] = {
    "prepare": ({}, ["train", "test"], False),
    "train": ({"train": ("prepare", "train")}, ["model"], True),
    "train2": ({"train": ("prepare", "train")}, ["model", "prepare"], False),
    "evaluate": ({"model": ("train", "model"), "test": ("prepare", "test")}, [], True),
}
_EXECUTIONS = ("E1", "E10", "E1/x", "*")


def _iam_match(pattern: str, key: str) -> bool:
    """IAM resource matching: ``*`` is any run of characters, ``/`` included."""
    regex = "".join(".*" if char == "*" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, key, flags=re.DOTALL) is not None


def _channels() -> list[tuple[str, str]]:
    found = [("_run", "params")]
    for step, (_, outputs, returns) in _STEPS.items():
        found += [(step, channel) for channel in outputs]
        found += [("_returns", step)] if returns else []
    return found


def _crafted_keys() -> list[str]:
    """Keys inside every channel, including ones whose tail spells another channel."""
    keys = []
    for step, channel in _channels():
        for execution in _EXECUTIONS:
            inside = f"Churn/{step}/{channel}/{execution}/"
            keys.append(inside + "part.csv")
            # The tail names every other channel: the old layout's '*' crossed into these.
            keys += [inside + f"Churn/{s}/{c}/{execution}/x" for s, c in _channels()]
            keys += [f"Churn/{execution}/{s}/{c}/{step}/{channel}/x" for s, c in _channels()]
    return keys


def _owner(key: str) -> tuple[str, str] | None:
    parts = key.split("/")
    return (parts[1], parts[2]) if len(parts) > 3 and parts[0] == "Churn" else None


def test_no_role_reads_or_writes_inside_another_steps_channel() -> None:
    keys = _crafted_keys()
    for step, (inputs, outputs, returns) in _STEPS.items():
        access = step_access(
            pipeline="Churn",
            step=step,
            inputs={
                name: StepInput(OutputRef(fake_step(source), channel))
                for name, (source, channel) in inputs.items()
            },
            outputs=outputs,
            returns=returns,
            data_sources=[],
            channel_bucket=CHANNEL,
        )
        own = {(step, c) for c in outputs} | ({("_returns", step)} if returns else set())
        readable = own | set(inputs.values()) | {("_run", "params")}
        for key in keys:
            writable = any(_iam_match(f"{p}*", key) for p in access.channel_writes)
            assert not writable or _owner(key) in own, f"{step} may write {key}"
            read = any(_iam_match(f"{r.prefix}*", key) for r in access.reads)
            assert not read or _owner(key) in readable, f"{step} may read {key}"
        # ... and every channel it should reach is reachable.
        for channel in own:
            assert any(
                _iam_match(f"{p}*", f"Churn/{channel[0]}/{channel[1]}/E1/x")
                for p in access.channel_writes
            )


# -- acknowledgments of the grants hide nothing they did not grant ---------------------------

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/processing:1"


def _pipeline(stack: cdk.Stack, **kwargs: Any) -> ProcessingPipeline:
    return ProcessingPipeline(
        stack,
        "Pipeline",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
        params=[Param.string("raw_uri", pattern=r"^s3://")],
        **kwargs,
    )


def test_actions_added_to_a_step_role_on_its_own_prefix_are_reported(script: Path) -> None:
    """The pipeline acknowledges the AwsSolutions-IAM5 findings of its step roles' prefix
    grants once, for all its roles: delete and tagging actions added to a role on those
    very objects are then reported by our pack (per action), as is another principal in
    the role's trust policy."""
    app = cdk.App()
    stack = cdk.Stack(app, "Extra")
    pipeline = _pipeline(stack)
    step = pipeline.add_step("only", code=script, outputs=["out"])
    objects = pipeline.storage.bucket.arn_for_objects("Pipeline/only/out/*")
    added = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging"]
    step.role.add_to_principal_policy(iam.PolicyStatement(actions=added, resources=[objects]))
    assert isinstance(step.role, iam.Role)
    step.role.assume_role_policy.add_statements(  # type: ignore[union-attr]
        iam.PolicyStatement(actions=["sts:AssumeRole"], principals=[iam.AnyPrincipal()])
    )
    app.synth()  # the pipeline acknowledges its shared findings when it is finalized
    found = {
        (violation.rule_name, resource.construct_path)
        for pack in (AwsSolutionsChecks(app), ProcessingPipelineChecks(app))
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
    }
    iam5 = wildcard_finding(step.role, objects)
    text = iam5.removeprefix("AwsSolutions-IAM5[Resource::").removesuffix("]")
    policy = "Extra/Pipeline/only/Role/DefaultPolicy/Resource"
    assert iam5.startswith("AwsSolutions-IAM5[")
    assert found == {
        *(
            (f"ProcessingPipeline-IamChannelBucketActions[Action::{a}::Resource::{text}]", policy)
            for a in added
        ),
        ("ProcessingPipeline-IamTrustServiceOnly[AWS::*]", "Extra/Pipeline/only/Role/Resource"),
    }


def test_a_whole_bucket_data_source_acknowledges_exactly_its_two_findings(script: Path) -> None:
    """A declared whole-bucket data source passes every pack: the role's
    ``WholeBucketSources`` policy acknowledges the findings of exactly those statements (reading
    ``<bucket>/*``, listing with ``s3:prefix`` ``*``). The same statements added to the
    role, or a ``*`` prefix on another bucket, are still reported; a data source with a
    prefix needs no acknowledgment of our pack."""
    app = cdk.App()
    stacks = {}
    for name, prefix in (("Whole", ""), ("Added", ""), ("Prefixed", "2026/")):
        stack = cdk.Stack(app, name)
        landing = s3.Bucket.from_bucket_name(stack, "Landing", "team-landing")
        pipeline = _pipeline(stack, data_sources=[DataSource(landing, prefix)])
        step = pipeline.add_step("prep", code=script, inputs={"raw": pipeline.param("raw_uri")})
        stacks[name] = (stack, landing, step.role)
    _, landing, role = stacks["Added"]
    other = s3.Bucket.from_bucket_name(stacks["Added"][0], "Other", "other-landing")
    for listed in (landing, other):
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[listed.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["*"]}},
            )
        )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[landing.arn_for_objects("*")])
    )
    app.synth()  # the pipeline acknowledges its shared findings when it is finalized
    found = {
        (violation.rule_name, resource.construct_path)
        for pack in default_packs(app)
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
    }
    bucket = "arn:<AWS::Partition>:s3:::team-landing"
    other_bucket = "arn:<AWS::Partition>:s3:::other-landing"
    policy = "Added/Pipeline/prep/Role/DefaultPolicy/Resource"
    assert found == {
        (f"AwsSolutions-IAM5[Resource::{bucket}/*]", policy),
        (f"ProcessingPipeline-IamStepObjectAccess[Resource::{bucket}/*]", policy),
        (f"ProcessingPipeline-IamListBucketPrefix[Resource::{bucket}]", policy),
        (f"ProcessingPipeline-IamListBucketPrefix[Resource::{other_bucket}]", policy),
        # the policy the app added to the step's role is an inline policy of its own
        *((finding, policy) for finding in INLINE_POLICY_FINDINGS),
    }
    ours = [
        (a["path"], a["id"])
        for a in collect_acknowledgments(app)
        if a["id"].startswith("ProcessingPipeline-")
    ]
    assert sorted(ours) == [
        (f"{name}/Pipeline/prep/Role/WholeBucketSources", finding)
        for name in ("Added", "Whole")
        for finding in (
            f"ProcessingPipeline-IamListBucketPrefix[Resource::{bucket}]",
            f"ProcessingPipeline-IamStepObjectAccess[Resource::{bucket}/*]",
        )
    ]

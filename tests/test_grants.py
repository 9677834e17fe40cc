"""What each role may reach, computed from a step's channels (pure, no Stack)."""

from __future__ import annotations

from typing import Any, cast

from constructs_sm.grants import S3Read, step_access
from constructs_sm.model import DataSource, OutputRef, StepInput
from constructs_sm.params import Param, ParamRef
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
        S3Read(None, "Churn/*/_run/"),
        S3Read(None, "Churn/*/prepare/train/"),
        S3Read(None, "data/"),
        S3Read("arn:aws:s3:::landing", "2026/"),
    )
    literal = access.reads[4]  # the partition is a token: arn:${Token[AWS.Partition...]}
    assert literal.prefix == "tables/" and len(access.reads) == 5
    assert literal.bucket_arn is not None and literal.bucket_arn.endswith(":s3:::reference-data")
    assert access.channel_writes == ("Churn/*/train/model/", "Churn/*/train/returns/")
    assert access.machine_reads == ("Churn/*/train/returns/",)


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
    assert access.reads == (S3Read(None, "P/*/_run/"),)
    assert access.channel_writes == () and access.machine_reads == ()

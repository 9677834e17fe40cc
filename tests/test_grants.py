"""What each role may reach, computed from a step's channels (pure, no Stack)."""

from __future__ import annotations

import re
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

"""A pipeline using every option of the library, at its limits (for the wide-view tests).

Longest names (pipeline 40, steps 40, channels 64 characters), a VPC with a created
security group, tags at their limits, data sources on the channel bucket and on another
bucket, every input kind (a parameter URI, a literal URI, a ManifestFile, Pipe and
ShardedByS3Key), 10 outputs and returned values of every type (one host: they come back
in the ExitMessage; 100 hosts: through the returns channel), environment values of
every kind (literals of 256 characters, params, another step's values), 100 container
arguments mixing params and tokens, a 100-instance job with the largest volume and the
longest runtime, an instance type with local NVMe storage, network isolation off, an
image of its own, an ``after`` dependency, channels at the longest container paths (256
characters) and a code directory run by a non-Python command of 94 items (the
ContainerEntrypoint then has 100).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_sm import (
    ChannelBucket,
    DataSource,
    Param,
    ProcessingImage,
    ProcessingPipeline,
    Resources,
    StepInput,
    StepOutput,
)

SCRIPT = Path(__file__).resolve().parents[1] / "stacks" / "scripts" / "prepare.py"
#: The longest LocalPath the API allows (256 characters).
LONG_PATH = "/opt/ml/processing/" + "p" * 237
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/coverage:1"
PIPELINE = "P" + "p" * 39
LONG_STEP = "s" * 40
LONG_CHANNEL = "c" * 64


class CoverageStack(Stack):
    """Every option, at its limits (see the module docstring)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = ChannelBucket(self, "Storage")
        landing = s3.Bucket.from_bucket_name(self, "Landing", "team-landing")
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, nat_gateways=1)
        pipeline = ProcessingPipeline(
            self,
            "Coverage",
            pipeline_name=PIPELINE,
            storage=storage,
            image=ProcessingImage.from_registry(IMAGE),
            vpc=vpc,
            data_sources=[DataSource(storage.bucket, "data/"), DataSource(landing)],
            timeout=Duration.days(30),
            tags={
                **{f"k{i:03d}" + "k" * 124: "v" * 256 for i in range(45)},
                "équipe données": "ML platform: nightly @ 02:00 UTC+1 / team=ml",
            },
            params=[
                Param.string("raw_uri", pattern=r"^s3://"),
                Param.string("label", default="x", max_length=256),
                Param.string("mode", default="fast", choices=["fast", "thorough"]),
                Param.integer("epochs", default=10, minimum=1, maximum=2**53),
                Param.number("rate", default=0.5, minimum=-1e300, maximum=1e300),
                Param.boolean("debug", default=False),
            ],
        )
        first = pipeline.add_step(
            LONG_STEP,
            code=SCRIPT,
            inputs={
                "raw": pipeline.param("raw_uri"),
                "reference": "s3://reference-data/tables/2026/",
                "manifest": StepInput(
                    "s3://reference-data/manifests/m.json", data_type="ManifestFile"
                ),
                "piped": StepInput(pipeline.param("raw_uri"), mode="Pipe"),
            },
            outputs=[LONG_CHANNEL, *(f"out{i}" for i in range(9))],
            env={
                **{f"LIT_{i}": "v" * 256 for i in range(91)},
                "LABEL": pipeline.param("label"),
                "MODE": pipeline.param("mode"),
                "EPOCHS": pipeline.param("epochs"),
                "RATE": pipeline.param("rate"),
                "DEBUG": pipeline.param("debug"),
                "FLOAT": 1e-300,
                "BOOL": True,
            },
            arguments=[
                *(f"--arg{i}=" + "a" * 240 for i in range(95)),
                f"--out=s3://{storage.bucket_name}/extra/",
                pipeline.param("label"),
                pipeline.param("epochs"),
                pipeline.param("rate"),
                pipeline.param("debug"),
            ],
            returns={"n": int, "x": float, "ok": bool, "s": str},
        )
        wide = pipeline.add_step(
            "wide",
            code=SCRIPT,
            inputs={
                "sharded": StepInput(
                    first.output(LONG_CHANNEL),
                    distribution="ShardedByS3Key",
                    local_path=LONG_PATH[:-1] + "i",
                )
            },
            outputs=[StepOutput("part", local_path=LONG_PATH)],
            env={
                "N": first.value("n"),
                "X": first.value("x"),
                "OK": first.value("ok"),
                "S": first.value("s"),
            },
            returns={"rows": int, "mean": float, "done": bool, "who": str},
            resources=Resources(
                instance_type="ml.m5.24xlarge",
                instance_count=100,
                volume_size_gb=16384,
                max_runtime_seconds=777_600,
            ),
        )
        pipeline.add_step(
            "nvme",
            code=SCRIPT,
            inputs={"part": wide.output("part")},
            resources=Resources(instance_type="ml.g5.xlarge", volume_size_gb=200),
            network_isolation=False,
            image=ProcessingImage.from_registry(IMAGE.replace(":1", ":gpu")),
        )
        pipeline.add_step(
            "last",
            code=SCRIPT.parent,
            entry_point=SCRIPT.name,
            command=["bash", *("-" + "x" * 255 for _ in range(93))],
            after=[first, wide],
        )
        self.storage = storage
        self.pipeline = pipeline

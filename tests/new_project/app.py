#!/usr/bin/env python3
"""A new user's CDK app: one pipeline of one step, in a folder of its own.

tests/test_install.py copies this folder out of the repository and runs it with
constructs_sm installed from its wheel, as ``python -m constructs_sm.local run``.
"""

import aws_cdk as cdk
from constructs import Construct

from constructs_sm import ChannelBucket, Param, ProcessingImage, ProcessingPipeline


class CountStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        storage = ChannelBucket(self, "Storage")
        image = ProcessingImage.from_asset(self, "Image", directory="image")
        pipeline = ProcessingPipeline(
            self,
            "Count",
            storage=storage,
            image=image,
            params=[
                Param.string("data_uri", pattern=r"^s3://"),
                Param.integer("times", default=2, minimum=1),
                Param.string("note", default="", max_length=40),
            ],
        )
        pipeline.add_step(
            "count",
            code="scripts/count.py",
            inputs={"data": pipeline.param("data_uri")},
            outputs=["report"],
            env={"TIMES": pipeline.param("times"), "NOTE": pipeline.param("note")},
            returns={"lines": int, "total": int, "note": str},
        )


app = cdk.App()
CountStack(app, "CountPipeline")
app.synth()

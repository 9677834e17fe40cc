#!/usr/bin/env python3
"""The engine benchmark's CDK app (tests/benchmarks/bench_engine.py).

One stack, ``EngineBench``: one channel bucket and one pipeline per chain length in the
context key ``chains`` (default ``1,20``), ``Chain<N>``: N steps that each run
``noop.py`` (a script that does nothing), each after the one before it (``after=``: no
data flows, so the steps run one at a time).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import aws_cdk as cdk

from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline

NOOP = Path(__file__).with_name("noop.py")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/engine-bench:1"

app = cdk.App()
stack = cdk.Stack(app, "EngineBench")
storage = ChannelBucket(stack, "Storage")
image = ProcessingImage.from_registry(IMAGE)
chains = str(app.node.try_get_context("chains") or "1,20")
for length in sorted({int(n) for n in chains.split(",")}):
    pipeline = ProcessingPipeline(stack, f"Chain{length}", storage=storage, image=image)
    previous = None
    for index in range(length):
        previous = pipeline.add_step(
            f"s{index}", code=NOOP, after=[previous] if previous is not None else []
        )
app.synth()

#!/usr/bin/env python3
"""The example CDK app: reads context and instantiates the example stacks."""

from __future__ import annotations

import aws_cdk as cdk

from stacks.pipeline_stack import ChurnPipelineStack

app = cdk.App()
account = app.node.try_get_context("account")
region = app.node.try_get_context("region")
env = cdk.Environment(account=account, region=region) if account or region else None
ChurnPipelineStack(app, "ChurnPipeline", env=env)
app.synth()

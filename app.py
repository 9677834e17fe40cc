#!/usr/bin/env python3
"""The example CDK app: reads context and instantiates the example stacks.

Every pack of ``constructs_sm.nag.apply_checks`` runs at synth: a violation fails the
synth, and ``cdk.out/nag-report.json`` lists every pack's violations and acknowledgments.
"""

from __future__ import annotations

import aws_cdk as cdk

from constructs_sm.nag import apply_checks
from stacks.hardened_stack import HardenedPipelineStack
from stacks.pipeline_stack import ChurnPipelineStack

app = cdk.App()
account = app.node.try_get_context("account")
region = app.node.try_get_context("region")
env = cdk.Environment(account=account, region=region) if account or region else None
apply_checks(app)
ChurnPipelineStack(app, "ChurnPipeline", env=env)
HardenedPipelineStack(app, "ChurnPipelineHardened", env=env)
app.synth()

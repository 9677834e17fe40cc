#!/usr/bin/env python3
"""The example app's stack, the probe stack and the porting guide's stack, deployed once by
tests/test_local_e2e.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aws_cdk as cdk

from stacks.pipeline_stack import ChurnPipelineStack
from tests.local_app.ported_stack import PortedStack
from tests.local_app.probe_stack import ProbeStack

app = cdk.App()
ChurnPipelineStack(app, "ChurnPipeline")
ProbeStack(app, "ProbePipeline")
PortedStack(app, "PortedPipeline")
app.synth()

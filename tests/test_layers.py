"""The pure layers stay pure: importing them never loads aws-cdk-lib.

aws-cdk-lib starts a Node process (the jsii kernel) when it is imported, and leaves its
temporary directory behind when that process is killed. The container runtime must not
need it at all; the planning and rendering passes are tested without a Stack; and the
offline CLI, which a SIGTERM may interrupt, must not start Node in its own process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Modules that must import without aws-cdk-lib, in the order they are imported.
PURE = (
    "constructs_sm.runtime",
    "constructs_sm.model",
    "constructs_sm.params",
    "constructs_sm.param_checks",
    "constructs_sm.plan",
    "constructs_sm.definition",
    "constructs_sm.retries",
    "constructs_sm.fanout",
    "constructs_sm.hosting",
    "constructs_sm.layout",
    "constructs_sm.limits",
    "constructs_sm.iam_limits",
    "constructs_sm.assembly",
    "constructs_sm.report",
    "constructs_sm.diagram",
    "constructs_sm.local.cli",
)

_PROBE = """
import importlib, json, sys
loaded = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    loaded[name] = "aws_cdk" in sys.modules
print(json.dumps(loaded))
"""


def test_pure_layers_and_the_cli_import_without_aws_cdk_lib() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *PURE], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert [name for name in PURE if loaded[name]] == []


def test_the_probe_sees_a_construct_module_load_it() -> None:
    """The check above can fail: a construct module does load aws-cdk-lib."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "constructs_sm.pipeline"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == {"constructs_sm.pipeline": True}


_SYNTH_PROBE = """
import json, sys
from pathlib import Path
import aws_cdk as cdk
from constructs_sm import ChannelBucket, ProcessingImage, ProcessingPipeline

OPTIONAL = ("aws_cdk.aws_ec2", "aws_cdk.aws_cloudwatch", "aws_cdk.aws_sns")
seen = {}
app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Probe")
pipeline = ProcessingPipeline(
    stack, "Probe", storage=ChannelBucket(stack, "Storage"),
    image=ProcessingImage.from_registry("123456789012.dkr.ecr.us-east-1.amazonaws.com/i:1"),
)
pipeline.add_step("prepare", code=Path(sys.argv[2]), outputs=["out"])
app.synth()
seen["synth"] = [name for name in OPTIONAL if name in sys.modules]
pipeline.connections
seen["connections"] = [name for name in OPTIONAL if name in sys.modules]
pipeline.alarm_on_failure()
seen["alarm"] = [name for name in OPTIONAL if name in sys.modules]
print(json.dumps(seen))
"""


def test_a_pipeline_without_vpc_or_alarm_loads_neither_ec2_nor_cloudwatch(tmp_path: Path) -> None:
    """aws_ec2 (0.1 s to import) and aws_cloudwatch with aws_sns (0.1 s) are loaded when a
    pipeline has a VPC or asks for them, not by every synth; asking for them still works."""
    script = tmp_path / "prepare.py"
    script.write_text("print('prepare')\n")
    done = subprocess.run(
        [sys.executable, "-c", _SYNTH_PROBE, str(tmp_path / "out"), str(script)],
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "synth": [],
        "connections": ["aws_cdk.aws_ec2"],
        "alarm": ["aws_cdk.aws_ec2", "aws_cdk.aws_cloudwatch", "aws_cdk.aws_sns"],
    }

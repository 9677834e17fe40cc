"""Hand-written cloud assemblies for the built-in deployer (constructs_sm.local.cfn_deploy).

``write_assembly`` writes what ``cdk synth`` writes for two stacks, CsmAsmBase (with a
nested stack) and CsmAsmTop (which imports an export of Base, so Base must be deployed
first), with the kinds of assets an app has: its templates, a nested stack's template, a
directory zipped, a file an executable generates, and a Docker image. The bootstrap
qualifier ``csmtest`` keeps its staging bucket and version parameter apart from the
CLI's (``hnb659fds``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

STAGING = "cdk-csmtest-assets-${AWS::AccountId}-${AWS::Region}"
VERSION_PARAMETER = "/cdk-bootstrap/csmtest/version"


def _bootstrap_parameter() -> dict[str, Any]:
    return {
        "BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": VERSION_PARAMETER,
        }
    }


def _file(path: str, key: str, packaging: str = "file") -> dict[str, Any]:
    return {
        "source": {"path": path, "packaging": packaging},
        "destinations": {"current": {"bucketName": STAGING, "objectKey": key}},
    }


def _stack(name: str, template: str, key: str, dependencies: list[str]) -> dict[str, Any]:
    return {
        "type": "aws:cloudformation:stack",
        "environment": "aws://unknown-account/unknown-region",
        "properties": {
            "templateFile": template,
            "stackName": name,
            "stackTemplateAssetObjectUrl": f"s3://{STAGING}/{key}",
            "requiresBootstrapStackVersion": 6,
            "bootstrapStackVersionSsmParameter": VERSION_PARAMETER,
        },
        "dependencies": dependencies,
    }


def _assets(name: str) -> dict[str, Any]:
    return {
        "type": "cdk:asset-manifest",
        "properties": {
            "file": f"{name}.assets.json",
            "requiresBootstrapStackVersion": 6,
            "bootstrapStackVersionSsmParameter": VERSION_PARAMETER,
        },
    }


def write_one_stack(root: Path, stack_name: str, resources: dict[str, Any]) -> Path:
    """Write an assembly of one stack, ``stack_name`` (artifact ``Broken``), holding
    ``resources``, under ``root / "assembly"``; returns its directory."""
    assembly = root / "assembly"
    assembly.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"Parameters": _bootstrap_parameter(), "Resources": resources})
    (assembly / "Broken.template.json").write_text(text)
    key = f"{hashlib.sha256(text.encode()).hexdigest()}.json"  # as cdk: a new template, a new key
    files = {"broken": _file("Broken.template.json", key)}
    (assembly / "Broken.assets.json").write_text(json.dumps({"files": files}))
    artifacts = {
        "Broken.assets": _assets("Broken"),
        "Broken": _stack(stack_name, "Broken.template.json", key, ["Broken.assets"]),
    }
    (assembly / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return assembly


def write_assembly(root: Path, *, broken: bool = False) -> Path:
    """Write the assembly under ``root / "assembly"``; returns its directory.

    ``broken`` writes one stack, CsmAsmBroken, whose template CloudFormation refuses.
    """
    assembly = root / "assembly"
    (assembly / "asset.dir" / "sub").mkdir(parents=True)
    (assembly / "asset.dir" / "a.txt").write_text("a\n")
    (assembly / "asset.dir" / "sub" / "b.txt").write_text("b\n")
    if broken:
        param = {"Type": "String", "Value": {"Fn::GetAtt": ["Nope", "Arn"]}}
        resources = {"Param": {"Type": "AWS::SSM::Parameter", "Properties": param}}
        return write_one_stack(root, "CsmAsmBroken", resources)
    nested_url = [
        "https://s3.",
        {"Ref": "AWS::Region"},
        ".",
        {"Ref": "AWS::URLSuffix"},
        "/cdk-csmtest-assets-",
        {"Ref": "AWS::AccountId"},
        "-",
        {"Ref": "AWS::Region"},
        "/nested.json",
    ]
    nested = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    (assembly / "Nested.template.json").write_text(json.dumps(nested))
    base = {
        "Parameters": _bootstrap_parameter(),
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            # A nested stack, as CDK writes it: its template is a file asset.
            "Nested": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": {"Fn::Join": ["", nested_url]}},
            },
        },
        "Outputs": {
            "BucketName": {"Value": {"Ref": "Bucket"}, "Export": {"Name": "CsmAsmBaseBucket"}}
        },
    }
    top = {
        "Parameters": _bootstrap_parameter(),
        "Resources": {
            "Imported": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": "/csmtest/base-bucket",
                    "Type": "String",
                    "Value": {"Fn::ImportValue": "CsmAsmBaseBucket"},
                },
            }
        },
    }
    (assembly / "Base.template.json").write_text(json.dumps(base))
    (assembly / "Top.template.json").write_text(json.dumps(top))
    generate = (
        "import pathlib; p = pathlib.Path('generated.txt').resolve(); "
        "p.write_text('generated\\n'); print(p)"
    )
    base_assets = {
        "files": {
            "base": _file("Base.template.json", "base.json"),
            "nested": _file("Nested.template.json", "nested.json"),
            "dir": _file("asset.dir", "dir.zip", "zip"),
            "generated": {
                "source": {"executable": [sys.executable, "-c", generate]},
                "destinations": {"current": {"bucketName": STAGING, "objectKey": "generated.txt"}},
            },
        },
        "dockerImages": {
            "image": {
                "source": {"directory": "asset.image"},
                "destinations": {"current": {"repositoryName": "r", "imageTag": "t"}},
            }
        },
    }
    top_assets = {"files": {"top": _file("Top.template.json", "top.json")}}
    (assembly / "Base.assets.json").write_text(json.dumps(base_assets))
    (assembly / "Top.assets.json").write_text(json.dumps(top_assets))
    artifacts = {
        "Top.assets": _assets("Top"),
        "Top": _stack("CsmAsmTop", "Top.template.json", "top.json", ["Base", "Top.assets"]),
        "Base.assets": _assets("Base"),
        "Base": _stack("CsmAsmBase", "Base.template.json", "base.json", ["Base.assets"]),
    }
    manifest = {"version": "55.0.0", "artifacts": artifacts}
    (assembly / "manifest.json").write_text(json.dumps(manifest))
    return assembly


def stacks_output(cloudformation: Any, stack: str, key: str) -> str:
    """The value of output ``key`` of ``stack``."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return str(next(o["OutputValue"] for o in outputs if o["OutputKey"] == key))

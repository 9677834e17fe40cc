"""The synth-time report (``constructs_sm.nag.report``): ``apply_checks`` on small
insecure apps, ``nag-report.json``, how to fix and how acknowledgments are listed.

Each synth test builds its own small app; the example app under every pack is in
``test_example.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from constructs_sm.nag import (
    PACK_NAME,
    REPORT_FILE,
    RULES,
    ProcessingPipelineChecks,
    apply_checks,
    collect_acknowledgments,
)
from constructs_sm.nag.report import _fix
from tests.nag.handmade import STATE, Variant, build


def test_a_violation_fails_the_synth_with_rule_path_and_fix(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    apply_checks(app)
    stack = cdk.Stack(app, "Insecure")
    s3.Bucket(stack, "Data")
    with pytest.raises(RuntimeError) as raised:
        app.synth()
    message = str(raised.value)
    assert "AwsSolutions-S10" in message  # the rule
    assert "Insecure/Data/Resource" in message  # the resource path
    assert "acknowledge" in message and "Change the resource" in message  # how to fix
    report = json.loads((tmp_path / REPORT_FILE).read_text())
    rules = {v["rule"] for v in report["packs"]["AwsSolutions"]["violations"]}
    assert "AwsSolutions-S10" in rules


def _insecure_pipeline_app(tmp_path: Path, *, only_our_pack: bool) -> cdk.App:
    """An app with a hand-written pipeline whose job runs without network isolation."""
    app = cdk.App(
        outdir=str(tmp_path), context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True}
    )
    apply_checks(app, packs=[ProcessingPipelineChecks(app)] if only_our_pack else None)
    build(cdk.Stack(app, "Jobs"), Variant(network_isolation=False))
    return app


def test_a_pipeline_violation_fails_the_synth_and_is_reported(tmp_path: Path) -> None:
    app = _insecure_pipeline_app(tmp_path, only_our_pack=False)
    with pytest.raises(RuntimeError) as raised:
        app.synth()
    finding = f"{PACK_NAME}-JobNetworkIsolation[{STATE.replace(' ', '-')}]"
    message = str(raised.value)
    assert finding in message and "Jobs/Machine/Resource" in message
    assert "constructs_sm.nag.acknowledge" in message  # how to acknowledge, if by design
    report = json.loads((tmp_path / REPORT_FILE).read_text())
    ours = report["packs"][PACK_NAME]["violations"]
    assert [(v["rule"], v["resources"]) for v in ours] == [(finding, ["Jobs/Machine/Resource"])]
    assert "NetworkConfig.EnableNetworkIsolation" in ours[0]["fix"]


def test_a_namespaced_acknowledgment_counts_in_the_pack_and_the_report(tmp_path: Path) -> None:
    """``ProcessingPipeline::<id>`` (the form CDK's failure message suggests) is honoured at
    synth by CDK; the pack and nag-report.json agree with it."""
    app = _insecure_pipeline_app(tmp_path, only_our_pack=True)
    finding = f"{PACK_NAME}-JobNetworkIsolation[{STATE.replace(' ', '-')}]"
    reason = "The job calls a licensed service over the internet; egress is filtered."
    machine = app.node.find_child("Jobs").node.find_child("Machine")
    cdk.Validations.of(machine).acknowledge(
        cdk.Acknowledgment(id=f"{PACK_NAME}::{finding}", reason=reason)
    )
    app.synth()
    report = json.loads((tmp_path / REPORT_FILE).read_text())
    assert report["packs"][PACK_NAME] == {
        "violations": [],
        "acknowledgments": [{"path": "Jobs/Machine", "id": finding, "reason": reason}],
    }
    assert ProcessingPipelineChecks().validate_scope(app).violations == []


# -- how to fix, and the acknowledgments listed ------------------------------------------


def test_the_fix_of_our_rules_is_the_rule_fix_and_how_to_acknowledge() -> None:
    for rule in RULES:
        finding = f"{rule.rule_id}[Run-train]"
        fix = _fix(PACK_NAME, finding)
        assert fix.startswith(rule.fix), rule.name
        assert f"constructs_sm.nag.acknowledge(construct, ['{finding}'], reason)" in fix


@pytest.mark.parametrize(
    ("pack", "anchor"),
    [
        ("AwsSolutions", "awssolutions"),
        ("NIST.800.53.R5", "nist-800-53-rev-5"),
        ("HIPAA.Security", "hipaa-security"),
        ("PCI.DSS.321", "pci-dss-321"),
        ("Serverless", "serverless"),
    ],
)
def test_the_fix_of_an_aws_rule_links_its_documentation(pack: str, anchor: str) -> None:
    fix = _fix(pack, f"{pack}-X1[Resource::*]")
    assert fix.startswith(f"Change the resource so that it complies with {pack}-X1 (")
    assert f"/RULES.md#{anchor})." in fix
    assert f"acknowledge(construct, ['{pack}-X1[Resource::*]'], reason)" in fix


def test_collect_acknowledgments_lists_the_ids_as_the_packs_report_them() -> None:
    """CDK's ``Annotation::`` prefix and a pack's own namespace are dropped; another
    plugin's namespace (``CloudFormation-Validate::``) stays."""
    app = cdk.App()
    resource = cdk.CfnResource(cdk.Stack(app, "S"), "R", type="AWS::S3::Bucket")
    cdk.Validations.of(resource).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-S1", reason="logs elsewhere"),
        cdk.Acknowledgment(id=f"{PACK_NAME}::{PACK_NAME}-JobMaxRuntime[Run]", reason="by design"),
        cdk.Acknowledgment(id="CloudFormation-Validate::E3002", reason="a known false positive"),
    )
    assert collect_acknowledgments(app) == [
        {"path": "S/R", "id": "AwsSolutions-S1", "reason": "logs elsewhere"},
        {"path": "S/R", "id": "CloudFormation-Validate::E3002", "reason": "a known false positive"},
        {"path": "S/R", "id": f"{PACK_NAME}-JobMaxRuntime[Run]", "reason": "by design"},
    ]

"""The example app under every nag pack and the template scanners.

The app (both example stacks, ``apply_checks`` as in ``app.py``) is synthesized once:

- the synth itself runs every pack as a validation plugin and would fail on a violation;
  each pack is also run with ``pack.validate_scope(app)`` and must report nothing;
- ``nag-report.json`` in the cloud assembly lists each pack's (zero) violations and its
  acknowledgments;
- the acknowledgments each stack carries equal the checked-in
  ``tests/acknowledgments/<stack>.json`` (a new one is a reviewed change; regenerate with
  ``CSM_UPDATE_ACKNOWLEDGMENTS=1``);
- cfn-lint (warnings included) and checkov pass on every template.

How a violation fails the synth and is reported is in ``test_report.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import NagPack

from constructs_sm.nag import (
    INLINE_POLICY_FINDINGS,
    PACK_NAME,
    REPORT_FILE,
    apply_checks,
    collect_acknowledgments,
)
from stacks.hardened_stack import HardenedPipelineStack
from stacks.pipeline_stack import ChurnPipelineStack

REPO = Path(__file__).resolve().parents[2]
ACKNOWLEDGMENTS = REPO / "tests" / "acknowledgments"
STACKS = ("ChurnPipeline", "ChurnPipelineHardened")
PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321", "Serverless", PACK_NAME)
#: checkov must be clean on S3, KMS, logs, ECR, IAM and SageMaker checks (SECURITY.md); it
#: is clean on all. The app has no ECR or SageMaker resource (the image is a bootstrap
#: asset, jobs are started by the state machine): these must have been checked.
CHECKOV_SERVICES = ("AWS::S3::", "AWS::KMS::", "AWS::Logs::", "AWS::IAM::")
#: The policies the constructs create for statements that need a wildcard resource.
LIBRARY_POLICIES = (
    "PrefixScopedPolicy",
    "EcrAuthorizationPolicy",
    "MetricsPolicy",
    "NetworkInterfacesPolicy",
    "TracingAndLogDeliveryPolicy",
)


@dataclass(frozen=True)
class Assembly:
    app: cdk.App
    packs: tuple[NagPack, ...]
    outdir: Path


def _context() -> dict[str, Any]:
    context = json.loads((REPO / "cdk.json").read_text()).get("context", {})
    assert isinstance(context, dict)
    return context


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """The example app as ``app.py`` composes it, synthesized once (the packs run)."""
    outdir = tmp_path_factory.mktemp("nag-example")
    app = cdk.App(outdir=str(outdir), context=_context())
    packs = apply_checks(app)
    ChurnPipelineStack(app, STACKS[0])
    HardenedPipelineStack(app, STACKS[1])
    app.synth()
    return Assembly(app, packs, outdir)


def test_every_pack_reports_no_violation(assembly: Assembly) -> None:
    assert [pack.name for pack in assembly.packs] == list(PACKS)
    found = [
        f"{violation.rule_name}: {resource.construct_path}"
        for pack in assembly.packs
        for violation in pack.validate_scope(assembly.app).violations
        for resource in violation.violating_resources
    ]
    assert found == []


def test_synth_writes_the_nag_report(assembly: Assembly) -> None:
    report = json.loads((assembly.outdir / REPORT_FILE).read_text())
    acknowledgments = collect_acknowledgments(assembly.app)
    assert list(report["packs"]) == list(PACKS)
    for name, pack in report["packs"].items():
        assert pack["violations"] == [], name
        expected = [a for a in acknowledgments if a["id"].startswith(f"{name}-")]
        assert pack["acknowledgments"] == expected, name
    reported = sum(len(pack["acknowledgments"]) for pack in report["packs"].values())
    # Every acknowledgment belongs to a pack, but CDK's own for its CloudFormation rules.
    assert reported == len([a for a in acknowledgments if not _other_plugin(a["id"])])
    assert reported > 0


def _other_plugin(finding: str) -> bool:
    """An acknowledgment for another validation plugin (``Plugin::Rule``), e.g. CDK's."""
    return "::" in finding.split("[")[0]


@pytest.mark.parametrize("stack", STACKS)
def test_acknowledgments_match_the_reviewed_file(assembly: Assembly, stack: str) -> None:
    scope = assembly.app.node.find_child(stack)
    actual = collect_acknowledgments(scope)
    path = ACKNOWLEDGMENTS / f"{stack}.json"
    if os.environ.get("CSM_UPDATE_ACKNOWLEDGMENTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2) + "\n")
    assert path.is_file(), f"{path} is missing (CSM_UPDATE_ACKNOWLEDGMENTS=1 writes it)"
    reviewed = json.loads(path.read_text())
    added = [a for a in actual if a not in reviewed]
    removed = [a for a in reviewed if a not in actual]
    assert not added and not removed, (
        f"acknowledgments of {stack} changed; review and regenerate {path.name} with "
        f"CSM_UPDATE_ACKNOWLEDGMENTS=1\nadded: {json.dumps(added, indent=1)}\n"
        f"removed: {json.dumps(removed, indent=1)}"
    )


def test_wildcard_acknowledgments_are_on_policies_of_the_library_never_on_roles(
    assembly: Assembly,
) -> None:
    """An acknowledgment covers every statement under its construct, and IAM5 findings
    are per resource, not per action: on a role it would hide a statement someone adds
    to the role later on the same resource (e.g. s3:DeleteObject on a handoff prefix).
    So each is on a policy the constructs create and fill themselves."""
    constructs = {c.node.path: c for c in assembly.app.node.find_all()}
    wildcard = [
        a for a in collect_acknowledgments(assembly.app) if a["id"].startswith("AwsSolutions-IAM5")
    ]
    assert wildcard
    for acknowledgment in wildcard:
        policy = constructs[acknowledgment["path"]]
        assert isinstance(policy, iam.Policy), acknowledgment
        assert policy.node.id in LIBRARY_POLICIES, acknowledgment


def test_acknowledgments_are_narrow_and_reasoned(assembly: Assembly) -> None:
    for acknowledgment in collect_acknowledgments(assembly.app):
        finding, reason = acknowledgment["id"], acknowledgment["reason"]
        if _other_plugin(finding):
            assert finding.startswith("CloudFormation-Validate::"), acknowledgment
            continue
        assert len(reason) >= 40, acknowledgment
        # Per finding: IAM5 always names the resource; no pack is silenced wholesale.
        if finding.startswith("AwsSolutions-IAM5"):
            assert finding.startswith("AwsSolutions-IAM5[Resource::"), acknowledgment
        else:
            allowed = {
                *INLINE_POLICY_FINDINGS,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "HIPAA.Security-S3BucketReplicationEnabled",
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "NIST.800.53.R5-S3DefaultEncryptionKMS",
                "HIPAA.Security-S3DefaultEncryptionKMS",
                "PCI.DSS.321-S3DefaultEncryptionKMS",
            }
            assert finding in allowed, acknowledgment
        assert not finding.startswith(f"{PACK_NAME}-"), f"our own pack needs none: {finding}"


# -- scanners -----------------------------------------------------------------------------


def _templates(assembly: Assembly) -> list[Path]:
    paths = sorted(assembly.outdir.glob("*.template.json"))
    assert [p.name for p in paths] == sorted(f"{s}.template.json" for s in STACKS)
    return paths


def test_templates_pass_cfn_lint(assembly: Assembly) -> None:
    failures = []
    for path in _templates(assembly):
        for match in cfnlint.api.lint_all(path.read_text()):
            if match.rule.severity in ("error", "warning", "unknown"):
                failures.append(f"{path.name}: {match.rule.id} {match.message}")
    assert not failures, "cfn-lint:\n" + "\n".join(failures)


def checkov_binary() -> str:
    """``$CHECKOV``, else ``.venv-checkov/bin/checkov`` (``make setup``), else on PATH."""
    for candidate in (os.environ.get("CHECKOV"), str(REPO / ".venv-checkov" / "bin" / "checkov")):
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("checkov")
    if found is None:
        pytest.fail(
            "checkov is not installed: run `make setup` (it creates .venv-checkov: checkov "
            "pins boto3 versions our dependencies do not allow) or set CHECKOV=/path/to/checkov"
        )
    return found


def test_templates_pass_checkov(assembly: Assembly) -> None:
    """No failed check at all; skips only with a written reason (template metadata)."""
    files = [arg for path in _templates(assembly) for arg in ("-f", str(path))]
    completed = subprocess.run(
        [checkov_binary(), "--framework", "cloudformation", "--output", "json", *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        # Offline: do not fetch the guideline links from the vendor's API.
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert completed.stdout.strip(), completed.stderr
    output = json.loads(completed.stdout)
    reports = output if isinstance(output, list) else [output]
    # A template checkov cannot parse is skipped silently: it must have read them all.
    summaries = [r.get("summary", {}) for r in reports]
    assert [s.get("parsing_errors") for s in summaries] == [0] * len(reports), summaries
    resources = sum(len(json.loads(p.read_text())["Resources"]) for p in _templates(assembly))
    assert sum(s.get("resource_count", 0) for s in summaries) >= resources, summaries
    results = [r.get("results", {}) for r in reports]
    failed = [c for r in results for c in r.get("failed_checks", [])]
    skipped = [c for r in results for c in r.get("skipped_checks", [])]
    passed = [c for r in results for c in r.get("passed_checks", [])]
    problems = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed]
    assert not problems, "checkov:\n" + "\n".join(sorted(problems))
    unreasoned = [
        c["check_id"]
        for c in skipped
        if len(c.get("check_result", {}).get("suppress_comment") or "") < 20
    ]
    assert not unreasoned, f"skips without a written reason: {unreasoned}"
    checked = {c["resource"].split(".")[0] for c in [*passed, *skipped]}
    for service in CHECKOV_SERVICES:
        assert any(t.startswith(service) for t in checked), f"checkov checked no {service}*"

"""The synth-time report: every pack as a validation plugin, and ``nag-report.json``.

How is an app checked at synth, and where does the report go? Here. :func:`apply_checks`
registers the packs (:func:`~constructs_sm.nag.pack.default_packs` unless told otherwise)
as validation plugins: a violation fails ``app.synth()`` with the rule, the resource path
and how to fix it, and :data:`REPORT_FILE` in the cloud assembly lists every pack's
violations and acknowledgments (:func:`collect_acknowledgments`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Stage,
    Validations,
)
from cdk_nag import NagPack
from constructs import IConstruct

from constructs_sm.nag.acknowledge import ACKNOWLEDGED_RULES
from constructs_sm.nag.pack import (
    RULES,
    default_packs,
    namespaced_acknowledgments,
    running_at_synth,
)
from constructs_sm.nag.rules.base import PACK_NAME

#: The file :func:`apply_checks` writes into the cloud assembly.
REPORT_FILE: Final = "nag-report.json"
_RULES_DOC: Final = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"
#: How to acknowledge a finding by design: ends every fix of the report.
_ACK_HINT = (
    " If the design requires it, acknowledge the finding on the construct with "
    "constructs_sm.nag.acknowledge(construct, ['<rule id>'], reason) (it checks the id "
    "and the reason; nag-report.json lists it)."
)


def collect_acknowledgments(scope: IConstruct) -> list[dict[str, str]]:
    """Every acknowledgment under ``scope``: construct path, finding id and reason, sorted.

    Ids are as the packs report them: CDK's ``Annotation::`` prefix is dropped, and so is
    a pack's namespace (``ProcessingPipeline::ProcessingPipeline-...``, the form CDK's
    failure message suggests), which CDK honours at synth like the plain id.
    """
    found: set[tuple[str, str, str]] = set()
    todo = [scope]
    while todo:
        construct = todo.pop()
        for entry in construct.node.metadata:
            if entry.type == ACKNOWLEDGED_RULES and isinstance(entry.data, dict):
                for qualified, reason in entry.data.items():
                    found.add((construct.node.path, _plain_id(qualified), str(reason)))
        todo.extend(construct.node.children)
    return [{"path": p, "id": i, "reason": r} for p, i, r in sorted(found)]


def _plain_id(qualified: str) -> str:
    """An acknowledged id without CDK's ``Annotation::`` or a pack's ``<Pack>::`` prefix."""
    finding = re.sub(r"^annotation::", "", qualified, flags=re.IGNORECASE)
    namespace, separator, rest = finding.partition("::")
    if separator and "[" not in namespace and rest.startswith(f"{namespace}-"):
        return rest
    return finding


def _fix(pack: str, rule_name: str) -> str:
    base = re.sub(r"\[.*\]$", "", rule_name)
    for rule in RULES:
        if rule.rule_id == base:
            return rule.fix + _ACK_HINT.replace("<rule id>", rule_name)
    anchor = {
        "AwsSolutions": "awssolutions",
        "NIST.800.53.R5": "nist-800-53-rev-5",
        "HIPAA.Security": "hipaa-security",
        "PCI.DSS.321": "pci-dss-321",
        "Serverless": "serverless",
    }.get(pack, "")
    return (
        f"Change the resource so that it complies with {base} ({_RULES_DOC}#{anchor})."
        + _ACK_HINT.replace("<rule id>", rule_name)
    )


class _Report:
    """The nag report of one synth: violations and acknowledgments per pack."""

    def __init__(self, stage: Stage, file_name: str) -> None:
        self._stage, self._file_name = stage, file_name
        self._packs: dict[str, dict[str, Any]] = {}
        self._acknowledgments: list[dict[str, str]] | None = None

    def record(self, pack: str, violations: Sequence[PolicyViolation]) -> None:
        if self._acknowledgments is None:
            self._acknowledgments = collect_acknowledgments(self._stage)
        prefix = f"{pack}-"
        self._packs[pack] = {
            "violations": [
                {
                    "rule": v.rule_name,
                    "description": v.description,
                    "fix": v.fix,
                    "resources": [r.construct_path for r in v.violating_resources],
                }
                for v in violations
            ],
            "acknowledgments": [a for a in self._acknowledgments if a["id"].startswith(prefix)],
        }
        outdir = Path(self._stage.outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        report = {"packs": self._packs}
        (outdir / self._file_name).write_text(json.dumps(report, indent=2) + "\n")


@jsii.implements(IPolicyValidationPlugin)
class _ReportingPlugin:
    """Runs one pack at synth, adds how to fix each violation and records the report."""

    def __init__(self, pack: NagPack, report: _Report) -> None:
        self._pack, self._report = pack, report

    @property
    def name(self) -> str:
        return self._pack.name

    @property
    def version(self) -> str | None:
        return None

    @property
    def rule_ids(self) -> list[str] | None:
        return [rule.rule_id for rule in RULES] if self.name == PACK_NAME else None

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        with running_at_synth():
            report = self._pack.validate_scope(context.app_construct)
        violations = []
        for v in report.violations:
            resources = [
                PolicyViolatingResource(
                    locations=list(r.locations), construct_path=r.construct_path
                )
                for r in v.violating_resources
                if not _acknowledged_at(context.app_construct, self.name, v.rule_name, r)
            ]
            if resources:
                violations.append(
                    PolicyViolation(
                        rule_name=v.rule_name,
                        description=v.description,
                        fix=_fix(self.name, v.rule_name),
                        severity=v.severity,
                        violating_resources=resources,
                    )
                )
        self._report.record(self.name, violations)
        return PolicyValidationPluginReport(success=not violations, violations=violations)


def _acknowledged_at(
    root: IConstruct, pack: str, rule_name: str, resource: PolicyViolatingResource
) -> bool:
    """True if CDK will drop this violation at synth: ``<pack>::<rule>`` is acknowledged
    on the resource or one of its scopes."""
    path = resource.construct_path
    if not path:
        return False
    node: IConstruct | None = root
    for part in path.split("/"):
        node = node.node.try_find_child(part) if node is not None else None
    return node is not None and rule_name.replace(" ", "-") in namespaced_acknowledgments(
        node, pack
    )


def apply_checks(
    app: Stage,
    *,
    verbose: bool = False,
    report_file: str = REPORT_FILE,
    packs: Sequence[NagPack] | None = None,
) -> tuple[NagPack, ...]:
    """Check ``app`` at synth with the AWS packs and :class:`ProcessingPipelineChecks`.

    Registers AWS Solutions, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1, Serverless
    and our pack as validation plugins. ``app.synth()`` then writes ``report_file``
    (violations and acknowledgments per pack) into the cloud assembly and fails on any
    unacknowledged violation, with a report naming the rule, the resource path and how
    to fix it. Returns the packs, e.g. to run ``pack.validate_scope(app)`` in tests.

    :param verbose: put the rules' explanations into the violation descriptions.
    :param packs: the packs to register instead of :func:`default_packs`.
    """
    if not isinstance(app, Stage):
        raise TypeError(f"app must be an App or Stage, got {type(app).__name__}")
    chosen = tuple(packs) if packs is not None else default_packs(app, verbose=verbose)
    report = _Report(app, report_file)
    Validations.of(app).add_plugins(*(_ReportingPlugin(pack, report) for pack in chosen))
    return chosen

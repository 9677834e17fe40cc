"""cdk-nag for processing pipelines: the AWS packs, our own pack and acknowledgments.

Where are the security checks of an app wired, what does our own pack check and how do
constructs acknowledge a finding? Here, one module per part:

* :mod:`.report`: :func:`apply_checks` registers the AWS Solutions, NIST 800-53 R5, HIPAA
  Security, PCI DSS 3.2.1 and Serverless packs and :class:`ProcessingPipelineChecks` on an
  app. A violation fails ``app.synth()`` with a report naming the rule, the resource path
  and how to fix it; ``nag-report.json`` in the cloud assembly lists every pack's
  violations and acknowledgments.
* :mod:`.pack`: :class:`ProcessingPipelineChecks` (rule ids ``ProcessingPipeline-*``)
  checks what no AWS pack can see: the channel buckets the processing jobs use, the IAM
  of the jobs and of the state machine, and the processing-job settings inside the
  state-machine definition (which it parses, CloudFormation references and all). It works
  on any stack, not only on ours: a hand-made bucket, a ``grant_read_write`` role and a
  hand-written ``CustomState`` processing job are checked the same way.
* :mod:`.rules`: the rules, one module per resource family (``bucket``, ``iam``, ``job``,
  ``task``, ``state_machine``), each a pure function over CloudFormation resources
  declared beside what it says; :func:`check_stack` and :func:`check_templates` run them.
  The pack runs them on the synthesized templates, so property overrides and deletions
  (escape hatches) are seen as CloudFormation will see them.
* :mod:`.template` (with :mod:`.definition`, :mod:`.policy`, :mod:`.values`): the model of
  a synthesized template the rules read.
* :mod:`.acknowledge`: :func:`acknowledge` records a reasoned, per-finding acknowledgment
  on a construct (cdk-nag 3 honours ``Validations.of(c).acknowledge``);
  :func:`wildcard_finding` names the ``AwsSolutions-IAM5`` finding a wildcard resource
  produces, so the construct that grants it can acknowledge exactly that finding. The
  constructs import this leaf only.

The acknowledgment helpers are imported with the package; the rest (cdk-nag, the rules)
is imported when first used, so ``constructs_sm.nag.acknowledge`` does not load the
checker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The leaf is imported here, not lazily: it binds ``acknowledge`` to the function, which
# the submodule of the same name would otherwise shadow once imported.
from constructs_sm.nag.acknowledge import (
    INLINE_POLICY_FINDINGS,
    PACK_NAME,
    acknowledge,
    acknowledge_wildcards,
    flatten_reference,
    resource_finding,
    skip_checkov,
    wildcard_finding,
)

if TYPE_CHECKING:
    from constructs_sm.nag.definition import Definition, S3Location, parse_definition
    from constructs_sm.nag.pack import (
        RULES,
        ProcessingPipelineChecks,
        check_stack,
        check_templates,
        default_packs,
    )
    from constructs_sm.nag.report import REPORT_FILE, apply_checks, collect_acknowledgments
    from constructs_sm.nag.rules.base import Rule
    from constructs_sm.nag.rules.task import REQUIRED_RETRIES
    from constructs_sm.nag.template import CfnModelResource, StackModel, model_from_template

__all__ = [
    "INLINE_POLICY_FINDINGS",
    "PACK_NAME",
    "REPORT_FILE",
    "REQUIRED_RETRIES",
    "RULES",
    "CfnModelResource",
    "Definition",
    "ProcessingPipelineChecks",
    "Rule",
    "S3Location",
    "StackModel",
    "acknowledge",
    "acknowledge_wildcards",
    "apply_checks",
    "check_stack",
    "check_templates",
    "collect_acknowledgments",
    "default_packs",
    "flatten_reference",
    "model_from_template",
    "parse_definition",
    "resource_finding",
    "skip_checkov",
    "wildcard_finding",
]

_HOMES = {
    "CfnModelResource": "constructs_sm.nag.template",
    "Definition": "constructs_sm.nag.definition",
    "ProcessingPipelineChecks": "constructs_sm.nag.pack",
    "REPORT_FILE": "constructs_sm.nag.report",
    "REQUIRED_RETRIES": "constructs_sm.nag.rules.task",
    "RULES": "constructs_sm.nag.pack",
    "Rule": "constructs_sm.nag.rules.base",
    "S3Location": "constructs_sm.nag.definition",
    "StackModel": "constructs_sm.nag.template",
    "apply_checks": "constructs_sm.nag.report",
    "check_stack": "constructs_sm.nag.pack",
    "check_templates": "constructs_sm.nag.pack",
    "collect_acknowledgments": "constructs_sm.nag.report",
    "default_packs": "constructs_sm.nag.pack",
    "model_from_template": "constructs_sm.nag.template",
    "parse_definition": "constructs_sm.nag.definition",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'constructs_sm.nag' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

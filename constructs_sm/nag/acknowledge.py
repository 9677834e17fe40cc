"""Acknowledgments: what the constructs call while they build, and nothing else.

How does a construct accept a finding of a nag pack, with a reason? Here.
:func:`acknowledge` records a reasoned, per-finding acknowledgment on a construct
(cdk-nag 3 honours ``Validations.of(c).acknowledge``); :func:`wildcard_finding` names the
``AwsSolutions-IAM5`` finding a wildcard resource produces, so the construct that grants
it can acknowledge exactly that finding (:func:`acknowledge_wildcards`);
:func:`skip_checkov` records a reasoned checkov skip in a resource's metadata.

A leaf: it imports aws_cdk and constructs only, never the rules or cdk-nag, so the
constructs can call it without loading the checker that judges them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import Construct, IConstruct

#: The metadata type CDK records acknowledgments under (``Validations.acknowledge``).
ACKNOWLEDGED_RULES: Final = "aws:cdk:acknowledged-rules"
#: The prefix of our pack's rule ids (``ProcessingPipeline-JobNetworkIsolation``...).
PACK_NAME: Final = "ProcessingPipeline"
_MIN_REASON: Final = 10
#: The findings every inline IAM policy gets from the compliance packs.
INLINE_POLICY_FINDINGS: Final = (
    "NIST.800.53.R5-IAMNoInlinePolicy",
    "HIPAA.Security-IAMNoInlinePolicy",
    "PCI.DSS.321-IAMNoInlinePolicy",
)


def acknowledge(construct: IConstruct, finding_ids: Iterable[str], reason: str) -> None:
    """Acknowledge ``finding_ids`` on ``construct`` (and everything below it), with a reason.

    Each id is one finding as the pack reports it, e.g. ``NIST.800.53.R5-IAMNoInlinePolicy``
    or ``AwsSolutions-IAM5[Resource::*]`` (see :func:`wildcard_finding`). The reason is
    kept in the construct's metadata and listed in ``nag-report.json``.

    :raises ValueError: if ``finding_ids`` is empty or holds an empty id, or ``reason``
        has fewer than 10 characters.
    :raises TypeError: if ``finding_ids`` is a single string or holds a non-string.
    """
    if isinstance(finding_ids, str):
        raise TypeError(f"finding_ids must be a list of ids, not a str: {finding_ids!r}")
    ids = list(finding_ids)
    problems = []
    if not ids:
        problems.append("finding_ids must name at least one finding")
    for finding_id in ids:
        if not isinstance(finding_id, str):
            raise TypeError(f"finding_ids must hold strings, got {finding_id!r}")
        if not finding_id.strip():
            problems.append(f"finding_ids must not hold empty ids, got {finding_id!r}")
    if not isinstance(reason, str) or len(reason.strip()) < _MIN_REASON:
        problems.append(
            f"reason must say why the finding is acceptable (at least {_MIN_REASON} "
            f"characters), got {reason!r}"
        )
    if problems:
        raise ValueError("acknowledge: " + "; ".join(problems))
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=finding_id, reason=reason.strip()) for finding_id in ids)
    )


def flatten_reference(value: Any) -> str:
    """A CloudFormation value as the text cdk-nag uses in finding ids.

    ``Fn::Join`` is joined, ``Fn::GetAtt`` becomes ``<Id.Attribute>``, ``Ref`` becomes
    ``<Name>``, ``${...}`` in ``Fn::Sub`` becomes ``<...>``; other values are JSON.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, items = value["Fn::Join"]
            return str(separator).join(flatten_reference(item) for item in items)
        if "Fn::Sub" in value:
            return flatten_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def resource_finding(scope: IConstruct, rule_id: str, resource: str) -> str:
    """The finding id ``rule_id[Resource::<resource>]`` as a pack writes it for a policy
    statement on ``resource`` (e.g. ``ProcessingPipeline-IamStepObjectAccess[Resource::
    arn:<AWS::Partition>:s3:::landing/*]``). Resolve it with the construct that owns the
    policy (any construct of the same stack)."""
    return f"{rule_id}[Resource::{flatten_reference(Stack.of(scope).resolve(resource))}]"


def wildcard_finding(scope: IConstruct, resource: str) -> str:
    """The ``AwsSolutions-IAM5`` finding id a policy statement on ``resource`` produces.

    For example ``AwsSolutions-IAM5[Resource::<StorageBucket5CB7C8EA.Arn>/Churn/*]``
    for ``bucket.arn_for_objects("Churn/*")``. Resolve it with the construct that owns
    the policy (any construct of the same stack).
    """
    return resource_finding(scope, "AwsSolutions-IAM5", resource)


def acknowledge_wildcards(principal: object, resources: Iterable[str], reason: str) -> None:
    """Acknowledge the ``AwsSolutions-IAM5`` findings of wildcard ``resources`` on a construct.

    For grants: ``principal`` is the policy that holds the statements (or the grantee's
    ``grant_principal``); when it is a construct, each resource whose text holds ``*`` is
    acknowledged on it with ``reason``. Anything else gets no policy, hence no finding.
    The acknowledgment covers every statement under that construct.
    """
    if not isinstance(principal, Construct):
        return
    ids = []
    for resource in resources:
        finding = wildcard_finding(principal, resource)
        if "*" in finding.removeprefix("AwsSolutions-IAM5[Resource::"):
            ids.append(finding)
    if ids:
        acknowledge(principal, sorted(set(ids)), reason)


def skip_checkov(resource: IConstruct, reasons: Mapping[str, str]) -> None:
    """Record checkov skips, each with its reason, in a resource's template metadata.

    ``resource`` is a ``CfnResource`` or a construct whose default child is one; the
    skips land in its ``Metadata.checkov.skip`` (merged with earlier ones), where
    ``checkov --framework cloudformation`` reads them.

    :raises ValueError: for a reason shorter than 10 characters.
    :raises TypeError: if ``resource`` is not (and has no default child that is) a
        ``CfnResource``.
    """
    target = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(target, CfnResource):
        raise TypeError(f"resource must be a CfnResource or an L2 construct, got {resource!r}")
    short = [check for check, reason in reasons.items() if len(reason.strip()) < _MIN_REASON]
    if short:
        raise ValueError(f"skip_checkov: every skip needs a reason, got none for {short}")
    existing = target.get_metadata("checkov") or {}
    skips = [s for s in existing.get("skip", []) if s.get("id") not in reasons]
    skips += [{"id": check, "comment": reason.strip()} for check, reason in reasons.items()]
    target.add_metadata("checkov", {"skip": skips})

"""cdk-nag for processing pipelines: the AWS packs, our own pack and acknowledgments.

Where are the security checks of an app wired, what does our own pack check and how do
constructs acknowledge a finding? Here.

* :func:`apply_checks` registers the AWS Solutions, NIST 800-53 R5, HIPAA Security,
  PCI DSS 3.2.1 and Serverless packs and :class:`ProcessingPipelineChecks` on an app. A
  violation fails ``app.synth()`` with a report naming the rule, the resource path and
  how to fix it; ``nag-report.json`` in the cloud assembly lists every pack's violations
  and acknowledgments.
* :class:`ProcessingPipelineChecks` (rule ids ``ProcessingPipeline-*``) checks what no
  AWS pack can see: the channel buckets the processing jobs use, the IAM of the jobs and
  of the state machine, and the processing-job settings inside the state-machine
  definition (which it parses, CloudFormation references and all). It works on any
  stack, not only on ours: a hand-made bucket, a ``grant_read_write`` role and a
  hand-written ``CustomState`` processing job are checked the same way.
* :func:`acknowledge` records a reasoned, per-finding acknowledgment on a construct
  (cdk-nag 3 honours ``Validations.of(c).acknowledge``); :func:`wildcard_finding` names
  the ``AwsSolutions-IAM5`` finding a wildcard resource produces, so the construct that
  grants it can acknowledge exactly that finding.

The rules themselves are pure functions over CloudFormation resources
(:func:`check_stack`), so they can be run on a synthesized template as well.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeGuard, cast

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnResource,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Stack,
    Stage,
    Validations,
)
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    IApplyRule,
    NagMessageLevel,
    NagPack,
    NagRuleCompliance,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)
from constructs import Construct, IConstruct

__all__ = [
    "PACK_NAME",
    "RULES",
    "ProcessingPipelineChecks",
    "Rule",
    "acknowledge",
    "acknowledge_wildcards",
    "apply_checks",
    "check_stack",
    "flatten_reference",
    "parse_definition",
    "skip_checkov",
    "wildcard_finding",
]

#: The prefix of our pack's rule ids (``ProcessingPipeline-JobNetworkIsolation``...).
PACK_NAME: Final = "ProcessingPipeline"
#: The file :func:`apply_checks` writes into the cloud assembly.
REPORT_FILE: Final = "nag-report.json"
_ACKNOWLEDGED_RULES: Final = "aws:cdk:acknowledged-rules"
_MIN_REASON: Final = 10
#: MaxRuntimeInSeconds limit of the SageMaker API (as constructs_sm.step.MAX_RUNTIME_LIMIT).
_MAX_RUNTIME_LIMIT: Final = 777_600
#: The findings every inline IAM policy gets from the compliance packs.
INLINE_POLICY_FINDINGS: Final = (
    "NIST.800.53.R5-IAMNoInlinePolicy",
    "HIPAA.Security-IAMNoInlinePolicy",
    "PCI.DSS.321-IAMNoInlinePolicy",
)
_RULES_DOC: Final = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"

# -- acknowledgments ----------------------------------------------------------------------


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


def wildcard_finding(scope: IConstruct, resource: str) -> str:
    """The ``AwsSolutions-IAM5`` finding id a policy statement on ``resource`` produces.

    For example ``AwsSolutions-IAM5[Resource::<StorageBucket5CB7C8EA.Arn>/Churn/*]``
    for ``bucket.arn_for_objects("Churn/*")``. Resolve it with the construct that owns
    the policy (any construct of the same stack).
    """
    return f"AwsSolutions-IAM5[Resource::{flatten_reference(Stack.of(scope).resolve(resource))}]"


def acknowledge_wildcards(principal: object, resources: Iterable[str], reason: str) -> None:
    """Acknowledge the ``AwsSolutions-IAM5`` findings of wildcard ``resources`` on a principal.

    For grants: ``principal`` is the grantee's ``grant_principal``; when it is a construct
    (a role, user or group of the app), each resource whose text holds ``*`` is
    acknowledged on it with ``reason``. Other principals get no policy, hence no finding.
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


# -- the resources a rule sees ------------------------------------------------------------


@dataclass(frozen=True)
class CfnModelResource:
    """One CloudFormation resource: its logical id, type, properties and construct path."""

    logical_id: str
    type: str
    properties: Mapping[str, Any]
    path: str


@dataclass
class StackModel:
    """The resources of one stack, with the relations the rules need (built lazily)."""

    resources: Mapping[str, CfnModelResource]
    _machines: dict[str, Definition | None] | None = field(default=None, repr=False)
    _channel_buckets: set[str] | None = field(default=None, repr=False)
    _role_outputs: dict[str, list[str] | None] | None = field(default=None, repr=False)

    def of_type(self, resource_type: str) -> Iterator[CfnModelResource]:
        """The resources of one type."""
        return (r for r in self.resources.values() if r.type == resource_type)

    def definition(self, logical_id: str) -> Definition | None:
        """The parsed definition of a state machine (None if it cannot be read)."""
        return self.machines().get(logical_id)

    def machines(self) -> dict[str, Definition | None]:
        """Every state machine's parsed definition by logical id."""
        if self._machines is None:
            self._machines = {
                r.logical_id: parse_definition(r.properties)
                for r in self.of_type("AWS::StepFunctions::StateMachine")
            }
        return self._machines

    def processing_machines(self) -> dict[str, Definition | None]:
        """State machines that run processing jobs, or whose definition cannot be read."""
        return {lid: d for lid, d in self.machines().items() if d is None or d.processing_tasks()}

    def channel_buckets(self) -> set[str]:
        """Buckets of this stack that a processing state machine's definition refers to."""
        if self._channel_buckets is None:
            buckets = {r.logical_id for r in self.of_type("AWS::S3::Bucket")}
            found: set[str] = set()
            for definition in self.processing_machines().values():
                if definition is not None:
                    found |= definition.referenced_ids() & buckets
            self._channel_buckets = found
        return self._channel_buckets

    def role_outputs(self) -> dict[str, list[str] | None]:
        """Per role run by processing tasks: the key suffixes its jobs write (None: unknown)."""
        if self._role_outputs is None:
            outputs: dict[str, list[str] | None] = {}
            for definition in self.processing_machines().values():
                for _, params in definition.processing_tasks() if definition else []:
                    role = definition.reference_id(params.get("RoleArn")) if definition else None
                    if role is None:
                        continue
                    suffixes = _output_suffixes(params)
                    known = outputs.get(role, [])
                    outputs[role] = None if suffixes is None or known is None else known + suffixes
            self._role_outputs = outputs
        return self._role_outputs


# -- state-machine definitions -------------------------------------------------------------

_MARK_OPEN, _MARK_CLOSE = "\u2045", "\u2046"
_MARK = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_CLOSE}")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_PROCESSING_RESOURCE = re.compile(
    r"^arn:[^:]+:states:::(?:sagemaker:createProcessingJob(?:\.sync|\.waitForTaskToken)?"
    r"|aws-sdk:sagemaker:createProcessingJob)$"
)


@dataclass
class Definition:
    """A parsed state-machine definition; CloudFormation values became markers.

    A marker (``⁅n⁆``) stands for ``references[n]``, the intrinsic function found in the
    ``DefinitionString`` (or a ``DefinitionSubstitutions`` value) at that place.
    """

    document: dict[str, Any]
    references: list[Any]

    def states(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every state, including those of Parallel branches and Map processors."""
        yield from _walk_states(self.document)

    def processing_tasks(self) -> list[tuple[str, dict[str, Any]]]:
        """``(state name, Parameters)`` of every task that creates a processing job."""
        tasks = []
        for name, state in self.states():
            resource = state.get("Resource")
            if state.get("Type") != "Task" or not isinstance(resource, str):
                continue
            if _PROCESSING_RESOURCE.match(_MARK.sub("x", resource)):
                params = state.get("Parameters", state.get("Arguments", {}))
                tasks.append((name, params if isinstance(params, dict) else {}))
        return tasks

    def processing_states(self) -> list[tuple[str, dict[str, Any]]]:
        """``(state name, state)`` of every processing task."""
        names = {name for name, _ in self.processing_tasks()}
        return [(name, state) for name, state in self.states() if name in names]

    def referenced_ids(self) -> set[str]:
        """Logical ids referenced anywhere in the definition."""
        return {rid for ref in self.references for rid in _referenced_ids(ref)}

    def reference_id(self, value: Any) -> str | None:
        """The logical id a value refers to when it is exactly one reference."""
        if not isinstance(value, str):
            return None
        match = _MARK.fullmatch(value)
        if match is None:
            return None
        ids = _referenced_ids(self.references[int(match.group(1))])
        return next(iter(ids)) if len(ids) == 1 else None


def _walk_states(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    states = document.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        yield name, state
        for branch in state.get("Branches", []) or []:
            if isinstance(branch, dict):
                yield from _walk_states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from _walk_states(state[key])


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids (not pseudo parameters) a CloudFormation value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
                found.add(argument)
            elif key == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                for name in _SUB_VARIABLE.findall(text):
                    if not name.startswith("AWS::"):
                        found.add(name.split(".")[0])
                if isinstance(argument, list) and len(argument) > 1:
                    found |= _referenced_ids(argument[1])
            else:
                found |= _referenced_ids(argument)
    elif isinstance(value, list):
        for item in value:
            found |= _referenced_ids(item)
    return found


def _segments(value: Any, references: list[Any]) -> list[str | int] | None:
    """The text of a DefinitionString as literal strings and reference indexes."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and list(value) == ["Fn::Join"]:
        separator, parts = value["Fn::Join"]
        if not isinstance(separator, str) or not isinstance(parts, list):
            return None
        result: list[str | int] = []
        for position, part in enumerate(parts):
            if position and separator:
                result.append(separator)
            if isinstance(part, str):
                result.append(part)
            else:
                references.append(part)
                result.append(len(references) - 1)
        return result
    if isinstance(value, dict) and len(value) == 1:
        references.append(value)
        return [len(references) - 1]
    return None


def _substitute(
    segments: list[str | int], substitutions: Mapping[str, Any], references: list[Any]
) -> list[str | int]:
    """Replace ``${name}`` of DefinitionSubstitutions by references (literals stay text)."""
    if not substitutions:
        return segments
    result: list[str | int] = []
    for segment in segments:
        if isinstance(segment, int):
            result.append(segment)
            continue
        position = 0
        for match in re.finditer(r"\$\{([^}]+)\}", segment):
            if match.group(1) not in substitutions:
                continue
            result.append(segment[position : match.start()])
            references.append(substitutions[match.group(1)])
            result.append(len(references) - 1)
            position = match.end()
        result.append(segment[position:])
    return result


def _render_segments(segments: Sequence[str | int], references: Sequence[Any]) -> str:
    """JSON text with a marker per reference, quoted where it stands outside a string."""
    pieces: list[str] = []
    in_string = escaped = False
    for segment in segments:
        if isinstance(segment, int):
            value = references[segment]
            if isinstance(value, str):  # a literal substitution value
                text = json.dumps(value)[1:-1] if in_string else json.dumps(value)
            else:
                marker = f"{_MARK_OPEN}{segment}{_MARK_CLOSE}"
                text = marker if in_string else f'"{marker}"'
            pieces.append(text)
            continue
        for char in segment:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = in_string
            elif char == '"':
                in_string = not in_string
        pieces.append(segment)
    return "".join(pieces)


def _mark_intrinsics(value: Any, references: list[Any]) -> Any:
    """A ``Definition`` object with its intrinsic functions replaced by markers."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub"):
            references.append(value)
            return f"{_MARK_OPEN}{len(references) - 1}{_MARK_CLOSE}"
        return {k: _mark_intrinsics(v, references) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_intrinsics(item, references) for item in value]
    return value


def parse_definition(properties: Mapping[str, Any]) -> Definition | None:
    """The definition of an ``AWS::StepFunctions::StateMachine``, or None if unreadable.

    Reads ``DefinitionString`` (a string or an ``Fn::Join`` of strings and intrinsic
    functions) or ``Definition``, with ``DefinitionSubstitutions`` applied. Every
    non-string part becomes a marker standing for it (quoted where it stands outside a
    JSON string), so the text parses as JSON whatever the references resolve to. A
    definition in S3 (``DefinitionS3Location``) cannot be read.
    """
    references: list[Any] = []
    if "Definition" in properties and isinstance(properties["Definition"], dict):
        document = _mark_intrinsics(properties["Definition"], references)
        return Definition(document, references)
    segments = _segments(properties.get("DefinitionString"), references)
    if segments is None:
        return None
    substitutions = properties.get("DefinitionSubstitutions") or {}
    if isinstance(substitutions, dict):
        segments = _substitute(segments, substitutions, references)
    try:
        document = json.loads(_render_segments(segments, references), strict=False)
    except ValueError:
        return None
    return Definition(document, references) if isinstance(document, dict) else None


# -- helpers over values --------------------------------------------------------------------


def _is_dynamic(mapping: Mapping[str, Any], key: str) -> bool:
    value = mapping.get(key)
    jsonata = isinstance(value, str) and value.strip().startswith("{%")
    return f"{key}.$" in mapping or jsonata


def _static(mapping: Any, *keys: str) -> Any:
    """The value at ``keys`` when every level is a static (non ``.$``) field, else None."""
    value = mapping
    for key in keys:
        if not isinstance(value, dict) or _is_dynamic(value, key):
            return None
        value = value.get(key)
    return value


def _is_static_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _finding(name: str) -> str:
    """A state name usable in a finding id: CDK turns spaces in acknowledged ids into ``-``
    (``Run train`` becomes ``Run-train``) and brackets would unbalance the id."""
    return re.sub(r"[\[\](){}]", "_", name.replace(" ", "-"))


def _output_suffixes(params: Mapping[str, Any]) -> list[str] | None:
    """The literal key suffixes a job's outputs end with; None when one is unknown."""
    outputs = _static(params, "ProcessingOutputConfig", "Outputs")
    if outputs is None:
        return None if "ProcessingOutputConfig" in params else []
    suffixes = []
    for output in _as_list(outputs):
        s3 = output.get("S3Output") if isinstance(output, dict) else None
        if not isinstance(s3, dict):
            return None
        if isinstance(s3.get("S3Uri"), str):
            key = s3["S3Uri"].split("://", 1)[-1].partition("/")[2]
        elif isinstance(s3.get("S3Uri.$"), str):
            template = re.match(r"^States\.Format\('((?:[^'\\]|\\.)*)'", s3["S3Uri.$"])
            if template is None:
                return None
            key = template.group(1).replace("\\", "").rsplit("{}", 1)[-1]
        else:
            return None
        key = _MARK.sub("*", key).lstrip("/")
        if not key or "*" in key:
            return None
        suffixes.append(key if key.endswith("/") else f"{key}/")
    return suffixes


# -- IAM helpers ----------------------------------------------------------------------------

_S3_OBJECT_READ = ("s3:GetObject", "s3:GetObjectVersion")
_S3_OBJECT_WRITE = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
_LIST_BUCKET = ("s3:ListBucket", "s3:ListBucketVersions")
_TRUSTED_SERVICES = ("sagemaker.amazonaws.com", "states.amazonaws.com")
_POLICY_TYPES = frozenset(
    {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::IAM::Group",
    }
)


def _statements(resource: CfnModelResource) -> list[dict[str, Any]]:
    """The identity-policy statements of an IAM resource (inline and managed)."""
    documents = []
    if resource.type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        documents.append(resource.properties.get("PolicyDocument"))
    else:
        documents += [
            p.get("PolicyDocument")
            for p in _as_list(resource.properties.get("Policies"))
            if isinstance(p, dict)
        ]
    return [
        s
        for d in documents
        if isinstance(d, dict)
        for s in _as_list(d.get("Statement"))
        if isinstance(s, dict)
    ]


def _allows(statement: Mapping[str, Any], actions: Sequence[str]) -> bool:
    """True if an Allow statement's Action covers one of ``actions``."""
    if statement.get("Effect") != "Allow":
        return False
    patterns = [p.lower() for p in _as_list(statement.get("Action")) if isinstance(p, str)]
    if "NotAction" in statement:
        excluded = [p.lower() for p in _as_list(statement["NotAction"]) if isinstance(p, str)]
        return any(not any(fnmatch.fnmatchcase(a.lower(), p) for p in excluded) for a in actions)
    return any(fnmatch.fnmatchcase(a.lower(), p) for a in actions for p in patterns)


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    conditions = statement.get("Condition")
    if not isinstance(conditions, dict):
        return set()
    return {
        key.lower() for block in conditions.values() if isinstance(block, dict) for key in block
    }


def _object_key(resource: str) -> str | None:
    """The key pattern of an S3 object ARN (``""`` for all objects); None for non-objects."""
    if resource == "*":
        return ""
    text = resource
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) < 6 or parts[2] not in ("s3", "*", ""):
            return None
        text = parts[5]
    elif not re.match(r"^<[^>]+\.Arn>", text):
        return None
    bucket, slash, key = text.partition("/")
    if not slash:
        return "" if bucket == "*" else None
    return key


def _roles_of_policy(resource: CfnModelResource, model: StackModel) -> list[str]:
    """Logical ids of the roles a policy is attached to (a role: itself)."""
    if resource.type == "AWS::IAM::Role":
        return [resource.logical_id]
    roles = [r["Ref"] for r in _as_list(resource.properties.get("Roles")) if isinstance(r, dict)]
    if resource.type == "AWS::IAM::ManagedPolicy":
        for role in model.of_type("AWS::IAM::Role"):
            arns = _as_list(role.properties.get("ManagedPolicyArns"))
            if {"Ref": resource.logical_id} in arns:
                roles.append(role.logical_id)
    return [r for r in roles if isinstance(r, str)]


def _trusted_services(role: CfnModelResource) -> dict[str, list[dict[str, Any]]]:
    """The services a role's trust policy allows, with the statements that allow them."""
    document = role.properties.get("AssumeRolePolicyDocument")
    services: dict[str, list[dict[str, Any]]] = {}
    if not isinstance(document, dict):
        return services
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        names = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        for name in names:
            text = flatten_reference(name)
            for service in _TRUSTED_SERVICES:
                prefix = service.split(".")[0]
                if text == service or re.fullmatch(rf"{prefix}\.[^.]+\.amazonaws\.com", text):
                    services.setdefault(service, []).append(statement)
    return services


def _is_processing_role(role: CfnModelResource) -> bool:
    return "sagemaker.amazonaws.com" in _trusted_services(role)


# -- the rules ------------------------------------------------------------------------------

#: A rule's result: finding ids (``""`` means the resource as a whole) with a detail each.
Findings = dict[str, str]
Check = Callable[[CfnModelResource, StackModel], Findings]


@dataclass(frozen=True)
class Rule:
    """One rule of :class:`ProcessingPipelineChecks` (its id is ``ProcessingPipeline-<name>``)."""

    name: str
    resource_types: frozenset[str]
    info: str
    explanation: str
    fix: str
    check: Check

    @property
    def rule_id(self) -> str:
        """The id violations and acknowledgments use."""
        return f"{PACK_NAME}-{self.name}"


def _whole(problem: str | None) -> Findings:
    return {} if problem is None else {"": problem}


# channel bucket ------------------------------------------------------------------------


def _channel(check: Check) -> Check:
    """Apply a bucket check to channel buckets only."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        if resource.logical_id not in model.channel_buckets():
            return {}
        return check(resource, model)

    return checked


def _sse_configs(bucket: CfnModelResource) -> list[dict[str, Any]]:
    rules = _static(bucket.properties, "BucketEncryption", "ServerSideEncryptionConfiguration")
    return [r for r in _as_list(rules) if isinstance(r, dict)]


def _kms_default(bucket: CfnModelResource) -> dict[str, Any] | None:
    for config in _sse_configs(bucket):
        default = config.get("ServerSideEncryptionByDefault")
        if (
            isinstance(default, dict)
            and default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse")
            and default.get("KMSMasterKeyID")
        ):
            return config
    return None


def _check_sse_kms(bucket: CfnModelResource, model: StackModel) -> Findings:
    if _kms_default(bucket) is None:
        return _whole("default encryption is not SSE-KMS with a customer managed key")
    return {}


def _check_bucket_key(bucket: CfnModelResource, model: StackModel) -> Findings:
    config = _kms_default(bucket)
    if config is not None and not _truthy(config.get("BucketKeyEnabled")):
        return _whole("the S3 Bucket Key is not enabled")
    return {}


def _check_key_rotation(bucket: CfnModelResource, model: StackModel) -> Findings:
    config = _kms_default(bucket)
    if config is None:
        return {}
    key = config["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    ids = _referenced_ids(key) & {k.logical_id for k in model.of_type("AWS::KMS::Key")}
    if not ids:
        return _whole(
            f"the key {flatten_reference(key)} is not defined in this stack, so its "
            "rotation cannot be verified"
        )
    if not _truthy(model.resources[next(iter(ids))].properties.get("EnableKeyRotation")):
        return _whole(f"automatic rotation of the key {next(iter(ids))} is off")
    return {}


def _bucket_targets(resource: Any, bucket: CfnModelResource) -> set[str]:
    """Which of ``bucket`` / ``objects`` a policy resource covers."""
    text = flatten_reference(resource)
    if text == "*":
        return {"bucket", "objects"}
    base, objects = (text[:-2], True) if text.endswith("/*") else (text, False)
    name = bucket.properties.get("BucketName")
    names = [f"<{bucket.logical_id}.Arn>", f":::<{bucket.logical_id}>"]
    if isinstance(name, str):
        names.append(f":::{name}")
    if not any(base.endswith(n) for n in names):
        return set()
    return {"objects" if objects else "bucket"}


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (
        isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))
    ):
        return False
    if not any(a in ("s3:*", "*") for a in _as_list(statement.get("Action"))):
        return False
    conditions = statement.get("Condition")
    block = conditions.get("Bool") if isinstance(conditions, dict) else None
    if not isinstance(block, dict):
        return False
    values = {k.lower(): v for k, v in block.items()}
    return str(values.get("aws:securetransport")).lower() == "false"


def _check_tls_only(bucket: CfnModelResource, model: StackModel) -> Findings:
    covered: set[str] = set()
    for policy in model.of_type("AWS::S3::BucketPolicy"):
        target = policy.properties.get("Bucket")
        name = bucket.properties.get("BucketName")
        if target != {"Ref": bucket.logical_id} and not (name and target == name):
            continue
        document = policy.properties.get("PolicyDocument")
        statements = _as_list(document.get("Statement")) if isinstance(document, dict) else []
        for statement in statements:
            if isinstance(statement, dict) and _denies_insecure_transport(statement):
                for resource in _as_list(statement.get("Resource")):
                    covered |= _bucket_targets(resource, bucket)
    missing = {"bucket", "objects"} - covered
    if missing:
        return _whole(
            "no bucket policy denies requests without TLS (aws:SecureTransport false) on "
            + " and ".join(sorted(missing))
        )
    return {}


_BPA_SETTINGS = (
    "BlockPublicAcls",
    "BlockPublicPolicy",
    "IgnorePublicAcls",
    "RestrictPublicBuckets",
)


def _check_public_access(bucket: CfnModelResource, model: StackModel) -> Findings:
    block = _static(bucket.properties, "PublicAccessBlockConfiguration") or {}
    off = [s for s in _BPA_SETTINGS if not isinstance(block, dict) or not _truthy(block.get(s))]
    return _whole(f"Block Public Access settings off: {', '.join(off)}" if off else None)


def _check_owner_enforced(bucket: CfnModelResource, model: StackModel) -> Findings:
    rules = _as_list(_static(bucket.properties, "OwnershipControls", "Rules"))
    enforced = any(
        isinstance(r, dict) and r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules
    )
    return _whole(None if enforced else "object ownership is not BucketOwnerEnforced (ACLs apply)")


def _check_versioning(bucket: CfnModelResource, model: StackModel) -> Findings:
    status = _static(bucket.properties, "VersioningConfiguration", "Status")
    return _whole(None if status == "Enabled" else "versioning is not enabled")


def _check_access_logs(bucket: CfnModelResource, model: StackModel) -> Findings:
    logging = bucket.properties.get("LoggingConfiguration")
    return _whole(None if isinstance(logging, dict) else "server access logging is off")


def _check_lifecycle(bucket: CfnModelResource, model: StackModel) -> Findings:
    rules = [
        r
        for r in _as_list(_static(bucket.properties, "LifecycleConfiguration", "Rules"))
        if isinstance(r, dict) and r.get("Status") == "Enabled"
    ]
    missing = []
    if not any("ExpirationInDays" in r or "ExpirationDate" in r for r in rules):
        missing.append("expiry of current objects (the run prefixes)")
    if not any(
        "NoncurrentVersionExpiration" in r or "NoncurrentVersionExpirationInDays" in r
        for r in rules
    ):
        missing.append("expiry of noncurrent versions")
    if not any("AbortIncompleteMultipartUpload" in r for r in rules):
        missing.append("abort of incomplete multipart uploads")
    return _whole(f"no lifecycle rule for {', '.join(missing)}" if missing else None)


# IAM -------------------------------------------------------------------------------------


def _check_no_s3_wildcard(resource: CfnModelResource, model: StackModel) -> Findings:
    found: Findings = {}
    for statement in _statements(resource):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            if isinstance(action, str) and action.lower() in ("s3:*", "*"):
                found[f"Action::{action}"] = f"a statement allows {action}"
        excluded = [str(a).lower() for a in _as_list(statement.get("NotAction"))]
        if "NotAction" in statement and not any(a == "*" or a.startswith("s3") for a in excluded):
            found[f"NotAction::{','.join(excluded)}"] = "a NotAction statement allows all of S3"
    return found


def _check_list_bucket_prefix(resource: CfnModelResource, model: StackModel) -> Findings:
    for statement in _statements(resource):
        if _allows(statement, _LIST_BUCKET) and "s3:prefix" not in _condition_keys(statement):
            return _whole("a statement allows s3:ListBucket without an s3:prefix condition")
    return {}


def _check_pass_role(resource: CfnModelResource, model: StackModel) -> Findings:
    for statement in _statements(resource):
        if _allows(statement, ("iam:PassRole",)) and (
            "iam:passedtoservice" not in _condition_keys(statement)
        ):
            return _whole(
                "a statement allows iam:PassRole without an iam:PassedToService condition"
            )
    return {}


def _check_trust(resource: CfnModelResource, model: StackModel) -> Findings:
    found: Findings = {}
    for service, statements in _trusted_services(resource).items():
        for statement in statements:
            missing = {"aws:sourceaccount", "aws:sourcearn"} - _condition_keys(statement)
            if missing:
                found[f"Service::{service}"] = (
                    f"the trust policy lets {service} assume the role without "
                    + " and ".join(sorted(missing))
                )
    return found


def _check_object_access(resource: CfnModelResource, model: StackModel) -> Findings:
    roles = [model.resources.get(r) for r in _roles_of_policy(resource, model)]
    processing = [r for r in roles if r is not None and _is_processing_role(r)]
    if not processing:
        return {}
    outputs: list[str] | None = []
    for role in processing:
        role_outputs = model.role_outputs().get(role.logical_id, [])
        outputs = None if role_outputs is None or outputs is None else outputs + role_outputs
    used = any(role.logical_id in model.role_outputs() for role in processing)
    found: Findings = {}
    for statement in _statements(resource):
        reads = _allows(statement, _S3_OBJECT_READ)
        writes = _allows(statement, _S3_OBJECT_WRITE)
        if not reads and not writes:
            continue
        for item in _as_list(statement.get("Resource")):
            text = flatten_reference(item)
            key = _object_key(text)
            if key is None:
                continue
            if not key or key.startswith("*"):
                found[f"Resource::{text}"] = "object access to the whole bucket"
            elif writes and used and outputs is not None:
                prefix = key.rstrip("*")
                if not any(prefix.endswith(suffix) for suffix in outputs):
                    found[f"Resource::{text}"] = (
                        "write access outside the prefixes the role's processing jobs write "
                        f"({', '.join(sorted(set(outputs))) or 'none'})"
                    )
    return found


# processing jobs and tasks -------------------------------------------------------------


def _per_task(check: Callable[[dict[str, Any], dict[str, Any]], str | None]) -> Check:
    """Apply ``check(parameters, state)`` to every processing task of a state machine."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        definition = model.definition(resource.logical_id)
        if definition is None:
            return {}
        found: Findings = {}
        for name, state in definition.processing_states():
            params = state.get("Parameters", state.get("Arguments", {}))
            problem = check(params if isinstance(params, dict) else {}, state)
            if problem is not None:
                found[_finding(name)] = f"state '{name}': {problem}"
        return found

    return checked


def _job_network_isolation(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    if _static(params, "NetworkConfig", "EnableNetworkIsolation") is not True:
        return "NetworkConfig.EnableNetworkIsolation is not true"
    return None


def _has_local_storage(instance_type: Any) -> bool:
    if not isinstance(instance_type, str):
        return False
    # Imported here: step imports roles, which import this module.
    from constructs_sm.step import Resources

    try:
        return Resources(instance_type=instance_type).local_storage
    except ValueError:
        return False


def _job_volume_key(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    cluster = _static(params, "ProcessingResources", "ClusterConfig")
    if not isinstance(cluster, dict):
        return "ProcessingResources.ClusterConfig is not static"
    if _has_local_storage(_static(cluster, "InstanceType")):
        return None
    key = _static(cluster, "VolumeKmsKeyId")
    return None if isinstance(key, str) and key else "ClusterConfig.VolumeKmsKeyId is not set"


def _job_output_key(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    if "ProcessingOutputConfig" not in params and "ProcessingOutputConfig.$" not in params:
        return None
    key = _static(params, "ProcessingOutputConfig", "KmsKeyId")
    return None if isinstance(key, str) and key else "ProcessingOutputConfig.KmsKeyId is not set"


def _job_inter_container(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    count = _static(params, "ProcessingResources", "ClusterConfig", "InstanceCount")
    if _is_static_int(count) and count <= 1:
        return None
    if _static(params, "NetworkConfig", "EnableInterContainerTrafficEncryption") is not True:
        return (
            f"InstanceCount is {count if _is_static_int(count) else 'dynamic'} and "
            "NetworkConfig.EnableInterContainerTrafficEncryption is not true"
        )
    return None


def _job_max_runtime(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    runtime = _static(params, "StoppingCondition", "MaxRuntimeInSeconds")
    if _is_static_int(runtime) and 1 <= runtime <= _MAX_RUNTIME_LIMIT:
        return None
    return f"StoppingCondition.MaxRuntimeInSeconds is not between 1 and {_MAX_RUNTIME_LIMIT}"


def _task_timeout(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    timeout = state.get("TimeoutSeconds")
    if not _is_static_int(timeout) or timeout < 1:
        return "the task has no TimeoutSeconds"
    runtime = _static(params, "StoppingCondition", "MaxRuntimeInSeconds")
    if _is_static_int(runtime) and timeout <= runtime:
        return f"TimeoutSeconds {timeout} does not exceed MaxRuntimeInSeconds {runtime}"
    return None


#: Errors every processing task retries (SECURITY.md "Reliability").
REQUIRED_RETRIES: Final = (
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "ThrottlingException",
    "States.Timeout",
)


def _task_retry(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    retried = {
        error
        for retrier in _as_list(state.get("Retry"))
        if isinstance(retrier, dict) and retrier.get("MaxAttempts", 3) != 0
        for error in _as_list(retrier.get("ErrorEquals"))
    }
    missing = [error for error in REQUIRED_RETRIES if error not in retried]
    return f"no Retry for {', '.join(missing)}" if missing else None


def _task_catch(params: dict[str, Any], state: dict[str, Any]) -> str | None:
    for catcher in _as_list(state.get("Catch")):
        if isinstance(catcher, dict) and "States.ALL" in _as_list(catcher.get("ErrorEquals")):
            return None
    return "no Catch for States.ALL"


# state machine ---------------------------------------------------------------------------


def _machine(check: Callable[[Mapping[str, Any]], str | None]) -> Check:
    """Apply a property check to state machines that run processing jobs."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        if resource.logical_id not in model.processing_machines():
            return {}
        return _whole(check(resource.properties))

    return checked


def _machine_readable(resource: CfnModelResource, model: StackModel) -> Findings:
    if model.definition(resource.logical_id) is None:
        return _whole("the definition cannot be read at synth time (S3 location or not JSON)")
    return {}


def _machine_standard(properties: Mapping[str, Any]) -> str | None:
    kind = properties.get("StateMachineType", "STANDARD")
    return None if kind == "STANDARD" else f"the type is {kind}"


def _machine_log_all(properties: Mapping[str, Any]) -> str | None:
    logging = properties.get("LoggingConfiguration")
    if not isinstance(logging, dict) or not _as_list(logging.get("Destinations")):
        return "execution logging is off"
    level = logging.get("Level", "OFF")
    return None if level == "ALL" else f"the log level is {level}"


def _machine_no_execution_data(properties: Mapping[str, Any]) -> str | None:
    logging = properties.get("LoggingConfiguration")
    if isinstance(logging, dict) and _truthy(logging.get("IncludeExecutionData")):
        return "execution data (inputs, outputs, parameters) is included in the logs"
    return None


def _machine_tracing(properties: Mapping[str, Any]) -> str | None:
    enabled = _static(properties, "TracingConfiguration", "Enabled")
    return None if _truthy(enabled) else "X-Ray tracing is off"


_BUCKET = frozenset({"AWS::S3::Bucket"})
_MACHINE = frozenset({"AWS::StepFunctions::StateMachine"})
_ROLE = frozenset({"AWS::IAM::Role"})
_ACK_HINT = (
    " If the design requires it, acknowledge the finding on the construct with "
    "constructs_sm.nag.acknowledge(construct, ['<rule id>'], reason)."
)

#: The rules of :class:`ProcessingPipelineChecks`, all error level.
RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "ChannelBucketSseKms",
        _BUCKET,
        "The channel bucket is not encrypted with SSE-KMS and a customer managed key.",
        "Handoff data of processing jobs is encrypted at rest with a key whose use is "
        "logged and whose policy the account controls.",
        "Set BucketEncryption to aws:kms with KMSMasterKeyID (s3.BucketEncryption.KMS with "
        "encryption_key=...), or use constructs_sm.ChannelBucket.",
        _channel(_check_sse_kms),
    ),
    Rule(
        "ChannelBucketKeyRotation",
        _BUCKET,
        "The channel bucket's KMS key does not rotate (or is not defined in the stack).",
        "Automatic yearly rotation limits the data encrypted under one key version.",
        "Use a kms.Key with enable_key_rotation=True defined in the same stack; for an "
        "external key that rotates, acknowledge the finding with that reason.",
        _channel(_check_key_rotation),
    ),
    Rule(
        "ChannelBucketBucketKey",
        _BUCKET,
        "The channel bucket does not use an S3 Bucket Key.",
        "A Bucket Key cuts KMS requests (cost, throttling) of jobs reading many objects.",
        "Set BucketKeyEnabled: true (bucket_key_enabled=True).",
        _channel(_check_bucket_key),
    ),
    Rule(
        "ChannelBucketTlsOnly",
        _BUCKET,
        "The channel bucket's policy does not deny requests without TLS on the bucket and "
        "its objects.",
        "Data in transit between jobs, the state machine and S3 must be encrypted.",
        "Add a bucket policy statement Deny s3:* to * on the bucket ARN and <ARN>/* with "
        "Condition Bool aws:SecureTransport false (enforce_ssl=True).",
        _channel(_check_tls_only),
    ),
    Rule(
        "ChannelBucketPublicAccessBlock",
        _BUCKET,
        "The channel bucket does not turn on all Block Public Access settings.",
        "Handoff data must never become public through an ACL or a bucket policy.",
        "Set all four PublicAccessBlockConfiguration settings to true "
        "(block_public_access=s3.BlockPublicAccess.BLOCK_ALL).",
        _channel(_check_public_access),
    ),
    Rule(
        "ChannelBucketOwnerEnforced",
        _BUCKET,
        "The channel bucket's object ownership is not BucketOwnerEnforced.",
        "With ACLs disabled, access is decided by policies only and every object belongs "
        "to the bucket owner.",
        "Set OwnershipControls ObjectOwnership BucketOwnerEnforced "
        "(object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED).",
        _channel(_check_owner_enforced),
    ),
    Rule(
        "ChannelBucketVersioning",
        _BUCKET,
        "The channel bucket is not versioned.",
        "Versions protect handoff data from being overwritten or deleted by a faulty job.",
        "Set VersioningConfiguration Status Enabled (versioned=True).",
        _channel(_check_versioning),
    ),
    Rule(
        "ChannelBucketAccessLogs",
        _BUCKET,
        "The channel bucket has no server access logs.",
        "Access logs record who read and wrote handoff data.",
        "Set LoggingConfiguration with a DestinationBucketName (server_access_logs_bucket=...).",
        _channel(_check_access_logs),
    ),
    Rule(
        "ChannelBucketLifecycle",
        _BUCKET,
        "The channel bucket's lifecycle does not expire run data, noncurrent versions and "
        "incomplete multipart uploads.",
        "Per-run handoff data is kept for redrives and then expires instead of growing "
        "forever; versions and abandoned uploads are not kept either.",
        "Add enabled lifecycle rules with ExpirationInDays on the run prefixes, "
        "NoncurrentVersionExpiration and AbortIncompleteMultipartUpload "
        "(ChannelBucket.add_run_prefix does all three).",
        _channel(_check_lifecycle),
    ),
    Rule(
        "IamNoS3Wildcard",
        _POLICY_TYPES,
        "An IAM policy allows s3:* (or *).",
        "Jobs and state machines need a handful of S3 actions; s3:* includes deleting "
        "buckets and changing their policies.",
        "List the S3 actions needed (s3:GetObject, s3:PutObject, s3:ListBucket, ...).",
        _check_no_s3_wildcard,
    ),
    Rule(
        "IamListBucketPrefix",
        _POLICY_TYPES,
        "An IAM policy allows s3:ListBucket without an s3:prefix condition.",
        "Listing is limited to the prefixes the principal works on, like its object access.",
        "Add Condition StringLike s3:prefix [<prefix>*] to the statement "
        "(ChannelBucket.grant_read does).",
        _check_list_bucket_prefix,
    ),
    Rule(
        "IamStepObjectAccess",
        _POLICY_TYPES,
        "A processing job role can access objects outside its step's own prefixes.",
        "A step reads its inputs and writes its outputs only; a role for the whole bucket "
        "lets one compromised job read or overwrite every run's data.",
        "Grant object actions on <bucket ARN>/<prefix>* of the step's inputs and outputs "
        "(ChannelBucket.grant_read/grant_write), not on <bucket ARN>/* or *.",
        _check_object_access,
    ),
    Rule(
        "IamPassRoleService",
        _POLICY_TYPES,
        "An IAM policy allows iam:PassRole without an iam:PassedToService condition.",
        "The state machine may pass job roles to SageMaker only.",
        "Add Condition StringEquals iam:PassedToService sagemaker.amazonaws.com.",
        _check_pass_role,
    ),
    Rule(
        "IamTrustConfusedDeputy",
        _ROLE,
        "A role trusted by SageMaker or Step Functions has no aws:SourceAccount and "
        "aws:SourceArn conditions.",
        "Without them, the service can be made to assume the role on behalf of another "
        "account or resource (confused deputy).",
        "Add Condition StringEquals aws:SourceAccount <account> and ArnLike aws:SourceArn "
        "<the jobs' or state machines' ARN pattern> to the trust statement.",
        _check_trust,
    ),
    Rule(
        "JobNetworkIsolation",
        _MACHINE,
        "A processing job runs without network isolation.",
        "An isolated container cannot reach the network: a compromised dependency cannot "
        "exfiltrate data.",
        "Set NetworkConfig.EnableNetworkIsolation true (add_step(network_isolation=True)); "
        "opting out needs an acknowledgment of ProcessingPipeline-JobNetworkIsolation"
        "[<state>] with the reason.",
        _per_task(_job_network_isolation),
    ),
    Rule(
        "JobVolumeEncryption",
        _MACHINE,
        "A processing job's storage volume is not encrypted with a KMS key.",
        "Data staged on the ML storage volume is encrypted with the customer key.",
        "Set ProcessingResources.ClusterConfig.VolumeKmsKeyId (omit it only on instance "
        "types with local NVMe storage).",
        _per_task(_job_volume_key),
    ),
    Rule(
        "JobOutputEncryption",
        _MACHINE,
        "A processing job's outputs are not encrypted with a KMS key.",
        "Outputs uploaded to S3 are encrypted with the customer key.",
        "Set ProcessingOutputConfig.KmsKeyId.",
        _per_task(_job_output_key),
    ),
    Rule(
        "JobInterContainerEncryption",
        _MACHINE,
        "A multi-instance processing job does not encrypt inter-container traffic.",
        "Traffic between the instances of a distributed job is encrypted.",
        "Set NetworkConfig.EnableInterContainerTrafficEncryption true when InstanceCount > 1.",
        _per_task(_job_inter_container),
    ),
    Rule(
        "JobMaxRuntime",
        _MACHINE,
        "A processing job has no MaxRuntimeInSeconds.",
        "A stopping condition bounds the cost and the blast radius of a stuck job.",
        "Set StoppingCondition.MaxRuntimeInSeconds (Resources(max_runtime_seconds=...)).",
        _per_task(_job_max_runtime),
    ),
    Rule(
        "TaskTimeout",
        _MACHINE,
        "A processing task has no TimeoutSeconds above the job's MaxRuntimeInSeconds.",
        "Without a task timeout a lost job completion event stalls the execution for a year.",
        "Set TimeoutSeconds on the task, above MaxRuntimeInSeconds plus start-up time.",
        _per_task(_task_timeout),
    ),
    Rule(
        "TaskRetry",
        _MACHINE,
        "A processing task does not retry the SageMaker, throttling and timeout errors.",
        "Transient SageMaker errors, capacity limits and throttling should not fail a run.",
        "Add Retry entries for " + ", ".join(REQUIRED_RETRIES) + " (see constructs_sm.step."
        "JOB_RETRIES).",
        _per_task(_task_retry),
    ),
    Rule(
        "TaskCatch",
        _MACHINE,
        "A processing task has no Catch for States.ALL.",
        "A caught error ends the execution in a failure state that keeps the error and cause.",
        "Add Catch [{ErrorEquals: [States.ALL], ResultPath: $.error, Next: <Fail state>}].",
        _per_task(_task_catch),
    ),
    Rule(
        "StateMachineDefinitionReadable",
        _MACHINE,
        "The state machine's definition cannot be read at synth time.",
        "The processing-job rules need to see the definition.",
        "Define the state machine with a DefinitionString (DefinitionBody.from_chainable or "
        "from_string), not from S3.",
        _machine_readable,
    ),
    Rule(
        "StateMachineStandard",
        _MACHINE,
        "A state machine running processing jobs is not of type STANDARD.",
        "Express workflows cannot run .sync jobs and keep no execution history.",
        "Set StateMachineType STANDARD.",
        _machine(_machine_standard),
    ),
    Rule(
        "StateMachineLogAll",
        _MACHINE,
        "A state machine running processing jobs does not log all events.",
        "Execution events at level ALL are the audit trail of every run.",
        "Set LoggingConfiguration Level ALL with a CloudWatch Logs destination.",
        _machine(_machine_log_all),
    ),
    Rule(
        "StateMachineLogNoExecutionData",
        _MACHINE,
        "A state machine running processing jobs logs execution data.",
        "Execution inputs and outputs may hold data that must not end up in log groups.",
        "Set LoggingConfiguration IncludeExecutionData false.",
        _machine(_machine_no_execution_data),
    ),
    Rule(
        "StateMachineTracing",
        _MACHINE,
        "A state machine running processing jobs has X-Ray tracing off.",
        "Traces show where a run spends its time and where it failed.",
        "Set TracingConfiguration Enabled true (tracing_enabled=True).",
        _machine(_machine_tracing),
    ),
)
_RULES_BY_TYPE: Final[dict[str, list[Rule]]] = {}
for _rule in RULES:
    for _type in _rule.resource_types:
        _RULES_BY_TYPE.setdefault(_type, []).append(_rule)


def check_stack(model: StackModel) -> dict[str, dict[str, Findings]]:
    """Run every rule on a stack: logical id -> rule id -> findings (only the failing)."""
    results: dict[str, dict[str, Findings]] = {}
    for resource in model.resources.values():
        for rule in _RULES_BY_TYPE.get(resource.type, []):
            try:
                findings = rule.check(resource, model)
            except Exception as error:  # a rule bug must not pass silently
                findings = {"": f"the rule could not evaluate the resource: {error!r}"}
            if findings:
                results.setdefault(resource.logical_id, {})[rule.rule_id] = findings
    return results


def model_from_template(template: Mapping[str, Any]) -> StackModel:
    """A :class:`StackModel` of a synthesized template (paths are the logical ids)."""
    return StackModel(
        {
            lid: CfnModelResource(lid, r.get("Type", ""), r.get("Properties", {}) or {}, lid)
            for lid, r in template.get("Resources", {}).items()
        }
    )


# -- the pack -------------------------------------------------------------------------------


def _cfn_resources(scope: IConstruct) -> Iterator[CfnResource]:
    todo = [scope]
    while todo:
        construct = todo.pop()
        if isinstance(construct, CfnResource):
            yield construct
        todo.extend(reversed(construct.node.children))


def _model_of(scope: IConstruct) -> dict[str, tuple[StackModel, dict[str, str]]]:
    """Per stack path: the stack's model and each resource's construct path -> logical id."""
    stacks: dict[str, tuple[StackModel, dict[str, str]]] = {}
    resources: dict[str, dict[str, CfnModelResource]] = {}
    for node in _cfn_resources(scope):
        stack = Stack.of(node)
        key = stack.node.path
        logical_id = str(stack.resolve(node.logical_id))
        resolved = stack.resolve(node._cfn_properties)
        try:
            properties = node._render_properties(resolved)
        except Exception:  # an L1 that cannot render its resolved props: use them as is
            properties = resolved
        path = node.node.path
        resources.setdefault(key, {})[logical_id] = CfnModelResource(
            logical_id, node.cfn_resource_type, properties or {}, path
        )
        stacks.setdefault(key, (StackModel({}), {}))[1][path] = logical_id
    for key, found in resources.items():
        stacks[key] = (StackModel(found), stacks[key][1])
    return stacks


@jsii.implements(IApplyRule)
class _Application:
    """One rule applied to one resource, with its precomputed result."""

    def __init__(self, rule: Rule, node: CfnResource, finding: str, detail: str) -> None:
        self._rule, self._node, self._finding, self._detail = rule, node, finding, detail

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.name

    @property
    def info(self) -> str:
        return f"{self._rule.info} ({self._detail}) Fix: {self._rule.fix}"

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    @property
    def node(self) -> CfnResource:
        return self._node

    def rule(self, node: CfnResource) -> NagRuleCompliance | list[str]:
        return [self._finding] if self._finding else NagRuleCompliance.NON_COMPLIANT


class ProcessingPipelineChecks(NagPack):
    """Our pack: channel buckets, job and state-machine IAM, processing-job settings.

    Rule ids are ``ProcessingPipeline-<name>`` (see :data:`RULES`), all error level.
    Findings inside a state machine are per state, e.g.
    ``ProcessingPipeline-JobNetworkIsolation[Run-train]``; IAM object access findings are
    per resource, e.g. ``ProcessingPipeline-IamStepObjectAccess[Resource::<B.Arn>/*]``.

    Channel buckets are the buckets a state machine that runs processing jobs refers to
    in its definition. Rules read each resource's L1 properties, as cdk-nag's do (raw
    property overrides are not seen; the template scanners see those).
    """

    def __init__(self, scope: IConstruct | None = None, *, verbose: bool | None = None) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK_NAME
        self._results: dict[str, tuple[CfnModelResource, dict[str, Findings]]] | None = None

    @property
    def name(self) -> str:
        """The pack's name (the prefix of its rule ids)."""
        return PACK_NAME

    def validate_scope(self, scope: IConstruct) -> PolicyValidationPluginReport:
        """Check every resource under ``scope`` (an app, stage or stack)."""
        self._results = {}
        for model, paths in _model_of(scope).values():
            results = check_stack(model)
            for path, logical_id in paths.items():
                if logical_id in results:
                    self._results[path] = (model.resources[logical_id], results[logical_id])
        try:
            return super().validate_scope(scope)
        finally:
            self._results = None

    def _check_resource(self, node: CfnResource) -> None:
        if self._results is None:  # called without validate_scope: check this node's stack
            self.validate_scope(Stack.of(node))
            return
        entry = self._results.get(node.node.path)
        if entry is None:
            return
        for rule in RULES:
            for finding, detail in entry[1].get(rule.rule_id, {}).items():
                self._apply_rule(cast(IApplyRule, _Application(rule, node, finding, detail)))


# -- registration and the synth-time report -------------------------------------------------


def default_packs(scope: IConstruct, *, verbose: bool = False) -> tuple[NagPack, ...]:
    """The packs every app of ours is checked with, in report order."""
    return (
        AwsSolutionsChecks(scope, verbose=verbose),
        NIST80053R5Checks(scope, verbose=verbose),
        HIPAASecurityChecks(scope, verbose=verbose),
        PCIDSS321Checks(scope, verbose=verbose),
        ServerlessChecks(scope, verbose=verbose),
        ProcessingPipelineChecks(scope, verbose=verbose),
    )


def collect_acknowledgments(scope: IConstruct) -> list[dict[str, str]]:
    """Every acknowledgment under ``scope``: construct path, finding id and reason, sorted."""
    found: set[tuple[str, str, str]] = set()
    todo = [scope]
    while todo:
        construct = todo.pop()
        for entry in construct.node.metadata:
            if entry.type == _ACKNOWLEDGED_RULES and isinstance(entry.data, dict):
                for qualified, reason in entry.data.items():
                    finding = re.sub(r"^annotation::", "", qualified, flags=re.IGNORECASE)
                    found.add((construct.node.path, finding, str(reason)))
        todo.extend(construct.node.children)
    return [{"path": p, "id": i, "reason": r} for p, i, r in sorted(found)]


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
        report = self._pack.validate_scope(context.app_construct)
        violations = [
            PolicyViolation(
                rule_name=v.rule_name,
                description=v.description,
                fix=_fix(self.name, v.rule_name),
                severity=v.severity,
                violating_resources=[
                    PolicyViolatingResource(
                        locations=list(r.locations), construct_path=r.construct_path
                    )
                    for r in v.violating_resources
                ],
            )
            for v in report.violations
        ]
        self._report.record(self.name, violations)
        return PolicyValidationPluginReport(success=not violations, violations=violations)


def apply_checks(
    app: Stage, *, verbose: bool = False, report_file: str = REPORT_FILE
) -> tuple[NagPack, ...]:
    """Check ``app`` at synth with the AWS packs and :class:`ProcessingPipelineChecks`.

    Registers AWS Solutions, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1, Serverless
    and our pack as validation plugins. ``app.synth()`` then writes ``report_file``
    (violations and acknowledgments per pack) into the cloud assembly and fails on any
    unacknowledged violation, with a report naming the rule, the resource path and how
    to fix it. Returns the packs, e.g. to run ``pack.validate_scope(app)`` in tests.

    :param verbose: put the rules' explanations into the violation descriptions.
    """
    if not isinstance(app, Stage):
        raise TypeError(f"app must be an App or Stage, got {type(app).__name__}")
    packs = default_packs(app, verbose=verbose)
    report = _Report(app, report_file)
    Validations.of(app).add_plugins(*(_ReportingPlugin(pack, report) for pack in packs))
    return packs

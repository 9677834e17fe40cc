"""The model of a synthesized template: the resources a rule sees and their relations.

:func:`model_from_template` turns a template into a :class:`StackModel`: its resources
(:class:`CfnModelResource`) and, computed when a rule first asks, the parsed state-machine
definitions, the channel buckets the processing jobs use, the S3 locations and run
prefixes of the jobs and the roles of the pipeline. :func:`link_imports` marks the buckets
a state machine of another template imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from constructs_sm.nag.acknowledge import flatten_reference
from constructs_sm.nag.definition import Definition, S3Location, logical_ids, parse_definition
from constructs_sm.nag.policy import (
    LIST_BUCKET,
    POLICY_TYPES,
    S3_OBJECT_READ,
    S3_OBJECT_WRITE,
    allows,
    is_processing_role,
    policy_statements,
    roles_of_policy,
    s3_arn_parts,
    s3_bucket_text,
    trusted_services,
)
from constructs_sm.nag.values import as_list

_S3_BUCKET: Final = "AWS::S3::Bucket"


@dataclass(frozen=True)
class CfnModelResource:
    """One CloudFormation resource: its logical id, type, properties and construct path."""

    logical_id: str
    type: str
    properties: Mapping[str, Any]
    path: str


@dataclass
class StackModel:
    """The resources of one stack, with the relations the rules need (built lazily).

    ``imported_channel_buckets`` are buckets of this stack that a processing state
    machine of another stack uses (through ``Fn::ImportValue``); ``account`` is the
    stack's account when it is a literal (``env``), else None (``<AWS-AccountId>``).
    """

    resources: Mapping[str, CfnModelResource]
    imported_channel_buckets: set[str] = field(default_factory=set)
    account: str | None = None
    _machines: dict[str, Definition | None] | None = field(default=None, repr=False)
    _channel_buckets: set[str] | None = field(default=None, repr=False)
    _locations: list[S3Location] | None = field(default=None, repr=False)

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
        """State machines that run processing jobs, or whose definition (or the Resource of
        one of whose tasks) cannot be read."""
        return {
            lid: d
            for lid, d in self.machines().items()
            if d is None or d.processing_tasks() or d.unreadable_tasks()
        }

    def bucket_id(self, text: str | None) -> str | None:
        """The logical id of this stack's bucket that ``text`` (``<Id>``, ``<Id.Arn>`` or a
        literal ``BucketName``) names, if any."""
        if not text:
            return None
        match = re.fullmatch(r"<([^<>.]+)(?:\.Arn)?>", text)
        if match:
            resource = self.resources.get(match.group(1))
            return resource.logical_id if resource and resource.type == _S3_BUCKET else None
        for bucket in self.of_type(_S3_BUCKET):
            if bucket.properties.get("BucketName") == text:
                return bucket.logical_id
        return None

    def locations(self) -> list[S3Location]:
        """The S3 inputs and outputs of every processing task of the stack."""
        if self._locations is None:
            self._locations = [
                location
                for definition in self.processing_machines().values()
                if definition is not None
                for location in definition.locations()
            ]
        return self._locations

    def channel_buckets(self) -> set[str]:
        """The buckets of this stack that processing jobs use (see ``ProcessingPipelineChecks``)."""
        if self._channel_buckets is None:
            buckets = {r.logical_id for r in self.of_type(_S3_BUCKET)}
            found = set(self.imported_channel_buckets) & buckets
            for definition in self.processing_machines().values():
                if definition is not None:
                    found |= definition.referenced_ids() & buckets
            for location in self.locations():
                found |= {self.bucket_id(location.bucket) or ""} & buckets
            for policy in self.resources.values():
                if policy.type in POLICY_TYPES and any(
                    r in self.resources and is_processing_role(self.resources[r])
                    for r in roles_of_policy(policy, self)
                ):
                    for statement in policy_statements(policy):
                        if allows(statement, (*S3_OBJECT_READ, *S3_OBJECT_WRITE, *LIST_BUCKET)):
                            for item in as_list(statement.get("Resource")):
                                found |= {self.bucket_id(s3_bucket_text(item)) or ""} & buckets
            self._channel_buckets = found
        return self._channel_buckets

    def data_source_prefixes(self, bucket: str) -> set[str]:
        """The literal key prefixes of ``bucket`` that processing state machines let their
        parameters point at (``""``: the whole bucket)."""
        return {
            prefix
            for definition in self.processing_machines().values()
            if definition is not None
            for name, prefix in definition.data_sources()
            if self.bucket_id(name) == bucket
        }

    def own_account(self, text: str) -> bool:
        """True if ``text`` (normalised) names this stack's account."""
        return text == "<AWS-AccountId>" or (self.account is not None and text == self.account)

    def run_prefixes(self, bucket: str) -> set[str]:
        """The literal key prefixes processing jobs write to ``bucket`` under (``""``: the
        whole bucket). From the jobs' output URIs; when an output's bucket or key is not
        known, or no output names the bucket, from what the jobs' roles may write there."""
        prefixes: set[str] = set()
        unknown = False
        for location in self.locations():
            if not location.output:
                continue
            if location.bucket is not None and self.bucket_id(location.bucket) != bucket:
                continue
            if location.bucket is None or location.key is None:
                unknown = True
            else:
                prefixes.add(_literal_prefix(location.key))
        if unknown or not prefixes:
            for policy in self.resources.values():
                if policy.type not in POLICY_TYPES or not any(
                    r in self.resources and is_processing_role(self.resources[r])
                    for r in roles_of_policy(policy, self)
                ):
                    continue
                for statement in policy_statements(policy):
                    if not allows(statement, S3_OBJECT_WRITE):
                        continue
                    for item in as_list(statement.get("Resource")):
                        parts = s3_arn_parts(flatten_reference(item))
                        if parts and (parts[0] == "*" or self.bucket_id(parts[0]) == bucket):
                            prefixes.add(_literal_prefix(parts[1] or ""))
        return prefixes

    def role_locations(self, role: str) -> tuple[list[S3Location], list[S3Location]] | None:
        """``(inputs, outputs)`` of the jobs that run with ``role``; None if no job does."""
        mine = [loc for loc in self.locations() if loc.role == role]
        if not mine:
            return None
        return [loc for loc in mine if not loc.output], [loc for loc in mine if loc.output]

    def pipeline_roles(self) -> set[str]:
        """Roles trusted by SageMaker or Step Functions: the IAM rules check all of their
        statements (other principals only their statements on channel buckets)."""
        return {r.logical_id for r in self.of_type("AWS::IAM::Role") if trusted_services(r)}


def _literal_prefix(key: str) -> str:
    """The literal folder a key pattern starts with (``Churn/`` for ``Churn/*/a/``)."""
    literal = re.split(r"[*?<]", key, maxsplit=1)[0]
    return literal[: literal.rfind("/") + 1]


def model_from_template(template: Mapping[str, Any], account: str | None = None) -> StackModel:
    """A :class:`StackModel` of a synthesized template (a resource's path is its
    ``aws:cdk:path`` metadata, else its logical id) in ``account``, if known."""
    resources = {}
    for lid, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict):
            continue
        metadata = resource.get("Metadata")
        path = metadata.get("aws:cdk:path") if isinstance(metadata, dict) else None
        resources[lid] = CfnModelResource(
            lid,
            str(resource.get("Type", "")),
            resource.get("Properties") or {},
            path if isinstance(path, str) else lid,
        )
    return StackModel(resources, account=account)


def link_imports(
    models: Mapping[str, StackModel], templates: Mapping[str, Mapping[str, Any]]
) -> None:
    """Mark the buckets that processing state machines import from other stacks."""
    exports: dict[str, tuple[str, set[str]]] = {}
    for name, template in templates.items():
        for output in (template.get("Outputs") or {}).values():
            export = output.get("Export") if isinstance(output, dict) else None
            if isinstance(export, dict) and isinstance(export.get("Name"), str):
                exports[export["Name"]] = (name, logical_ids(output.get("Value")))
    for model in models.values():
        for definition in model.processing_machines().values():
            for imported in definition.imported_names() if definition else set():
                if imported in exports:
                    owner, ids = exports[imported]
                    models[owner].imported_channel_buckets.update(ids)

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

The rules are pure functions over CloudFormation resources (:func:`check_stack`,
:func:`check_templates`) and the pack runs them on the synthesized templates, so property
overrides and deletions (escape hatches) are seen as CloudFormation will see them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import jsii
from aws_cdk import (
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
from constructs import IConstruct

from constructs_sm.limits import MAX_RUNTIME_LIMIT, has_local_storage
from constructs_sm.nag.acknowledge import (
    ACKNOWLEDGED_RULES,
    INLINE_POLICY_FINDINGS,
    acknowledge,
    acknowledge_wildcards,
    flatten_reference,
    skip_checkov,
    wildcard_finding,
)
from constructs_sm.nag.definition import (
    S3Location,
    logical_ids,
    parse_definition,
    task_parameters,
)
from constructs_sm.nag.policy import (
    LIST_BUCKET,
    POLICY_TYPES,
    S3_OBJECT_READ,
    S3_OBJECT_WRITE,
    TRUSTED_SERVICES,
    allows,
    condition_values,
    is_processing_role,
    policy_statements,
    restricts,
    roles_of_policy,
    s3_arn_parts,
    s3_bucket_text,
    service_name,
    trusted_services,
)
from constructs_sm.nag.template import (
    CfnModelResource,
    StackModel,
    link_imports,
    model_from_template,
)
from constructs_sm.nag.values import as_list, is_static_int, static, truthy
from constructs_sm.report import walk_states

__all__ = [
    "INLINE_POLICY_FINDINGS",
    "PACK_NAME",
    "RULES",
    "CfnModelResource",
    "ProcessingPipelineChecks",
    "Rule",
    "StackModel",
    "acknowledge",
    "acknowledge_wildcards",
    "apply_checks",
    "check_stack",
    "check_templates",
    "flatten_reference",
    "model_from_template",
    "parse_definition",
    "skip_checkov",
    "wildcard_finding",
]

#: The prefix of our pack's rule ids (``ProcessingPipeline-JobNetworkIsolation``...).
PACK_NAME: Final = "ProcessingPipeline"
#: The file :func:`apply_checks` writes into the cloud assembly.
REPORT_FILE: Final = "nag-report.json"
_RULES_DOC: Final = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"

# -- the resources a rule sees ------------------------------------------------------------


# -- state-machine definitions -------------------------------------------------------------


# -- helpers over values --------------------------------------------------------------------


def state_finding(name: str) -> str:
    """A state name usable in a finding id: CDK turns spaces in acknowledged ids into ``-``
    (``Run train`` becomes ``Run-train``) and brackets would unbalance the id."""
    return re.sub(r"[\[\](){}]", "_", name.replace(" ", "-"))


# -- IAM helpers ----------------------------------------------------------------------------


def _policy_scope(resource: CfnModelResource, model: StackModel) -> bool:
    """True if the policy belongs to (or is) a role trusted by SageMaker or Step Functions."""
    return bool(set(roles_of_policy(resource, model)) & model.pipeline_roles())


def _on_channel_bucket(statement: Mapping[str, Any], model: StackModel) -> bool:
    """True if a statement's resources may cover a channel bucket or its objects."""
    channel = model.channel_buckets()
    if not channel:
        return False
    if "NotResource" in statement:
        return True
    for item in as_list(statement.get("Resource")):
        bucket = s3_bucket_text(item)
        if bucket is None:
            continue
        if "*" in bucket or "?" in bucket or model.bucket_id(bucket) in channel:
            return True
    return False


def _checked_statements(resource: CfnModelResource, model: StackModel) -> list[dict[str, Any]]:
    """The statements the IAM rules check: all of a pipeline role's, else those that may
    apply to a channel bucket."""
    statements = policy_statements(resource)
    if _policy_scope(resource, model):
        return statements
    return [s for s in statements if _on_channel_bucket(s, model)]


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM/S3 wildcard pattern (``*`` any characters, the rest literal) as a regex."""
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.DOTALL)


def _covers(allowed: S3Location, bucket: str | None, key: str, model: StackModel) -> bool:
    """True if every object of ``bucket``/``key`` (a pattern) is under ``allowed``'s prefix.

    A pattern is taken as literal text that the prefix pattern must match: ``runs/*/in/*``
    is under ``runs/*/in/``, ``runs/*`` is not.
    """
    if allowed.key is None:
        return False
    if allowed.bucket is not None and bucket is not None:
        same = allowed.bucket == bucket or (
            model.bucket_id(allowed.bucket) is not None
            and model.bucket_id(allowed.bucket) == model.bucket_id(bucket)
        )
        if not same:
            return False
    return _glob(allowed.key + "*").fullmatch(key) is not None


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


def whole(problem: str | None) -> Findings:
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
    rules = static(bucket.properties, "BucketEncryption", "ServerSideEncryptionConfiguration")
    return [r for r in as_list(rules) if isinstance(r, dict)]


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
        return whole("default encryption is not SSE-KMS with a customer managed key")
    return {}


def _check_bucket_key(bucket: CfnModelResource, model: StackModel) -> Findings:
    config = _kms_default(bucket)
    if config is not None and not truthy(config.get("BucketKeyEnabled")):
        return whole("the S3 Bucket Key is not enabled")
    return {}


def _check_key_rotation(bucket: CfnModelResource, model: StackModel) -> Findings:
    config = _kms_default(bucket)
    if config is None:
        return {}
    key = config["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    ids = logical_ids(key) & {k.logical_id for k in model.of_type("AWS::KMS::Key")}
    if not ids:
        return whole(
            f"the key {flatten_reference(key)} is not defined in this stack, so its "
            "rotation cannot be verified"
        )
    if not truthy(model.resources[next(iter(ids))].properties.get("EnableKeyRotation")):
        return whole(f"automatic rotation of the key {next(iter(ids))} is off")
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
        isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))
    ):
        return False
    if not any(a in ("s3:*", "*") for a in as_list(statement.get("Action"))):
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
        statements = as_list(document.get("Statement")) if isinstance(document, dict) else []
        for statement in statements:
            if isinstance(statement, dict) and _denies_insecure_transport(statement):
                for resource in as_list(statement.get("Resource")):
                    covered |= _bucket_targets(resource, bucket)
    missing = {"bucket", "objects"} - covered
    if missing:
        return whole(
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
    block = static(bucket.properties, "PublicAccessBlockConfiguration") or {}
    off = [s for s in _BPA_SETTINGS if not isinstance(block, dict) or not truthy(block.get(s))]
    return whole(f"Block Public Access settings off: {', '.join(off)}" if off else None)


def _check_owner_enforced(bucket: CfnModelResource, model: StackModel) -> Findings:
    rules = as_list(static(bucket.properties, "OwnershipControls", "Rules"))
    enforced = any(
        isinstance(r, dict) and r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules
    )
    return whole(None if enforced else "object ownership is not BucketOwnerEnforced (ACLs apply)")


def _check_versioning(bucket: CfnModelResource, model: StackModel) -> Findings:
    status = static(bucket.properties, "VersioningConfiguration", "Status")
    return whole(None if status == "Enabled" else "versioning is not enabled")


def _check_access_logs(bucket: CfnModelResource, model: StackModel) -> Findings:
    logging = static(bucket.properties, "LoggingConfiguration")
    if not isinstance(logging, dict):
        return whole("server access logging is off")
    destination = logging.get("DestinationBucketName")
    if not destination:
        return whole("LoggingConfiguration names no DestinationBucketName")
    if destination in ({"Ref": bucket.logical_id}, bucket.properties.get("BucketName")):
        return whole("the bucket writes its access logs into itself")
    return {}


def _lifecycle_rules(bucket: CfnModelResource) -> list[tuple[str, dict[str, Any]]]:
    """``(prefix, rule)`` of the enabled lifecycle rules filtered by a prefix only."""
    rules = []
    for rule in as_list(static(bucket.properties, "LifecycleConfiguration", "Rules")):
        if not isinstance(rule, dict) or rule.get("Status") != "Enabled":
            continue
        if any(k in rule for k in ("TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan")):
            continue  # narrower than a prefix: it does not cover every run object
        prefix = rule.get("Prefix", "")
        if isinstance(prefix, str):
            rules.append((prefix, rule))
    return rules


def _check_lifecycle(bucket: CfnModelResource, model: StackModel) -> Findings:
    prefixes = model.run_prefixes(bucket.logical_id)
    rules = _lifecycle_rules(bucket)
    missing = []
    for prefix in sorted(prefixes) or [""]:
        covering = [rule for start, rule in rules if prefix.startswith(start)]
        lacks = []
        if prefixes and not any("ExpirationInDays" in r or "ExpirationDate" in r for r in covering):
            lacks.append("expiry of current objects")
        if not any(
            "NoncurrentVersionExpiration" in r or "NoncurrentVersionExpirationInDays" in r
            for r in covering
        ):
            lacks.append("expiry of noncurrent versions")
        if not any("AbortIncompleteMultipartUpload" in r for r in covering):
            lacks.append("abort of incomplete multipart uploads")
        if lacks:
            where = f"the run prefix '{prefix}'" if prefix else "the whole bucket"
            missing.append(f"{', '.join(lacks)} on {where}")
    return whole(f"no enabled lifecycle rule for {'; '.join(missing)}" if missing else None)


# IAM -------------------------------------------------------------------------------------


def _check_no_s3_wildcard(resource: CfnModelResource, model: StackModel) -> Findings:
    found: Findings = {}
    for statement in _checked_statements(resource, model):
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action")):
            if isinstance(action, str) and action.lower() in ("s3:*", "*"):
                found[f"Action::{action}"] = f"a statement allows {action}"
        excluded = [str(a).lower() for a in as_list(statement.get("NotAction"))]
        if "NotAction" in statement and not any(a == "*" or a.startswith("s3") for a in excluded):
            found[f"NotAction::{','.join(excluded)}"] = "a NotAction statement allows all of S3"
    return found


def _check_list_bucket_prefix(resource: CfnModelResource, model: StackModel) -> Findings:
    for statement in _checked_statements(resource, model):
        if not allows(statement, LIST_BUCKET):
            continue
        values = condition_values(statement, "s3:prefix")
        if not values:
            return whole(
                "a statement allows s3:ListBucket without an s3:prefix condition "
                "(StringEquals or StringLike)"
            )
        loose = [v for v in values if v.startswith(("*", "?"))]
        if loose:
            return whole(f"the s3:prefix condition {loose[0]!r} does not start with a prefix")
    return {}


def _check_pass_role(resource: CfnModelResource, model: StackModel) -> Findings:
    if not _policy_scope(resource, model):
        return {}
    for statement in policy_statements(resource):
        if not allows(statement, ("iam:PassRole",)):
            continue
        values = [service_name(v) for v in condition_values(statement, "iam:PassedToService")]
        if not values:
            return whole(
                "a statement allows iam:PassRole without an iam:PassedToService condition "
                "(StringEquals or StringLike)"
            )
        others = sorted({v for v in values if v not in TRUSTED_SERVICES})
        if others:
            return whole(f"a statement lets iam:PassRole pass roles to {', '.join(others)}")
    return {}


def _check_trust(resource: CfnModelResource, model: StackModel) -> Findings:
    found: Findings = {}
    for service, statements in trusted_services(resource).items():
        for statement in statements:
            problems = []
            for key in ("aws:SourceAccount", "aws:SourceArn"):
                values = condition_values(statement, key)
                if not values:
                    problems.append(f"no {key} condition (StringEquals, ArnLike...)")
                elif not restricts(values):
                    problems.append(f"{key} matches anything ({', '.join(values)})")
            if problems:
                found[f"Service::{service}"] = (
                    f"the trust policy lets {service} assume the role with " + "; ".join(problems)
                )
    return found


def _check_object_access(resource: CfnModelResource, model: StackModel) -> Findings:
    roles = [
        r
        for r in roles_of_policy(resource, model)
        if r in model.resources and is_processing_role(model.resources[r])
    ]
    if not roles:
        return {}
    inputs: list[S3Location] = []
    outputs: list[S3Location] = []
    used = True
    for role in roles:
        locations = model.role_locations(role)
        if locations is None:
            used = False
        else:
            inputs += locations[0]
            outputs += locations[1]
    readable, writable = [*inputs, *outputs], outputs
    found: Findings = {}
    for statement in policy_statements(resource):
        if statement.get("Effect") != "Allow":
            continue
        if "NotResource" in statement:
            text = ",".join(flatten_reference(r) for r in as_list(statement["NotResource"]))
            found[f"NotResource::{text}"] = (
                "an Allow statement with NotResource grants every resource but the ones listed"
            )
            continue
        reads = allows(statement, S3_OBJECT_READ)
        writes = allows(statement, S3_OBJECT_WRITE)
        if not reads and not writes:
            continue
        for item in as_list(statement.get("Resource")):
            text = flatten_reference(item)
            parts = s3_arn_parts(text)
            if parts is None or (parts[1] is None and parts[0] != "*"):
                continue
            bucket, key = parts[0], parts[1] or ""
            if "*" in bucket or "?" in bucket:
                found[f"Resource::{text}"] = f"object access in every bucket matching {bucket}"
            elif not key or key.startswith(("*", "?")):
                found[f"Resource::{text}"] = "object access to the whole bucket"
            elif used:
                outside = []
                if writes and _known(writable) and not _any_covers(writable, bucket, key, model):
                    outside.append(("write", writable))
                if reads and _known(readable) and not _any_covers(readable, bucket, key, model):
                    outside.append(("read", readable))
                if outside:
                    kind, allowed = outside[0]
                    found[f"Resource::{text}"] = (
                        f"{' and '.join(k for k, _ in outside)} access outside the prefixes "
                        f"the role's processing jobs {kind} "
                        f"({', '.join(sorted({_shown(a) for a in allowed})) or 'none'})"
                    )
    return found


def _known(locations: Sequence[S3Location]) -> bool:
    return all(location.key is not None for location in locations)


def _any_covers(locations: Sequence[S3Location], bucket: str, key: str, model: StackModel) -> bool:
    return any(_covers(location, bucket, key, model) for location in locations)


def _shown(location: S3Location) -> str:
    return f"{location.bucket or '?'}/{location.key}*"


# processing jobs and tasks -------------------------------------------------------------


TaskCheck = Callable[[dict[str, Any], dict[str, Any], Mapping[str, Any]], str | None]


def per_task(check: TaskCheck) -> Check:
    """Apply ``check(parameters, state, states)`` to every processing task of a state
    machine (``states``: the States map the task is in, for its transitions)."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        definition = model.definition(resource.logical_id)
        if definition is None:
            return {}
        found: Findings = {}
        names = {name for name, _ in definition.processing_states()}
        for name, state, states in walk_states(definition.document):
            if name not in names:
                continue
            problem = check(task_parameters(state), state, states)
            if problem is not None:
                found[state_finding(name)] = f"state '{name}': {problem}"
        return found

    return checked


def _job_network_isolation(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    if static(params, "NetworkConfig", "EnableNetworkIsolation") is not True:
        return "NetworkConfig.EnableNetworkIsolation is not true"
    return None


def _job_volume_key(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    cluster = static(params, "ProcessingResources", "ClusterConfig")
    if not isinstance(cluster, dict):
        return "ProcessingResources.ClusterConfig is not static"
    if has_local_storage(static(cluster, "InstanceType")):
        return None
    key = static(cluster, "VolumeKmsKeyId")
    return None if isinstance(key, str) and key else "ClusterConfig.VolumeKmsKeyId is not set"


def _job_output_key(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    if "ProcessingOutputConfig" not in params and "ProcessingOutputConfig.$" not in params:
        return None
    key = static(params, "ProcessingOutputConfig", "KmsKeyId")
    return None if isinstance(key, str) and key else "ProcessingOutputConfig.KmsKeyId is not set"


def _job_inter_container(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    count = static(params, "ProcessingResources", "ClusterConfig", "InstanceCount")
    if is_static_int(count) and count <= 1:
        return None
    if static(params, "NetworkConfig", "EnableInterContainerTrafficEncryption") is not True:
        return (
            f"InstanceCount is {count if is_static_int(count) else 'dynamic'} and "
            "NetworkConfig.EnableInterContainerTrafficEncryption is not true"
        )
    return None


def _job_max_runtime(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    runtime = static(params, "StoppingCondition", "MaxRuntimeInSeconds")
    if is_static_int(runtime) and 1 <= runtime <= MAX_RUNTIME_LIMIT:
        return None
    return f"StoppingCondition.MaxRuntimeInSeconds is not between 1 and {MAX_RUNTIME_LIMIT}"


def _task_timeout(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    timeout = state.get("TimeoutSeconds")
    if not is_static_int(timeout) or timeout < 1:
        return "the task has no TimeoutSeconds"
    runtime = static(params, "StoppingCondition", "MaxRuntimeInSeconds")
    if is_static_int(runtime) and timeout <= runtime:
        return f"TimeoutSeconds {timeout} does not exceed MaxRuntimeInSeconds {runtime}"
    return None


#: Errors every processing task retries (SECURITY.md "Reliability").
REQUIRED_RETRIES: Final = (
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
    "ThrottlingException",
    "States.Timeout",
)


def _task_retry(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    retried = {
        error
        for retrier in as_list(state.get("Retry"))
        if isinstance(retrier, dict) and retrier.get("MaxAttempts", 3) != 0
        for error in as_list(retrier.get("ErrorEquals"))
    }
    missing = [error for error in REQUIRED_RETRIES if error not in retried]
    return f"no Retry for {', '.join(missing)}" if missing else None


def _task_catch(
    params: dict[str, Any], state: dict[str, Any], states: Mapping[str, Any]
) -> str | None:
    for catcher in as_list(state.get("Catch")):
        if isinstance(catcher, dict) and "States.ALL" in as_list(catcher.get("ErrorEquals")):
            target = catcher.get("Next")
            if _leads_to_fail(states, target, set()):
                return None
            return f"the Catch for States.ALL goes to {target!r}, which does not end in Fail"
    return "no Catch for States.ALL"


def _leads_to_fail(states: Mapping[str, Any], name: Any, seen: set[str]) -> bool:
    """True if every path from state ``name`` (Next, Choice branches) ends in a Fail state."""
    state = states.get(name) if isinstance(name, str) else None
    if not isinstance(state, dict) or name in seen:
        return False
    seen = seen | {name}
    kind = state.get("Type")
    if kind == "Fail":
        return True
    if kind == "Choice":
        targets = [c.get("Next") for c in as_list(state.get("Choices")) if isinstance(c, dict)]
        targets += [state["Default"]] if "Default" in state else []
        return bool(targets) and all(_leads_to_fail(states, t, seen) for t in targets)
    if kind == "Succeed" or state.get("End") or "Next" not in state:
        return False
    return _leads_to_fail(states, state["Next"], seen)


# state machine ---------------------------------------------------------------------------


def _machine(check: Callable[[Mapping[str, Any]], str | None]) -> Check:
    """Apply a property check to state machines that run processing jobs."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        if resource.logical_id not in model.processing_machines():
            return {}
        return whole(check(resource.properties))

    return checked


def _machine_readable(resource: CfnModelResource, model: StackModel) -> Findings:
    definition = model.definition(resource.logical_id)
    if definition is None:
        return whole("the definition cannot be read at synth time (S3 location or not JSON)")
    return {
        state_finding(name): f"state '{name}': {problem}"
        for name, problem in definition.unreadable_tasks()
    }


def _machine_standard(properties: Mapping[str, Any]) -> str | None:
    kind = properties.get("StateMachineType", "STANDARD")
    return None if kind == "STANDARD" else f"the type is {kind}"


def _machine_log_all(properties: Mapping[str, Any]) -> str | None:
    logging = properties.get("LoggingConfiguration")
    if not isinstance(logging, dict) or not as_list(logging.get("Destinations")):
        return "execution logging is off"
    level = logging.get("Level", "OFF")
    return None if level == "ALL" else f"the log level is {level}"


def _machine_no_execution_data(properties: Mapping[str, Any]) -> str | None:
    logging = properties.get("LoggingConfiguration")
    value = logging.get("IncludeExecutionData") if isinstance(logging, dict) else None
    if value is None or value is False or (isinstance(value, str) and value.lower() == "false"):
        return None
    if truthy(value):
        return "execution data (inputs, outputs, parameters) is included in the logs"
    return f"IncludeExecutionData is not a literal false ({flatten_reference(value)})"


def _machine_tracing(properties: Mapping[str, Any]) -> str | None:
    enabled = static(properties, "TracingConfiguration", "Enabled")
    return None if truthy(enabled) else "X-Ray tracing is off"


BUCKET = frozenset({"AWS::S3::Bucket"})
STATE_MACHINE = frozenset({"AWS::StepFunctions::StateMachine"})
ROLE = frozenset({"AWS::IAM::Role"})
_ACK_HINT = (
    " If the design requires it, acknowledge the finding on the construct with "
    "constructs_sm.nag.acknowledge(construct, ['<rule id>'], reason) (it checks the id "
    "and the reason; nag-report.json lists it)."
)

#: The rules of :class:`ProcessingPipelineChecks`, all error level.
RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "ChannelBucketSseKms",
        BUCKET,
        "The channel bucket is not encrypted with SSE-KMS and a customer managed key.",
        "Handoff data of processing jobs is encrypted at rest with a key whose use is "
        "logged and whose policy the account controls.",
        "Set BucketEncryption to aws:kms with KMSMasterKeyID (s3.BucketEncryption.KMS with "
        "encryption_key=...), or use constructs_sm.ChannelBucket.",
        _channel(_check_sse_kms),
    ),
    Rule(
        "ChannelBucketKeyRotation",
        BUCKET,
        "The channel bucket's KMS key does not rotate (or is not defined in the stack).",
        "Automatic yearly rotation limits the data encrypted under one key version.",
        "Use a kms.Key with enable_key_rotation=True defined in the same stack; for an "
        "external key that rotates, acknowledge the finding with that reason.",
        _channel(_check_key_rotation),
    ),
    Rule(
        "ChannelBucketBucketKey",
        BUCKET,
        "The channel bucket does not use an S3 Bucket Key.",
        "A Bucket Key cuts KMS requests (cost, throttling) of jobs reading many objects.",
        "Set BucketKeyEnabled: true (bucket_key_enabled=True).",
        _channel(_check_bucket_key),
    ),
    Rule(
        "ChannelBucketTlsOnly",
        BUCKET,
        "The channel bucket's policy does not deny requests without TLS on the bucket and "
        "its objects.",
        "Data in transit between jobs, the state machine and S3 must be encrypted.",
        "Add a bucket policy statement Deny s3:* to * on the bucket ARN and <ARN>/* with "
        "Condition Bool aws:SecureTransport false (enforce_ssl=True).",
        _channel(_check_tls_only),
    ),
    Rule(
        "ChannelBucketPublicAccessBlock",
        BUCKET,
        "The channel bucket does not turn on all Block Public Access settings.",
        "Handoff data must never become public through an ACL or a bucket policy.",
        "Set all four PublicAccessBlockConfiguration settings to true "
        "(block_public_access=s3.BlockPublicAccess.BLOCK_ALL).",
        _channel(_check_public_access),
    ),
    Rule(
        "ChannelBucketOwnerEnforced",
        BUCKET,
        "The channel bucket's object ownership is not BucketOwnerEnforced.",
        "With ACLs disabled, access is decided by policies only and every object belongs "
        "to the bucket owner.",
        "Set OwnershipControls ObjectOwnership BucketOwnerEnforced "
        "(object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED).",
        _channel(_check_owner_enforced),
    ),
    Rule(
        "ChannelBucketVersioning",
        BUCKET,
        "The channel bucket is not versioned.",
        "Versions protect handoff data from being overwritten or deleted by a faulty job.",
        "Set VersioningConfiguration Status Enabled (versioned=True).",
        _channel(_check_versioning),
    ),
    Rule(
        "ChannelBucketAccessLogs",
        BUCKET,
        "The channel bucket has no server access logs to another bucket.",
        "Access logs record who read and wrote handoff data.",
        "Set LoggingConfiguration with a DestinationBucketName (server_access_logs_bucket=...).",
        _channel(_check_access_logs),
    ),
    Rule(
        "ChannelBucketLifecycle",
        BUCKET,
        "The channel bucket's lifecycle does not expire run data, noncurrent versions and "
        "incomplete multipart uploads.",
        "Per-run handoff data is kept for redrives and then expires instead of growing "
        "forever; versions and abandoned uploads are not kept either.",
        "Add enabled lifecycle rules, filtered by a prefix of each run prefix (the "
        "literal start of the jobs' output URIs) or by none, with ExpirationInDays, "
        "NoncurrentVersionExpiration and AbortIncompleteMultipartUpload "
        "(ChannelBucket.add_run_prefix does all three).",
        _channel(_check_lifecycle),
    ),
    Rule(
        "IamNoS3Wildcard",
        POLICY_TYPES,
        "An IAM policy allows s3:* (or *).",
        "Jobs and state machines need a handful of S3 actions; s3:* includes deleting "
        "buckets and changing their policies.",
        "List the S3 actions needed (s3:GetObject, s3:PutObject, s3:ListBucket, ...).",
        _check_no_s3_wildcard,
    ),
    Rule(
        "IamListBucketPrefix",
        POLICY_TYPES,
        "An IAM policy allows s3:ListBucket without an s3:prefix condition that "
        "starts with a literal prefix.",
        "Listing is limited to the prefixes the principal works on, like its object access.",
        "Add Condition StringLike s3:prefix [<prefix>*] to the statement (StringEquals "
        "or StringLike; ...IfExists, negated and ForAllValues operators do not count) "
        "(ChannelBucket.grant_read does).",
        _check_list_bucket_prefix,
    ),
    Rule(
        "IamStepObjectAccess",
        POLICY_TYPES,
        "A processing job role can access objects outside its step's own prefixes (or "
        "is granted with NotResource).",
        "A step reads its inputs and writes its outputs only; a role for the whole bucket "
        "lets one compromised job read or overwrite every run's data.",
        "Grant reads on <bucket ARN>/<prefix>* of the step's input and output URIs and "
        "writes on those of its outputs (the whole prefix pattern, e.g. "
        "<pipeline>/*/<step>/<channel>/*), never with NotResource "
        "(ChannelBucket.grant_read/grant_write), not on <bucket ARN>/* or *.",
        _check_object_access,
    ),
    Rule(
        "IamPassRoleService",
        POLICY_TYPES,
        "An IAM policy of a SageMaker or Step Functions role allows iam:PassRole without "
        "an iam:PassedToService condition naming SageMaker (or Step Functions).",
        "The state machine may pass job roles to SageMaker only.",
        "Add Condition StringEquals iam:PassedToService sagemaker.amazonaws.com (a "
        "positive operator; states.amazonaws.com is accepted too).",
        _check_pass_role,
    ),
    Rule(
        "IamTrustConfusedDeputy",
        ROLE,
        "A role trusted by SageMaker or Step Functions has no aws:SourceAccount and "
        "aws:SourceArn conditions that constrain them.",
        "Without them, the service can be made to assume the role on behalf of another "
        "account or resource (confused deputy).",
        "Add Condition StringEquals aws:SourceAccount <account> and ArnLike aws:SourceArn "
        "<the jobs' or state machines' ARN pattern> to the trust statement (positive "
        "operators, not ...IfExists or negated ones; values other than *).",
        _check_trust,
    ),
    Rule(
        "JobNetworkIsolation",
        STATE_MACHINE,
        "A processing job runs without network isolation.",
        "An isolated container cannot reach the network: a compromised dependency cannot "
        "exfiltrate data.",
        "Set NetworkConfig.EnableNetworkIsolation true (add_step(network_isolation=True)); "
        "opting out needs an acknowledgment of ProcessingPipeline-JobNetworkIsolation"
        "[<state>] with the reason.",
        per_task(_job_network_isolation),
    ),
    Rule(
        "JobVolumeEncryption",
        STATE_MACHINE,
        "A processing job's storage volume is not encrypted with a KMS key.",
        "Data staged on the ML storage volume is encrypted with the customer key.",
        "Set ProcessingResources.ClusterConfig.VolumeKmsKeyId (omit it only on instance "
        "types with local NVMe storage).",
        per_task(_job_volume_key),
    ),
    Rule(
        "JobOutputEncryption",
        STATE_MACHINE,
        "A processing job's outputs are not encrypted with a KMS key.",
        "Outputs uploaded to S3 are encrypted with the customer key.",
        "Set ProcessingOutputConfig.KmsKeyId.",
        per_task(_job_output_key),
    ),
    Rule(
        "JobInterContainerEncryption",
        STATE_MACHINE,
        "A multi-instance processing job does not encrypt inter-container traffic.",
        "Traffic between the instances of a distributed job is encrypted.",
        "Set NetworkConfig.EnableInterContainerTrafficEncryption true when InstanceCount > 1.",
        per_task(_job_inter_container),
    ),
    Rule(
        "JobMaxRuntime",
        STATE_MACHINE,
        "A processing job has no MaxRuntimeInSeconds.",
        "A stopping condition bounds the cost and the blast radius of a stuck job.",
        "Set StoppingCondition.MaxRuntimeInSeconds (Resources(max_runtime_seconds=...)).",
        per_task(_job_max_runtime),
    ),
    Rule(
        "TaskTimeout",
        STATE_MACHINE,
        "A processing task has no TimeoutSeconds above the job's MaxRuntimeInSeconds.",
        "Without a task timeout a lost job completion event stalls the execution for a year.",
        "Set TimeoutSeconds on the task, above MaxRuntimeInSeconds plus start-up time.",
        per_task(_task_timeout),
    ),
    Rule(
        "TaskRetry",
        STATE_MACHINE,
        "A processing task does not retry the SageMaker, throttling and timeout errors.",
        "Transient SageMaker errors, capacity limits and throttling should not fail a run.",
        "Add Retry entries for " + ", ".join(REQUIRED_RETRIES) + " (see constructs_sm.step."
        "JOB_RETRIES).",
        per_task(_task_retry),
    ),
    Rule(
        "TaskCatch",
        STATE_MACHINE,
        "A processing task has no Catch for States.ALL that ends in a Fail state.",
        "A caught error ends the execution in a failure state that keeps the error and cause.",
        "Add Catch [{ErrorEquals: [States.ALL], ResultPath: $.error, Next: <Fail state>}] "
        "(or Next: states that end in a Fail state).",
        per_task(_task_catch),
    ),
    Rule(
        "StateMachineDefinitionReadable",
        STATE_MACHINE,
        "The state machine's definition, or the Resource of one of its tasks, cannot be "
        "read at synth time.",
        "The processing-job rules need to see the definition.",
        "Define the state machine with a DefinitionString (DefinitionBody.from_chainable or "
        "from_string), not from S3; give every Task a Resource ARN readable at synth (a "
        "literal or a DefinitionSubstitutions value built from pseudo parameters).",
        _machine_readable,
    ),
    Rule(
        "StateMachineStandard",
        STATE_MACHINE,
        "A state machine running processing jobs is not of type STANDARD.",
        "Express workflows cannot run .sync jobs and keep no execution history.",
        "Set StateMachineType STANDARD.",
        _machine(_machine_standard),
    ),
    Rule(
        "StateMachineLogAll",
        STATE_MACHINE,
        "A state machine running processing jobs does not log all events.",
        "Execution events at level ALL are the audit trail of every run.",
        "Set LoggingConfiguration Level ALL with a CloudWatch Logs destination.",
        _machine(_machine_log_all),
    ),
    Rule(
        "StateMachineLogNoExecutionData",
        STATE_MACHINE,
        "A state machine running processing jobs logs execution data (or may: "
        "IncludeExecutionData is not a literal false).",
        "Execution inputs and outputs may hold data that must not end up in log groups.",
        "Set LoggingConfiguration IncludeExecutionData false (a literal, not a parameter).",
        _machine(_machine_no_execution_data),
    ),
    Rule(
        "StateMachineTracing",
        STATE_MACHINE,
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


def check_templates(
    templates: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, dict[str, Findings]]]:
    """Run every rule on the templates of an app: name -> logical id -> rule id -> findings.

    Unlike :func:`check_stack` on one template, a bucket that a state machine of another
    template imports (``Fn::ImportValue`` of an output exporting its ``Ref``) is a channel
    bucket of its own stack.
    """
    models = {name: model_from_template(t) for name, t in templates.items()}
    link_imports(models, templates)
    return {name: check_stack(model) for name, model in models.items()}


# -- the pack -------------------------------------------------------------------------------

#: > 0 while a synthesis runs the validation plugins (the templates are on disk).
_IN_SYNTH: list[bool] = []
#: True while :meth:`ProcessingPipelineChecks.validate_scope` synthesizes the app.
_SYNTHESIZING: list[bool] = []


def _constructs(scope: IConstruct) -> Iterator[IConstruct]:
    todo = [scope]
    while todo:
        construct = todo.pop()
        yield construct
        todo.extend(reversed(construct.node.children))


def _synthesize(root: IConstruct) -> None:
    """Synthesize the app ``root`` so that its templates are on disk (once: a synthesized
    app returns its assembly). A synthesis that fails only because a validation plugin
    reported violations has written the templates: that failure is not raised here."""
    if _IN_SYNTH or _SYNTHESIZING:
        return
    if not isinstance(root, Stage):
        raise TypeError(
            f"ProcessingPipelineChecks checks the synthesized templates: the scope must be "
            f"in an App or a Stage, got a tree rooted at {type(root).__name__}"
        )
    _SYNTHESIZING.append(True)
    try:
        root.synth()
    except RuntimeError as error:
        if "Validation failed" not in str(error):
            raise
    finally:
        _SYNTHESIZING.pop()


def _stack_templates(root: IConstruct) -> dict[str, tuple[Stack, dict[str, Any] | None]]:
    """Every stack of the app (nested ones too) by construct path, with its synthesized
    template (None if it has none on disk)."""
    found: dict[str, tuple[Stack, dict[str, Any] | None]] = {}
    for construct in _constructs(root):
        if not isinstance(construct, Stack):
            continue
        path = Path(Stage.of(construct).outdir) / construct.template_file  # type: ignore[union-attr]
        try:
            template = json.loads(path.read_text())
        except (OSError, ValueError):
            template = None
        found[construct.node.path] = (construct, template if isinstance(template, dict) else None)
    return found


def _l1_template(stack: Stack) -> dict[str, Any]:
    """A template built from the L1 properties (no overrides): for a stack whose
    synthesized template is not on disk."""
    resources = {}
    for node in _constructs(stack):
        if isinstance(node, CfnResource) and Stack.of(node) is stack:
            resolved = stack.resolve(node._cfn_properties)
            try:
                properties = node._render_properties(resolved)
            except Exception:  # an L1 that cannot render its resolved props: use them as is
                properties = resolved
            resources[str(stack.resolve(node.logical_id))] = {
                "Type": node.cfn_resource_type,
                "Properties": properties or {},
            }
    return {"Resources": resources}


def _evaluate(scope: IConstruct) -> dict[str, tuple[CfnModelResource, dict[str, Findings]]]:
    """The findings of every resource of the app ``scope`` is in, by construct path.

    The rules read the synthesized templates, so property overrides and deletions are
    seen as CloudFormation will see them.
    """
    root = scope.node.root
    _synthesize(root)
    stacks = _stack_templates(root)
    templates = {
        path: template if template is not None else _l1_template(stack)
        for path, (stack, template) in stacks.items()
    }
    results = check_templates(templates)
    found: dict[str, tuple[CfnModelResource, dict[str, Findings]]] = {}
    for path, (stack, _) in stacks.items():
        stack_results = results[path]
        if not stack_results:
            continue
        model = model_from_template(templates[path])
        for node in _constructs(stack):
            if isinstance(node, CfnResource) and Stack.of(node) is stack:
                logical_id = str(stack.resolve(node.logical_id))
                if logical_id in stack_results:
                    found[node.node.path] = (model.resources[logical_id], stack_results[logical_id])
    return found


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

    The rules read the synthesized templates: property overrides and deletions count.
    At synth the templates are on disk; ``validate_scope(app)`` synthesizes the app first
    (as ``assertions.Template.from_stack`` does), so call it once the app is complete.

    Channel buckets are the buckets of a stack that processing jobs use: those a
    processing state machine refers to in its definition (a reference, a literal
    ``s3://<BucketName>/`` URI, an imported export), and those the jobs' roles (roles
    SageMaker may assume) may read, write or list. When a job's S3 URIs come from the
    execution input, the grants of its role are what tells its buckets. The lifecycle
    rule looks for the run prefixes in the jobs' output URIs (``States.Format`` templates
    and the fields they are built from, e.g. a ``root`` prefix); an output whose bucket or
    key is not known needs a lifecycle rule on the whole bucket.

    The IAM rules check every statement of roles trusted by SageMaker or Step Functions,
    and of other principals only the statements that may apply to a channel bucket.
    """

    def __init__(self, scope: IConstruct | None = None, *, verbose: bool | None = None) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK_NAME
        self._results: dict[str, tuple[CfnModelResource, dict[str, Findings]]] | None = None

    @property
    def name(self) -> str:
        """The pack's name (the prefix of its rule ids)."""
        return PACK_NAME

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        """Check the app at synth (the pack registered as a validation plugin)."""
        _IN_SYNTH.append(True)
        try:
            return self.validate_scope(context.app_construct)
        finally:
            _IN_SYNTH.pop()

    def validate_scope(self, scope: IConstruct) -> PolicyValidationPluginReport:
        """Check every resource under ``scope`` (an app, stage or stack)."""
        self._results = _evaluate(scope)
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
        acknowledged = namespaced_acknowledgments(node, PACK_NAME)
        for rule in RULES:
            for finding, detail in entry[1].get(rule.rule_id, {}).items():
                rule_id = f"{rule.rule_id}[{finding}]" if finding else rule.rule_id
                if rule_id in acknowledged:
                    continue
                self._apply_rule(cast(IApplyRule, _Application(rule, node, finding, detail)))


def namespaced_acknowledgments(node: IConstruct, pack: str) -> set[str]:
    """The ids acknowledged as ``<pack>::<id>`` on ``node`` and its scopes (CDK honours
    them at synth; cdk-nag's own check only knows un-namespaced ones)."""
    prefix = f"{pack.replace(' ', '-')}::"
    found = set()
    current: IConstruct | None = node
    while current is not None:
        for entry in current.node.metadata:
            if entry.type == ACKNOWLEDGED_RULES and isinstance(entry.data, dict):
                found |= {k[len(prefix) :] for k in entry.data if k.startswith(prefix)}
        current = current.node.scope
    return found


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
        _IN_SYNTH.append(True)
        try:
            report = self._pack.validate_scope(context.app_construct)
        finally:
            _IN_SYNTH.pop()
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

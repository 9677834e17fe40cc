"""Fixes of moto 5.2.5's CloudFormation for the state machines the pipelines create.

**DefinitionS3Location and DefinitionSubstitutions.** moto creates an
``AWS::StepFunctions::StateMachine`` from its ``DefinitionString`` alone: it ignores a
definition in S3 (a large pipeline's, see :mod:`constructs_sm.hosting`) and the
``${name}`` placeholders CloudFormation fills from ``DefinitionSubstitutions``. On AWS,
CloudFormation reads the object (``Bucket``, ``Key``, optional ``Version``) and
replaces each placeholder with its value before it calls CreateStateMachine
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html).
:func:`install` wraps moto's create and update handlers so that they do the same, from
the emulator's own S3, and refuse (the deploy fails) what would fail there: an object
that does not exist, and a placeholder with no value (CloudFormation documents no
escape for ``${``, so the offline engine takes any ``${name}`` for a placeholder: stricter
rather than looser).

**A role's Policies and ManagedPolicyArns.** moto's ``AWS::IAM::Role`` stores each inline
policy of ``Policies`` as a Python ``dict`` where the IAM API holds JSON text, ignores
``ManagedPolicyArns`` (the role gets no managed policy) and, on an update, changes only
the description. With IAM enforced in the emulator, a step role would then hold none of
its grants. :func:`install` wraps the role's create and update handlers so the role
holds the inline policies and the managed policies of its properties, as CloudFormation
leaves it (a managed policy the emulator does not know, such as an AWS managed one, is
not attached: the role gets less, never more), and its delete handler so that the role's
managed policies are detached first (IAM refuses to delete a role with attached ones).

**An AWS::IAM::ManagedPolicy updated.** moto's managed policy has no update handler: a
stack update that changes one (a step's code changes the code bundle's key, which the
pipeline's shared steps policy grants) kept the old document, and the role lost access.
:func:`install` gives it CloudFormation's update (AWS::IAM::ManagedPolicy in the template
reference): a new ``PolicyDocument`` becomes the policy's new default version (the oldest
other version is deleted first when the policy has IAM's five), the ``Roles``,
``Groups`` and ``Users`` it names are attached and those it no longer names detached; a
new ``ManagedPolicyName``, ``Path`` or ``Description`` replaces the policy. moto has no
delete for the type either (a deleted or rolled-back stack kept its managed policies):
it is detached from every entity and deleted. A role whose creation fails after IAM
created it (a policy over IAM's quotas, :mod:`constructs_sm.local.iam_quotas`) is removed
again, as CloudFormation's handler leaves none behind.

**AWS::S3::BucketPolicy.** moto's CloudFormation skips the type: the policy would never
reach its bucket. :func:`install` gives the type a resource (:class:`BucketPolicy`) that
puts the policy on its bucket through the emulator's S3 backend when the stack creates or
updates it, without its TLS-only statements (:func:`plain_http_policy`: the emulator is
plain HTTP on loopback, and moto applies a bucket policy's ``Deny`` statements to object
reads and writes, conditions ignored), and deletes it with the resource. Its physical id
is the bucket's name, as CloudFormation's; a new ``Bucket`` replaces it ("Update requires:
Replacement", AWS::S3::BucketPolicy in the CloudFormation template reference). It is done
where CloudFormation runs, so a deploy from another process (``run --endpoint``) gets it.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from moto.cloudformation import parsing as cfn_parsing
from moto.iam import models as iam_models
from moto.s3.models import s3_backends
from moto.stepfunctions import models as sfn_models
from moto.utilities.utils import get_partition

from constructs_sm.local.extra import require_unmoved

_PLACEHOLDER: Final = re.compile(r"\$\{([^}]*)\}")
_HANDLERS: Final = ("create_from_cloudformation_json", "update_from_cloudformation_json")
_ROLE_DELETE: Final = "delete_from_cloudformation_json"
#: On a moto role: the inline policy names and managed policy ARNs its own properties
#: gave it, so an update removes only those (not a policy another resource attached).
_APPLIED: Final = "_csm_applied"
_originals: dict[str, Callable[..., Any]] = {}
_role_originals: dict[str, Callable[..., Any]] = {}
#: moto's ``resource_class_from_type`` (the type of a template resource -> its class).
_CLASS_OF_TYPE: Final = "resource_class_from_type"
BUCKET_POLICY: Final = "AWS::S3::BucketPolicy"
#: Condition keys about the transport: the emulator speaks plain HTTP on loopback.
TRANSPORT_KEYS: Final = frozenset({"aws:securetransport", "s3:tlsversion"})


class DefinitionError(ValueError):
    """The state machine's definition cannot be read or filled in as CloudFormation would."""


def substitute(text: str, substitutions: Mapping[str, Any]) -> str:
    """``text`` with each ``${name}`` replaced by ``substitutions[name]``.

    :raises DefinitionError: for a placeholder with no value.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise DefinitionError(
                f"the definition holds the placeholder ${{{name}}}, which "
                "DefinitionSubstitutions does not define"
            )
        return str(substitutions[name])

    return _PLACEHOLDER.sub(value, text)


def definition_of(properties: Mapping[str, Any], account_id: str, region: str) -> str | None:
    """The definition CloudFormation would pass to CreateStateMachine, or None when the
    properties hold neither ``DefinitionString`` nor ``DefinitionS3Location``."""
    text = properties.get("DefinitionString")
    location = properties.get("DefinitionS3Location")
    if text is None and isinstance(location, Mapping):
        backend = s3_backends[account_id][get_partition(region)]
        try:
            key = backend.get_object(
                location["Bucket"], location["Key"], version_id=location.get("Version")
            )
        except Exception as error:  # moto raises its own S3 errors
            raise DefinitionError(
                f"DefinitionS3Location s3://{location.get('Bucket')}/{location.get('Key')} "
                f"cannot be read: {error}"
            ) from error
        if key is None:
            raise DefinitionError(
                f"DefinitionS3Location s3://{location['Bucket']}/{location['Key']} does not exist"
            )
        text = key.value.decode()
    if text is None:
        return None
    substitutions = properties.get("DefinitionSubstitutions")
    if substitutions:
        text = substitute(text, substitutions)
    return str(text)


def _bound(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """A handler call's arguments by name: moto passes them by position to create and
    delete, by keyword to update."""
    return dict(inspect.signature(original).bind(*args, **kwargs).arguments)


def _arguments(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], str, str]:
    """``cloudformation_json``, ``account_id`` and ``region_name`` of a handler call."""
    bound = _bound(original, args, kwargs)
    return bound["cloudformation_json"], bound["account_id"], bound["region_name"]


def _wrapped(name: str) -> classmethod[Any, ..., Any]:
    original = _originals[name]

    def handler(cls: type, *args: Any, **kwargs: Any) -> Any:
        cloudformation_json, account_id, region_name = _arguments(original, args, kwargs)
        properties = cloudformation_json.get("Properties") or {}
        text = definition_of(properties, account_id, region_name)
        if text is not None:
            filled = {
                key: value
                for key, value in properties.items()
                if key not in ("DefinitionS3Location", "DefinitionSubstitutions")
            }
            cloudformation_json["Properties"] = {**filled, "DefinitionString": text}
        return original(*args, **kwargs)

    return classmethod(handler)


def apply_role_properties(
    role: Any, properties: Mapping[str, Any], account_id: str, region_name: str
) -> None:
    """Make ``role`` hold the inline policies (``Policies``, as JSON text) and the managed
    policies (``ManagedPolicyArns``) its CloudFormation properties name; on an update,
    remove those its earlier properties gave it and the new ones do not (a policy that
    another resource, such as an ``AWS::IAM::Policy``, put on the role stays)."""
    backend = iam_models.iam_backends[account_id][get_partition(region_name)]
    wanted = {
        str(policy["PolicyName"]): policy["PolicyDocument"]
        for policy in properties.get("Policies") or []
    }
    arns = {str(arn) for arn in properties.get("ManagedPolicyArns") or []}
    applied_names, applied_arns = getattr(role, _APPLIED, (set(), set()))
    for name in applied_names - set(wanted):
        if name in role.policies:
            role.delete_policy(name)
    for arn in applied_arns - arns:
        if arn in role.managed_policies:
            backend.detach_role_policy(arn, role.name)
    for name, document in wanted.items():
        role.put_policy(name, document if isinstance(document, str) else json.dumps(document))
    known = {policy.arn for policy in backend.managed_policies.values()}
    for arn in sorted(arns - set(role.managed_policies)):
        if arn in known:
            backend.attach_role_policy(arn, role.name)
    setattr(role, _APPLIED, (set(wanted), arns))


def _wrapped_role(name: str) -> classmethod[Any, ..., Any]:
    original = _role_originals[name]

    def handler(cls: type, *args: Any, **kwargs: Any) -> Any:
        cloudformation_json, account_id, region_name = _arguments(original, args, kwargs)
        properties = cloudformation_json.get("Properties") or {}
        if name != "create_from_cloudformation_json":
            role = original(*args, **kwargs)
            apply_role_properties(role, properties, account_id, region_name)
            return role
        backend = iam_models.iam_backends[account_id][get_partition(region_name)]
        role_name = properties.get("RoleName", _bound(original, args, kwargs)["resource_name"])
        existed = any(role.name == role_name for role in backend.roles.values())
        try:
            role = original(*args, **kwargs)
            apply_role_properties(role, properties, account_id, region_name)
        except Exception:
            if not existed:
                _discard_role(backend, role_name)
            raise
        return role

    return classmethod(handler)


def _discard_role(backend: Any, role_name: str) -> None:
    """Remove a role whose creation failed after IAM created it (a policy IAM refused,
    constructs_sm.local.iam_quotas): CloudFormation's handler leaves no role behind."""
    for role in list(backend.roles.values()):
        if role.name == role_name:
            for arn in list(role.managed_policies):
                backend.detach_role_policy(arn, role.name)
            role.policies.clear()
            backend.delete_role(role.name)


def _role_delete(cls: type, *args: Any, **kwargs: Any) -> Any:
    """moto's role delete, after detaching the role's managed policies (IAM refuses to
    delete a role with attached policies, and moto's managed policies never detach)."""
    original = _role_originals[_ROLE_DELETE]
    bound = _bound(original, args, kwargs)
    backend = iam_models.iam_backends[bound["account_id"]][get_partition(bound["region_name"])]
    for role in list(backend.roles.values()):
        if role.name == bound["resource_name"]:
            for arn in list(role.managed_policies):
                backend.detach_role_policy(arn, role.name)
    return original(*args, **kwargs)


#: A managed policy's entity lists and the backend's attach/detach for each.
_POLICY_ENTITIES: Final = (("Roles", "role"), ("Groups", "group"), ("Users", "user"))
#: On a moto managed policy: the entities its own properties attached it to.
_POLICY_ATTACHED: Final = "_csm_attached"
_POLICY_CREATE: Final = "create_from_cloudformation_json"
_POLICY_UPDATE: Final = "update_from_cloudformation_json"
#: IAM keeps at most five versions of a managed policy.
MAX_POLICY_VERSIONS: Final = 5
_policy_originals: dict[str, Callable[..., Any]] = {}


def _attachments(properties: Mapping[str, Any]) -> dict[str, set[str]]:
    return {key: {str(n) for n in properties.get(key) or []} for key, _ in _POLICY_ENTITIES}


def _policy_create(cls: type, *args: Any, **kwargs: Any) -> Any:
    """moto's managed policy create, remembering whom its properties attached it to."""
    # (not installed: the class's own is moto's)
    original = (
        _policy_originals.get(_POLICY_CREATE)
        or iam_models.ManagedPolicy.create_from_cloudformation_json
    )
    cloudformation_json, _, _ = _arguments(original, args, kwargs)
    policy = original(*args, **kwargs)
    setattr(policy, _POLICY_ATTACHED, _attachments(cloudformation_json.get("Properties") or {}))
    return policy


def _policy_update(
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    """CloudFormation's update of an ``AWS::IAM::ManagedPolicy`` (see the module)."""
    policy = original_resource
    properties = cloudformation_json.get("Properties") or {}
    backend = iam_models.iam_backends[account_id][get_partition(region_name)]
    before = getattr(policy, _POLICY_ATTACHED, _attachments({}))
    replaced = (
        properties.get("ManagedPolicyName", policy.name) != policy.name
        or (properties.get("Path") or "/") != policy.path
        or (properties.get("Description") or "") != policy.description
    )
    if replaced:
        new = _policy_create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        for key, kind in _POLICY_ENTITIES:
            for name in before[key]:
                getattr(backend, f"detach_{kind}_policy")(policy.arn, name)
        backend.delete_policy(policy.arn)
        return new
    document = json.dumps(properties.get("PolicyDocument"))
    default = next(v for v in policy.versions if v.version_id == policy.default_version_id)
    if json.loads(document) != json.loads(default.document):
        if len(policy.versions) >= MAX_POLICY_VERSIONS:
            oldest = next(v for v in policy.versions if v.version_id != policy.default_version_id)
            backend.delete_policy_version(policy.arn, oldest.version_id)
        backend.create_policy_version(policy.arn, document, set_as_default=True)
    after = _attachments(properties)
    for key, kind in _POLICY_ENTITIES:
        for name in sorted(before[key] - after[key]):
            getattr(backend, f"detach_{kind}_policy")(policy.arn, name)
        for name in sorted(after[key] - before[key]):
            getattr(backend, f"attach_{kind}_policy")(policy.arn, name)
    setattr(policy, _POLICY_ATTACHED, after)
    return policy


_POLICY_DELETE: Final = "delete_from_cloudformation_json"


def _policy_delete(
    cls: type,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> None:
    """CloudFormation's delete of an ``AWS::IAM::ManagedPolicy`` (moto has none: a
    deleted or rolled-back stack left its managed policies): detached from every role,
    group and user, then deleted. ``resource_name`` is the policy's ARN (its physical id)."""
    backend = iam_models.iam_backends[account_id][get_partition(region_name)]
    if resource_name not in backend.managed_policies:
        return
    holders: tuple[tuple[str, Mapping[str, Any]], ...] = (
        ("role", backend.roles),
        ("group", backend.groups),
        ("user", backend.users),
    )
    for kind, entities in holders:
        for entity in list(entities.values()):
            if resource_name in entity.managed_policies:
                getattr(backend, f"detach_{kind}_policy")(resource_name, entity.name)
    backend.delete_policy(resource_name)


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    conditions = statement.get("Condition") or {}
    return {key.lower() for block in conditions.values() for key in block}


def plain_http_policy(document: dict[str, Any]) -> dict[str, Any]:
    """A bucket policy without its TLS-only statements (``Deny`` on ``aws:SecureTransport``
    or ``s3:TlsVersion``).

    moto evaluates bucket-policy denials on ``aws:SecureTransport``, and the emulator is
    plain HTTP on loopback: with them every request would be refused. Everything else
    is kept as the template says.
    """
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    kept = [
        st
        for st in statements
        if not (st.get("Effect") == "Deny" and _condition_keys(st) & TRANSPORT_KEYS)
    ]
    return {**document, "Statement": kept}


class BucketPolicy:
    """An ``AWS::S3::BucketPolicy`` of a stack in moto's CloudFormation (see the module)."""

    def __init__(self, bucket: str, account_id: str, region_name: str) -> None:
        self.bucket = bucket
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self) -> str:
        """The bucket's name (a bucket policy's ``Ref``)."""
        return self.bucket

    @staticmethod
    def is_created() -> bool:
        """Done as soon as it is put (moto asks every resource)."""
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        """A bucket policy has no ``Fn::GetAtt`` attribute."""
        return False

    @classmethod
    def _put(cls, properties: Mapping[str, Any], account_id: str, region_name: str) -> BucketPolicy:
        bucket = str(properties["Bucket"])
        policy = plain_http_policy(dict(properties["PolicyDocument"]))
        backend = s3_backends[account_id][get_partition(region_name)]
        if policy["Statement"]:
            backend.put_bucket_policy(bucket, json.dumps(policy).encode())
        else:  # only TLS-only statements: nothing the emulator can apply
            backend.delete_bucket_policy(bucket)
        return cls(bucket, account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BucketPolicy:
        """CloudFormation creates the resource: the policy is put on its bucket."""
        return cls._put(cloudformation_json.get("Properties") or {}, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: BucketPolicy,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> BucketPolicy:
        """A new policy replaces the old one; a new bucket replaces the resource."""
        properties = cloudformation_json.get("Properties") or {}
        if str(properties.get("Bucket")) != original_resource.bucket:
            original_resource.delete(account_id, region_name)
        return cls._put(properties, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """The resource is deleted: so is the bucket's policy."""
        cls(resource_name, account_id, region_name).delete(account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """Remove the policy from the bucket (nothing when the bucket is gone)."""
        backend = s3_backends[account_id][get_partition(region_name)]
        if self.bucket in backend.buckets:
            backend.delete_bucket_policy(self.bucket)


def _class_of_type(resource_type: str) -> Any:
    """moto's ``resource_class_from_type``, with :class:`BucketPolicy` for bucket policies."""
    if resource_type == BUCKET_POLICY:
        return BucketPolicy
    return _originals[_CLASS_OF_TYPE](resource_type)


def check_integration_points() -> None:
    """Fail loudly if the moto internals this module patches moved."""
    problems = []
    for name in (*_HANDLERS, _ROLE_DELETE):
        if name != _ROLE_DELETE and not hasattr(sfn_models.StateMachine, name):
            problems.append(f"StateMachine.{name}")
        if not hasattr(iam_models.Role, name):
            problems.append(f"Role.{name}")
    original = _originals.get(_CLASS_OF_TYPE, getattr(cfn_parsing, _CLASS_OF_TYPE, None))
    if original is None or list(inspect.signature(original).parameters) != ["resource_type"]:
        problems.append(f"cloudformation.parsing.{_CLASS_OF_TYPE}")
    if BUCKET_POLICY in cfn_parsing.get_model_map():
        problems.append(f"moto's CloudFormation now has its own {BUCKET_POLICY}")
    update = iam_models.ManagedPolicy.__dict__.get(_POLICY_UPDATE)
    if update is not None and getattr(update, "__func__", None) is not _policy_update:
        problems.append("moto's ManagedPolicy now has its own update_from_cloudformation_json")
    delete = iam_models.ManagedPolicy.__dict__.get(_POLICY_DELETE)
    if delete is not None and getattr(delete, "__func__", None) is not _policy_delete:
        problems.append("moto's ManagedPolicy now has its own delete_from_cloudformation_json")
    if not hasattr(iam_models.ManagedPolicy, _POLICY_CREATE):
        problems.append(f"ManagedPolicy.{_POLICY_CREATE}")
    require_unmoved(problems, "its CloudFormation internals changed")


def install() -> None:
    """Wrap moto's state-machine and role create and update handlers and give bucket
    policies a resource (idempotent)."""
    check_integration_points()
    if _originals:
        return
    _originals[_CLASS_OF_TYPE] = getattr(cfn_parsing, _CLASS_OF_TYPE)
    setattr(cfn_parsing, _CLASS_OF_TYPE, _class_of_type)
    _policy_originals[_POLICY_CREATE] = getattr(iam_models.ManagedPolicy, _POLICY_CREATE)
    setattr(iam_models.ManagedPolicy, _POLICY_CREATE, classmethod(_policy_create))
    setattr(iam_models.ManagedPolicy, _POLICY_UPDATE, classmethod(_policy_update))
    setattr(iam_models.ManagedPolicy, _POLICY_DELETE, classmethod(_policy_delete))
    for name in _HANDLERS:
        _originals[name] = getattr(sfn_models.StateMachine, name)
        _role_originals[name] = getattr(iam_models.Role, name)
    _role_originals[_ROLE_DELETE] = getattr(iam_models.Role, _ROLE_DELETE)
    for name in _HANDLERS:
        setattr(sfn_models.StateMachine, name, _wrapped(name))
        setattr(iam_models.Role, name, _wrapped_role(name))
    setattr(iam_models.Role, _ROLE_DELETE, classmethod(_role_delete))


def uninstall() -> None:
    """Undo :func:`install`."""
    if _CLASS_OF_TYPE in _originals:
        setattr(cfn_parsing, _CLASS_OF_TYPE, _originals.pop(_CLASS_OF_TYPE))
    if _POLICY_CREATE in _policy_originals:
        original = _policy_originals.pop(_POLICY_CREATE)
        setattr(iam_models.ManagedPolicy, _POLICY_CREATE, classmethod(original.__func__))  # type: ignore[attr-defined]
        delattr(iam_models.ManagedPolicy, _POLICY_UPDATE)
        delattr(iam_models.ManagedPolicy, _POLICY_DELETE)
    for name, original in _originals.items():
        setattr(sfn_models.StateMachine, name, classmethod(original.__func__))  # type: ignore[attr-defined]
    for name, original in _role_originals.items():
        setattr(iam_models.Role, name, classmethod(original.__func__))  # type: ignore[attr-defined]
    _originals.clear()
    _role_originals.clear()

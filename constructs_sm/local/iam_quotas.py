"""IAM's size quotas enforced on writes, as AWS enforces them.

moto 5.2.5 reports IAM's quotas in GetAccountSummary but checks none of them when a
policy is written: a role whose inline policies AWS refuses deploys fine offline. On AWS
(IAM and AWS STS quotas, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)
these writes fail with HTTP 409 ``LimitExceeded``, and :func:`install` makes moto's IAM
backend refuse them the same way, in IAM's own words:

- the inline policies of one role, all together, hold at most ``RolePolicySizeQuota``
  (10,240) characters: ``Maximum policy size of 10240 bytes exceeded for role <name>``
  (PutRolePolicy, an ``AWS::IAM::Role``'s ``Policies``, an ``AWS::IAM::Policy`` on the
  role; the message as CloudFormation reports it in github.com/gchq/sleeper issue 1459);
- a managed policy document holds at most ``PolicySizeQuota`` (6,144) characters:
  ``Cannot exceed quota for PolicySize: 6144`` (CreatePolicy, CreatePolicyVersion,
  ``AWS::IAM::ManagedPolicy``; github.com/aws-cloudformation/cfn-lint issue 3804);
- a role has at most ``AttachedPoliciesPerRoleQuota`` (10, adjustable) managed policies
  attached: ``Cannot exceed quota for PoliciesPerRole: 10`` (AttachRolePolicy, a
  managed policy's ``Roles``, a role's ``ManagedPolicyArns``;
  github.com/ministryofjustice/cloud-platform-environments pull request 14118);
- a role's trust policy holds at most ``AssumeRolePolicySizeQuota`` (2,048, adjustable)
  characters: ``Cannot exceed quota for ACLSizePerRole: 2048`` (CreateRole,
  UpdateAssumeRolePolicy; github.com/kubeflow/dashboard issue 29 quotes it with status
  code 409).

The quotas are read from moto's account summary (:func:`quota`), so the values
GetAccountSummary reports are the ones enforced.

**How characters are counted.** "IAM doesn't count white space when calculating the size
of a policy" (the quotas page), and GetAccountSummary's reference gives the sizes "in
non-whitespace characters". :func:`policy_size` counts every character of the document
as it was sent except the four white-space characters JSON knows (space, tab, line feed,
carriage return), inside strings as well as between tokens: that is what "non-whitespace
characters" says. Characters are counted as written: an escape such as ``\\u00e9`` counts
six (CloudFormation's resources are written by moto with ASCII escapes, so a template with
non-ASCII text may count more than on AWS: stricter, never looser).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, Final

from moto.iam import models as iam_models
from moto.iam.exceptions import LimitExceededException

from constructs_sm.iam_limits import WHITESPACE
from constructs_sm.local.extra import Patches, require_unmoved

#: GetAccountSummary's quota names -> moto's AccountSummary attributes holding them.
QUOTA_ATTRIBUTES: Final = {
    "RolePolicySizeQuota": "_role_policy_size_quota",
    "PolicySizeQuota": "_policy_size_quota",
    "AttachedPoliciesPerRoleQuota": "_attached_policies_per_role_quota",
    "AssumeRolePolicySizeQuota": "_assume_role_policy_size_quota",
}
_BACKEND_METHODS: Final = (
    "create_role",
    "update_assume_role_policy",
    "attach_role_policy",
    "create_policy",
    "create_policy_version",
)
_ROLE_PUT: Final = "put_policy"
_patches = Patches()


def policy_size(document: Any) -> int:
    """The characters of ``document`` that count against IAM's size quotas (see the
    module); a document that is not text yet is counted as moto serializes it."""
    text = document if isinstance(document, str) else json.dumps(document)
    return sum(1 for character in text if character not in WHITESPACE)


def quota(backend: Any, name: str) -> int:
    """The quota ``name`` (a GetAccountSummary key of :data:`QUOTA_ATTRIBUTES`) of
    ``backend``'s account."""
    return int(getattr(backend.account_summary, QUOTA_ATTRIBUTES[name]))


def _check_trust(backend: Any, document: Any) -> None:
    limit = quota(backend, "AssumeRolePolicySizeQuota")
    if policy_size(document) > limit:
        raise LimitExceededException(f"Cannot exceed quota for ACLSizePerRole: {limit}")


def _check_managed(backend: Any, document: Any) -> None:
    limit = quota(backend, "PolicySizeQuota")
    if policy_size(document) > limit:
        raise LimitExceededException(f"Cannot exceed quota for PolicySize: {limit}")


def _create_role(self: Any, *args: Any, **kwargs: Any) -> Any:
    original = _patches.original(iam_models.IAMBackend, "create_role")
    bound = inspect.signature(original).bind(self, *args, **kwargs).arguments
    _check_trust(self, bound["assume_role_policy_document"])
    return original(self, *args, **kwargs)


def _update_assume_role_policy(self: Any, role_name: str, policy_document: str) -> None:
    self.get_role(role_name)  # NoSuchEntity first, as IAM
    _check_trust(self, policy_document)
    original = _patches.original(iam_models.IAMBackend, "update_assume_role_policy")
    original(self, role_name, policy_document)


def _attach_role_policy(self: Any, policy_arn: str, role_name: str) -> None:
    role = self.get_role(role_name)
    limit = quota(self, "AttachedPoliciesPerRoleQuota")
    known = any(p.arn == policy_arn for p in self.managed_policies.values())
    if known and policy_arn not in role.managed_policies and len(role.managed_policies) >= limit:
        raise LimitExceededException(f"Cannot exceed quota for PoliciesPerRole: {limit}")
    _patches.original(iam_models.IAMBackend, "attach_role_policy")(self, policy_arn, role_name)


def _create_policy(self: Any, *args: Any, **kwargs: Any) -> Any:
    original = _patches.original(iam_models.IAMBackend, "create_policy")
    bound = inspect.signature(original).bind(self, *args, **kwargs).arguments
    _check_managed(self, bound["policy_document"])
    return original(self, *args, **kwargs)


def _create_policy_version(
    self: Any, policy_arn: str, policy_document: str, set_as_default: bool
) -> Any:
    _check_managed(self, policy_document)
    original = _patches.original(iam_models.IAMBackend, "create_policy_version")
    return original(self, policy_arn, policy_document, set_as_default)


def _role_put_policy(self: Any, policy_name: str, policy_json: Any) -> None:
    """A role's inline policy put (by PutRolePolicy and by every CloudFormation path),
    refused when the role's inline policies would hold more than the quota together."""
    backend = iam_models.iam_backends[self.account_id][self.partition]
    limit = quota(backend, "RolePolicySizeQuota")
    others = sum(policy_size(d) for name, d in self.policies.items() if name != policy_name)
    if others + policy_size(policy_json) > limit:
        raise LimitExceededException(
            f"Maximum policy size of {limit} bytes exceeded for role {self.name}"
        )
    _patches.original(iam_models.Role, _ROLE_PUT)(self, policy_name, policy_json)


_REPLACEMENTS: Final[dict[str, Callable[..., Any]]] = {
    "create_role": _create_role,
    "update_assume_role_policy": _update_assume_role_policy,
    "attach_role_policy": _attach_role_policy,
    "create_policy": _create_policy,
    "create_policy_version": _create_policy_version,
}


def check_integration_points() -> None:
    """Fail loudly if what this module patches moved in moto."""
    problems = []
    summary = iam_models.AccountSummary.__init__
    source = inspect.getsource(summary)
    for key, attribute in QUOTA_ATTRIBUTES.items():
        if f"self.{attribute} = " not in source:
            problems.append(f"AccountSummary.{attribute}")
        if f'"{key}": self.{attribute}' not in inspect.getsource(iam_models.AccountSummary):
            problems.append(f"AccountSummary.summary_map[{key!r}]")
    for name in _BACKEND_METHODS:
        method = _patches.original(iam_models.IAMBackend, name)
        if method is None:
            problems.append(f"IAMBackend.{name}")
    expected = {
        "create_role": "assume_role_policy_document",
        "create_policy": "policy_document",
    }
    for name, parameter in expected.items():
        method = _patches.original(iam_models.IAMBackend, name)
        if parameter not in inspect.signature(method).parameters:
            problems.append(f"IAMBackend.{name}({parameter})")
    put = _patches.original(iam_models.Role, _ROLE_PUT)
    if list(inspect.signature(put).parameters) != ["self", "policy_name", "policy_json"]:
        problems.append("Role.put_policy")
    require_unmoved(problems, "its IAM internals changed")


def install() -> None:
    """Enforce the quotas in moto's IAM backend (idempotent)."""
    check_integration_points()
    if _patches:
        return
    for name, replacement in _REPLACEMENTS.items():
        _patches.replace(iam_models.IAMBackend, name, replacement)
    _patches.replace(iam_models.Role, _ROLE_PUT, _role_put_policy)


def uninstall() -> None:
    """Undo :func:`install`."""
    _patches.restore()

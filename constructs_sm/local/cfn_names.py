"""The names CloudFormation gives resources whose template names none, where moto fails.

A template may leave out a resource's name property; CloudFormation then generates the
name itself, and keeps it when an update leaves the property out again (the "name type",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html).
CDK apps rely on it: ``ssm.StringParameter(self, "Arn", string_value=...)`` and
``ecr.Repository(self, "Repo")`` name nothing. moto 5.2.5 generates
``<stack>-<logical id>-<12 capitals and digits>`` for every type, on every create *and*
every update, and two types then fail an app's deploy offline:

- **AWS::SSM::Parameter**: moto's handler ignores the generated name and puts a parameter
  named None (an internal error, HTTP 500). CloudFormation's SSM handler names it
  ``CFN-<logical id>-<12 letters and digits>``, as measured on an account by aws-cdk's
  integration test ``integ.parameter-arns`` (expected output
  ``arn:aws:ssm:us-east-1:...:parameter/CFN-StringAutogenE7E896E4-L0BHbfLgtgJT``).
- **AWS::ECR::Repository**: the generated name has capitals, which ECR refuses
  (``InvalidParameterException``). CloudFormation's ECR handler generates
  ``<stack>-<logical id>-<random>`` in lowercase (ECR names are lowercase;
  aws-cloudformation-resource-providers-ecr pull 30 restored that format).

On an update without the property, moto's new name made the SSM handler delete the
parameter and put it again under another name, and the ECR handler replace the repository,
images and all. :func:`install` names both types as CloudFormation does and keeps the name
an update leaves unnamed.
"""

from __future__ import annotations

import inspect
import secrets
import string
from collections.abc import Callable
from typing import Any, Final

from moto.cloudformation import parsing as cfn_parsing
from moto.ecr import models as ecr_models
from moto.ssm import models as ssm_models

from constructs_sm.local.extra import Patches, require_unmoved

SSM_PARAMETER: Final = "AWS::SSM::Parameter"
ECR_REPOSITORY: Final = "AWS::ECR::Repository"
#: Each type's name property and moto's resource class.
_NAMED: Final = {
    SSM_PARAMETER: ("Name", ssm_models.Parameter),
    ECR_REPOSITORY: ("RepositoryName", ecr_models.Repository),
}
_GENERATE: Final = "generate_resource_name"
_CREATE: Final = "create_from_cloudformation_json"
_UPDATE: Final = "update_from_cloudformation_json"
_ALPHANUMERIC: Final = string.ascii_letters + string.digits
_patches = Patches()


def parameter_name(logical_id: str) -> str:
    """The name CloudFormation gives an SSM parameter without ``Name``."""
    suffix = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(12))
    return f"CFN-{logical_id}-{suffix}"


def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    """moto's generated physical name, as CloudFormation's for the types named here."""
    if resource_type == SSM_PARAMETER:
        return parameter_name(logical_id)
    original = _patches.original(cfn_parsing, _GENERATE)
    name = str(original(resource_type, stack_name, logical_id))
    return name.lower() if resource_type == ECR_REPOSITORY else name


def _properties(cloudformation_json: Any) -> dict[str, Any]:
    properties = cloudformation_json.get("Properties")
    return properties if isinstance(properties, dict) else {}


def _parameter_create(
    cls: type, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
) -> Any:
    """moto's SSM handler, given the generated name when the template has no ``Name``."""
    original = _patches.original(ssm_models.Parameter, _CREATE)
    if "Name" not in _properties(cloudformation_json):
        properties = {**_properties(cloudformation_json), "Name": resource_name}
        cloudformation_json = {**cloudformation_json, "Properties": properties}
    return original(resource_name, cloudformation_json, *args, **kwargs)


def _keeping_name(resource_type: str) -> Callable[..., Any]:
    """The type's update handler, with the original's name when the template has none
    (moto calls it with keywords only: ``parse_and_update_resource``)."""
    prop, model = _NAMED[resource_type]

    def update(cls: type, original_resource: Any, new_resource_name: str, **kwargs: Any) -> Any:
        original = _patches.original(model, _UPDATE)
        if prop not in _properties(kwargs.get("cloudformation_json") or {}):
            new_resource_name = original_resource.name
        return original(
            original_resource=original_resource, new_resource_name=new_resource_name, **kwargs
        )

    return update


def check_integration_points() -> None:
    """Fail loudly if what this module replaces moved in moto."""
    problems = []
    generate = _patches.original(cfn_parsing, _GENERATE)
    if generate is None or list(inspect.signature(generate).parameters) != [
        "resource_type",
        "stack_name",
        "logical_id",
    ]:
        problems.append(f"moto.cloudformation.parsing.{_GENERATE}")
    for resource_type, (_, model) in _NAMED.items():
        create = _patches.original(model, _CREATE)
        update = _patches.original(model, _UPDATE)
        if create is None or list(inspect.signature(create).parameters)[:2] != [
            "resource_name",
            "cloudformation_json",
        ]:
            problems.append(f"{resource_type} {_CREATE}")
        if update is None or list(inspect.signature(update).parameters)[:3] != [
            "original_resource",
            "new_resource_name",
            "cloudformation_json",
        ]:
            problems.append(f"{resource_type} {_UPDATE}")
        if getattr(model, "cloudformation_type", lambda: None)() != resource_type:
            problems.append(f"{model.__name__}.cloudformation_type")
    require_unmoved(problems, "its CloudFormation resource names changed")


def install() -> None:
    """Name SSM parameters and ECR repositories as CloudFormation does (idempotent)."""
    check_integration_points()
    if _patches:
        return
    _patches.replace(cfn_parsing, _GENERATE, generate_resource_name)
    _patches.replace(ssm_models.Parameter, _CREATE, classmethod(_parameter_create))
    for resource_type, (_, model) in _NAMED.items():
        _patches.replace(model, _UPDATE, classmethod(_keeping_name(resource_type)))


def uninstall() -> None:
    """Undo :func:`install`."""
    _patches.restore()

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

And on every update of an unnamed resource, moto generated a new name: handlers that
replace the resource on a new name did so (an SNS topic got a new ARN when any of its
properties changed; an SSM parameter was put again under another name; an ECR repository
was replaced, images and all). CloudFormation keeps the name it generated.

:func:`install` names SSM parameters and ECR repositories as CloudFormation does, and
gives an update the name generated when the resource was created (kept by stack id and
logical id: a stack of the same name in another region has names of its own).
"""

from __future__ import annotations

import inspect
import secrets
import string
import threading
from typing import Any, Final

from moto.cloudformation import parsing as cfn_parsing
from moto.ssm import models as ssm_models

from constructs_sm.local.extra import Patches, require_unmoved

SSM_PARAMETER: Final = "AWS::SSM::Parameter"
ECR_REPOSITORY: Final = "AWS::ECR::Repository"
_GENERATE: Final = "generate_resource_name"
_UPDATE_RESOURCE: Final = "parse_and_update_resource"
_PARSE: Final = "parse_resource_and_generate_name"
_CREATE: Final = "create_from_cloudformation_json"
_ALPHANUMERIC: Final = string.ascii_letters + string.digits
_patches = Patches()
#: The names generated at creation, by (stack id, logical id).
_generated: dict[tuple[str, str], str] = {}
#: Set while moto updates a resource (a request's thread).
_updating = threading.local()


def parameter_name(logical_id: str) -> str:
    """The name CloudFormation gives an SSM parameter without ``Name``."""
    suffix = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(12))
    return f"CFN-{logical_id}-{suffix}"


def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    """moto's generated physical name, as CloudFormation's for the types named here."""
    if resource_type == SSM_PARAMETER:
        return parameter_name(logical_id)
    name = str(_patches.original(cfn_parsing, _GENERATE)(resource_type, stack_name, logical_id))
    return name.lower() if resource_type == ECR_REPOSITORY else name


def parse_resource_and_generate_name(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any
) -> Any:
    """moto's, with the name generated at creation for a resource an update leaves
    unnamed (by stack id and logical id: a stack of the same name in another region has
    its own)."""
    parsed = _patches.original(cfn_parsing, _PARSE)(logical_id, resource_json, resources_map)
    if not parsed:
        return parsed
    resource_class, cleaned, name = parsed
    name_property = cfn_parsing.resource_name_property_from_type(str(resource_json.get("Type")))
    if name_property and name_property in _properties(resource_json):
        return parsed  # named by the template
    key = (str(resources_map["AWS::StackId"]), logical_id)
    if getattr(_updating, "on", False) and key in _generated:
        return resource_class, cleaned, _generated[key]
    _generated[key] = name
    return parsed


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


def parse_and_update_resource(*args: Any, **kwargs: Any) -> Any:
    """moto's update of one resource, named as when it was created."""
    outer = getattr(_updating, "on", False)
    _updating.on = True
    try:
        return _patches.original(cfn_parsing, _UPDATE_RESOURCE)(*args, **kwargs)
    finally:
        _updating.on = outer


def check_integration_points() -> None:
    """Fail loudly if what this module replaces moved in moto."""
    problems = []
    generate = _patches.original(cfn_parsing, _GENERATE)
    if list(inspect.signature(generate).parameters) != [
        "resource_type",
        "stack_name",
        "logical_id",
    ]:
        problems.append(f"moto.cloudformation.parsing.{_GENERATE}")
    update = _patches.original(cfn_parsing, _UPDATE_RESOURCE)
    if f"{_PARSE}(" not in inspect.getsource(update):
        problems.append(f"{_UPDATE_RESOURCE} no longer generates the resource's name")
    parse = _patches.original(cfn_parsing, _PARSE)
    parse_args = ["logical_id", "resource_json", "resources_map"]
    if list(inspect.signature(parse).parameters) != parse_args:
        problems.append(f"moto.cloudformation.parsing.{_PARSE}")
    create = _patches.original(ssm_models.Parameter, _CREATE)
    if list(inspect.signature(create).parameters)[:2] != ["resource_name", "cloudformation_json"]:
        problems.append(f"{SSM_PARAMETER} {_CREATE}")
    if ssm_models.Parameter.cloudformation_type() != SSM_PARAMETER:
        problems.append("moto.ssm.models.Parameter.cloudformation_type")
    require_unmoved(problems, "its CloudFormation resource names changed")


def install() -> None:
    """Name resources as CloudFormation does (idempotent)."""
    check_integration_points()
    if _patches:
        return
    _generated.clear()
    _patches.replace(cfn_parsing, _GENERATE, generate_resource_name)
    _patches.replace(cfn_parsing, _PARSE, parse_resource_and_generate_name)
    _patches.replace(cfn_parsing, _UPDATE_RESOURCE, parse_and_update_resource)
    _patches.replace(ssm_models.Parameter, _CREATE, classmethod(_parameter_create))


def uninstall() -> None:
    """Undo :func:`install`."""
    _patches.restore()
    _generated.clear()

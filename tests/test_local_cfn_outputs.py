"""Outputs and exports of stacks deployed by change sets (the cdk CLI's path) and kept
current by updates (constructs_sm.local.cfn_outputs), on the session's emulator."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from constructs_sm.local import Emulator

EXPORTER, IMPORTER = "outputs-exporter", "outputs-importer"
EXPORT = "outputs-exporter:Value"


def _exporter(value: str, export: str = EXPORT) -> str:
    parameter = {"Name": f"{EXPORTER}-p", "Type": "String", "Value": value}
    return json.dumps(
        {
            "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": parameter}},
            "Outputs": {"Name": {"Value": {"Ref": "P"}, "Export": {"Name": export}}},
        }
    )


def _importer() -> str:
    parameter = {
        "Name": f"{IMPORTER}-p",
        "Type": "String",
        "Value": {"Fn::ImportValue": EXPORT},
    }
    return json.dumps(
        {"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": parameter}}}
    )


@pytest.fixture
def cfn(aws: Emulator) -> Iterator[Any]:
    client = aws.client("cloudformation")
    yield client
    for stack in (IMPORTER, EXPORTER, "outputs-clash"):
        with contextlib.suppress(botocore.exceptions.ClientError):
            client.delete_stack(StackName=stack)


def _change_set(cfn: Any, stack: str, template: str, kind: str) -> None:
    """Deploy as the cdk CLI does: a change set, then its execution."""
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType=kind,
        TemplateBody=template,
    )
    cfn.execute_change_set(StackName=stack, ChangeSetName="cdk-deploy-change-set")


def _exports(cfn: Any) -> dict[str, str]:
    return {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"] if e["Name"] == EXPORT}


def test_a_stack_a_change_set_deploys_has_its_outputs_and_exports(cfn: Any, aws: Emulator) -> None:
    """moto alone: no outputs, no exports, and the importer failed "No export named"."""
    _change_set(cfn, EXPORTER, _exporter("one"), "CREATE")
    stack = cfn.describe_stacks(StackName=EXPORTER)["Stacks"][0]
    assert stack["Outputs"] == [
        {"OutputKey": "Name", "OutputValue": f"{EXPORTER}-p", "ExportName": EXPORT}
    ]
    assert _exports(cfn) == {EXPORT: f"{EXPORTER}-p"}
    _change_set(cfn, IMPORTER, _importer(), "CREATE")
    assert cfn.describe_stacks(StackName=IMPORTER)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    value = aws.client("ssm").get_parameter(Name=f"{IMPORTER}-p")["Parameter"]["Value"]
    assert value == f"{EXPORTER}-p"


@pytest.mark.parametrize("path", ["change set", "UpdateStack"])
def test_an_update_makes_the_exports_current(cfn: Any, path: str) -> None:
    """An update that renames the parameter: the output and the export follow."""
    _change_set(cfn, EXPORTER, _exporter("one"), "CREATE")
    renamed = _exporter("one").replace(f"{EXPORTER}-p", f"{EXPORTER}-renamed")
    if path == "change set":
        _change_set(cfn, EXPORTER, renamed, "UPDATE")
    else:
        cfn.update_stack(StackName=EXPORTER, TemplateBody=renamed)
    stack = cfn.describe_stacks(StackName=EXPORTER)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == f"{EXPORTER}-renamed"
    assert _exports(cfn) == {EXPORT: f"{EXPORTER}-renamed"}


def test_an_export_name_another_stack_exports_is_refused(cfn: Any) -> None:
    _change_set(cfn, EXPORTER, _exporter("one"), "CREATE")
    clash = _exporter("two").replace(f"{EXPORTER}-p", "outputs-clash-p")
    with pytest.raises(botocore.exceptions.ClientError, match="is already exported by stack"):
        _change_set(cfn, "outputs-clash", clash, "CREATE")
    assert _exports(cfn) == {EXPORT: f"{EXPORTER}-p"}


def test_a_clash_is_refused_before_anything_is_deployed(cfn: Any) -> None:
    """The change set is not executed: no stack resources, no outputs (the stack was
    deployed, then the call failed)."""
    _change_set(cfn, EXPORTER, _exporter("one"), "CREATE")
    clash = _exporter("two").replace(f"{EXPORTER}-p", "outputs-clash-p")
    with pytest.raises(botocore.exceptions.ClientError, match="is already exported by stack"):
        _change_set(cfn, "outputs-clash", clash, "CREATE")
    stack = cfn.describe_stacks(StackName="outputs-clash")["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert cfn.describe_stack_resources(StackName="outputs-clash")["StackResources"] == []


def test_a_stack_that_rolled_back_exports_nothing(cfn: Any) -> None:
    """CreateStack of a stack whose resource fails: its exports are gone with it (moto
    kept them for other stacks to import)."""
    failing = json.loads(_exporter("one"))
    failing["Resources"]["Bad"] = {
        "Type": "AWS::ECR::Repository",
        "Properties": {"RepositoryName": "Not_Lowercase"},
    }
    cfn.create_stack(StackName=EXPORTER, TemplateBody=json.dumps(failing))
    assert cfn.describe_stacks(StackName=EXPORTER)["Stacks"][0]["StackStatus"] == (
        "ROLLBACK_COMPLETE"
    )
    assert _exports(cfn) == {}

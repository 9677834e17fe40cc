"""ProcessingPipeline: synth-time validation, scheduling, IAM and the state machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs_sm import (
    ChannelBucket,
    Param,
    ProcessingImage,
    ProcessingPipeline,
    ProcessingStep,
    Resources,
    StepInput,
)
from constructs_sm.model import DataSource
from constructs_sm.params import ParamRef
from tests.cfn import actions, role_statements

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/processing:1"


def _pipeline(stack: cdk.Stack, **kwargs: Any) -> ProcessingPipeline:
    storage = ChannelBucket(stack, "Storage")
    return ProcessingPipeline(
        stack,
        "Pipeline",
        storage=storage,
        image=ProcessingImage.from_registry(IMAGE_URI),
        params=[
            Param.string("raw_uri", pattern=r"^s3://"),
            Param.integer("epochs", default=10, minimum=1),
            Param.number("learning_rate", default=0.01),
            Param.boolean("debug", default=False),
        ],
        **kwargs,
    )


class Built:
    def __init__(self, script: Path) -> None:
        self.app = cdk.App()
        self.stack = cdk.Stack(self.app, "Test", env=cdk.Environment(region="us-east-1"))
        pipeline = _pipeline(self.stack, tags={"team": "ml"})
        prep = pipeline.add_step(
            "prepare",
            code=script,
            inputs={"raw": pipeline.param("raw_uri")},
            outputs=["train", "test"],
            env={"DEBUG": pipeline.param("debug")},
        )
        train = pipeline.add_step(
            "train",
            code=script,
            inputs={"train": prep.output("train")},
            outputs=["model"],
            env={"EPOCHS": pipeline.param("epochs"), "LR": pipeline.param("learning_rate")},
            resources=Resources(instance_type="ml.m5.xlarge", instance_count=2),
        )
        evaluate = pipeline.add_step(
            "evaluate",
            code=script,
            inputs={"model": train.output("model"), "test": prep.output("test")},
            returns={"accuracy": float},
        )
        self.pipeline, self.prep, self.train, self.evaluate = pipeline, prep, train, evaluate
        self.template = assertions.Template.from_stack(self.stack)
        self.definition = pipeline.render_definition()


@pytest.fixture(scope="module")
def built(script: Path) -> Built:
    return Built(script)


def _policy_statements(template: assertions.Template) -> list[dict[str, Any]]:
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


# -- the state machine ----------------------------------------------------------------


def test_state_machine_is_standard_logged_and_traced(built: Built) -> None:
    built.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": assertions.Match.object_like(
                {"Level": "ALL", "IncludeExecutionData": False}
            ),
        },
    )
    assert built.pipeline.state_machine.node.id == "StateMachine"


def test_definition_starts_with_defaults_and_validation(built: Built) -> None:
    states = built.definition["States"]
    assert built.definition["StartAt"] == "Read input"
    assert built.definition["QueryLanguage"] == "JSONPath"
    assert states["Read input"]["Parameters"]["defaults"] == {
        "epochs": 10,
        "learning_rate": 0.01,
        "debug": False,
    }
    merge = states["Merge defaults"]["Parameters"]
    assert merge["params.$"] == "States.JsonMerge($.defaults, $.input, false)"
    assert merge["run"]["pipeline"] == "Pipeline"
    assert merge["run"]["execution.$"] == "$$.Execution.Name"
    assert states["Merge defaults"]["Next"] == "Check parameter types"
    write = states["Write parameters"]
    assert write["Resource"].endswith(":states:::aws-sdk:s3:putObject")
    assert write["Parameters"]["Body.$"] == "States.JsonToString($.params)"
    assert write["Next"] == "Run prepare"


def test_steps_run_in_dependency_order(built: Built) -> None:
    states = built.definition["States"]
    assert states["Run prepare"]["Next"] == "Run train"
    assert states["Run train"]["Next"] == "Run evaluate"
    assert states["Run evaluate"]["Next"] == "Read evaluate values"
    assert states["Check evaluate values"]["Default"] == "Pipeline: succeeded"
    assert built.pipeline.plan() == ("seq", ["prepare", "train", "evaluate"])


def test_job_settings_reach_the_task(built: Built) -> None:
    task = built.definition["States"]["Run train"]["Parameters"]
    assert task["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert task["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert task["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert {"Key": "team", "Value": "ml"} in task["Tags"]
    assert {"Key": "constructs-sm:step", "Value": "train"} in task["Tags"]
    assert task["Environment"]["EPOCHS.$"] == "States.Format('{}', $.params.epochs)"
    prepare = built.definition["States"]["Run prepare"]["Parameters"]
    assert prepare["ProcessingInputs"][2]["S3Input"]["S3Uri.$"] == "$.params.raw_uri"


def test_value_json_path(built: Built) -> None:
    value = built.evaluate.value("accuracy")
    assert value.json_path == "$.steps.evaluate.returned.values.accuracy"
    assert value.type == "number"


def test_synthesized_definition_is_json(built: Built) -> None:
    machines = built.template.find_resources("AWS::StepFunctions::StateMachine")
    (machine,) = machines.values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    assert json.loads(text)["States"]["Run prepare"]["Type"] == "Task"


# -- IAM -------------------------------------------------------------------------------


def test_trust_policies_carry_confused_deputy_conditions(built: Built) -> None:
    for service in ("sagemaker.amazonaws.com", "states.amazonaws.com"):
        built.template.has_resource_properties(
            "AWS::IAM::Role",
            {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        assertions.Match.object_like(
                            {
                                "Principal": {"Service": service},
                                "Condition": {
                                    "StringEquals": {
                                        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
                                    },
                                    "ArnLike": {"aws:SourceArn": assertions.Match.any_value()},
                                },
                            }
                        )
                    ]
                }
            },
        )
    roles = built.template.find_resources("AWS::IAM::Role")
    assert len(roles) == 4  # three steps and the state machine


def test_state_machine_role_has_exactly_the_jobactions(built: Built) -> None:
    statements = _policy_statements(built.template)
    sagemaker = {a for s in statements for a in actions(s) if a.startswith("sagemaker:")}
    assert sagemaker == {
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    }
    events = [s for s in statements if "events:PutRule" in actions(s)]
    assert events and "StepFunctionsGetEventsForSageMakerProcessingJobsRule" in json.dumps(events)
    pass_role = [s for s in statements if "iam:PassRole" in actions(s)]
    assert pass_role
    for statement in pass_role:
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }


def test_no_wildcard_s3_actions_and_prefix_conditions(built: Built) -> None:
    for statement in _policy_statements(built.template):
        granted = actions(statement)
        assert not any(a in ("s3:*", "*") or a.startswith("s3:*") for a in granted)
        if "s3:ListBucket" in granted:
            assert "s3:prefix" in json.dumps(statement.get("Condition", {}))


def _role_policy_text(built: Built, role: iam.IRole) -> str:
    child = role.node.default_child
    assert isinstance(child, iam.CfnRole)
    logical_id = built.stack.resolve(child.logical_id)
    policies = built.template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": logical_id}]}}
    )
    assert policies, f"no policy attached to {logical_id}"
    return json.dumps(policies)


def test_step_roles_reach_only_their_prefixes(built: Built) -> None:
    text = _role_policy_text(built, built.train.role)
    assert "Pipeline/prepare/train/" in text  # its input
    assert "Pipeline/train/model/" in text  # its output
    assert "Pipeline/_run/params/" in text  # the params channel
    assert "Pipeline/prepare/test/" not in text  # another step's channel
    assert "Pipeline/evaluate/" not in text
    prepare = _role_policy_text(built, built.prep.role)
    assert "data/*" in prepare  # the default data source of parameter-supplied inputs


def _object_grants(built: Built, role: iam.IRole) -> dict[str, set[str]]:
    """Channel-bucket object keys each S3 object action is granted on, by action."""
    bucket = built.stack.resolve(built.pipeline.storage.bucket.bucket_arn)
    grants: dict[str, set[str]] = {}
    for statement in role_statements(built.template, built.stack, role):
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            parts = resource.get("Fn::Join", ["", []])[1] if isinstance(resource, dict) else []
            if len(parts) == 2 and parts[0] == bucket:
                for action in actions(statement):
                    grants.setdefault(action, set()).add(parts[1])
    return grants


def test_step_object_access_is_exactly_its_channels(built: Built) -> None:
    grants = _object_grants(built, built.train.role)
    # Literal channel prefixes: the '*' after them covers executions of that channel only.
    assert grants["s3:GetObject"] == {"/Pipeline/_run/params/*", "/Pipeline/prepare/train/*"}
    assert grants["s3:PutObject"] == {"/Pipeline/train/model/*"}
    evaluate = _object_grants(built, built.evaluate.role)
    assert evaluate["s3:GetObject"] == {
        "/Pipeline/_run/params/*",
        "/Pipeline/train/model/*",
        "/Pipeline/prepare/test/*",
    }
    assert evaluate["s3:PutObject"] == {"/Pipeline/evaluate/returns/*"}
    machine = _object_grants(built, built.pipeline.role)
    assert machine == {
        "s3:PutObject": {"/Pipeline/_run/params/*"},
        "s3:GetObject": {"/Pipeline/evaluate/returns/*"},
    }


def test_the_state_machine_role_has_what_one_put_and_one_get_need(built: Built) -> None:
    statements = role_statements(built.template, built.stack, built.pipeline.role)
    granted = {a for s in statements for a in actions(s)}
    assert {"s3:PutObject", "s3:GetObject", "kms:GenerateDataKey", "kms:Decrypt"} <= granted
    assert not granted & {"kms:Encrypt", "s3:AbortMultipartUpload", "s3:DeleteObject"}


def test_run_prefix_has_a_lifecycle_rule(built: Built) -> None:
    built.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": assertions.Match.array_with(
                    [assertions.Match.object_like({"Prefix": "Pipeline/", "Status": "Enabled"})]
                )
            }
        },
    )


def test_parallel_branches_merge_their_results(script: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Fan")
    pipeline = _pipeline(stack)
    first = pipeline.add_step("first", code=script, outputs=["data"])
    for index in range(12):
        pipeline.add_step(f"b{index}", code=script, inputs={"d": first.output("data")})
    states = pipeline.render_definition()["States"]
    outer = states["Parallel 1"]
    # 12 branches exceed the 10 a single merge may nest: 6 nested Parallels of 2 each.
    assert len(outer["Branches"]) == 6
    selector = outer["ResultSelector"]["steps.$"]
    assert selector.count("States.JsonMerge") == len(outer["Branches"]) - 1
    nested = [b for b in outer["Branches"] if b["States"][b["StartAt"]]["Type"] == "Parallel"]
    assert nested, "more than 10 branches are split into nested Parallel states"
    assert outer["ResultSelector"]["params.$"] == "$[0].params"


# -- synth-time validation -------------------------------------------------------------


@pytest.fixture(scope="module")
def target(script: Path) -> tuple[ProcessingPipeline, ProcessingStep]:
    app = cdk.App()
    stack = cdk.Stack(app, "Validation")
    pipeline = _pipeline(stack)
    step = pipeline.add_step("prep", code=script, outputs=["out"], returns={"n": int})
    return pipeline, step


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "1bad"}, r"name must match .* got '1bad'"),
        ({"name": "my-step"}, r"name must match .* got 'my-step'"),
        ({"name": "prep"}, r"name 'prep' is already a step"),
        ({"code": "missing.py"}, r"code 'missing.py' is not a file"),
        ({"code": "pyproject.toml"}, r"code must be a Python script"),
        ({"inputs": {"code": "s3://bucket/k"}}, r"channel 'code' is reserved"),
        ({"inputs": {"bad name": "s3://bucket/k"}}, r"channel names must match"),
        ({"inputs": {"x": "http//nope"}}, r"must be an s3://<bucket>/<prefix> URI"),
        ({"inputs": {"x": "s3://b/k"}}, r"with a valid bucket name"),
        ({"inputs": {"x": 42}}, r"must be a step output, a param, an s3:// URI or a StepInput"),
        (
            {"inputs": {f"c{i}": "s3://bucket/k" for i in range(9)}},
            r"inputs has 9 channels; at most 8",
        ),
        ({"outputs": ["returns"]}, r"channel 'returns' is reserved"),
        ({"outputs": ["a", "a"]}, r"duplicate channels: a"),
        ({"outputs": "model"}, r"outputs must be a list of channel names"),
        (
            {"outputs": [f"o{i}" for i in range(10)], "returns": {"x": float}},
            r"plus the returns channel",
        ),
        ({"env": {"1X": "v"}}, r"env key must match"),
        ({"env": {"CSM_STEP": "v"}}, r"reserved prefix CSM_"),
        ({"env": {"X": "v" * 257}}, r"env\['X'\] is 257 characters; values are at most 256"),
        ({"env": {"X": [1]}}, r"must be a str, int, float, bool, param or step value"),
        ({"env": {f"E{i}": "v" for i in range(99)}}, r"env has 99 entries; at most 98"),
        ({"returns": {"x": list}}, r"returns\['x'\] must be float, int, str or bool"),
        ({"returns": {"bad-name": int}}, r"returns key must be an identifier"),
        ({"arguments": "--a"}, r"arguments must be a list"),
        ({"arguments": ["a"] * 101}, r"arguments has 101 items; at most 100"),
        ({"env": {"X": float("nan")}}, r"env\['X'\] must be a finite number, got nan"),
        (
            {"env": {"RAW": "PARAM:raw_uri"}},
            r"uses string param 'raw_uri', which may be 1024 characters; .* max_length=256",
        ),
        (
            {
                "inputs": {
                    "m": StepInput(ParamRef(Param.string("raw_uri")), data_type="ManifestFile")
                }
            },
            r"a ManifestFile input must be a literal s3:// URI",
        ),
        ({"arguments": [""]}, r"arguments\[0\] must be 1 to 256 characters"),
        ({"arguments": [3]}, r"arguments\[0\] must be a str or param"),
        ({"resources": {"instance_count": 2}}, r"resources must be a Resources"),
        ({"image": "uri"}, r"image must be a ProcessingImage"),
        ({"after": ["prep"]}, r"after\[0\] must be a step of this pipeline"),
    ],
)
def test_add_step_validation(
    target: tuple[ProcessingPipeline, ProcessingStep],
    script: Path,
    kwargs: dict[str, Any],
    match: str,
) -> None:
    pipeline, _ = target
    arguments: dict[str, Any] = {"name": "new", "code": script, **kwargs}
    if arguments.get("env") == {"RAW": "PARAM:raw_uri"}:
        arguments["env"] = {"RAW": pipeline.param("raw_uri")}
    if "m" in arguments.get("inputs", {}):
        arguments["inputs"] = {"m": StepInput(pipeline.param("raw_uri"), data_type="ManifestFile")}
    if arguments["code"] == "pyproject.toml":
        arguments["code"] = Path(__file__).resolve().parents[1] / "pyproject.toml"
    with pytest.raises(ValueError, match=match):
        pipeline.add_step(**arguments)


def test_add_step_reports_all_problems_at_once(
    target: tuple[ProcessingPipeline, ProcessingStep], script: Path
) -> None:
    pipeline, _ = target
    with pytest.raises(ValueError, match=r"add_step\('9'\): name must match.*; .*reserved"):
        pipeline.add_step("9", code=script, outputs=["returns"])


def test_references_are_checked(
    target: tuple[ProcessingPipeline, ProcessingStep], script: Path
) -> None:
    pipeline, step = target
    with pytest.raises(ValueError, match=r"unknown param 'nope'; declared params: raw_uri"):
        pipeline.param("nope")
    with pytest.raises(ValueError, match=r"step 'prep' has no output 'missing'; its outputs: out"):
        step.output("missing")
    with pytest.raises(ValueError, match=r"step 'prep' returns no value 'x'; it returns: n"):
        step.value("x")
    with pytest.raises(ValueError, match=r"uses param 'epochs' of type integer"):
        pipeline.add_step("n1", code=script, inputs={"x": pipeline.param("epochs")})
    other_app = cdk.App()
    other = _pipeline(cdk.Stack(other_app, "Other"))
    foreign = other.add_step("src", code=script, outputs=["o"], returns={"v": int})
    with pytest.raises(ValueError, match=r"refers to step 'src' of another pipeline"):
        pipeline.add_step("n2", code=script, inputs={"x": foreign.output("o")})
    with pytest.raises(ValueError, match=r"refers to step 'src' of another pipeline"):
        pipeline.add_step("n3", code=script, env={"V": foreign.value("v")})
    with pytest.raises(ValueError, match=r"refers to param 'raw_uri', which is not declared"):
        pipeline.add_step("n4", code=script, env={"V": other.param("raw_uri")})
    with pytest.raises(ValueError, match=r"after\[0\] must be a step of this pipeline"):
        pipeline.add_step("n5", code=script, after=[foreign])


def test_value_reference_orders_steps(
    target: tuple[ProcessingPipeline, ProcessingStep], script: Path
) -> None:
    pipeline, step = target
    later = pipeline.add_step(
        "later",
        code=script,
        env={"N": step.value("n")},
        inputs={"d": StepInput("s3://other-bucket/p/")},
    )
    assert later.depends_on == (step,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pipeline_name": "bad name"}, r"pipeline_name must match"),
        ({"tags": {"aws:x": "y"}}, r"tag 'aws:x': 'y' is invalid"),
        ({"security_groups": []}, r"security_groups needs vpc"),
        ({"tags": {f"k{i}": "v" for i in range(49)}}, r"tags has 49 entries; at most 48"),
        ({"tags": {"team": "a#b"}}, r"tag 'team': .* is invalid"),
        (
            {"pipeline_name": "data"},
            r"the data-source prefix 'data/' of pipeline 'data' \(Bad/Pipeline\) overlaps the "
            r"run prefix 'data/' of pipeline 'data'",
        ),
    ],
)
def test_pipeline_validation(kwargs: dict[str, Any], match: str) -> None:
    app = cdk.App()
    with pytest.raises(ValueError, match=match):
        _pipeline(cdk.Stack(app, "Bad"), **kwargs)


def test_construct_id_must_be_a_valid_name_or_pipeline_name_given() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    with pytest.raises(ValueError, match=r"the construct id; pass pipeline_name"):
        ProcessingPipeline(
            stack,
            "My Pipeline",
            storage=ChannelBucket(stack, "Storage"),
            image=ProcessingImage.from_registry(IMAGE_URI),
        )


def test_vpc_jobs_get_subnets_security_group_and_eni_permissions(script: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Vpc", env=cdk.Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    pipeline = _pipeline(stack, vpc=vpc)
    step = pipeline.add_step("only", code=script)
    parameters = pipeline.render_definition()["States"]["Run only"]["Parameters"]
    config = parameters["NetworkConfig"]["VpcConfig"]
    assert len(config["Subnets"]) == 2 and len(config["SecurityGroupIds"]) == 1
    template = assertions.Template.from_stack(stack)
    statements = _policy_statements(template)
    assert any("ec2:CreateNetworkInterface" in actions(s) for s in statements)
    assert isinstance(step.role, iam.Role)
    # Instances of one job may talk to each other, nothing else may connect.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"IpProtocol": "-1", "SourceSecurityGroupId": assertions.Match.any_value()},
    )


def test_input_parameters_must_point_into_the_data_sources(built: Built) -> None:
    states = built.definition["States"]
    check = states["Check input locations"]
    assert check["Default"] == "Write parameters"
    (rule,) = check["Choices"]
    assert rule["Next"] == "Invalid location raw_uri"
    assert rule["Not"]["Variable"] == "$.params.raw_uri"
    resolved = built.stack.resolve(rule["Not"]["StringMatches"])
    bucket = built.stack.resolve(built.pipeline.storage.bucket.bucket_name)
    assert resolved == {"Fn::Join": ["", ["s3://", bucket, "/data/*"]]}
    fail = states["Invalid location raw_uri"]
    assert fail["Error"] == "InvalidParameters"
    assert "parameter 'raw_uri' must be an S3 URI under" in fail["Cause"]
    assert states["Check parameter bounds"]["Default"] == "Pipeline: select parameters"
    assert states["Pipeline: select parameters"]["Next"] == "Check input locations"


def test_definition_has_no_nulls(built: Built) -> None:
    """CDK drops JSON nulls when it serializes the definition: none may be relied on."""

    def walk(value: object, path: str) -> None:
        assert value is not None, f"null at {path}"
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(built.definition, "$")
    assert built.definition["States"]["Write parameters"]["ResultPath"] == "$.run.params_file"


def test_data_source_prefixes_must_be_directory_prefixes(script: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Sources")
    storage = ChannelBucket(stack, "Storage")
    with pytest.raises(ValueError, match=r"data_sources\[0\].prefix must be a key prefix ending"):
        ProcessingPipeline(
            stack,
            "P",
            storage=storage,
            image=ProcessingImage.from_registry(IMAGE_URI),
            data_sources=[DataSource(storage.bucket, "data")],
        )


def test_string_param_with_max_length_may_be_an_env_value(
    target: tuple[ProcessingPipeline, ProcessingStep], script: Path
) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Short")
    storage = ChannelBucket(stack, "Storage")
    pipeline = ProcessingPipeline(
        stack,
        "P",
        storage=storage,
        image=ProcessingImage.from_registry(IMAGE_URI),
        params=[Param.string("mode", default="fast", max_length=32)],
    )
    pipeline.add_step("s", code=script, env={"MODE": pipeline.param("mode"), "F": _Float(0.5)})
    environment = pipeline.render_definition()["States"]["Run s"]["Parameters"]["Environment"]
    assert environment["MODE.$"] == "$.params.mode"
    assert environment["F"] == "0.5"


class _Float(float):
    """A float subclass (as numpy.float64 is)."""


def test_only_declared_parameters_go_on(built: Built) -> None:
    select = built.definition["States"]["Pipeline: select parameters"]["Parameters"]
    assert select["params"] == {
        "raw_uri.$": "$.params.raw_uri",
        # An integral double (5.0) goes on as the integer 5.
        "epochs.$": "States.StringToJson(States.ArrayGetItem(States.StringSplit("
        "$.checks.epochs, '.'), 0))",
        "learning_rate.$": "$.params.learning_rate",
        "debug.$": "$.params.debug",
    }
    assert select["run.$"] == "$.run" and select["steps.$"] == "$.steps"


def test_state_names_never_collide(script: Path) -> None:
    app = cdk.App()
    pipeline = _pipeline(cdk.Stack(app, "Names"))
    first = pipeline.add_step("parameter", code=script, returns={"n": int})
    pipeline.add_step("Pipeline", code=script, returns={"x": float}, after=[first])
    states = pipeline.render_definition()["States"]
    assert states["Check parameter values"]["Choices"][0]["Not"]["Variable"] == (
        "$.steps.parameter.returned.values.n"
    )
    assert "Pipeline failed" in str(states) and "Pipeline: failed" in states


def test_integer_returns_are_checked_for_integer_text(built: Built, script: Path) -> None:
    app = cdk.App()
    pipeline = _pipeline(cdk.Stack(app, "Ints"))
    pipeline.add_step("count", code=script, returns={"rows": int, "ratio": float})
    states = pipeline.render_definition()["States"]
    assert states["Check count values"]["Default"] == "Render count integer values"
    render = states["Render count integer values"]
    assert render["Parameters"] == {
        "rows.$": "States.Format('{}', $.steps.count.returned.values.rows)"
    }
    rules = states["Check count integer values"]["Choices"]
    assert {
        "Variable": "$.checks.rows",
        "StringMatches": "*.*",
        "Next": "count returned invalid values",
    } in rules
    assert states["Check count integer values"]["Default"] == "Pipeline: succeeded"


def test_step_roles_may_create_volume_key_grants(built: Built) -> None:
    grants = [s for s in _policy_statements(built.template) if "kms:CreateGrant" in actions(s)]
    assert len(grants) == 3  # one per step role
    for statement in grants:
        assert statement["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_a_later_wildcard_grant_to_a_step_role_is_still_reported(script: Path) -> None:
    """Only the dedicated policies that need Resource "*" carry its acknowledgment."""
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App()
    stack = cdk.Stack(app, "Later", env=cdk.Environment(account="123456789012", region="us-east-1"))
    pipeline = _pipeline(stack)
    step = pipeline.add_step("only", code=script)
    step.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=["*"])
    )
    pipeline.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=["*"])
    )
    pack = AwsSolutionsChecks(app)
    found = {
        (violation.rule_name, resource.construct_path)
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
        if violation.rule_name.startswith("AwsSolutions-IAM5")
    }
    paths = {path or "" for _, path in found}
    assert "Later/Pipeline/only/Role/DefaultPolicy/Resource" in paths
    assert "Later/Pipeline/StateMachineRole/DefaultPolicy/Resource" in paths
    assert not any("MetricsPolicy" in p or "EcrAuthorization" in p for p in paths)


def test_state_machine_role_trusts_exactly_its_state_machine(built: Built) -> None:
    built.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineName": "Test-Pipeline"}
    )
    roles = built.template.find_resources("AWS::IAM::Role")
    trusts = [
        statement["Condition"]["ArnLike"]["aws:SourceArn"]
        for role in roles.values()
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        if statement["Principal"] == {"Service": "states.amazonaws.com"}
    ]
    assert len(trusts) == 1
    assert json.dumps(trusts[0]).endswith(':stateMachine:Test-Pipeline"]]}')


def test_pipeline_names_are_unique_per_storage_and_state_machine_names_per_stack() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Twice")
    storage = ChannelBucket(stack, "Storage")
    image = ProcessingImage.from_registry(IMAGE_URI)
    ProcessingPipeline(stack, "One", storage=storage, image=image, pipeline_name="churn")
    with pytest.raises(
        ValueError,
        match=r"the run prefix 'churn/' of pipeline 'churn' \(Twice/Two\) overlaps the run "
        r"prefix 'churn/' of pipeline 'churn' \(Twice/One\)",
    ):
        ProcessingPipeline(stack, "Two", storage=storage, image=image, pipeline_name="churn")
    other = ChannelBucket(stack, "Other")
    with pytest.raises(ValueError, match=r"state machine is named 'Twice-churn'"):
        ProcessingPipeline(stack, "Three", storage=other, image=image, pipeline_name="churn")


def test_long_state_machine_names_stay_unique_within_80_characters() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S" * 76)
    storage = ChannelBucket(stack, "Storage")
    image = ProcessingImage.from_registry(IMAGE_URI)
    one = ProcessingPipeline(stack, "PipelineOne", storage=storage, image=image)
    two = ProcessingPipeline(stack, "PipelineTwo", storage=storage, image=image)
    assert one.state_machine_name and two.state_machine_name
    assert one.state_machine_name != two.state_machine_name
    assert len(one.state_machine_name) == 80 == len(two.state_machine_name)


def test_job_prefixes_differ_between_stacks_of_one_app(script: Path) -> None:
    app = cdk.App()
    prefixes = []
    for stack_name in ("churn-dev", "churn-prod"):
        stack = cdk.Stack(app, f"Env{stack_name}", stack_name=stack_name)
        pipeline = ProcessingPipeline(
            stack,
            "Churn",
            storage=ChannelBucket(stack, "Storage"),
            image=ProcessingImage.from_registry(IMAGE_URI),
        )
        prefixes.append(pipeline.add_step("prepare", code=script).job_prefix)
    assert prefixes[0] != prefixes[1]


def test_state_machine_keeps_every_dependency_and_vended_log_group(built: Built) -> None:
    (machine,) = built.template.find_resources("AWS::StepFunctions::StateMachine").values()
    depends = machine["DependsOn"]
    assert any("StateMachineRoleDefaultPolicy" in d for d in depends)
    # Its S3 and job grants: in place before the state machine can run.
    assert any("StateMachineRolePrefixScopedPolicy" in d for d in depends)
    assert any("TracingAndLogDeliveryPolicy" in d for d in depends)
    assert machine["Metadata"]["cfn-lint"] == {"config": {"ignore_checks": ["W3005"]}}
    (group,) = built.template.find_resources("AWS::Logs::LogGroup").values()
    name = group["Properties"]["LogGroupName"]["Fn::Join"][1]
    assert name[0] == "/aws/vendedlogs/states/Test-Pipeline-"
    assert "AWS::StackId" in json.dumps(name[1])


def test_arguments_mixing_a_param_and_a_token_resolve_the_token(script: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Tokens")
    pipeline = _pipeline(stack)
    bucket = pipeline.storage.bucket_name
    pipeline.add_step(
        "prep",
        code=script,
        arguments=[f"--out=s3://{bucket}/extra/", pipeline.param("epochs")],
    )
    template = assertions.Template.from_stack(stack).to_json()
    machine = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "<REF>" for p in parts)
    assert "Token[" not in text and "$\\\\{" not in text
    assert "States.Array('--out=s3://<REF>/extra/', States.Format('{}', $.params.epochs))" in text
    assert {"Ref": stack.resolve(pipeline.storage.bucket.node.default_child.logical_id)} in parts  # type: ignore[union-attr]


def test_pipelines_sharing_a_bucket_keep_their_prefixes_apart() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Shared")
    storage = ChannelBucket(stack, "Storage")
    image = ProcessingImage.from_registry(IMAGE_URI)
    ProcessingPipeline(
        stack,
        "Reader",
        storage=storage,
        image=image,
        data_sources=[DataSource(storage.bucket, "landing/")],
    )
    # Its lifecycle rule would expire the Reader's input data after 30 days.
    with pytest.raises(ValueError, match=r"run prefix 'landing/' of pipeline 'landing'"):
        ProcessingPipeline(stack, "Landing", storage=storage, image=image, pipeline_name="landing")
    with pytest.raises(ValueError, match=r"data-source prefix 'Reader/raw/' of pipeline 'Other'"):
        ProcessingPipeline(
            stack,
            "Other",
            storage=storage,
            image=image,
            data_sources=[DataSource(storage.bucket, "Reader/raw/")],
        )
    with pytest.raises(
        ValueError, match=r"run prefix 'Reader/old/' of ChannelBucket.add_run_prefix overlaps"
    ):
        storage.add_run_prefix("Reader/old/")
    # Two pipelines may read one data set; no lifecycle rule was added for the refused ones.
    ProcessingPipeline(
        stack,
        "Second",
        storage=storage,
        image=image,
        data_sources=[DataSource(storage.bucket, "landing/")],
    )
    assert storage.run_prefixes == ("Reader/", "Second/")


def test_a_whole_bucket_data_source_reads_the_bucket(script: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Whole")
    landing = s3.Bucket.from_bucket_name(stack, "Landing", "team-landing")
    pipeline = _pipeline(stack, data_sources=[DataSource(landing)])
    pipeline.add_step("prep", code=script, inputs={"raw": pipeline.param("raw_uri")})
    policies = assertions.Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    text = json.dumps([p for p in policies.values() if "prepRole" in json.dumps(p)])
    assert ":s3:::team-landing/*" in text
    states = pipeline.render_definition()["States"]
    tests = states["Check input locations"]["Choices"][0]["Not"]
    assert tests == {"Variable": "$.params.raw_uri", "StringMatches": "s3://team-landing/*"}
    with pytest.raises(ValueError, match=r"data-source prefix '' of pipeline 'Bucket'"):
        ProcessingPipeline(
            stack,
            "Bucket",
            storage=pipeline.storage,
            image=ProcessingImage.from_registry(IMAGE_URI),
            data_sources=[DataSource(pipeline.storage.bucket)],
        )

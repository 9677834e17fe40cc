"""Wide-view checks of the example app (``stacks/pipeline_stack.py``, stack ``ChurnPipeline``).

The app is synthesized once per module. Then:

- every template passes cfn-lint (errors and warnings fail, informational matches don't);
- every state machine definition, with its CloudFormation references replaced by sample
  values, passes ``statelint``;
- every ``createProcessingJob`` task is rendered the way Step Functions would render it
  (tests/rendering.py) and the request passes the strict validator
  (``constructs_sm.service_model``: botocore's checks plus enums, patterns, lengths and
  list sizes) and the pipeline's own rules (job names, handoff layout);
- the processing tasks' timeouts, retries and catches, the query language and the sizes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import cfnlint.api
import pytest
from statelint.linter import Linter

from constructs_sm.nag import REQUIRED_RETRIES
from constructs_sm.service_model import request_problems
from tests.rendering import (
    DEPLOYMENTS,
    ENV_KEY,
    EXECUTION_NAMES,
    JOB_NAME,
    MAX_DOCUMENT_BYTES,
    RETRY_COUNTS,
    S3_URI,
    Request,
    SynthesizedApp,
    processing_tasks,
    render_requests,
    synthesized_app,
)

if TYPE_CHECKING:
    from tests.conftest import Assembly


@pytest.fixture(scope="module")
def example_app(example_assembly: Assembly) -> SynthesizedApp:
    """The example app synthesized once into a temporary cloud assembly."""
    return synthesized_app(example_assembly.outdir, example_assembly.stack)


# -- tests ----------------------------------------------------------------------------------


def test_templates_pass_cfn_lint(example_app: SynthesizedApp) -> None:
    failures = []
    for name, (text, _) in example_app.templates.items():
        for match in cfnlint.api.lint_all(text):
            if match.rule.severity in ("error", "warning", "unknown"):
                path = getattr(match, "path", None)
                failures.append(f"{name}: {match.rule.id} {path} {match.message}")
    assert not failures, "cfn-lint:\n" + "\n".join(failures)


def test_state_machines_pass_statelint(example_app: SynthesizedApp) -> None:
    for machine in example_app.state_machines:
        problems = Linter.validate(machine.definition)
        assert problems == [], f"{machine.logical_id}: " + "\n".join(problems)


@pytest.mark.parametrize("execution_name", EXECUTION_NAMES)
def test_processing_job_requests_pass_the_strict_validator(
    example_app: SynthesizedApp, execution_name: str
) -> None:
    """botocore's types and required members, and the enums, patterns, lengths and list
    sizes botocore does not check (constructs_sm.service_model), for every request."""
    for request in render_requests(example_app, [execution_name]):
        problems = request_problems("CreateProcessingJob", request.params)
        assert not problems, f"{request.where()}:\n" + "\n".join(problems)


def test_job_names_are_valid_and_unique(example_app: SynthesizedApp) -> None:
    """Valid whatever the execution name; never reused by another step, retry, execution
    or deployment of the app in the same account (SageMaker job names are unique there)."""
    requests = render_requests(example_app, EXECUTION_NAMES, RETRY_COUNTS, DEPLOYMENTS)
    names: dict[str, Request] = {}
    for request in requests:
        name = request.params["ProcessingJobName"]
        assert JOB_NAME.match(name), f"{request.where()}: invalid job name {name!r}"
        earlier = names.setdefault(name, request)
        # Only the same job rendered from another sample input may repeat a name.
        assert (
            earlier.machine,
            earlier.step,
            earlier.deployment,
            earlier.execution_name,
            earlier.retry_count,
        ) == (
            request.machine,
            request.step,
            request.deployment,
            request.execution_name,
            request.retry_count,
        ), f"{request.where()} reuses job name {name!r} of {earlier.where()}"
    jobs = len(DEPLOYMENTS) * len(EXECUTION_NAMES) * len(RETRY_COUNTS)
    assert len(names) == jobs * len(example_app.stack.pipeline.steps) * len(
        example_app.state_machines
    )


def test_requests_respect_service_limits(example_app: SynthesizedApp) -> None:
    for request in render_requests(example_app):
        params, where = request.params, request.where()
        environment = params["Environment"]
        assert len(environment) <= 100, f"{where}: {len(environment)} environment entries"
        for key, value in environment.items():
            assert ENV_KEY.match(key), f"{where}: environment key {key!r}"
            assert isinstance(value, str), f"{where}: {key}={value!r} is not a string"
            assert len(value) <= 256, f"{where}: {key} is {len(value)} characters"
        app_spec = params["AppSpecification"]
        assert "ContainerEntrypoint" in app_spec, f"{where}: no ContainerEntrypoint"
        for field in ("ContainerEntrypoint", "ContainerArguments"):
            if field not in app_spec:
                continue
            items = app_spec[field]
            assert 1 <= len(items) <= 100, f"{where}: {field} has {len(items)} items"
            for item in items:
                assert isinstance(item, str), f"{where}: {field} item {item!r}"
                assert 1 <= len(item) <= 256, f"{where}: {field} item of {len(item)} chars"
        inputs = params["ProcessingInputs"]
        outputs = params["ProcessingOutputConfig"]["Outputs"]
        assert len(inputs) <= 10, f"{where}: {len(inputs)} inputs"
        assert len(outputs) <= 10, f"{where}: {len(outputs)} outputs"
        uris = [i["S3Input"]["S3Uri"] for i in inputs] + [o["S3Output"]["S3Uri"] for o in outputs]
        for uri in uris:
            assert len(uri) <= 1024, f"{where}: S3Uri of {len(uri)} characters"
            assert S3_URI.match(uri), f"{where}: S3Uri {uri!r}"


def test_outputs_follow_handoff_layout_per_execution(example_app: SynthesizedApp) -> None:
    """``<pipeline>/<step>/<channel>/<execution>/``: the execution last, never shared."""
    bucket, pipeline = example_app.bucket_name, example_app.pipeline_name
    prefixes: dict[str, set[str]] = {}
    for request in render_requests(example_app):
        execution = request.execution_name
        for output in request.params["ProcessingOutputConfig"]["Outputs"]:
            expected = (
                f"s3://{bucket}/{pipeline}/{request.step}/{output['OutputName']}/{execution}/"
            )
            assert output["S3Output"]["S3Uri"] == expected, request.where()
            prefixes.setdefault(execution, set()).add(expected)
        for channel in request.params["ProcessingInputs"]:
            uri = channel["S3Input"]["S3Uri"]
            if uri.startswith(f"s3://{bucket}/{pipeline}/"):
                assert uri.endswith(f"/{execution}/"), (
                    f"{request.where()}: reads {uri} of another run"
                )
    assert set(prefixes) == set(EXECUTION_NAMES)
    for first, second in itertools.combinations(EXECUTION_NAMES, 2):
        for a, b in itertools.product(prefixes[first], prefixes[second]):
            assert not a.startswith(b) and not b.startswith(a), f"{a} and {b} overlap"


def test_processing_tasks_have_timeout_retries_and_catch(example_app: SynthesizedApp) -> None:
    for machine in example_app.state_machines:
        for name, task in processing_tasks(machine.definition["States"]):
            runtime = task["Parameters"]["StoppingCondition"]["MaxRuntimeInSeconds"]
            timeout = task.get("TimeoutSeconds")
            assert isinstance(timeout, int), f"{name}: no TimeoutSeconds"
            assert timeout > runtime, f"{name}: TimeoutSeconds {timeout} <= job runtime"
            retried = {error for retry in task.get("Retry", []) for error in retry["ErrorEquals"]}
            assert retried == set(REQUIRED_RETRIES), f"{name}: Retry for {retried}"
            caught = [c for c in task.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
            assert caught, f"{name}: no Catch on States.ALL"


def _query_languages(states: Mapping[str, Any]) -> Iterator[str]:
    for state in states.values():
        if "QueryLanguage" in state:
            yield state["QueryLanguage"]
        for branch in state.get("Branches", []):
            yield from _query_languages(branch["States"])
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _query_languages(state[key]["States"])


def test_definitions_use_jsonpath_and_fit_size_limits(example_app: SynthesizedApp) -> None:
    for machine in example_app.state_machines:
        assert machine.definition.get("QueryLanguage") == "JSONPath", machine.logical_id
        assert set(_query_languages(machine.definition["States"])) <= {"JSONPath"}
        size = len(machine.text.encode())
        assert size < MAX_DOCUMENT_BYTES, f"{machine.logical_id}: definition of {size} bytes"
    for name, (text, _) in example_app.templates.items():
        size = len(text.encode())
        assert size < MAX_DOCUMENT_BYTES, f"{name}: template of {size} bytes"

"""Any execution input through the offline interpreter (moto's ASL interpreter): the
state machine starts the job with values that satisfy every declaration, or fails with
``InvalidParameters`` naming a parameter before anything is written and before any job.

One emulator and one state machine for the module: a small pipeline's definition
(:func:`build_definition`, one step using every parameter in its environment) created
through the emulator's Step Functions API, no cdk deploy. Every CreateProcessingJob call
is refused with an injected ``ValidationException`` (not retried), so no job runs: the
request the state machine made is read from the execution history, the params file from
S3.

The oracle is the container's own check (:func:`runtime.check_parameter`) without what a
state machine cannot measure: a string's length, a NUL character and regular expressions
that are no ``StringMatches`` glob (the runtime and the local CLI refuse those). Where
the offline engine is looser than AWS, the state machine holds both to AWS's rule (an
integer written ``10000000.0``, NaN and Infinity: see ``params._value_rules``).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import botocore.exceptions
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from constructs_sm import runtime
from constructs_sm.definition import build_definition
from constructs_sm.job import JobSettings
from constructs_sm.layout import RUN_STEP, execution_key
from constructs_sm.limits import JOB_NAME
from constructs_sm.local import Emulator, Fault
from constructs_sm.model import Resources
from constructs_sm.params import INVALID_PARAMETERS, Param, ParamRef
from constructs_sm.service_model import request_problems
from tests.local_deployment import Deployed, machine_role
from tests.strategies import execution_names, java_double

PIPELINE: Final = "Props"
STEP: Final = "fuzzed"
BUCKET: Final = "props-channel"
ACCOUNT: Final = "123456789012"
PARAMS: Final = {
    p.name: p
    for p in (
        Param.string("uri", pattern=r"^s3://", max_length=200),  # required, a glob
        Param.string("word", default="abc", pattern=r"^[a-z]+$", max_length=100),  # no glob
        Param.string("suffix", default="a.csv", pattern=r"\.csv$"),  # a glob; 1,024 chars
        Param.string("mode", default="fast", choices=["fast", "full"]),
        Param.integer("epochs", default=3, minimum=1, maximum=1000),
        Param.integer("seed", default=0),
        Param.number("rate", minimum=0, maximum=1),  # required
        Param.number("scale", default=1.0),
        Param.boolean("debug", default=False),
    )
}
#: Parameters whose pattern the state machine checks as a StringMatches glob.
GLOB_PATTERNS: Final = {"uri", "suffix"}
#: The step's environment: every parameter but ``suffix`` (up to 1,024 characters).
ENV: Final = {name.upper(): ParamRef(p) for name, p in PARAMS.items() if name != "suffix"}
SPECS: Final = {name: p.spec() for name, p in PARAMS.items()}


def definition() -> dict[str, Any]:
    settings_ = JobSettings(
        pipeline=PIPELINE,
        step=STEP,
        job_prefix="props-only-0123abcd",
        image_uri=f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/props:1",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/step",
        code_uri=f"s3://{BUCKET}/code/bundle.zip",
        script="step.py",
        kms_key_arn=None,
        resources=Resources(),
        environment=ENV,
    )
    return build_definition(
        pipeline=PIPELINE,
        bucket_name=BUCKET,
        params=PARAMS,
        steps={STEP: settings_},
        deps={STEP: []},
        partition="aws",
    )


@dataclass
class Machine:
    emulator: Emulator
    arn: str
    refused_calls: Fault
    names: Iterator[int]


@pytest.fixture(scope="module")
def machine(deployed: Deployed) -> Iterator[Machine]:
    """The session's emulator (moto keeps one global state), with this state machine."""
    emulator = deployed.emulator
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    # every CreateProcessingJob call of this step is refused (ValidationException: not
    # retried); the step's name is this module's own, so no other test meets the fault
    refused = emulator.inject(Fault("validation", step=STEP, times=10**9))
    created = emulator.client("stepfunctions").create_state_machine(
        name="props",
        definition=json.dumps(definition(), allow_nan=False),
        roleArn=machine_role(emulator),
    )
    yield Machine(emulator, created["stateMachineArn"], refused, itertools.count())
    emulator.faults.faults.remove(refused)


# -- inputs ------------------------------------------------------------------------------

ABSENT: Final = object()
SAFE = runtime.MAX_SAFE_INTEGER
#: JSON texts of values that are wrong for some type, or for every one.
odd_values = st.sampled_from(
    [
        "null", "true", "false", '"5"', '""', "[]", "[1]", '{"a": 1}', "NaN", "Infinity",
        "-Infinity", "1e400", "-1e400", "0", "-0.0", "5.0", "5.5", "1e7", "10000000.0",
        "9999999.0", "1E-7", str(SAFE), str(SAFE + 1), str(-SAFE - 1), "1" + "0" * 30,
    ]
)  # fmt: skip
#: Strings from pieces that matter to the checks: the glob patterns' literals, newlines
#: (Python's ``$`` matches before a final one), NUL, glob and intrinsic syntax, non-ASCII.
string_pieces = st.sampled_from(
    [*"abcz019 .:/*\\\"'{}\n\x00\u00fc\u2028", "s3://", ".csv", "\U0001f600"]
)
long_strings = st.builds(
    lambda head, size, tail: head + "a" * size + tail,
    st.sampled_from(["s3://", ""]),
    st.sampled_from([99, 100, 200, 1019, 1020, 1025]),
    st.sampled_from(["", ".csv", "\n"]),
)
string_texts = (st.lists(string_pieces, max_size=8).map("".join) | long_strings).map(json.dumps)
number_texts = st.one_of(
    st.integers(-5, 2000).map(str),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-2, 2).map(repr),
)
TEXTS: Final = {
    "string": string_texts | odd_values,
    "integer": number_texts | odd_values,
    "number": number_texts | odd_values,
    "boolean": st.sampled_from(["true", "false"]) | odd_values | string_texts,
}
pieces = st.lists(string_pieces, max_size=6).map("".join)
fractions = st.floats(0, 1)
#: Values each parameter's declaration allows, mostly: some break only what the state
#: machine cannot measure (a length, NUL, the pattern of ``word``).
LIKELY: Final = {
    "uri": (pieces.map(lambda text: "s3://" + text) | long_strings).map(json.dumps),
    "word": (st.from_regex(r"[a-z]{1,8}\Z") | pieces).map(json.dumps),
    "suffix": (pieces.map(lambda text: text + ".csv") | long_strings).map(json.dumps),
    "mode": st.sampled_from(['"fast"', '"full"']),
    "epochs": st.integers(1, 1000).flatmap(lambda n: st.sampled_from([str(n), f"{n}.0"])),
    "seed": st.integers(-SAFE, SAFE).map(str)
    | st.integers(-(10**6), 10**6).map(lambda n: f"{n}.0"),
    "rate": fractions.flatmap(lambda x: st.sampled_from([repr(x), java_double(x)])),
    "scale": st.floats(allow_nan=False, allow_infinity=False).flatmap(
        lambda x: st.sampled_from([repr(x), java_double(x)])
    ),
    "debug": st.sampled_from(["true", "false"]),
}


def value_texts(name: str) -> st.SearchStrategy[Any]:
    """Nineteen times in twenty a likely value, else absent or anything of any type."""
    unlikely = st.just(ABSENT) | TEXTS[PARAMS[name].type]
    return st.integers(0, 19).flatmap(lambda roll: LIKELY[name] if roll else unlikely)


inputs = st.fixed_dictionaries(
    {name: value_texts(name) for name in PARAMS},
    optional={"extra": st.sampled_from(["1", '"x"', "null"])},  # not a parameter: dropped
)


def input_text(given: dict[str, Any]) -> str:
    """The execution input, written by hand so that ``1e400`` stays ``1e400``."""
    return "{" + ", ".join(f'"{k}": {v}' for k, v in given.items() if v is not ABSENT) + "}"


# -- the oracle --------------------------------------------------------------------------

MISSING: Final = "is required"


def measurable_problem(name: str, raw: object) -> str | None:
    """Why the state machine must refuse ``raw`` (None: it must let it through)."""
    if raw is ABSENT:
        return MISSING
    declared = dict(SPECS[name])
    if name not in GLOB_PATTERNS:
        declared["pattern"] = None
    declared["max_length"] = 10**9
    if isinstance(raw, str):
        raw = raw.replace("\x00", "_")
    try:
        runtime.check_parameter(name, raw, declared)
    except runtime.ParameterError as error:
        return str(error)
    return None


def container_problem(name: str, raw: object) -> str | None:
    """What the container (and the local CLI) says of ``raw``; None when it accepts it."""
    try:
        runtime.check_parameter(name, raw, SPECS[name])
    except runtime.ParameterError as error:
        return str(error)
    return None


# -- running ----------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    error: str | None
    cause: str | None
    requests: list[dict[str, Any]]
    params_file: dict[str, Any] | None
    execution: str


def run(machine: Machine, text: str, name: str) -> Outcome:
    sfn = machine.emulator.client("stepfunctions")
    execution = f"{name[:70]}-{next(machine.names)}"
    arn = sfn.start_execution(stateMachineArn=machine.arn, name=execution, input=text)[
        "executionArn"
    ]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution {execution} did not end"
        time.sleep(0.01)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    requests = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in events
        if e["type"] == "TaskScheduled"
        and e["taskScheduledEventDetails"]["resourceType"] == "sagemaker"
    ]
    key = execution_key(PIPELINE, RUN_STEP, runtime.PARAMS_CHANNEL, execution, runtime.PARAMS_FILE)
    try:
        body = machine.emulator.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
        params_file = json.loads(body)
    except botocore.exceptions.ClientError:
        params_file = None
    return Outcome(
        described["status"], described.get("error"), described.get("cause"), requests,
        params_file, execution,
    )  # fmt: skip


CAUSE: Final = re.compile(r"^parameter '(?P<name>[a-z]+)' ")


def check_outcome(machine: Machine, given: dict[str, Any], execution_name: str) -> None:
    text = input_text(given)
    parsed = json.loads(text)  # Python reads NaN, Infinity and 1e400 (as inf)
    merged = {
        name: parsed.get(name, ABSENT if p.default is None else p.default)
        for name, p in PARAMS.items()
    }
    refusals = {n: why for n, raw in merged.items() if (why := measurable_problem(n, raw))}
    calls_before = machine.refused_calls.fired
    outcome = run(machine, text, execution_name)
    calls = machine.refused_calls.fired - calls_before
    event("refused" if refusals else "let through")
    if refusals:
        assert (outcome.status, outcome.error) == ("FAILED", INVALID_PARAMETERS), (
            refusals,
            outcome,
        )
        named = CAUSE.match(outcome.cause or "")
        assert named and named["name"] in refusals, (outcome.cause, refusals)
        assert (outcome.requests, calls, outcome.params_file) == ([], 0, None)
        return
    # Let through: one CreateProcessingJob call (refused by the injected fault).
    assert outcome.error == "SageMaker.AmazonSageMakerException", outcome
    assert (len(outcome.requests), calls) == (1, 1)
    request = outcome.requests[0]
    assert JOB_NAME.match(request["ProcessingJobName"])
    params_uri = next(
        i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"] if i["InputName"] == "params"
    )
    assert params_uri == f"s3://{BUCKET}/" + execution_key(
        PIPELINE, RUN_STEP, runtime.PARAMS_CHANNEL, outcome.execution
    )
    assert outcome.params_file is not None
    assert set(outcome.params_file) == set(PARAMS)  # undeclared keys dropped
    environment = request["Environment"]
    for name, raw in merged.items():
        problem = container_problem(name, raw)
        carried = outcome.params_file[name]
        # the container says the same of what it receives as the CLI of what was given
        assert container_problem(name, carried) == problem, (name, raw, carried)
        if problem is not None:  # a length, a NUL or a pattern: the runtime refuses it
            continue
        typed = runtime.check_parameter(name, raw, SPECS[name])
        received = runtime.check_parameter(name, carried, SPECS[name])
        assert type(received) is type(typed) and received == typed, (name, raw, carried)
        if name.upper() in environment:
            text_value = environment[name.upper()]
            from_env = runtime.parse_env_string(text_value, PARAMS[name].type)
            assert type(from_env) is type(typed) and from_env == typed, (name, text_value)
    if all(container_problem(n, raw) is None for n, raw in merged.items()):
        assert request_problems("CreateProcessingJob", request) == []


GOOD: Final = {"uri": '"s3://b/k"', "rate": "0.5", "debug": "true"}


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(given=inputs, name=execution_names)
@example(given=GOOD, name="plain")
@example(given={**GOOD, "rate": "1e-4", "epochs": "5.0", "seed": str(SAFE)}, name="ünïcode.名前")
@example(given={**GOOD, "rate": "NaN"}, name="nan")
@example(given={**GOOD, "scale": "1e400"}, name="huge")
@example(given={**GOOD, "seed": "10000000.0"}, name="exponent")
@example(given={**GOOD, "seed": str(SAFE + 1)}, name="unsafe")
@example(given={**GOOD, "suffix": json.dumps("a" * 1025 + ".csv")}, name="long")
@example(given={**GOOD, "word": '"ab\\u0000c"'}, name="nul")
@example(given={**GOOD, "suffix": json.dumps("x.csv\n")}, name="newline")
@example(given={"rate": "true", "debug": "1"}, name="types")
def test_any_input_starts_a_valid_job_or_fails_naming_a_parameter(
    machine: Machine, given: dict[str, Any], name: str
) -> None:
    check_outcome(machine, given, name)


def test_the_oracle_tells_measurable_problems_from_the_others() -> None:
    assert measurable_problem("uri", ABSENT) == MISSING
    assert measurable_problem("uri", "http://x") is not None  # a glob
    assert measurable_problem("word", "ABC") is None  # no glob: the runtime checks it
    assert container_problem("word", "ABC") is not None
    assert measurable_problem("suffix", "a" * 2000 + ".csv") is None  # length
    assert measurable_problem("word", "ab\x00") is None  # NUL
    assert measurable_problem("scale", math.inf) is not None
    assert measurable_problem("seed", 1e7) is not None

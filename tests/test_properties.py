"""Properties of the pure layers, over inputs Hypothesis makes up: Param declarations,
synth-time and container-side checks agreeing, job names and handoff prefixes.

Job names and handoff keys are rendered as Step Functions renders their intrinsic
expressions (``States.Format``, then ``States.Hash`` MD5) for any execution name AWS
accepts (see tests/strategies.py), state-entry time and retry count.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from statelint.linter import Linter

from constructs_sm import runtime
from constructs_sm.job import job_name_expression, job_name_prefix, pipeline_job_prefix
from constructs_sm.layout import (
    RUN_STEP,
    channel_key_expression,
    channel_prefix,
    channel_uri_expression,
    execution_key,
    params_prefix,
)
from constructs_sm.limits import JOB_NAME, S3_URI
from constructs_sm.param_checks import validation_states
from constructs_sm.params import Param
from tests.strategies import (
    channel_names,
    entered_times,
    execution_names,
    pipeline_names,
    retry_counts,
    step_names,
)

ARN = "arn:aws:states:us-east-1:123456789012:execution:{machine}:{execution}"
PROPERTY = settings(max_examples=100, deadline=None, database=None)

# -- a tiny renderer of the expressions under test ------------------------------------

_CALL = re.compile(r"(States\.Format|States\.Hash)\(")
_PATH = re.compile(r"\$\$?(\.[A-Za-z_]+)+")


def render(
    expression: str, state: dict[str, Any], context: dict[str, Any], hash_: bool = True
) -> Any:
    """Evaluate ``States.Format``/``States.Hash`` calls over paths and quoted literals.

    With ``hash_=False`` ``States.Hash`` returns its input, to look at what is hashed.
    """
    value, end = _argument(expression, 0, state, context, hash_)
    assert end == len(expression), expression[end:]
    return value


def _argument(text: str, at: int, state: Any, context: Any, hash_: bool) -> tuple[Any, int]:
    while text[at] == " ":
        at += 1
    if text[at] == "'":
        chars, at = [], at + 1
        while text[at] != "'":
            if text[at] == "\\":
                at += 1
                chars.append("\\" if text[at] in "{}" else "")  # keep \{ \} for Format
            chars.append(text[at])
            at += 1
        return "".join(chars), at + 1
    if path := _PATH.match(text, at):
        root = context if path.group(0).startswith("$$") else state
        value = root
        for key in path.group(0).lstrip("$").strip(".").split("."):
            value = value[key]
        return value, path.end()
    call = _CALL.match(text, at)
    assert call is not None, text[at:]
    arguments, at = [], call.end()
    while True:
        value, at = _argument(text, at, state, context, hash_)
        arguments.append(value)
        if text[at] == ")":
            at += 1
            break
        assert text[at] == ",", text[at:]
        at += 1
    if call.group(1) == "States.Hash":
        data, algorithm = arguments
        assert algorithm == "MD5"
        return (hashlib.md5(data.encode()).hexdigest() if hash_ else data), at
    template, values = arguments[0], [_format_value(v) for v in arguments[1:]]
    pieces = re.split(r"(\\[{}]|\{\})", template)
    out, index = [], 0
    for piece in pieces:
        if piece == "{}":
            out.append(values[index])
            index += 1
        else:
            out.append(piece.replace("\\{", "{").replace("\\}", "}"))
    assert index == len(values), (template, values)
    return "".join(out), at


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


# -- Param declarations ----------------------------------------------------------------

#: Anything at all, for arguments: JSON-ish values, huge numbers, NaN, objects, iterators.
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**53 + 1]),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.lists(st.one_of(st.integers(-3, 3), st.floats(), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(object),
    st.sampled_from([r"^s3://", "(", r"\d+", "[a-", r"\.csv$", "a\x00"]),
)
names = st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,39}\Z"), anything)


def _typed(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Sensible arguments of a type (so that many declarations construct), or anything."""
    return st.one_of(values, values, anything)


_numbers = st.integers(-50, 50) | st.floats(-50, 50)
FACTORIES: dict[str, tuple[Callable[..., Param], dict[str, st.SearchStrategy[Any]]]] = {
    "string": (
        Param.string,
        {
            "default": _typed(st.text(max_size=8)),
            "choices": _typed(st.lists(st.text(max_size=4), max_size=3)),
            "pattern": _typed(st.sampled_from([r"^s3://", r"\.csv$", "^[a-z]*$", "x"])),
            "max_length": _typed(st.integers(-2, 2000)),
            "description": _typed(st.text(max_size=8)),
        },
    ),
    "integer": (
        Param.integer,
        {
            "default": _typed(st.integers(-50, 50)),
            "minimum": _typed(st.integers(-50, 50)),
            "maximum": _typed(st.integers(-50, 50)),
            "choices": _typed(st.lists(st.integers(-50, 50), max_size=3)),
            "description": _typed(st.text(max_size=8)),
        },
    ),
    "number": (
        Param.number,
        {
            "default": _typed(_numbers),
            "minimum": _typed(_numbers),
            "maximum": _typed(_numbers),
            "choices": _typed(st.lists(_numbers, max_size=3)),
            "description": _typed(st.text(max_size=8)),
        },
    ),
    "boolean": (
        Param.boolean,
        {"default": _typed(st.booleans()), "description": _typed(st.text(max_size=8))},
    ),
}


@st.composite
def declarations(draw: st.DrawFn) -> tuple[Callable[..., Param], Any, dict[str, Any]]:
    kind = draw(st.sampled_from([*FACTORIES, "constructor"]))
    name = draw(names)
    if kind == "constructor":  # Param(name, type, ...) with any type at all
        arguments = {"type": draw(st.sampled_from(runtime.TYPES) | anything)}
        arguments.update(draw(st.fixed_dictionaries({}, optional=FACTORIES["string"][1])))
        return Param, name, arguments
    factory, optional = FACTORIES[kind]
    return factory, name, draw(st.fixed_dictionaries({}, optional=optional))


def test_nonsense_declarations_are_refused_naming_the_parameter() -> None:
    """Examples the property below found crashing or accepted before they were fixed."""
    for factory, arguments in (
        (Param.number, {"default": 10**400}),
        (Param.number, {"minimum": 10**400}),
        (Param.string, {"choices": "abc"}),
        (Param.integer, {"choices": 5}),
        (Param.string, {"description": 5}),
        (Param.string, {"default": "a\x00b"}),
        (Param.string, {"choices": ["a\x00b"]}),
        (Param.string, {"choices": ["abc"], "max_length": 2}),
        (Param.integer, {"choices": [2**53 + 1]}),
    ):
        try:
            factory("p", **arguments)
        except (TypeError, ValueError) as error:
            assert str(error).startswith("Param 'p': "), error
        else:
            raise AssertionError(f"{factory.__name__}(**{arguments!r}) was accepted")


@settings(max_examples=200, deadline=None, database=None)
@given(declaration=declarations())
def test_every_declaration_constructs_or_names_the_parameter(
    declaration: tuple[Callable[..., Param], Any, dict[str, Any]],
) -> None:
    """Any factory, any arguments: a Param whose checks render into valid ASL and whose
    default the container accepts, or a TypeError/ValueError naming the parameter."""
    factory, name, arguments = declaration
    try:
        param = factory(name, **arguments)
    except (TypeError, ValueError) as error:
        assert str(error).startswith(f"Param {name!r}: "), error
        return
    assert isinstance(param, Param)
    start, states = validation_states({param.name: param}, next_state="Done")
    definition = {"StartAt": start, "States": {**states, "Done": {"Type": "Succeed"}}}
    text = json.dumps(definition, allow_nan=False)  # what CDK puts in the template
    assert Linter.validate(json.loads(text)) == []
    spec = json.loads(json.dumps(param.spec(), allow_nan=False))
    for value in (param.default, *(param.choices or ())):
        if value is not None:
            assert runtime.check_parameter(param.name, value, spec) == value


_SENSIBLE: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "string": {
        "default": st.sampled_from(["s3://x", "a.csv", "abc", ""]),
        "choices": st.lists(st.sampled_from(["fast", "a.csv", "s3://x", "abc"]), min_size=1),
        "pattern": st.sampled_from([r"^s3://", r"\.csv$", "^[a-z]*$", "a|b"]),
        "max_length": st.integers(1, 12),
    },
    "integer": {
        "default": st.integers(-5, 5),
        "minimum": st.integers(-60, 0),
        "maximum": st.integers(0, 60),
        "choices": st.lists(st.integers(-5, 5), min_size=1, unique=True),
    },
    "number": {
        "default": st.integers(-5, 5) | st.floats(-5, 5),
        "minimum": st.integers(-60, 0) | st.floats(-60, 0),
        "maximum": st.integers(0, 60) | st.floats(0, 60),
        "choices": st.lists(st.floats(-5, 5) | st.integers(-5, 5), min_size=1, unique=True),
    },
    "boolean": {"default": st.booleans()},
}


@st.composite
def valid_params(draw: st.DrawFn) -> Param:
    """Declarations that construct (the property above shows the others are refused)."""
    kind = draw(st.sampled_from(list(FACTORIES)))
    arguments = draw(st.fixed_dictionaries({}, optional=_SENSIBLE[kind]))
    try:
        return FACTORIES[kind][0]("p", **arguments)
    except (TypeError, ValueError):  # a default outside its bounds or choices...
        assume(False)
        raise  # unreachable: assume(False) stops the example


#: Values of each declared type, in the Python types JSON reads them as.
typed_values: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=10)
    | st.sampled_from(["s3://x", "a.csv", "a.csv\n", "abc", "x" * 1025, "a\x00", "fast"]),
    "integer": st.integers(-60, 60) | st.integers(),
    "number": st.integers(-60, 60) | st.integers() | st.floats(),
    "boolean": st.booleans(),
}


@settings(max_examples=200, deadline=None, database=None)
@given(param=valid_params(), data=st.data())
def test_synth_and_container_agree_on_every_value(param: Param, data: st.DataObject) -> None:
    """``Param.check`` (defaults at synth) and ``runtime.check_parameter`` (the container
    and the local CLI) accept the same values of the declared type."""
    value = data.draw(typed_values[param.type])
    try:
        runtime.check_parameter(param.name, value, param.spec())
        container: str | None = None
    except runtime.ParameterError as error:
        container = str(error)
    synth = param.check(value)
    assert (synth is None) == (container is None), (synth, container)


# -- job names ----------------------------------------------------------------------------


def job_name(prefix: str, step: str, execution_arn: str, entered: str, retry: int) -> str:
    context = {
        "Execution": {"Id": execution_arn},
        "State": {"EnteredTime": entered, "RetryCount": retry},
    }
    return str(render(job_name_expression(prefix, step), {}, context))


def hashed_text(prefix: str, step: str, execution_arn: str, entered: str, retry: int) -> str:
    """The job name with the hash's input instead of the hash: ``<prefix>-<hashed text>``."""
    context = {
        "Execution": {"Id": execution_arn},
        "State": {"EnteredTime": entered, "RetryCount": retry},
    }
    return str(render(job_name_expression(prefix, step), {}, context, hash_=False))


jobs = st.tuples(
    pipeline_names,  # pipeline
    step_names,  # step
    st.text(max_size=30),  # identity: the pipeline's construct path (and stack name)
    execution_names,  # state machine name
    execution_names,  # execution name
    entered_times,  # a new entry: a retry by the retry states, or a redrive
    retry_counts,  # a Retrier's attempt
)


@PROPERTY
@given(job=jobs)
@example(job=("P", "s", "", "m", "e" * 80, "2026-01-01T00:00:00.000Z", 99_999_999))
@example(job=("a" * 40, "b" * 40, "", "m" * 80, "ü" * 80, "2026-01-01T00:00:00.000Z", 0))
def test_job_names_are_always_valid(job: tuple[str, str, str, str, str, str, int]) -> None:
    pipeline, step, identity, machine, execution, entered, retry = job
    prefix = job_name_prefix(pipeline_job_prefix(pipeline, identity), step)
    assert JOB_NAME.match(prefix)
    assert len(prefix) <= 28
    arn = ARN.format(machine=machine, execution=execution)
    name = job_name(prefix, step, arn, entered, retry)
    assert JOB_NAME.match(name), name
    assert len(name) <= 63
    assert re.fullmatch(re.escape(prefix) + "-[0-9a-f]{32}", name)


@PROPERTY
@given(first=jobs, second=jobs)
def test_job_names_never_collide(
    first: tuple[str, str, str, str, str, str, int],
    second: tuple[str, str, str, str, str, str, int],
) -> None:
    """Two jobs that differ in anything (pipeline, step, deployment, state machine,
    execution, state entry - a retry by the retry states or a redrive -, a Retrier's
    attempt) hash different texts, and no step's prefix covers another step's names."""
    assume(first != second)
    texts, names, prefixes = [], [], []
    for pipeline, step, identity, machine, execution, entered, retry in (first, second):
        prefix = job_name_prefix(pipeline_job_prefix(pipeline, identity), step)
        arn = ARN.format(machine=machine, execution=execution)
        prefixes.append(prefix)
        texts.append(hashed_text(prefix, step, arn, entered, retry))
        names.append(job_name(prefix, step, arn, entered, retry))
    if first[:3] == second[:3]:  # the same step: the hashed texts tell the jobs apart
        assert texts[0] != texts[1]
        assert names[0] != names[1]
    else:  # different steps: different prefixes, and IAM's "<prefix>-*" stays apart
        assert prefixes[0] != prefixes[1]
        assert not names[1].startswith(prefixes[0] + "-")
        assert not names[0].startswith(prefixes[1] + "-")


@PROPERTY
@given(step=step_names, retry=retry_counts, machine=execution_names, execution=execution_names)
def test_the_hashed_text_keeps_every_part_apart(
    step: str, retry: int, machine: str, execution: str
) -> None:
    """Names hold no ``/`` or ``:``, so the hashed ``<execution ARN>/<step>/<time>/<retry>``
    splits back into exactly its parts."""
    arn = ARN.format(machine=machine, execution=execution)
    text = hashed_text("p-00000000", step, arn, "2026-01-01T00:00:00.000Z", retry)
    assert text.startswith("p-00000000-")
    assert text.removeprefix("p-00000000-").split("/") == [
        arn,
        step,
        "2026-01-01T00:00:00.000Z",
        str(retry),
    ]
    assert arn.split(":")[-2:] == [machine, execution]


# -- handoff prefixes -------------------------------------------------------------------

handoffs = st.tuples(pipeline_names, step_names | st.just(RUN_STEP), channel_names, execution_names)
#: Characters Java's ``.`` does not match (the API's S3Uri pattern ``(https|s3)://([^/]+)/?(.*)``).
_JAVA_LINE_TERMINATORS = "\n\r\u0085\u2028\u2029"
BUCKET = "b" * 63


@PROPERTY
@given(handoff=handoffs)
@example(handoff=("a" * 40, "b" * 40, "c" * 64, "\U0001f600" * 80))
def test_handoff_keys_are_valid_s3_keys_and_uris(handoff: tuple[str, str, str, str]) -> None:
    pipeline, step, channel, execution = handoff
    key = execution_key(pipeline, step, channel, execution, "values.json")
    assert len(key.encode("utf-8")) <= 1024  # S3's limit on a key
    assert not key.startswith("/") and "//" not in key
    state = {"run": {"bucket": BUCKET, "execution": execution}}
    uri = render(channel_uri_expression(pipeline, step, channel), state, {})
    assert uri == f"s3://{BUCKET}/{execution_key(pipeline, step, channel, execution)}"
    assert len(uri) <= 1024 and S3_URI.match(uri)
    assert not any(char in uri for char in _JAVA_LINE_TERMINATORS)
    assert render(channel_key_expression(pipeline, step, channel, "values.json"), state, {}) == key
    assert key.startswith(channel_prefix(pipeline, step, channel))


@PROPERTY
@given(first=handoffs, second=handoffs)
def test_handoff_prefixes_never_nest(
    first: tuple[str, str, str, str], second: tuple[str, str, str, str]
) -> None:
    """Two executions, steps, channels or pipelines never share or nest a prefix: neither
    data (``.../E1/`` vs ``.../E10/``) nor grants (``<pipeline>/<step>/<channel>/``). A retry
    or redrive of a step writes its own execution's prefix again, by design: a redrive
    finds the completed steps' outputs where it expects them."""
    assume(first != second)
    a, b = execution_key(*first), execution_key(*second)
    assert not a.startswith(b) and not b.startswith(a)
    grants = channel_prefix(*first[:3]), channel_prefix(*second[:3])
    if first[:3] != second[:3]:
        assert not grants[0].startswith(grants[1]) and not grants[1].startswith(grants[0])
    assert params_prefix(first[0]) == channel_prefix(first[0], RUN_STEP, runtime.PARAMS_CHANNEL)


def test_the_renderer_formats_like_step_functions() -> None:
    """The renderer the properties rely on: escapes, paths, MD5."""
    state = {"a": "x", "n": 5}
    assert render(r"States.Format('\{\}{}-{}', $.a, $.n)", state, {}) == "{}x-5"
    assert render("States.Hash($.a, 'MD5')", state, {}) == hashlib.md5(b"x").hexdigest()
    assert render("States.Hash($.a, 'MD5')", state, {}, hash_=False) == "x"
    assert render("States.Format('it\\'s {}', $$.E.Id)", {}, {"E": {"Id": 1.5}}) == "it's 1.5"

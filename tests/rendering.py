"""Rendering a synthesized state machine's requests as Step Functions would (for tests).

- CloudFormation references in a template are replaced by sample values
  (:func:`resolve_cfn`);
- a small evaluator runs the JSONPath and intrinsic functions the library uses against a
  sample state and context object (:func:`render`), stricter than Step Functions: it
  refuses what it does not know;
- :func:`render_requests` renders every ``createProcessingJob`` task of an app for
  sample execution names, inputs (minimal and worst-case values), retries and
  deployments.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from constructs_sm import ChannelBucket, Param, ProcessingPipeline
from constructs_sm.assembly import with_hosted_definitions
from constructs_sm.local.cfn_fixes import substitute

REPO = Path(__file__).resolve().parent.parent

PARTITION = "aws"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO_PARAMETERS: Mapping[str, str] = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "ChurnPipeline",
}
KMS_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
SAMPLE_BUCKET = "sample-bucket"
ENTERED_TIME = "2026-01-01T00:00:00Z"
#: Stack names the app is deployed as: two deployments in one account and region.
DEPLOYMENTS = ("ChurnPipeline", "ChurnPipelineStaging")
#: Execution names: short ones where one is a prefix of another, the 80-character
#: maximum, punctuation and non-ASCII letters Step Functions accepts.
EXECUTION_NAMES = ("exec-1", "exec-10", "e" * 80, "Nightly_run.2026-01-01", "prüfung-ü")
RETRY_COUNTS = range(4)

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
S3_URI = re.compile(r"^(https|s3)://([^/]+)/?(.*)$")
ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
PROCESSING_JOB_RESOURCE = re.compile(
    r"^arn:[a-z-]+:states:::sagemaker:createProcessingJob(\.sync)?$"
)
#: Step Functions definitions and CloudFormation templates (from S3) are limited to 1 MB.
MAX_DOCUMENT_BYTES = 1_000_000


# -- CloudFormation references -> sample values ---------------------------------------


class UnresolvableError(AssertionError):
    """A template value the sample resolver does not know how to replace."""


def _bucket_name(logical_id: str) -> str:
    return f"sample-{logical_id.lower()}"[:63]


def _sample_ref(resources: Mapping[str, Any], name: str) -> str:
    if name in PSEUDO_PARAMETERS:
        return PSEUDO_PARAMETERS[name]
    if name not in resources:
        raise UnresolvableError(f"Ref to unknown resource or parameter {name!r}")
    resource_type = resources[name]["Type"]
    if resource_type == "AWS::S3::Bucket":
        return _bucket_name(name)
    if resource_type == "AWS::EC2::Subnet":
        return f"subnet-{abs(hash(name)) % 16**17:017x}"
    raise UnresolvableError(f"no sample value for Ref {name} ({resource_type})")


def _sample_attribute(resources: Mapping[str, Any], name: str, attribute: str) -> str:
    if name not in resources:
        raise UnresolvableError(f"Fn::GetAtt of unknown resource {name!r}")
    resource_type = resources[name]["Type"]
    samples = {
        ("AWS::IAM::Role", "Arn"): f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
        ("AWS::KMS::Key", "Arn"): f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{KMS_KEY_ID}",
        ("AWS::S3::Bucket", "Arn"): f"arn:{PARTITION}:s3:::{_bucket_name(name)}",
        ("AWS::EC2::SecurityGroup", "GroupId"): f"sg-{abs(hash(name)) % 16**17:017x}",
    }
    if (resource_type, attribute) not in samples:
        raise UnresolvableError(f"no sample value for Fn::GetAtt {name}.{attribute}")
    return samples[resource_type, attribute]


def _substitute(resources: Mapping[str, Any], text: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return variables[name]
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return _sample_attribute(resources, logical_id, attribute)
        return _sample_ref(resources, name)

    return re.sub(r"\$\{([^}]+)\}", replace, text)


def resolve_cfn(resources: Mapping[str, Any], value: Any) -> Any:
    """Replace Ref, Fn::GetAtt, Fn::Sub and Fn::Join in ``value`` by sample values."""
    if isinstance(value, list):
        return [resolve_cfn(resources, item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return _sample_ref(resources, argument)
        if key == "Fn::GetAtt":
            logical_id, attribute = (
                argument.split(".", 1) if isinstance(argument, str) else argument
            )
            return _sample_attribute(resources, logical_id, attribute)
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            resolved = {k: resolve_cfn(resources, v) for k, v in variables.items()}
            return _substitute(resources, text, resolved)
        if key == "Fn::Join":
            delimiter, parts = argument
            texts = [resolve_cfn(resources, part) for part in parts]
            if not all(isinstance(text, str) for text in texts):
                raise UnresolvableError(f"Fn::Join of non-strings: {texts!r}")
            return str(delimiter).join(texts)
        if key.startswith("Fn::") or key == "Condition":
            raise UnresolvableError(f"no sample resolution for {key}")
    return {key: resolve_cfn(resources, item) for key, item in value.items()}


# -- JSONPath and intrinsic functions ---------------------------------------------------


class EvaluationError(AssertionError):
    """An expression outside the evaluated subset, or one that fails at run time."""


_PATH = re.compile(r"^\$\$?(?:\.[A-Za-z0-9_-]+|\[\d+\])*$")
_PATH_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
_FORMAT_ESCAPES = frozenset("'{}\\")


def read_path(path: str, state: Any, context: Any) -> Any:
    """``$.a.b[0]`` in the state, ``$$.Execution.Id`` in the context object."""
    if not _PATH.match(path):
        raise EvaluationError(f"unsupported JSONPath {path!r}")
    is_context = path.startswith("$$")
    value = context if is_context else state
    for match in _PATH_SEGMENT.finditer(path[2 if is_context else 1 :]):
        key, index = match.groups()
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                raise EvaluationError(f"{path}: no field {key!r} in {value!r}")
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise EvaluationError(f"{path}: no item [{index}] in {value!r}")
            value = value[int(index)]
    return value


@dataclass(frozen=True)
class _Literal:
    """A single-quoted string argument; ``raw`` keeps its backslash escapes."""

    raw: str

    @property
    def text(self) -> str:
        return re.sub(r"\\(.)", r"\1", self.raw, flags=re.DOTALL)


def _java_number(value: int | float) -> str:
    """A JSON number as Step Functions prints it (Java's ``Double.toString`` for floats)."""
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise EvaluationError(f"not a JSON number: {value!r}")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "e" not in text else format(Decimal(text), "f")
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    power = exponent + len(mantissa) - 1
    fraction = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{fraction}E{power}"


def _format_argument(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _java_number(value)
    raise EvaluationError(f"States.Format cannot format {value!r}")


def _states_format(template: Any, *arguments: Any) -> str:
    if not isinstance(template, _Literal):
        raise EvaluationError(f"States.Format needs a string literal template, got {template!r}")
    pieces: list[str] = []
    count, raw, index = 0, template.raw, 0
    while index < len(raw):
        char = raw[index]
        if char == "\\":
            pieces.append(raw[index + 1])
            index += 2
        elif raw.startswith("{}", index):
            if count >= len(arguments):
                raise EvaluationError(f"States.Format: too few arguments for {raw!r}")
            pieces.append(_format_argument(arguments[count]))
            count += 1
            index += 2
        elif char in "{}":
            raise EvaluationError(f"States.Format: unescaped {char!r} in {raw!r}")
        else:
            pieces.append(char)
            index += 1
    if count != len(arguments):
        raise EvaluationError(f"States.Format: {len(arguments)} arguments for {count} {{}}")
    return "".join(pieces)


_HASHES: Mapping[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


def _states_hash(data: Any, algorithm: Any) -> str:
    if not isinstance(data, str) or not isinstance(algorithm, str):
        raise EvaluationError(f"States.Hash needs two strings, got {data!r}, {algorithm!r}")
    if algorithm not in _HASHES:
        raise EvaluationError(f"States.Hash: unknown algorithm {algorithm!r}")
    return str(_HASHES[algorithm](data.encode()).hexdigest())


def _states_json_merge(first: Any, second: Any, deep: Any) -> dict[str, Any]:
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise EvaluationError(f"States.JsonMerge needs two objects, got {first!r}, {second!r}")
    if deep is not False:
        raise EvaluationError(f"States.JsonMerge: only shallow merges (false), got {deep!r}")
    return {**first, **second}


def _states_json_to_string(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _states_string_to_json(text: Any) -> Any:
    if not isinstance(text, str):
        raise EvaluationError(f"States.StringToJson needs a string, got {text!r}")
    return json.loads(text)


def _states_array(*items: Any) -> list[Any]:
    return list(items)


def _states_base64_decode(text: Any) -> str:
    if not isinstance(text, str) or len(text) > 10_000:
        raise EvaluationError(f"States.Base64Decode needs a string of 10,000 at most, got {text!r}")
    return base64.b64decode(text, validate=True).decode()


def _states_string_split(text: Any, delimiters: Any) -> list[str]:
    """Splits on any of the delimiter characters, dropping empty parts (AWS's behaviour)."""
    if not isinstance(text, str) or not isinstance(delimiters, str) or not delimiters:
        raise EvaluationError(f"States.StringSplit needs strings, got {text!r}, {delimiters!r}")
    pattern = "|".join(re.escape(c) for c in delimiters)
    return [part for part in re.split(pattern, text) if part]


def _states_array_get_item(array: Any, index: Any) -> Any:
    if not isinstance(array, list) or not isinstance(index, int) or not 0 <= index < len(array):
        raise EvaluationError(f"States.ArrayGetItem({array!r}, {index!r}): no such item")
    return array[index]


_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "States.Format": _states_format,
    "States.Hash": _states_hash,
    "States.JsonMerge": _states_json_merge,
    "States.JsonToString": _states_json_to_string,
    "States.StringToJson": _states_string_to_json,
    "States.Array": _states_array,
    "States.Base64Decode": _states_base64_decode,
    "States.StringSplit": _states_string_split,
    "States.ArrayGetItem": _states_array_get_item,
}
_ARITY: Mapping[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.JsonToString": (1, 1),
    "States.StringToJson": (1, 1),
    "States.Array": (0, None),
    "States.Base64Decode": (1, 1),
    "States.StringSplit": (2, 2),
    "States.ArrayGetItem": (2, 2),
}


class _IntrinsicParser:
    """Recursive descent over ``States.Fn(arg, ...)`` with paths, literals and calls."""

    def __init__(self, text: str, state: Any, context: Any) -> None:
        self.text, self.position = text, 0
        self.state, self.context = state, context

    def fail(self, problem: str) -> EvaluationError:
        return EvaluationError(f"{problem} at {self.position} in {self.text!r}")

    def skip_spaces(self) -> None:
        while self.position < len(self.text) and self.text[self.position] == " ":
            self.position += 1

    def evaluate(self) -> Any:
        value = self.call()
        if self.position != len(self.text):
            raise self.fail("trailing text")
        return value

    def call(self) -> Any:
        match = re.compile(r"States\.[A-Za-z0-9]+").match(self.text, self.position)
        if match is None:
            raise self.fail("expected an intrinsic function")
        name = match.group(0)
        if name not in _FUNCTIONS:
            raise self.fail(f"unknown intrinsic function {name}")
        self.position = match.end()
        if not self.text.startswith("(", self.position):
            raise self.fail("expected '('")
        self.position += 1
        arguments: list[Any] = []
        self.skip_spaces()
        if self.text.startswith(")", self.position):
            self.position += 1
        else:
            while True:
                arguments.append(self.argument())
                self.skip_spaces()
                if self.text.startswith(",", self.position):
                    self.position += 1
                elif self.text.startswith(")", self.position):
                    self.position += 1
                    break
                else:
                    raise self.fail("expected ',' or ')'")
        low, high = _ARITY[name]
        if len(arguments) < low or (high is not None and len(arguments) > high):
            raise self.fail(f"{name} takes {low}..{high} arguments, got {len(arguments)}")
        # Only States.Format's template keeps its escapes: it marks the placeholders.
        keep = 1 if name == "States.Format" else 0
        arguments[keep:] = [a.text if isinstance(a, _Literal) else a for a in arguments[keep:]]
        return _FUNCTIONS[name](*arguments)

    def argument(self) -> Any:
        self.skip_spaces()
        rest = self.text[self.position :]
        if rest.startswith("States."):
            return self.call()
        if rest.startswith("'"):
            return self.literal()
        if rest.startswith("$"):
            match = re.compile(r"\$[^,) ]*").match(self.text, self.position)
            assert match is not None
            self.position = match.end()
            return read_path(match.group(0), self.state, self.context)
        constant = re.compile(r"-?\d+(\.\d+)?|true|false|null").match(self.text, self.position)
        if constant is None:
            raise self.fail("unsupported argument")
        self.position = constant.end()
        return json.loads(constant.group(0))

    def literal(self) -> _Literal:
        start = self.position = self.position + 1
        while self.position < len(self.text):
            char = self.text[self.position]
            if char == "\\":
                escaped = self.text[self.position + 1 : self.position + 2]
                if escaped not in _FORMAT_ESCAPES:
                    raise self.fail(f"unsupported escape \\{escaped}")
                self.position += 2
            elif char == "'":
                self.position += 1
                return _Literal(self.text[start : self.position - 1])
            else:
                self.position += 1
        raise self.fail("unterminated string literal")


def evaluate(expression: str, state: Any, context: Any) -> Any:
    """The value of a ``.$`` field: a JSONPath or an intrinsic function call."""
    if expression.startswith("$"):
        return read_path(expression, state, context)
    if expression.startswith("States."):
        return _IntrinsicParser(expression, state, context).evaluate()
    raise EvaluationError(f"neither a path nor an intrinsic function: {expression!r}")


def render(template: Any, state: Any, context: Any) -> Any:
    """A ``Parameters`` template with every ``key.$`` evaluated and renamed to ``key``."""
    if isinstance(template, list):
        return [render(item, state, context) for item in template]
    if not isinstance(template, dict):
        return template
    rendered: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            if not isinstance(value, str):
                raise EvaluationError(f"{key} must hold a string expression, got {value!r}")
            rendered[key[:-2]] = evaluate(value, state, context)
        else:
            rendered[key] = render(value, state, context)
    return rendered


# -- the synthesized app -------------------------------------------------------------------


@dataclass(frozen=True)
class StateMachine:
    """A state machine of the assembly, its definition resolved with sample values."""

    template: str
    logical_id: str
    text: str
    definition: dict[str, Any]


class PipelineStack(Protocol):
    """A stack with one pipeline and its storage, as the example's and the test stacks."""

    @property
    def pipeline(self) -> ProcessingPipeline: ...

    @property
    def storage(self) -> ChannelBucket: ...

    @property
    def artifact_id(self) -> str: ...

    def resolve(self, obj: Any) -> Any: ...


@dataclass(frozen=True)
class SynthesizedApp:
    """A synthesized stack's templates and state machines, with its pipeline's view."""

    stack: PipelineStack
    #: Template file name -> (its text, the parsed template).
    templates: dict[str, tuple[str, dict[str, Any]]]
    state_machines: list[StateMachine]

    @property
    def pipeline_name(self) -> str:
        return self.stack.pipeline.pipeline_name

    @property
    def params(self) -> Mapping[str, Param]:
        return self.stack.pipeline.params

    @property
    def bucket_name(self) -> str:
        resources = self.templates[f"{self.stack.artifact_id}.template.json"][1]["Resources"]
        name = resolve_cfn(resources, self.stack.resolve(self.stack.storage.bucket.bucket_name))
        assert isinstance(name, str)
        return name


def synthesized_app(outdir: Path, stack: PipelineStack) -> SynthesizedApp:
    """The templates and state machines of a synthesized cloud assembly."""
    templates: dict[str, tuple[str, dict[str, Any]]] = {}
    machines: list[StateMachine] = []
    for path in sorted(outdir.glob("*.template.json")):
        text = path.read_text()
        template = json.loads(text)
        templates[path.name] = (text, template)
        resources = template.get("Resources", {})
        # A hosted definition (DefinitionS3Location) is read back from its asset.
        readable = with_hosted_definitions(template, outdir)["Resources"]
        for logical_id, resource in readable.items():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            properties = resource["Properties"]
            assert "DefinitionString" in properties, f"{logical_id}: no DefinitionString"
            definition_text = resolve_cfn(resources, properties["DefinitionString"])
            assert isinstance(definition_text, str)
            substitutions = resolve_cfn(resources, properties.get("DefinitionSubstitutions", {}))
            definition_text = substitute(definition_text, substitutions)
            machines.append(
                StateMachine(path.name, logical_id, definition_text, json.loads(definition_text))
            )
    assert templates, f"no templates in {outdir}"
    assert machines, "the app has no state machine"
    return SynthesizedApp(stack, templates, machines)


# -- sample executions -----------------------------------------------------------------------


def _sample_value(param: Param, *, extreme: bool) -> Any:
    """A value ``param`` accepts; ``extreme`` picks long strings and boundary numbers."""
    if param.type == "string":
        if param.choices:
            return param.choices[-1] if extreme else param.choices[0]
        prefix = f"s3://{SAMPLE_BUCKET}/data/{param.name}/"
        return prefix + "x" * (param.longest - len(prefix)) if extreme else prefix
    if param.type == "boolean":
        return param.default is not True if extreme else True
    if param.choices:
        return param.choices[-1] if extreme else param.choices[0]
    bound = param.minimum if param.type == "number" else param.maximum
    if extreme and bound is not None:
        return bound
    if param.minimum is not None:
        return param.minimum
    return 7 if param.type == "integer" else 0.5


def sample_inputs(params: Mapping[str, Param]) -> list[dict[str, Any]]:
    """Execution inputs: required params only (defaults apply), then every param set."""
    minimal = {n: _sample_value(p, extreme=False) for n, p in params.items() if p.required}
    full = {n: _sample_value(p, extreme=True) for n, p in params.items()}
    for values in (minimal, full):
        for name, value in values.items():
            problem = params[name].check(value)
            assert problem is None, f"bad sample for {name}: {problem}"
    return [minimal, full]


_RETURN_SAMPLES: Mapping[str, Any] = {
    "string": "sample",
    "integer": 123456,
    "number": 0.123456789012345,
    "boolean": True,
}


def sample_context(
    machine: StateMachine,
    execution_name: str,
    execution_input: Any,
    retry_count: int,
    deployment: str = DEPLOYMENTS[0],
) -> dict[str, Any]:
    """The context object ($$) of a task state of ``machine``'s execution, with the state
    machine named as CloudFormation names it in the stack ``deployment``."""
    name = f"{deployment}-{machine.logical_id}"
    machine_arn = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    return {
        "Execution": {
            "Id": f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:execution:{name}:{execution_name}",
            "Name": execution_name,
            "Input": execution_input,
            "StartTime": ENTERED_TIME,
            "RoleArn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/StateMachineRole",
        },
        "State": {"EnteredTime": ENTERED_TIME, "Name": "task", "RetryCount": retry_count},
        "StateMachine": {"Id": machine_arn, "Name": name},
    }


def sample_state(
    app: SynthesizedApp, machine: StateMachine, execution_name: str, execution_input: Any
) -> dict[str, Any]:
    """The state a step's task sees: the definition's leading Pass states applied to the
    execution input, plus a finished entry for every step."""
    definition = machine.definition
    context = sample_context(machine, execution_name, execution_input, 0)
    state: Any = execution_input
    name = definition["StartAt"]
    while definition["States"][name]["Type"] == "Pass":
        pass_state = definition["States"][name]
        assert set(pass_state) <= {"Type", "Parameters", "Next", "Comment"}, pass_state
        state = render(pass_state.get("Parameters", state), state, context)
        name = pass_state["Next"]
    assert {"params", "run", "steps"} <= set(state) <= {"params", "run", "steps", "checks"}
    assert set(state["params"]) == set(app.params), "every declared param is in $.params"
    assert state["run"]["bucket"] == app.bucket_name
    for step_name, step in app.stack.pipeline.steps.items():
        state["steps"][step_name] = {
            "job_name": f"sample-{step_name}-0123456789abcdef0123456789abcdef",
            "status": "Completed",
            "returned": {"values": {k: _RETURN_SAMPLES[t] for k, t in step.returns.items()}},
        }
    return dict(state)


def processing_tasks(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every createProcessingJob task, in Parallel branches and Map processors too."""
    for name, state in states.items():
        if state["Type"] == "Task" and PROCESSING_JOB_RESOURCE.match(state["Resource"]):
            yield name, state
        for branch in state.get("Branches", []):
            yield from processing_tasks(branch["States"])
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from processing_tasks(state[key]["States"])


@dataclass(frozen=True)
class Request:
    """One rendered CreateProcessingJob request."""

    machine: StateMachine
    task: str
    execution_name: str
    retry_count: int
    input_index: int
    deployment: str
    params: dict[str, Any]

    @property
    def step(self) -> str:
        step = self.params["Environment"]["CSM_STEP"]
        assert isinstance(step, str)
        return step

    def where(self) -> str:
        return (
            f"{self.deployment}/{self.machine.logical_id} / {self.task!r} (execution "
            f"{self.execution_name!r}, retry {self.retry_count}, input #{self.input_index})"
        )


def render_requests(
    app: SynthesizedApp,
    execution_names: Sequence[str] = EXECUTION_NAMES,
    retry_counts: Sequence[int] = (0,),
    deployments: Sequence[str] = DEPLOYMENTS[:1],
) -> list[Request]:
    """Every processing task's request for each deployment, execution name, input and
    retry count."""
    requests = []
    for machine in app.state_machines:
        tasks = list(processing_tasks(machine.definition["States"]))
        assert len(tasks) == len(app.stack.pipeline.steps), [name for name, _ in tasks]
        combinations = itertools.product(
            deployments, execution_names, enumerate(sample_inputs(app.params)), retry_counts
        )
        for deployment, execution_name, (index, execution_input), retry in combinations:
            state = sample_state(app, machine, execution_name, execution_input)
            context = sample_context(machine, execution_name, execution_input, retry, deployment)
            for name, task in tasks:
                params = render(task["Parameters"], state, context)
                requests.append(
                    Request(machine, name, execution_name, retry, index, deployment, params)
                )
    return requests

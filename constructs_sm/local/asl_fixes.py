"""Fixes of moto 5.2.5's ASL interpreter that the generated definitions need.

**JSONPath through an array index** (``$[1].steps``). AWS Step Functions returns the
single value a definite path selects: ``$[1].steps`` on
a Parallel state's result is branch 1's ``steps`` object. moto 5.2.5's
``extract_json`` wraps the value in a list whenever the match's parent was reached by
an index (its fix of getmoto/moto#7825), so ``States.JsonMerge($[0].steps, $[1].steps,
false)`` fails with "Expected a JSON object". :func:`install` replaces the function in
the interpreter modules that imported it: definite paths (no wildcard, slice, filter,
union or recursive descent) return their single match; every other path keeps moto's
behaviour.

**Indefinite paths are lists** (``$.hosts[*].values.n``). AWS Step Functions evaluates
paths with Jayway JsonPath, where a path with a wildcard, slice, filter or recursive
descent always returns a list (empty when nothing matches). moto returns the bare value
when exactly one node matches, so ``States.ArrayUnique`` of a value only one host of a
multi-instance job returned fails there. :func:`extract_json` returns the list of matches
for every indefinite path.

**Re-raising a caught ``States.*`` error.** The pipeline catches a step's error and
ends in a ``Fail`` state whose ``ErrorPath`` is the caught error, inside a Parallel
branch for parallel steps; AWS keeps the name (``States.TaskFailed`` of a failed job
stays ``States.TaskFailed``). moto builds both the ``Fail`` state's error and the
Parallel state's re-raised branch error as a ``CustomErrorName``, which refuses names
starting with ``States.``, so the execution fails with ``States.Runtime`` instead.
:func:`install` gives ``state_fail`` and ``branches_decl`` an error-name class that keeps
the name as is.

**A task aborted as it starts.** moto evaluates a task's ``TimeoutSeconds`` (and
``HeartbeatSeconds``) by pushing the value on a stack and popping it; when the task's
branch is stopped at that moment (a sibling branch just failed), the evaluation is
skipped but the pop is not, and the task takes whatever was on the stack (its
parameters) for its timeout: the history then holds a ``TaskScheduled`` event that
``GetExecutionHistory`` cannot serialize (HTTP 500). :func:`install` makes both always
push their value.

**A stopped execution stays stopped.** StopExecution ends an execution ``ABORTED``
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html),
and its running jobs are stopped with it. moto's environment keeps a stop against a later
"ended", but not against a later error or timeout: the stopped job's ``.sync`` task then
fails, the failure reaches the program and the execution ended ``FAILED`` whenever the
job's end was noticed after the stop. :func:`install` makes ``set_error`` and
``set_timed_out`` leave a stopped program (or frame) as it is.

**A definition is parsed once** (speed, not a fix of behaviour). moto parses a state
machine's definition (ANTLR, then its preprocessor builds the program) when the state
machine is created, to validate it, and again at the start of each execution, before its
first event: about 0.4 s for the example pipeline's definition, inside the execution
phase. The program is not changed by an evaluation (an execution's state lives in its
environment; moto already evaluates one program from many threads in a Map state), so
:func:`install` keeps the programs of the last :data:`PARSED_KEPT` definitions by their
exact text, and an execution starts from the program its state machine's creation
built. The programs are kept for one emulator's life (:func:`install` and
:func:`uninstall` forget them): a definition that changes is a new text, parsed anew.
Likewise each JSONPath the interpreter evaluates (``$.steps``, a ``ResultPath``...) is
parsed once per text (``jsonpath_ng`` builds a parser for each call: 0.5 ms, a dozen
times per step); a parsed path is not changed by evaluating it.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any, Final

from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import Heartbeat
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from constructs_sm.local.extra import require_unmoved

_SOURCE: Final = "moto.stepfunctions.parser.asl.utils.json_path"
#: The interpreter modules that ``from ... import extract_json`` (moto 5.2.5).
IMPORTERS: Final = (
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators",
    "moto.stepfunctions.parser.asl.eval.states",
)
#: Modules that build a ``CustomErrorName`` from an error name known only at run time.
ERROR_NAME_USERS: Final = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl",
    "moto.stepfunctions.parser.asl.component.state.fail.state_fail",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker",
)
_INDEFINITE: Final = re.compile(r"\*|\.\.|:|\?|,|@|\(")
#: The interpreter modules that ``from jsonpath_ng[.ext] import parse`` (moto 5.2.5).
PATH_PARSERS: Final = {
    _SOURCE: "jsonpath_ng.ext",
    "moto.stepfunctions.parser.asl.component.common.path.result_path": "jsonpath_ng",
}
_original_path_parsers: dict[str, Any] = {}


@functools.lru_cache(maxsize=4096)
def _parse_path(parser: str, path: str) -> Any:
    """A JSONPath parsed by ``parser`` (``jsonpath_ng`` or ``jsonpath_ng.ext``), once."""
    return importlib.import_module(parser).parse(path)


#: Components whose value is pushed and then popped by the state evaluating them.
ALWAYS_PUSHED: Final = (Timeout, Heartbeat)
_original: Callable[[str, Any], Any] | None = None
_original_error_names: dict[str, Any] = {}
#: How many parsed definitions are kept (the least recently used one goes first).
PARSED_KEPT: Final = 64
_original_parse: Callable[[str], tuple[Any, Any]] | None = None


@functools.lru_cache(maxsize=PARSED_KEPT)
def parse(definition: str) -> tuple[Any, Any]:
    """moto's ``AmazonStateLanguageParser.parse`` (the program and the parse tree), once
    per definition text (see the module docstring); errors are not kept."""
    assert _original_parse is not None
    parsed = _original_parse(definition)
    _fix_heap_keys(parsed[0])
    return parsed


def _fix_heap_keys(program: Any) -> None:
    """Give every component of ``program`` its ``heap_key`` now: moto draws it at first
    use, and two executions using a shared component for the first time at once could
    otherwise draw two (a retrier would then lose its attempt count)."""
    seen: set[int] = set()
    todo = [program]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Component):  # a component holds its parts as attributes
            if isinstance(item, EvalComponent):
                _ = item.heap_key
            todo.extend(getattr(item, "__dict__", {}).values())
        elif isinstance(item, list | tuple | set | frozenset):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())


def _push_even_if_stopped(self: Any, env: Any) -> None:
    """``eval`` of a Timeout or Heartbeat: the value is pushed even when the program was
    stopped meanwhile (its caller pops it unconditionally)."""
    self._eval_body(env)


#: Environment methods that must not overwrite a stop.
AFTER_STOP: Final = ("set_error", "set_timed_out")
_original_setters: dict[str, Callable[..., None]] = {}


def _unless_stopped(name: str) -> Callable[..., None]:
    """``Environment.<name>``, doing nothing to a stopped program (see the module)."""

    def setter(self: Any, *args: Any, **kwargs: Any) -> None:
        with self._state_mutex:
            if isinstance(self._program_state, ProgramStopped):
                return
            _original_setters[name](self, *args, **kwargs)

    return setter


class RuntimeErrorName(ErrorName):
    """An error name raised again at run time (Fail's ErrorPath, a failed branch), as is."""


def is_definite(path: str) -> bool:
    """True for a path that selects at most one node (``$.a[0].b``, not ``$.a[*].b``)."""
    return path.startswith("$") and not _INDEFINITE.search(path)


def extract_json(path: str, data: Any) -> Any:
    """moto's ``extract_json``, with definite paths returning their single match and
    indefinite paths always a list."""
    assert _original is not None
    matches = _parse_path("jsonpath_ng.ext", path).find(data)
    if is_definite(path):
        if len(matches) == 1:
            return matches[0].value
    elif path.startswith("$"):
        return [match.value for match in matches]
    return _original(path, data)


def check_integration_points() -> None:
    """Fail loudly if moto's ``extract_json`` or its importers moved."""
    source = importlib.import_module(_SOURCE)
    problems = [] if callable(getattr(source, "extract_json", None)) else [_SOURCE]
    for name in IMPORTERS:
        module = importlib.import_module(name)
        if getattr(module, "extract_json", None) not in (source.extract_json, extract_json):
            problems.append(name)
    for name in ERROR_NAME_USERS:
        if getattr(importlib.import_module(name), "CustomErrorName", None) is None:
            problems.append(f"{name}.CustomErrorName")
    for component in ALWAYS_PUSHED:
        if "_eval_body" not in component.__dict__ or (
            "eval" in component.__dict__ and component.__dict__["eval"] is not _push_even_if_stopped
        ):
            problems.append(f"{component.__name__}.eval/_eval_body")
    if not callable(getattr(AmazonStateLanguageParser, "parse", None)) or not hasattr(
        EvalComponent, "heap_key"
    ):
        problems.append("AmazonStateLanguageParser.parse/EvalComponent.heap_key")
    for name, parser in PATH_PARSERS.items():
        imported = getattr(importlib.import_module(name), "parse", None)
        own = importlib.import_module(parser).parse
        if imported is not own and not isinstance(imported, functools.partial):
            problems.append(f"{name}.parse")
    for name in AFTER_STOP:
        if not callable(getattr(Environment, name, None)):
            problems.append(f"Environment.{name}")
    require_unmoved(problems, "these names moved")


def install() -> None:
    """Apply the fixes to moto's interpreter (idempotent)."""
    global _original, _original_parse
    check_integration_points()
    if _original is not None:
        return
    parse.cache_clear()
    _original_parse = AmazonStateLanguageParser.parse
    setattr(AmazonStateLanguageParser, "parse", staticmethod(parse))  # noqa: B010
    _original = importlib.import_module(_SOURCE).extract_json
    for name in IMPORTERS:
        setattr(importlib.import_module(name), "extract_json", extract_json)  # noqa: B010
    for name in ERROR_NAME_USERS:
        module = importlib.import_module(name)
        _original_error_names[name] = module.CustomErrorName
        setattr(module, "CustomErrorName", RuntimeErrorName)  # noqa: B010
    for component in ALWAYS_PUSHED:
        setattr(component, "eval", _push_even_if_stopped)  # noqa: B010
    for name, parser in PATH_PARSERS.items():
        module = importlib.import_module(name)
        _original_path_parsers[name] = module.parse
        setattr(module, "parse", functools.partial(_parse_path, parser))  # noqa: B010
    for name in AFTER_STOP:
        _original_setters[name] = getattr(Environment, name)
        setattr(Environment, name, _unless_stopped(name))


def uninstall() -> None:
    """Undo :func:`install`."""
    global _original, _original_parse
    if _original is None:
        return
    if _original_parse is not None:
        setattr(AmazonStateLanguageParser, "parse", staticmethod(_original_parse))  # noqa: B010
        _original_parse = None
    parse.cache_clear()
    for name in IMPORTERS:
        setattr(importlib.import_module(name), "extract_json", _original)  # noqa: B010
    for name, original in _original_error_names.items():
        setattr(importlib.import_module(name), "CustomErrorName", original)  # noqa: B010
    _original_error_names.clear()
    for component in ALWAYS_PUSHED:
        if "eval" in component.__dict__:
            delattr(component, "eval")
    for name, original in _original_path_parsers.items():
        setattr(importlib.import_module(name), "parse", original)  # noqa: B010
    _original_path_parsers.clear()
    for name, setter in _original_setters.items():
        setattr(Environment, name, setter)
    _original_setters.clear()
    _original = None

"""``RedriveExecution`` for moto's Step Functions interpreter, as AWS documents it.

moto 5.2.5 does not implement ``RedriveExecution`` (its server answers
``NotImplementedError``) and its context object has no ``$$.Execution.RedriveCount``.
:func:`install` adds both to the emulator, following the AWS Step Functions developer
guide, "Restarting state machine executions with redrive"
(https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html) and the
``RedriveExecution`` API reference:

- an execution can be redriven when it is ``FAILED``, ``TIMED_OUT`` or ``ABORTED``, within
  14 days of its end, with fewer than 24,999 history events; otherwise the call fails
  with ``ExecutionNotRedrivable`` and the reason AWS gives (``DescribeExecution`` shows
  ``redriveStatus`` and ``redriveStatusReason``);
- the redriven execution keeps its ARN, definition and input, and continues from the
  unsuccessful state with the input that state had: states that succeeded are not run
  again; a Task runs again (new ``$$.State.EnteredTime``, ``RetryCount`` back to 0), a
  Choice is evaluated again, a Fail state is entered again and fails again; a Parallel
  state runs again only the branches that failed or were aborted, the others keep their
  results;
- its history goes on after the first attempt's, from an ``ExecutionRedriven`` event;
  ``$$.Execution.RedriveCount`` (0 before any redrive) and ``$$.Execution.RedriveTime``
  are in the context object; ``DescribeExecution`` reports ``redriveCount`` and
  ``redriveDate``; a ``clientToken`` used again within 15 minutes returns the first
  call's answer without redriving again.

How: every execution records, for the top level and for every Parallel branch, the
last state it entered, with a copy of that state's input, and whether it left it (a
"trail"). A redrive runs the same parsed definition in a new interpreter environment
whose top level starts at the recorded state with the recorded input; a Parallel branch
starts where its own trail stopped, or hands back its recorded result. Not supported
offline (the call fails with ``ExecutionNotRedrivable`` saying so): an execution whose
unsuccessful state is a Map state (AWS reruns its failed iterations) and variables
(``Assign``) set before the failure, which are not restored.

The moto internals patched here are checked by :func:`check_integration_points`.
"""

from __future__ import annotations

import copy
import datetime
import inspect
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, cast

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import (
    ExecutionRedrivenEventDetails,
    ExecutionStatus,
    HistoryEventType,
    StateMachineType,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import (
    BranchesDecl,
)
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramRunning
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse

from constructs_sm.local.extra import require_unmoved

#: Executions can be redriven up to 14 days after they ended (RedriveExecution API).
REDRIVABLE_PERIOD: Final = datetime.timedelta(days=14)
#: An execution may stay open one year at most (Step Functions quotas).
MAX_OPEN_TIME: Final = datetime.timedelta(days=365)
#: A redrive needs room for ExecutionRedriven and one more event below 25,000.
MAX_HISTORY_EVENTS: Final = 24_999
#: How long, and for how many tokens, a clientToken returns the first call's answer.
TOKEN_LIFETIME: Final = datetime.timedelta(minutes=15)
TOKENS_KEPT: Final = 10

FramePath = tuple[tuple[str, int], ...]
"""Where a frame is: () for the top level, then (Parallel state, branch index) pairs."""


class ExecutionNotRedrivableError(AWSError):
    """The ``ExecutionNotRedrivable`` error of the RedriveExecution API."""

    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


@dataclass(frozen=True)
class Resume:
    """Start a frame at ``state`` with ``input``; ``done``: hand back ``input`` as its result."""

    state: str | None
    input: Any
    state_type: str | None = None
    done: bool = False


@dataclass
class Trail:
    """The last state a frame entered, its input, and how the frame got on after it."""

    state: str | None = None
    state_type: str | None = None
    input: Any = None
    exited: bool = False
    next_state: str | None = None
    output: Any = None
    ended: bool = False

    def resume(self) -> Resume | None:
        """Where a redrive picks this frame up (None: at its StartAt, with its input)."""
        if self.ended:
            return Resume(None, self.output, done=True)
        if self.state is None:
            return None
        if not self.exited:
            return Resume(self.state, self.input, self.state_type)
        return Resume(self.next_state, self.output)


@dataclass
class ExecutionRecord:
    """What a redrive of one execution needs: the trails of its frames, its redrives."""

    arn: str
    trails: dict[FramePath, Trail] = field(default_factory=dict)
    plan: dict[FramePath, Resume] = field(default_factory=dict)
    redrive_count: int = 0
    redrive_date: datetime.datetime | None = None
    tokens: dict[str, tuple[datetime.datetime, datetime.datetime]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, path: FramePath) -> _Frame:
        """A new trail for the frame at ``path``, with the redrive's start for it, if any."""
        with self.lock:
            trail = Trail()
            self.trails[path] = trail
            resume = self.plan.pop(path, None)
            if resume is None:  # a fresh frame: nothing below it resumes either
                for other in [p for p in self.plan if p[: len(path)] == path]:
                    del self.plan[other]
            return _Frame(self, path, trail, resume)

    def children(self, path: FramePath, state: str) -> Iterator[FramePath]:
        """The recorded branch frames of Parallel state ``state`` in the frame ``path``."""
        for other in list(self.trails):
            if len(other) == len(path) + 1 and other[:-1] == path and other[-1][0] == state:
                yield other


@dataclass
class _Frame:
    record: ExecutionRecord
    path: FramePath
    trail: Trail
    resume: Resume | None


@dataclass
class _Branching:
    owner: _Frame
    state: str
    counter: Iterator[int]


_RECORDS: dict[str, ExecutionRecord] = {}
_RECORDS_LOCK: Final = threading.Lock()
_ORIGINALS: dict[tuple[type, str], Any] = {}


def _frame_of(env: Any) -> _Frame | None:
    return getattr(env, "_csm_frame", None) if env is not None else None


def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


# -- recording ------------------------------------------------------------------------


def _evaluation_environment(self: ExecutionWorker) -> Environment:
    env: Environment = _ORIGINALS[(ExecutionWorker, "_get_evaluation_environment")](self)
    if isinstance(self, _RedriveWorker):
        return env
    arn = self._evaluation_details.execution_details.arn
    record = ExecutionRecord(arn)
    with _RECORDS_LOCK:
        _RECORDS[arn] = record
    env.states.context_object.context_object_data["Execution"]["RedriveCount"] = 0  # type: ignore[typeddict-unknown-key]
    env._csm_frame = record.open(())  # type: ignore[attr-defined]
    return env


def _program_eval(self: Program, env: Environment) -> None:
    """moto's ``Program.eval``, starting where a redrive resumes and recording the end."""
    frame = _frame_of(env)
    resume = frame.resume if frame is not None else None
    if resume is not None and resume.done:
        env.states.reset(input_value=copy.deepcopy(resume.input))
        env.set_ended()
    else:
        if resume is not None and resume.state is not None:
            env.states.reset(input_value=copy.deepcopy(resume.input))
            env.next_state_name = resume.state
        else:
            env.next_state_name = self.start_at.start_at_name
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        worker = threading.Thread(target=EvalComponent.eval, args=(self, env), daemon=True)
        TMP_THREADS.append(worker)
        worker.start()
        worker.join(timeout=timeout)
        if worker.is_alive():
            env.set_timed_out()
    if frame is not None and isinstance(env.program_state(), ProgramEnded):
        frame.trail.output = copy.deepcopy(env.states.get_input())
        frame.trail.ended = True


def _state_eval_body(self: CommonStateField, env: Environment) -> None:
    frame = _frame_of(env)
    if frame is None:
        _ORIGINALS[(CommonStateField, "_eval_body")](self, env)
        return
    trail = frame.trail
    trail.state, trail.state_type = self.name, self.state_type.name
    trail.input, trail.exited = copy.deepcopy(env.states.get_input()), False
    _ORIGINALS[(CommonStateField, "_eval_body")](self, env)
    state = env.program_state()
    if isinstance(state, ProgramRunning | ProgramEnded):
        trail.next_state = env.next_state_name if isinstance(state, ProgramRunning) else None
        trail.output = copy.deepcopy(env.states.get_input())
        trail.exited = True


def _branches_eval_body(self: BranchesDecl, env: Environment) -> None:
    # The branches run in the frame the Parallel state opened for its execution.
    owner = _frame_of(getattr(env, "_csm_parent", None))
    if owner is not None:
        state = env.states.context_object.context_object_data["State"]
        assert state is not None
        env._csm_branching = _Branching(owner, state["Name"], itertools.count())  # type: ignore[attr-defined]
    try:
        _ORIGINALS[(BranchesDecl, "_eval_body")](self, env)
    finally:
        env._csm_branching = None  # type: ignore[attr-defined]


def _open_frame(self: Environment, event_history_context: Any = None) -> Environment:
    frame: Environment = _ORIGINALS[(Environment, "open_frame")](self, event_history_context)
    frame._csm_parent = self  # type: ignore[attr-defined]
    return frame


def _open_inner_frame(self: Environment, event_history_context: Any = None) -> Environment:
    frame: Environment = _ORIGINALS[(Environment, "open_inner_frame")](self, event_history_context)
    branching: _Branching | None = getattr(self, "_csm_branching", None)
    if branching is not None:
        path = (*branching.owner.path, (branching.state, next(branching.counter)))
        frame._csm_frame = branching.owner.record.open(path)  # type: ignore[attr-defined]
    return frame


# -- redriving ------------------------------------------------------------------------


class _RedriveWorker(ExecutionWorker):
    """Runs an execution again from its record, appending to its history."""

    def __init__(self, execution: Execution, record: ExecutionRecord, previous: Environment):
        fresh = execution._get_start_execution_worker()
        super().__init__(
            evaluation_details=fresh._evaluation_details,
            exec_comm=fresh._execution_communication,
            cloud_watch_logging_session=fresh._cloud_watch_logging_session,
            activity_store=fresh._activity_store,
        )
        self._record = record
        self._previous = previous

    def _execution_logic(self) -> None:
        program = self._get_evaluation_entrypoint()
        env = self._get_evaluation_environment()
        history = self._previous.event_manager.get_event_history()
        env.event_manager = self._previous.event_manager
        env.event_history_context = EventHistoryContext(  # type: ignore[misc]
            previous_event_id=history[-1]["id"] if history else 0
        )
        record = self._record
        assert record.redrive_date is not None
        execution = env.states.context_object.context_object_data["Execution"]
        execution["RedriveCount"] = record.redrive_count  # type: ignore[typeddict-unknown-key]
        execution["RedriveTime"] = record.redrive_date.isoformat()  # type: ignore[typeddict-unknown-key]
        env._csm_frame = record.open(())  # type: ignore[attr-defined]
        self.env = env
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=cast(
                Any,
                {
                    "executionRedrivenEventDetails": ExecutionRedrivenEventDetails(
                        redriveCount=record.redrive_count
                    )
                },
            ),
        )
        program.eval(env)
        self._execution_communication.terminated()


def not_redrivable_reason(execution: Execution, now: datetime.datetime | None = None) -> str | None:
    """Why AWS would refuse to redrive ``execution`` now (its words), or None."""
    now = now or _now()
    status = execution.exec_status
    if status in (ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED):
        return f"Execution is {status.value} and cannot be redriven"
    if execution.sm_type == StateMachineType.EXPRESS:
        return "Executions of EXPRESS state machines cannot be redriven"
    if execution.exec_arn not in _RECORDS:
        return "Execution was started before the launch of RedriveExecution"
    if execution.stop_date is not None and now - execution.stop_date > REDRIVABLE_PERIOD:
        return "Execution redrivable period exceeded"
    if now - execution.start_date > MAX_OPEN_TIME:
        return "Execution has exceeded the max execution time"
    worker = execution.exec_worker
    if worker is None or worker.env is None:
        return "Execution was started before the launch of RedriveExecution"
    if len(worker.env.event_manager.get_event_history()) >= MAX_HISTORY_EVENTS:
        return "Execution history event limit exceeded"
    return None


def _plan(record: ExecutionRecord) -> dict[FramePath, Resume]:
    """The start of every frame the redrive runs again, from the top level down."""
    plan: dict[FramePath, Resume] = {}
    pending: list[FramePath] = [()]
    while pending:
        path = pending.pop()
        trail = record.trails.get(path)
        resume = trail.resume() if trail is not None else None
        if resume is None:
            continue
        plan[path] = resume
        if resume.state_type == "Map":
            raise ExecutionNotRedrivableError(
                f"the offline engine (constructs_sm.local) cannot redrive the failed Map "
                f"state {resume.state!r} of {record.arn}: AWS would run its failed "
                "iterations again; start a new execution instead"
            )
        if resume.state_type == "Parallel" and resume.state is not None:
            pending.extend(record.children(path, resume.state))
    return plan


def redrive(backend: Any, execution_arn: str, client_token: str | None = None) -> datetime.datetime:
    """RedriveExecution on ``backend`` (moto's Step Functions parser backend)."""
    execution: Execution = backend.describe_execution(execution_arn)
    now = _now()
    record = _RECORDS.get(execution.exec_arn)
    if record is not None and client_token:
        with record.lock:
            for token, (used, _) in list(record.tokens.items()):
                if now - used > TOKEN_LIFETIME:
                    del record.tokens[token]
            if client_token in record.tokens:
                return record.tokens[client_token][1]
    reason = not_redrivable_reason(execution, now)
    if reason is not None or record is None:
        raise ExecutionNotRedrivableError(reason or "the execution was not recorded")
    plan = _plan(record)
    worker = execution.exec_worker
    assert worker is not None and worker.env is not None
    with record.lock:
        record.plan = plan
        record.redrive_count += 1
        record.redrive_date = now
        if client_token:
            record.tokens[client_token] = (now, now)
            while len(record.tokens) > TOKENS_KEPT:
                del record.tokens[next(iter(record.tokens))]
    redriven = _RedriveWorker(execution, record, worker.env)
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = None
    execution.error = execution.cause = execution.output = None
    execution.exec_worker = redriven
    redriven.start()  # type: ignore[no-untyped-call]
    return now


def record_of(execution_arn: str) -> ExecutionRecord | None:
    """The redrive record of an execution (None: started before :func:`install`)."""
    return _RECORDS.get(execution_arn)


# -- the API --------------------------------------------------------------------------


def _response_redrive_execution(self: StepFunctionResponse) -> ActionResult:
    date = redrive(
        self.stepfunction_backend,
        self._get_param("executionArn"),
        self._get_param("clientToken"),
    )
    return ActionResult({"redriveDate": date})


def _redrive_fields(execution: Execution) -> dict[str, Any]:
    record = _RECORDS.get(execution.exec_arn)
    fields: dict[str, Any] = {"redriveCount": record.redrive_count if record else 0}
    if record is not None and record.redrive_date is not None:
        fields["redriveDate"] = record.redrive_date
    return fields


def _response_describe_execution(self: StepFunctionResponse) -> ActionResult:
    result: ActionResult = _ORIGINALS[(StepFunctionResponse, "describe_execution")](self)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    response = result.result
    if isinstance(response, dict) and isinstance(execution, Execution):
        response.update(_redrive_fields(execution))
        reason = not_redrivable_reason(execution)
        response["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
        if reason:
            response["redriveStatusReason"] = reason
    return result


# -- installing -----------------------------------------------------------------------

_PATCHES: Final[tuple[tuple[type, str, Any], ...]] = (
    (ExecutionWorker, "_get_evaluation_environment", _evaluation_environment),
    (Program, "eval", _program_eval),
    (CommonStateField, "_eval_body", _state_eval_body),
    (BranchesDecl, "_eval_body", _branches_eval_body),
    (Environment, "open_frame", _open_frame),
    (Environment, "open_inner_frame", _open_inner_frame),
    (StepFunctionResponse, "describe_execution", _response_describe_execution),
)


def check_integration_points() -> None:
    """Fail loudly if the moto internals this module replaces moved or changed shape."""
    expected = {
        (ExecutionWorker, "_get_evaluation_environment"): ["self"],
        (ExecutionWorker, "_execution_logic"): ["self"],
        (Program, "eval"): ["self", "env"],
        (CommonStateField, "_eval_body"): ["self", "env"],
        (BranchesDecl, "_eval_body"): ["self", "env"],
        (Environment, "open_frame"): ["self", "event_history_context"],
        (Environment, "open_inner_frame"): ["self", "event_history_context"],
        (StepFunctionResponse, "describe_execution"): ["self"],
    }
    problems = []
    for (owner, name), parameters in expected.items():
        function = _ORIGINALS.get((owner, name), getattr(owner, name, None))
        if function is None or list(inspect.signature(function).parameters) != parameters:
            problems.append(f"{owner.__name__}.{name}")
    source = inspect.getsource(_ORIGINALS.get((Program, "eval"), Program.eval))
    if "start_at.start_at_name" not in source or "set_timed_out" not in source:
        problems.append("Program.eval no longer starts at StartAt with a timeout")
    if hasattr(StepFunctionResponse, "redrive_execution") and not _installed():
        problems.append("moto now has its own redrive_execution")
    for name in ("_get_start_execution_worker", "exec_worker", "exec_status", "stop_date"):
        if not hasattr(Execution, name) and name not in inspect.getsource(Execution.__init__):
            problems.append(f"Execution.{name}")
    require_unmoved(problems, "the Step Functions internals that redrive replaces changed")


def _installed() -> bool:
    return bool(_ORIGINALS)


def install() -> None:
    """Add RedriveExecution and the recording it needs to moto's interpreter (idempotent)."""
    check_integration_points()
    if _installed():
        return
    for owner, name, replacement in _PATCHES:
        _ORIGINALS[(owner, name)] = owner.__dict__[name]
        setattr(owner, name, replacement)
    StepFunctionResponse.redrive_execution = _response_redrive_execution  # type: ignore[attr-defined]


def uninstall() -> None:
    """Undo :func:`install` and forget every execution's record."""
    for (owner, name), original in _ORIGINALS.items():
        setattr(owner, name, original)
    _ORIGINALS.clear()
    if "redrive_execution" in StepFunctionResponse.__dict__:
        delattr(StepFunctionResponse, "redrive_execution")
    with _RECORDS_LOCK:
        _RECORDS.clear()

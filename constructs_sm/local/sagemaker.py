"""The SageMaker service integration that moto's Step Functions interpreter lacks.

moto 5.2.5 executes ASL with a real interpreter but rejects ``arn:aws:states:::sagemaker:*``
tasks (``sagemaker`` is in ``_UNSUPPORTED_SERVICE_NAMES`` of its
``state_task_service_factory``). :func:`install` wraps the factory function that
``state_task_factory`` calls, so ``sagemaker`` resources get :class:`SageMakerTaskService`:

- ``createProcessingJob`` (request-response) calls the emulator's SageMaker
  ``CreateProcessingJob`` API, so the job is registered in moto's SageMaker backend and
  ``DescribeProcessingJob`` sees it, and starts running it as a :class:`~.jobs.LocalJob`;
  the result is the API's response (``ProcessingJobArn``);
- ``createProcessingJob.sync`` then polls ``DescribeProcessingJob`` until the job is
  ``Completed`` (the result is the DescribeProcessingJob output) or ``Failed``/``Stopped``
  (the task fails with ``States.TaskFailed`` and the DescribeProcessingJob output, with
  its ``FailureReason``, as the cause), as the AWS integration does.

API errors surface as AWS Step Functions names them: ``SageMaker.ResourceInUseException``,
``SageMaker.ResourceLimitExceededException``, ``SageMaker.ResourceNotFoundException``,
and ``SageMaker.AmazonSageMakerException`` for the rest (validation errors included).

A ``.sync`` task that is aborted while its job runs (a sibling branch of a Parallel
state failed, or the execution was stopped) stops the job, as Step Functions does
(StopProcessingJob): the job goes ``Stopping``, its local process is killed and it
ends ``Stopped``. A task that times out (``TimeoutSeconds``) leaves its job running.

Each job moves its data, and its process calls AWS, with the credentials of its
``RoleArn`` as SageMaker assumes it (``assume_role``, :mod:`constructs_sm.local.iam`); a
role SageMaker could not assume fails the job with SageMaker's ``ClientError`` reason.

``aws-sdk`` errors are named with the service's PascalCase name as AWS Step Functions
names them (``S3.NoSuchKeyException``; moto 5.2.5 says ``s3.NoSuchKeyException``), so
``Catch`` and ``Retry`` clauses match as they do on AWS (:func:`sdk_service_error_name`).

The patched names are checked by :func:`check_integration_points`; a moto upgrade that
moves them fails loudly there (and in ``tests/test_local_integration.py``).
"""

from __future__ import annotations

import datetime
import functools
import inspect
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, cast

import botocore.exceptions
from botocore.config import Config
from botocore.response import StreamingBody
from moto.sagemaker import models as sagemaker_models
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from constructs_sm.local.extra import require_unmoved
from constructs_sm.local.faults import API_ERRORS, FaultPlan
from constructs_sm.local.iam import (
    AccessDeniedError,
    ClientPool,
    Credentials,
    botocore_session,
)
from constructs_sm.local.jobs import JobOutcome, LocalJob, run_in_thread
from constructs_sm.runtime import STEP_ENV
from constructs_sm.service_model import request_problems, validation_message

#: The Step Functions resource name (``arn:aws:states:::sagemaker:...``).
SERVICE_NAME: Final = "sagemaker"
AWS_SDK: Final = "aws-sdk"
#: The name ``state_task_factory.state_task_for`` calls to make service tasks.
_FACTORY_NAME: Final = "state_task_service_for"
#: The longest a ``.sync`` task waits between two looks at its job: it wakes up as soon
#: as the job ends (:meth:`JobRunner.wait`), and this bounds how late it notices that it
#: was aborted. On AWS the integration learns of the job's end from an EventBridge rule
#: (``StepFunctionsGetEventsForSageMakerProcessingJobsRule``, in the IAM policy the Step
#: Functions developer guide gives for SageMaker ``.sync`` tasks), not by a timed poll.
_POLL_SECONDS: Final = 0.2
_TERMINAL: Final = frozenset({"Completed", "Failed", "Stopped"})
#: Step Functions service names of ``aws-sdk`` resources that differ from botocore's.
_SDK_TO_BOTO: Final = {"sfn": "stepfunctions"}
#: Words of a botocore ``serviceId`` (``DynamoDB`` -> ``Dynamo``, ``DB``; ``EC2``; ``S3``).
_SERVICE_ID_WORDS: Final = re.compile(r"[A-Z]+(?![a-z])[0-9]*|[A-Z]?[a-z]+[0-9]*|[0-9]+")
#: SageMaker API error codes the Java SDK (which names Step Functions errors) models as
#: their own exception classes; every other code is an ``AmazonSageMakerException``.
_MODELED_ERRORS: Final = frozenset({"ResourceInUse", "ResourceLimitExceeded", "ResourceNotFound"})

ClientFactory = Callable[[str, str], Any]
"""``(service, region) -> boto3 client`` of the emulator."""
RoleAssumer = Callable[[str, str, str], Credentials]
"""``(role ARN, processing job ARN, job name) -> credentials`` of the role, as SageMaker
assumes it for the job; raises :class:`~constructs_sm.local.iam.AccessDeniedError`."""
#: Credential variables a job's environment gets from its role only.
_CREDENTIAL_ENV: Final = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class JobRunner:
    """Runs the jobs the integration creates; shared by every task of an emulator.

    :param client: makes boto3 clients of the emulator.
    :param work_dir: where job directories are made.
    :param job_env: environment every job process gets (region, endpoint; the
        emulator's credentials only without ``assume_role``).
    :param account: the emulator's account id (where moto keeps the jobs).
    :param assume_role: gives each job its ``RoleArn``'s credentials (its downloads,
        uploads and its process's environment use them); None: every job uses the
        credentials in ``job_env``.
    """

    def __init__(
        self,
        *,
        client: ClientFactory,
        work_dir: Path,
        job_env: dict[str, str],
        account: str,
        faults: FaultPlan | None = None,
        assume_role: RoleAssumer | None = None,
    ) -> None:
        self.client = client
        self.work_dir = work_dir
        self.job_env = job_env
        self.account = account
        self.faults = faults or FaultPlan()
        self.assume_role = assume_role
        self._lock = threading.Lock()
        #: Notified (under ``_lock``) whenever a job's status changes.
        self._changed = threading.Condition(self._lock)
        self.threads: list[threading.Thread] = []
        #: The jobs running now, by name.
        self.running: dict[str, LocalJob] = {}
        self._creating: set[str] = set()
        #: The S3 clients jobs move their data with, by region (each signs with the role
        #: of the job it is lent to).
        self._s3_clients: dict[str, ClientPool] = {}

    def _backend_job(self, region: str, name: str) -> Any:
        backend = sagemaker_models.sagemaker_backends[self.account][region]
        return backend.processing_jobs[name]

    def create(self, region: str, request: dict[str, Any]) -> dict[str, Any]:
        """CreateProcessingJob through the emulator's API, then start running it.

        The request is validated as SageMaker validates it (enums, patterns, lengths and
        list sizes of the API model, :mod:`constructs_sm.service_model`): a violation is
        a ``ValidationException``, as on AWS. A planned :class:`Fault` fails the call or
        the job first.
        """
        sagemaker = self.client("sagemaker", region)
        name = request.get("ProcessingJobName")
        environment = request.get("Environment")
        step = environment.get(STEP_ENV) if isinstance(environment, dict) else None
        fault = self.faults.take(step if isinstance(step, str) else None)
        if fault is not None and fault.kind in API_ERRORS:
            code, message = API_ERRORS[fault.kind]
            raise _client_error(code, message, "CreateProcessingJob")
        problems = request_problems("CreateProcessingJob", request)
        if problems:
            raise _client_error(
                "ValidationException", validation_message(problems), "CreateProcessingJob"
            )
        # moto does not reject a duplicate name; SageMaker does. The name is reserved
        # under the lock, the (slow) API call is made outside it.
        backend = sagemaker_models.sagemaker_backends[self.account][region]
        with self._lock:
            if name in self._creating or name in backend.processing_jobs:
                raise _client_error(
                    "ResourceInUse",
                    f"Job name must be unique within an AWS account and region, "
                    f"and a job with this name already exists ({name})",
                    "CreateProcessingJob",
                )
            self._creating.add(str(name))
        try:
            response = sagemaker.create_processing_job(**request)
        finally:
            with self._lock:
                self._creating.discard(str(name))
        reason = fault.reason if fault is not None else None
        s3: Any = None
        base_env: dict[str, str] = {}
        if reason is None:  # the role is assumed outside the lock (an STS call)
            try:
                s3, base_env = self._identity(request, str(response["ProcessingJobArn"]), region)
            except AccessDeniedError:  # SageMaker's words: aws/sagemaker-python-sdk#35
                role = request["RoleArn"]
                reason = f"ClientError: SageMaker was unable to assume the role '{role}'"
        with self._lock:
            job = self._backend_job(region, str(name))
            # moto records a subset of the request (and would report the job Completed at
            # once without _job_init).
            job.processing_job_status = "InProgress"
            job.processing_resources = request.get("ProcessingResources")
            job.environment = request.get("Environment")
            job.processing_start_time = _now()
            job.processing_end_time = None
            if reason is not None:  # a job_failure or a role it cannot use: nothing runs
                job.processing_end_time = _now()
                job.failure_reason = reason
                job.processing_job_status = "Failed"
                self._changed.notify_all()
                response.pop("ResponseMetadata", None)
                return dict(response)
        local = LocalJob(
            request,
            s3=s3,
            work_dir=self.work_dir,
            base_env=base_env,
            should_stop=lambda: job.processing_job_status in ("Stopping", "Stopped"),
        )

        def done(outcome: JobOutcome) -> None:
            if self.assume_role is not None:
                self._s3_pool(region).give_back(s3)
            with self._lock:
                self.running.pop(local.name, None)
                job.processing_end_time = _now()
                job.last_modified_time = job.processing_end_time
                if outcome.failure_reason:
                    job.failure_reason = outcome.failure_reason
                if outcome.exit_message:
                    job.exit_message = outcome.exit_message
                job.processing_job_status = outcome.status  # last: describe reads unlocked
                self._changed.notify_all()

        with self._lock:
            self.running[local.name] = local
        self.threads.append(run_in_thread(local, done))
        response.pop("ResponseMetadata", None)
        return dict(response)

    def shutdown(self, timeout: float = 10.0) -> int:
        """Kill every running job's processes (the emulator is stopping); returns how many
        jobs were running. Their threads are given ``timeout`` seconds to finish."""
        with self._lock:
            jobs = list(self.running.values())
        for job in jobs:
            job.kill()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return len(jobs)

    def _identity(
        self, request: dict[str, Any], job_arn: str, region: str
    ) -> tuple[Any, dict[str, str]]:
        """The S3 client a job moves its data with and its process's base environment.

        With :attr:`assume_role`, both use the job's role, as SageMaker does (the client
        is lent from the runner's pool and given back when the job ends); a job with
        network isolation gets no credentials in its environment (its container could
        not reach AWS).
        """
        if self.assume_role is None:
            return self.client("s3", region), dict(self.job_env)
        credentials = self.assume_role(
            str(request["RoleArn"]), job_arn, str(request["ProcessingJobName"])
        )
        env = {k: v for k, v in self.job_env.items() if k not in _CREDENTIAL_ENV}
        network = request.get("NetworkConfig") or {}
        if not network.get("EnableNetworkIsolation"):
            env.update(credentials.env())
        return self._s3_pool(region).take(credentials), env

    def _s3_pool(self, region: str) -> ClientPool:
        with self._lock:
            if region not in self._s3_clients:
                self._s3_clients[region] = ClientPool(
                    "s3",
                    region,
                    endpoint_url=self.job_env["AWS_ENDPOINT_URL"],
                    config=Config(retries={"max_attempts": 2}, max_pool_connections=16),
                )
            return self._s3_clients[region]

    def stop(self, region: str, name: str) -> None:
        """StopProcessingJob as SageMaker does it: a running job goes ``Stopping``; its
        local process is then killed and the job ends ``Stopped``."""
        with self._lock:
            try:
                job = self._backend_job(region, name)
            except KeyError:
                return
            if job.processing_job_status == "InProgress":
                job.processing_job_status = "Stopping"
                job.last_modified_time = _now()

    def wait(self, region: str, name: str, timeout: float) -> None:
        """Return when the job has ended (``Completed``, ``Failed``, ``Stopped``), or after
        ``timeout`` seconds."""

        def ended() -> bool:
            return self.status(region, name) in _TERMINAL

        with self._changed:
            self._changed.wait_for(ended, timeout)

    def status(self, region: str, name: str) -> str | None:
        """The job's status as the emulator holds it (no API call: ``.sync`` tasks poll
        this, and describe the job through the API once it ended)."""
        try:
            return str(self._backend_job(region, name).processing_job_status)
        except KeyError:
            return None

    def describe(self, region: str, name: str) -> dict[str, Any]:
        """DescribeProcessingJob through the emulator's API, JSON-ready (times as epoch ms)."""
        response = self.client("sagemaker", region).describe_processing_job(ProcessingJobName=name)
        response.pop("ResponseMetadata", None)
        return dict(_jsonable(response))


def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


def _jsonable(value: Any) -> Any:
    """Timestamps as epoch milliseconds, as Step Functions shows them in task results."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _details(**details: Any) -> Any:
    """moto's ``EventDetails`` (a TypedDict that declares every kind of detail)."""
    return EventDetails(**details)  # type: ignore[typeddict-item]


def _client_error(code: str, message: str, operation: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "local"},
        },
        operation,
    )


def error_name(code: str) -> str:
    """The Step Functions error name of a SageMaker API error code."""
    if code in _MODELED_ERRORS:
        return f"SageMaker.{code}Exception"
    return "SageMaker.AmazonSageMakerException"


@functools.cache
def sdk_service_error_name(service: str) -> str:
    """The service part of an ``aws-sdk`` task's error names, as AWS Step Functions has it.

    The PascalCase of the service's ``serviceId`` (as the AWS SDK for Java names its
    clients): ``s3`` -> ``S3``, ``dynamodb`` -> ``DynamoDb``, ``sfn`` -> ``Sfn``,
    ``sagemaker`` -> ``SageMaker``, ``ec2`` -> ``Ec2``, ``acmpca`` -> ``AcmPca``.
    """
    session = botocore_session()
    boto_names = {name.replace("-", ""): name for name in session.get_available_services()}
    wanted = service.lower().replace("-", "")
    boto_name = _SDK_TO_BOTO.get(wanted) or boto_names.get(wanted)
    if boto_name is None:
        return service[:1].upper() + service[1:]
    model = session.get_service_model(boto_name)
    words = _SERVICE_ID_WORDS.findall(str(model.service_id))
    return "".join(word[:1].upper() + word[1:].lower() for word in words)


def _request_members(operation: str) -> set[str]:
    model = botocore_session().get_service_model("sagemaker")
    return set(model.operation_model(operation).input_shape.members)


_RUNNER: JobRunner | None = None
_API_PARAMETERS: Final = {"createprocessingjob": _request_members("CreateProcessingJob")}


class SageMakerTaskService(StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:createProcessingJob[.sync]`` for moto's interpreter."""

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition(ResourceCondition.Sync)})

    def _get_supported_parameters(self) -> set[str] | None:
        return _API_PARAMETERS.get(self.resource.api_action.lower())

    @staticmethod
    def _runner() -> JobRunner:
        if _RUNNER is None:
            raise RuntimeError("no local job runner: start constructs_sm.local.Emulator first")
        return _RUNNER

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        api_errors = botocore.exceptions.ClientError | botocore.exceptions.ParamValidationError
        if isinstance(ex, api_errors):
            if isinstance(ex, botocore.exceptions.ClientError):
                code = str(ex.response["Error"]["Code"])
                message = str(ex.response["Error"]["Message"])
                status = ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
                request_id = ex.response.get("ResponseMetadata", {}).get("RequestId", "local")
            else:
                code, message, status, request_id = "ValidationException", str(ex), 400, "local"
            error = error_name(code)
            cause = (
                f"{message} (Service: AmazonSageMaker; Status Code: {status}; "
                f"Error Code: {code}; Request ID: {request_id}; Proxy: null)"
            )
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=_details(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        result: FailureEvent = super()._from_error(env=env, ex=ex)
        return result

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        action = self.resource.api_action.lower()
        if action != "createprocessingjob":
            raise ValueError(f"sagemaker:{self.resource.api_action} is not supported locally")
        response = self._runner().create(resource_runtime_part.region, normalised_parameters)
        env.stack.append(response)

    def _eval_integration_pattern(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        # moto's version assumes every callback service also supports waitForTaskToken
        # (it calls interrupt_all() on a callback endpoint that is None otherwise); a
        # SageMaker task only polls. TimeoutSeconds is enforced around this by the state.
        resolve = self._build_sync_resolver(
            env, resource_runtime_part, normalised_parameters, state_credentials
        )
        assert resolve is not None
        region = resource_runtime_part.region
        name = str(normalised_parameters["ProcessingJobName"])
        while env.is_running():
            result = resolve()
            if result is not None:
                env.stack.append(result)
                return
            self._runner().wait(region, name, _POLL_SECONDS)
        if isinstance(env.program_state(), ProgramStopped):
            # Aborted: a sibling branch failed or the execution was stopped.
            self._runner().stop(region, name)

    def _build_sync_resolver(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any] | None:
        env.stack.pop()  # the CreateProcessingJob response
        name = str(normalised_parameters["ProcessingJobName"])
        region = resource_runtime_part.region
        runner = self._runner()

        def resolve() -> Any | None:
            if runner.status(region, name) not in _TERMINAL:
                return None
            job = runner.describe(region, name)
            status = job.get("ProcessingJobStatus")
            if status not in _TERMINAL:
                return None
            if status == "Completed":
                return job
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=_details(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(job),
                        )
                    ),
                )
            )

        return resolve


class AwsSdkTaskService(StateTaskServiceAwsSdk):
    """moto's ``aws-sdk`` integration, with streaming response members read as text and
    errors named as AWS names them.

    moto 5.2.5 leaves ``s3:getObject``'s ``Body`` as a botocore stream object, so
    ``States.StringToJson($.Body)`` fails; AWS Step Functions returns the body as a string.
    It also names errors after the lower-case resource name (``s3.NoSuchKeyException``)
    where AWS uses the service's PascalCase name (``S3.NoSuchKeyException``).
    """

    @staticmethod
    def _normalise_service_error_name(service_name: str) -> str:
        return sdk_service_error_name(service_name)

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        super()._eval_service_task(
            env, resource_runtime_part, normalised_parameters, state_credentials
        )
        response = env.stack[-1]
        if isinstance(response, dict):
            for key, value in list(response.items()):
                if isinstance(value, StreamingBody):
                    response[key] = value.read().decode("utf-8", errors="replace")


_original_factory: Callable[..., Any] | None = None
_original_job_init: Callable[..., None] | None = None


def _job_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """moto's FakeProcessingJob, created ``InProgress``: moto makes every job ``Completed``
    at once, and a DescribeProcessingJob between its creation and :meth:`JobRunner.create`
    setting the real status would report a job that has not run as complete."""
    assert _original_job_init is not None
    _original_job_init(self, *args, **kwargs)
    self.processing_job_status = "InProgress"
    self.processing_end_time = None


def _factory(service_name: str) -> Any:
    if service_name == SERVICE_NAME:
        return SageMakerTaskService()
    if service_name == AWS_SDK:
        return cast(Any, AwsSdkTaskService)()
    assert _original_factory is not None
    return _original_factory(service_name=service_name)


def check_integration_points() -> None:
    """Fail loudly if the moto internals this module patches have moved or changed."""
    factory = state_task_service_factory.state_task_service_for
    problems = []
    if list(inspect.signature(factory).parameters) != ["service_name"]:
        problems.append(f"state_task_service_for{inspect.signature(factory)}")
    if SERVICE_NAME not in getattr(state_task_service_factory, "_UNSUPPORTED_SERVICE_NAMES", ()):
        problems.append("sagemaker is no longer in _UNSUPPORTED_SERVICE_NAMES")
    if not callable(getattr(state_task_factory, _FACTORY_NAME, None)):
        problems.append("state_task_factory no longer imports state_task_service_for")
    for name in (
        "_eval_service_task",
        "_build_sync_resolver",
        "_eval_integration_pattern",
        "_from_error",
    ):
        if not hasattr(StateTaskServiceCallback, name):
            problems.append(f"StateTaskServiceCallback.{name} is gone")
    if not hasattr(StateTaskServiceAwsSdk, "_eval_service_task"):
        problems.append("StateTaskServiceAwsSdk._eval_service_task is gone")
    from_error = inspect.getsource(StateTaskServiceAwsSdk._from_error)
    if "self._normalise_service_error_name(" not in from_error:
        problems.append("StateTaskServiceAwsSdk._from_error no longer names the service")
    if not hasattr(sagemaker_models, "sagemaker_backends"):
        problems.append("moto.sagemaker.models.sagemaker_backends is gone")
    job_init = _original_job_init or sagemaker_models.FakeProcessingJob.__init__
    if "self.processing_job_status" not in inspect.getsource(job_init):
        problems.append("FakeProcessingJob.__init__ no longer sets processing_job_status")
    require_unmoved(problems, "its Step Functions internals changed")


def install(runner: JobRunner) -> None:
    """Register the SageMaker integration in this process's moto interpreter."""
    global _RUNNER, _original_factory, _original_job_init
    check_integration_points()
    _RUNNER = runner
    if _original_factory is None:
        _original_factory = getattr(state_task_factory, _FACTORY_NAME)
        setattr(state_task_factory, _FACTORY_NAME, _factory)
    if _original_job_init is None:
        _original_job_init = sagemaker_models.FakeProcessingJob.__init__
        sagemaker_models.FakeProcessingJob.__init__ = _job_init  # type: ignore[method-assign]


def shutdown() -> int:
    """Kill the processes of every job still running; returns how many jobs there were."""
    return _RUNNER.shutdown() if _RUNNER is not None else 0


def uninstall() -> None:
    """Undo :func:`install` (the interpreter rejects ``sagemaker`` tasks again)."""
    global _RUNNER, _original_factory, _original_job_init
    if _original_factory is not None:
        setattr(state_task_factory, _FACTORY_NAME, _original_factory)
        _original_factory = None
    if _original_job_init is not None:
        sagemaker_models.FakeProcessingJob.__init__ = _original_job_init  # type: ignore[method-assign]
        _original_job_init = None
    _RUNNER = None

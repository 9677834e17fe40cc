"""The embedded AWS: moto in server mode, in this process, with SageMaker jobs that run.

:class:`Emulator` starts moto's threaded server on ``127.0.0.1`` (a free port), turns on
its Step Functions interpreter (moto's ``/moto-api/config``), registers the SageMaker
integration (:mod:`constructs_sm.local.sagemaker`) and makes Step Functions resources
created by CloudFormation visible to the interpreter. Clients talk to it at
``http://localhost:PORT`` (moto resolves template URLs of CloudFormation by the host name
``localhost``; ``127.0.0.1`` breaks ``cdk deploy``).

IAM is enforced (:mod:`constructs_sm.local.iam`): :meth:`Emulator.client` and what it
starts (the ``cdk`` CLI, through :attr:`Emulator.env`) act as an administrator user the
emulator creates; each processing job acts with its step's execution role and the state
machine's own S3 calls with its role. ``Emulator(enforce_iam=False)`` turns this off
(moto's default: nothing is checked). Nothing of the real AWS configuration leaks in.
It must run in the process that executes the state machines, since the interpreter's
service integrations live there: use it as a context manager::

    with Emulator() as aws:
        aws.client("s3").create_bucket(Bucket="demo")
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import urllib.request
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from botocore.config import Config
from moto import backends as moto_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.parser import models as sfn_parser_models

from constructs_sm.local import (
    asl_fixes,
    cfn_fixes,
    cfn_names,
    cfn_outputs,
    cfn_rollback,
    cfn_update_rollback,
    change_sets,
    faults,
    history_fixes,
    iam,
    iam_quotas,
    map_fixes,
    redrive,
    sagemaker,
    server,
)
from constructs_sm.local.faults import Fault, FaultPlan
from constructs_sm.service_model import instance_types

DEFAULT_REGION: Final = "us-east-1"
#: moto's only account (what ``sts get-caller-identity`` returns).
ACCOUNT: Final = DEFAULT_ACCOUNT_ID
_FAKE_KEY: Final = "testing"
_ACTIVE: list[Emulator] = []
#: The SSM parameter where an emulator kept running names its jobs' directory.
JOBS_DIR_PARAMETER: Final = "/constructs-sm/local/jobs-dir"
_MODULE_LIST: Final = "list_of_moto_modules"


def _cached_module_list() -> Any:
    """moto's server lists its package directory (about 200 ``stat`` calls) for every
    request, under the lock all requests share; the list never changes while it runs."""
    return _MODULES


_MODULES: Final = tuple(getattr(moto_backends, _MODULE_LIST)())
_original_module_list = getattr(moto_backends, _MODULE_LIST)


#: The services of an execution (its jobs, the interpreter's tasks, the runner's watch).
_EXECUTION_SERVICES: Final = ("s3", "sagemaker", "stepfunctions")


def _preload(region: str) -> None:
    """Read the service models an execution uses (0.1-0.2 s each, once per process) and
    the request validator's model, in the background (see :meth:`Emulator.start`)."""
    iam.preload(_EXECUTION_SERVICES, region)
    instance_types()


class Emulator:
    """moto server + Step Functions interpreter + local SageMaker processing jobs.

    :param region: the region every client and child process uses.
    :param work_dir: where job directories are made (a relative path is taken from the
        current directory); by default a temporary directory removed by :meth:`stop`
        (pass one to keep the jobs' files and logs).
    :param time_scale: multiplies every Wait state and Retry interval of the interpreter
        (for tests of backoffs: 0.01 runs a minute's waiting in 0.6 s); 1.0 is real time.
    :param enforce_iam: authenticate and authorize every request, each job with its
        step's role (the default); False leaves moto unchecked and every job with the
        administrator's credentials.
    """

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        work_dir: Path | None = None,
        time_scale: float = 1.0,
        enforce_iam: bool = True,
    ) -> None:
        self.region = region
        self.enforce_iam = enforce_iam
        self._time_scale = time_scale
        #: Errors planned for the next CreateProcessingJob calls (see :meth:`inject`).
        self.faults = FaultPlan()
        self._own_work_dir = work_dir is None
        self._remote: str | None = None
        # Absolute: jobs run with their own directory as working directory.
        self.work_dir = (
            Path(tempfile.mkdtemp(prefix="constructs-sm-local-"))
            if work_dir is None
            else Path(work_dir).absolute()
        )
        self._server: server.KeepAliveServer | None = None
        self._port = 0
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._saved_env: dict[str, str | None] = {}
        self._saved_backends: Any = None
        #: How many jobs were still running (and were killed) when :meth:`stop` ran.
        self.stopped_jobs = 0
        #: Where the jobs keep their directories (``<job name>/``, with ``logs/``); None
        #: when not known (an emulator of another process that did not publish it).
        self.jobs_dir: Path | None = self.work_dir / "jobs"
        self._credentials = iam.Credentials(_FAKE_KEY, _FAKE_KEY)
        self._session = self._credentials.session(region)

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    def attach(
        cls,
        endpoint: str,
        *,
        region: str = DEFAULT_REGION,
        credentials: iam.Credentials | None = None,
        work_dir: Path | None = None,
    ) -> Emulator:
        """An emulator another process runs at ``endpoint`` (``run --keep-running``):
        :meth:`client` talks to it; :meth:`start` and :meth:`stop` do nothing.

        IAM is enforced there: its clients sign with ``credentials``, by default those of
        ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``) in
        this process's environment, which ``run --keep-running`` prints (the emulator's
        administrator), else keys the emulator refuses.

        :param work_dir: where this process keeps its own files (a synthesized app, the
            deployers' files); the jobs run, and keep theirs, in the other process
            (:attr:`jobs_dir`, from :data:`JOBS_DIR_PARAMETER` when it published it).
        """
        emulator = cls(region=region, work_dir=work_dir or Path(os.devnull))
        emulator._own_work_dir = False
        emulator._remote = endpoint.rstrip("/")
        emulator.jobs_dir = None
        if credentials is None and os.environ.get("AWS_ACCESS_KEY_ID"):
            credentials = iam.Credentials(
                os.environ["AWS_ACCESS_KEY_ID"],
                os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
                os.environ.get("AWS_SESSION_TOKEN"),
            )
        if credentials is not None:
            emulator._credentials = credentials
            emulator._session = credentials.session(region)
        return emulator

    def publish_jobs_dir(self) -> None:
        """Put :attr:`jobs_dir` in the emulator's SSM parameter :data:`JOBS_DIR_PARAMETER`,
        where a process attached to it finds its jobs' logs."""
        if self.jobs_dir is not None:
            self.client("ssm").put_parameter(
                Name=JOBS_DIR_PARAMETER, Value=str(self.jobs_dir), Type="String", Overwrite=True
            )

    def read_jobs_dir(self) -> Path | None:
        """The jobs' directory the emulator published (:meth:`publish_jobs_dir`), if any."""
        ssm = self.client("ssm")
        try:
            return Path(ssm.get_parameter(Name=JOBS_DIR_PARAMETER)["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            return None

    @property
    def owns_work_dir(self) -> bool:
        """True when :attr:`work_dir` is a temporary directory :meth:`stop` removes."""
        return self._own_work_dir

    def start(self) -> Emulator:
        """Start the server and register the integration; returns ``self``."""
        if self._server is not None or self._remote is not None:
            return self
        if _ACTIVE:
            raise RuntimeError(
                "an Emulator is already running in this process (moto keeps one global state)"
            )
        sagemaker.check_integration_points()
        asl_fixes.check_integration_points()
        redrive.check_integration_points()
        history_fixes.check_integration_points()
        iam_quotas.check_integration_points()
        cfn_rollback.check_integration_points()
        change_sets.check_integration_points()
        server.check_integration_points()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request
        # The interpreter logs every failing state with its whole syntax tree; the
        # execution history has the errors.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # Skipped resource types are reported by the run (deploy.not_created_resources).
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
        threaded = server.KeepAliveServer(ip_address="127.0.0.1", port=0, verbose=False)
        threaded.start()
        self._server = threaded
        self._port = int(threaded.get_host_and_port()[1])
        _ACTIVE.append(self)
        # moto's interpreter calls the server back at localhost:$MOTO_PORT.
        for key, value in {"MOTO_PORT": str(self._port)}.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        # CloudFormation creates state machines in moto's plain Step Functions backend;
        # the interpreter's backend (a subclass) must own them to execute them.
        self._saved_backends = sfn_models.stepfunctions_backends
        setattr(  # noqa: B010 (the parser backends are a subclass's; mypy wants the base)
            sfn_models, "stepfunctions_backends", sfn_parser_models.stepfunctions_parser_backends
        )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        asl_fixes.install()
        cfn_fixes.install()
        cfn_names.install()
        map_fixes.install()
        redrive.install()
        history_fixes.install()
        iam_quotas.install()
        cfn_rollback.install()
        cfn_update_rollback.install()
        cfn_outputs.install()
        change_sets.install()
        setattr(moto_backends, _MODULE_LIST, _cached_module_list)
        faults.install_time_scale(self._time_scale)
        # While the app deploys: what the first execution would otherwise read then.
        threading.Thread(
            target=_preload, args=(self.region,), name="csm-preload", daemon=True
        ).start()
        if self.enforce_iam:
            self._enforce_iam()
        sagemaker.install(
            sagemaker.JobRunner(
                client=self.client_in,
                work_dir=self.work_dir / "jobs",
                job_env=self.env,
                account=ACCOUNT,
                faults=self.faults,
                assume_role=self._assume_job_role if self.enforce_iam else None,
            )
        )
        return self

    def _enforce_iam(self) -> None:
        """Create the administrator (while moto checks nothing), then check everything."""
        iam.install()
        self._credentials = iam.create_admin(self.client("iam"))
        self._session = self._credentials.session(self.region)
        with self._lock:
            self._clients.clear()
        iam.set_enforcement(self._port, on=True)

    @staticmethod
    def _assume_job_role(role_arn: str, job_arn: str, job_name: str) -> iam.Credentials:
        """The step role's credentials for one job, as SageMaker assumes it."""
        return iam.assume_as_service(
            service=iam.SAGEMAKER, role_arn=role_arn, source_arn=job_arn, session_name=job_name
        )

    @property
    def time_scale(self) -> float:
        """The factor applied to Wait states and Retry intervals (1.0: real time)."""
        return self._time_scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        self._time_scale = scale
        if self._server is not None:
            faults.install_time_scale(scale)

    def inject(self, fault: Fault) -> Fault:
        """Fail the next CreateProcessingJob calls as AWS would (see :class:`Fault`)."""
        return self.faults.add(fault)

    def stop(self) -> None:
        """Kill the jobs still running (every process they started), stop the server, undo
        the registration and remove the temporary work dir."""
        if self._server is None:
            return
        self.stopped_jobs = sagemaker.shutdown()
        sagemaker.uninstall()
        faults.uninstall_time_scale()
        asl_fixes.uninstall()
        cfn_fixes.uninstall()
        cfn_names.uninstall()
        map_fixes.uninstall()
        redrive.uninstall()
        history_fixes.uninstall()
        iam_quotas.uninstall()
        cfn_outputs.uninstall()
        cfn_update_rollback.uninstall()
        cfn_rollback.uninstall()
        change_sets.uninstall()
        setattr(moto_backends, _MODULE_LIST, _original_module_list)
        if self.enforce_iam:
            iam.set_enforcement(self._port, on=False)
            iam.uninstall()
            self._credentials = iam.Credentials(_FAKE_KEY, _FAKE_KEY)
            self._session = self._credentials.session(self.region)
            self._clients.clear()
        if self._saved_backends is not None:
            sfn_models.stepfunctions_backends = self._saved_backends
        try:
            self._post("/moto-api/reset", {})
        finally:
            self._server.stop()
            self._server = None
            _ACTIVE.remove(self)
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            if self._own_work_dir:
                shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- access ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The server's port (0 before :meth:`start`)."""
        return self._port

    @property
    def endpoint(self) -> str:
        """``http://localhost:PORT``: the endpoint every client must use."""
        if self._remote is not None:
            return self._remote
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"http://localhost:{self._port}"

    @property
    def account(self) -> str:
        """The account id resources are created in."""
        return ACCOUNT

    @property
    def credentials(self) -> iam.Credentials:
        """The administrator's access key (fake keys when IAM is not enforced)."""
        return self._credentials

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes: the administrator's credentials, region,
        endpoint."""
        return {
            **self._credentials.env(),
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def child_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) without AWS settings, plus :attr:`env`."""
        source = dict(os.environ if base is None else base)
        clean = {k: v for k, v in source.items() if not k.startswith("AWS_")}
        clean.update(self.env)
        return clean

    def client(self, service: str) -> Any:
        """A boto3 client of the emulator in its region (cached, thread-safe)."""
        return self.client_in(service, self.region)

    def client_in(self, service: str, region: str) -> Any:
        """A boto3 client of the emulator in ``region`` (cached, thread-safe)."""
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    config=Config(retries={"max_attempts": 2}, max_pool_connections=32),
                )
            return self._clients[key]

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"http://localhost:{self._port}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

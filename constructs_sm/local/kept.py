"""Runs in an emulator that already holds the app: ``run --endpoint`` and ``--keep-running``.

``run --keep-running`` keeps its emulator up after the execution and prints its endpoint
and administrator keys (:func:`kept_running_lines`); it also names its jobs' directory in
the emulator (:meth:`~constructs_sm.local.emulator.Emulator.publish_jobs_dir`), so that a
command attached to it shows a failed job's log.

``run --endpoint URL`` (another process) attaches to it (:func:`attach`: the keys in its
environment are checked first, :class:`KeysRefusedError` or :class:`NoEmulatorError`),
synthesizes the app as usual, and asks :func:`stacks_to_deploy` which stacks to deploy:

- a stack the emulator holds, deployed (``CREATE_COMPLETE``, ``UPDATE_COMPLETE``...), from
  the same template with the same tags is used as it is: no bootstrap, no deploy (a
  change in a step's code changes the template too: assets are named by the hash of
  their content);
- every other one (changed, missing, failed) is deployed, an update of the stack as
  ``cdk deploy`` makes it; ``cdk bootstrap`` only runs when the emulator has no
  ``CDKToolkit`` stack.

The same holds for :func:`constructs_sm.local.cli.main` given a running emulator. The
jobs of an attached run are the other process's: they run there, with its work directory.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import botocore.exceptions

from constructs_sm.local.deploy import (
    DeployedStack,
    stack_status,
    unchanged_stack,
)
from constructs_sm.local.emulator import Emulator

#: Error codes of a request the emulator did not authenticate or authorize.
REFUSED_KEYS: Final = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
     "AccessDenied", "AccessDeniedException"}
)  # fmt: skip


class KeysRefusedError(Exception):
    """The emulator refused the keys of this process's environment."""


class NoEmulatorError(Exception):
    """Nothing answers at the endpoint."""


def refused(error: botocore.exceptions.ClientError) -> bool:
    """Whether the emulator refused the request's keys."""
    # moto answers a JSON-protocol client in XML here: the code is then only in the text
    code = str(error.response.get("Error", {}).get("Code"))
    return code in REFUSED_KEYS or any(word in str(error) for word in REFUSED_KEYS)


def refused_message(endpoint: str, error: Exception, command: str) -> str:
    """What to say when the emulator at ``endpoint`` refused this shell's keys."""
    return (
        f"the emulator at {endpoint} refused the credentials in this shell ({error}); run "
        f"the {command} command as run --keep-running printed it, with its "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )


def attach(endpoint: str, work_dir: Path) -> Emulator:
    """The emulator at ``endpoint`` (see :meth:`Emulator.attach`), its keys checked and
    its jobs' directory read.

    :raises NoEmulatorError: nothing answers there.
    :raises KeysRefusedError: the emulator refuses the keys of this environment.
    """
    emulator = Emulator.attach(endpoint, work_dir=work_dir)
    try:
        emulator.client("sts").get_caller_identity()  # never denied to valid keys
        emulator.jobs_dir = emulator.read_jobs_dir()
    except botocore.exceptions.EndpointConnectionError as error:
        raise NoEmulatorError(
            f"no emulator answers at {endpoint} ({error}); start one with "
            "python -m constructs_sm.local run --keep-running, and use the endpoint it prints"
        ) from error
    except botocore.exceptions.ClientError as error:
        if refused(error):
            raise KeysRefusedError(refused_message(endpoint, error, "run")) from error
        raise
    return emulator


@dataclass
class DeployPlan:
    """Which stacks of a run to use as deployed, and which to deploy (and why)."""

    unchanged: dict[str, DeployedStack] = field(default_factory=dict)
    #: stack name -> why it is deployed
    deploy: dict[str, str] = field(default_factory=dict)


def stacks_to_deploy(emulator: Emulator, assembly: Path, stacks: list[str]) -> DeployPlan:
    """The ``stacks`` of ``assembly`` the emulator holds unchanged, and the others."""
    plan = DeployPlan()
    for name in stacks:
        deployed = unchanged_stack(emulator, assembly, name)
        if deployed is not None:
            plan.unchanged[name] = deployed
            continue
        status = stack_status(emulator, name)
        plan.deploy[name] = (
            "not in this emulator"
            if status is None
            else f"changed since it was deployed ({status})"
            if status.endswith("_COMPLETE") and "ROLLBACK" not in status
            else f"left {status} by its last deploy"
        )
    return plan


def rerun_command(args: argparse.Namespace, endpoint: str) -> str:
    """``python -m constructs_sm.local run --endpoint URL`` with this run's app options."""
    words = ["python", "-m", "constructs_sm.local", "run", "--endpoint", endpoint]
    if args.app:
        words += ["--app", str(args.app)]
    for stack in args.stack:
        words += ["--stack", str(stack)]
    if args.pipeline:
        words += ["--pipeline", str(args.pipeline)]
    for data in args.data:
        words += ["--data", str(data)]
    words += ["--input", " ".join(args.input)]
    if args.project_dir != Path.cwd():
        words += ["--project-dir", str(args.project_dir)]
    if args.cdk:
        words += ["--cdk", str(args.cdk)]
    return shlex.join(words)


def kept_running_lines(
    emulator: Emulator, execution_arn: str, args: argparse.Namespace
) -> list[str]:
    """What ``run --keep-running`` prints once its execution ended."""
    # The emulator enforces IAM: these commands sign as its administrator (local,
    # throwaway keys of this emulator only).
    keys = " ".join(f"{name}={value}" for name, value in emulator.credentials.env().items())
    return [
        f"emulator kept running at {emulator.endpoint} (Ctrl-C to stop); redrive with:",
        f"  {keys} python -m constructs_sm.local redrive {execution_arn} "
        f"--endpoint {emulator.endpoint}",
        "run the app again in it (stacks deployed there from the same template are not "
        "bootstrapped or deployed again) with:",
        f"  {keys} {rerun_command(args, emulator.endpoint)}",
        f"(its jobs' files and logs: {emulator.jobs_dir}/<job>/)",
    ]

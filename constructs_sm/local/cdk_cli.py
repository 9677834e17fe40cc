"""Finding the AWS CDK CLI (``cdk``) the way users install it.

:func:`find_cdk` looks, in this order, for

1. ``$CSM_CDK``: a command line naming the CLI (``CSM_CDK="npx cdk"``,
   ``CSM_CDK=/opt/cdk/bin/cdk``), or ``none`` to deploy without a CLI;
2. ``node_modules/.bin/cdk`` in the project folder or any folder above it (``npm install
   aws-cdk`` in the project, as ``npx`` would find it);
3. ``cdk`` on ``PATH`` (``npm install -g aws-cdk``).

When none is found, :mod:`constructs_sm.local.cfn_deploy` synthesizes the app and
deploys the assembly through the emulator's CloudFormation API itself. Nothing here
imports moto: this module is a leaf.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Environment variable naming the cdk CLI command (or ``none``).
CDK_ENV: Final = "CSM_CDK"
#: The value of ``--cdk`` / ``$CSM_CDK`` that deploys without a CLI.
NO_CLI: Final = "none"
#: How to get the CLI, for messages.
INSTALL_CLI: Final = (
    "install the AWS CDK CLI (`npm install -g aws-cdk`, or `npm install aws-cdk` in the "
    f"project), or name it with --cdk or ${CDK_ENV} (e.g. {CDK_ENV}='npx aws-cdk')"
)


class CdkNotFoundError(LookupError):
    """The CLI named by ``--cdk`` or ``$CSM_CDK`` is not an executable."""


@dataclass(frozen=True)
class CdkCli:
    """A cdk CLI: the command to run and where it was found (for messages)."""

    command: tuple[str, ...]
    found: str

    def __str__(self) -> str:
        return f"{shlex.join(self.command)} ({self.found})"


def _executable(word: str, path: str | None) -> str | None:
    """``word`` as an executable: a path to one, or a name found on ``path``."""
    if os.sep in word:
        candidate = Path(word).expanduser()
        return str(candidate.resolve()) if _is_executable(candidate) else None
    return shutil.which(word, path=path)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def named_cdk(command: str, *, found: str, env: Mapping[str, str]) -> CdkCli | None:
    """The CLI a command line names (``none``: no CLI); ``CdkNotFoundError`` otherwise."""
    if command.strip().lower() == NO_CLI:
        return None
    words = shlex.split(command)
    executable = _executable(words[0], env.get("PATH")) if words else None
    if executable is None:
        raise CdkNotFoundError(
            f"{found} is {command!r}, which names no executable: {INSTALL_CLI}, or "
            f"use {NO_CLI!r} to deploy without a CLI"
        )
    return CdkCli((executable, *words[1:]), found)


def find_cdk(
    project_dir: Path,
    *,
    explicit: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CdkCli | None:
    """The cdk CLI for ``project_dir``, or None when there is none (see the module doc).

    :param explicit: a command line given on the command line (``--cdk``); it wins over
        ``$CSM_CDK``. ``none`` means no CLI.
    :param env: the environment to read ``$CSM_CDK`` and ``PATH`` from (default: this
        process's).
    """
    env = os.environ if env is None else env
    if explicit is not None:
        return named_cdk(explicit, found="--cdk", env=env)
    if env.get(CDK_ENV):
        return named_cdk(env[CDK_ENV], found=f"${CDK_ENV}", env=env)
    start = project_dir.resolve()
    for directory in (start, *start.parents):
        candidate = directory / "node_modules" / ".bin" / "cdk"
        if _is_executable(candidate):
            return CdkCli((str(candidate),), f"node_modules/.bin of {directory}")
    on_path = shutil.which("cdk", path=env.get("PATH"))
    if on_path is not None:
        return CdkCli((on_path,), "PATH")
    return None


def node_hint(env: Mapping[str, str]) -> str:
    """A sentence about Node.js when none can be found (jsii and the CLI both need it)."""
    node = env.get("JSII_NODE") or shutil.which("node", path=env.get("PATH"))
    if node:
        return ""
    return (
        "\nNode.js was not found (no `node` on PATH, no $JSII_NODE): aws-cdk-lib runs on "
        "Node.js through jsii, so a CDK app cannot synthesize without it; install Node.js "
        "(a maintained LTS release; this project is tested with Node.js 22)"
    )

"""A stand-in for the ``docker`` CLI while deploying into the emulator (``CDK_DOCKER``).

There is no Docker engine on the machines the offline engine targets, and the local
processing jobs do not run in the image: they run the step's entrypoint with this
machine's Python. The ``cdk`` CLI still publishes the Docker image assets of an app
before deploying, so :mod:`constructs_sm.local.deploy` points ``CDK_DOCKER`` at a
wrapper that runs this module. It accepts ``login``, ``inspect``, ``build``, ``tag`` and
``push`` and does nothing for them: **no image is built or pushed**, the ECR repository
of the bootstrap stack stays empty. Anything else fails, so an unexpected use shows.
"""

from __future__ import annotations

import sys

_NO_OPS = frozenset({"login", "inspect", "build", "tag", "push", "logout"})


def main(argv: list[str] | None = None) -> int:
    """Handle one ``docker`` command line; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    command = next((a for a in args if not a.startswith("-")), "")
    if command == "login" and "--password-stdin" in args:
        sys.stdin.read()
    if command in _NO_OPS:
        if command == "build":
            print("constructs_sm.local: docker build skipped (jobs run as local processes)")
        return 0
    if command in ("version", "--version"):
        print("constructs_sm.local docker stand-in")
        return 0
    print(f"constructs_sm.local docker stand-in: unsupported command {args!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Launcher of a step's script inside the processing container (standard library only).

A step's ``ContainerEntrypoint`` is ``[*COMMAND, "-c", BOOTSTRAP, SCRIPT]`` for a Python
command (``python3``, ``python3 -u``...) or ``["python3", "-c", BOOTSTRAP, "--command",
*COMMAND, "--", SCRIPT]`` for any other (``bash``), and the step's arguments follow. The
bootstrap extracts the code zip into a temporary directory ``D`` and runs
``D/__main__.py`` (``runtime.ZIP_MAIN``, with ``D`` first on ``sys.path``), which calls
:func:`main` with the rest of the command line. ``SCRIPT`` is
``scripts/<hash>/<entry point>``: ``D/scripts/<hash>`` is the step's code directory (the
directory given as ``code=``, or the one holding its single script). The launcher then:

1. sets ``$CSM_CODE_DIR`` to ``D`` (unless it is already set), which is where
   :func:`constructs_sm.runtime.spec` finds the step's spec;
2. Python: sets ``sys.argv`` to ``[D/SCRIPT, *ARGS]``, puts the code directory and the
   script's directory first on ``sys.path`` (so the script imports the modules and
   packages shipped beside it, as ``python3 D/SCRIPT ARGS...`` would), and runs the script
   as ``__main__``: as a module of its package (``python3 -m pkg.main``, so that relative
   imports work) when it is inside a package of the code directory, else as a file;
3. any other command: runs ``COMMAND D/SCRIPT ARGS...`` as a child process with the values
   of :mod:`constructs_sm.runtime` exported as environment variables (see
   ``runtime._exported``), forwards SIGTERM and SIGINT to it, checks the values it wrote
   to ``$CSM_RETURNS_FILE`` and exits with its exit status (128 + N after signal N).

A missing script or a malformed command line exits with status 2 and a message on stderr.
Running it by hand::

    python3 constructs_sm/runtime/launch.py prepare.py --rows 100
    python3 constructs_sm/runtime/launch.py --command bash -- run.sh --rows 100

``D`` is the directory holding the ``constructs_sm`` package this file belongs to,
so the launcher also works from a source checkout.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path, PurePosixPath
from types import FrameType

USAGE = "usage: launch.py [--command COMMAND... --] SCRIPT [ARGUMENT ...]"

# The directory that holds the ``constructs_sm`` package: <D>/constructs_sm/runtime/launch.py.
_CODE_DIR = Path(__file__).resolve().parents[2]


def _import_runtime() -> None:
    """Make ``constructs_sm.runtime`` importable from the code directory."""
    if str(_CODE_DIR) not in sys.path:
        sys.path.insert(0, str(_CODE_DIR))


def _split(args: list[str]) -> tuple[list[str] | None, list[str]] | None:
    """``(command or None, [SCRIPT, *ARGS])``; ``None`` for a malformed command line."""
    _import_runtime()
    from constructs_sm.runtime._constants import COMMAND_FLAG

    if not args or args[0] != COMMAND_FLAG:
        return None, args
    if "--" not in args:
        return None
    end = args.index("--")
    command = args[1:end]
    return (command, args[end + 1 :]) if command else None


def source_dir(script: str) -> Path:
    """The step's code directory: ``D/scripts/<hash>`` for ``scripts/<hash>/...``, else
    the script's own directory."""
    parts = PurePosixPath(script).parts
    if len(parts) >= 3 and parts[0] == "scripts":
        return _CODE_DIR / parts[0] / parts[1]
    return (_CODE_DIR / script).parent


def module_name(script: Path, source: Path) -> str | None:
    """``pkg.sub.main`` when ``script`` is inside a package below ``source`` (every
    directory between them has an ``__init__.py``), else ``None`` (run it as a file)."""
    if script.suffix != ".py" or script.parent == source or source not in script.parents:
        return None
    relative = script.relative_to(source)
    directory = source
    for part in relative.parts[:-1]:
        directory = directory / part
        if not (directory / "__init__.py").is_file():
            return None
    return ".".join(relative.with_suffix("").parts)


def main(argv: list[str] | None = None) -> int:
    """Run ``SCRIPT`` (a path relative to the code directory) with its arguments.

    ``argv`` defaults to ``sys.argv[1:]``. Returns 2 when the command line is malformed
    or the script does not exist. A Python script's exceptions (including
    ``SystemExit``) propagate unchanged; another command's exit status is returned.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    split = _split(args)
    if split is None or not split[1] or not split[1][0]:
        print(USAGE, file=sys.stderr)
        return 2
    command, rest = split
    script = _CODE_DIR / rest[0]
    if not script.is_file():
        print(
            f"launch.py: script {rest[0]!r} not found in the code directory {_CODE_DIR}",
            file=sys.stderr,
        )
        return 2
    from constructs_sm.runtime import CODE_DIR_ENV, finish_returns, start_returns

    os.environ.setdefault(CODE_DIR_ENV, str(_CODE_DIR))
    source = source_dir(rest[0])
    start_returns()
    try:
        if command is not None:
            return _run_command(command, script, source, rest[1:])
        _run_python(script, source, rest[1:])
    finally:
        finish_returns()
    return 0


def _run_python(script: Path, source: Path, args: list[str]) -> None:
    sys.argv = [str(script), *args]
    for directory in (str(source), str(script.parent)):
        if not sys.path or sys.path[0] != directory:
            sys.path.insert(0, directory)
    module = module_name(script, source)
    if module is not None:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(str(script), run_name="__main__")


def _run_command(command: list[str], script: Path, source: Path, args: list[str]) -> int:
    # Imported here: a Python step's process never needs them (subprocess, with what it
    # imports, is about 3 ms of every job's start).
    import signal
    import subprocess

    from constructs_sm.runtime._exported import exported_environment
    from constructs_sm.runtime._returns import check_returns_file

    environment = {**os.environ, **exported_environment(source)}
    try:
        process = subprocess.Popen([*command, str(script), *args], env=environment)
    except OSError as error:
        print(f"launch.py: cannot run {command[0]!r}: {error.strerror or error}", file=sys.stderr)
        return 127

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[signum] = signal.signal(signum, forward)
        except ValueError:  # not the main thread (a test calling main()): nothing to forward
            break
    try:
        code = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    problem = check_returns_file()
    if problem is not None:
        print(f"launch.py: {problem}", file=sys.stderr)
        if code == 0:
            code = 1
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())

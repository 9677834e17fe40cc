"""Launcher of a step's script inside the processing container (standard library only).

A step's ``ContainerEntrypoint`` is ``["python3", "-c", BOOTSTRAP, SCRIPT, *ARGS]``.
The bootstrap extracts the code zip into a temporary directory ``D`` and runs
``D/__main__.py`` (``runtime.ZIP_MAIN``, with ``D`` first on ``sys.path``), which
calls :func:`main` with ``sys.argv[1:] == [SCRIPT, *ARGS]``. The launcher then:

1. sets ``$CSM_CODE_DIR`` to ``D`` (unless it is already set), which is where
   :func:`constructs_sm.runtime.spec` finds ``csm_step.json``;
2. sets ``sys.argv`` to ``[D/SCRIPT, *ARGS]`` and puts the script's directory first
   on ``sys.path``, as ``python3 D/SCRIPT ARGS...`` would;
3. runs the script as ``__main__``.

A missing script exits with status 2 and a message on stderr. Running it by hand::

    python3 constructs_sm/runtime/launch.py prepare.py --rows 100

``D`` is the directory holding the ``constructs_sm`` package this file belongs to,
so the launcher also works from a source checkout.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

USAGE = "usage: launch.py SCRIPT [ARGUMENT ...]"

# The directory that holds the ``constructs_sm`` package: <D>/constructs_sm/runtime/launch.py.
_CODE_DIR = Path(__file__).resolve().parents[2]


def _code_dir_env() -> str:
    """Return the name of the code-directory variable from the runtime package."""
    if str(_CODE_DIR) not in sys.path:
        sys.path.insert(0, str(_CODE_DIR))
    from constructs_sm.runtime import CODE_DIR_ENV

    return CODE_DIR_ENV


def main(argv: list[str] | None = None) -> int:
    """Run ``argv[0]`` (a path relative to the code directory) with ``argv[1:]``.

    ``argv`` defaults to ``sys.argv[1:]``. Returns 2 when no script is given or the
    script does not exist, else 0 after the script finished. Exceptions raised by
    the script (including ``SystemExit``) propagate unchanged.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or not args[0]:
        print(USAGE, file=sys.stderr)
        return 2
    script = _CODE_DIR / args[0]
    if not script.is_file():
        print(
            f"launch.py: script {args[0]!r} not found in the code directory {_CODE_DIR}",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault(_code_dir_env(), str(_CODE_DIR))
    from constructs_sm.runtime import finish_returns, start_returns

    start_returns()
    sys.argv = [str(script), *args[1:]]
    script_dir = str(script.parent)
    if not sys.path or sys.path[0] != script_dir:
        sys.path.insert(0, script_dir)
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        finish_returns()
    return 0


if __name__ == "__main__":
    sys.exit(main())

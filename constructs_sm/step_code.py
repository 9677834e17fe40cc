"""A step's code (pure): one script or a whole directory, its entry point, and the command.

``add_step(code="prepare.py")`` ships one script; ``add_step(code="src/",
entry_point="main.py")`` ships the directory's whole tree (modules, packages, data files)
and runs ``main.py`` with the directory on ``sys.path``, as ScriptProcessor's ``code=``
plus ``source_dir`` would. Left out of a directory: :data:`EXCLUDED_DIRS`, any
virtual environment (a directory holding ``pyvenv.cfg``) and :data:`EXCLUDED_FILES`.

``command`` is ScriptProcessor's ``command``: ``["python3"]`` by default, any Python
interpreter with options (``["python3", "-u"]``), or another program
(``["bash"]``, ``["Rscript"]``) that gets the script's path and the step's arguments.
The bootstrap needs Python either way (see :mod:`constructs_sm.runtime.launch`).

The code lands in the pipeline's bundle (:mod:`constructs_sm.code`) as
``scripts/<digest>/<its tree>``; the digest covers every file's path and content.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final, cast

from constructs_sm import runtime as _rt
from constructs_sm.limits import MAX_ARGUMENT, MAX_ARGUMENTS

#: Directories never shipped: caches, version control, virtual environments, CDK output.
EXCLUDED_DIRS: Final = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".ipynb_checkpoints",
        ".idea",
        ".vscode",
        "cdk.out",
    }
)
#: Files never shipped (compiled Python, editor and OS litter).
EXCLUDED_FILES: Final = (re.compile(r".*\.py[co]$"), re.compile(r"^\.DS_Store$"))
#: A Python interpreter as a command's first item: python, python3, python3.11, a path.
_PYTHON: Final = re.compile(r"^python(\d+(\.\d+)*)?$")
DEFAULT_COMMAND: Final = ("python3",)


def is_python(command: Sequence[str]) -> bool:
    """Whether ``command`` runs a Python interpreter (the script then runs in-process,
    with :mod:`constructs_sm.runtime` importable)."""
    return bool(command) and bool(_PYTHON.match(PurePosixPath(command[0]).name))


@dataclass(frozen=True)
class StepSource:
    """A step's code as the bundle ships it.

    ``files`` maps each path below the code directory (``main.py``, ``my_pkg/util.py``)
    to its content; ``entry_point`` is one of them.
    """

    files: Mapping[str, bytes]
    entry_point: str
    command: tuple[str, ...] = DEFAULT_COMMAND
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        hashed = hashlib.sha256()
        for name, data in sorted(self.files.items()):
            hashed.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        object.__setattr__(self, "digest", hashed.hexdigest()[:16])

    @property
    def directory(self) -> str:
        """Where the code is in the bundle: ``scripts/<digest>``."""
        return f"scripts/{self.digest}"

    @property
    def script(self) -> str:
        """The entry point's path in the bundle: ``scripts/<digest>/<entry point>``."""
        return f"{self.directory}/{self.entry_point}"


def container_entrypoint(command: Sequence[str], script: str) -> list[str]:
    """A job's ``ContainerEntrypoint``: the command around the bootstrap.

    A Python command runs the bootstrap itself (``python3 -u -c BOOTSTRAP SCRIPT``); any
    other runs under ``python3``'s bootstrap, which starts it with the script
    (``python3 -c BOOTSTRAP --command bash -- SCRIPT``). The step's arguments follow in
    ``ContainerArguments``, as ScriptProcessor's ``arguments`` do.
    """
    if is_python(command):
        return [*command, "-c", _rt.BOOTSTRAP, script]
    return ["python3", "-c", _rt.BOOTSTRAP, _rt.COMMAND_FLAG, *command, "--", script]


def _excluded_file(name: str) -> bool:
    return any(pattern.match(name) for pattern in EXCLUDED_FILES)


def directory_files(root: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every file of ``root`` that is shipped, by POSIX path below it, and the problems
    (a link to a directory is refused: it is not followed, and leaving it out silently
    would ship less than the directory holds)."""
    files: dict[str, bytes] = {}
    problems: list[str] = []
    for current, dirs, names in os.walk(root):
        here = Path(current)
        kept = []
        for name in sorted(dirs):
            path = here / name
            if name in EXCLUDED_DIRS or (path / "pyvenv.cfg").is_file():
                continue
            if path.is_symlink():
                problems.append(
                    f"{path.relative_to(root).as_posix()!r} is a link to a directory; "
                    "links to directories are not followed: copy it in, or point code at "
                    "the directory it links to"
                )
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            if _excluded_file(name):
                continue
            path = here / name
            if not path.is_file():  # a dangling link, a socket...
                continue
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files, problems


def command_problems(command: object) -> list[str]:
    """Why ``command`` cannot be a step's command (empty when it can)."""
    if isinstance(command, str) or not isinstance(command, Sequence) or not command:
        return [
            "command must be a non-empty list of strings, such as ['python3'] or ['bash'], "
            f"got {command!r}"
        ]
    problems = []
    for position, item in enumerate(command):
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_ARGUMENT:
            problems.append(
                f"command[{position}] must be a string of 1 to {MAX_ARGUMENT} characters, "
                f"got {item!r}"
            )
        elif "\0" in item or "\n" in item:
            problems.append(f"command[{position}] must be one line, got {item!r}")
    if problems:
        return problems
    if is_python(command):
        # [*command, "-c", BOOTSTRAP, SCRIPT]: the interpreter's own options only.
        clashing = [item for item in command[1:] if item in ("-c", "-m", "-")]
        if clashing:
            problems.append(
                f"command {list(command)!r} is a Python command: give interpreter options "
                f"only (such as -u or -X dev), not {', '.join(clashing)}: the step's script "
                "is its entry_point"
            )
        items = len(command) + 3
    else:
        if "--" in command:
            problems.append(f"command {list(command)!r} may not contain '--'")
        items = len(command) + 6
    if items > MAX_ARGUMENTS:
        problems.append(
            f"command has {len(command)} items; with the bootstrap the job's "
            f"ContainerEntrypoint would have {items}, at most {MAX_ARGUMENTS} are allowed"
        )
    return problems


def load_source(
    code: object, entry_point: object, command: object
) -> tuple[list[str], StepSource | None]:
    """Read a step's code: every problem with ``code``, ``entry_point`` and ``command``
    (empty when they are fine) and the source (``None`` when they are not)."""
    problems = command_problems(command)
    items = tuple(cast("Sequence[str]", command)) if not problems else DEFAULT_COMMAND
    python = not problems and is_python(items)
    if not isinstance(code, str | Path):
        problems.append(f"code must be a path to a script or a directory, got {code!r}")
        return problems, None
    path = Path(code)
    if path.is_file():
        if entry_point is not None:
            problems.append(
                f"entry_point is for a code directory; code {str(code)!r} is a file (it is "
                "the entry point): pass code=<its directory>, entry_point="
                f"{path.name!r} to ship the files beside it"
            )
        elif python and path.suffix != ".py":
            problems.append(
                f"code must be a Python script (*.py) for the Python command "
                f"{list(items)!r}, got {str(code)!r}; pass command=[...] to run it with "
                "another program"
            )
        if problems:
            return problems, None
        return [], StepSource({path.name: path.read_bytes()}, path.name, items)
    if not path.is_dir():
        problems.append(f"code {str(code)!r} is neither a file nor a directory")
        return problems, None
    if entry_point is None:
        problems.append(
            f"code {str(code)!r} is a directory: pass entry_point=<the script to run, "
            "relative to it> (such as 'main.py')"
        )
        return problems, None
    files, tree_problems = directory_files(path)
    problems += [f"code {str(code)!r}: {problem}" for problem in tree_problems]
    if not files:
        problems.append(
            f"code {str(code)!r} is an empty directory (no file is left once caches, "
            "version control and virtual environments are left out)"
        )
        return problems, None
    entry = _entry_point(path, entry_point, files, problems)
    if entry is not None and python and not entry.endswith(".py"):
        problems.append(
            f"entry_point must be a Python script (*.py) for the Python command "
            f"{list(items)!r}, got {entry!r}; pass command=[...] to run it with another "
            "program"
        )
    if problems or entry is None:
        return problems, None
    return [], StepSource(files, entry, items)


def _entry_point(
    root: Path, entry_point: object, files: Mapping[str, bytes], problems: list[str]
) -> str | None:
    """The entry point as a POSIX path below ``root``, or ``None`` (problems appended)."""
    if not isinstance(entry_point, str | Path) or not str(entry_point):
        problems.append(
            f"entry_point must be a path relative to the code directory, got {entry_point!r}"
        )
        return None
    relative = Path(entry_point)
    resolved = (root / relative).resolve()
    if relative.is_absolute() or ".." in relative.parts or root.resolve() not in resolved.parents:
        problems.append(
            f"entry_point {str(entry_point)!r} is outside the code directory {str(root)!r}; "
            "give a path relative to it"
        )
        return None
    name = relative.as_posix()
    if name not in files:
        missing = "does not exist" if not resolved.exists() else "is not a shipped file"
        shipped = ", ".join(sorted(files)[:5]) or "(none)"
        problems.append(
            f"entry_point {name!r} {missing} in the code directory {str(root)!r} "
            f"(its files: {shipped}{'...' if len(files) > 5 else ''})"
        )
        return None
    return name

"""A step's code (constructs_sm.step_code): scripts and code directories, what is shipped,
the entry point, the command and the ContainerEntrypoint it becomes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from constructs_sm import runtime
from constructs_sm.service_model import request_problems
from constructs_sm.step_code import (
    StepSource,
    command_problems,
    container_entrypoint,
    directory_files,
    is_python,
    load_source,
)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return _tree(
        tmp_path / "src",
        {
            "main.py": "import my_pkg\n",
            "my_pkg/__init__.py": "",
            "my_pkg/features.py": "X = 1\n",
            "my_pkg/data/labels.json": "[]",
            "run.sh": "echo hi\n",
            # Never shipped:
            "__pycache__/main.cpython-311.pyc": "x",
            "my_pkg/__pycache__/features.cpython-311.pyc": "x",
            "stale.pyc": "x",
            ".DS_Store": "x",
            ".git/HEAD": "ref",
            ".venv/lib/site.py": "x",
            "env/pyvenv.cfg": "home = /usr",
            "env/lib/python3.11/site-packages/big.py": "x",
            "cdk.out/manifest.json": "{}",
            ".mypy_cache/x.json": "{}",
        },
    )


def test_a_directory_ships_its_tree_without_caches_vcs_and_virtualenvs(src: Path) -> None:
    files, problems = directory_files(src)
    assert problems == []
    assert sorted(files) == [
        "main.py",
        "my_pkg/__init__.py",
        "my_pkg/data/labels.json",
        "my_pkg/features.py",
        "run.sh",
    ]
    assert files["my_pkg/features.py"] == b"X = 1\n"


def test_a_link_to_a_directory_is_refused_and_a_link_to_a_file_is_shipped(
    src: Path, tmp_path: Path
) -> None:
    shared = _tree(tmp_path / "shared", {"lib.py": "Y = 2\n"})
    (src / "shared").symlink_to(shared)
    (src / "lib.py").symlink_to(shared / "lib.py")
    files, problems = directory_files(src)
    assert files["lib.py"] == b"Y = 2\n"
    assert "shared/lib.py" not in files
    assert problems == [
        "'shared' is a link to a directory; links to directories are not followed: copy it "
        "in, or point code at the directory it links to"
    ]


def test_load_a_directory_with_its_entry_point(src: Path) -> None:
    problems, source = load_source(src, "main.py", ["python3", "-u"])
    assert problems == []
    assert source is not None
    assert source.entry_point == "main.py"
    assert source.command == ("python3", "-u")
    assert source.script == f"scripts/{source.digest}/main.py"
    assert source.directory == f"scripts/{source.digest}"
    nested = load_source(src, Path("my_pkg") / "features.py", ["python3"])[1]
    assert nested is not None and nested.entry_point == "my_pkg/features.py"


def test_a_single_script_is_the_simple_case(src: Path) -> None:
    problems, source = load_source(str(src / "main.py"), None, ["python3"])
    assert problems == []
    assert source is not None
    assert dict(source.files) == {"main.py": b"import my_pkg\n"}
    assert source.entry_point == "main.py"


def test_the_digest_covers_every_path_and_content() -> None:
    one = StepSource({"main.py": b"a", "lib.py": b"b"}, "main.py")
    assert StepSource({"lib.py": b"b", "main.py": b"a"}, "main.py").digest == one.digest
    assert StepSource({"main.py": b"a", "lib.py": b"c"}, "main.py").digest != one.digest
    assert StepSource({"main.py": b"a", "lib2.py": b"b"}, "main.py").digest != one.digest
    assert len(one.digest) == 16


@pytest.mark.parametrize(
    ("entry_point", "message"),
    [
        (None, r"code '.*src' is a directory: pass entry_point=<the script to run"),
        ("missing.py", r"entry_point 'missing.py' does not exist in the code directory .*"),
        ("stale.pyc", r"entry_point 'stale.pyc' is not a shipped file"),
        ("../outside.py", r"entry_point '../outside.py' is outside the code directory"),
        ("/etc/passwd", r"entry_point '/etc/passwd' is outside the code directory"),
        ("", "entry_point must be a path relative to the code directory"),
        ("run.sh", r"entry_point must be a Python script \(\*\.py\) for the Python command"),
    ],
)
def test_entry_point_problems(src: Path, entry_point: str | None, message: str) -> None:
    (src.parent / "outside.py").write_text("")  # exists, but outside the directory
    problems, source = load_source(str(src), entry_point, ["python3"])
    assert source is None
    assert any(re.search(message, p) for p in problems), problems


def test_a_non_python_command_runs_any_entry_point(src: Path) -> None:
    problems, source = load_source(src, "run.sh", ["bash"])
    assert problems == []
    assert source is not None and source.entry_point == "run.sh"


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    empty = _tree(tmp_path / "empty", {"__pycache__/x.pyc": "x", ".git/HEAD": "x"})
    problems, source = load_source(empty, "main.py", ["python3"])
    assert source is None
    assert problems == [
        f"code {str(empty)!r} is an empty directory (no file is left once caches, version "
        "control and virtual environments are left out)"
    ]


def test_entry_point_with_a_single_file_is_refused(src: Path) -> None:
    problems, _ = load_source(src / "main.py", "main.py", ["python3"])
    assert problems == [
        f"entry_point is for a code directory; code {str(src / 'main.py')!r} is a file (it "
        "is the entry point): pass code=<its directory>, entry_point='main.py' to ship the "
        "files beside it"
    ]


def test_code_must_exist_and_be_a_path(tmp_path: Path) -> None:
    assert load_source(tmp_path / "nope", None, ["python3"])[0] == [
        f"code {str(tmp_path / 'nope')!r} is neither a file nor a directory"
    ]
    assert load_source(3, None, ["python3"])[0] == [
        "code must be a path to a script or a directory, got 3"
    ]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("python3", r"must be a non-empty list of strings, such as \['python3'\] .*got 'python3'"),
        ([], "command must be a non-empty list of strings"),
        (["python3", ""], r"command\[1\] must be a string of 1 to 256 characters, got ''"),
        (["bash", "x" * 257], r"command\[1\] must be a string of 1 to 256 characters"),
        (["bash", 3], r"command\[1\] must be a string of 1 to 256 characters, got 3"),
        (["bash", "a\nb"], r"command\[1\] must be one line"),
        (["python3", "-m", "x"], r"a Python command: give interpreter options only .* not -m"),
        (["python3", "-c"], "not -c"),
        (["bash", "--"], r"command \['bash', '--'\] may not contain '--'"),
        (["bash"] * 95, r"the job's ContainerEntrypoint would have 101, at most 100"),
    ],
)
def test_command_problems(command: object, message: str) -> None:
    problems = command_problems(command)
    assert any(re.search(message, p) for p in problems), problems


@pytest.mark.parametrize(
    ("command", "python"),
    [
        (["python3"], True),
        (["python"], True),
        (["python3.11", "-u"], True),
        (["/usr/local/bin/python3"], True),
        (["bash"], False),
        (["Rscript"], False),
        (["pythonish"], False),
    ],
)
def test_is_python(command: list[str], python: bool) -> None:
    assert is_python(command) is python


def test_container_entrypoints_fit_the_api() -> None:
    python = container_entrypoint(["python3", "-u"], "scripts/abc/main.py")
    assert python == ["python3", "-u", "-c", runtime.BOOTSTRAP, "scripts/abc/main.py"]
    other = container_entrypoint(["bash", "-e"], "scripts/abc/run.sh")
    assert other == [
        "python3",
        "-c",
        runtime.BOOTSTRAP,
        "--command",
        "bash",
        "-e",
        "--",
        "scripts/abc/run.sh",
    ]
    request = {"AppSpecification": {"ImageUri": "x", "ContainerEntrypoint": other}}
    assert [p for p in request_problems("CreateProcessingJob", request) if "ppSpec" in p] == []

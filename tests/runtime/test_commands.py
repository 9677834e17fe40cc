"""Code directories and commands, run end to end: the pipeline's bundle (zipped as the code
channel) started by the job's real ContainerEntrypoint, in an isolated interpreter.

Python entry points run in-process with their code directory on ``sys.path`` (sibling
modules, packages, relative imports inside a package); other commands (``bash``) run as
a child of the launcher with the runtime's values as ``CSM_*`` environment variables and
return values through ``$CSM_RETURNS_FILE``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from constructs_sm import runtime
from constructs_sm.code import StepCode, bundle_files
from constructs_sm.step_code import StepSource, container_entrypoint
from tests.runtime.support import SPEC, write_params

TRAIN_DIR = "/opt/ml/processing/input"
MODEL_DIR = "/opt/ml/processing/model-out"


def _spec(**overrides: Any) -> dict[str, Any]:
    spec = {
        **SPEC,
        "params": {
            "epochs": {"type": "integer", "default": 10, "minimum": 1},
            "rate": {"type": "number", "default": 0.5},
            "debug": {"type": "boolean", "default": False},
            "mode": {"type": "string", "default": "fast"},
        },
        "env": {},
        "inputs": ["train", "raw-data"],
        "outputs": ["model"],
        "local_paths": {
            "inputs": {"train": TRAIN_DIR, "raw-data": "/opt/ml/processing/input-raw"},
            "outputs": {"model": MODEL_DIR},
        },
        "returns": {"rows": "integer", "score": "number", "label": "string"},
        "returned_via": "message",
    }
    spec.update(overrides)
    return spec


def _install(ml: Path, source: StepSource, spec: dict[str, Any]) -> None:
    """Put the pipeline's bundle of one step in the code channel, as the job gets it."""
    files = bundle_files([StepCode("train", source, spec)])
    code = ml / runtime.RESERVED_DIR / runtime.CODE_CHANNEL
    code.mkdir(parents=True)
    with zipfile.ZipFile(code / "bundle.zip", "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    write_params(ml, {"epochs": 3, "rate": 0.25, "debug": True, "mode": 'it\'s "quoted"'})
    for directory in ("input", "input-raw"):
        (ml / "processing" / directory).mkdir(parents=True, exist_ok=True)
    (ml / "processing" / "input" / "rows.txt").write_text("a\nb\nc\n")
    config = ml / "config"
    config.mkdir(exist_ok=True)
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]})
    )
    (config / "processingjobconfig.json").write_text(
        json.dumps(
            {
                "ProcessingJobName": "job-123",
                "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.c5.2xlarge"}},
            }
        )
    )


def _command(source: StepSource, *args: str) -> list[str]:
    """The job's ContainerEntrypoint + arguments, ``python3`` being this interpreter with
    ``-I -S`` (no site-packages: the runtime must need none)."""
    entrypoint = container_entrypoint(source.command, source.script)
    python = [sys.executable, "-I", "-S"]
    if entrypoint[0] == "python3":
        entrypoint[:1] = python
    return [*entrypoint, *args]


def _environment(ml: Path, tmp_path: Path) -> dict[str, str]:
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        runtime.ML_DIR_ENV: str(ml),
        runtime.STEP_ENV: "train",
        "TMPDIR": str(temp),
    }


def _run(
    ml: Path, tmp_path: Path, source: StepSource, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(source, *args),
        env=_environment(ml, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _message(ml: Path) -> Any:
    return json.loads((ml / "output" / "message").read_text())


PACKAGE = {
    "helpers.py": "NAME = 'helpers'\n",
    "my_pkg/__init__.py": "",
    "my_pkg/features.py": "from my_pkg import util\nNAME = 'features+' + util.NAME\n",
    "my_pkg/util.py": "NAME = 'util'\n",
    "my_pkg/labels.json": '["a", "b"]',
}


def _source(files: dict[str, str], entry_point: str, command: tuple[str, ...]) -> StepSource:
    return StepSource(
        {k: textwrap.dedent(v).encode() for k, v in files.items()}, entry_point, command
    )


def test_a_code_directory_runs_with_its_modules_packages_and_data(ml: Path, tmp_path: Path) -> None:
    main = """
        import json, sys
        from pathlib import Path
        import helpers
        from my_pkg import features
        from constructs_sm import runtime

        labels = json.loads((Path(__file__).parent / "my_pkg" / "labels.json").read_text())
        rows = (runtime.input_dir("train") / "rows.txt").read_text().split()
        (runtime.output_dir("model") / "n.txt").write_text(str(len(rows)))
        runtime.emit(rows=len(rows), score=1, label=helpers.NAME)
        print(json.dumps({"argv": sys.argv[1:], "imports": [helpers.NAME, features.NAME],
                          "labels": labels, "optimize": sys.flags.optimize,
                          "file": __file__, "name": __name__}))
    """
    source = _source({**PACKAGE, "main.py": main}, "main.py", ("python3", "-u", "-O"))
    _install(ml, source, _spec())
    done = _run(ml, tmp_path, source, "--rows", "3")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["argv"] == ["--rows", "3"]
    assert report["imports"] == ["helpers", "features+util"]
    assert report["labels"] == ["a", "b"]
    assert report["optimize"] == 1  # the command's options reached the interpreter
    assert report["file"].endswith(f"/{source.directory}/main.py")
    assert report["name"] == "__main__"
    assert (ml / "processing" / "model-out" / "n.txt").read_text() == "3"  # its local_path
    assert _message(ml) == {"rows": 3, "score": 1.0, "label": "helpers"}


def test_an_entry_point_inside_a_package_uses_relative_imports(ml: Path, tmp_path: Path) -> None:
    cli = """
        import json
        from . import util
        from .features import NAME
        import helpers
        print(json.dumps([__name__, __package__, util.NAME, NAME, helpers.NAME]))
    """
    source = _source({**PACKAGE, "my_pkg/cli.py": cli}, "my_pkg/cli.py", ("python3",))
    _install(ml, source, _spec(returns={}))
    done = _run(ml, tmp_path, source)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["__main__", "my_pkg", "util", "features+util", "helpers"]


RUN_SH = """
    set -eu
    n=$(wc -l < "$CSM_INPUT_train/rows.txt")
    echo "$n rows, $CSM_PARAM_epochs epochs" > "$CSM_OUTPUT_model/report.txt"
    . "$CSM_SOURCE_DIR/lib/common.sh"
    printf '{"rows": %d, "score": %s, "label": "%s"}' "$n" "$CSM_PARAM_rate" "$(greet)" \\
        > "$CSM_RETURNS_FILE"
    cat <<EOF
    {"args": "$*", "epochs": "$CSM_PARAM_epochs", "rate": "$CSM_PARAM_rate",
     "debug": "$CSM_PARAM_debug", "raw": "$CSM_INPUT_raw_data",
     "host": "$CSM_CURRENT_HOST", "hosts": "$CSM_HOSTS", "cpus": "$CSM_NUM_CPUS",
     "gpus": "$CSM_NUM_GPUS", "job": "$CSM_JOB_NAME", "type": "$CSM_INSTANCE_TYPE",
     "step": "$CSM_STEP", "params_file": "$CSM_PARAMS_FILE"}
    EOF
"""


def _bash(script: str = RUN_SH) -> StepSource:
    return _source(
        {"run.sh": script, "lib/common.sh": "greet() { echo from-bash; }\n"},
        "run.sh",
        ("bash",),
    )


def test_a_bash_entry_point_reads_the_runtime_values_from_its_environment(
    ml: Path, tmp_path: Path
) -> None:
    source = _bash()
    _install(ml, source, _spec())
    done = _run(ml, tmp_path, source, "--fast", "x y")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == {
        "args": "--fast x y",
        "epochs": "3",
        "rate": "0.25",
        "debug": "true",
        "raw": str(ml / "processing" / "input-raw"),
        "host": "algo-2",
        "hosts": "algo-1 algo-2",
        "cpus": str(runtime.cpu_count()),
        "gpus": "0",
        "job": "job-123",
        "type": "ml.c5.2xlarge",
        "step": "train",
        "params_file": str(ml / runtime.RESERVED_DIR / "params" / "params.json"),
    }
    assert (ml / "processing" / "model-out" / "report.txt").read_text() == "3 rows, 3 epochs\n"
    # Checked as emit() checks values, then returned in the job's ExitMessage.
    assert _message(ml) == {"rows": 3, "score": 0.25, "label": "from-bash"}


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ('{"rows": 1.5, "score": 1, "label": "x"}', "return value 'rows' must be an integer"),
        ('{"rows": 1, "unknown": 2}', "'unknown'"),
        ("not json", "is not valid JSON"),
    ],
)
def test_values_a_bash_script_returns_are_checked(
    ml: Path, tmp_path: Path, returned: str, problem: str
) -> None:
    source = _bash(f"printf '%s' '{returned}' > \"$CSM_RETURNS_FILE\"\n")
    _install(ml, source, _spec())
    done = _run(ml, tmp_path, source)
    assert done.returncode == 1
    assert "launch.py: the values in " in done.stderr and problem in done.stderr
    assert _message(ml) == {}  # nothing unchecked goes back: the state machine fails the step


def test_the_exit_status_of_a_command_is_the_jobs(ml: Path, tmp_path: Path) -> None:
    source = _bash("exit 3\n")
    _install(ml, source, _spec(returns={}))
    assert _run(ml, tmp_path, source).returncode == 3
    killed = _bash("kill -KILL $$\n")
    _install_again(ml, killed)
    assert _run(ml, tmp_path, killed).returncode == 128 + signal.SIGKILL


def _install_again(ml: Path, source: StepSource) -> None:
    code = ml / runtime.RESERVED_DIR / runtime.CODE_CHANNEL
    for old in code.iterdir():
        old.unlink()
    code.rmdir()
    _install(ml, source, _spec(returns={}))


def test_a_missing_program_fails_with_127(ml: Path, tmp_path: Path) -> None:
    source = _source({"run.sh": "true\n"}, "run.sh", ("csm-no-such-program",))
    _install(ml, source, _spec(returns={}))
    done = _run(ml, tmp_path, source)
    assert done.returncode == 127
    assert "launch.py: cannot run 'csm-no-such-program'" in done.stderr


def test_the_launcher_forwards_sigterm_to_the_command(ml: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    source = _bash(
        f"trap 'echo stopped > \"$CSM_OUTPUT_model/stopped\"; exit 5' TERM\n"
        f"touch {ready}\n"
        "while true; do sleep 0.05; done\n"
    )
    _install(ml, source, _spec(returns={}))
    process = subprocess.Popen(
        _command(source), env=_environment(ml, tmp_path), stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists()
        process.send_signal(signal.SIGTERM)  # to the launcher, as SageMaker stops a job
        assert process.wait(timeout=30) == 5
    finally:
        if process.poll() is None:
            process.kill()
    assert (ml / "processing" / "model-out" / "stopped").read_text() == "stopped\n"


def test_launcher_refuses_a_malformed_command_line(ml: Path, tmp_path: Path) -> None:
    source = _bash("true\n")
    _install(ml, source, _spec(returns={}))
    for args in (["--command", "bash", source.script], ["--command", "--", source.script]):
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", runtime.BOOTSTRAP, *args],
            env=_environment(ml, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert "usage: launch.py [--command COMMAND... --] SCRIPT" in done.stderr


def test_exported_values_as_text_and_long_ones_through_the_file_only(
    ml: Path, use_spec: Any, tmp_path: Path
) -> None:
    from constructs_sm.runtime._exported import MAX_EXPORTED_VALUE, exported_environment, value_text

    assert [value_text(v) for v in (True, False, 10, 0.1, 1e-05, "a b", ["x", 1])] == [
        "true",
        "false",
        "10",
        "0.1",
        "1e-05",
        "a b",
        '["x",1]',
    ]
    use_spec(
        params={
            "short": {"type": "string"},
            "long": {"type": "string", "max_length": MAX_EXPORTED_VALUE + 1},
        },
        inputs=[],
        outputs=[],
        returns={},
    )
    write_params(ml, {"short": "s", "long": "x" * (MAX_EXPORTED_VALUE + 1)})
    exported = exported_environment(tmp_path)
    assert exported["CSM_PARAM_short"] == "s"
    assert "CSM_PARAM_long" not in exported  # too long for one environment string
    assert exported["CSM_SOURCE_DIR"] == str(tmp_path)
    assert "CSM_RETURNS_FILE" not in exported  # the step returns nothing
    assert "CSM_JOB_NAME" not in exported  # no job config

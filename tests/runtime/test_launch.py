"""The launcher (``runtime.launch``), run end to end by the same bootstrap the pipeline
puts in a job's ContainerEntrypoint, in an isolated interpreter."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from constructs_sm import runtime
from constructs_sm.runtime import launch
from tests.runtime.support import GOOD_PARAMS, RUNTIME_DIR, SPEC, read_returns, write_params

BOOT = runtime.BOOTSTRAP


def _build_code_zip(ml: Path, script: str, helper: str = "VALUE = 'helper'\n") -> Path:
    """Zip a step's code the way the pipeline does and put it in the code channel."""
    code = ml / runtime.RESERVED_DIR / runtime.CODE_CHANNEL
    code.mkdir(parents=True)
    archive = code / "code.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("script.py", textwrap.dedent(script))
        zipped.writestr("helper.py", helper)
        zipped.writestr("constructs_sm/__init__.py", "")
        zipped.writestr("__main__.py", runtime.ZIP_MAIN)
        for source in sorted(RUNTIME_DIR.glob("*.py")):
            zipped.write(source, f"constructs_sm/runtime/{source.name}")
        zipped.writestr(runtime.SPEC_FILE, json.dumps(SPEC))
    return archive


def _run_bootstrap(ml: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the bootstrap in an isolated interpreter: no site-packages, no PYTHON* vars."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        runtime.ML_DIR_ENV: str(ml),
        runtime.STEP_ENV: "train",
        "TMPDIR": str(temp),  # where the bootstrap extracts the zip
        "EPOCHS": "12",
    }
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", BOOT, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


STEP_SCRIPT = """
    import json, os, sys
    from constructs_sm import runtime
    import helper

    p = runtime.params()
    rows = (runtime.input_dir("train") / "rows.txt").read_text().splitlines()
    (runtime.output_dir("model") / "model.txt").write_text(f"{len(rows)} rows, {p.epochs}")
    runtime.emit(accuracy=1, rows=len(rows))
    third_party = sorted(
        m for m in sys.modules if m.split(".")[0] in {"aws_cdk", "constructs", "boto3", "jsii"}
    )
    print(json.dumps({
        "argv": sys.argv,
        "name": __name__,
        "code_dir": os.environ[runtime.CODE_DIR_ENV],
        "runtime_file": runtime.__file__,
        "params": p.as_dict(),
        "types": [type(p.epochs).__name__, type(p.learning_rate).__name__],
        "env": runtime.env("EPOCHS"),
        "step": runtime.step_name(),
        "helper": helper.VALUE,
        "third_party": third_party,
        "site": "site" in sys.modules,
    }))
"""


def test_launcher_end_to_end(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, STEP_SCRIPT)
    write_params(ml, GOOD_PARAMS)
    train = ml / "processing" / "input" / "train"
    train.mkdir(parents=True)
    (train / "rows.txt").write_text("a\nb\nc\n", encoding="utf-8")

    done = _run_bootstrap(ml, tmp_path, "script.py", "arg1", "--flag=a b", "")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    code_dir = Path(report["code_dir"])
    assert code_dir.parent == tmp_path / "tmp"  # the extracted zip, not this checkout
    assert report["argv"] == [str(code_dir / "script.py"), "arg1", "--flag=a b", ""]
    assert report["name"] == "__main__"
    assert Path(report["runtime_file"]) == code_dir / "constructs_sm" / "runtime" / "__init__.py"
    assert report["params"] == GOOD_PARAMS
    assert report["types"] == ["int", "float"]
    assert report["env"] == 12
    assert report["step"] == "train"
    assert report["helper"] == "helper"
    assert report["third_party"] == []
    assert report["site"] is False
    model = ml / "processing" / "output" / "model" / "model.txt"
    assert model.read_text(encoding="utf-8") == "3 rows, 12"
    assert read_returns(ml) == {"accuracy": 1.0, "rows": 3}


def test_launcher_script_errors_propagate(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, STEP_SCRIPT)
    write_params(ml, {**GOOD_PARAMS, "epochs": 0})
    done = _run_bootstrap(ml, tmp_path, "script.py")
    assert done.returncode == 1
    assert "ParameterError: parameter 'epochs' must be an integer >= 1, got 0" in done.stderr


def test_launcher_exit_code_of_the_script(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, "import sys\nsys.exit(7)\n")
    assert _run_bootstrap(ml, tmp_path, "script.py").returncode == 7


def test_a_python_step_starts_without_loading_subprocess(ml: Path, tmp_path: Path) -> None:
    """Only a command step (``command=["bash"]``) runs a child process; loading
    ``subprocess`` took about 3 ms of every job's start."""
    _build_code_zip(ml, "import sys\nprint(sorted({'subprocess', 'signal'} & set(sys.modules)))\n")
    done = _run_bootstrap(ml, tmp_path, "script.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_launcher_missing_script(ml: Path, tmp_path: Path) -> None:
    _build_code_zip(ml, STEP_SCRIPT)
    done = _run_bootstrap(ml, tmp_path, "nope.py", "x")
    assert done.returncode == 2
    assert "launch.py: script 'nope.py' not found in the code directory" in done.stderr
    assert done.stdout == ""


def test_launcher_main_usage_and_missing_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch.main([]) == 2
    assert "usage: launch.py [--command COMMAND... --] SCRIPT" in capsys.readouterr().err
    assert launch.main(["csm-no-such-script.py"]) == 2
    assert "script 'csm-no-such-script.py' not found" in capsys.readouterr().err


def test_launcher_via_run_path_keeps_a_preset_code_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    shutil.copytree(RUNTIME_DIR, code / "constructs_sm" / "runtime")
    (code / "constructs_sm" / "__init__.py").write_text("", encoding="utf-8")
    result = tmp_path / "result.json"
    (code / "sub").mkdir()
    (code / "sub" / "step.py").write_text(
        "import json, os, sys\n"
        f"with open({str(result)!r}, 'w') as out:\n"
        "    json.dump({'argv': sys.argv, 'code_dir': os.environ['CSM_CODE_DIR'],\n"
        "               'path0': sys.path[0], 'name': __name__}, out)\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(runtime.CODE_DIR_ENV, "/preset")
    monkeypatch.setattr(sys, "argv", ["launch.py", "sub/step.py", "--x", "1"])
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(code / "constructs_sm" / "runtime" / "launch.py"), run_name="__main__")
    assert exited.value.code == 0
    report = json.loads(result.read_text(encoding="utf-8"))
    assert report == {
        "argv": [str(code / "sub" / "step.py"), "--x", "1"],
        "code_dir": "/preset",
        "path0": str(code / "sub"),
        "name": "__main__",
    }

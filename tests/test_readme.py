"""The README's examples are executed: the quick start synthesizes a working pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


#: aws-cdk-lib's App, before a test replaces it.
APP = cdk.App


def _run_block(
    block: str, what: str, monkeypatch: pytest.MonkeyPatch, outdir: Path, root: Path
) -> dict[str, Any]:
    """Execute a README block from the repository root, its app writing to ``outdir``."""
    monkeypatch.chdir(root)
    # The jsii Node process does not see environment changes: pass the outdir instead.
    monkeypatch.setattr(cdk, "App", lambda **kwargs: APP(outdir=str(outdir), **kwargs))
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(block, f"README.md {what}", "exec"), namespace)
    return namespace


def _definition_text(template_file: Path) -> str:
    """The DefinitionString of the template's one state machine, as JSON text."""
    template = json.loads(template_file.read_text())
    (machine,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return json.dumps(machine["Properties"]["DefinitionString"])


def test_readme_states_exactly_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    console = re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL)
    commands = [line.split("#")[0].strip() for block in console for line in block.splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]


def test_quick_start_synthesizes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, root: Path
) -> None:
    quick_start = _python_blocks()[0]
    assert "ProcessingPipeline" in quick_start
    namespace = _run_block(quick_start, "quick start", monkeypatch, tmp_path, root)
    assert isinstance(namespace["app"], APP)
    text = _definition_text(tmp_path / "Churn.template.json")
    for state in ("Run prepare", "Run train", "Run evaluate", "Check evaluate values"):
        assert state in text


def test_runtime_example_uses_the_runtime_api() -> None:
    from constructs_sm import runtime

    example = _python_blocks()[1]
    for call in re.findall(r"runtime\.(\w+)\(", example):
        assert callable(getattr(runtime, call)), call


def test_security_section_lists_every_rule_and_acknowledged_finding(root: Path) -> None:
    from constructs_sm.nag import RULES

    text = README.read_text()
    section = text[text.index("## Security checks") : text.index("## Limits checked")]
    for rule in RULES:
        assert rule.name in section, rule.name
    for path in sorted((root / "tests" / "acknowledgments").glob("*.json")):
        for acknowledgment in json.loads(path.read_text()):
            finding = acknowledgment["id"].split("[")[0]
            short = finding.split("::")[-1]
            assert finding in section or short in section, (path.name, finding)


def _porting_section() -> str:
    text = README.read_text()
    start = text.index("## Porting a ScriptProcessor pipeline")
    return text[start : text.index("## Pipeline picture")]


def test_porting_guide_keeps_the_original_container_paths_and_command() -> None:
    """The ported block (deployed offline by tests/local_app/ported_stack.py) uses the paths,
    command and arguments of the original program, less the code channel it uploaded."""
    before = next(b for b in _python_blocks() if "ScriptProcessor(" in b)
    after = next(b for b in _python_blocks() if "class PreprocessStack" in b)

    def paths(text: str) -> set[str]:
        return set(re.findall(r'"(/opt/ml/processing/[^"]*)"', text))

    code = {"/opt/ml/processing/input/code", "/opt/ml/processing/input/code/preprocessing.py"}
    assert (
        paths(before) - code
        == paths(after)
        == {
            "/opt/ml/processing/input",
            "/opt/ml/processing/output/train",
            "/opt/ml/processing/output/test",
        }
    )
    for same in ('command=["python3"]', '["--label-column", "churned"]', "IMAGE_URI = "):
        assert same in before and same in after, same


def test_porting_guide_names_runtime_helpers_that_exist() -> None:
    from constructs_sm import runtime

    section = _porting_section()
    called = set(re.findall(r"runtime\.(\w+)\(", section))
    assert {"cpu_count", "gpu_count", "instance_type", "job_name", "current_host"} <= called
    for name in called:
        assert callable(getattr(runtime, name)), name
    for variable in re.findall(r"`(CSM_[A-Z_]+?)(?:<\w+>)?`", section):
        assert variable in (
            "CSM_LOCAL_ISOLATION",
            "CSM_ML_DIR",
            *(
                getattr(runtime._constants, name)
                for name in dir(runtime._constants)
                if name.endswith(("_ENV", "_PREFIX"))
            ),
        ), variable


def test_fan_out_example_synthesizes_a_distributed_map(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, root: Path
) -> None:
    """The Fan-out section's block: a Map over a list parameter and one over objects."""
    (example,) = [block for block in _python_blocks() if "for_each=" in block]
    _run_block(example, "fan-out", monkeypatch, tmp_path, root)
    text = _definition_text(tmp_path / "Regions.template.json")
    assert text.count('\\"Mode\\":\\"DISTRIBUTED\\"') == 2
    assert "ItemsPath" in text and ":states:::s3:listObjectsV2" in text
    assert '\\"ToleratedFailureCount\\":1' in text and '\\"MaxConcurrency\\":5' in text

"""add_step's code directories, command and container paths, through the pipeline: what
the bundle holds, what the job request and the step spec say, and the synth-time errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_sm import (
    ChannelBucket,
    Param,
    ProcessingImage,
    ProcessingPipeline,
    Resources,
    StepInput,
    StepOutput,
)
from constructs_sm.service_model import processing_path_problems

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/processing:1"


def _pipeline(name: str = "P") -> ProcessingPipeline:
    stack = cdk.Stack(cdk.App(), "Test", env=cdk.Environment(region="us-east-1"))
    return ProcessingPipeline(
        stack,
        name,
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
        params=[Param.number("split_ratio", default=0.2)],
    )


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    for name, text in {
        "preprocessing.py": "from my_pkg.features import clean\n",
        "my_pkg/__init__.py": "",
        "my_pkg/features.py": "def clean(row): return row\n",
        "my_pkg/__pycache__/features.cpython-311.pyc": "x",
        "summarize.sh": "echo ok\n",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _task(definition: dict[str, Any], step: str) -> dict[str, Any]:
    """The createProcessingJob parameters of a step, wherever the state is."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("Type") == "Task" and str(value.get("Resource", "")).endswith(
                "createProcessingJob.sync"
            ):
                environment = value["Parameters"]["Environment"]
                if environment.get("CSM_STEP") == step:
                    found.append(value["Parameters"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(definition)
    assert len(found) == 1
    return found[0]


@pytest.fixture(scope="module")
def ported(src: Path) -> tuple[ProcessingPipeline, dict[str, Any]]:
    pipeline = _pipeline()
    prep = pipeline.add_step(
        "preprocess",
        code=src,
        entry_point="preprocessing.py",
        command=["python3", "-u"],
        inputs={
            "input": StepInput("s3://landing-bucket/raw/", local_path="/opt/ml/processing/input")
        },
        outputs=[
            StepOutput("train", local_path="/opt/ml/processing/output/train/"),
            StepOutput("test", local_path="/opt/ml/processing/output/test"),
        ],
        env={"SPLIT_RATIO": pipeline.param("split_ratio")},
    )
    pipeline.add_step(
        "summarize",
        code=src,
        entry_point="summarize.sh",
        command=["bash"],
        inputs={"train": prep.output(StepOutput("train")), "test-rows": prep.output("test")},
        outputs=["report"],
        returns={"rows": int},
    )
    return pipeline, pipeline.render_definition()


def test_the_job_runs_the_entry_point_with_the_command_and_paths_given(
    ported: tuple[ProcessingPipeline, dict[str, Any]],
) -> None:
    pipeline, definition = ported
    prep = _task(definition, "preprocess")
    source = pipeline.steps["preprocess"]
    script = prep["AppSpecification"]["ContainerEntrypoint"][-1]
    assert script.startswith("scripts/") and script.endswith("/preprocessing.py")
    assert prep["AppSpecification"]["ContainerEntrypoint"][:3] == ["python3", "-u", "-c"]
    inputs = {i["InputName"]: i["S3Input"]["LocalPath"] for i in prep["ProcessingInputs"]}
    assert inputs == {
        "code": "/opt/ml/processing/csm/code",
        "params": "/opt/ml/processing/csm/params",
        "input": "/opt/ml/processing/input",
    }
    outputs = {
        o["OutputName"]: o["S3Output"]["LocalPath"]
        for o in prep["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs == {
        "train": "/opt/ml/processing/output/train",  # the trailing / dropped
        "test": "/opt/ml/processing/output/test",
    }
    assert source.local_path("input") == "/opt/ml/processing/input"
    assert source.local_path("test", output=True) == "/opt/ml/processing/output/test"
    assert source.command == ("python3", "-u")
    summarize = _task(definition, "summarize")
    entrypoint = summarize["AppSpecification"]["ContainerEntrypoint"]
    assert entrypoint[0:2] == ["python3", "-c"]
    assert entrypoint[3:6] == ["--command", "bash", "--"]
    assert entrypoint[6].endswith("/summarize.sh")
    # One code directory, shipped once for both steps.
    assert entrypoint[6].rsplit("/", 1)[0] == script.rsplit("/", 1)[0]
    for request in (prep, summarize):
        assert processing_path_problems(request) == []


def test_the_bundle_holds_the_tree_and_the_specs_hold_the_paths(
    ported: tuple[ProcessingPipeline, dict[str, Any]],
) -> None:
    pipeline, definition = ported
    bundle = Path(pipeline.code_asset.asset_path)
    if not bundle.is_absolute():
        bundle = Path(pipeline.node.root.outdir) / bundle  # type: ignore[attr-defined]
    script = _task(definition, "preprocess")["AppSpecification"]["ContainerEntrypoint"][-1]
    code = bundle / script.rsplit("/", 1)[0]
    shipped = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
    assert shipped == [
        "my_pkg/__init__.py",
        "my_pkg/features.py",
        "preprocessing.py",
        "summarize.sh",
    ]
    spec = json.loads((bundle / "csm_steps" / "preprocess.json").read_text())
    assert spec["local_paths"] == {
        "inputs": {"input": "/opt/ml/processing/input"},
        "outputs": {
            "train": "/opt/ml/processing/output/train",
            "test": "/opt/ml/processing/output/test",
        },
    }
    assert spec["command"] == ["python3", "-u"]
    summarize = json.loads((bundle / "csm_steps" / "summarize.json").read_text())
    assert summarize["local_paths"]["inputs"] == {
        "train": "/opt/ml/processing/input/train",
        "test-rows": "/opt/ml/processing/input/test-rows",
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"entry_point": None}, r"code '.*' is a directory: pass entry_point="),
        ({"entry_point": "nope.py"}, r"entry_point 'nope.py' does not exist in the code directory"),
        ({"entry_point": "../x.py"}, r"entry_point '../x.py' is outside the code directory"),
        ({"entry_point": "summarize.sh"}, r"entry_point must be a Python script"),
        ({"command": "python3"}, r"command must be a non-empty list of strings"),
        (
            {
                "inputs": {
                    "all": StepInput("s3://bucket-a/x/", local_path="/opt/ml/processing/input"),
                    "extra": "s3://bucket-a/y/",
                }
            },
            r"inputs\['extra'\] \(/opt/ml/processing/input/extra\) is inside inputs\['all'\] "
            r"\(/opt/ml/processing/input\); channels may not nest",
        ),
        (
            {
                "inputs": {"a": StepInput("s3://bucket-a/x/", local_path="/opt/ml/processing/d")},
                "outputs": [StepOutput("b", local_path="/opt/ml/processing/d")],
            },
            r"inputs\['a'\] and outputs\['b'\] both use /opt/ml/processing/d",
        ),
        (
            {"outputs": [StepOutput("all", local_path="/opt/ml/processing/output"), "train"]},
            r"outputs\['train'\] \(/opt/ml/processing/output/train\) is inside outputs\['all'\]",
        ),
        (
            {"outputs": [StepOutput("x"), "x"]},
            r"outputs has duplicate channels: x",
        ),
        ({"outputs": [3]}, r"outputs entry 3: channel names must match"),
        (
            {"command": ["bash"], "entry_point": "summarize.sh", "outputs": ["a-b", "a_b"]},
            r"outputs 'a-b' and 'a_b' would share the variable of a non-Python entry point",
        ),
    ],
)
def test_synth_time_errors(src: Path, kwargs: dict[str, Any], match: str) -> None:
    arguments: dict[str, Any] = {"code": src, "entry_point": "preprocessing.py", **kwargs}
    with pytest.raises(ValueError, match=r"add_step\('s'\): .*" + match):
        _pipeline().add_step("s", **arguments)


def test_an_empty_code_directory_fails_the_synth(tmp_path: Path) -> None:
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"code '.*' is an empty directory"):
        _pipeline().add_step("s", code=tmp_path, entry_point="main.py")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: StepInput("s3://b/k/", local_path="/data/in"),
            r"StepInput: local_path must begin with /opt/ml/processing/ .*got '/data/in'",
        ),
        (
            lambda: StepOutput("out", local_path="/opt/ml/processing/csm/out"),
            r"StepOutput\('out'\): local_path '/opt/ml/processing/csm/out' is inside "
            r"/opt/ml/processing/csm/",
        ),
        (lambda: StepOutput("bad name"), r"StepOutput\('bad name'\): name must match"),
    ],
)
def test_container_paths_check_themselves(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_a_multi_host_step_returns_values_from_the_pipelines_own_directory(src: Path) -> None:
    pipeline = _pipeline()
    pipeline.add_step(
        "s",
        code=src,
        entry_point="preprocessing.py",
        outputs=[StepOutput("out", local_path="/opt/ml/processing/output")],
        returns={"n": int},
        resources=Resources(instance_count=2),
    )
    outputs = _task(pipeline.render_definition(), "s")["ProcessingOutputConfig"]["Outputs"]
    assert {o["OutputName"]: o["S3Output"]["LocalPath"] for o in outputs} == {
        "out": "/opt/ml/processing/output",
        "returns": "/opt/ml/processing/csm/returns",
    }


def test_step_output_accepts_the_declared_step_output(src: Path) -> None:
    pipeline = _pipeline()
    declared = StepOutput("train", local_path="/opt/ml/processing/train")
    step = pipeline.add_step("s", code=src, entry_point="preprocessing.py", outputs=[declared])
    assert step.output(declared) == step.output("train")
    assert step.outputs == ("train",)
    with pytest.raises(ValueError, match="step 's' has no output 'test'"):
        step.output(StepOutput("test"))

"""The synthesized-app report that `make demo` prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from constructs_sm.report import _flatten, main, read_assembly, render

if TYPE_CHECKING:
    from tests.conftest import Assembly


def test_report_reads_the_example_pipeline(example_assembly: Assembly) -> None:
    (report,) = read_assembly(example_assembly.outdir)
    assert report.name == "Churn"
    assert report.stack == "ChurnPipeline"
    assert report.stages == ["prepare", "profile | (train -> evaluate)"]
    steps = {s.name: s for s in report.steps}
    assert set(steps) == {"prepare", "profile", "train", "evaluate"}
    evaluate = steps["evaluate"]
    assert evaluate.inputs["model"] == "train/model/"
    assert evaluate.inputs["test"] == "prepare/test/"
    assert evaluate.inputs["params"] == "_run/params/"
    assert evaluate.spec is not None
    assert evaluate.spec["returns"] == {"accuracy": "number", "passed": "boolean"}
    assert evaluate.spec["env"]["TRAIN_LOSS"] == {
        "type": "number",
        "source": "value:train.final_loss",
    }
    assert steps["prepare"].inputs["raw"] == "$.params.raw_uri"
    assert steps["train"].outputs == {"model": "train/model/"}
    assert report.pictures == [
        example_assembly.outdir / "ChurnPipeline.Churn.diagram.md",
        example_assembly.outdir / "ChurnPipeline.Churn.diagram.svg",
    ]
    assert report.definition_file == example_assembly.outdir / "ChurnPipeline.Churn.definition.json"


def test_rendered_report_names_params_steps_and_handoffs(example_assembly: Assembly) -> None:
    text = render(read_assembly(example_assembly.outdir))
    assert "Pipeline Churn  (stack ChurnPipeline" in text
    assert 'raw_uri: string (required), pattern "^s3://"' in text
    assert "epochs: integer = 50, minimum 1, maximum 10000" in text
    assert "2. profile | (train -> evaluate)" in text
    assert "in  model    <- train/model/" in text
    assert "env EPOCHS (integer) <- param:epochs" in text
    assert "returns accuracy (number)" in text
    picture = example_assembly.outdir / "ChurnPipeline.Churn.diagram.svg"
    assert f"picture (SVG): {picture}" in text
    assert f"picture (Mermaid): {picture.with_suffix('.md')}" in text
    definition = example_assembly.outdir / "ChurnPipeline.Churn.definition.json"
    assert f"definition (readable JSON): {definition}" in text


def test_main_exit_codes(
    example_assembly: Assembly, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(example_assembly.outdir)]) == 0
    assert "Pipeline Churn" in capsys.readouterr().out
    assert main([str(tmp_path)]) == 2
    assert "is not a cloud assembly" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text("{}")
    assert main([str(tmp_path)]) == 1
    assert "no constructs_sm pipeline found" in capsys.readouterr().out


def test_flatten_renders_intrinsics_as_placeholders() -> None:
    value = {"Fn::Join": ["", ["a", {"Ref": "Bucket"}, {"Fn::GetAtt": ["Role", "Arn"]}]]}
    assert _flatten(value) == "a${Bucket}${Role.Arn}"
    assert _flatten({"Fn::Sub": "s3://x-${AWS::Region}"}) == "s3://x-${AWS::Region}"


def test_nag_summary_counts_each_pack(tmp_path: Path) -> None:
    from constructs_sm.report import nag_summary

    assert nag_summary(tmp_path) is None
    (tmp_path / "nag-report.json").write_text(
        '{"packs": {"AwsSolutions": {"violations": [], "acknowledgments": [{}, {}]},'
        ' "ProcessingPipeline": {"violations": [{}], "acknowledgments": []}}}'
    )
    summary = nag_summary(tmp_path)
    assert summary is not None
    assert "  AwsSolutions: 0 violations, 2 acknowledgments" in summary
    assert "  ProcessingPipeline: 1 violations, 0 acknowledgments" in summary

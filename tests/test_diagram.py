"""The pipeline picture: its model, the Mermaid text, the Graphviz SVG and the synth hook."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import aws_cdk as cdk
import pytest

from constructs_sm import (
    ChannelBucket,
    Param,
    ProcessingImage,
    ProcessingPipeline,
    StepInput,
    diagram_synth,
)
from constructs_sm.diagram import (
    Diagram,
    Edge,
    FanOut,
    Node,
    diagram_of,
    mermaid_ids,
    picture_paths,
    to_markdown,
    to_mermaid,
)
from constructs_sm.diagram_svg import _fontconfig_notes_dropped, to_svg
from constructs_sm.model import DataSource

if TYPE_CHECKING:
    from tests.conftest import Assembly

SVG = "{http://www.w3.org/2000/svg}"
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/processing:1"
COMMITTED = Path(__file__).resolve().parents[1] / "stacks" / "diagrams" / "churn-pipeline.svg"

#: Every flow of the example pipeline (stacks/pipeline_stack.py): (kind, source, target, label).
CHURN_EDGES = {
    ("input", "param:raw_uri", "step:prepare", "input raw"),
    ("env", "param:debug", "step:prepare", "env DEBUG"),
    ("env", "param:test_fraction", "step:prepare", "env TEST_FRACTION"),
    ("writes", "step:prepare", "output:prepare/train", "output train"),
    ("writes", "step:prepare", "output:prepare/test", "output test"),
    ("returns", "step:prepare", "value:prepare.rows", ""),
    ("returns", "step:prepare", "value:prepare.train_rows", ""),
    ("handoff", "output:prepare/train", "step:profile", "input train"),
    ("writes", "step:profile", "output:profile/report", "output report"),
    ("returns", "step:profile", "value:profile.positive_rate", ""),
    ("handoff", "output:prepare/train", "step:train", "input train"),
    ("env", "param:epochs", "step:train", "env EPOCHS"),
    ("env", "param:learning_rate", "step:train", "env LEARNING_RATE"),
    ("writes", "step:train", "output:train/model", "output model"),
    ("returns", "step:train", "value:train.final_loss", ""),
    ("handoff", "output:train/model", "step:evaluate", "input model"),
    ("handoff", "output:prepare/test", "step:evaluate", "input test"),
    ("env", "param:min_accuracy", "step:evaluate", "env MIN_ACCURACY"),
    ("value", "value:train.final_loss", "step:evaluate", "env TRAIN_LOSS"),
    ("returns", "step:evaluate", "value:evaluate.accuracy", ""),
    ("returns", "step:evaluate", "value:evaluate.passed", ""),
    *(
        ("result", f"value:{v}", "result", "")
        for v in (
            "prepare.rows",
            "prepare.train_rows",
            "profile.positive_rate",
            "train.final_loss",
            "evaluate.accuracy",
            "evaluate.passed",
        )
    ),
}


@pytest.fixture(scope="module")
def churn(example_assembly: Assembly) -> Diagram:
    return diagram_of(example_assembly.stack.pipeline)


def _edges(diagram: Diagram) -> set[tuple[str, str, str, str]]:
    return {(e.kind, e.source, e.target, e.label) for e in diagram.edges}


# -- the model --------------------------------------------------------------------------------
def test_example_pipeline_nodes(churn: Diagram) -> None:
    kinds = {n.id: n.kind for n in churn.nodes}
    assert {i for i, k in kinds.items() if k == "param"} == {
        f"param:{p}"
        for p in (
            "raw_uri",
            "epochs",
            "learning_rate",
            "test_fraction",
            "seed",
            "debug",
            "min_accuracy",
        )
    }
    assert [i for i, k in kinds.items() if k == "step"] == [
        "step:prepare",
        "step:profile",
        "step:train",
        "step:evaluate",
    ]
    assert {i for i, k in kinds.items() if k == "output"} == {
        "output:prepare/train",
        "output:prepare/test",
        "output:profile/report",
        "output:train/model",
    }
    assert len([k for k in kinds.values() if k == "value"]) == 6
    assert kinds["result"] == "result"
    assert len(kinds) == 7 + 4 + 4 + 6 + 1
    train = churn.node("step:train")
    assert train.details == ("1 x ml.m5.xlarge, 30 GB, max 4 h",)
    assert churn.node("param:raw_uri").details == ("string, required", "pattern ^s3://")
    assert churn.node("param:epochs").details == ("integer = 50", "range [1, 10000]")
    assert churn.node("value:evaluate.passed").details == ("boolean",)
    assert churn.node("output:train/model").step == "train"


def test_example_pipeline_edges(churn: Diagram) -> None:
    assert _edges(churn) == CHURN_EDGES
    assert len(churn.edges) == len(CHURN_EDGES)


def test_parallel_branches_are_clusters_as_planned(churn: Diagram) -> None:
    assert churn.plan == ("seq", ["prepare", ("par", ["profile", ("seq", ["train", "evaluate"])])])
    (parallel,) = churn.clusters
    assert (parallel.id, parallel.label, parallel.steps) == ("parallel1", "in parallel", ())
    assert [(c.label, c.steps) for c in parallel.children] == [
        ("branch 1", ("profile",)),
        ("branch 2", ("train", "evaluate")),
    ]
    assert churn.cluster_of() == {
        "profile": "parallel1_branch1",
        "train": "parallel1_branch2",
        "evaluate": "parallel1_branch2",
    }


def _small_pipeline(script: Path) -> ProcessingPipeline:
    app = cdk.App()
    stack = cdk.Stack(app, "Flows")
    storage = ChannelBucket(stack, "Storage")
    pipeline = ProcessingPipeline(
        stack,
        "Flows",
        storage=storage,
        image=ProcessingImage.from_registry(IMAGE_URI),
        params=[Param.string("src", pattern="^s3://"), Param.integer("n", default=3)],
        data_sources=[DataSource(storage.bucket, "data/"), DataSource(storage.bucket, "ref/")],
    )
    first = pipeline.add_step(
        "first",
        code=script,
        inputs={
            "raw": StepInput(pipeline.param("src"), mode="Pipe", distribution="ShardedByS3Key"),
            "lookup": f"s3://{storage.bucket.bucket_name}/ref/",
        },
        env={"LEVEL": "info", "FAST": True},
        arguments=["--n", pipeline.param("n")],
        returns={"count": int},
    )
    pipeline.add_step("second", code=script, after=[first], env={"COUNT": first.value("count")})
    return pipeline


def test_every_kind_of_declaration_becomes_a_flow(script: Path) -> None:
    diagram = diagram_of(_small_pipeline(script))
    assert _edges(diagram) == {
        ("input", "param:src", "step:first", "input raw (Pipe, sharded)"),
        ("handoff", "uri:1", "step:first", "input lookup"),
        ("argument", "param:n", "step:first", "argument 2"),
        ("returns", "step:first", "value:first.count", ""),
        ("result", "value:first.count", "result", ""),
        ("value", "value:first.count", "step:second", "env COUNT"),
    }, "a value dependency is drawn as the value, not as an extra 'after'"
    assert diagram.node("uri:1").label == "s3://<deploy-time>/ref/", "tokens are not shown raw"
    assert diagram.node("step:first").details[1:] == (
        "env LEVEL=info",
        "env FAST=true",
        "args --n <n>",
    )


def test_after_without_data_is_an_after_edge(script: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "After")
    pipeline = ProcessingPipeline(
        stack,
        "After",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
    )
    first = pipeline.add_step("first", code=script, outputs=["data"])
    pipeline.add_step("second", code=script, after=[first])
    pipeline.add_step("third", code=script, inputs={"d": first.output("data")}, after=[first])
    diagram = diagram_of(pipeline)
    assert [(e.source, e.target) for e in diagram.edges if e.kind == "after"] == [
        ("step:first", "step:second")
    ]
    assert not any(n.kind == "result" for n in diagram.nodes), "nothing returned, no output node"


def _fan_out_diagram() -> Diagram:
    """A fan-out drawn from a hand-built model: score runs once per region, then merge."""
    nodes = (
        Node("param:regions", "param", "regions", ('list = ["eu", "us"]',)),
        Node("step:score", "step", "score", ("1 x ml.m5.xlarge",), step="score",
             fan_out=FanOut("param regions", max_concurrency=10)),
        Node("output:score/part", "output", "score/part", ("S3 handoff",), step="score"),
        Node("step:merge", "step", 'merge "all" <b>#1</b> | x', step="merge"),
    )  # fmt: skip
    edges = (
        Edge("param:regions", "step:score", "items", "for each"),
        Edge("step:score", "output:score/part", "writes", "output part"),
        Edge("output:score/part", "step:merge", "handoff", "input parts"),
    )
    return Diagram("Fan", nodes, edges, ("seq", ["score", "merge"]))


def test_diagram_rejects_inconsistent_models() -> None:
    step = Node("step:a", "step", "a", step="a")
    with pytest.raises(ValueError, match=r"Diagram 'x': duplicate node ids: step:a"):
        Diagram("x", (step, step), ())
    with pytest.raises(ValueError, match=r"edges name unknown nodes: step:b"):
        Diagram("x", (step,), (Edge("step:a", "step:b", "after", "after"),))
    edge = Edge("step:a", "step:a", "after", "after")
    with pytest.raises(ValueError, match=r"duplicate edges: step:a->step:a\[after\]"):
        Diagram("x", (step,), (edge, edge))


# -- Mermaid -----------------------------------------------------------------------------------
_MERMAID_NODE = re.compile(r'^\s*(\w+)(\(\[|\[\(|\[\[|\(|\[|>)"(.*)"(\]\)|\)\]|\]\]|\)|\])$')
_MERMAID_EDGE = re.compile(r'^\s*(\w+) (-->|-\.->|==>)(?:\|"(.*)"\|)? (\w+)$')


def _mermaid_parts(text: str) -> tuple[dict[str, str], set[tuple[str, str, str, str]]]:
    nodes, edges = {}, set()
    for line in text.splitlines():
        if match := _MERMAID_NODE.match(line):
            nodes[match[1]] = match[3]
        elif match := _MERMAID_EDGE.match(line):
            edges.add((match[1], match[2], match[3] or "", match[4]))
    return nodes, edges


def test_mermaid_has_every_node_and_edge(churn: Diagram) -> None:
    text = to_mermaid(churn)
    assert text.startswith("flowchart TB\n")
    ids = mermaid_ids(churn)
    nodes, edges = _mermaid_parts(text)
    assert set(nodes) == set(ids.values())
    assert nodes[ids["step:train"]] == "<b>train</b><br/>1 x ml.m5.xlarge, 30 GB, max 4 h"
    assert nodes[ids["param:raw_uri"]] == "raw_uri<br/>string, required<br/>pattern ^s3://"
    expected = {
        (ids[s], "-->", label, ids[t]) for _, s, t, label in CHURN_EDGES
    }  # every flow of the example is a plain arrow
    assert edges == expected
    assert ids["output:prepare/train"] == "output_prepare_train"


def test_mermaid_nests_the_parallel_branches(churn: Diagram) -> None:
    text = to_mermaid(churn)
    block = text[text.index('subgraph group_parallel1["in parallel"]') :]
    branch1 = block[block.index("branch 1") : block.index("branch 2")]
    assert "step_profile[" in branch1 and "value_profile_positive_rate(" in branch1
    assert "step_train[" not in branch1
    inputs = text[text.index('subgraph group_input["execution input"]') : text.index("end")]
    assert inputs.count("param_") == 7


def test_mermaid_draws_fan_out_and_escapes_text() -> None:
    diagram = _fan_out_diagram()
    text = to_mermaid(diagram)
    nodes, edges = _mermaid_parts(text)
    fan_out = "one job per item of param regions, at most 10 at once"
    assert f'  step_score[["<b>score</b><br/>{fan_out}<br/>1 x ml.m5.xlarge"]]' in text
    assert nodes["step_merge"] == "<b>merge #quot;all#quot; #lt;b#gt;#35;1#lt;/b#gt; | x</b>"
    assert nodes["param_regions"] == "regions<br/>list = [#quot;eu#quot;, #quot;us#quot;]"
    assert ("param_regions", "==>", "for each", "step_score") in edges
    page = to_markdown(diagram, svg_name="x.svg")
    assert page.startswith("# Pipeline Fan\n")
    assert "```mermaid\nflowchart TB\n" in page
    assert "- `items`: a fan-out: one job per item" in page
    assert "- `env`" not in page, "the legend lists the kinds the picture uses"
    assert "[x.svg](x.svg)" in page


# -- SVG -----------------------------------------------------------------------------------------
def _svg_groups(svg: str) -> dict[str, tuple[str, list[str]]]:
    """``{element id: (class, texts)}`` of every node, edge and cluster group."""
    root = ET.fromstring(svg)
    found = {}
    for group in root.iter(f"{SVG}g"):
        kind = (group.get("class") or "").split(" ")[0]
        if kind in ("node", "edge", "cluster"):
            texts = ["".join(t.itertext()) for t in group.iter(f"{SVG}text")]
            found[group.get("id") or ""] = (group.get("class") or "", texts)
    return found


def test_svg_has_a_node_per_step_and_an_edge_per_flow(churn: Diagram) -> None:
    groups = _svg_groups(to_svg(churn))
    nodes = {i: c for i, (c, _) in groups.items() if c.startswith("node")}
    edges = {i: c for i, (c, _) in groups.items() if c.startswith("edge")}
    assert nodes == {n.id: f"node {n.kind}" for n in churn.nodes}
    assert edges == {e.key: f"edge {e.kind}" for e in churn.edges}
    assert groups["step:train"][1] == ["train", "1 x ml.m5.xlarge, 30 GB, max 4 h"]
    assert groups["param:epochs->step:train[env_EPOCHS]"][1] == ["env EPOCHS"]
    clusters = {i: texts for i, (c, texts) in groups.items() if c == "cluster"}
    assert clusters == {
        "cluster:input": ["execution input"],
        "cluster:parallel1": ["in parallel"],
        "cluster:parallel1_branch1": ["branch 1"],
        "cluster:parallel1_branch2": ["branch 2"],
    }


def test_svg_draws_a_fan_out_as_a_stack() -> None:
    svg = to_svg(_fan_out_diagram())
    root = ET.fromstring(svg)
    (score,) = [g for g in root.iter(f"{SVG}g") if g.get("id") == "step:score"]
    assert score.get("class") == "node step fan-out"
    assert len(list(score.iter(f"{SVG}polygon"))) == 2, "two outlines: one job per item"
    texts = ["".join(t.itertext()) for t in score.iter(f"{SVG}text")]
    assert texts[1] == "one job per item of param regions, at most 10 at once"
    merge = _svg_groups(svg)["step:merge"]
    assert merge[1] == ['merge "all" <b>#1</b> | x'], "label text is escaped, not markup"


def test_fontconfig_notes_are_dropped_and_other_messages_kept(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with _fontconfig_notes_dropped():
        os.write(2, b'Fontconfig warning: "/etc/fonts/x.conf", line 6: unknown element\n')
        os.write(2, b"Warning: a Graphviz message\n")
    assert capfd.readouterr().err == "Warning: a Graphviz message\n"


# -- written at synth ------------------------------------------------------------------------
def test_synth_writes_the_picture_into_the_assembly(
    example_assembly: Assembly, churn: Diagram
) -> None:
    markdown, svg = picture_paths(example_assembly.outdir, "ChurnPipeline", "Churn")
    assert markdown.name == "ChurnPipeline.Churn.diagram.md"
    assert markdown.read_text() == to_markdown(churn, svg_name=svg.name)
    groups = _svg_groups(svg.read_text())
    assert {i for i, (c, _) in groups.items() if c == "node step"} == {
        "step:prepare",
        "step:profile",
        "step:train",
        "step:evaluate",
    }


def test_a_stage_gets_the_picture_in_its_own_assembly(tmp_path: Path, script: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stage = cdk.Stage(app, "Dev")
    stack = cdk.Stack(stage, "Jobs")
    pipeline = ProcessingPipeline(
        stack,
        "Nightly",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
    )
    pipeline.add_step("only", code=script)
    app.synth()
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.diagram.*"))
    name = stack.artifact_id  # the template's name: assembly-Dev/<artifact id>.template.json
    assert (tmp_path / "assembly-Dev" / f"{name}.template.json").is_file()
    assert written == [
        f"assembly-Dev/{name}.Nightly.diagram.md",
        f"assembly-Dev/{name}.Nightly.diagram.svg",
    ]


def test_a_large_pipeline_gets_the_mermaid_page_alone(
    tmp_path: Path, script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over MAX_SVG_STEPS steps Graphviz would take minutes: no SVG, and the page does
    not link one (an SVG of an earlier, smaller synth is removed)."""
    monkeypatch.setattr(diagram_synth, "MAX_SVG_STEPS", 1)
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Big")
    pipeline = ProcessingPipeline(
        stack,
        "Wide",
        storage=ChannelBucket(stack, "Storage"),
        image=ProcessingImage.from_registry(IMAGE_URI),
    )
    pipeline.add_step("one", code=script)
    pipeline.add_step("two", code=script)
    stale = tmp_path / "Big.Wide.diagram.svg"
    stale.write_text("<svg/>")
    app.synth()
    assert sorted(p.name for p in tmp_path.glob("*.diagram.*")) == ["Big.Wide.diagram.md"]
    page = (tmp_path / "Big.Wide.diagram.md").read_text()
    assert "```mermaid" in page and ".svg" not in page


def test_committed_picture_matches_the_example_app(example_assembly: Assembly) -> None:
    """stacks/diagrams/churn-pipeline.svg (in the README) is what the example app synthesizes.

    Coordinates depend on the fonts of the machine that drew it; nodes, edges, clusters
    and their texts do not. To refresh it: `make synth && cp
    cdk.out/ChurnPipeline.Churn.diagram.svg stacks/diagrams/churn-pipeline.svg`.
    """
    _, svg = picture_paths(example_assembly.outdir, "ChurnPipeline", "Churn")
    assert _svg_groups(COMMITTED.read_text()) == _svg_groups(svg.read_text())

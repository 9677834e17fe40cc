"""Every synth writes each pipeline's picture into the cloud assembly.

Where does ``cdk.out/<stack>.<pipeline>.diagram.svg`` come from? Here: every
:class:`~constructs_sm.ProcessingPipeline` holds a :class:`PipelinePicture`, a leaf
construct whose aspect runs when the app is synthesized (aspects run on every synthesis,
once every step has been added, before the templates are written; on a leaf it visits one
construct, not each of the pipeline's). It writes the Mermaid page
(:func:`~constructs_sm.diagram.to_markdown`) and the Graphviz SVG
(:func:`~constructs_sm.diagram_svg.to_svg`) into the stage's assembly directory, named by
:func:`~constructs_sm.diagram.picture_paths`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jsii
from aws_cdk import AspectPriority, Aspects, IAspect, Stack, Stage
from constructs import Construct, IConstruct

from constructs_sm.diagram import diagram_of, picture_paths, to_markdown
from constructs_sm.diagram_svg import to_svg

if TYPE_CHECKING:
    from constructs_sm.pipeline import ProcessingPipeline


def write_picture(pipeline: ProcessingPipeline, outdir: Path) -> tuple[Path, Path]:
    """Write ``pipeline``'s picture (Mermaid Markdown, SVG) into ``outdir``; return the
    two paths. Files are named after the stack's template (its artifact id)."""
    stack = Path(Stack.of(pipeline).template_file).name.removesuffix(".template.json")
    markdown, svg = picture_paths(outdir, stack, pipeline.pipeline_name)
    diagram = diagram_of(pipeline)
    outdir.mkdir(parents=True, exist_ok=True)
    markdown.write_text(to_markdown(diagram, svg_name=svg.name), encoding="utf-8")
    svg.write_text(to_svg(diagram), encoding="utf-8")
    return markdown, svg


@jsii.implements(IAspect)
class _WritePicture:
    def __init__(self, pipeline: ProcessingPipeline) -> None:
        self._pipeline = pipeline

    def visit(self, node: IConstruct) -> None:
        stage = Stage.of(self._pipeline)
        if stage is not None:
            write_picture(self._pipeline, Path(stage.outdir))


class PipelinePicture(Construct):
    """Writes its pipeline's picture into the cloud assembly whenever the app is
    synthesized (``<stack>.<pipeline>.diagram.md`` and ``.svg``)."""

    def __init__(self, pipeline: ProcessingPipeline, construct_id: str) -> None:
        super().__init__(pipeline, construct_id)
        Aspects.of(self).add(_WritePicture(pipeline), priority=AspectPriority.READONLY)

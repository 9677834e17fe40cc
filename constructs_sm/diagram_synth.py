"""Every synth writes each pipeline's picture into the cloud assembly.

Where does ``cdk.out/<stack>.<pipeline>.diagram.svg`` come from? Here: every
:class:`~constructs_sm.ProcessingPipeline` holds a :class:`PipelinePicture`, a leaf
construct whose aspect runs when the app is synthesized (aspects run on every synthesis,
once every step has been added, before the templates are written; on a leaf it visits one
construct, not each of the pipeline's). It writes the readable state-machine definition
(:mod:`constructs_sm.readable`), the Mermaid page
(:func:`~constructs_sm.diagram.to_markdown`) and the Graphviz SVG
(:func:`~constructs_sm.diagram_svg.to_svg`) into the stage's assembly directory, named by
:func:`~constructs_sm.diagram.picture_paths`.

Graphviz's layout time grows much faster than the graph (measured: 0.04 s at 20 steps,
0.25 s at 50, 3.4 s at 100, minutes at 200), so the SVG is drawn for pipelines of at
most :data:`MAX_SVG_STEPS` steps; a larger one gets the Mermaid page alone (the same
graph, laid out by whoever views it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import jsii
from aws_cdk import AspectPriority, Aspects, IAspect, Stack, Stage
from constructs import Construct, IConstruct

from constructs_sm.diagram import diagram_of, picture_paths, to_markdown
from constructs_sm.diagram_svg import to_svg
from constructs_sm.readable import definition_path, readable_hosted_text, readable_text

if TYPE_CHECKING:
    from constructs_sm.pipeline import ProcessingPipeline


#: The largest pipeline whose SVG a synth draws.
MAX_SVG_STEPS: Final = 40


def write_picture(pipeline: ProcessingPipeline, outdir: Path) -> list[Path]:
    """Write ``pipeline``'s picture (Mermaid Markdown, and SVG up to :data:`MAX_SVG_STEPS`
    steps) into ``outdir``; return the paths written. Files are named after the stack's
    template (its artifact id)."""
    markdown, svg = picture_paths(outdir, _artifact(Stack.of(pipeline)), pipeline.pipeline_name)
    diagram = diagram_of(pipeline)
    outdir.mkdir(parents=True, exist_ok=True)
    drawn = len(pipeline.steps) <= MAX_SVG_STEPS
    markdown.write_text(to_markdown(diagram, svg_name=svg.name if drawn else None), "utf-8")
    if not drawn:
        svg.unlink(missing_ok=True)  # an earlier synth's picture of fewer steps
        return [markdown]
    svg.write_text(to_svg(diagram), encoding="utf-8")
    return [markdown, svg]


def write_definition(pipeline: ProcessingPipeline, outdir: Path) -> Path:
    """Write ``pipeline``'s state-machine definition, readable, into ``outdir``
    (:mod:`constructs_sm.readable`); return its path."""
    stack = Stack.of(pipeline)
    path = definition_path(outdir, _artifact(stack), pipeline.pipeline_name)
    outdir.mkdir(parents=True, exist_ok=True)
    hosted = pipeline.hosted_definition
    if hosted is None:
        text = readable_text(stack.resolve(pipeline.inline_definition()))
    else:  # resolving its references alone is much faster than the whole definition
        text = readable_hosted_text(hosted.text, stack.resolve(dict(hosted.substitutions)))
    path.write_text(text, "utf-8")
    return path


def _artifact(stack: Stack) -> str:
    """The stack's artifact id, as its template file is named."""
    return Path(stack.template_file).name.removesuffix(".template.json")


@jsii.implements(IAspect)
class _WritePicture:
    def __init__(self, pipeline: ProcessingPipeline) -> None:
        self._pipeline = pipeline

    def visit(self, node: IConstruct) -> None:
        stage = Stage.of(self._pipeline)
        if stage is not None:
            write_picture(self._pipeline, Path(stage.outdir))
            write_definition(self._pipeline, Path(stage.outdir))


class PipelinePicture(Construct):
    """Writes its pipeline's picture into the cloud assembly whenever the app is
    synthesized (``<stack>.<pipeline>.diagram.md`` and ``.svg``), and its readable
    definition (``<stack>.<pipeline>.definition.json``)."""

    def __init__(self, pipeline: ProcessingPipeline, construct_id: str) -> None:
        super().__init__(pipeline, construct_id)
        Aspects.of(self).add(_WritePicture(pipeline), priority=AspectPriority.READONLY)

"""The pipeline picture drawn by Graphviz (``dot``) as SVG.

Graphviz comes with pygraphviz: since 2.0 its wheels on PyPI bundle the Graphviz libraries
(Graphviz 14 in pygraphviz 2.0.4) for Linux (x86_64, aarch64), macOS and Windows, so a
synth draws the picture in-process with no ``dot`` binary and no system package, and
offline. Each node and edge of the SVG carries the :class:`~constructs_sm.diagram.Diagram`
node id or edge key as its ``id`` and its kind in ``class`` (``node step``, ``edge env``).

Text is measured with the fonts the machine has (fontconfig on Linux), so coordinates
differ between machines; nodes, edges, labels and clusters do not.
"""

from __future__ import annotations

import html
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from constructs_sm.diagram import (
    EDGE_COLOURS,
    NODE_COLOURS,
    Cluster,
    Diagram,
    EdgeKind,
    Node,
    NodeKind,
)

if TYPE_CHECKING:
    import pygraphviz

_FONT: Final = "Helvetica,Arial,sans-serif"
_SHAPES: Final[Mapping[NodeKind, dict[str, str]]] = {
    "param": {"shape": "box", "style": "rounded,filled"},
    "step": {"shape": "box", "style": "filled", "penwidth": "1.6"},
    "output": {"shape": "cylinder", "style": "filled"},
    "uri": {"shape": "cylinder", "style": "filled"},
    "value": {"shape": "ellipse", "style": "filled"},
    "result": {"shape": "box", "style": "rounded,filled,bold"},
}
_EDGE_STYLES: Final[Mapping[EdgeKind, dict[str, str]]] = {
    "after": {"style": "dashed"},
    "items": {"penwidth": "2.2"},
    "result": {"style": "dotted"},
}


def _html_label(node: Node) -> str:
    """An HTML-like Graphviz label: the name in bold, then smaller detail lines."""
    lines = [f"<B>{html.escape(node.label)}</B>"]
    more = [node.fan_out.text] if node.fan_out is not None else []
    lines += [f'<FONT POINT-SIZE="9">{html.escape(line)}</FONT>' for line in [*more, *node.details]]
    return "<" + "<BR/>".join(lines) + ">"


def _node_attributes(node: Node) -> dict[str, Any]:
    fill, stroke = NODE_COLOURS[node.kind]
    attributes: dict[str, Any] = {
        **_SHAPES[node.kind],
        "fillcolor": fill,
        "color": stroke,
        "label": _html_label(node),
        "id": node.id,
        "class": node.kind + (" fan-out" if node.fan_out is not None else ""),
    }
    if node.fan_out is not None:
        attributes["peripheries"] = "2"  # a stack of jobs
    return attributes


def to_graph(diagram: Diagram) -> pygraphviz.AGraph:
    """The diagram as a Graphviz graph: clusters for the execution input and every
    parallel branch, nodes placed in the branch of their step."""
    import pygraphviz  # here: only synths that draw an SVG (up to 40 steps) load it

    graph = pygraphviz.AGraph(directed=True, strict=False, name=diagram.pipeline)
    graph.graph_attr.update(
        rankdir="TB",
        label=f"Pipeline {diagram.pipeline}",
        labelloc="t",
        fontname=_FONT,
        fontsize="16",
        nodesep="0.35",
        ranksep="0.45",
        id="pipeline",
    )
    graph.node_attr.update(fontname=_FONT, fontsize="11", margin="0.12,0.06")
    graph.edge_attr.update(fontname=_FONT, fontsize="9", arrowsize="0.7")
    inside = diagram.cluster_of()
    members: dict[str | None, list[Node]] = {}
    for node in diagram.nodes:
        home = "input" if node.kind == "param" else inside.get(node.step or "")
        members.setdefault(home, []).append(node)
    for node in members.get(None, []):
        graph.add_node(node.id, **_node_attributes(node))
    if members.get("input"):
        box = graph.add_subgraph(
            name="cluster_input",
            label="execution input",
            style="dashed,rounded",
            color="#3d5a99",
            fontcolor="#3d5a99",
            fontsize="11",
            id="cluster:input",
        )
        for node in members["input"]:
            box.add_node(node.id, **_node_attributes(node))

    def add_cluster(parent: pygraphviz.AGraph, cluster: Cluster) -> None:
        parallel = not cluster.steps and bool(cluster.children)
        box = parent.add_subgraph(
            name=f"cluster_{cluster.id}",
            label=cluster.label,
            style="rounded" if parallel else "dashed,rounded",
            color="#9e9e9e",
            fontcolor="#616161",
            fontsize="11",
            id=f"cluster:{cluster.id}",
        )
        for node in members.get(cluster.id, []):
            box.add_node(node.id, **_node_attributes(node))
        for child in cluster.children:
            add_cluster(box, child)

    for top in diagram.clusters:
        add_cluster(graph, top)
    for edge in diagram.edges:
        colour = EDGE_COLOURS[edge.kind]
        graph.add_edge(
            edge.source,
            edge.target,
            key=edge.key,
            id=edge.key,
            label=html.escape(edge.label) if edge.label else "",
            color=colour,
            fontcolor=colour,
            **{"class": edge.kind},
            **_EDGE_STYLES.get(edge.kind, {}),
        )
    return graph


def to_svg(diagram: Diagram) -> str:
    """The diagram laid out by Graphviz ``dot`` as an SVG document."""
    graph = to_graph(diagram)
    with _fontconfig_notes_dropped():
        data = graph.draw(format="svg", prog="dot")
    assert isinstance(data, bytes)
    return data.decode("utf-8")


@contextmanager
def _fontconfig_notes_dropped() -> Iterator[None]:
    """Keep Graphviz's own messages, drop fontconfig's about the machine's font setup.

    The bundled fontconfig may be older than the machine's configuration and prints
    warnings (to file descriptor 2, not ``sys.stderr``) when it reads it; the text is
    still measured, with the fonts it found.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not line.startswith("Fontconfig ")
            ]
            if kept:
                sys.stderr.write("".join(kept))

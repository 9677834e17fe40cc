"""The pipeline picture as pure data, and its Mermaid text.

What does a pipeline look like? :func:`diagram_of` reads what the pipeline declared
(parameters, steps, inputs, outputs, environment, arguments, returned values, ``after``,
and the schedule of :mod:`constructs_sm.plan`) into a :class:`Diagram`: nodes for
parameters, steps, S3 handoff channels, literal S3 inputs, returned values and the
execution output; edges for what flows where; clusters for the parallel branches.

:func:`to_mermaid` renders it as Mermaid Markdown; :mod:`constructs_sm.diagram_svg` draws
it with Graphviz; :mod:`constructs_sm.diagram_synth` writes both into the cloud assembly
(:func:`picture_paths`) when the app is synthesized. No CDK object is created here.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from constructs_sm.model import ItemRef, OutputRef, StepInput, ValueRef, env_literal
from constructs_sm.params import Param, ParamRef
from constructs_sm.plan import Plan

if TYPE_CHECKING:
    from constructs_sm.pipeline import ProcessingPipeline
    from constructs_sm.step import ProcessingStep

NodeKind = Literal["param", "step", "output", "uri", "value", "result"]
#: ``input``/``env``/``argument``/``items``: a parameter into a step; ``writes`` a step
#: into its output channel; ``handoff`` a channel (or a literal S3 URI) into a step's input;
#: ``returns`` a step into its returned value; ``value`` a returned value into a later
#: step's environment; ``result`` a returned value into the execution output; ``after`` an
#: order without data.
EdgeKind = Literal[
    "input", "env", "argument", "items", "writes", "handoff", "returns", "value", "result", "after"
]

#: The node every returned value flows into: the execution's output.
RESULT_NODE: Final = "result"
#: What each kind of edge means, in the order a legend lists them.
EDGE_MEANINGS: Final[Mapping[EdgeKind, str]] = {
    "input": "an S3 input given by a parameter",
    "env": "a parameter in the container environment",
    "argument": "a parameter as a container argument",
    "items": "a fan-out: one job per item",
    "writes": "a step writes an output channel",
    "handoff": "a channel read as a later step's input",
    "returns": "a value the step returns",
    "value": "a returned value in a later step's environment",
    "result": "a returned value in the execution output",
    "after": "runs after, no data",
}
_TOKEN = re.compile(r"\$\{Token\[[^\]]*\]\}")


@dataclass(frozen=True)
class FanOut:
    """How a fan-out step runs: one job per item (a Step Functions Map state).

    ``items`` says what it iterates, as the picture shows it (``"param regions"``).
    """

    items: str
    max_concurrency: int | None = None

    @property
    def text(self) -> str:
        """The line the picture adds to the step."""
        limit = f", at most {self.max_concurrency} at once" if self.max_concurrency else ""
        return f"one job per item of {self.items}{limit}"


@dataclass(frozen=True)
class Node:
    """One box of the picture.

    ``step`` is the step the node belongs to (a step itself, or the step that writes the
    channel or returns the value): the picture draws it in that step's parallel branch.
    """

    id: str
    kind: NodeKind
    label: str
    details: tuple[str, ...] = ()
    step: str | None = None
    fan_out: FanOut | None = None


@dataclass(frozen=True)
class Edge:
    """One flow: ``source`` into ``target``, of a ``kind`` and with a ``label``."""

    source: str
    target: str
    kind: EdgeKind
    label: str = ""

    @property
    def key(self) -> str:
        """Unique within a diagram, the SVG element id of the edge:
        ``param:epochs->step:train[env_EPOCHS]``."""
        label = re.sub(r"[^A-Za-z0-9_]+", "_", self.label).strip("_")
        return f"{self.source}->{self.target}" + (f"[{label}]" if label else "")


@dataclass(frozen=True)
class Cluster:
    """A box around steps: ``in parallel`` around branches, ``branch N`` around steps."""

    id: str
    label: str
    steps: tuple[str, ...] = ()
    children: tuple[Cluster, ...] = ()

    def all_steps(self) -> list[str]:
        """The steps in this cluster and the ones it holds."""
        return [*self.steps, *(s for c in self.children for s in c.all_steps())]


@dataclass(frozen=True)
class Diagram:
    """A pipeline's picture: nodes, edges and the clusters of the parallel branches."""

    pipeline: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    plan: Plan | None = None
    clusters: tuple[Cluster, ...] = field(init=False)

    def __post_init__(self) -> None:
        ids = [n.id for n in self.nodes]
        keys = [e.key for e in self.edges]
        problems = []
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            problems.append(f"duplicate node ids: {', '.join(duplicates)}")
        ends = {e.source for e in self.edges} | {e.target for e in self.edges}
        unknown = sorted(ends - set(ids))
        if unknown:
            problems.append(f"edges name unknown nodes: {', '.join(unknown)}")
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            problems.append(f"duplicate edges: {', '.join(twice)}")
        if problems:
            raise ValueError(f"Diagram {self.pipeline!r}: " + "; ".join(problems))
        object.__setattr__(self, "clusters", tuple(clusters_of(self.plan)))

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id``."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def cluster_of(self) -> dict[str, str]:
        """The innermost cluster id of every step drawn inside a parallel branch."""
        found: dict[str, str] = {}

        def visit(cluster: Cluster) -> None:
            for step in cluster.steps:
                found[step] = cluster.id
            for child in cluster.children:
                visit(child)

        for cluster in self.clusters:
            visit(cluster)
        return found


def clusters_of(plan_: Plan | None) -> list[Cluster]:
    """The clusters of a plan: one ``in parallel`` per parallel group, one per branch."""
    counter = itertools.count(1)

    def walk(part: Plan, prefix: str) -> tuple[list[str], list[Cluster]]:
        if isinstance(part, str):
            return [part], []
        kind, parts = part
        if kind == "seq":
            steps: list[str] = []
            clusters: list[Cluster] = []
            for item in parts:
                more_steps, more_clusters = walk(item, prefix)
                steps += more_steps
                clusters += more_clusters
            return steps, clusters
        group = f"{prefix}parallel{next(counter)}"
        branches = []
        for number, item in enumerate(parts, 1):
            steps, clusters = walk(item, f"{group}_")
            branches.append(
                Cluster(
                    f"{group}_branch{number}", f"branch {number}", tuple(steps), tuple(clusters)
                )
            )
        return [], [Cluster(group, "in parallel", (), tuple(branches))]

    if plan_ is None:
        return []
    return walk(plan_, "")[1]


# -- the model of a declared pipeline -------------------------------------------------------
def param_id(name: str) -> str:
    """The node id of parameter ``name``."""
    return f"param:{name}"


def step_id(name: str) -> str:
    """The node id of step ``name``."""
    return f"step:{name}"


def output_id(step: str, channel: str) -> str:
    """The node id of ``step``'s output channel ``channel``."""
    return f"output:{step}/{channel}"


def value_id(step: str, name: str) -> str:
    """The node id of the value ``name`` that ``step`` returns."""
    return f"value:{step}.{name}"


def shown_text(value: object) -> str:
    """Text as the picture shows it: CDK tokens (resolved at deploy) become ``<deploy-time>``."""
    return _TOKEN.sub("<deploy-time>", str(value))


def param_details(param: Param) -> tuple[str, ...]:
    """``type = default`` (or required), then its constraints."""
    default = param.default
    lines = [
        f"{param.type}, required" if default is None else f"{param.type} = {json.dumps(default)}"
    ]
    if param.minimum is not None or param.maximum is not None:
        low = "" if param.minimum is None else json.dumps(param.minimum)
        high = "" if param.maximum is None else json.dumps(param.maximum)
        lines.append(f"range [{low}, {high}]")
    if param.pattern is not None:
        lines.append(f"pattern {param.pattern}")
    if param.choices is not None:
        lines.append("one of " + ", ".join(json.dumps(c) for c in param.choices))
    return tuple(shown_text(line) for line in lines)


def _resources_line(step: ProcessingStep) -> str:
    resources = step.resources
    hours, rest = divmod(resources.max_runtime_seconds, 3600)
    runtime = f"{hours} h" if not rest else f"{resources.max_runtime_seconds} s"
    return (
        f"{resources.instance_count} x {resources.instance_type}, "
        f"{resources.volume_size_gb} GB, max {runtime}"
    )


def _input_label(channel: str, spec: StepInput) -> str:
    extras = [
        text
        for text, on in (
            ("Pipe", spec.mode == "Pipe"),
            ("sharded", spec.distribution == "ShardedByS3Key"),
            ("manifest", spec.data_type == "ManifestFile"),
        )
        if on
    ]
    return f"input {channel}" + (f" ({', '.join(extras)})" if extras else "")


def diagram_of(pipeline: ProcessingPipeline) -> Diagram:
    """The picture of what ``pipeline`` declared (its steps as added so far)."""
    nodes: list[Node] = [
        Node(param_id(p.name), "param", p.name, param_details(p)) for p in pipeline.params.values()
    ]
    edges: list[Edge] = []
    uris: dict[str, str] = {}
    returned = False
    for name, step in pipeline.steps.items():
        sid = step_id(name)
        details = [_resources_line(step)]
        data_steps: set[str] = set()
        for channel, spec in step.inputs.items():
            source = spec.source
            label = _input_label(channel, spec)
            if isinstance(source, OutputRef):
                producer = source.step.step_name
                data_steps.add(producer)
                edges.append(Edge(output_id(producer, source.channel), sid, "handoff", label))
            elif isinstance(source, ParamRef):
                edges.append(Edge(param_id(source.name), sid, "input", label))
            else:
                uri = shown_text(source)
                if uri not in uris:
                    uris[uri] = f"uri:{len(uris) + 1}"
                    nodes.append(Node(uris[uri], "uri", uri))
                edges.append(Edge(uris[uri], sid, "handoff", label))
        for key, value in step.environment.items():
            if isinstance(value, ParamRef):
                edges.append(Edge(param_id(value.name), sid, "env", f"env {key}"))
            elif isinstance(value, ValueRef):
                producer = value.step.step_name
                data_steps.add(producer)
                edges.append(Edge(value_id(producer, value.name), sid, "value", f"env {key}"))
            elif isinstance(value, ItemRef):
                details.append(f"env {key}=<item>")
            else:
                details.append(shown_text(f"env {key}={env_literal(value)}"))
        literal_args = []
        for position, argument in enumerate(step.arguments, 1):
            if isinstance(argument, ParamRef):
                edges.append(Edge(param_id(argument.name), sid, "argument", f"argument {position}"))
                literal_args.append(f"<{argument.name}>")
            elif isinstance(argument, ItemRef):
                literal_args.append("<item>")
            else:
                literal_args.append(shown_text(argument))
        if literal_args:
            details.append("args " + " ".join(literal_args))
        for other in step.depends_on:
            if other.step_name not in data_steps:
                edges.append(Edge(step_id(other.step_name), sid, "after", "after"))
        fan_out = None
        if step.fan_out is not None:
            source = step.fan_out.source
            if isinstance(source, ParamRef):
                items, origin = f"param {source.name}", param_id(source.name)
            else:
                producer = source.step.step_name
                data_steps.add(producer)
                items = f"the objects of {producer}/{source.channel}"
                origin = output_id(producer, source.channel)
            fan_out = FanOut(items, step.fan_out.max_concurrency or None)
            edges.append(Edge(origin, sid, "items", "for each"))
        nodes.append(Node(sid, "step", name, tuple(details), step=name, fan_out=fan_out))
        for channel in step.outputs:
            oid = output_id(name, channel)
            nodes.append(Node(oid, "output", f"{name}/{channel}", ("S3 handoff",), step=name))
            edges.append(Edge(sid, oid, "writes", f"output {channel}"))
        for value_name, kind in step.returns.items():
            vid = value_id(name, value_name)
            nodes.append(Node(vid, "value", value_name, (kind,), step=name))
            edges.append(Edge(sid, vid, "returns"))
            edges.append(Edge(vid, RESULT_NODE, "result"))
            returned = True
    if returned:
        nodes.append(
            Node(RESULT_NODE, "result", "execution output", ("$.steps.<step>.returned.values",))
        )
    return Diagram(pipeline.pipeline_name, tuple(nodes), tuple(edges), pipeline.plan())


# -- Mermaid ----------------------------------------------------------------------------------
_MERMAID_SHAPES: Final[Mapping[NodeKind, tuple[str, str]]] = {
    "param": ('("', '")'),
    "step": ('["', '"]'),
    "output": ('[("', '")]'),
    "uri": ('[("', '")]'),
    "value": ('(["', '"])'),
    "result": ('>"', '"]'),
}
_MERMAID_ARROWS: Final[Mapping[EdgeKind, str]] = {
    "after": "-.->",
    "items": "==>",
}
#: Node fill and stroke per kind; edge colour per kind (shared with the SVG).
NODE_COLOURS: Final[Mapping[NodeKind, tuple[str, str]]] = {
    "param": ("#e8f0fe", "#3d5a99"),
    "step": ("#fff3e0", "#b35c00"),
    "output": ("#e8f5e9", "#2e7d32"),
    "uri": ("#e8f5e9", "#2e7d32"),
    "value": ("#f3e5f5", "#7b1fa2"),
    "result": ("#f3e5f5", "#7b1fa2"),
}
EDGE_COLOURS: Final[Mapping[EdgeKind, str]] = {
    "input": "#3d5a99",
    "env": "#3d5a99",
    "argument": "#3d5a99",
    "items": "#b35c00",
    "writes": "#2e7d32",
    "handoff": "#2e7d32",
    "returns": "#7b1fa2",
    "value": "#7b1fa2",
    "result": "#7b1fa2",
    "after": "#616161",
}


def mermaid_ids(diagram: Diagram) -> dict[str, str]:
    """A Mermaid identifier per node id (letters, digits and ``_``; unique)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node in diagram.nodes:
        base = re.sub(r"[^A-Za-z0-9_]", "_", node.id.replace(":", "_", 1))
        candidate, number = base, 2
        while candidate in taken:
            candidate, number = f"{base}_{number}", number + 1
        taken.add(candidate)
        ids[node.id] = candidate
    return ids


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: entity codes for what Mermaid would parse."""
    replacements = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}
    return "".join(replacements.get(char, char) for char in text)


def _mermaid_label(node: Node) -> str:
    name = _mermaid_text(node.label)
    lines = [f"<b>{name}</b>" if node.kind == "step" else name]
    more = [node.fan_out.text] if node.fan_out is not None else []
    lines += [_mermaid_text(line) for line in [*more, *node.details]]
    return "<br/>".join(lines)


def _mermaid_node(node: Node, ids: Mapping[str, str]) -> str:
    opening, closing = _MERMAID_SHAPES[node.kind]
    if node.fan_out is not None:
        opening, closing = '[["', '"]]'
    return f"{ids[node.id]}{opening}{_mermaid_label(node)}{closing}"


def to_mermaid(diagram: Diagram) -> str:
    """The picture as a Mermaid flowchart (the text inside a ```` ```mermaid ```` block)."""
    ids = mermaid_ids(diagram)
    members: dict[str | None, list[Node]] = {}
    inside = diagram.cluster_of()
    for node in diagram.nodes:
        members.setdefault(inside.get(node.step or ""), []).append(node)
    lines = ["flowchart TB"]
    params = [n for n in diagram.nodes if n.kind == "param"]
    if params:
        lines.append('  subgraph group_input["execution input"]')
        lines += [f"    {_mermaid_node(n, ids)}" for n in params]
        lines.append("  end")
    lines += [f"  {_mermaid_node(n, ids)}" for n in members.get(None, []) if n.kind != "param"]

    def emit(cluster: Cluster, depth: int) -> Iterator[str]:
        pad = "  " * depth
        yield f'{pad}subgraph group_{cluster.id}["{_mermaid_text(cluster.label)}"]'
        for node in members.get(cluster.id, []):
            yield f"{pad}  {_mermaid_node(node, ids)}"
        for child in cluster.children:
            yield from emit(child, depth + 1)
        yield f"{pad}end"

    for cluster in diagram.clusters:
        lines += emit(cluster, 1)
    for edge in diagram.edges:
        arrow = _MERMAID_ARROWS.get(edge.kind, "-->")
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    for kind, (fill, stroke) in NODE_COLOURS.items():
        lines.append(f"  classDef {kind} fill:{fill},stroke:{stroke},color:#212121")
    for node_kind in NODE_COLOURS:
        chosen = [ids[n.id] for n in diagram.nodes if n.kind == node_kind]
        if chosen:
            lines.append(f"  class {','.join(chosen)} {node_kind}")
    for edge_kind, colour in EDGE_COLOURS.items():
        indexes = [str(i) for i, e in enumerate(diagram.edges) if e.kind == edge_kind]
        if indexes:
            lines.append(f"  linkStyle {','.join(indexes)} stroke:{colour},color:{colour}")
    return "\n".join(lines) + "\n"


def to_markdown(diagram: Diagram, *, svg_name: str | None = None) -> str:
    """A Markdown page: the Mermaid picture, then what each kind of edge means."""
    used = [kind for kind in EDGE_MEANINGS if any(e.kind == kind for e in diagram.edges)]
    lines = [
        f"# Pipeline {diagram.pipeline}",
        "",
        "Parameters (execution input), steps, S3 handoffs and returned values; boxes "
        "labelled `in parallel` hold branches that run at the same time.",
        "",
        "```mermaid",
        to_mermaid(diagram).rstrip("\n"),
        "```",
        "",
        "Edges:",
        "",
        *(f"- `{kind}`: {EDGE_MEANINGS[kind]}" for kind in used),
    ]
    if svg_name:
        lines += ["", f"The same picture drawn by Graphviz: [{svg_name}]({svg_name})"]
    return "\n".join(lines) + "\n"


def picture_paths(outdir: Path, stack: str, pipeline: str) -> tuple[Path, Path]:
    """Where a synth writes a pipeline's picture: ``<stack>.<pipeline>.diagram.md`` and
    ``.svg`` in the cloud assembly directory ``outdir``."""
    base = f"{stack}.{pipeline}.diagram"
    return outdir / f"{base}.md", outdir / f"{base}.svg"

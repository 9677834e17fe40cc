"""What a synthesized app generated: pipelines, parameters, steps, handoffs and schedule.

Reads a cloud assembly (``cdk.out``) the way a reviewer would: the state-machine
definitions in the templates and the step specs inside the staged code assets. Run
``python -m constructs_sm.report [cdk.out]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_sm.assembly import with_hosted_definitions
from constructs_sm.diagram import picture_paths
from constructs_sm.readable import definition_path

#: ``s3://<bucket>/<pipeline>/<step>/<channel>/<execution>/`` (constructs_sm.layout).
_RUN_URI = re.compile(
    r"^States\.Format\('s3://\{\}/[^/']+/(?P<suffix>[^']*/)\{\}/(\{\}/)?', \$\.run\.bucket, "
    r"\$\.run\.execution(, \$\.index)?\)$"
)
_ASSET = re.compile(r"/(?P<hash>[0-9a-f]{64})\.zip$")


@dataclass
class StepReport:
    """One step as generated."""

    name: str
    job: dict[str, Any]
    spec: dict[str, Any] | None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineReport:
    """One pipeline's state machine as generated."""

    stack: str
    logical_id: str
    name: str
    definition: dict[str, Any]
    steps: list[StepReport]
    stages: list[str]
    #: The picture a synth wrote (Mermaid Markdown, SVG), the files that exist.
    pictures: list[Path] = field(default_factory=list)
    #: The readable definition a synth wrote (constructs_sm.readable), if it exists.
    definition_file: Path | None = None


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _flatten(value: Any) -> str:
    """A template value as text: intrinsic functions become ``${...}`` placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_flatten(p) for p in parts)
        if key == "Ref":
            return "${" + str(argument) + "}"
        if key == "Fn::GetAtt":
            return "${" + ".".join(argument) + "}"
        if key == "Fn::Sub":
            return str(argument if isinstance(argument, str) else argument[0])
    return "${" + json.dumps(value) + "}"


def _substituted(text: str, substitutions: dict[str, Any]) -> str:
    """``text`` with each ``${name}`` of ``DefinitionSubstitutions`` replaced by its value
    (as :func:`_flatten` shows it), as CloudFormation fills a hosted definition."""
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", _flatten(value))
    return text


def walk_states(
    document: Mapping[str, Any],
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(name, state, the states map it belongs to)`` of every state of a definition.

    Nested states are included: Parallel branches and Map item processors.
    """
    states = document.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        yield name, state, states
        for branch in state.get("Branches", []) or []:
            if isinstance(branch, dict):
                yield from walk_states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from walk_states(state[key])


def _stages(states: dict[str, Any], start: str) -> list[str]:
    """The schedule: one entry per stage; parallel branches joined by `` | ``."""
    stages: list[str] = []
    name: str | None = start
    while name is not None:
        state = states[name]
        if state["Type"] == "Parallel":
            branches = [
                " -> ".join(_stages(branch["States"], branch["StartAt"]))
                for branch in state["Branches"]
            ]
            stages.append(" | ".join(f"({b})" if " " in b else b for b in branches))
        elif state["Type"] in ("Task", "Map") and name.startswith("Run "):
            stages.append(name[4:] + (" (for each item)" if state["Type"] == "Map" else ""))
        name = state.get("Next") or state.get("Default")
    return stages


def read_assembly(path: Path) -> list[PipelineReport]:
    """Every constructs_sm pipeline in the cloud assembly at ``path``."""
    reports = []
    for template_path in sorted(path.glob("*.template.json")):
        template = with_hosted_definitions(json.loads(template_path.read_text()), path)
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") != "AWS::StepFunctions::StateMachine":
                continue
            properties = resource["Properties"]
            text = _substituted(
                _flatten(properties.get("DefinitionString", "")),
                properties.get("DefinitionSubstitutions") or {},
            )
            try:
                definition = json.loads(text)
            except json.JSONDecodeError:
                continue
            comment = definition.get("Comment", "")
            if not comment.startswith("constructs_sm pipeline "):
                continue
            steps = []
            for name, state, _ in walk_states(definition):
                if state.get("Type") != "Task" or not name.startswith("Run "):
                    continue
                job = state["Parameters"]
                step_name = str(job.get("Environment", {}).get("CSM_STEP") or name[4:])
                step = StepReport(step_name, job, None)
                for channel in job.get("ProcessingInputs", []):
                    s3 = channel["S3Input"]
                    uri = s3.get("S3Uri") or s3.get("S3Uri.$", "")
                    match = _ASSET.search(uri)
                    if channel["InputName"] == "code" and match:
                        spec = path / f"asset.{match['hash']}" / "csm_steps" / f"{step_name}.json"
                        step.spec = json.loads(spec.read_text()) if spec.is_file() else None
                    run = _RUN_URI.match(uri)
                    step.inputs[channel["InputName"]] = run["suffix"] if run else uri
                for channel in job["ProcessingOutputConfig"]["Outputs"]:
                    run = _RUN_URI.match(channel["S3Output"]["S3Uri.$"])
                    step.outputs[channel["OutputName"]] = run["suffix"] if run else "?"
                steps.append(step)
            stack = template_path.name.removesuffix(".template.json")
            name = comment.removeprefix("constructs_sm pipeline ")
            reports.append(
                PipelineReport(
                    stack=stack,
                    logical_id=logical_id,
                    name=name,
                    definition=definition,
                    steps=steps,
                    stages=_stages(definition["States"], definition["StartAt"]),
                    pictures=[p for p in picture_paths(path, stack, name) if p.is_file()],
                    definition_file=_existing(definition_path(path, stack, name)),
                )
            )
    return reports


def _param_line(name: str, spec: dict[str, Any]) -> str:
    text = f"{name}: {spec['type']}"
    text += " (required)" if spec.get("default") is None else f" = {json.dumps(spec['default'])}"
    for key in ("minimum", "maximum", "pattern", "choices"):
        if spec.get(key) is not None:
            text += f", {key} {json.dumps(spec[key])}"
    return text


def render(reports: list[PipelineReport]) -> str:
    """The human report of :func:`read_assembly`'s result."""
    lines: list[str] = []
    for report in reports:
        count = sum(1 for _ in walk_states(report.definition))
        size = len(json.dumps(report.definition))
        lines.append(f"Pipeline {report.name}  (stack {report.stack}, {report.logical_id})")
        lines.append(f"  state machine: {count} states, definition {size:,} bytes")
        spec = next((s.spec for s in report.steps if s.spec), None)
        lines.append("  parameters (execution input, validated before the first job):")
        for name, param in (spec or {}).get("params", {}).items():
            lines.append(f"    {_param_line(name, param)}")
        lines.append("  schedule (| runs in parallel, -> one after another):")
        for number, stage in enumerate(report.stages, 1):
            lines.append(f"    {number}. {stage}")
        lines.append("  steps:")
        for step in report.steps:
            cluster = step.job["ProcessingResources"]["ClusterConfig"]
            isolated = step.job["NetworkConfig"]["EnableNetworkIsolation"]
            lines.append(
                f"    {step.name}: {cluster['InstanceCount']} x {cluster['InstanceType']}, "
                f"max {step.job['StoppingCondition']['MaxRuntimeInSeconds']} s, network "
                f"isolation {'on' if isolated else 'OFF'}"
            )
            for channel, source in step.inputs.items():
                if channel != "code":
                    lines.append(f"      in  {channel:<8} <- {source}")
            for channel, target in step.outputs.items():
                lines.append(f"      out {channel:<8} -> <run>/{target}")
            for key, value in (step.spec or {}).get("env", {}).items():
                lines.append(f"      env {key} ({value['type']}) <- {value['source']}")
            for key, kind in (step.spec or {}).get("returns", {}).items():
                lines.append(f"      returns {key} ({kind})")
        lines.append(
            "  handoffs live under s3://<channel bucket>/<pipeline>/<step>/<channel>/<execution>/"
        )
        for picture in report.pictures:
            kind = "SVG" if picture.suffix == ".svg" else "Mermaid"
            lines.append(f"  picture ({kind}): {picture}")
        if report.definition_file is not None:
            lines.append(f"  definition (readable JSON): {report.definition_file}")
        lines.append("")
    if not reports:
        lines.append("no constructs_sm pipeline found")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the report of a cloud assembly; exit 1 when it holds no pipeline."""
    parser = argparse.ArgumentParser(prog="python -m constructs_sm.report", description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    args = parser.parse_args(argv)
    if not (args.assembly / "manifest.json").is_file():
        print(f"{args.assembly} is not a cloud assembly (run `cdk synth` first)", file=sys.stderr)
        return 2
    reports = read_assembly(args.assembly)
    print(render(reports))
    nag = nag_summary(args.assembly)
    if nag:
        print(nag)
    return 0 if reports else 1


def nag_summary(path: Path) -> str | None:
    """One line per nag pack from ``nag-report.json`` (written by ``nag.apply_checks``)."""
    report = path / "nag-report.json"
    if not report.is_file():
        return None
    packs = json.loads(report.read_text()).get("packs", {})
    lines = [f"security checks ({report}):"]
    for name, pack in packs.items():
        lines.append(
            f"  {name}: {len(pack.get('violations', []))} violations, "
            f"{len(pack.get('acknowledgments', []))} acknowledgments"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

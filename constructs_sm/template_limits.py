"""A synth-time error for a stack template CloudFormation or IAM would refuse for its size.

Where does "the template is over 1,000,000 bytes" stop a synth, rather than a deploy? Here.
The template exists only once the app is synthesized, after every construct has run, so
the check is a CDK validation plugin (``Validations.of(stage).add_plugins``): CDK calls it
once every template is written, it reads the size of each template that holds a pipeline
(a nested stack's too) in the assembly directory, and a violation fails the synth with a
report naming the stack, its size, the limit and the fix (``cdk synth`` prints it;
Python's ``app.synth()`` raises). A template within the limit prints nothing.

CloudFormation accepts at most 1,000,000 bytes of template from S3
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html),
and the ``cdk`` CLI deploys the file exactly as synthesized (the stack's template asset),
so the file's size on disk is what counts. aws-cdk-lib itself only warns
(``@aws-cdk/core:Stack.templateSize``, from 80% of the limit). The plugin looks at the
stacks that hold a :class:`~constructs_sm.ProcessingPipeline` and at no other.

The same plugin reads those templates for IAM's size quotas (:mod:`constructs_sm.iam_limits`):
a role's inline policies, a managed policy, the managed policies of a role and a trust
policy. A quota broken even with the shortest names fails the synth; one broken only with
the longest names CloudFormation may give is a warning in the report.
"""

from __future__ import annotations

import json
import weakref
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Final

import jsii
from aws_cdk import (
    CfnResource,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Stack,
    Stage,
    Validations,
)

from constructs_sm.iam_limits import IAM_RULES, IamProblem, iam_limit_problems
from constructs_sm.limits import template_size_problem

if TYPE_CHECKING:
    from constructs_sm.pipeline import ProcessingPipeline

#: The plugin's name in CDK's validation report (acknowledge a finding with
#: ``constructs-sm::TemplateSize``).
PLUGIN_NAME: Final = "constructs-sm"
RULE: Final = "TemplateSize"

#: One plugin per stage (an app, or a stage inside it), made when its first pipeline is.
_PLUGINS: weakref.WeakKeyDictionary[Stage, TemplateLimits] = weakref.WeakKeyDictionary()


@jsii.implements(IPolicyValidationPlugin)
class TemplateLimits:
    """The validation plugin: each stack holding a pipeline must fit CloudFormation's
    1,000,000 bytes of template."""

    def __init__(self) -> None:
        #: Each stack holding pipelines, and its pipelines, by the stack's construct path.
        self._stacks: dict[str, tuple[Stack, list[ProcessingPipeline]]] = {}

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str:
        """The installed constructs-sm's version (CDK reports it with the plugin)."""
        try:
            return metadata.version("constructs-sm")
        except metadata.PackageNotFoundError:  # run from a source tree, not installed
            return "0.0.0"

    @property
    def rule_ids(self) -> list[str]:
        return [RULE, *IAM_RULES]

    def watch(self, pipeline: ProcessingPipeline) -> None:
        """Check the template of ``pipeline``'s stack when the app is synthesized."""
        stack = Stack.of(pipeline)
        self._stacks.setdefault(stack.node.path, (stack, []))[1].append(pipeline)

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        # Each stack's template from the stage's assembly directory: CDK hands plugins
        # the top-level stacks' templates only, and a nested stack's template (its own
        # file there, deployed through TemplateURL) has the same limits.
        violations = []
        for stack_path, (stack, pipelines) in self._stacks.items():
            stage = Stage.of(stack)
            if stage is None:
                continue
            path = Path(stage.outdir) / stack.template_file
            problem = template_size_problem(
                path.stat().st_size,
                stack=stack_path,
                pipelines=[(p.pipeline_name, len(p.steps)) for p in pipelines],
            )
            if problem is not None:
                violations.append(_size_violation(problem, pipelines[0], path))
            template = json.loads(path.read_text("utf-8"))
            violations += [_iam_violation(found, path) for found in iam_limit_problems(template)]
        failed = any(violation.severity == "error" for violation in violations)
        return PolicyValidationPluginReport(success=not failed, violations=violations)


def _size_violation(
    problem: tuple[str, str], pipeline: ProcessingPipeline, template: Path
) -> PolicyViolation:
    """The report's entry: the problem, shown on the pipeline's state machine."""
    description, fix = problem
    machine = pipeline.state_machine.node.default_child
    assert isinstance(machine, CfnResource)
    return PolicyViolation(
        rule_name=RULE,
        description=description,
        fix=fix,
        severity="error",
        violating_resources=[
            PolicyViolatingResource(
                resource_logical_id=Stack.of(machine).get_logical_id(machine),
                template_path=str(template),
                locations=["/Resources"],
            )
        ],
    )


def _iam_violation(problem: IamProblem, template: Path) -> PolicyViolation:
    """An IAM quota a role or a managed policy breaks (an error) or may break with long
    names (a warning: the synth goes on)."""
    return PolicyViolation(
        rule_name=problem.rule,
        description=problem.description,
        fix=problem.fix,
        severity="error" if problem.certain else "warning",
        violating_resources=[
            PolicyViolatingResource(
                resource_logical_id=problem.logical_id,
                template_path=str(template),
                locations=[f"/Resources/{problem.logical_id}"],
            )
        ],
    )


def check_template_size(pipeline: ProcessingPipeline) -> None:
    """Have the synth fail when ``pipeline``'s stack template is over 1,000,000 bytes."""
    stage = Stage.of(pipeline)
    if stage is None:  # a stack outside any app: nothing synthesizes it
        return
    plugin = _PLUGINS.get(stage)
    if plugin is None:
        plugin = _PLUGINS[stage] = TemplateLimits()
        Validations.of(stage).add_plugins(plugin)
    plugin.watch(pipeline)

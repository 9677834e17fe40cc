"""Our pack, :class:`ProcessingPipelineChecks`: which rules it runs and how.

What does our own pack check, and how does it see the app? Here: :data:`RULES` lists the
rules (declared in :mod:`constructs_sm.nag.rules`, one module per resource family) in
report order; :func:`check_stack` and :func:`check_templates` run them on templates, and
the pack runs them on the synthesized templates of an app, so property overrides and
deletions (escape hatches) are seen as CloudFormation will see them.
:func:`default_packs` are the AWS packs every app of ours is checked with, and ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, cast

import jsii
from aws_cdk import (
    CfnResource,
    IPolicyValidationContext,
    PolicyValidationPluginReport,
    Stack,
    Stage,
    Token,
)
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    IApplyRule,
    NagMessageLevel,
    NagPack,
    NagRuleCompliance,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)
from constructs import IConstruct

from constructs_sm.assembly import with_hosted_definitions
from constructs_sm.nag.acknowledge import ACKNOWLEDGED_RULES
from constructs_sm.nag.rules import bucket, iam, job, state_machine, task
from constructs_sm.nag.rules.base import PACK_NAME, Findings, Rule
from constructs_sm.nag.template import (
    CfnModelResource,
    StackModel,
    link_imports,
    model_from_template,
)

#: The rules of :class:`ProcessingPipelineChecks`, all error level, in report order.
RULES: Final[tuple[Rule, ...]] = (
    bucket.SSE_KMS,
    bucket.KEY_ROTATION,
    bucket.BUCKET_KEY,
    bucket.TLS_ONLY,
    bucket.POLICY_PRINCIPALS,
    bucket.PUBLIC_ACCESS_BLOCK,
    bucket.OWNER_ENFORCED,
    bucket.VERSIONING,
    bucket.ACCESS_LOGS,
    bucket.LIFECYCLE,
    bucket.DATA_SOURCE_EXPIRY,
    iam.NO_S3_WILDCARD,
    iam.CHANNEL_BUCKET_ACTIONS,
    iam.LIST_BUCKET_PREFIX,
    iam.STEP_OBJECT_ACCESS,
    iam.PASS_ROLE_SERVICE,
    iam.TRUST_CONFUSED_DEPUTY,
    iam.TRUST_SERVICE_ONLY,
    job.NETWORK_ISOLATION,
    job.VOLUME_ENCRYPTION,
    job.OUTPUT_ENCRYPTION,
    job.INTER_CONTAINER_ENCRYPTION,
    job.MAX_RUNTIME,
    task.TIMEOUT,
    task.RETRY,
    task.CATCH,
    state_machine.DEFINITION_READABLE,
    state_machine.STANDARD,
    state_machine.LOG_ALL,
    state_machine.LOG_NO_EXECUTION_DATA,
    state_machine.TRACING,
)
_RULES_BY_TYPE: Final[dict[str, list[Rule]]] = {}
for _rule in RULES:
    for _type in _rule.resource_types:
        _RULES_BY_TYPE.setdefault(_type, []).append(_rule)


def check_stack(model: StackModel) -> dict[str, dict[str, Findings]]:
    """Run every rule on a stack: logical id -> rule id -> findings (only the failing)."""
    results: dict[str, dict[str, Findings]] = {}
    for resource in model.resources.values():
        for rule in _RULES_BY_TYPE.get(resource.type, []):
            try:
                findings = rule.check(resource, model)
            except Exception as error:  # a rule bug must not pass silently
                findings = {"": f"the rule could not evaluate the resource: {error!r}"}
            if findings:
                results.setdefault(resource.logical_id, {})[rule.rule_id] = findings
    return results


def check_templates(
    templates: Mapping[str, Mapping[str, Any]],
    accounts: Mapping[str, str] | None = None,
) -> dict[str, dict[str, dict[str, Findings]]]:
    """Run every rule on the templates of an app: name -> logical id -> rule id -> findings.

    Unlike :func:`check_stack` on one template, a bucket that a state machine of another
    template imports (``Fn::ImportValue`` of an output exporting its ``Ref``) is a channel
    bucket of its own stack. ``accounts`` names the account of the stacks whose ``env``
    sets one (their templates hold it as a literal).
    """
    known = accounts or {}
    models = {name: model_from_template(t, known.get(name)) for name, t in templates.items()}
    link_imports(models, templates)
    return {name: check_stack(model) for name, model in models.items()}


# -- evaluation on the synthesized templates ------------------------------------------------

#: > 0 while a synthesis runs the validation plugins (the templates are on disk).
_IN_SYNTH: list[bool] = []
#: True while :meth:`ProcessingPipelineChecks.validate_scope` synthesizes the app.
_SYNTHESIZING: list[bool] = []


@contextmanager
def running_at_synth() -> Iterator[None]:
    """Mark a validation plugin's run: the synthesis is under way, the templates are on disk."""
    _IN_SYNTH.append(True)
    try:
        yield
    finally:
        _IN_SYNTH.pop()


def _constructs(scope: IConstruct) -> Iterator[IConstruct]:
    todo = [scope]
    while todo:
        construct = todo.pop()
        yield construct
        todo.extend(reversed(construct.node.children))


def _synthesize(root: IConstruct) -> None:
    """Synthesize the app ``root`` so that its templates are on disk (once: a synthesized
    app returns its assembly). A synthesis that fails only because a validation plugin
    reported violations has written the templates: that failure is not raised here."""
    if _IN_SYNTH or _SYNTHESIZING:
        return
    if not isinstance(root, Stage):
        raise TypeError(
            f"ProcessingPipelineChecks checks the synthesized templates: the scope must be "
            f"in an App or a Stage, got a tree rooted at {type(root).__name__}"
        )
    _SYNTHESIZING.append(True)
    try:
        root.synth()
    except RuntimeError as error:
        if "Validation failed" not in str(error):
            raise
    finally:
        _SYNTHESIZING.pop()


def _stack_templates(root: IConstruct) -> dict[str, tuple[Stack, dict[str, Any] | None]]:
    """Every stack of the app (nested ones too) by construct path, with its synthesized
    template (None if it has none on disk)."""
    found: dict[str, tuple[Stack, dict[str, Any] | None]] = {}
    for construct in _constructs(root):
        if not isinstance(construct, Stack):
            continue
        path = Path(Stage.of(construct).outdir) / construct.template_file  # type: ignore[union-attr]
        try:
            template = with_hosted_definitions(json.loads(path.read_text()), path.parent)
        except (OSError, ValueError, AttributeError):
            template = None
        found[construct.node.path] = (construct, template if isinstance(template, dict) else None)
    return found


def _l1_template(stack: Stack) -> dict[str, Any]:
    """A template built from the L1 properties (no overrides): for a stack whose
    synthesized template is not on disk."""
    resources = {}
    for node in _constructs(stack):
        if isinstance(node, CfnResource) and Stack.of(node) is stack:
            resolved = stack.resolve(node._cfn_properties)
            try:
                properties = node._render_properties(resolved)
            except Exception:  # an L1 that cannot render its resolved props: use them as is
                properties = resolved
            resources[str(stack.resolve(node.logical_id))] = {
                "Type": node.cfn_resource_type,
                "Properties": properties or {},
            }
    return {"Resources": resources}


def _evaluate(scope: IConstruct) -> dict[str, tuple[CfnModelResource, dict[str, Findings]]]:
    """The findings of every resource of the app ``scope`` is in, by construct path.

    The rules read the synthesized templates, so property overrides and deletions are
    seen as CloudFormation will see them.
    """
    root = scope.node.root
    _synthesize(root)
    stacks = _stack_templates(root)
    templates = {
        path: template if template is not None else _l1_template(stack)
        for path, (stack, template) in stacks.items()
    }
    accounts = {
        path: stack.account
        for path, (stack, _) in stacks.items()
        if not Token.is_unresolved(stack.account)
    }
    results = check_templates(templates, accounts)
    found: dict[str, tuple[CfnModelResource, dict[str, Findings]]] = {}
    for path, (stack, _) in stacks.items():
        stack_results = results[path]
        if not stack_results:
            continue
        model = model_from_template(templates[path])
        for node in _constructs(stack):
            if isinstance(node, CfnResource) and Stack.of(node) is stack:
                logical_id = str(stack.resolve(node.logical_id))
                if logical_id in stack_results:
                    found[node.node.path] = (model.resources[logical_id], stack_results[logical_id])
    return found


# -- the pack -------------------------------------------------------------------------------


@jsii.implements(IApplyRule)
class _Application:
    """One rule applied to one resource, with its precomputed result."""

    def __init__(self, rule: Rule, node: CfnResource, finding: str, detail: str) -> None:
        self._rule, self._node, self._finding, self._detail = rule, node, finding, detail

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.name

    @property
    def info(self) -> str:
        return f"{self._rule.info} ({self._detail}) Fix: {self._rule.fix}"

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    @property
    def node(self) -> CfnResource:
        return self._node

    def rule(self, node: CfnResource) -> NagRuleCompliance | list[str]:
        return [self._finding] if self._finding else NagRuleCompliance.NON_COMPLIANT


class ProcessingPipelineChecks(NagPack):
    """Our pack: channel buckets, job and state-machine IAM, processing-job settings.

    Rule ids are ``ProcessingPipeline-<name>`` (see :data:`RULES`), all error level.
    Findings inside a state machine are per state, e.g.
    ``ProcessingPipeline-JobNetworkIsolation[Run-train]``; IAM object access findings are
    per resource, e.g. ``ProcessingPipeline-IamStepObjectAccess[Resource::<B.Arn>/*]``.

    The rules read the synthesized templates: property overrides and deletions count.
    At synth the templates are on disk; ``validate_scope(app)`` synthesizes the app first
    (as ``assertions.Template.from_stack`` does), so call it once the app is complete.

    Channel buckets are the buckets of a stack that processing jobs use: those a
    processing state machine refers to in its definition (a reference, a literal
    ``s3://<BucketName>/`` URI, an imported export), and those the jobs' roles (roles
    SageMaker may assume) may read, write or list. When a job's S3 URIs come from the
    execution input, the grants of its role are what tells its buckets. The lifecycle
    rule looks for the run prefixes in the jobs' output URIs (``States.Format`` templates
    and the fields they are built from, e.g. a ``root`` prefix); an output whose bucket or
    key is not known needs a lifecycle rule on the whole bucket.

    The IAM rules check every statement of roles trusted by SageMaker or Step Functions,
    and of other principals only the statements that may apply to a channel bucket.
    """

    def __init__(self, scope: IConstruct | None = None, *, verbose: bool | None = None) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK_NAME
        self._results: dict[str, tuple[CfnModelResource, dict[str, Findings]]] | None = None

    @property
    def name(self) -> str:
        """The pack's name (the prefix of its rule ids)."""
        return PACK_NAME

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        """Check the app at synth (the pack registered as a validation plugin)."""
        with running_at_synth():
            return self.validate_scope(context.app_construct)

    def validate_scope(self, scope: IConstruct) -> PolicyValidationPluginReport:
        """Check every resource under ``scope`` (an app, stage or stack)."""
        self._results = _evaluate(scope)
        try:
            return super().validate_scope(scope)
        finally:
            self._results = None

    def _check_resource(self, node: CfnResource) -> None:
        if self._results is None:  # called without validate_scope: check this node's stack
            self.validate_scope(Stack.of(node))
            return
        entry = self._results.get(node.node.path)
        if entry is None:
            return
        acknowledged = namespaced_acknowledgments(node, PACK_NAME)
        for rule in RULES:
            for finding, detail in entry[1].get(rule.rule_id, {}).items():
                rule_id = f"{rule.rule_id}[{finding}]" if finding else rule.rule_id
                if rule_id in acknowledged:
                    continue
                self._apply_rule(cast(IApplyRule, _Application(rule, node, finding, detail)))


def namespaced_acknowledgments(node: IConstruct, pack: str) -> set[str]:
    """The ids acknowledged as ``<pack>::<id>`` on ``node`` and its scopes (CDK honours
    them at synth; cdk-nag's own check only knows un-namespaced ones)."""
    prefix = f"{pack.replace(' ', '-')}::"
    found = set()
    current: IConstruct | None = node
    while current is not None:
        for entry in current.node.metadata:
            if entry.type == ACKNOWLEDGED_RULES and isinstance(entry.data, dict):
                found |= {k[len(prefix) :] for k in entry.data if k.startswith(prefix)}
        current = current.node.scope
    return found


def default_packs(scope: IConstruct, *, verbose: bool = False) -> tuple[NagPack, ...]:
    """The packs every app of ours is checked with, in report order."""
    return (
        AwsSolutionsChecks(scope, verbose=verbose),
        NIST80053R5Checks(scope, verbose=verbose),
        HIPAASecurityChecks(scope, verbose=verbose),
        PCIDSS321Checks(scope, verbose=verbose),
        ServerlessChecks(scope, verbose=verbose),
        ProcessingPipelineChecks(scope, verbose=verbose),
    )

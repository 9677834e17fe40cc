"""cdk-nag for processing pipelines: the AWS packs, our own pack and acknowledgments.

Where are the security checks of an app wired, what does our own pack check and how do
constructs acknowledge a finding? Here.

* :func:`apply_checks` registers the AWS Solutions, NIST 800-53 R5, HIPAA Security,
  PCI DSS 3.2.1 and Serverless packs and :class:`ProcessingPipelineChecks` on an app. A
  violation fails ``app.synth()`` with a report naming the rule, the resource path and
  how to fix it; ``nag-report.json`` in the cloud assembly lists every pack's violations
  and acknowledgments.
* :class:`ProcessingPipelineChecks` (rule ids ``ProcessingPipeline-*``) checks what no
  AWS pack can see: the channel buckets the processing jobs use, the IAM of the jobs and
  of the state machine, and the processing-job settings inside the state-machine
  definition (which it parses, CloudFormation references and all). It works on any
  stack, not only on ours: a hand-made bucket, a ``grant_read_write`` role and a
  hand-written ``CustomState`` processing job are checked the same way.
* :func:`acknowledge` records a reasoned, per-finding acknowledgment on a construct
  (cdk-nag 3 honours ``Validations.of(c).acknowledge``); :func:`wildcard_finding` names
  the ``AwsSolutions-IAM5`` finding a wildcard resource produces, so the construct that
  grants it can acknowledge exactly that finding.

The rules are pure functions over CloudFormation resources (:func:`check_stack`,
:func:`check_templates`) and the pack runs them on the synthesized templates, so property
overrides and deletions (escape hatches) are seen as CloudFormation will see them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, cast

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

from constructs_sm.nag.acknowledge import (
    ACKNOWLEDGED_RULES,
    INLINE_POLICY_FINDINGS,
    acknowledge,
    acknowledge_wildcards,
    flatten_reference,
    skip_checkov,
    wildcard_finding,
)
from constructs_sm.nag.definition import (
    S3Location,
    parse_definition,
)
from constructs_sm.nag.policy import (
    policy_statements,
    roles_of_policy,
    s3_bucket_text,
)
from constructs_sm.nag.rules import bucket, iam, job, state_machine, task
from constructs_sm.nag.rules.base import PACK_NAME, Findings, Rule
from constructs_sm.nag.rules.task import REQUIRED_RETRIES
from constructs_sm.nag.template import (
    CfnModelResource,
    StackModel,
    link_imports,
    model_from_template,
)
from constructs_sm.nag.values import as_list

__all__ = [
    "INLINE_POLICY_FINDINGS",
    "PACK_NAME",
    "REQUIRED_RETRIES",
    "RULES",
    "CfnModelResource",
    "ProcessingPipelineChecks",
    "Rule",
    "StackModel",
    "acknowledge",
    "acknowledge_wildcards",
    "apply_checks",
    "check_stack",
    "check_templates",
    "flatten_reference",
    "model_from_template",
    "parse_definition",
    "skip_checkov",
    "wildcard_finding",
]

#: The file :func:`apply_checks` writes into the cloud assembly.
REPORT_FILE: Final = "nag-report.json"
_RULES_DOC: Final = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"

# -- the resources a rule sees ------------------------------------------------------------


# -- state-machine definitions -------------------------------------------------------------


# -- helpers over values --------------------------------------------------------------------


def state_finding(name: str) -> str:
    """A state name usable in a finding id: CDK turns spaces in acknowledged ids into ``-``
    (``Run train`` becomes ``Run-train``) and brackets would unbalance the id."""
    return re.sub(r"[\[\](){}]", "_", name.replace(" ", "-"))


# -- IAM helpers ----------------------------------------------------------------------------


def _policy_scope(resource: CfnModelResource, model: StackModel) -> bool:
    """True if the policy belongs to (or is) a role trusted by SageMaker or Step Functions."""
    return bool(set(roles_of_policy(resource, model)) & model.pipeline_roles())


def _on_channel_bucket(statement: Mapping[str, Any], model: StackModel) -> bool:
    """True if a statement's resources may cover a channel bucket or its objects."""
    channel = model.channel_buckets()
    if not channel:
        return False
    if "NotResource" in statement:
        return True
    for item in as_list(statement.get("Resource")):
        bucket = s3_bucket_text(item)
        if bucket is None:
            continue
        if "*" in bucket or "?" in bucket or model.bucket_id(bucket) in channel:
            return True
    return False


def _checked_statements(resource: CfnModelResource, model: StackModel) -> list[dict[str, Any]]:
    """The statements the IAM rules check: all of a pipeline role's, else those that may
    apply to a channel bucket."""
    statements = policy_statements(resource)
    if _policy_scope(resource, model):
        return statements
    return [s for s in statements if _on_channel_bucket(s, model)]


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM/S3 wildcard pattern (``*`` any characters, the rest literal) as a regex."""
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.DOTALL)


def _covers(allowed: S3Location, bucket: str | None, key: str, model: StackModel) -> bool:
    """True if every object of ``bucket``/``key`` (a pattern) is under ``allowed``'s prefix.

    A pattern is taken as literal text that the prefix pattern must match: ``runs/*/in/*``
    is under ``runs/*/in/``, ``runs/*`` is not.
    """
    if allowed.key is None:
        return False
    if allowed.bucket is not None and bucket is not None:
        same = allowed.bucket == bucket or (
            model.bucket_id(allowed.bucket) is not None
            and model.bucket_id(allowed.bucket) == model.bucket_id(bucket)
        )
        if not same:
            return False
    return _glob(allowed.key + "*").fullmatch(key) is not None


# -- the rules ------------------------------------------------------------------------------

_ACK_HINT = (
    " If the design requires it, acknowledge the finding on the construct with "
    "constructs_sm.nag.acknowledge(construct, ['<rule id>'], reason) (it checks the id "
    "and the reason; nag-report.json lists it)."
)

#: The rules of :class:`ProcessingPipelineChecks`, all error level, in report order.
RULES: Final[tuple[Rule, ...]] = (
    bucket.SSE_KMS,
    bucket.KEY_ROTATION,
    bucket.BUCKET_KEY,
    bucket.TLS_ONLY,
    bucket.PUBLIC_ACCESS_BLOCK,
    bucket.OWNER_ENFORCED,
    bucket.VERSIONING,
    bucket.ACCESS_LOGS,
    bucket.LIFECYCLE,
    iam.NO_S3_WILDCARD,
    iam.LIST_BUCKET_PREFIX,
    iam.STEP_OBJECT_ACCESS,
    iam.PASS_ROLE_SERVICE,
    iam.TRUST_CONFUSED_DEPUTY,
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
) -> dict[str, dict[str, dict[str, Findings]]]:
    """Run every rule on the templates of an app: name -> logical id -> rule id -> findings.

    Unlike :func:`check_stack` on one template, a bucket that a state machine of another
    template imports (``Fn::ImportValue`` of an output exporting its ``Ref``) is a channel
    bucket of its own stack.
    """
    models = {name: model_from_template(t) for name, t in templates.items()}
    link_imports(models, templates)
    return {name: check_stack(model) for name, model in models.items()}


# -- the pack -------------------------------------------------------------------------------

#: > 0 while a synthesis runs the validation plugins (the templates are on disk).
_IN_SYNTH: list[bool] = []
#: True while :meth:`ProcessingPipelineChecks.validate_scope` synthesizes the app.
_SYNTHESIZING: list[bool] = []


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
            template = json.loads(path.read_text())
        except (OSError, ValueError):
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
    results = check_templates(templates)
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
        _IN_SYNTH.append(True)
        try:
            return self.validate_scope(context.app_construct)
        finally:
            _IN_SYNTH.pop()

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


# -- registration and the synth-time report -------------------------------------------------


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


def collect_acknowledgments(scope: IConstruct) -> list[dict[str, str]]:
    """Every acknowledgment under ``scope``: construct path, finding id and reason, sorted.

    Ids are as the packs report them: CDK's ``Annotation::`` prefix is dropped, and so is
    a pack's namespace (``ProcessingPipeline::ProcessingPipeline-...``, the form CDK's
    failure message suggests), which CDK honours at synth like the plain id.
    """
    found: set[tuple[str, str, str]] = set()
    todo = [scope]
    while todo:
        construct = todo.pop()
        for entry in construct.node.metadata:
            if entry.type == ACKNOWLEDGED_RULES and isinstance(entry.data, dict):
                for qualified, reason in entry.data.items():
                    found.add((construct.node.path, _plain_id(qualified), str(reason)))
        todo.extend(construct.node.children)
    return [{"path": p, "id": i, "reason": r} for p, i, r in sorted(found)]


def _plain_id(qualified: str) -> str:
    """An acknowledged id without CDK's ``Annotation::`` or a pack's ``<Pack>::`` prefix."""
    finding = re.sub(r"^annotation::", "", qualified, flags=re.IGNORECASE)
    namespace, separator, rest = finding.partition("::")
    if separator and "[" not in namespace and rest.startswith(f"{namespace}-"):
        return rest
    return finding


def _fix(pack: str, rule_name: str) -> str:
    base = re.sub(r"\[.*\]$", "", rule_name)
    for rule in RULES:
        if rule.rule_id == base:
            return rule.fix + _ACK_HINT.replace("<rule id>", rule_name)
    anchor = {
        "AwsSolutions": "awssolutions",
        "NIST.800.53.R5": "nist-800-53-rev-5",
        "HIPAA.Security": "hipaa-security",
        "PCI.DSS.321": "pci-dss-321",
        "Serverless": "serverless",
    }.get(pack, "")
    return (
        f"Change the resource so that it complies with {base} ({_RULES_DOC}#{anchor})."
        + _ACK_HINT.replace("<rule id>", rule_name)
    )


class _Report:
    """The nag report of one synth: violations and acknowledgments per pack."""

    def __init__(self, stage: Stage, file_name: str) -> None:
        self._stage, self._file_name = stage, file_name
        self._packs: dict[str, dict[str, Any]] = {}
        self._acknowledgments: list[dict[str, str]] | None = None

    def record(self, pack: str, violations: Sequence[PolicyViolation]) -> None:
        if self._acknowledgments is None:
            self._acknowledgments = collect_acknowledgments(self._stage)
        prefix = f"{pack}-"
        self._packs[pack] = {
            "violations": [
                {
                    "rule": v.rule_name,
                    "description": v.description,
                    "fix": v.fix,
                    "resources": [r.construct_path for r in v.violating_resources],
                }
                for v in violations
            ],
            "acknowledgments": [a for a in self._acknowledgments if a["id"].startswith(prefix)],
        }
        outdir = Path(self._stage.outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        report = {"packs": self._packs}
        (outdir / self._file_name).write_text(json.dumps(report, indent=2) + "\n")


@jsii.implements(IPolicyValidationPlugin)
class _ReportingPlugin:
    """Runs one pack at synth, adds how to fix each violation and records the report."""

    def __init__(self, pack: NagPack, report: _Report) -> None:
        self._pack, self._report = pack, report

    @property
    def name(self) -> str:
        return self._pack.name

    @property
    def version(self) -> str | None:
        return None

    @property
    def rule_ids(self) -> list[str] | None:
        return [rule.rule_id for rule in RULES] if self.name == PACK_NAME else None

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        _IN_SYNTH.append(True)
        try:
            report = self._pack.validate_scope(context.app_construct)
        finally:
            _IN_SYNTH.pop()
        violations = []
        for v in report.violations:
            resources = [
                PolicyViolatingResource(
                    locations=list(r.locations), construct_path=r.construct_path
                )
                for r in v.violating_resources
                if not _acknowledged_at(context.app_construct, self.name, v.rule_name, r)
            ]
            if resources:
                violations.append(
                    PolicyViolation(
                        rule_name=v.rule_name,
                        description=v.description,
                        fix=_fix(self.name, v.rule_name),
                        severity=v.severity,
                        violating_resources=resources,
                    )
                )
        self._report.record(self.name, violations)
        return PolicyValidationPluginReport(success=not violations, violations=violations)


def _acknowledged_at(
    root: IConstruct, pack: str, rule_name: str, resource: PolicyViolatingResource
) -> bool:
    """True if CDK will drop this violation at synth: ``<pack>::<rule>`` is acknowledged
    on the resource or one of its scopes."""
    path = resource.construct_path
    if not path:
        return False
    node: IConstruct | None = root
    for part in path.split("/"):
        node = node.node.try_find_child(part) if node is not None else None
    return node is not None and rule_name.replace(" ", "-") in namespaced_acknowledgments(
        node, pack
    )


def apply_checks(
    app: Stage,
    *,
    verbose: bool = False,
    report_file: str = REPORT_FILE,
    packs: Sequence[NagPack] | None = None,
) -> tuple[NagPack, ...]:
    """Check ``app`` at synth with the AWS packs and :class:`ProcessingPipelineChecks`.

    Registers AWS Solutions, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1, Serverless
    and our pack as validation plugins. ``app.synth()`` then writes ``report_file``
    (violations and acknowledgments per pack) into the cloud assembly and fails on any
    unacknowledged violation, with a report naming the rule, the resource path and how
    to fix it. Returns the packs, e.g. to run ``pack.validate_scope(app)`` in tests.

    :param verbose: put the rules' explanations into the violation descriptions.
    :param packs: the packs to register instead of :func:`default_packs`.
    """
    if not isinstance(app, Stage):
        raise TypeError(f"app must be an App or Stage, got {type(app).__name__}")
    chosen = tuple(packs) if packs is not None else default_packs(app, verbose=verbose)
    report = _Report(app, report_file)
    Validations.of(app).add_plugins(*(_ReportingPlugin(pack, report) for pack in chosen))
    return chosen

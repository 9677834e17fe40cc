"""What every rule is made of: the :class:`Rule` type, its findings and shared helpers.

A rule is a pure function over one CloudFormation resource of a
:class:`~constructs_sm.nag.template.StackModel` that returns its findings, declared with
what it says (info, explanation, fix) in its family's module (:mod:`.bucket`, :mod:`.iam`,
:mod:`.job`, :mod:`.task`, :mod:`.state_machine`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

# The prefix of our pack's rule ids, from the leaf the constructs import.
from constructs_sm.nag.acknowledge import PACK_NAME as PACK_NAME
from constructs_sm.nag.definition import task_parameters
from constructs_sm.nag.template import CfnModelResource, StackModel
from constructs_sm.report import walk_states

#: The resources the rules of a family apply to.
BUCKET: Final = frozenset({"AWS::S3::Bucket"})
ROLE: Final = frozenset({"AWS::IAM::Role"})
STATE_MACHINE: Final = frozenset({"AWS::StepFunctions::StateMachine"})

#: A rule's result: finding ids (``""`` means the resource as a whole) with a detail each.
Findings = dict[str, str]
#: A rule's check: one resource of the model in, its findings out.
Check = Callable[[CfnModelResource, StackModel], Findings]


@dataclass(frozen=True)
class Rule:
    """One rule of ``ProcessingPipelineChecks`` (its id is ``ProcessingPipeline-<name>``).

    ``info`` says what is wrong, ``explanation`` why it matters and ``fix`` how to change
    the resource; ``check`` applies to the resources of ``resource_types``.
    """

    name: str
    resource_types: frozenset[str]
    info: str
    explanation: str
    fix: str
    check: Check

    @property
    def rule_id(self) -> str:
        """The id violations and acknowledgments use."""
        return f"{PACK_NAME}-{self.name}"


def whole(problem: str | None) -> Findings:
    """The findings of a check about the resource as a whole: none, or ``problem``."""
    return {} if problem is None else {"": problem}


def state_finding(name: str) -> str:
    """A state name usable in a finding id: CDK turns spaces in acknowledged ids into ``-``
    (``Run train`` becomes ``Run-train``) and brackets would unbalance the id."""
    return re.sub(r"[\[\](){}]", "_", name.replace(" ", "-"))


#: A check of one processing task: ``(parameters, state, states)`` in, a problem or None out.
TaskCheck = Callable[[dict[str, Any], dict[str, Any], Mapping[str, Any]], str | None]


def per_task(check: TaskCheck) -> Check:
    """Apply ``check(parameters, state, states)`` to every processing task of a state
    machine (``states``: the States map the task is in, for its transitions)."""

    def checked(resource: CfnModelResource, model: StackModel) -> Findings:
        definition = model.definition(resource.logical_id)
        if definition is None:
            return {}
        found: Findings = {}
        names = {name for name, _ in definition.processing_states()}
        for name, state, states in walk_states(definition.document):
            if name not in names:
                continue
            problem = check(task_parameters(state), state, states)
            if problem is not None:
                found[state_finding(name)] = f"state '{name}': {problem}"
        return found

    return checked

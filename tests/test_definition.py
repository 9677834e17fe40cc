"""The state-machine definition as pure data: a step's states, state names (pure)."""

from __future__ import annotations

import pytest

from constructs_sm.definition import _DefinitionBuilder, step_states
from constructs_sm.model import Resources
from constructs_sm.retries import RetryScope
from constructs_sm.returned import INVALID_RETURN_VALUES
from tests.samples import sample_settings


def test_step_states_with_returns() -> None:
    first, states = step_states(
        sample_settings(), partition="aws", next_state="After", scope=RetryScope()
    )
    assert first == "Run train"
    task = states["Run train"]
    assert task["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    assert task["TimeoutSeconds"] == 86400 + 7200
    assert task["ResultPath"] == "$.steps.train"
    # Only the quota error has a Retrier; the rest is classified by its cause.
    assert [r["ErrorEquals"] for r in task["Retry"]] == [
        ["SageMaker.ResourceLimitExceededException"]
    ]
    assert task["Retry"][0]["JitterStrategy"] == "FULL"
    assert task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "train error"}
    ]
    # The decision is the scope's (shared by its steps); the step notes who failed.
    assert states["train error"]["Next"] == "Classify the error"
    assert states["Retry train"]["Next"] == "Run train"
    # One host: the values come back in the ExitMessage, parsed by the task itself.
    assert task["ResultSelector"]["returned"] == {"values.$": "States.StringToJson($.ExitMessage)"}
    check = states[task["Next"]]
    assert check["Default"] == "After"
    assert {
        "Not": {"Variable": "$.steps.train.returned.values.loss", "IsNumeric": True},
        "Next": "train returned a bad loss",
    } in check["Choices"]
    assert states["train did not return loss"]["Error"] == INVALID_RETURN_VALUES
    assert "runtime.emit(loss=...)" in states["train did not return loss"]["Cause"]


def test_several_hosts_return_values_read_from_s3_and_merged() -> None:
    settings = sample_settings(resources=Resources(instance_count=3))
    _, states = step_states(settings, partition="aws", next_state="After", scope=RetryScope())
    task = states["Run train"]
    assert task["ResultSelector"]["hosts.$"] == "States.ArrayRange(1, 3, 1)"
    read = states[task["Next"]]
    assert read["Type"] == "Map" and read["ItemsPath"] == "$.steps.train.hosts"
    host = read["ItemProcessor"]["States"]["Read train host"]
    assert host["Parameters"]["Key.$"] == (
        "States.Format('Churn/_returns/train/{}/values-algo-{}.json', $.execution, $.host)"
    )
    collect = states[read["Next"]]
    assert collect["Parameters"] == {"loss.$": "$.steps.train.hosts[*].values.loss"}
    agree = states["Agree on train values"]["Choices"]
    assert {
        "Variable": "$.steps.train.agreed.loss.count",
        "NumericGreaterThan": 1,
        "Next": "train hosts disagree",
    } in agree
    assert states["Pick train values"]["Next"] == "Check train values"


def test_step_states_end_a_branch() -> None:
    _, states = step_states(
        sample_settings(returns={}), partition="aws", next_state=None, scope=RetryScope()
    )
    assert set(states) == {"Run train", "train error", "Retry train"}
    assert states["Run train"]["End"] is True
    _, states = step_states(sample_settings(), partition="aws", next_state=None, scope=RetryScope())
    assert states["Check train values"]["Default"] == "train done"
    assert states["train done"] == {"Type": "Succeed"}


def test_state_names_are_unique_and_at_most_80_characters() -> None:
    builder = _DefinitionBuilder({}, "aws")
    builder.put({}, {"A": {}})
    with pytest.raises(ValueError, match=r"two states would be named 'A'"):
        builder.put({}, {"A": {}})
    with pytest.raises(ValueError, match=r"longer than 80 characters"):
        builder.put({}, {"x" * 81: {}})

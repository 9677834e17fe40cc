"""The state-machine definition as pure data: a step's states, state names (pure)."""

from __future__ import annotations

import pytest

from constructs_sm.definition import _DefinitionBuilder, step_states
from constructs_sm.returned import INVALID_RETURN_VALUES
from tests.samples import sample_settings


def test_step_states_with_returns() -> None:
    first, states = step_states(
        sample_settings(), partition="aws", next_state="After", failed_state="train failed"
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
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Classify train error"}
    ]
    assert states["Classify train error"]["Default"] == "train failed"
    assert states["Wait to retry train"]["Next"] == "Run train"
    read = states[task["Next"]]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["Parameters"]["Key.$"] == (
        "States.Format('Churn/train/returns/{}/values-algo-1.json', $.run.execution)"
    )
    assert read["ResultSelector"] == {"values.$": "States.StringToJson($.Body)"}
    check = states[read["Next"]]
    assert check["Default"] == "After"
    assert {
        "Not": {"Variable": "$.steps.train.returned.values.loss", "IsNumeric": True},
        "Next": "train returned invalid values",
    } in check["Choices"]
    assert states["train returned no values"]["Error"] == INVALID_RETURN_VALUES
    assert "runtime.emit()" in states["train returned no values"]["Cause"]


def test_step_states_end_a_branch() -> None:
    _, states = step_states(
        sample_settings(returns={}), partition="aws", next_state=None, failed_state="f"
    )
    assert set(states) == {
        "Run train",
        "Classify train error",
        "Back off train",
        "Wait for capacity train",
        "Wait to retry train",
    }
    assert states["Run train"]["End"] is True
    _, states = step_states(sample_settings(), partition="aws", next_state=None, failed_state="f")
    assert states["Check train values"]["Default"] == "train done"
    assert states["train done"] == {"Type": "Succeed"}


def test_state_names_are_unique_and_at_most_80_characters() -> None:
    builder = _DefinitionBuilder({}, "aws")
    builder.put({}, {"A": {}})
    with pytest.raises(ValueError, match=r"two states would be named 'A'"):
        builder.put({}, {"A": {}})
    with pytest.raises(ValueError, match=r"longer than 80 characters"):
        builder.put({}, {"x" * 81: {}})

"""constructs_sm.returned: the step an InvalidReturnValues failure names."""

from __future__ import annotations

from constructs_sm.model import Resources
from constructs_sm.returned import INVALID_RETURN_VALUES, refused_step, returned_states
from tests.samples import sample_settings


def test_the_step_whose_values_were_refused_is_read_from_the_cause() -> None:
    """Every state that fails a step's returned values names its step the same way, so
    the offline runner does not show values the state machine refused."""
    settings = sample_settings(
        step="shard", returns={"n": "integer"}, resources=Resources(instance_count=2)
    )
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "shard error"}]
    _, states, _ = returned_states(settings, partition="aws", catch=catch)
    causes = [s["Cause"] for s in states.values() if s.get("Type") == "Fail"]
    assert len(causes) == 2
    assert all(refused_step(INVALID_RETURN_VALUES, cause) == "shard" for cause in causes)
    # Hosts that disagree: the cause is formatted at run time.
    (disagree,) = [
        s["Parameters"]["Cause.$"]
        for s in states.values()
        if (s.get("Parameters") or {}).get("Error") == INVALID_RETURN_VALUES
    ]
    assert disagree.startswith("States.Format('step shard: hosts ")
    ran = "step shard: hosts returned different values for the same name; each host returned: []"
    assert refused_step(INVALID_RETURN_VALUES, ran) == "shard"
    assert refused_step("States.TaskFailed", causes[0]) is None
    assert refused_step(INVALID_RETURN_VALUES, None) is None
    assert refused_step(INVALID_RETURN_VALUES, "something else") is None

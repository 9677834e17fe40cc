"""Scheduling (pure): parallel where no data dependency orders the steps."""

from __future__ import annotations

import pytest

from constructs_sm.plan import critical_path_steps, plan


def test_plan_runs_independent_steps_in_parallel() -> None:
    deps = {"prep": [], "a": ["prep"], "b": ["prep"], "a2": ["a"], "join": ["a2", "b"]}
    assert plan(deps) == ("seq", ["prep", ("par", [("seq", ["a", "a2"]), "b"]), "join"])
    assert critical_path_steps(plan(deps)) == [["prep"], ["a", "a2", "b"], ["join"]]
    assert plan({"x": [], "y": []}) == ("par", ["x", "y"])
    assert plan({}) is None


def test_plan_detects_cycles_and_unknown_steps() -> None:
    with pytest.raises(ValueError, match=r"dependency cycle: a -> b -> a"):
        plan({"a": ["b"], "b": ["a"]})
    with pytest.raises(ValueError, match=r"unknown steps: ghost"):
        plan({"a": ["ghost"]})


def test_plan_is_series_parallel_where_possible() -> None:
    # A bottleneck step splits the graph into a series; sources without one start together.
    assert plan({"a": [], "b": [], "c": ["a", "b"]}) == ("seq", [("par", ["a", "b"]), "c"])
    n_shape = {"a": [], "b": [], "c": ["a", "b"], "d": ["b"]}
    assert plan(n_shape) == ("seq", [("par", ["a", "b"]), ("par", ["c", "d"])])

"""Concurrent executions in one emulator: nothing shared, nothing mixed, nothing left.

The load benchmark (tests/benchmarks/bench_load.py) runs 50 executions of the example;
this test runs 10 of the probe pipeline, each with its own label (which every step passes
on) and sleepers that its branch jobs leave behind.
"""

from __future__ import annotations

import uuid

from tests.local_deployment import (
    Deployed,
    job_processes,
    read_json,
    run_keys,
    run_many,
    running_with,
    shared_keys,
)

EXECUTIONS = 10


def test_ten_concurrent_executions_keep_apart_and_leave_no_process(deployed: Deployed) -> None:
    marker = f"csm-load-{uuid.uuid4().hex}"
    labels = [f"run-{i}" for i in range(EXECUTIONS)]
    results = run_many(deployed, "Probe", [{"label": label, "spawn": marker} for label in labels])
    assert [result.status for result in results] == ["SUCCEEDED"] * EXECUTIONS
    assert len({result.execution_name for result in results}) == EXECUTIONS
    layouts = {tuple(run_keys(deployed, "Probe", result)) for result in results}
    assert len(layouts) == 1, "every execution wrote the same files, each under its own name"
    assert shared_keys(deployed, "Probe", results) == []
    for label, result in zip(labels, results, strict=True):
        assert result.steps["first"].values["s"] == label + "!"
        assert read_json(deployed, "Probe", result, "_run/params/params.json")["label"] == label
        for branch in ("left", "right"):
            seen = read_json(deployed, "Probe", result, f"{branch}/seen/seen.json")
            assert seen["upstream_label"] == label
            assert seen["env"]["S"] == [label + "!", "str"]
    assert running_with(marker) == [], "the sleepers the branch jobs left"
    assert job_processes(deployed.emulator) == []

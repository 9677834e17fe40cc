"""A ``for_each`` step as a Step Functions Distributed Map (pure data).

How does one step run a processing job per item? ``add_step(..., for_each=...)`` makes
the step's state a ``Map`` in ``DISTRIBUTED`` mode: each item runs as a child execution
(``STANDARD``: a ``.sync`` job may run for days) of the same state machine, with its own
history, so a fan-out of thousands of items neither fills the parent's 25,000-event
history nor its 256 KB state
(https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).

- The items: a ``string_list`` parameter (``ItemsPath``), or the objects under another
  step's output channel of this execution, listed by ``ItemReader``
  ``arn:aws:states:::s3:listObjectsV2`` (each item is then the object's key).
- Each child gets ``{"item", "index", "params", "run", "steps"}`` (``ItemSelector``):
  its job's name hashes the child execution and the index, its outputs go to
  ``<pipeline>/<step>/<channel>/<execution>/<index>/`` (constructs_sm.job), and its
  errors go through the retry policy of :mod:`constructs_sm.retries`, whose states live
  in the child.
- ``MaxConcurrency`` bounds the jobs running at once; ``ToleratedFailurePercentage`` and
  ``ToleratedFailureCount`` (Distributed Map only) let the step succeed although some
  items failed; past them the Map fails with ``States.ExceedToleratedFailureThreshold``.
- The children's outputs are written to S3 (``ResultWriter``, under
  ``<pipeline>/_run/maps/<step>/<map run id>/``) rather than gathered into the state,
  which could not hold thousands of them; the step's result in the state is its map run's
  ARN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from constructs_sm.layout import RUN_STEP, channel_prefix
from constructs_sm.model import FanOut, OutputRef

#: The pseudo-channel of the run prefix under which each map run writes its results.
MAPS_CHANNEL: Final = "maps"


def results_prefix(pipeline: str, step: str) -> str:
    """``<pipeline>/_run/maps/<step>``: where a fan-out step's map runs write their results
    (each under ``/<map run id>/``)."""
    return f"{pipeline}/{RUN_STEP}/{MAPS_CHANNEL}/{step}"


def maps_prefix(pipeline: str) -> str:
    """``<pipeline>/_run/maps/``: every fan-out step's map-run results (the state machine
    writes there)."""
    return f"{pipeline}/{RUN_STEP}/{MAPS_CHANNEL}/"


def items_prefix_expression(pipeline: str, source: OutputRef) -> str:
    """Intrinsic expression of the key prefix a fan-out over objects lists:
    ``<pipeline>/<step>/<channel>/<execution>/``."""
    prefix = channel_prefix(pipeline, source.step.step_name, source.channel)
    return f"States.Format('{prefix}{{}}/', $.run.execution)"


def map_state(
    *,
    pipeline: str,
    step: str,
    fan_out: FanOut,
    partition: str,
    start_at: str,
    states: dict[str, Any],
    failed_state: str,
    bucket_name: str,
) -> dict[str, Any]:
    """The ``Map`` state of a fan-out step whose child runs ``states`` from ``start_at``;
    an error of the map itself (an item source that cannot be read, too many failed
    items) goes to ``failed_state``."""
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": start_at,
            "States": states,
        },
    }
    source = fan_out.source
    if isinstance(source, OutputRef):
        state["ItemReader"] = {
            "Resource": f"arn:{partition}:states:::s3:listObjectsV2",
            "Parameters": {
                "Bucket.$": "$.run.bucket",
                "Prefix.$": items_prefix_expression(pipeline, source),
            },
        }
        item = "$$.Map.Item.Value.Key"
    else:
        state["ItemsPath"] = source.json_path
        item = "$$.Map.Item.Value"
    state["ItemSelector"] = {
        "item.$": item,
        "index.$": "$$.Map.Item.Index",
        "params.$": "$.params",
        "run.$": "$.run",
        "steps.$": "$.steps",
    }
    state["MaxConcurrency"] = fan_out.max_concurrency
    if fan_out.tolerated_failure_percentage is not None:
        state["ToleratedFailurePercentage"] = fan_out.tolerated_failure_percentage
    if fan_out.tolerated_failure_count is not None:
        state["ToleratedFailureCount"] = fan_out.tolerated_failure_count
    state["Label"] = step
    state["ResultWriter"] = {
        "Resource": f"arn:{partition}:states:::s3:putObject",
        # The bucket by name (a CDK token): ResultWriter writes after the items ran.
        "Parameters": {"Bucket": bucket_name, "Prefix": results_prefix(pipeline, step)},
    }
    state["ResultSelector"] = {"map_run.$": "$.MapRunArn"}
    state["ResultPath"] = f"$.steps.{step}"
    state["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed_state}
    ]
    return state


def listed_prefixes(pipeline: str, fan_outs: Sequence[FanOut]) -> list[str]:
    """The channel prefixes the state machine lists for the fan-outs over a step's
    output (``for_each=step.output(...)``), each once, in order."""
    return sorted(
        {
            channel_prefix(pipeline, f.source.step.step_name, f.source.channel)
            for f in fan_outs
            if isinstance(f.source, OutputRef)
        }
    )

"""Fixes of moto 5.2.5's Distributed Map that the pipelines' fan-out steps need.

**Tolerated failures.** A Distributed Map fails only when more items failed than its
``ToleratedFailureCount`` or ``ToleratedFailurePercentage`` allow, with the error
``States.ExceedToleratedFailureThreshold``; the failed items' outputs are then kept with
the others (AWS "Distributed Map state", "Setting failure thresholds",
https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html). moto
parses both fields but fails the Map at the first failed item. :func:`install` gives the
Map a job pool that lets every item finish and applies the thresholds.

**Listing objects.** ``ItemReader`` ``arn:aws:states:::s3:listObjectsV2`` lists every
object under the prefix (following continuation tokens) and gives each as
``{"Etag", "Key", "LastModified" (epoch seconds), "Size", "StorageClass"}``; an empty
listing gives no items (AWS "ItemReader (Map)",
https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html). moto
reads one page only, fails an empty listing with ``States.Runtime`` (``'Contents'``) and
passes boto's dicts (``ETag``, a ``datetime``, which breaks DescribeExecution).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import (
    Job,
    JobClosed,
    JobPool,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
    DEFAULT_MAX_CONCURRENCY_VALUE,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

_originals: dict[str, Callable[..., Any]] = {}
THRESHOLD_ERROR: Final = "States.ExceedToleratedFailureThreshold"


class TolerantJobPool(JobPool):
    """A job pool that runs every job; failed jobs are counted, not fatal."""

    def __init__(self, job_program: Any, job_inputs: list[Any]) -> None:
        super().__init__(job_program=job_program, job_inputs=job_inputs)
        self.failures: list[tuple[int, Exception | None]] = []

    def close_job(self, job: Job) -> None:
        with self._mutex:
            if len(self._closed_jobs) == self._jobs_number:
                return
            # moto's Distributed Map worker leaves no output (None) for a child execution
            # that failed, timed out or was aborted; an exception is an error of its own.
            if job.job_output is None or isinstance(job.job_output, Exception):
                self.failures.append((job.job_index, job.job_output))
                output: Any = {"Status": "FAILED"}
                if isinstance(job.job_output, FailureEventException):
                    pair = job.job_output.extract_error_cause_pair()
                    if pair:
                        output = {"Status": "FAILED", "Error": pair[0], "Cause": pair[1]}
                self._closed_jobs.add(JobClosed(job_index=job.job_index, job_output=output))
            else:
                self._closed_jobs.add(JobClosed(job_index=job.job_index, job_output=job.job_output))
            if len(self._closed_jobs) == self._jobs_number:
                self._termination_event.set()


def exceeds(failed: int, total: int, count: int, percentage: float) -> bool:
    """Whether ``failed`` of ``total`` items is more than a Map tolerates: more than
    ``count`` items, or (no count) more than ``percentage`` percent of them; neither: any
    failure. (The pipelines set at most one of the two.)"""
    if count:
        return failed > count
    if percentage:
        return total > 0 and 100.0 * failed / total > percentage
    return failed > 0


def _map_run(self: Any, env: Environment, eval_input: Any) -> None:
    """moto's ``DistributedIterationComponent._map_run`` with failure thresholds."""
    input_items: list[Any] = env.stack.pop()
    program = self._get_iteration_program()
    job_pool = TolerantJobPool(job_program=program, job_inputs=input_items)
    max_concurrency = eval_input.map_run_record.max_concurrency
    workers = (
        len(input_items) if max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else max_concurrency
    )
    for _ in range(min(workers, len(input_items))):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    if input_items:
        job_pool.await_jobs()
    failed = len(job_pool.failures)
    count = int(eval_input.tolerated_failure_count or 0)
    percentage = float(eval_input.tolerated_failure_percentage or 0.0)
    if exceeds(failed, len(input_items), count, percentage):
        index, first = sorted(job_pool.failures, key=lambda pair: pair[0])[0]
        detail = ""
        if isinstance(first, FailureEventException):
            pair = first.extract_error_cause_pair()
            detail = f" (item {index}: {pair[0] if pair else 'failed'})"
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(
                    typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold
                ),
                event_type=HistoryEventType.ExecutionFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    executionFailedEventDetails=ExecutionFailedEventDetails(
                        error=THRESHOLD_ERROR,
                        cause=(
                            f"{failed} of {len(input_items)} items failed; the Map tolerates "
                            f"{count} items and {percentage:g} percent{detail}"
                        ),
                    )
                ),
            )
        )
    outputs = [closed.job_output for closed in job_pool.get_closed_jobs()]
    env.stack.append(outputs)


def _object_item(entry: dict[str, Any]) -> dict[str, Any]:
    """An S3 object as ItemReader gives it (``Etag``, epoch ``LastModified``)."""
    modified = entry.get("LastModified")
    return {
        "Etag": entry.get("ETag", entry.get("Etag")),
        "Key": entry["Key"],
        "LastModified": int(modified.timestamp()) if isinstance(modified, datetime) else modified,
        "Size": entry.get("Size"),
        "StorageClass": entry.get("StorageClass", "STANDARD"),
    }


def _handle_list_objects_v2(
    env: Environment, resource_runtime_part: Any, state_credentials: Any
) -> None:
    """Every object under the prefix, page after page; none is an empty list."""
    client = resource_eval_s3.ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    parameters = copy.deepcopy(env.stack.pop())
    items: list[dict[str, Any]] = []
    while True:
        response = client.list_objects_v2(**parameters)
        items += [_object_item(entry) for entry in response.get("Contents", [])]
        token = response.get("NextContinuationToken")
        if not response.get("IsTruncated") or not token:
            break
        parameters["ContinuationToken"] = token
    env.stack.append(items)


def install() -> None:
    """Apply both fixes (idempotent)."""
    if _originals:
        return
    _originals["map_run"] = distributed.DistributedIterationComponent._map_run
    _originals["list"] = resource_eval_s3.ResourceEvalS3._handle_list_objects_v2
    distributed.DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]
    resource_eval_s3.ResourceEvalS3._handle_list_objects_v2 = staticmethod(  # type: ignore[method-assign]
        _handle_list_objects_v2
    )


def uninstall() -> None:
    """Undo :func:`install`."""
    if not _originals:
        return
    distributed.DistributedIterationComponent._map_run = _originals["map_run"]  # type: ignore[method-assign]
    resource_eval_s3.ResourceEvalS3._handle_list_objects_v2 = staticmethod(  # type: ignore[method-assign]
        _originals["list"]
    )
    _originals.clear()


__all__ = ["THRESHOLD_ERROR", "TolerantJobPool", "exceeds", "install", "uninstall"]

"""What the command line prints: a line per step's job as it starts and ends, then the
result (status, failed steps' reasons and the end of their logs, returned values, the S3
tree of the execution's handoff data).

A fan-out step's first ITEM_LINES items are shown as they start and end, each with its
index and item; after them only failed items (ITEM_LINES more at most) and, at most
every COUNT_SECONDS, a count of the items ended; then one line when the step ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from constructs_sm.local.emulator import Emulator
from constructs_sm.local.runner import (
    PipelineInfo,
    Progress,
    RunResult,
    StepResult,
    failure_summary,
    list_tree,
)

#: How many items of a fan-out step are shown as they start and end (and how many
#: failed items after them).
ITEM_LINES: Final = 10
#: After ITEM_LINES items, the least time between two counts of a fan-out's ended items.
COUNT_SECONDS: Final = 5.0
#: The longest item shown (its end, for an object's key).
_ITEM_CHARS: Final = 60


def _format_value(value: Any) -> str:
    return f"{json.dumps(value)} ({type(value).__name__})"


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB"


def _item(index: int | None, item: str | None) -> str:
    text = json.dumps(item)
    if len(text) > _ITEM_CHARS:
        text = '"...' + text[-(_ITEM_CHARS - 4) :]
    return f"item {index if index is not None else '?'}: {text}"


@dataclass
class _Tally:
    """A fan-out step's items so far, as shown."""

    started: int = 0
    ended: int = 0
    failed: int = 0
    shown: set[str] = field(default_factory=set)
    counted: float = 0.0
    #: The step's end was printed: later item ends (jobs stopped after it) print no count.
    closed: bool = False


class Printer:
    """What ``run`` and ``redrive`` print: progress lines, then the result."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.width = 10
        self.log_hint = "keep the jobs' files and logs with --work-dir DIR"
        self.tallies: dict[str, _Tally] = {}

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def progress(self, event: Progress) -> None:
        if event.items is not None:  # a fan-out step ended
            self.tallies.setdefault(event.step, _Tally()).closed = True
            failed = event.failed_items or 0
            counts = f"{failed} of {event.items} items failed" if failed else f"{event.items} items"
            self._progress(event, f"{counts}  job {event.job_name}")
        elif event.index is not None or event.item is not None:
            self._item_progress(event)
        else:
            self._progress(event, f"job {event.job_name}")

    def _progress(self, event: Progress, text: str, status: str | None = None) -> None:
        took = f"{event.duration:5.1f}s" if event.duration is not None else "      "
        self.line(
            f"  [{event.elapsed:6.1f}s] {event.step:<{self.width}} "
            f"{event.status if status is None else status:<10} {took}  {text}"
        )
        if event.failure_reason:
            self.line(f"             {event.failure_reason.splitlines()[0]}")

    def _item_progress(self, event: Progress) -> None:
        tally = self.tallies.setdefault(event.step, _Tally())
        text = f"job {event.job_name}  {_item(event.index, event.item)}"
        if event.status == "InProgress":
            tally.started += 1
            if tally.started <= ITEM_LINES:
                tally.shown.add(event.job_name)
                self._progress(event, text)
            return
        tally.ended += 1
        failed = event.status != "Completed"
        tally.failed += failed
        if event.job_name in tally.shown or (failed and tally.failed <= ITEM_LINES):
            self._progress(event, text)
        elif not tally.closed and event.elapsed - tally.counted >= COUNT_SECONDS:
            tally.counted = event.elapsed
            running = max(tally.started - tally.ended, 0)
            counts = f"{tally.ended} items ended ({tally.failed} failed), {running} running"
            self.line(f"  [{event.elapsed:6.1f}s] {event.step:<{self.width}} {counts}")

    def _log_tail(self, lines: list[str], whose: str = "its") -> None:
        if lines:
            label = f"last {len(lines)} lines" if len(lines) > 1 else "last line"
            self.line(f"  {label} of {whose} log:")
            for line in lines:
                self.line(f"  | {line}")

    def _failed_items(self, step: str, report: StepResult) -> None:
        """A fan-out step's failed items: index, item, job and FailureReason each, and
        the end of the first one's log."""
        prefix = (report.job_name or "").split(" ", 1)[0]
        self.line(f"step {step}: {report.failed_items} of {report.items} items failed ({prefix}):")
        for failure in report.failures:
            reason = (failure["failure_reason"] or failure["status"]).splitlines()[0]
            where = _item(failure["index"], failure["item"])
            self.line(f"  {where} (job {failure['job_name']}): {reason}")
        if (report.failed_items or 0) > len(report.failures):
            self.line(f"  ... and {(report.failed_items or 0) - len(report.failures)} more")
        first = report.failures[0]
        self._log_tail(first["log_tail"], f"item {first['index']}'s")
        self.line(f"  ({self.log_hint})")

    def _failed_steps(self, result: RunResult) -> None:
        """Each failed step's FailureReason and the last lines of its job's log."""
        for step, report in result.steps.items():
            if report.items is not None:  # a fan-out step
                if report.failures:
                    self._failed_items(step, report)
                continue
            if report.status != "Failed":
                continue
            self.line(f"step {step} failed (job {report.job_name}):")
            for line in (report.failure_reason or "(no FailureReason)").splitlines():
                self.line(f"  {line}")
            self._log_tail(report.log_tail)
            self.line(f"  ({self.log_hint})")

    def result(self, result: RunResult, pipeline: PipelineInfo, emulator: Emulator) -> None:
        if result.succeeded:
            self.line(f"execution SUCCEEDED in {result.seconds:.1f}s")
        else:
            self.line(f"execution {result.status} in {result.seconds:.1f}s")
            failed = [r for r in result.steps.values() if r.status == "Failed" or r.failures]
            summary = failure_summary(result)
            if failed:  # the steps' own sections below give the whole reason and the log
                lines = summary.splitlines() or [""]
                summary = lines[0] + (" ..." if len(lines) > 1 else "")
            self.line(f"  {summary}".replace("\n", "\n  "))
            self._failed_steps(result)
        values = [(s, k, v) for s, r in result.steps.items() for k, v in r.values.items()]
        if values:
            self.line("returned values:")
            for step, key, value in values:
                self.line(f"  {step}.{key} = {_format_value(value)}")
        prefix = pipeline.run_prefix
        tree = [
            (key, size)
            for key, size in list_tree(emulator, pipeline.bucket, prefix)
            if pipeline.is_run_key(result.execution_name, prefix + key)
        ]
        self.line(
            f"handoff data of this execution under s3://{pipeline.bucket}/{prefix} "
            f"(<step>/<channel>/{result.execution_name}/):"
        )
        for key, size in tree:
            self.line(f"  {key}  ({_size(size)})")
        if not tree:
            self.line("  (nothing)")

"""What the command line prints: a line per step's job as it starts and ends, then the
result (status, failed steps' reasons and the end of their logs, returned values, the S3
tree of the execution's handoff data)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from constructs_sm.local.emulator import Emulator
from constructs_sm.local.runner import PipelineInfo, Progress, RunResult, failure_summary, list_tree


def _format_value(value: Any) -> str:
    return f"{json.dumps(value)} ({type(value).__name__})"


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB"


class Printer:
    """What ``run`` and ``redrive`` print: progress lines, then the result."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.width = 10
        self.log_hint = "keep the jobs' files and logs with --work-dir DIR"

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def progress(self, event: Progress) -> None:
        took = f"{event.duration:5.1f}s" if event.duration is not None else "      "
        self.line(
            f"  [{event.elapsed:6.1f}s] {event.step:<{self.width}} {event.status:<10} "
            f"{took}  job {event.job_name}"
        )
        if event.failure_reason:
            self.line(f"             {event.failure_reason.splitlines()[0]}")

    def _failed_steps(self, result: RunResult) -> None:
        """Each failed step's FailureReason and the last lines of its job's log."""
        for step, report in result.steps.items():
            if report.status != "Failed":
                continue
            self.line(f"step {step} failed (job {report.job_name}):")
            for line in (report.failure_reason or "(no FailureReason)").splitlines():
                self.line(f"  {line}")
            if report.log_tail:
                count = len(report.log_tail)
                label = f"last {count} lines" if count > 1 else "last line"
                self.line(f"  {label} of its log:")
                for line in report.log_tail:
                    self.line(f"  | {line}")
            self.line(f"  ({self.log_hint})")

    def result(self, result: RunResult, pipeline: PipelineInfo, emulator: Emulator) -> None:
        if result.succeeded:
            self.line(f"execution SUCCEEDED in {result.seconds:.1f}s")
        else:
            self.line(f"execution {result.status} in {result.seconds:.1f}s")
            failed = [r for r in result.steps.values() if r.status == "Failed"]
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

"""What ``run`` prints of a fan-out step with many items: its first items as they start
and end, then only failed items and a count now and then, then the step's end."""

from __future__ import annotations

import io

from constructs_sm.local.printer import COUNT_SECONDS, ITEM_LINES, Printer
from constructs_sm.local.runner import Progress


def _item(index: int, status: str, elapsed: float, reason: str | None = None) -> Progress:
    progress = Progress("per_part", status, f"job-{index}", elapsed, None, reason)
    progress.index, progress.item = index, f"part-{index}"
    return progress


def test_a_fan_out_of_many_items_prints_the_first_failures_counts_and_its_end() -> None:
    out = io.StringIO()
    printer = Printer(out)
    count = ITEM_LINES + 30
    for index in range(count):
        printer.progress(_item(index, "InProgress", 0.0))
    for index in range(count):
        failed = index == ITEM_LINES + 5
        status = "Failed" if failed else "Completed"
        printer.progress(_item(index, status, index * 0.5, "AlgorithmError: x" if failed else None))
    end = Progress("per_part", "PartlyFailed", "p-* (40 jobs)", 21.0)
    end.items, end.failed_items = count, 1
    printer.progress(end)
    lines = [" ".join(line.split()) for line in out.getvalue().splitlines()]
    started = [f'[ 0.0s] per_part InProgress job job-{i} item {i}: "part-{i}"' for i in range(10)]
    ended = [
        f'[ {i * 0.5:.1f}s] per_part Completed job job-{i} item {i}: "part-{i}"' for i in range(10)
    ]
    assert ITEM_LINES == 10 and COUNT_SECONDS == 5.0
    assert lines == [
        *started,
        *ended,
        "[ 5.0s] per_part 11 items ended (0 failed), 29 running",
        '[ 7.5s] per_part Failed job job-15 item 15: "part-15"',
        "AlgorithmError: x",
        "[ 10.0s] per_part 21 items ended (1 failed), 19 running",
        "[ 15.0s] per_part 31 items ended (1 failed), 9 running",
        "[ 21.0s] per_part PartlyFailed 1 of 40 items failed job p-* (40 jobs)",
    ]


def test_a_long_item_is_shown_by_its_end() -> None:
    out = io.StringIO()
    key = "Fan/split/parts/" + "x" * 80 + "/part-7.txt"
    progress = Progress("per_part", "InProgress", "job-7", 1.0)
    progress.index, progress.item = 7, key
    Printer(out).progress(progress)
    assert out.getvalue().rstrip().endswith('item 7: "...' + key[-55:] + '"')


def test_items_that_end_after_their_steps_end_print_no_count() -> None:
    """An execution stopped inside a fan-out: the step's end is printed, then its last
    jobs end (stopped); no count line, and never a negative number running."""
    out = io.StringIO()
    printer = Printer(out)
    end = Progress("per_part", "Failed", "p-* (30 jobs)", 1.0)
    end.items, end.failed_items = 30, 30
    printer.progress(end)
    for index in range(ITEM_LINES + 20):
        printer.progress(_item(index, "Stopped", 2.0 + index * COUNT_SECONDS))
    text = out.getvalue()
    assert "running" not in text
    assert text.count("Stopped") == ITEM_LINES

"""Writes one object per part under its output channel: the items of a fan-out over objects."""

from __future__ import annotations

from constructs_sm import runtime

parts = runtime.output_dir("parts")
for number in range(runtime.params()["parts"]):
    (parts / f"part-{number}.txt").write_text(f"part {number}\n")

"""Write one note into each of this step's two output channels."""

from __future__ import annotations

from constructs_sm import runtime

for channel in ("shared", "private"):
    (runtime.output_dir(channel) / "note.txt").write_text(f"{channel} note\n")

"""Reads every item's output of both fan-out steps (one directory per item index)."""

from __future__ import annotations

import json

from constructs_sm import runtime

regions = sorted(
    json.loads(p.read_text())["item"] for p in runtime.input_dir("regions").rglob("item.json")
)
parts = sorted(
    json.loads(p.read_text())["object"] for p in runtime.input_dir("parts").rglob("item.json")
)
runtime.emit(regions=",".join(regions), parts=len(parts), first=parts[0].strip() if parts else "")

"""One job of a fan-out: records its item, index and (over objects) the object it got.

Fails when its item is ``bad`` (the items of a list) to exercise the Map's tolerance.
"""

from __future__ import annotations

import json
import os

from constructs_sm import runtime

item = runtime.item()
if item == "bad":
    raise SystemExit("this item fails on purpose")
record = {"item": item, "index": runtime.item_index(), "env": os.environ.get("ITEM_ENV")}
if os.environ.get("CSM_STEP") == "per_part":
    (obj,) = sorted(p for p in runtime.input_dir("parts").rglob("*") if p.is_file())
    record["object"] = obj.read_text()
out = runtime.output_dir("out")
(out / "item.json").write_text(json.dumps(record))

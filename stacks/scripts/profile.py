"""Profile the training set: class balance and per-feature statistics."""

from __future__ import annotations

import csv
import json
import statistics

from constructs_sm import runtime

with (runtime.input_dir("train") / "train.csv").open(newline="") as handle:
    rows = list(csv.DictReader(handle))
features = [name for name in rows[0] if name != "label"]
report = {
    "rows": len(rows),
    "positive_rate": sum(int(r["label"]) for r in rows) / len(rows),
    "features": {
        name: {
            "mean": statistics.fmean(float(r[name]) for r in rows),
            "stdev": statistics.pstdev(float(r[name]) for r in rows),
        }
        for name in features
    },
}
(runtime.output_dir("report") / "profile.json").write_text(json.dumps(report, indent=2))
runtime.emit(positive_rate=report["positive_rate"])
print(json.dumps(report))

"""Split the raw CSV into train and test sets (deterministic shuffle)."""

from __future__ import annotations

import csv
import random

from constructs_sm import runtime

p = runtime.params()
test_fraction = runtime.env("TEST_FRACTION")
debug = runtime.env("DEBUG")
assert isinstance(test_fraction, float) and isinstance(debug, bool)

rows: list[dict[str, str]] = []
header: list[str] = []
for path in sorted(runtime.input_dir("raw").rglob("*.csv")):
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows.extend(reader)
if not rows:
    raise SystemExit(f"no CSV rows under {runtime.input_dir('raw')}")

random.Random(p.seed).shuffle(rows)
cut = max(1, int(len(rows) * test_fraction))
splits = {"test": rows[:cut], "train": rows[cut:]}
for channel, subset in splits.items():
    with (runtime.output_dir(channel) / f"{channel}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(subset)
    if debug:
        print(f"{channel}: {len(subset)} rows")

runtime.emit(rows=len(rows), train_rows=len(splits["train"]))
print(f"prepared {len(rows)} rows from {p.raw_uri}")

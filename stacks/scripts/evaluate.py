"""Evaluate the trained model on the test set and return its accuracy."""

from __future__ import annotations

import csv
import json
import math

from constructs_sm import runtime

model = json.loads((runtime.input_dir("model") / "model.json").read_text())
with (runtime.input_dir("test") / "test.csv").open(newline="") as handle:
    rows = list(csv.DictReader(handle))
min_accuracy = runtime.env("MIN_ACCURACY")
train_loss = runtime.env("TRAIN_LOSS")
assert isinstance(min_accuracy, float) and isinstance(train_loss, float)

correct = 0
for row in rows:
    z = model["bias"] + sum(
        w * float(row[name]) for w, name in zip(model["weights"], model["features"], strict=True)
    )
    predicted = 1 if 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0))) >= 0.5 else 0
    correct += predicted == int(row["label"])
accuracy = correct / len(rows)
print(f"accuracy={accuracy:.3f} on {len(rows)} rows (train loss {train_loss:.4f})")
runtime.emit(accuracy=accuracy, passed=accuracy >= min_accuracy)

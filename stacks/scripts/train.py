"""Train a logistic-regression classifier by batch gradient descent (standard library)."""

from __future__ import annotations

import csv
import json
import math

from constructs_sm import runtime

epochs = runtime.env("EPOCHS")
learning_rate = runtime.env("LEARNING_RATE")
assert isinstance(epochs, int) and isinstance(learning_rate, float)

with (runtime.input_dir("train") / "train.csv").open(newline="") as handle:
    rows = list(csv.DictReader(handle))
features = [name for name in rows[0] if name != "label"]
xs = [[float(r[name]) for name in features] for r in rows]
ys = [int(r["label"]) for r in rows]
weights = [0.0] * len(features)
bias = 0.0


def predict(x: list[float]) -> float:
    z = bias + sum(w * v for w, v in zip(weights, x, strict=True))
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


loss = float("nan")
for epoch in range(epochs):
    grads, grad_b, loss = [0.0] * len(features), 0.0, 0.0
    for x, y in zip(xs, ys, strict=True):
        prob = predict(x)
        loss -= y * math.log(prob + 1e-12) + (1 - y) * math.log(1 - prob + 1e-12)
        for i, value in enumerate(x):
            grads[i] += (prob - y) * value
        grad_b += prob - y
    weights = [w - learning_rate * g / len(xs) for w, g in zip(weights, grads, strict=True)]
    bias -= learning_rate * grad_b / len(xs)
    loss /= len(xs)
    print(f"epoch {epoch + 1}/{epochs} loss={loss:.4f}")

model = {"features": features, "weights": weights, "bias": bias}
(runtime.output_dir("model") / "model.json").write_text(json.dumps(model, indent=2))
runtime.emit(final_loss=loss)

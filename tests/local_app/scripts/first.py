"""Record the params, environment values and credentials this step received; return some."""

from __future__ import annotations

import json
import os

from constructs_sm import runtime

p = runtime.params()
names = ("count", "ratio", "flag", "label", "sleep", "fail")
env_names = ("COUNT", "RATIO", "FLAG", "LABEL", "LIT_INT", "LIT_FLOAT", "LIT_BOOL", "LIT_STR")
seen = {
    "params": {n: [getattr(p, n), type(getattr(p, n)).__name__] for n in names},
    "env": {n: [runtime.env(n), type(runtime.env(n)).__name__] for n in env_names},
    # With network isolation (on here) the job's process gets no AWS credentials.
    "credentials": sorted(k for k in os.environ if k.startswith("AWS_") and "KEY" in k),
}
(runtime.output_dir("data") / "seen.json").write_text(json.dumps(seen))
count, ratio, flag, label = p.count, p.ratio, p.flag, p.label
assert isinstance(count, int) and isinstance(ratio, float) and isinstance(label, str)
runtime.emit(n=count * 2, x=ratio * 2, ok=not flag, s=label + "!")

"""Record the params and environment values this step received, typed; return some."""

from __future__ import annotations

import json

from constructs_sm import runtime

p = runtime.params()
names = ("count", "ratio", "flag", "label", "sleep", "fail")
env_names = ("COUNT", "RATIO", "FLAG", "LABEL", "LIT_INT", "LIT_FLOAT", "LIT_BOOL", "LIT_STR")
seen = {
    "params": {n: [getattr(p, n), type(getattr(p, n)).__name__] for n in names},
    "env": {n: [runtime.env(n), type(runtime.env(n)).__name__] for n in env_names},
}
(runtime.output_dir("data") / "seen.json").write_text(json.dumps(seen))
count, ratio, flag, label = p.count, p.ratio, p.flag, p.label
assert isinstance(count, int) and isinstance(ratio, float) and isinstance(label, str)
runtime.emit(n=count * 2, x=ratio * 2, ok=not flag, s=label + "!")

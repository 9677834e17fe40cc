"""Record the returned values of `first` as this step saw them; sleep; fail on request.

On request (FAIL), `right` fails at once, while `left` is still sleeping; each branch
prints its process id first (to stdout.log in the job directory).
"""

from __future__ import annotations

import json
import os
import time

from constructs_sm import runtime

print(f"pid={os.getpid()}", flush=True)
if runtime.env("FAIL") and runtime.step_name() == "right":
    raise SystemExit("probe failure: asked to fail")
started = time.time()
sleep = runtime.env("SLEEP")
assert isinstance(sleep, float)
time.sleep(sleep)
upstream = json.loads((runtime.input_dir("data") / "seen.json").read_text())
seen = {
    "env": {n: [runtime.env(n), type(runtime.env(n)).__name__] for n in ("N", "X", "OK", "S")},
    "upstream_label": upstream["params"]["label"][0],
    "step": os.environ.get("CSM_STEP"),
}
(runtime.output_dir("seen") / "seen.json").write_text(json.dumps(seen))
runtime.emit(started=started, ended=time.time())

"""Record the returned values of `first` as this step saw them; sleep; fail on request.

On request (FAIL), `right` fails at once, while `left` is still sleeping; each branch
prints its process id first (to stdout.log in the job directory). Once the file FIXED_BY
names exists, `right` no longer fails and neither branch sleeps. With SPAWN, each branch
first starts a sleeper in a session of its own with SPAWN in its command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from constructs_sm import runtime

print(f"pid={os.getpid()}", flush=True)
spawn = runtime.env("SPAWN")
if spawn:
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)", str(spawn)]
    subprocess.Popen(sleeper, start_new_session=True)
fixed_by = runtime.env("FIXED_BY")
fixed = bool(fixed_by) and Path(str(fixed_by)).exists()
if runtime.env("FAIL") and runtime.step_name() == "right" and not fixed:
    raise SystemExit("probe failure: asked to fail")
started = time.time()
sleep = runtime.env("SLEEP")
assert isinstance(sleep, float)
if not fixed:
    time.sleep(sleep)
upstream = json.loads((runtime.input_dir("data") / "seen.json").read_text())
seen = {
    "env": {n: [runtime.env(n), type(runtime.env(n)).__name__] for n in ("N", "X", "OK", "S")},
    "upstream_label": upstream["params"]["label"][0],
    "step": os.environ.get("CSM_STEP"),
}
(runtime.output_dir("seen") / "seen.json").write_text(json.dumps(seen))
runtime.emit(started=started, ended=time.time())

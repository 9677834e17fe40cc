"""Start processes that try to outlive their job, then end as ``THEN`` asks.

Three sleepers, each with ``MARKER`` in its command line, each escaping differently:

- a child that starts its own session (``setsid``) and sleeps;
- a grandchild in a session of its own whose parent exits at once (it is re-parented);
- a grandchild started with an empty environment, whose parent exits half a second later.

Their pids go to ``/opt/ml/ready.json`` (``<CSM_ML_DIR>/ready.json`` where the job has no
/opt/ml of its own) once all run. Then, by ``THEN``: ``exit`` exits 0 with three output
files, ``fail`` writes part of an output and exits 1, ``sleep`` sleeps (until the job is
stopped or out of time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

root = Path(os.environ.get("CSM_ML_DIR", "/opt/ml"))  # /opt/ml where jobs get their own
marker = os.environ["MARKER"]
sleeper = ["-c", "import time; time.sleep(600)", marker]
python = sys.executable


def start(code: str) -> subprocess.Popen[bytes]:
    """A child running ``code`` whose standard output we read."""
    return subprocess.Popen([python, "-c", code, marker], stdout=subprocess.PIPE)


# 1. its own session, still our child
own_session = subprocess.Popen([python, *sleeper], start_new_session=True)
# 2. a setsid grandchild whose parent exits at once
reparented = start(
    "import subprocess, sys; "
    f"p = subprocess.Popen([sys.executable, *{sleeper!r}], start_new_session=True); "
    "print(p.pid)"
)
# 3. a grandchild with an empty environment, whose parent lingers, then exits
no_environment = start(
    "import subprocess, sys, time; "
    f"p = subprocess.Popen([sys.executable, *{sleeper!r}], env={{}}, start_new_session=True); "
    "print(p.pid, flush=True); time.sleep(0.5)"
)
assert reparented.stdout is not None and no_environment.stdout is not None
pids = [
    own_session.pid,
    int(reparented.stdout.readline()),
    int(no_environment.stdout.readline()),
]
reparented.wait()
no_environment.wait()
(root / "ready.json").write_text(json.dumps(pids))

output = root / "processing" / "output" / "out"
then = os.environ["THEN"]
if then == "exit":
    for name in ("a.txt", "b.txt", "c.txt"):
        (output / name).write_text(name)
elif then == "fail":
    (output / "a.txt").write_text("half")
    raise SystemExit("failed after writing part of the output")
else:
    time.sleep(600)

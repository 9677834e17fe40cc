"""Each host of a two-host job returns what it is told: the leader always, the other on request."""

from __future__ import annotations

from constructs_sm import runtime

host = runtime.current_host()
p = runtime.params()
if host == "algo-1":
    runtime.emit(n=1, leader=host)
elif p.disagree:
    runtime.emit(n=2)
else:
    runtime.emit(n=1)

"""``python -m constructs_sm.local``: see :mod:`constructs_sm.local.cli`.

Without the ``[local]`` extra the command says so, with the fix, instead of failing on
an import (``--json`` still ends with its one line).
"""

import json
import sys

from constructs_sm.local.extra import missing_local_extra

_problem = missing_local_extra()
if _problem is not None:
    print(f"error: {_problem}", file=sys.stderr)
    if "--json" in sys.argv[1:]:
        line = {"status": "ERROR", "error": "MissingDependency", "cause": _problem, "steps": {}}
        print(json.dumps(line, sort_keys=True), flush=True)
    raise SystemExit(2)

from constructs_sm.local.cli import main_process  # noqa: E402 (only once the extra is known present)

raise SystemExit(main_process())

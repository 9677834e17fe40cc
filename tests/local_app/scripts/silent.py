"""Declares a return value and emits none; with MODE=erase, also removes the returns file.

``erase`` removes the returns file and the ExitMessage file the launcher wrote before
the script ran (the launcher writes the message again when the script ends).
"""

from __future__ import annotations

import os
from pathlib import Path

from constructs_sm import runtime

if runtime.env("MODE") == "erase":
    root = Path(os.environ.get("CSM_ML_DIR", "/opt/ml"))
    for path in (root / runtime.RESERVED_DIR / runtime.RETURNS_CHANNEL).glob("values-*.json"):
        path.unlink()
    (root / "output" / "message").unlink(missing_ok=True)

"""The porting guide's program (README "Porting a ScriptProcessor pipeline"), deployed by
the offline tests with the original ScriptProcessor code of ``ported/src`` unmodified.

The stack is the README's own block, executed (so the README shows what the tests run),
with ``CODE_DIR`` pointing at ``ported/src``; :class:`PortedStack` adds the README's bash
step ("Non-Python entry points") after it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from constructs import Construct

ROOT = Path(__file__).resolve().parents[2]
CODE_DIR = Path(__file__).parent / "ported" / "src"


def readme_block(marker: str) -> str:
    """The README's ```python block that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (block,) = [str(b) for b in blocks if marker in b]
    return block


def _program() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_porting_guide"}
    program = readme_block("class PreprocessStack")
    exec(compile(program, "README.md porting guide", "exec"), namespace)
    namespace["CODE_DIR"] = str(CODE_DIR)  # the README's "src"
    return namespace


PROGRAM = _program()
PreprocessStack: type = PROGRAM["PreprocessStack"]
#: The README's bash step, run after the ported one.
SUMMARIZE = readme_block('entry_point="summarize.sh"')


class PortedStack(PreprocessStack):  # type: ignore[misc]
    """The ported pipeline ``Preprocess`` plus the README's ``summarize`` step (bash)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        names = {**PROGRAM, "pipeline": self.pipeline, "prep": self.preprocess}
        exec(compile(SUMMARIZE, "README.md non-Python entry points", "exec"), names)

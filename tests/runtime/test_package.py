"""The runtime's public face (``constructs_sm.runtime``) and what shipping it requires:
the contract's names, the error classes, standard-library imports only."""

from __future__ import annotations

import ast
import sys

from constructs_sm import runtime
from tests.runtime.support import RUNTIME_DIR


def test_public_constants_match_the_contract() -> None:
    assert runtime.SPEC_FILE == "csm_step.json"
    assert (runtime.PARAMS_CHANNEL, runtime.PARAMS_FILE) == ("params", "params.json")
    assert runtime.CODE_CHANNEL == "code"
    assert (runtime.RETURNS_CHANNEL, runtime.RETURNS_FILE) == ("returns", "values.json")
    assert (runtime.ML_DIR_ENV, runtime.DEFAULT_ML_DIR) == ("CSM_ML_DIR", "/opt/ml")
    assert (runtime.STEP_ENV, runtime.PIPELINE_ENV) == ("CSM_STEP", "CSM_PIPELINE")
    assert (runtime.CODE_DIR_ENV, runtime.SPEC_ENV) == ("CSM_CODE_DIR", "CSM_STEP_SPEC")
    assert runtime.TYPES == ("string", "integer", "number", "boolean")
    assert set(runtime.__all__) <= set(dir(runtime))


def test_exception_hierarchy() -> None:
    assert issubclass(runtime.ParameterError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ParameterError, ValueError)
    assert issubclass(runtime.ChannelError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ChannelError, LookupError)
    assert issubclass(runtime.ReturnValueError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ReturnValueError, ValueError)


_NEWER_THAN_310 = {"tomllib", "wsgiref.types"}


_NEWER_NAMES = {
    ("typing", "Self"),
    ("typing", "Never"),
    ("typing", "LiteralString"),
    ("typing", "assert_never"),
    ("typing", "reveal_type"),
    ("typing", "Required"),
    ("typing", "NotRequired"),
    ("enum", "StrEnum"),
    ("datetime", "UTC"),
}


def test_runtime_imports_only_the_standard_library() -> None:
    # The runtime's own modules, as shipped: flat files of constructs_sm/runtime.
    own = {"constructs_sm.runtime"} | {
        f"constructs_sm.runtime.{source.stem}" for source in RUNTIME_DIR.glob("*.py")
    }
    seen: set[str] = set()
    for source in sorted(RUNTIME_DIR.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
                names: list[str] = []
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: relative import"
                modules = [node.module or ""]
                names = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                seen.add(module)
                top = module.split(".")[0]
                allowed = top in sys.stdlib_module_names or module == "__future__" or module in own
                assert allowed, f"{source.name} imports {module}"
                assert module not in _NEWER_THAN_310, f"{source.name} imports {module}"
                for name in names:
                    assert (module, name) not in _NEWER_NAMES, f"{source.name}: {module}.{name}"
    assert {"json", "os", "runpy"} <= seen  # the walk did find the imports

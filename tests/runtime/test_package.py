"""The runtime's public face (``constructs_sm.runtime``) and what shipping it requires:
the contract's names, the error classes, standard-library imports only, a flat directory
of modules without import circles, importable by a bare interpreter from the code zip."""

from __future__ import annotations

import ast
import importlib
import json
import pickle
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from types import ModuleType

from constructs_sm import runtime
from constructs_sm.code import stage_code
from tests.runtime.support import GOOD_PARAMS, RUNTIME_DIR, SPEC, write_params


def test_public_constants_match_the_contract() -> None:
    assert runtime.SPEC_FILE == "csm_step.json"
    assert (runtime.PARAMS_CHANNEL, runtime.PARAMS_FILE) == ("params", "params.json")
    assert runtime.CODE_CHANNEL == "code"
    assert runtime.RETURNS_CHANNEL == "returns"
    assert runtime.returns_file_name("algo-2") == "values-algo-2.json"
    assert (runtime.ML_DIR_ENV, runtime.DEFAULT_ML_DIR) == ("CSM_ML_DIR", "/opt/ml")
    assert (runtime.STEP_ENV, runtime.PIPELINE_ENV) == ("CSM_STEP", "CSM_PIPELINE")
    assert (runtime.CODE_DIR_ENV, runtime.SPEC_ENV) == ("CSM_CODE_DIR", "CSM_STEP_SPEC")
    assert runtime.TYPES == ("string", "integer", "number", "boolean", "string_list")
    assert set(runtime.__all__) <= set(dir(runtime))


def test_exception_hierarchy() -> None:
    assert issubclass(runtime.ParameterError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ParameterError, ValueError)
    assert issubclass(runtime.ChannelError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ChannelError, LookupError)
    assert issubclass(runtime.ReturnValueError, runtime.RuntimeConfigError)
    assert issubclass(runtime.ReturnValueError, ValueError)


# Names that need Python 3.11+: the container may run Python 3.10.
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


def test_names_used_by_the_pipeline_are_there() -> None:
    # Not in __all__, but read as runtime.<name> by constructs_sm.step and by scripts.
    assert runtime.BOOTSTRAP.startswith("import glob,os,runpy")
    assert "constructs_sm.runtime.launch import main" in runtime.ZIP_MAIN
    assert runtime.MAX_RETURNED_STRING == 256


def test_public_names_are_not_shadowed_by_modules() -> None:
    # Importing every runtime module must leave runtime.params, runtime.emit, ... the
    # functions: a module named like a public function would replace it on the package.
    for source in sorted(RUNTIME_DIR.glob("*.py")):
        if source.stem != "__init__":
            importlib.import_module(f"constructs_sm.runtime.{source.stem}")
    for name in runtime.__all__:
        assert not isinstance(getattr(runtime, name), ModuleType), name
    assert callable(runtime.params)
    assert callable(runtime.env)
    assert callable(runtime.spec)


def test_public_classes_name_the_package_as_their_module() -> None:
    classes = [
        runtime.RuntimeConfigError,
        runtime.ParameterError,
        runtime.ChannelError,
        runtime.ReturnValueError,
        runtime.Params,
    ]
    for cls in classes:
        assert cls.__module__ == "constructs_sm.runtime", cls
    error = runtime.ParameterError("parameter 'epochs' is required")
    assert traceback.format_exception_only(error) == [
        "constructs_sm.runtime.ParameterError: parameter 'epochs' is required\n"
    ]
    pickled = pickle.dumps(runtime.Params({"epochs": 3}))
    assert b"constructs_sm.runtime" in pickled
    assert b"_parameters" not in pickled
    assert pickle.loads(pickled) == {"epochs": 3}


def _runtime_imports(source: Path) -> set[str]:
    """The runtime modules ``source`` imports (``__init__`` for the package itself)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            if module == "constructs_sm.runtime":
                found.add("__init__")
            elif module.startswith("constructs_sm.runtime."):
                found.add(module.removeprefix("constructs_sm.runtime."))
    return found


def test_runtime_is_a_flat_directory_of_modules_without_import_circles() -> None:
    # The code zip ships constructs_sm/runtime/*.py only: no sub-packages.
    assert sorted(p.name for p in RUNTIME_DIR.rglob("*.py")) == sorted(
        p.name for p in RUNTIME_DIR.glob("*.py")
    )
    graph = {source.stem: _runtime_imports(source) for source in RUNTIME_DIR.glob("*.py")}
    for module, imported in graph.items():
        assert imported <= set(graph), f"{module} imports a module that is not shipped"
    assert graph["_constants"] == set()  # the leaves
    assert graph["_errors"] == set()
    assert {"_parameters", "_channels", "_returns", "_job"} <= graph["__init__"]

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            step == goal or (step not in seen and reaches(step, goal, seen | {step}))
            for step in graph[start]
        )

    circular = [module for module in graph if reaches(module, module)]
    assert circular == [], f"import circle through {circular}"


_IMPORT_CHECK = """
import json, sys
from constructs_sm import runtime

p = runtime.params()
print(json.dumps({
    "runtime_file": runtime.__file__,
    "step": runtime.step_name(),
    "epochs": [p.epochs, type(p.epochs).__name__],
    "env": runtime.parse_env_string("1.0E-4", "number"),
    "convert": runtime.convert(10.0, "integer", what="x"),
    "hosts": runtime.hosts(),
    "outside_stdlib": sorted(
        name for name in sys.modules
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in ("__main__", "constructs_sm")
    ),
    "site": "site" in sys.modules,
}))
"""


def test_runtime_imports_in_a_bare_interpreter_as_the_code_zip_ships_it(
    tmp_path: Path, script: Path
) -> None:
    # The files exactly as the pipeline stages them for the code asset: the script, the
    # step's spec (csm_steps/<step>.json), a stub constructs_sm/__init__.py and
    # constructs_sm/runtime/*.py.
    code = tmp_path / "code"
    shutil.copytree(stage_code(script, SPEC, "train"), code)
    shipped = sorted(p.name for p in (code / "constructs_sm" / "runtime").iterdir())
    assert shipped == sorted(p.name for p in RUNTIME_DIR.glob("*.py"))
    ml = tmp_path / "ml"
    write_params(ml, GOOD_PARAMS)
    environment = {
        runtime.ML_DIR_ENV: str(ml),
        runtime.CODE_DIR_ENV: str(code),
        runtime.STEP_ENV: "train",
    }
    done = subprocess.run(
        # -I: no user site, no PYTHON* variables, no script directory on sys.path;
        # -S: no site-packages at all; -B: write no __pycache__ into the copy.
        [
            sys.executable,
            "-I",
            "-S",
            "-B",
            "-c",
            f"import sys; sys.path.insert(0, {str(code)!r})\n{_IMPORT_CHECK}",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert Path(report["runtime_file"]) == code / "constructs_sm" / "runtime" / "__init__.py"
    assert report["step"] == "train"
    assert report["epochs"] == [12, "int"]
    assert report["env"] == 1e-4
    assert report["convert"] == 10
    assert report["hosts"] == ["algo-1"]
    assert report["outside_stdlib"] == []
    assert report["site"] is False
